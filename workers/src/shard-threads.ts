/**
 * Multi-core shards: a {@link KernelPool} whose big ops (`gemm`, `kernel-block`, `csr-spmv`)
 * run on every core the worker owns — split by rows over worker_threads sharing one
 * `WebAssembly.Memory` (backend `'wasm-mt'`, `backends/wasm/parallel.ts`) — while every other
 * op runs on the ordinary pool. A worker started with `GRAMFLEET_THREADS=1` and
 * `GRAMFLEET_THREADS_PER_SHARD=N` therefore runs one shard at a time over N threads.
 */
import { GramfleetError, KERNEL_BLOCK_OP_ID, OPS, createKernelRegistry, isGramfleetError, type NdArray } from '@gramfleet/core';
import { createParallelKernels, registerParallelWasm, type ParallelKernels } from './backends/wasm/parallel';
import type { KernelPool, KernelRun, KernelTaskContext } from './pool';

/** Backend name of the multi-core kernels. */
export const MULTI_CORE_BACKEND = 'wasm-mt';

/** Options of {@link createShardThreadsPool}. */
export interface ShardThreadsOptions {
  /** The kernel module binary (plain or FMA build) the threads instantiate over shared memory. */
  readonly wasm: Uint8Array;
  /** Threads one shard's big op is split over (the cores the worker owns). Must be ≥ 2. */
  readonly threadsPerShard: number;
  /** Upper bound on the shared memory, in bytes. @default 2 GiB */
  readonly maxBytes?: number;
  /** Runs every op the multi-core backend does not have. */
  readonly fallback: KernelPool;
}

/** A pool that runs multi-core ops over shared memory and the rest on `fallback`. */
export async function createShardThreadsPool(o: ShardThreadsOptions): Promise<KernelPool> {
  if (!Number.isInteger(o.threadsPerShard) || o.threadsPerShard < 2) {
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `threadsPerShard must be an integer ≥ 2, got ${o.threadsPerShard}`, {
      argument: 'threadsPerShard',
      bound: 2,
    });
  }
  const pk: ParallelKernels = await createParallelKernels(o.wasm, {
    threads: o.threadsPerShard,
    ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}),
  });
  const registry = createKernelRegistry();
  registerParallelWasm(registry, pk, MULTI_CORE_BACKEND);
  return {
    threads: o.fallback.threads,
    ...(o.fallback.runRows !== undefined ? { runRows: o.fallback.runRows.bind(o.fallback) } : {}),
    async run(op: string, attrs: unknown, inputs: NdArray[], keys?: readonly string[], task?: KernelTaskContext): Promise<KernelRun> {
      // The multi-core kernel-block has no f32 path: `accumulate: 'f32'` runs on one thread.
      const f32Block = op === KERNEL_BLOCK_OP_ID && (attrs as { accumulate?: unknown } | null)?.accumulate === 'f32';
      if (!registry.has(MULTI_CORE_BACKEND, op) || f32Block) return await o.fallback.run(op, attrs, inputs, keys, task);
      try {
        const def = OPS.get(op);
        const parsed = def.parseAttrs(attrs);
        def.checkInputs(parsed, inputs);
        const t0 = performance.now();
        const outputs = await registry.get(MULTI_CORE_BACKEND, op)(parsed, inputs, {});
        return { outputs, backend: MULTI_CORE_BACKEND, computeMs: performance.now() - t0 };
      } catch (e) {
        if (isGramfleetError(e)) throw e;
        throw new GramfleetError('KERNEL_TRAP', `kernel ${op} failed on ${MULTI_CORE_BACKEND}: ${(e as Error).message}`);
      }
    },
    async close(): Promise<void> {
      await o.fallback.close();
      await pk.close();
    },
  };
}
