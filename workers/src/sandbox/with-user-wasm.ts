/**
 * Routes the `user-wasm` op to the sandbox and every other op to the kernel pool, so a worker
 * serves both through one `KernelPool`. It should be the outermost wrapper (the task context
 * reaches it straight from the runtime).
 */
import { USER_WASM_OP, type NdArray } from '@gramfleet/core';
import type { KernelPool, KernelRun, KernelTaskContext } from '../pool';
import type { Sandbox } from './sandbox';

/** A pool that also runs users' WebAssembly kernels in `sandbox`. */
export function withUserWasm(pool: KernelPool, sandbox: Sandbox): KernelPool {
  return {
    threads: pool.threads,
    ...(pool.runRows !== undefined ? { runRows: pool.runRows.bind(pool) } : {}),
    async run(op: string, attrs: unknown, inputs: NdArray[], keys?: readonly string[], task?: KernelTaskContext): Promise<KernelRun> {
      if (op !== USER_WASM_OP) return pool.run(op, attrs, inputs, keys, task);
      // keys[0] is the module's content digest, checked against the bytes by the store that read them.
      const r = await sandbox.run((attrs ?? {}) as Record<string, unknown>, inputs, keys?.[0], task);
      return { outputs: [{ dtype: 'f64', shape: [r.output.length], data: r.output }], backend: 'wasm-user', computeMs: r.computeMs };
    },
    async close(): Promise<void> {
      await sandbox.close();
      await pool.close();
    },
  };
}
