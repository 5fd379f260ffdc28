/**
 * Host-side helpers shared by the wasm factorisation and eigen kernels: copying arrays into
 * the arena, reading results back, and mapping the kernels' status codes to typed errors.
 */
import { GramfleetError } from '@gramfleet/core';
import type { WasmArena } from './arena';

/** Where a kernel gets its arena: the pool hands out a reset (or fresh, after a trap) instance. */
export type ArenaSource = () => WasmArena;

/** Status codes of the factorisation kernels (mirror of wasm/assembly/kernels/la-internal.ts). */
export const LA_STATUS = { OK: 0, NOT_SPD: 1, SINGULAR: 2, NO_CONVERGENCE: 3, BAD_ARGS: 4 } as const;

/** Copies `src` into a fresh arena allocation and returns its byte address. */
export function putF64(arena: WasmArena, src: Float64Array): number {
  return arena.put(src);
}

/** Allocates `n` zeroed f64 and returns the byte address. */
export function allocF64(arena: WasmArena, n: number): number {
  return arena.alloc(Math.max(n, 1) * 8, 64);
}

/** Copies `n` f64 out of the arena into an owned array. */
export function readF64(arena: WasmArena, ptr: number, n: number): Float64Array {
  return arena.f64(ptr, n).slice();
}

/** The i32 stored at `ptr`. */
export function readI32(arena: WasmArena, ptr: number): number {
  return arena.i32(ptr, 1)[0] as number;
}

/** The f64 stored at `ptr`. */
export function readF64At(arena: WasmArena, ptr: number): number {
  return arena.f64(ptr, 1)[0] as number;
}

/** A generic `KERNEL_STATUS` for codes a kernel should never return with validated input. */
export function unexpectedStatus(op: string, kernel: string, status: number): GramfleetError {
  return new GramfleetError('KERNEL_STATUS', `${op}: kernel ${kernel} returned status ${status}`, { op, export: kernel, status });
}
