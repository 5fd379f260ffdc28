// Exactness of graph random features on Karate (docs/workloads.md §1 checks). Cora versions live in
// test/src/grf/exactness.test.ts (they need the .npz loader of the orchestrator).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CsrArrays } from '../array';
import type { GrfVariance } from '../ops/grf-walks';
import { grfFeatures, khatDense, relFrobError } from './estimators';
import { exactKernelDense } from './exact';
import type { GraphKernelSpec } from './kernels';
import { normalisedWeights } from './normalise';
import { csrFromEdges, csrWithValues } from './sparse';

const root = path.resolve(__dirname, '../../..');
function dataFile(rel: string): string | undefined {
  const dirs = [process.env['GRAMFLEET_DATA_DIR'], path.join(root, 'data'), path.join(root, '..', 'shared', 'data')];
  for (const d of dirs) if (d !== undefined && fs.existsSync(path.join(d, rel))) return path.join(d, rel);
  return undefined;
}

/** Karate from its 1-based adjacency list ("node neighbour neighbour …"), parsed inline. */
function karate(): CsrArrays | undefined {
  const f = dataFile('graphs/karate.adjlist');
  if (f === undefined) return undefined;
  const edges: [number, number][] = [];
  let n = 0;
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const xs = t.split(/\s+/).map(Number);
    const a = (xs[0] ?? 1) - 1;
    for (const b of xs.slice(1)) {
      if (b - 1 > a) edges.push([a, b - 1]);
      n = Math.max(n, a + 1, b);
    }
  }
  return csrFromEdges(n, edges);
}

const ADJ = karate();
const skip = ADJ === undefined ? 'karate.adjlist not found (set GRAMFLEET_DATA_DIR to the data folder)' : false;
const C = 0.25;
const P_HALT = 0.5;
const M = 16;
const D1: GraphKernelSpec = { kind: 'reg-laplacian', d: 1 };
const D2: GraphKernelSpec = { kind: 'reg-laplacian', d: 2 };

/** (I − W)^{-d} by Gauss–Jordan on the dense matrix: an independent check of the series. */
function denseResolvent(w: CsrArrays, d: number): Float64Array {
  const n = w.shape[0];
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    a[i * n + i] = 1;
    for (let p = w.indptr[i] ?? 0; p < (w.indptr[i + 1] ?? 0); p++) a[i * n + (w.indices[p] ?? 0)] = (a[i * n + (w.indices[p] ?? 0)] ?? 0) - (w.data[p] ?? 0);
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    const piv = a[c * n + c] ?? 1;
    for (let j = 0; j < n; j++) {
      a[c * n + j] = (a[c * n + j] ?? 0) / piv;
      inv[c * n + j] = (inv[c * n + j] ?? 0) / piv;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c] ?? 0;
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        a[r * n + j] = (a[r * n + j] ?? 0) - f * (a[c * n + j] ?? 0);
        inv[r * n + j] = (inv[r * n + j] ?? 0) - f * (inv[c * n + j] ?? 0);
      }
    }
  }
  if (d === 1) return inv;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) out[i * n + j] = (out[i * n + j] ?? 0) + (inv[i * n + k] ?? 0) * (inv[k * n + j] ?? 0);
  return out;
}

test('exact series K = Σ α_k W^k matches dense (I − W)^{-d} to 1e-12 on Karate', { skip }, () => {
  const adj = ADJ as CsrArrays;
  const w = csrWithValues(adj, normalisedWeights(adj, C));
  for (const [spec, d] of [
    [D1, 1],
    [D2, 2],
  ] as const) {
    const k = exactKernelDense(w, spec, { radius: C });
    const ref = denseResolvent(w, d);
    let e = 0;
    for (let i = 0; i < k.length; i++) e = Math.max(e, Math.abs((k[i] ?? 0) - (ref[i] ?? 0)));
    assert.ok(e < 1e-12, `d=${d}: max abs diff ${e}`);
  }
});

test('ΦΦᵀ (same walks) relative Frobenius error at m = 16: mean over 5 seeds ≤ 0.07 for (I−W)^{-1}, ≤ 0.14 for (I−W)^{-2}', { skip }, async (t) => {
  const adj = ADJ as CsrArrays;
  const w = csrWithValues(adj, normalisedWeights(adj, C));
  for (const [spec, bound] of [
    [D1, 0.07],
    [D2, 0.14],
  ] as const) {
    const k = exactKernelDense(w, spec, { radius: C });
    for (const variance of ['none', 'antithetic', 'repelling'] as GrfVariance[]) {
      const errs: number[] = [];
      for (let seed = 1; seed <= 5; seed++) {
        const [phi] = await grfFeatures(adj, { kernel: spec, scale: C, pHalt: P_HALT, walks: M, seed, variance });
        errs.push(relFrobError(k, phi as CsrArrays, phi as CsrArrays));
      }
      const mean = errs.reduce((a, b) => a + b, 0) / errs.length;
      t.diagnostic(
        `d=${spec.kind === 'reg-laplacian' ? spec.d : '?'} ${variance}: rel. Frobenius error mean ${mean.toFixed(4)}, max ${Math.max(...errs).toFixed(4)}`,
      );
      // The bound is on the typical error (C/√m with C ≈ 0.25 / 0.5): the mean over 5 seeds
      // must meet it, and no single seed may exceed it by more than 25 %.
      assert.ok(mean <= bound, `${variance}: mean error ${mean} > ${bound}`);
      for (const e of errs) assert.ok(e <= 1.25 * bound, `${variance}: error ${e} > 1.25·${bound}`);
    }
  }
});

/**
 * Unbiasedness. For S independent unbiased estimates K̂_s = Φ₁Φ₂ᵀ (Φ₁, Φ₂ from independent
 * streams), E‖K̄ − K‖²_F = Σ_ij Var(K̂_ij)/S. We estimate Σ Var by the sample variance and
 * require ‖K̄ − K‖_F ≤ 2·√(Σ s²_ij / S) (a biased estimator's error would not shrink like
 * 1/√S and breaks this for S = 200). Off-diagonal bias: the per-sample scalar
 * B_s = Σ_{i≠j}(K̂_s − K)_ij is i.i.d.; its z-score |mean(B)|/(sd(B)/√S) must be < 4.
 * As a power check, the same z-score on the diagonal of ΦΦᵀ (same walks, biased upward)
 * must be > 4.
 */
test('mean of 200 independent Φ₁Φ₂ᵀ converges to K with no off-diagonal bias', { skip }, async (t) => {
  const adj = ADJ as CsrArrays;
  const n = adj.shape[0];
  const w = csrWithValues(adj, normalisedWeights(adj, C));
  const S = 200;
  for (const spec of [D1, D2]) {
    const k = exactKernelDense(w, spec, { radius: C });
    const knorm = Math.sqrt(k.reduce((a, x) => a + x * x, 0));
    for (const variance of ['none', 'antithetic', 'repelling'] as GrfVariance[]) {
      const sum = new Float64Array(n * n);
      const sumSq = new Float64Array(n * n);
      const off: number[] = [];
      const diagSame: number[] = [];
      for (let s = 0; s < S; s++) {
        const [p1, p2] = await grfFeatures(adj, { kernel: spec, scale: C, pHalt: P_HALT, walks: M, seed: 1000 + s, streams: [0, 1], variance });
        const kh = khatDense(p1 as CsrArrays, p2 as CsrArrays);
        const same = khatDense(p1 as CsrArrays, p1 as CsrArrays);
        let b = 0;
        let dg = 0;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const x = kh[i * n + j] ?? 0;
            sum[i * n + j] = (sum[i * n + j] ?? 0) + x;
            sumSq[i * n + j] = (sumSq[i * n + j] ?? 0) + x * x;
            if (i !== j) b += x - (k[i * n + j] ?? 0);
          }
          dg += (same[i * n + i] ?? 0) - (k[i * n + i] ?? 0);
        }
        off.push(b);
        diagSame.push(dg);
      }
      let err2 = 0;
      let var2 = 0;
      for (let q = 0; q < n * n; q++) {
        const mean = (sum[q] ?? 0) / S;
        err2 += (mean - (k[q] ?? 0)) ** 2;
        var2 += ((sumSq[q] ?? 0) - S * mean * mean) / (S - 1);
      }
      const bound = 2 * Math.sqrt(var2 / S);
      const z = (xs: number[]): number => {
        const mu = xs.reduce((a, x) => a + x, 0) / xs.length;
        const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mu) ** 2, 0) / (xs.length - 1));
        return mu / (sd / Math.sqrt(xs.length));
      };
      const zOff = z(off);
      const zDiag = z(diagSame);
      t.diagnostic(
        `${spec.kind} d=${spec.kind === 'reg-laplacian' ? spec.d : ''} ${variance}: ‖K̄−K‖/‖K‖ = ${(Math.sqrt(err2) / knorm).toFixed(5)} (bound ${(bound / knorm).toFixed(5)}; single-estimate rms ${(Math.sqrt(var2) / knorm).toFixed(4)}), off-diagonal z = ${zOff.toFixed(2)}, same-walk diagonal z = ${zDiag.toFixed(1)}`,
      );
      assert.ok(Math.sqrt(err2) <= bound, `${variance}: mean error ${Math.sqrt(err2)} > ${bound}`);
      assert.ok(Math.abs(zOff) < 4, `${variance}: off-diagonal bias z = ${zOff}`);
      assert.ok(zDiag > 4, `${variance}: ΦΦᵀ diagonal bias not detected (z = ${zDiag})`);
    }
  }
});
