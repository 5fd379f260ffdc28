/**
 * Runs `kernel-rows-matmul` as `kernel-block-matmul` on rows gathered on the worker's main
 * thread. The op's inputs name every resident row block of X (hundreds of MB for 60k × 784
 * features); handing them to a kernel thread would copy them all per task, where the gathered
 * m×d batch is all the kernel reads. Same validation and results as the op's own kernel.
 */
import { KERNEL_BLOCK_MATMUL_OP_ID, KERNEL_ROWS_MATMUL_OP_ID, kernelRowsMatmulInputs, kernelRowsMatmulOp, type NdArray } from '@gramfleet/core';
import type { KernelPool, KernelRun, KernelTaskContext } from './pool';

/** Wraps `pool` so `kernel-rows-matmul` tasks gather their rows before reaching a thread. */
export function withHostGather(pool: KernelPool): KernelPool {
  return {
    threads: pool.threads,
    close: () => pool.close(),
    ...(pool.runRows !== undefined ? { runRows: pool.runRows.bind(pool) } : {}),
    async run(op: string, attrs: unknown, inputs: NdArray[], keys?: readonly string[], task?: KernelTaskContext): Promise<KernelRun> {
      if (op !== KERNEL_ROWS_MATMUL_OP_ID) return pool.run(op, attrs, inputs, keys, task);
      const a = kernelRowsMatmulOp.parseAttrs(attrs);
      return pool.run(
        KERNEL_BLOCK_MATMUL_OP_ID,
        { kernel: a.kernel, bandwidth: a.bandwidth, accumulate: a.accumulate },
        kernelRowsMatmulInputs(inputs),
        undefined,
        task,
      );
    },
  };
}
