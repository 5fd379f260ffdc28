/**
 * Kronecker GP against exact answers with the float64 reference ops: a dense Cholesky GP
 * (α, log-det, LML), central finite differences of the LML, the dense GP on the observed
 * points of an incomplete grid, hyperparameter recovery, the manufactured Poisson solution,
 * and typed errors for bad input.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError, type ErrorCode } from '../errors';
import { crossMatrix, kernelValue } from './kernels';
import { factorise, predictKron, solveKron, type KronModel } from './gp';
import { solveKronCg } from './cg';
import { compileKronGp, withHyper } from './params';
import { fitKron } from './optimize';
import { GPHM_POISSON, SINE_POISSON, solvePoissonGp } from './pde';
import { kronMatvec, referenceKronLinalg as lin } from './tensor';

function linspace(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Dense K + diag(noise) on the grid points listed in `pts` (flat indices). */
function denseK(m: KronModel, pts: readonly number[], noise: (i: number) => number): Float64Array {
  const shape = m.axes.map((a) => a.length);
  const sub = (i: number): number[] => {
    const out: number[] = [];
    for (let d = shape.length - 1; d >= 0; d--) {
      out[d] = i % (shape[d] as number);
      i = Math.floor(i / (shape[d] as number));
    }
    return out;
  };
  const ix = pts.map(sub);
  const n = pts.length;
  const k = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b <= a; b++) {
      let v = m.outputscale;
      for (let d = 0; d < shape.length; d++) {
        const xa = (m.axes[d] as Float64Array)[(ix[a] as number[])[d] as number] as number;
        const xb = (m.axes[d] as Float64Array)[(ix[b] as number[])[d] as number] as number;
        v *= kernelValue(m.kernels[d]!, xa - xb);
      }
      k[a * n + b] = k[b * n + a] = v;
    }
    k[a * n + a] = (k[a * n + a] as number) + noise(pts[a] as number);
  }
  return k;
}

/** Dense Cholesky solve: α and log|A|. */
export function denseSolve(n: number, a: Float64Array, y: Float64Array): { alpha: Float64Array; logdet: number } {
  const l = a.slice();
  for (let k = 0; k < n; k++) {
    let s = l[k * n + k] as number;
    for (let t = 0; t < k; t++) s -= (l[k * n + t] as number) ** 2;
    const d = Math.sqrt(s);
    l[k * n + k] = d;
    for (let i = k + 1; i < n; i++) {
      let u = l[i * n + k] as number;
      for (let t = 0; t < k; t++) u -= (l[i * n + t] as number) * (l[k * n + t] as number);
      l[i * n + k] = u / d;
    }
  }
  let logdet = 0;
  for (let k = 0; k < n; k++) logdet += 2 * Math.log(l[k * n + k] as number);
  const z = y.slice();
  for (let i = 0; i < n; i++) {
    let s = z[i] as number;
    for (let t = 0; t < i; t++) s -= (l[i * n + t] as number) * (z[t] as number);
    z[i] = s / (l[i * n + i] as number);
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i] as number;
    for (let t = i + 1; t < n; t++) s -= (l[t * n + i] as number) * (z[t] as number);
    z[i] = s / (l[i * n + i] as number);
  }
  return { alpha: z, logdet };
}

function relErr(a: Float64Array, b: Float64Array): number {
  let e = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    e += ((a[i] as number) - (b[i] as number)) ** 2;
    n += (b[i] as number) ** 2;
  }
  return Math.sqrt(e / n);
}

async function expectCode(f: () => unknown, code: ErrorCode, field: string): Promise<void> {
  try {
    f();
  } catch (e) {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(field), `message should name ${field}: ${e.message}`);
    return;
  }
  assert.fail(`expected ${code}`);
}

describe('Kronecker GP (float64 reference ops)', () => {
  const kernels = ['rbf', 'matern12', 'matern32', 'matern52', 'periodic', 'spectral-mixture:3'];
  for (const kernel of kernels) {
    it(`${kernel}, D=3 (9×8×7): α and log-det within 1e-10 of dense Cholesky; LML gradient within 1e-6 of central differences`, () => {
      const r = rng(11);
      const axes = [linspace(0, 1, 9), linspace(-1, 2, 8), linspace(0, 3, 7)];
      const n = 9 * 8 * 7;
      const y = Array.from({ length: n }, () => gauss(r));
      const h = { lengthscales: [0.3, 0.7, 1.1], outputscale: 1.3, noise: 0.05 };
      const p = compileKronGp({ axes, y, kernel, ...h, smFreqs: kernel.startsWith('spectral') ? [0, 0.4, 0.9] : undefined } as Parameters<
        typeof compileKronGp
      >[0]);
      const sol = solveKron(lin, p.model, p.y, { gradient: true });
      const all = Array.from({ length: n }, (_, i) => i);
      const dense = denseSolve(
        n,
        denseK(p.model, all, () => h.noise),
        p.y,
      );
      assert.ok(relErr(sol.alpha, dense.alpha) <= 1e-10, `α rel err ${relErr(sol.alpha, dense.alpha)}`);
      assert.ok(Math.abs(sol.logdet - dense.logdet) <= 1e-10 * Math.abs(dense.logdet), `logdet ${sol.logdet} vs ${dense.logdet}`);
      const lmlDense = -0.5 * p.y.reduce((s, v, i) => s + v * (dense.alpha[i] as number), 0) - 0.5 * dense.logdet - 0.5 * n * Math.log(2 * Math.PI);
      assert.ok(Math.abs(sol.lml - lmlDense) <= 1e-10 * Math.abs(lmlDense));
      const lml = (hh: typeof h): number => solveKron(lin, withHyper(p.model, hh), p.y).lml;
      const g = sol.gradient!;
      const check = (an: number, fd: number, what: string): void => {
        assert.ok(Math.abs(an - fd) <= 1e-6 * Math.max(1, Math.abs(fd)), `${what}: analytic ${an} vs central difference ${fd}`);
      };
      for (let d = 0; d < 3; d++) {
        const e = 1e-5;
        const up = { ...h, lengthscales: h.lengthscales.map((x, i) => (i === d ? x + e : x)) };
        const dn = { ...h, lengthscales: h.lengthscales.map((x, i) => (i === d ? x - e : x)) };
        check(g.lengthscales[d] as number, (lml(up) - lml(dn)) / (2 * e), `∂/∂ℓ_${d}`);
      }
      check(g.outputscale, (lml({ ...h, outputscale: 1.3 + 1e-5 }) - lml({ ...h, outputscale: 1.3 - 1e-5 })) / 2e-5, '∂/∂s');
      check(g.noise, (lml({ ...h, noise: 0.05 + 1e-6 }) - lml({ ...h, noise: 0.05 - 1e-6 })) / 2e-6, '∂/∂σ²');
    });
  }

  it('posterior mean and variance on a test grid equal the dense GP formulas (D=2)', () => {
    const r = rng(5);
    const axes = [linspace(0, 1, 12), linspace(0, 2, 10)];
    const y = Array.from({ length: 120 }, () => gauss(r));
    const p = compileKronGp({ axes, y, kernel: ['matern52', 'rbf'], lengthscales: [0.25, 0.5], noise: 0.1, outputscale: 0.8 });
    const sol = solveKron(lin, p.model, p.y);
    const t = [Float64Array.from([0.05, 0.5, 0.93]), Float64Array.from([0.1, 1.7])];
    const pr = predictKron(lin, p.model, sol, t, { variance: true });
    const all = Array.from({ length: 120 }, (_, i) => i);
    const kxx = denseK(p.model, all, () => 0.1);
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 2; b++) {
        const ks = new Float64Array(120);
        for (let i = 0; i < 120; i++)
          ks[i] =
            0.8 *
            kernelValue(p.model.kernels[0]!, (t[0]![a] as number) - (axes[0]![Math.floor(i / 10)] as number)) *
            kernelValue(p.model.kernels[1]!, (t[1]![b] as number) - (axes[1]![i % 10] as number));
        const mean = ks.reduce((s, v, i) => s + v * (sol.alpha[i] as number), 0);
        const v = denseSolve(120, kxx, ks).alpha;
        const varx = 0.8 - ks.reduce((s, x, i) => s + x * (v[i] as number), 0);
        assert.ok(Math.abs((pr.mean[a * 2 + b] as number) - mean) <= 1e-10 * Math.max(1, Math.abs(mean)));
        assert.ok(Math.abs((pr.variance![a * 2 + b] as number) - varx) <= 1e-10, `var ${pr.variance![a * 2 + b]} vs ${varx}`);
      }
    }
  });

  it('incomplete grid (30 % missing) and heteroscedastic noise by PCG equal the dense GP on the observed points (≤ 1e-8)', () => {
    const r = rng(9);
    const axes = [linspace(0, 1, 30), linspace(0, 1, 40)];
    const n = 1200;
    const y = Array.from({ length: n }, () => gauss(r));
    const mask = Array.from({ length: n }, () => (r() < 0.3 ? 0 : 1));
    const noiseVector = Array.from({ length: n }, () => 0.05 + 0.1 * r());
    for (const hetero of [false, true]) {
      const p = compileKronGp({ axes, y, kernel: 'matern32', lengthscales: [0.2, 0.3], noise: 0.08, mask, ...(hetero ? { noiseVector } : {}) });
      const res = solveKronCg(lin, p.model, p.y, { mask: p.mask!, ...(hetero ? { noise: p.noiseVector! } : {}), tol: 1e-12 });
      const obs = mask.flatMap((m, i) => (m === 1 ? [i] : []));
      assert.equal(res.observed, obs.length);
      const dense = denseSolve(
        obs.length,
        denseK(p.model, obs, (i) => (hetero ? (noiseVector[i] as number) : 0.08)),
        Float64Array.from(obs.map((i) => y[i] as number)),
      );
      const got = Float64Array.from(obs.map((i) => res.alpha[i] as number));
      assert.ok(relErr(got, dense.alpha) <= 1e-8, `α on observed points rel err ${relErr(got, dense.alpha)} after ${res.iterations} iterations`);
      assert.ok(res.residual <= 1e-11, `final residual ${res.residual}`);
      assert.ok(res.iterations > 1 && res.iterations < 500, `iterations ${res.iterations}`);
      for (let i = 0; i < n; i++) if (mask[i] === 0) assert.equal(res.alpha[i], 0);
    }
  });

  it('with a full mask the PCG solve equals the eigen solve', () => {
    const r = rng(2);
    const axes = [linspace(0, 1, 15), linspace(0, 1, 11)];
    const y = Array.from({ length: 165 }, () => gauss(r));
    const p = compileKronGp({ axes, y, kernel: 'rbf', lengthscales: 0.3, noise: 0.01 });
    const a = solveKron(lin, p.model, p.y).alpha;
    const b = solveKronCg(lin, p.model, p.y, { tol: 1e-13 });
    assert.ok(relErr(b.alpha, a) <= 1e-10, `${relErr(b.alpha, a)}`);
    assert.ok(b.iterations <= 3, `PCG with the exact preconditioner took ${b.iterations} iterations`);
  });

  for (const optimizer of ['lbfgs', 'adam'] as const) {
    it(`${optimizer} recovers the generating lengthscales of a sampled GP (40×50 grid) within 20 %`, () => {
      const r = rng(21);
      const axes = [linspace(0, 4, 40), linspace(0, 5, 50)];
      const truth = { lengthscales: [0.4, 0.9], outputscale: 1, noise: 0.01 };
      const gen = compileKronGp({ axes, y: new Float64Array(2000), kernel: 'rbf', ...truth, jitter: 1e-10 });
      const f = factorise(lin, gen.model);
      const z = Float64Array.from({ length: 2000 }, () => gauss(r));
      // sample f = (⊗ Q_d Λ_d^{1/2}) z + noise
      const mats = f.map((x) => {
        const m = new Float64Array(x.n * x.n);
        for (let i = 0; i < x.n; i++) for (let j = 0; j < x.n; j++) m[i * x.n + j] = (x.v[i * x.n + j] as number) * Math.sqrt(Math.max(0, x.w[j] as number));
        return { m, p: x.n, transpose: false };
      });
      const sample = kronMatvec(lin, [40, 50], mats, z).y;
      for (let i = 0; i < 2000; i++) sample[i] = (sample[i] as number) + 0.1 * gauss(r);
      const start = compileKronGp({ axes, y: sample, kernel: 'rbf', lengthscales: [1.5, 1.5], outputscale: 0.5, noise: 0.05 });
      const fit = fitKron(lin, start.model, start.y, { optimizer, iters: optimizer === 'adam' ? 150 : 60 });
      const got = fit.model.kernels.map((k) => k.lengthscale);
      for (let d = 0; d < 2; d++) {
        const rel = Math.abs((got[d] as number) - (truth.lengthscales[d] as number)) / (truth.lengthscales[d] as number);
        assert.ok(rel <= 0.2, `${optimizer}: ℓ_${d} = ${got[d]} vs generating ${truth.lengthscales[d]} (rel ${rel.toFixed(3)}), LML ${fit.lml}`);
      }
      assert.ok(fit.lml > (fit.history[0] ?? -Infinity) - 1e-9);
    });
  }

  it('a fit reports each step: LML non-decreasing (L-BFGS) and ‖∇θ LML‖₂ at the last step equal to the exact gradient of the fitted model in log space', () => {
    const axes = [linspace(0, 1, 8), linspace(0, 2, 6)];
    const y = Float64Array.from({ length: 48 }, (_, i) => Math.sin((3 * (i % 6)) / 5) * Math.cos((2 * Math.floor(i / 6)) / 11));
    const p = compileKronGp({ axes, y, kernel: 'rbf', lengthscales: [0.5, 0.5], outputscale: 1, noise: 0.05 });
    const steps: { it: number; lml: number; gradNorm: number }[] = [];
    const fit = fitKron(lin, p.model, p.y, { iters: 6, onIteration: (it, lml, gradNorm) => steps.push({ it, lml, gradNorm }) });
    assert.deepEqual(
      steps.map((s) => s.it),
      fit.history.map((_, i) => i + 1),
    );
    assert.deepEqual(
      steps.map((s) => s.lml),
      [...fit.history],
    );
    assert.ok(steps.every((s, i) => i === 0 || s.lml >= (steps[i - 1] as { lml: number }).lml));
    const g = solveKron(lin, fit.model, p.y, { gradient: true }).gradient;
    assert.ok(g !== undefined);
    const m = fit.model;
    const logGrad = [...m.kernels.map((k, d) => k.lengthscale * (g.lengthscales[d] as number)), m.outputscale * g.outputscale, m.noise * g.noise];
    const want = Math.hypot(...logGrad);
    const last = steps[steps.length - 1] as { gradNorm: number };
    assert.ok(Math.abs(last.gradNorm - want) <= 1e-9 * Math.max(1, want), `gradNorm ${last.gradNorm} vs ${want}`);
  });

  it('Poisson by GP collocation: GP-HM u = sin(6x)cos(20x) + sin(6y)cos(20y) on 100×100 to relative L2 ≤ 2e-3; u = sin(πx)sin(πy) on 24×24 to ≤ 5e-3', () => {
    const rbf = { kind: 'rbf' as const, lengthscale: 0.02 };
    const a = solvePoissonGp(lin, GPHM_POISSON, { n: [100, 100], kernels: [rbf, rbf] });
    assert.ok(a.relL2 <= 2e-3, `GP-HM relative L2 ${a.relL2}`);
    assert.equal(a.imagRatio, 0);
    const s = { kind: 'rbf' as const, lengthscale: 0.08 };
    const b = solvePoissonGp(lin, SINE_POISSON, { n: [24, 24], kernels: [s, s] });
    assert.ok(b.relL2 <= 5e-3, `sine relative L2 ${b.relL2}`);
  });

  it('bad input gets a typed error naming the field and the bound', async () => {
    const axes = [
      [0, 1, 2],
      [0, 0.5],
    ];
    const y = [1, 2, 3, 4, 5, 6];
    await expectCode(() => compileKronGp({ axes, y: [1, 2, 3], kernel: 'rbf' }), 'INPUT_SHAPE_MISMATCH', 'y');
    await expectCode(
      () =>
        compileKronGp({
          axes: [
            [0, 1, 1],
            [0, 0.5],
          ],
          y,
          kernel: 'rbf',
        }),
      'INPUT_OUT_OF_RANGE',
      'axes[0]',
    );
    await expectCode(
      () =>
        compileKronGp({
          axes: [
            [0, 2, 1],
            [0, 0.5],
          ],
          y,
          kernel: 'rbf',
        }),
      'INPUT_OUT_OF_RANGE',
      'strictly increasing',
    );
    await expectCode(() => compileKronGp({ axes, y, kernel: 'rbf', noise: -0.1 }), 'INPUT_OUT_OF_RANGE', 'noise');
    await expectCode(() => compileKronGp({ axes, y: [1, 2, NaN, 4, 5, 6], kernel: 'rbf' }), 'INPUT_NOT_FINITE', 'y[2]');
    await expectCode(
      () =>
        compileKronGp({
          axes: [
            [0, Infinity, 2],
            [0, 0.5],
          ],
          y,
          kernel: 'rbf',
        }),
      'INPUT_NOT_FINITE',
      'axes[0][1]',
    );
    await expectCode(() => compileKronGp({ axes, y, kernel: 'rbf', lengthscales: [1, 0] }), 'INPUT_OUT_OF_RANGE', 'lengthscales[1]');
    await expectCode(() => compileKronGp({ axes, y, kernel: 'cubic' }), 'INPUT_INVALID', 'kernel');
    await expectCode(() => compileKronGp({ axes, y, kernel: 'rbf', mask: [1, 0, 2, 1, 1, 1] }), 'INPUT_OUT_OF_RANGE', 'mask[2]');
    const big = Array.from({ length: 1000 }, (_, i) => i);
    await expectCode(() => compileKronGp({ axes: [big, big, big], y: [], kernel: 'rbf' }, { memoryBudgetBytes: 1e9 }), 'INPUT_TOO_LARGE', 'axes');
  });

  it('reports clamped eigenvalues and jitter', () => {
    const x = linspace(0, 1, 60);
    const p = compileKronGp({ axes: [x], y: new Float64Array(60), kernel: 'rbf', lengthscales: 0.5, eigFloor: 1e-9, jitter: 1e-12 });
    const sol = solveKron(lin, p.model, p.y);
    assert.ok((sol.safeguards.clamped[0] as number) > 0, 'a smooth 60-point RBF factor has eigenvalues below 1e-9');
    assert.equal(sol.safeguards.jitter, 1e-12);
    assert.ok(Math.min(...sol.factors[0]!.w) >= 1e-9);
    assert.ok(crossMatrix(Float64Array.from([0]), Float64Array.from([0]), () => 1).length === 1);
  });
});
