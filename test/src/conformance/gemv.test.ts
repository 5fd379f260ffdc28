import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { gemvOp } from '@gramfleet/core';
import { BACKENDS, arr, assertClose, denseRegistry, rand, rejectsNaming, runOp } from './dense-fixtures';

// f64 only; |Δ| ≤ 1e-14·(len+1) with entries in [−½, ½) (different summation orders).
const reg = denseRegistry();

describe('gemv conformance', () => {
  for (const backend of BACKENDS) {
    for (const [m, n] of [
      [0, 3],
      [3, 0],
      [1, 1],
      [2, 3],
      [7, 13],
      [97, 31],
      [101, 257],
    ] as const) {
      for (const trans of [false, true]) {
        it(`${backend}: ${m}×${n} trans=${trans}, alpha/beta`, async () => {
          const a = arr('f64', [m, n], rand(m * n, m + 1));
          const x = arr('f64', [trans ? m : n], rand(trans ? m : n, n + 2));
          const y = arr('f64', [trans ? n : m], rand(trans ? n : m, 3));
          const attrs = { trans, alpha: -0.5, beta: 2 };
          const [out] = await runOp(reg, backend, gemvOp, attrs, [a, x, y]);
          const [ref] = gemvOp.reference(gemvOp.parseAttrs(attrs), [a, x, y]);
          assert.ok(out !== undefined && ref !== undefined);
          assertClose(out.data, ref.data, 1e-14 * (Math.max(m, n) + 1), 0, 'y');
        });
      }
    }
    for (const trans of [false, true]) {
      it(`${backend}: strided views (offsets, lda, increments) trans=${trans}`, async () => {
        const m = 13,
          n = 11,
          lda = 17;
        const lx = trans ? m : n,
          ly = trans ? n : m;
        const attrs = { m, n, trans, alpha: 1.5, beta: 0.25, offsetA: 4, lda, offsetX: 2, incx: 3, offsetY: 1, incy: 2 };
        const a = arr('f64', [4 + m * lda], rand(4 + m * lda, 5));
        const x = arr('f64', [2 + 3 * lx], rand(2 + 3 * lx, 6));
        const y = arr('f64', [1 + 2 * ly], rand(1 + 2 * ly, 7));
        const [out] = await runOp(reg, backend, gemvOp, attrs, [a, x, y]);
        const [ref] = gemvOp.reference(gemvOp.parseAttrs(attrs), [a, x, y]);
        assert.ok(out !== undefined && ref !== undefined);
        assertClose(out.data, ref.data, 1e-13, 0, 'y');
        assert.equal(out.data[0], y.data[0]);
        assert.equal(out.data[2], y.data[2]);
      });
    }
  }
  it('bad input: typed errors naming the argument', async () => {
    const a = arr('f64', [3, 4], rand(12, 1));
    await rejectsNaming(runOp(reg, 'wasm', gemvOp, {}, [a, arr('f64', [3], rand(3, 2))]), 'INPUT_SHAPE_MISMATCH', 'x');
    await rejectsNaming(runOp(reg, 'wasm', gemvOp, {}, [a, arr('f64', [4], rand(4, 2)), arr('f64', [4], rand(4, 2))]), 'INPUT_SHAPE_MISMATCH', 'y');
    await rejectsNaming(runOp(reg, 'wasm', gemvOp, { m: 3, n: 4, incx: 2 }, [a, arr('f64', [4], rand(4, 2))]), 'INPUT_OUT_OF_RANGE', 'x');
    await rejectsNaming(runOp(reg, 'wasm', gemvOp, { m: 3, n: 4, incx: 0 }, [a, arr('f64', [4], rand(4, 2))]), 'INPUT_OUT_OF_RANGE', 'incx');
    await rejectsNaming(runOp(reg, 'wasm', gemvOp, { beta: Number.POSITIVE_INFINITY }, [a, arr('f64', [4], rand(4, 2))]), 'INPUT_NOT_FINITE', 'beta');
    await rejectsNaming(runOp(reg, 'wasm', gemvOp, {}, [arr('f32', [3, 4], new Float32Array(12)), arr('f64', [4], rand(4, 2))]), 'INPUT_INVALID', 'a');
  });
});
