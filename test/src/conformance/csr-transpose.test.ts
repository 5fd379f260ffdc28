import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { csrTransposeOp, type NdArray } from '@gramfleet/core';
import { BACKENDS, arr, denseRegistry, randomCsr, rejectsNaming, runOp } from './dense-fixtures';

// Exact (a permutation of the entries): outputs must be identical.
const reg = denseRegistry();

describe('csr-transpose conformance', () => {
  for (const backend of BACKENDS) {
    for (const [m, n, perRow] of [
      [0, 0, 0],
      [0, 3, 0],
      [3, 0, 0],
      [1, 1, 1],
      [7, 5, 2],
      [97, 101, 5],
      [1009, 13, 4],
    ] as const) {
      it(`${backend}: ${m}×${n}, transposing twice gives A back`, async () => {
        const a = randomCsr(m, n, perRow, m * 7 + n);
        const t = await runOp(reg, backend, csrTransposeOp, { n }, a);
        const ref = csrTransposeOp.reference(csrTransposeOp.parseAttrs({ n }), a);
        for (let i = 0; i < 3; i++) assert.deepEqual([...(t[i] as NdArray).data], [...(ref[i] as NdArray).data]);
        const back = await runOp(reg, backend, csrTransposeOp, { n: m }, t);
        for (let i = 0; i < 3; i++) assert.deepEqual([...(back[i] as NdArray).data], [...(a[i] as NdArray).data]);
      });
    }
  }
  it('bad input: typed errors naming the argument', async () => {
    const [ip, ix, dv] = randomCsr(5, 4, 2, 1);
    const ix3 = arr('i32', [ix.data.length], Int32Array.from(ix.data as Int32Array).fill(3, 0, 1));
    await rejectsNaming(runOp(reg, 'wasm', csrTransposeOp, { n: 3 }, [ip, ix3, dv]), 'INPUT_OUT_OF_RANGE', 'indices');
    await rejectsNaming(runOp(reg, 'wasm', csrTransposeOp, {}, [ip, ix, dv]), 'INPUT_INVALID', 'attrs.n');
    await rejectsNaming(
      runOp(reg, 'wasm', csrTransposeOp, { n: 4 }, [ip, arr('f64', [ix.data.length], new Float64Array(ix.data.length)), dv]),
      'INPUT_INVALID',
      'indices',
    );
  });
});
