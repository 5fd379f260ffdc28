/**
 * wasm kernel for `cholesky`: blocked right-looking lower Cholesky with packed-GEMM trailing updates (`gf_cholesky_ws`).
 */
import { choleskyOp, notPositiveDefinite, type CholeskyAttrs, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import { LA_STATUS, allocF64, putF64, readF64, readF64At, readI32, unexpectedStatus, type ArenaSource } from './linalg-host';

/** Builds the wasm `cholesky` kernel over arenas from `arenaOf`. */
export function createCholeskyKernel(arenaOf: ArenaSource): KernelImpl<CholeskyAttrs> {
  return (_attrs: CholeskyAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const a = inputs[0] as NdArray<'f64'>;
    const n = a.shape[0] as number;
    const arena = arenaOf();
    const pa = putF64(arena, a.data);
    const info = allocF64(arena, 2);
    const work = arena.alloc(arena.call('gf_gemm_workspace_bytes'));
    const s = arena.call('gf_cholesky_ws', n, pa, Math.max(n, 1), info, work);
    if (s === LA_STATUS.NOT_SPD) throw notPositiveDefinite(choleskyOp.id, 'a', readI32(arena, info), readF64At(arena, info + 8));
    if (s !== LA_STATUS.OK) throw unexpectedStatus(choleskyOp.id, 'gf_cholesky_ws', s);
    return [{ dtype: 'f64', shape: [n, n], data: readF64(arena, pa, n * n) }];
  };
}

/** Registers the wasm `cholesky` kernel. */
export function registerCholeskyWasm(registry: KernelRegistry, arenaOf: ArenaSource): void {
  registry.register('wasm', choleskyOp, createCholeskyKernel(arenaOf));
}
