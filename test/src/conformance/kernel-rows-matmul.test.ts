import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { kernelBlockMatmulOp, kernelRowsMatmulOp, type NdArray } from '@gramfleet/core';
import { createKernelPool } from '@gramfleet/workers';
import { registerWasmKernels, withHostGather } from '@gramfleet/workers/internal';
import { kernelModule, linalgRegistry } from './linalg-fixtures';
import { BACKENDS, arr, assertClose, rand, rand32, rejectsNaming, runOp } from './dense-fixtures';

// kernel-rows-matmul gathers the named rows and runs the kernel-block-matmul computation on
// them, so each backend must equal kernel-block-matmul on the gathered rows exactly (tolerance
// 0), and the reference within the kernel-block-matmul tolerance (1e-12 relative to Σ|K·A|,
// values of K in (0, 1], |A| ≤ 1).
const reg = linalgRegistry([kernelBlockMatmulOp, kernelRowsMatmulOp], registerWasmKernels);

function blocksOf(dtype: 'f64' | 'f32', sizes: number[], d: number, seed: number): { blocks: NdArray[]; all: Float64Array | Float32Array } {
  const total = sizes.reduce((s, v) => s + v, 0);
  const all = dtype === 'f64' ? rand(total * d, seed) : rand32(total * d, seed);
  let at = 0;
  const blocks = sizes.map((n) => {
    const b = arr(dtype, [n, d], all.slice(at * d, (at + n) * d));
    at += n;
    return b;
  });
  return { blocks, all };
}

function gather(all: Float64Array | Float32Array, rows: Int32Array, d: number, dtype: 'f64' | 'f32'): NdArray {
  const out = dtype === 'f64' ? new Float64Array(rows.length * d) : new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(all.subarray(r * d, (r + 1) * d), i * d));
  return arr(dtype, [rows.length, d], out);
}

describe('kernel-rows-matmul conformance', () => {
  for (const backend of BACKENDS) {
    for (const dtype of ['f64', 'f32'] as const) {
      for (const [sizes, m, p, d, c] of [
        [[1], 1, 1, 1, 1],
        [[5, 0, 7], 9, 4, 3, 2],
        [[37, 41, 2], 53, 29, 13, 10],
        [[300, 211], 257, 131, 31, 3],
        [[4], 0, 3, 2, 2],
      ] as const) {
        it(`${backend} ${dtype}: blocks [${sizes.join(',')}], ${m} rows × ${p} centers, d=${d}, c=${c}`, async () => {
          const { blocks, all } = blocksOf(dtype, [...sizes], d, m + p);
          const total = (sizes as readonly number[]).reduce((s, v) => s + v, 0);
          // Rows out of order, repeated, and at both ends of every block.
          const rows = Int32Array.from({ length: m }, (_, i) => (i === 0 ? total - 1 : (i * 7919 + 3) % total));
          const z = arr(dtype, [p, d], dtype === 'f64' ? rand(p * d, 9) : rand32(p * d, 9));
          const a = arr('f64', [p, c], rand(p * c, 11));
          const attrs = { kernel: 'laplacian', bandwidth: 1.1 };
          const [out] = await runOp(reg, backend, kernelRowsMatmulOp, attrs, [arr('i32', [m], rows), z, a, ...blocks]);
          const [same] = await runOp(reg, backend, kernelBlockMatmulOp, attrs, [gather(all, rows, d, dtype), z, a]);
          const [ref] = kernelBlockMatmulOp.reference(kernelBlockMatmulOp.parseAttrs(attrs), [gather(all, rows, d, dtype), z, a]);
          assert.ok(out !== undefined && same !== undefined && ref !== undefined);
          assert.deepEqual(out.shape, [m, c]);
          assert.deepEqual(Array.from(out.data), Array.from(same.data), 'equals kernel-block-matmul on the gathered rows bit for bit');
          assertClose(out.data, ref.data, 1e-12 * Math.max(1, p), 0, 'K(X[rows], Z)·A');
        });
      }
    }
  }
  it('rejects bad rows, blocks and attributes with typed errors naming them', async () => {
    const b = arr('f64', [3, 2], rand(6, 1));
    const z = arr('f64', [2, 2], rand(4, 2));
    const a = arr('f64', [2, 1], rand(2, 3));
    const attrs = { kernel: 'gaussian', bandwidth: 1 };
    const run = (at: unknown, inputs: NdArray[]) => () => runOp(reg, 'reference', kernelRowsMatmulOp, at, inputs);
    await rejectsNaming(run(attrs, [arr('i32', [2], Int32Array.of(0, 3)), z, a, b]), 'INPUT_OUT_OF_RANGE', 'rows');
    await rejectsNaming(run(attrs, [arr('i32', [1], Int32Array.of(-1)), z, a, b]), 'INPUT_OUT_OF_RANGE', 'rows');
    await rejectsNaming(run(attrs, [arr('f64', [1], Float64Array.of(0)), z, a, b]), 'INPUT_INVALID', 'rows');
    await rejectsNaming(run(attrs, [arr('i32', [1], Int32Array.of(0)), z, a, arr('f64', [3, 3], rand(9, 1))]), 'INPUT_SHAPE_MISMATCH', 'x_0');
    await rejectsNaming(run(attrs, [arr('i32', [1], Int32Array.of(0)), z, a, arr('f32', [3, 2], rand32(6, 1))]), 'INPUT_INVALID', 'x_0');
    await rejectsNaming(run(attrs, [arr('i32', [1], Int32Array.of(0)), z, a]), 'INPUT_INVALID', 'x_0');
    await rejectsNaming(run({ kernel: 'gaussian', bandwidth: 0 }, [arr('i32', [1], Int32Array.of(0)), z, a, b]), 'INPUT_OUT_OF_RANGE', 'bandwidth');
    await rejectsNaming(run({ kernel: 'gaussian', bandwidth: 1, offsetX: 2 }, [arr('i32', [1], Int32Array.of(0)), z, a, b]), 'INPUT_INVALID', 'offsetX');
    const nan = arr('f64', [3, 2], Float64Array.of(0, 1, NaN, 2, 3, 4));
    await rejectsNaming(run(attrs, [arr('i32', [1], Int32Array.of(1)), z, a, nan]), 'INPUT_NOT_FINITE', 'x');
  });
});

describe('kernel-rows-matmul through a worker kernel pool (rows gathered on the main thread)', () => {
  it("gives the wasm kernel's result and typed errors, and runs kernel-block-matmul on the thread", async () => {
    const pool = withHostGather(createKernelPool({ module: kernelModule(), threads: 1 }));
    try {
      const d = 19,
        p = 23,
        c = 4;
      const { blocks } = blocksOf('f32', [40, 0, 33], d, 5);
      const rows = Int32Array.of(72, 0, 39, 40, 41, 5, 5);
      const z = arr('f32', [p, d], rand32(p * d, 6));
      const a = arr('f64', [p, c], rand(p * c, 7));
      const attrs = { kernel: 'cauchy', bandwidth: 0.8 };
      const inputs = [arr('i32', [rows.length], rows), z, a, ...blocks];
      const run = await pool.run('kernel-rows-matmul', attrs, inputs);
      const [direct] = await runOp(reg, 'wasm', kernelRowsMatmulOp, attrs, inputs);
      assert.equal(run.backend, 'wasm');
      assert.deepEqual(Array.from(run.outputs[0]?.data ?? []), Array.from(direct?.data ?? [1]));
      await rejectsNaming(pool.run('kernel-rows-matmul', attrs, [arr('i32', [1], Int32Array.of(73)), z, a, ...blocks]), 'INPUT_OUT_OF_RANGE', 'rows');
      await rejectsNaming(pool.run('kernel-rows-matmul', { kernel: 'cauchy' }, inputs), 'INPUT_INVALID', 'bandwidth');
    } finally {
      await pool.close();
    }
  });
});
