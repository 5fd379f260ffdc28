import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { csrFromTripletsOp, type NdArray } from '@gramfleet/core';
import { BACKENDS, arr, assertClose, denseRegistry, rand, rejectsNaming, rng, runOp } from './dense-fixtures';

// Structure (indptr, indices) exact; values equal up to the order duplicates are summed
// (both sum in input order, so exact here; 1e-15 allowed).
const reg = denseRegistry();

function triplets(m: number, n: number, nnz: number, seed: number): NdArray[] {
  const r = rng(seed);
  const rows = new Int32Array(nnz),
    cols = new Int32Array(nnz);
  for (let p = 0; p < nnz; p++) {
    rows[p] = Math.floor((r() + 0.5) * m) % Math.max(m, 1);
    cols[p] = Math.floor((r() + 0.5) * n) % Math.max(n, 1);
  }
  return [arr('i32', [nnz], rows), arr('i32', [nnz], cols), arr('f64', [nnz], rand(nnz, seed + 1))];
}

describe('csr-from-triplets conformance', () => {
  for (const backend of BACKENDS) {
    for (const [m, n, nnz] of [
      [0, 0, 0],
      [3, 4, 0],
      [1, 1, 1],
      [1, 1, 5],
      [7, 5, 40],
      [97, 101, 500],
      [13, 1009, 3000],
    ] as const) {
      it(`${backend}: ${m}×${n} from ${nnz} triplets (duplicates summed, columns sorted)`, async () => {
        const t = triplets(m, n, nnz, m + n + nnz);
        const out = await runOp(reg, backend, csrFromTripletsOp, { m, n }, t);
        const ref = csrFromTripletsOp.reference(csrFromTripletsOp.parseAttrs({ m, n }), t);
        assert.deepEqual([...(out[0] as NdArray).data], [...(ref[0] as NdArray).data], 'indptr');
        assert.deepEqual([...(out[1] as NdArray).data], [...(ref[1] as NdArray).data], 'indices');
        assertClose((out[2] as NdArray).data, (ref[2] as NdArray).data, 1e-15, 0, 'data');
        const ip = (out[0] as NdArray).data as Int32Array,
          ix = (out[1] as NdArray).data as Int32Array;
        for (let i = 0; i < m; i++) for (let q = (ip[i] as number) + 1; q < (ip[i + 1] as number); q++) assert.ok((ix[q] as number) > (ix[q - 1] as number));
      });
    }
  }
  it('bad input: typed errors naming the argument', async () => {
    const t = triplets(4, 4, 10, 1);
    await rejectsNaming(
      runOp(reg, 'wasm', csrFromTripletsOp, { m: 4, n: 3 }, [t[0] as NdArray, arr('i32', [10], new Int32Array(10).fill(3)), t[2] as NdArray]),
      'INPUT_OUT_OF_RANGE',
      'cols',
    );
    await rejectsNaming(
      runOp(reg, 'wasm', csrFromTripletsOp, { m: 4, n: 4 }, [arr('i32', [10], new Int32Array(10).fill(-1)), t[1] as NdArray, t[2] as NdArray]),
      'INPUT_OUT_OF_RANGE',
      'rows',
    );
    await rejectsNaming(
      runOp(reg, 'wasm', csrFromTripletsOp, { m: 4, n: 4 }, [t[0] as NdArray, t[1] as NdArray, arr('f64', [9], rand(9, 1))]),
      'INPUT_SHAPE_MISMATCH',
      'vals',
    );
    await rejectsNaming(runOp(reg, 'wasm', csrFromTripletsOp, { m: 4 }, t), 'INPUT_INVALID', 'attrs.n');
  });
});
