/**
 * Host-side helpers shared by the wasm dense and sparse kernels (gemm, gemv, gemm-batched,
 * kernel-block, csr-*): the arena source, status codes and their mapping to typed errors.
 */
import { GramfleetError } from '@gramfleet/core';
import type { WasmArena } from './arena';

/** Where a kernel gets its arena: the pool hands out a reset (or fresh, after a trap) instance. */
export type DenseArenaSource = () => WasmArena;

/** Status codes of the dense/sparse kernels (mirror of wasm/assembly/kernels/gemm.ts). */
export const DENSE_STATUS = { OK: 0, BAD_SIZE: 1, BAD_LD: 2, BAD_INDEX: 3, BAD_ATTR: 4, WORKSPACE: 5, BAD_BANDWIDTH: 6 } as const;

/**
 * Maps a non-zero kernel status to a typed error. Validated input never produces one except
 * through a bug, so sizes map to `KERNEL_STATUS`; index and bandwidth statuses name the argument.
 */
export function denseStatusError(op: string, kernel: string, status: number, argument?: string): GramfleetError {
  if (status === DENSE_STATUS.BAD_INDEX) {
    const arg = argument ?? 'indices';
    return new GramfleetError('INPUT_OUT_OF_RANGE', `${op}: ${arg} holds an index out of range (kernel ${kernel})`, {
      op,
      argument: arg,
      export: kernel,
      status,
    });
  }
  if (status === DENSE_STATUS.BAD_BANDWIDTH) {
    return new GramfleetError('INPUT_OUT_OF_RANGE', `${op}: bandwidth must be finite and > 0 (kernel ${kernel})`, {
      op,
      argument: 'bandwidth',
      export: kernel,
      status,
    });
  }
  return new GramfleetError('KERNEL_STATUS', `${op}: kernel ${kernel} returned status ${status}`, {
    op,
    export: kernel,
    status,
    ...(argument !== undefined ? { argument } : {}),
  });
}

/** Calls a kernel export and throws the mapped error on a non-zero status. */
export function callDense(arena: WasmArena, op: string, kernel: string, args: readonly number[], argument?: string): void {
  const s = arena.call(kernel, ...args);
  if (s !== DENSE_STATUS.OK) throw denseStatusError(op, kernel, s, argument);
}

/** Allocates at least one byte (so empty arrays still get a valid pointer); zeroed unless `zero` is false. */
export function allocBytes(arena: WasmArena, bytes: number, zero = true): number {
  return arena.alloc(Math.max(bytes, 8), 64, zero);
}

/** Copies an array into the arena (an empty one gets a valid dummy pointer). */
export function putArray(arena: WasmArena, a: Float64Array | Float32Array | Int32Array | Uint8Array): number {
  return a.length === 0 ? arena.alloc(8, 64) : arena.put(a);
}
