import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ndarray } from '../array';
import { kronGpSolveRun } from '../ops/kron-gp';
import { solveKron } from './gp';
import { compileKronGp } from './params';
import { referenceKronLinalg } from './tensor';
import { kronLoopInputs, kronSlabLayout, kronSolveStatsLayout, readKronSolveStats } from './layouts';

describe('Kronecker layouts (core/src/kron/layouts.ts)', () => {
  it('name the slots the flat arrays always had', () => {
    for (const D of [2, 3, 5]) {
      const st = kronSolveStatsLayout(D);
      assert.deepEqual([st.lml, st.logdet, st.dataFit, st.gradOutputscale, st.gradNoise, st.length], [0, 1, 2, 3 + D, 4 + D, 3 + D + 2 + D]);
      for (let d = 0; d < D; d++) {
        assert.equal(st.gradLengthscale(d), 3 + d);
        assert.equal(st.clamped(d), 5 + D + d);
      }
      const L = kronSlabLayout(D);
      // stage b inputs [slab, V_0, W_0 … W_{D−1}, B_d for d ≠ 1], stats [Σα̃², Σλα̃², quad_d for d ≠ 1]
      const bd = Array.from({ length: D }, (_, d) => d).filter((d) => d !== 1);
      assert.deepEqual(
        bd.map((d) => L.b.in.b(d)),
        bd.map((_, i) => 2 + D + i),
      );
      assert.deepEqual(
        bd.map((d) => L.b.stats.quad(d)),
        bd.map((_, i) => 2 + i),
      );
      for (let d = 0; d < D; d++) assert.equal(L.b.in.w(d), d + 2);
      // stage c inputs [u, V_1 … V_{D−1}, α̃, B_1, W_0 … W_{D−1}]
      assert.deepEqual([L.c.in.alphaTilde, L.c.in.b1], [D, D + 1]);
      for (let d = 0; d < D; d++) assert.equal(L.c.in.w(d), D + 2 + d);
      for (let d = 1; d < D; d++) assert.equal(L.c.in.v(d), d);
      const loop = kronLoopInputs(D);
      for (let d = 0; d < D; d++) assert.deepEqual([loop.k(d), loop.v(d), loop.w(d)], [1 + d, 1 + D + d, 1 + 2 * D + d]);
    }
  });
  it('kron-gp-solve writes its stats where readKronSolveStats reads them', () => {
    const p = compileKronGp({
      axes: [
        [0, 0.3, 0.7, 1],
        [0, 0.5, 1],
      ],
      y: [0.1, 0.4, 0.2, 0.5, 0.3, 0.6, 0.2, 0.1, 0.4, 0.3, 0.5, 0.2],
      kernel: 'rbf',
      lengthscales: [0.4, 0.6],
      noise: 0.05,
    });
    const attrs = { kernels: p.model.kernels, outputscale: p.model.outputscale, noise: p.model.noise, jitter: 0, eigFloor: 0, gradient: true };
    const [, stats] = kronGpSolveRun(referenceKronLinalg, attrs, [
      ndarray('f64', [p.y.length], p.y),
      ...p.model.axes.map((a) => ndarray('f64', [a.length], a)),
    ]);
    const s = readKronSolveStats(stats!.data as Float64Array, 2);
    const want = solveKron(referenceKronLinalg, p.model, p.y, { gradient: true });
    assert.deepEqual([s.lml, s.logdet, s.dataFit], [want.lml, want.logdet, want.dataFit]);
    assert.deepEqual(s.gradient, { lengthscales: [...want.gradient!.lengthscales], outputscale: want.gradient!.outputscale, noise: want.gradient!.noise });
  });
});
