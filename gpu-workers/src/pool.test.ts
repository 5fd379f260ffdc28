/**
 * The GPU worker's kernel pool, driven on the CPU emulation of the device (no GPU): shards run
 * one at a time, GPU kernels report backend `gpu`, ops without a GPU kernel and attributes a
 * GPU kernel declines run on the float64 reference and report `reference`, bad input is a
 * typed error, and closing the pool releases the device.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createKernelRegistry, grfWalksOp, isGramfleetError, type NdArray } from '@gramfleet/core';
import { registerReferenceKernels } from '@gramfleet/workers';
import { openEmulatedGpuDevice } from './emulation/emulated-device';
import { registerGpuKernels } from './kernels/register-all';
import { createGpuKernelPool } from './pool';

let skip: string | false = false;
try {
  openEmulatedGpuDevice().close();
} catch (e) {
  skip = `the CPU emulation of the device cannot be built: ${(e as Error).message}`;
  console.log(`skipping the GPU pool tests: ${skip}`);
}

const f64 = (shape: number[], data: number[]): NdArray => ({ dtype: 'f64', shape, data: Float64Array.from(data) }) as NdArray;
const i32 = (data: number[]): NdArray => ({ dtype: 'i32', shape: [data.length], data: Int32Array.from(data) }) as NdArray;

describe('GPU kernel pool (on the CPU emulation, not a GPU)', { skip }, () => {
  it('runs GPU kernels, falls back to the reference (and says so), rejects bad input with typed errors, frees the device on close', async () => {
    const device = openEmulatedGpuDevice({ withoutCusolver: true });
    const registry = createKernelRegistry();
    registerReferenceKernels(registry);
    const ops = registerGpuKernels(registry, device);
    assert.ok(!ops.includes('cholesky') && ops.includes('gemm'), 'without cuSOLVER, cholesky is not a GPU op');
    const pool = createGpuKernelPool({ device, registry });
    assert.equal(pool.threads, 1);
    const a = f64([2, 2], [1, 2, 3, 4]);
    const [g, c, q] = await Promise.all([pool.run('gemm', {}, [a, a]), pool.run('cholesky', {}, [f64([2, 2], [4, 2, 2, 3])]), pool.run('qr', {}, [a])]);
    assert.equal(g.backend, 'gpu');
    assert.deepEqual([...(g.outputs[0] as NdArray).data], [7, 10, 15, 22]);
    assert.equal(c.backend, 'reference');
    assert.equal(q.backend, 'reference');
    const graph = [i32([0, 1, 2]), i32([1, 0]), f64([2], [0.25, 0.25])];
    const walk = { seed: 3, walks: 4, pHalt: 0.5, f: [1, 0.5, 0.25], streams: [0], nodeStart: 0, nodeEnd: 2 };
    const onGpu = await pool.run('grf-walks', { ...walk, variance: 'antithetic' }, graph);
    const repel = await pool.run('grf-walks', { ...walk, variance: 'repelling' }, graph);
    assert.equal(onGpu.backend, 'gpu');
    assert.equal(repel.backend, 'reference', 'repelling is declined by the GPU kernel');
    assert.deepEqual(
      onGpu.outputs.map((o) => [...o.data]),
      grfWalksOp.reference(grfWalksOp.parseAttrs({ ...walk, variance: 'antithetic' }), graph).map((o) => [...o.data]),
    );
    await assert.rejects(pool.run('gemm', {}, [a, f64([3, 1], [1, 2, 3])]), (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_SHAPE_MISMATCH');
    await assert.rejects(pool.run('no-such-op', {}, []), (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_UNKNOWN_OP');
    assert.equal(device.allocator.stats().liveBytes, 0);
    await pool.close();
    assert.equal(device.allocator.stats().cachedBytes, 0, 'close released the cached device blocks');
    await assert.rejects(pool.run('gemm', {}, [a, a]), (e: unknown) => isGramfleetError(e) && e.code === 'WORKER_DRAINING');
  });
});
