import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { csrSpmmOp } from '@gramfleet/core';
import { BACKENDS, arr, assertClose, denseRegistry, rand, randomCsr, rejectsNaming, runOp } from './dense-fixtures';

// f64; |Δ| ≤ 1e-14·(nnz per row + 1).
const reg = denseRegistry();

describe('csr-spmm conformance', () => {
  for (const backend of BACKENDS) {
    for (const [m, k, n, perRow] of [
      [0, 3, 2, 1],
      [3, 0, 2, 0],
      [3, 4, 0, 2],
      [1, 1, 1, 1],
      [7, 5, 3, 2],
      [97, 101, 13, 5],
      [211, 199, 7, 9],
    ] as const) {
      it(`${backend}: (${m}×${k} sparse)·(${k}×${n}), alpha/beta`, async () => {
        const [ip, ix, dv] = randomCsr(m, k, perRow, m + k + n);
        const b = arr('f64', [k, n], rand(k * n, 1));
        const c = arr('f64', [m, n], rand(m * n, 2));
        const attrs = { alpha: -2, beta: 0.5 };
        const [out] = await runOp(reg, backend, csrSpmmOp, attrs, [ip, ix, dv, b, c]);
        const [ref] = csrSpmmOp.reference(csrSpmmOp.parseAttrs(attrs), [ip, ix, dv, b, c]);
        assert.ok(out !== undefined && ref !== undefined);
        assert.deepEqual(out.shape, [m, n]);
        assertClose(out.data, ref.data, 1e-14 * (2 * perRow + 2), 0, 'C');
      });
    }
  }
  it('bad input: typed errors naming the argument', async () => {
    const [ip, ix, dv] = randomCsr(5, 4, 2, 1);
    const ix3 = arr('i32', [ix.data.length], Int32Array.from(ix.data as Int32Array).fill(3, 0, 1));
    await rejectsNaming(runOp(reg, 'wasm', csrSpmmOp, {}, [ip, ix3, dv, arr('f64', [3, 2], rand(6, 1))]), 'INPUT_OUT_OF_RANGE', 'indices');
    await rejectsNaming(runOp(reg, 'wasm', csrSpmmOp, {}, [ip, ix, dv, arr('f64', [8], rand(8, 1))]), 'INPUT_SHAPE_MISMATCH', 'b');
    await rejectsNaming(
      runOp(reg, 'wasm', csrSpmmOp, {}, [ip, ix, dv, arr('f64', [4, 2], rand(8, 1)), arr('f64', [4, 2], rand(8, 1))]),
      'INPUT_SHAPE_MISMATCH',
      'c',
    );
  });
});
