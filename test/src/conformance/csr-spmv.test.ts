import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { csrSpmvOp } from '@gramfleet/core';
import { WasmArena } from '@gramfleet/workers';
import { callDense } from '@gramfleet/workers/internal';
import { kernelModule } from './linalg-fixtures';
import { BACKENDS, arr, assertClose, denseRegistry, rand, randomCsr, rejectsNaming, runOp } from './dense-fixtures';

// f64; |Δ| ≤ 1e-14·(nnz per row + 1) (the wasm kernel sums a row with two accumulators).
const reg = denseRegistry();

describe('csr-spmv conformance', () => {
  for (const backend of BACKENDS) {
    for (const [m, n, perRow] of [
      [0, 0, 0],
      [0, 5, 1],
      [4, 0, 0],
      [1, 1, 1],
      [7, 5, 2],
      [97, 101, 5],
      [1009, 997, 9],
    ] as const) {
      it(`${backend}: ${m}×${n}, ~${perRow} per row, alpha/beta`, async () => {
        const [ip, ix, dv] = randomCsr(m, n, perRow, m + n);
        const x = arr('f64', [n], rand(n, 1));
        const y = arr('f64', [m], rand(m, 2));
        const attrs = { alpha: 1.5, beta: -0.5, n };
        const [out] = await runOp(reg, backend, csrSpmvOp, attrs, [ip, ix, dv, x, y]);
        const [ref] = csrSpmvOp.reference(csrSpmvOp.parseAttrs(attrs), [ip, ix, dv, x, y]);
        assert.ok(out !== undefined && ref !== undefined);
        assertClose(out.data, ref.data, 1e-14 * (2 * perRow + 2), 0, 'y');
      });
    }
  }
  it('bad input: typed errors naming the argument', async () => {
    const [ip, ix, dv] = randomCsr(5, 4, 2, 1);
    const x = arr('f64', [4], rand(4, 1));
    const badIx = Int32Array.from(ix.data as Int32Array);
    badIx[1] = 4;
    await rejectsNaming(runOp(reg, 'wasm', csrSpmvOp, {}, [ip, arr('i32', [badIx.length], badIx), dv, x]), 'INPUT_OUT_OF_RANGE', 'indices');
    const badIp = Int32Array.from(ip.data as Int32Array);
    badIp[2] = (badIp[3] as number) + 1;
    await rejectsNaming(runOp(reg, 'wasm', csrSpmvOp, {}, [arr('i32', [6], badIp), ix, dv, x]), 'INPUT_OUT_OF_RANGE', 'indptr');
    await rejectsNaming(runOp(reg, 'wasm', csrSpmvOp, { n: 5 }, [ip, ix, dv, x]), 'INPUT_SHAPE_MISMATCH', 'x');
    await rejectsNaming(runOp(reg, 'wasm', csrSpmvOp, {}, [ip, ix, arr('f64', [1], rand(1, 1)), x]), 'INPUT_SHAPE_MISMATCH', 'data');
    await rejectsNaming(runOp(reg, 'wasm', csrSpmvOp, {}, [ip, ix, dv, x, arr('f64', [4], rand(4, 1))]), 'INPUT_SHAPE_MISMATCH', 'y');
  });
  it('the self-validating kernel gf_csr_spmv maps a bad index to INPUT_OUT_OF_RANGE naming indices', async () => {
    const arena = new WasmArena(kernelModule());
    const ip = arena.put(Int32Array.from([0, 2, 3]));
    const ix = arena.put(Int32Array.from([0, 7, 1]));
    const dv = arena.put(Float64Array.from([1, 2, 3]));
    const x = arena.put(Float64Array.from([1, 1]));
    const y = arena.alloc(16);
    await rejectsNaming(
      () => callDense(arena, 'csr-spmv', 'gf_csr_spmv', [2, 2, 3, ip, ix, dv, 1, x, 0, 1, 0, y, 0, 1], 'indices'),
      'INPUT_OUT_OF_RANGE',
      'indices',
    );
  });
});
