import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { gemmBatchedOp } from '@gramfleet/core';
import { BACKENDS, arr, assertClose, denseRegistry, rand, rand32, rejectsNaming, runOp } from './dense-fixtures';

// f64: |Δ| ≤ 1e-14·(k+1); f32 (f64 accumulation, one rounding): one f32 ulp, |Δ| ≤ 2⁻²³·|c|.
const reg = denseRegistry();

describe('gemm-batched conformance', () => {
  for (const backend of BACKENDS) {
    for (const dtype of ['f64', 'f32'] as const) {
      for (const [batch, m, n, k] of [
        [0, 2, 2, 2],
        [1, 1, 1, 1],
        [3, 0, 2, 2],
        [5, 3, 5, 7],
        [17, 4, 4, 4],
        [3, 13, 11, 29],
      ] as const) {
        for (const [transA, transB] of [
          [false, false],
          [true, true],
          [false, true],
        ] as const) {
          it(`${backend} ${dtype}: batch ${batch} of ${m}×${n}×${k} transA=${transA} transB=${transB}`, async () => {
            const mk = dtype === 'f64' ? rand : rand32;
            const a = arr(dtype, transA ? [batch, k, m] : [batch, m, k], mk(batch * m * k, 1));
            const b = arr(dtype, transB ? [batch, n, k] : [batch, k, n], mk(batch * k * n, 2));
            const c = arr(dtype, [batch, m, n], mk(batch * m * n, 3));
            const attrs = { transA, transB, alpha: 2, beta: -1 };
            const [out] = await runOp(reg, backend, gemmBatchedOp, attrs, [a, b, c]);
            const [ref] = gemmBatchedOp.reference(gemmBatchedOp.parseAttrs(attrs), [a, b, c]);
            assert.ok(out !== undefined && ref !== undefined);
            assert.deepEqual(out.shape, [batch, m, n]);
            if (dtype === 'f64') assertClose(out.data, ref.data, 1e-14 * (k + 1), 0, 'C');
            else assertClose(out.data, ref.data, 1e-30, 2 ** -23, 'C');
          });
        }
      }
    }
  }
  it('bad input: typed errors naming the argument', async () => {
    const a = arr('f64', [2, 3, 4], rand(24, 1));
    await rejectsNaming(runOp(reg, 'wasm', gemmBatchedOp, {}, [a, arr('f64', [3, 4, 2], rand(24, 2))]), 'INPUT_SHAPE_MISMATCH', 'b');
    await rejectsNaming(runOp(reg, 'wasm', gemmBatchedOp, {}, [arr('f64', [3, 4], rand(12, 1)), arr('f64', [4, 2], rand(8, 2))]), 'INPUT_SHAPE_MISMATCH', 'a');
    await rejectsNaming(
      runOp(reg, 'wasm', gemmBatchedOp, {}, [a, arr('f64', [2, 4, 2], rand(16, 2)), arr('f64', [2, 3, 3], rand(18, 2))]),
      'INPUT_SHAPE_MISMATCH',
      'c',
    );
  });
});
