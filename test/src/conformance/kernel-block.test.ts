import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { KERNEL_FUNCTIONS, kernelBlockMatmulOp, kernelBlockOp } from '@gramfleet/core';
import { BACKENDS, arr, assertClose, denseRegistry, rand, rand32, rejectsNaming, runOp } from './dense-fixtures';

// Tolerances: values are in (0, 1]. Both backends use ‖x‖²+‖z‖²−2x·z in f64, summed in a
// different order: |Δd²| ≲ 1e-15·d·‖x‖². Off the diagonal that gives |ΔK| ≤ 1e-12 (f64 and f32
// inputs alike: f32 values are widened exactly). Where d² ≈ 0 (X = Z) the sqrt-based kernels
// (laplacian, matern) amplify it to √|Δd²|/σ, so the X = Z test allows 1e-6 for them.
const reg = denseRegistry();

describe('kernel-block conformance', () => {
  for (const backend of BACKENDS) {
    for (const kernel of KERNEL_FUNCTIONS) {
      for (const dtype of ['f64', 'f32'] as const) {
        for (const [n, m, d] of [
          [0, 3, 2],
          [3, 0, 2],
          [1, 1, 1],
          [4, 5, 0],
          [13, 7, 3],
          [97, 61, 17],
          [37, 131, 263],
        ] as const) {
          it(`${backend} ${dtype} ${kernel}: ${n}×${m}, d=${d}`, async () => {
            const mk = dtype === 'f64' ? rand : rand32;
            const x = arr(dtype, [n, d], mk(n * d, n + 1));
            const z = arr(dtype, [m, d], mk(m * d, m + 2));
            const attrs = { kernel, bandwidth: 0.7 };
            const [out] = await runOp(reg, backend, kernelBlockOp, attrs, [x, z]);
            const [ref] = kernelBlockOp.reference(kernelBlockOp.parseAttrs(attrs), [x, z]);
            assert.ok(out !== undefined && ref !== undefined);
            assert.deepEqual(out.shape, [n, m]);
            assertClose(out.data, ref.data, 1e-12, 0, 'K');
          });
        }
      }
      it(`${backend} ${kernel}: X = Z gives ones on the diagonal, symmetric`, async () => {
        const n = 29,
          d = 11;
        const x = arr('f64', [n, d], rand(n * d, 4));
        const [out] = await runOp(reg, backend, kernelBlockOp, { kernel, bandwidth: 2 }, [x, x]);
        assert.ok(out !== undefined);
        const [ref] = kernelBlockOp.reference(kernelBlockOp.parseAttrs({ kernel, bandwidth: 2 }), [x, x]);
        const sqrtKernel = kernel !== 'gaussian' && kernel !== 'cauchy';
        assertClose(out.data, (ref as { data: Float64Array }).data, sqrtKernel ? 1e-6 : 1e-12, 0, 'K');
        for (let i = 0; i < n; i++) assert.ok(Math.abs((out.data[i * n + i] as number) - 1) <= (sqrtKernel ? 1e-6 : 1e-12));
      });
      it(`${backend} ${kernel}: strided views of X and Z`, async () => {
        const n = 9,
          m = 7,
          d = 5,
          ldx = 8,
          ldz = 6;
        const attrs = { kernel, bandwidth: 1.5, n, m, d, offsetX: 3, ldx, offsetZ: 2, ldz };
        const x = arr('f64', [3 + n * ldx], rand(3 + n * ldx, 1));
        const z = arr('f64', [2 + m * ldz], rand(2 + m * ldz, 2));
        const [out] = await runOp(reg, backend, kernelBlockOp, attrs, [x, z]);
        const [ref] = kernelBlockOp.reference(kernelBlockOp.parseAttrs(attrs), [x, z]);
        assert.ok(out !== undefined && ref !== undefined);
        assertClose(out.data, ref.data, 1e-12, 0, 'K');
      });
    }
    for (const dtype of ['f64', 'f32'] as const) {
      for (const [n, m, d, c] of [
        [0, 3, 2, 2],
        [1, 1, 1, 1],
        [5, 3, 4, 0],
        [31, 47, 13, 3],
        [211, 1500, 7, 10],
      ] as const) {
        it(`${backend} ${dtype}: kernel-block-matmul ${n}×${m}·[${m},${c}], d=${d}, with beta·out0`, async () => {
          const mk = dtype === 'f64' ? rand : rand32;
          const x = arr(dtype, [n, d], mk(n * d, 1));
          const z = arr(dtype, [m, d], mk(m * d, 2));
          const a = arr('f64', [m, c], rand(m * c, 3));
          const o0 = arr('f64', [n, c], rand(n * c, 4));
          const attrs = { kernel: 'matern32', bandwidth: 0.9, beta: 0.5 };
          const [out] = await runOp(reg, backend, kernelBlockMatmulOp, attrs, [x, z, a, o0]);
          const [ref] = kernelBlockMatmulOp.reference(kernelBlockMatmulOp.parseAttrs(attrs), [x, z, a, o0]);
          assert.ok(out !== undefined && ref !== undefined);
          assert.deepEqual(out.shape, [n, c]);
          // |Δ| ≤ 1e-12·m (each term has |ΔK| ≤ 1e-12 and |a| ≤ ½).
          assertClose(out.data, ref.data, 1e-12 * Math.max(1, m), 0, 'K·A');
        });
      }
    }
  }
  it('bad input: typed errors naming the argument', async () => {
    const x = arr('f64', [3, 4], rand(12, 1));
    const z = arr('f64', [2, 4], rand(8, 2));
    await rejectsNaming(runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian', bandwidth: -1 }, [x, z]), 'INPUT_OUT_OF_RANGE', 'bandwidth');
    await rejectsNaming(runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian', bandwidth: 0 }, [x, z]), 'INPUT_OUT_OF_RANGE', 'bandwidth');
    await rejectsNaming(runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian', bandwidth: Number.NaN }, [x, z]), 'INPUT_NOT_FINITE', 'bandwidth');
    await rejectsNaming(runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian' }, [x, z]), 'INPUT_INVALID', 'bandwidth');
    await rejectsNaming(runOp(reg, 'wasm', kernelBlockOp, { kernel: 'rbf', bandwidth: 1 }, [x, z]), 'INPUT_INVALID', 'kernel');
    await rejectsNaming(
      runOp(reg, 'wasm', kernelBlockOp, { kernel: 'gaussian', bandwidth: 1 }, [x, arr('f64', [2, 3], rand(6, 2))]),
      'INPUT_SHAPE_MISMATCH',
      'z',
    );
    const bad = rand(12, 1);
    bad[7] = Number.NaN;
    await rejectsNaming(runOp(reg, 'wasm', kernelBlockOp, { kernel: 'gaussian', bandwidth: 1 }, [arr('f64', [3, 4], bad), z]), 'INPUT_NOT_FINITE', 'x');
    await rejectsNaming(runOp(reg, 'wasm', kernelBlockOp, { kernel: 'gaussian', bandwidth: 1 }, [x, arr('f32', [2, 4], rand32(8, 1))]), 'INPUT_INVALID', 'z');
    await rejectsNaming(
      runOp(reg, 'wasm', kernelBlockMatmulOp, { kernel: 'gaussian', bandwidth: 1 }, [x, z, arr('f64', [3, 2], rand(6, 1))]),
      'INPUT_SHAPE_MISMATCH',
      'a',
    );
  });
});
