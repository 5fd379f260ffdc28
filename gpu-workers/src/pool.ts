/**
 * The GPU worker's kernel pool (the `KernelPool` the shared worker runtime drives): shards run
 * one at a time on the device's stream, in this process's event loop (waiting polls the
 * stream, so heartbeats continue). An op without a GPU kernel, or attributes a GPU kernel
 * declines, run on the float64 reference, and the shard's stats say `reference`.
 */
import { GramfleetError, OPS, isGramfleetError, type KernelRegistry, type NdArray } from '@gramfleet/core';
import type { KernelPool, KernelRun } from '@gramfleet/workers';
import type { GpuDevice } from './device';
import { GPU_DECLINES } from './kernels/register-all';

/** Options of {@link createGpuKernelPool}. */
export interface GpuKernelPoolOptions {
  readonly device: GpuDevice;
  /** Holds the `'gpu'` kernels and the `'reference'` ones. */
  readonly registry: KernelRegistry;
}

/** Creates the pool. */
export function createGpuKernelPool(o: GpuKernelPoolOptions): KernelPool {
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;
  const backendFor = (op: string, attrs: unknown): string => {
    if (!o.registry.has('gpu', op)) return 'reference';
    return GPU_DECLINES[op]?.(attrs) === undefined ? 'gpu' : 'reference';
  };
  async function runOne(opId: string, rawAttrs: unknown, inputs: NdArray[]): Promise<KernelRun> {
    const op = OPS.get(opId);
    const attrs = op.parseAttrs(rawAttrs);
    op.checkInputs(attrs, inputs);
    const backend = backendFor(opId, attrs);
    const t0 = performance.now();
    try {
      const outputs = await o.registry.get(backend, opId)(attrs, inputs, {});
      return { outputs, backend: backend === 'gpu' && o.device.tf32 ? 'gpu-tf32' : backend, computeMs: performance.now() - t0 };
    } catch (e) {
      if (isGramfleetError(e)) throw e;
      throw new GramfleetError('GPU_CUDA_ERROR', `gpu kernel ${opId} failed: ${(e as Error).message}`, { op: opId });
    }
  }
  return {
    threads: 1,
    run(op: string, attrs: unknown, inputs: NdArray[]): Promise<KernelRun> {
      if (closed) return Promise.reject(new GramfleetError('WORKER_DRAINING', 'gpu kernel pool is closed'));
      const r = chain.then(() => runOne(op, attrs, inputs));
      chain = r.catch(() => undefined);
      return r;
    },
    async close(): Promise<void> {
      closed = true;
      await chain;
      o.device.close();
    },
  };
}
