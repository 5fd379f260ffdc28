/**
 * wasm kernel for `eigh`: blocked Householder tridiagonalisation, divide and conquer on the
 * tridiagonal (QL on blocks of ≤ 32 rows, merges by the secular equation and GEMM), blocked
 * back-transform (`gf_eigh`).
 */
import { eighOp, noConvergence, normaliseEigenvectorSigns, type EighAttrs, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import type { WasmArena } from './arena';
import { LA_STATUS, allocF64, putF64, readF64, readI32, unexpectedStatus, type ArenaSource } from './linalg-host';

/**
 * Runs `gf_eigh` on the n×n row-major `a` in `arena`; returns ascending eigenvalues and the
 * eigenvector matrix (columns), signs normalised. Shared with `eigh-topk`'s host.
 */
export function eighInArena(arena: WasmArena, n: number, a: Float64Array): { w: Float64Array; v: Float64Array } {
  const mark = arena.mark();
  try {
    const pa = putF64(arena, a);
    const pw = allocF64(arena, n);
    const pv = allocF64(arena, n * n);
    const work = arena.alloc(arena.call('gf_eigh_work_bytes', n), 64);
    const info = allocF64(arena, 1);
    const s = arena.call('gf_eigh', n, pa, Math.max(n, 1), pw, pv, Math.max(n, 1), work, info);
    if (s === LA_STATUS.NO_CONVERGENCE)
      throw noConvergence(eighOp.id, `QL or secular-equation iteration for eigenvalue ${readI32(arena, info)}`, { eigenvalue: readI32(arena, info) });
    if (s !== LA_STATUS.OK) throw unexpectedStatus(eighOp.id, 'gf_eigh', s);
    const v = readF64(arena, pv, n * n);
    normaliseEigenvectorSigns(n, n, v);
    return { w: readF64(arena, pw, n), v };
  } finally {
    arena.release(mark);
  }
}

/** Builds the wasm `eigh` kernel over arenas from `arenaOf`. */
export function createEighKernel(arenaOf: ArenaSource): KernelImpl<EighAttrs> {
  return (_attrs: EighAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const a = inputs[0] as NdArray<'f64'>;
    const n = a.shape[0] as number;
    const { w, v } = eighInArena(arenaOf(), n, a.data);
    return [
      { dtype: 'f64', shape: [n], data: w },
      { dtype: 'f64', shape: [n, n], data: v },
    ];
  };
}

/** Registers the wasm `eigh` kernel. */
export function registerEighWasm(registry: KernelRegistry, arenaOf: ArenaSource): void {
  registry.register('wasm', eighOp, createEighKernel(arenaOf));
}
