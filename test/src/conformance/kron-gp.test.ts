/**
 * Conformance of the Kronecker GP shard ops (`kron-factor`, `kron-slab`, `kron-gp-solve`):
 * every backend against the float64 reference. The wasm kernels use the wasm `eigh`, whose
 * eigenvectors differ from the Jacobi reference by round-off (and by sign only where
 * eigenvalues are (near-)degenerate), so the comparison is on invariant quantities: the
 * eigenvalues, the reconstruction Q·Λ·Qᵀ, and the solve's α and stats. Tolerance 1e-10
 * relative (f64 only). Also odd sizes, a 1-point axis, and typed errors for bad attrs.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError, kronFactorOp, kronGpSolveOp, kronSlabOp, type NdArray } from '@gramfleet/core';
import { registerKronGpWasm } from '@gramfleet/workers/internal';
import { BACKENDS, linalgRegistry, runOp } from './linalg-fixtures';

const reg = linalgRegistry([kronFactorOp, kronSlabOp, kronGpSolveOp], registerKronGpWasm);
const f64 = (shape: number[], data: number[] | Float64Array): NdArray => ({ dtype: 'f64', shape, data: Float64Array.from(data) });
const axis = (n: number, a = 0, b = 1): NdArray =>
  f64(
    [n],
    Array.from({ length: n }, (_, i) => (n === 1 ? a : a + ((b - a) * i) / (n - 1))),
  );
function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    e += ((a[i] as number) - (b[i] as number)) ** 2;
    n += (b[i] as number) ** 2;
  }
  return Math.sqrt(e / Math.max(n, 1e-300));
}
function reconstruct(w: Float64Array, v: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (v[i * n + k] as number) * (w[k] as number) * (v[j * n + k] as number);
      out[i * n + j] = s;
    }
  return out;
}

describe('conformance: kron-factor, kron-slab, kron-gp-solve', () => {
  for (const backend of BACKENDS) {
    it(`${backend}: kron-factor eigenvalues and Q·Λ·Qᵀ match the reference (n = 1, 7, 31; matern52, periodic, spectral-mixture)`, async () => {
      const kernels = [
        { kind: 'matern52', lengthscale: 0.3 },
        { kind: 'periodic', lengthscale: 0.7, period: 1.1 },
        { kind: 'spectral-mixture', lengthscale: 0.4, weights: [0.5, 0.5], freqs: [0, 2] },
      ];
      for (const n of [1, 7, 31]) {
        for (const kernel of kernels) {
          const inputs = [axis(3), axis(n)];
          const attrs = { axis: 1, kernel, jitter: 1e-12, eigFloor: 0 };
          const [w, v] = await runOp(reg, backend, kronFactorOp, attrs, inputs);
          const [wr, vr] = await runOp(reg, 'reference', kronFactorOp, attrs, inputs);
          assert.ok(rel(w!.data as Float64Array, wr!.data as Float64Array) <= 1e-10, `${kernel.kind} n=${n} eigenvalues`);
          assert.ok(
            rel(reconstruct(w!.data as Float64Array, v!.data as Float64Array, n), reconstruct(wr!.data as Float64Array, vr!.data as Float64Array, n)) <= 1e-10,
          );
        }
      }
    });

    it(`${backend}: kron-slab mode products and eigen-scaling match the reference on an odd 5×3×7 slab`, async () => {
      const x = f64(
        [5, 3, 7],
        Array.from({ length: 105 }, (_, i) => Math.sin(i)),
      );
      const m1 = f64([3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 10]);
      const m2 = f64(
        [7, 7],
        Array.from({ length: 49 }, (_, i) => Math.cos(i * 0.3)),
      );
      const w = [
        f64(
          [9],
          Array.from({ length: 9 }, (_, i) => 1 + i),
        ),
        f64([3], [0.5, 1, 2]),
        f64(
          [7],
          Array.from({ length: 7 }, (_, i) => 0.1 * (i + 1)),
        ),
      ];
      const attrs = {
        shape: [5, 3, 7],
        steps: [
          { kind: 'mode', mode: 1, input: 1, transpose: true },
          { kind: 'mode', mode: 2, input: 2, transpose: false },
          { kind: 'scale', slabAxis: 0, start: 4, outputscale: 1.5, noise: 0.1, eigInputs: [3, 4, 5] },
        ],
      };
      const inputs = [x, m1, m2, ...w];
      const [y] = await runOp(reg, backend, kronSlabOp, attrs, inputs);
      const [yr] = await runOp(reg, 'reference', kronSlabOp, attrs, inputs);
      assert.deepEqual(y!.shape, [5, 3, 7]);
      assert.ok(rel(y!.data as Float64Array, yr!.data as Float64Array) <= 1e-12);
    });

    it(`${backend}: kron-gp-solve α and stats match the reference (6×5 grid, gradient)`, async () => {
      const y = f64(
        [30],
        Array.from({ length: 30 }, (_, i) => Math.cos(i * 0.7)),
      );
      const attrs = {
        kernels: [
          { kind: 'rbf', lengthscale: 0.4 },
          { kind: 'matern32', lengthscale: 0.6 },
        ],
        outputscale: 1.1,
        noise: 0.05,
        gradient: true,
      };
      const inputs = [y, axis(6), axis(5, -1, 1)];
      const [a, s] = await runOp(reg, backend, kronGpSolveOp, attrs, inputs);
      const [ar, sr] = await runOp(reg, 'reference', kronGpSolveOp, attrs, inputs);
      assert.ok(rel(a!.data as Float64Array, ar!.data as Float64Array) <= 1e-10);
      assert.ok(rel((s!.data as Float64Array).subarray(0, 7), (sr!.data as Float64Array).subarray(0, 7)) <= 1e-10);
    });
  }

  it('bad attributes and inputs get typed errors naming the field', async () => {
    const expect = async (f: () => Promise<unknown>, code: string, field: string): Promise<void> => {
      try {
        await f();
      } catch (e) {
        assert.ok(isGramfleetError(e), String(e));
        assert.equal(e.code, code, e.message);
        assert.ok(e.message.includes(field), e.message);
        return;
      }
      assert.fail(`expected ${code}`);
    };
    await expect(
      () => runOp(reg, 'wasm', kronFactorOp, { axis: 0, kernel: { kind: 'rbf', lengthscale: -1 } }, [axis(3)]),
      'INPUT_OUT_OF_RANGE',
      'attrs.kernel.lengthscale',
    );
    await expect(
      () => runOp(reg, 'wasm', kronFactorOp, { axis: 0, kernel: { kind: 'cubic', lengthscale: 1 } }, [axis(3)]),
      'INPUT_INVALID',
      'attrs.kernel.kind',
    );
    await expect(
      () => runOp(reg, 'wasm', kronGpSolveOp, { kernels: [{ kind: 'rbf', lengthscale: 1 }], outputscale: 1, noise: 0.1 }, [f64([4], [1, 2, 3, 4]), axis(3)]),
      'INPUT_SHAPE_MISMATCH',
      'y',
    );
    await expect(
      () => runOp(reg, 'wasm', kronSlabOp, { shape: [2, 2], steps: [{ kind: 'shift' }] }, [f64([4], [1, 2, 3, 4])]),
      'INPUT_INVALID',
      'attrs.steps[0].kind',
    );
  });
});
