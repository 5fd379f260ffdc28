// Exactness of graph random features on Cora (docs/workloads.md §1): ΦΦᵀ error at m = 16 for the
// regularised-Laplacian kernels, and label spreading with (I − 0.9Ã)^{-1} on 10 % labels.
// The Karate versions live beside the code in core/src/grf/exactness.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  applyExactKernel,
  applyKhat,
  csrWithValues,
  exactKernelDense,
  labelSpreadingAccuracy,
  normalisedWeights,
  relFrobError,
  seededSubset,
  type CsrArrays,
  type GraphKernelSpec,
  type GrfVariance,
} from '@gramfleet/core';
import { grfFeatures } from '@gramfleet/core/internal';
import { loadGraph } from '@gramfleet/orchestrator';

const root = path.resolve(__dirname, '../../..');
function dataFile(rel: string): string | undefined {
  const dirs = [process.env['GRAMFLEET_DATA_DIR'], path.join(root, 'data'), path.join(root, '..', 'shared', 'data')];
  for (const d of dirs) if (d !== undefined && fs.existsSync(path.join(d, rel))) return path.join(d, rel);
  return undefined;
}
const CORA = dataFile('graphs/cora.npz');
const skip = CORA === undefined ? 'cora.npz not found (set GRAMFLEET_DATA_DIR to the data folder)' : false;

test('Cora: ΦΦᵀ relative Frobenius error at m = 16 — ≤ 0.07 for (I−W)^{-1}, ≤ 0.14 for (I−W)^{-2} (c = 0.25, pHalt = 0.5)', { skip }, async (t) => {
  const { csr } = await loadGraph(CORA as string);
  const w = csrWithValues(csr, normalisedWeights(csr, 0.25));
  for (const [spec, bound] of [
    [{ kind: 'reg-laplacian', d: 1 }, 0.07],
    [{ kind: 'reg-laplacian', d: 2 }, 0.14],
  ] as [GraphKernelSpec, number][]) {
    const k = exactKernelDense(w, spec, { radius: 0.25 });
    for (const variance of ['none', 'antithetic', 'repelling'] as GrfVariance[]) {
      const [phi] = await grfFeatures(csr, { kernel: spec, scale: 0.25, pHalt: 0.5, walks: 16, seed: 1, variance });
      const e = relFrobError(k, phi as CsrArrays, phi as CsrArrays);
      t.diagnostic(`${JSON.stringify(spec)} ${variance}: ${e.toFixed(4)}`);
      assert.ok(e <= bound, `${variance}: ${e} > ${bound}`);
    }
  }
});

/**
 * Label spreading with K = (I − 0.9Ã)^{-1} (reg-laplacian d = 1, scale 0.9, pHalt 0.1) and a
 * seeded 10 % training subset. Exact accuracy is ≈ 0.788 (0.785–0.798 over three splits);
 * we assert [0.76, 0.82] for split seed 1. GRF at m = 64 with Φ₁Φ₂ᵀ from independent streams:
 * repelling walks are within 0.01 of exact for each of 3 walk seeds; plain walks lose a little
 * to noise (−0.006 … −0.014 measured), so their mean over 3 seeds must be within 0.012.
 */
test('Cora: label spreading with (I − 0.9Ã)^{-1}, 10 % labels — exact ≈ 0.788, GRF (m = 64) within 0.01', { skip }, async (t) => {
  const { csr, labels } = await loadGraph(CORA as string);
  assert.ok(labels !== undefined, 'cora.npz has labels');
  const n = csr.shape[0];
  const spec: GraphKernelSpec = { kind: 'reg-laplacian', d: 1 };
  const w = csrWithValues(csr, normalisedWeights(csr, 0.9));
  const train = seededSubset(n, 0.1, 1);
  const exact = labelSpreadingAccuracy((y, k) => applyExactKernel(w, spec, y, k, { radius: 0.9 }), labels, train);
  t.diagnostic(`exact accuracy ${exact.toFixed(4)}`);
  assert.ok(exact >= 0.76 && exact <= 0.82, `exact accuracy ${exact} outside [0.76, 0.82]`);
  for (const variance of ['repelling', 'none'] as GrfVariance[]) {
    const accs: number[] = [];
    for (const seed of [1, 2, 3]) {
      const [p1, p2] = await grfFeatures(csr, { kernel: spec, scale: 0.9, pHalt: 0.1, walks: 64, seed, streams: [0, 1], variance });
      accs.push(labelSpreadingAccuracy((y, k) => applyKhat(p1 as CsrArrays, p2 as CsrArrays, y, k), labels, train));
    }
    const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
    t.diagnostic(`${variance}: GRF accuracies ${accs.map((a) => a.toFixed(4)).join(', ')} (mean ${mean.toFixed(4)})`);
    if (variance === 'repelling') for (const a of accs) assert.ok(Math.abs(a - exact) <= 0.01, `repelling: ${a} vs exact ${exact}`);
    else assert.ok(Math.abs(mean - exact) <= 0.012, `none: mean ${mean} vs exact ${exact}`);
  }
});
