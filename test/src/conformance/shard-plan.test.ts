import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { OPS, type NdArray } from '@gramfleet/core';
import { nnzRanges, planOpShards } from '@gramfleet/core/internal';
import { registerWasmKernels } from '@gramfleet/workers/internal';
import { arr, assertClose, rand, rand32, randomCsr, rejectsNaming } from './dense-fixtures';
import { BACKENDS, linalgRegistry, randomSpd, runOp } from './linalg-fixtures';

// Shard planning per op: the shards of a plan, each run on a backend and assembled, give the
// unsharded result of the same backend (tolerance 1e-13 relative to the largest entry: the
// same kernel sees fewer rows, so only block boundaries may change the summation order).
const reg = linalgRegistry(
  OPS.ids().map((id) => OPS.get(id)),
  registerWasmKernels,
);

interface Case {
  readonly op: string;
  readonly attrs: Record<string, unknown>;
  readonly inputs: NdArray[];
  readonly axis: number | null;
}

function cases(): Case[] {
  const [ip, ix, dv] = randomCsr(97, 61, 4, 5);
  const [eip, eix, edv] = randomCsr(0, 5, 2, 1);
  return [
    {
      op: 'gemm',
      attrs: { alpha: 2, beta: 0.5 },
      inputs: [arr('f64', [37, 13], rand(37 * 13, 1)), arr('f64', [13, 11], rand(143, 2)), arr('f64', [37, 11], rand(37 * 11, 3))],
      axis: 0,
    },
    { op: 'gemm', attrs: { transA: true, transB: true }, inputs: [arr('f64', [13, 29], rand(13 * 29, 1)), arr('f64', [7, 13], rand(91, 2))], axis: 0 },
    { op: 'gemm', attrs: {}, inputs: [arr('f32', [31, 5], rand32(155, 4)), arr('f32', [5, 3], rand32(15, 5))], axis: 0 },
    { op: 'gemm', attrs: {}, inputs: [arr('f64', [0, 3], rand(0, 1)), arr('f64', [3, 2], rand(6, 2))], axis: 0 },
    { op: 'gemm', attrs: {}, inputs: [arr('f64', [1, 1], rand(1, 1)), arr('f64', [1, 1], rand(1, 2))], axis: 0 },
    { op: 'gemm', attrs: { m: 2, n: 2, k: 2, offsetA: 1 }, inputs: [arr('f64', [5], rand(5, 1)), arr('f64', [4], rand(4, 2))], axis: null },
    {
      op: 'gemv',
      attrs: { trans: true, beta: 1 },
      inputs: [arr('f64', [11, 23], rand(253, 1)), arr('f64', [11], rand(11, 2)), arr('f64', [23], rand(23, 3))],
      axis: 0,
    },
    { op: 'gemv', attrs: {}, inputs: [arr('f64', [19, 7], rand(133, 1)), arr('f64', [7], rand(7, 2))], axis: 0 },
    { op: 'gemm-batched', attrs: { transB: true }, inputs: [arr('f64', [7, 3, 5], rand(105, 1)), arr('f64', [7, 2, 5], rand(70, 2))], axis: 0 },
    {
      op: 'kernel-block',
      attrs: { kernel: 'matern52', bandwidth: 0.7 },
      inputs: [arr('f64', [41, 9], rand(369, 1)), arr('f64', [17, 9], rand(153, 2))],
      axis: 0,
    },
    {
      op: 'kernel-block-matmul',
      attrs: { kernel: 'gaussian', bandwidth: 1.3 },
      inputs: [arr('f64', [29, 5], rand(145, 1)), arr('f64', [13, 5], rand(65, 2)), arr('f64', [13, 3], rand(39, 3))],
      axis: 0,
    },
    { op: 'csr-spmv', attrs: { alpha: 2, beta: -1 }, inputs: [ip, ix, dv, arr('f64', [61], rand(61, 1)), arr('f64', [97], rand(97, 2))], axis: 0 },
    { op: 'csr-spmv', attrs: {}, inputs: [eip, eix, edv, arr('f64', [5], rand(5, 1))], axis: 0 },
    { op: 'csr-spmm', attrs: {}, inputs: [ip, ix, dv, arr('f64', [61, 3], rand(183, 1))], axis: 0 },
    { op: 'triangular-solve', attrs: { lower: true }, inputs: [arr('f64', [7, 7], lowerWellConditioned(7)), arr('f64', [7, 5], rand(35, 2))], axis: 1 },
    { op: 'triangular-solve', attrs: {}, inputs: [arr('f64', [7, 7], lowerWellConditioned(7)), arr('f64', [7], rand(7, 2))], axis: null },
    { op: 'mode-product', attrs: { mode: 0 }, inputs: [arr('f64', [3, 7, 2], rand(42, 1)), arr('f64', [4, 3], rand(12, 2))], axis: 1 },
    { op: 'mode-product', attrs: { mode: 2, transpose: true }, inputs: [arr('f64', [5, 3, 2], rand(30, 1)), arr('f64', [2, 3], rand(6, 2))], axis: 0 },
    { op: 'cholesky', attrs: {}, inputs: [arr('f64', [5, 5], randomSpd(5, 3))], axis: null },
    { op: 'eigh', attrs: {}, inputs: [arr('f64', [5, 5], randomSpd(5, 4))], axis: null },
  ];
}

function lowerWellConditioned(n: number): Float64Array {
  const t = rand(n * n, 9);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) t[i * n + j] = 0;
    t[i * n + i] = 2 + i;
  }
  return t;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] as number));
  return m;
}

describe('shard planning per op', () => {
  for (const backend of BACKENDS) {
    for (const c of cases()) {
      it(`${backend}: ${c.op} ${JSON.stringify(c.attrs)} [${c.inputs.map((a) => a.shape.join('×')).join(', ')}] in 3 shards equals the unsharded call`, async () => {
        const op = OPS.get(c.op);
        const plan = planOpShards(OPS, c.op, c.attrs, c.inputs, { parts: 3 });
        assert.equal(plan.axis, c.axis);
        if (c.axis === null) assert.ok(plan.single !== undefined && plan.shards.length === 1, 'a one-shard plan says why');
        const outs: NdArray[][] = [];
        for (const s of plan.shards) outs.push(await runOp(reg, backend, op, s.attrs, s.inputs));
        const got = plan.assemble(outs);
        const want = await runOp(reg, backend, op, c.attrs, c.inputs);
        assert.equal(got.length, want.length);
        for (let i = 0; i < want.length; i++) {
          const g = got[i] as NdArray;
          const w = want[i] as NdArray;
          assert.deepEqual(g.shape, w.shape);
          assert.equal(g.dtype, w.dtype);
          const tol = w.dtype === 'f32' ? 2 ** -22 : 1e-13;
          assertClose(g.data, w.data, tol * Math.max(1, maxAbs(w.data)), 0, `${c.op} output ${i}`);
        }
      });
    }
  }
  it('csr-spmv shards hold about equal non-zeros, cover every row once, none empty', () => {
    const ip = Int32Array.from([0, 50, 51, 52, 53, 54, 104, 105]);
    const r = nnzRanges(ip, 3);
    assert.equal(r[0]?.[0], 0);
    assert.equal(r[r.length - 1]?.[1], 7);
    for (let i = 1; i < r.length; i++) assert.equal(r[i]?.[0], r[i - 1]?.[1]);
    for (const [a, b] of r) assert.ok(b > a);
    assert.equal(r.length, 3);
  });
  it('bad input is a typed error before any shard exists', async () => {
    await rejectsNaming(() => planOpShards(OPS, 'gemm', {}, [arr('f64', [2, 3], rand(6, 1)), arr('f64', [2, 2], rand(4, 2))]), 'INPUT_SHAPE_MISMATCH', 'b');
    await rejectsNaming(
      () => planOpShards(OPS, 'kernel-block', { kernel: 'laplacian', bandwidth: -1 }, [arr('f64', [2, 2], rand(4, 1)), arr('f64', [2, 2], rand(4, 2))]),
      'INPUT_OUT_OF_RANGE',
      'bandwidth',
    );
    await rejectsNaming(
      () => planOpShards(OPS, 'gemm', {}, [arr('f64', [2, 2], rand(4, 1)), arr('f64', [2, 2], rand(4, 2))], { parts: 0 }),
      'INPUT_OUT_OF_RANGE',
      'parts',
    );
    await rejectsNaming(() => planOpShards(OPS, 'no-such-op', {}, []), 'INPUT_UNKNOWN_OP', 'no-such-op');
  });
});
