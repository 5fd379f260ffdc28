/**
 * wasm kernel for `csr-from-triplets` (`gf_csr_from_triplets`: two stable counting sorts, then
 * duplicates merged in place).
 */
import { csrFromTripletsOp, type CsrFromTripletsAttrs, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import { allocBytes, callDense, putArray, type DenseArenaSource } from './dense-host';

/** Builds the wasm `csr-from-triplets` kernel over arenas from `arenaOf`. */
export function createCsrFromTripletsKernel(arenaOf: DenseArenaSource): KernelImpl<CsrFromTripletsAttrs> {
  return (attrs: CsrFromTripletsAttrs, inputs: readonly NdArray[]): NdArray[] => {
    csrFromTripletsOp.checkInputs(attrs, inputs);
    const { m, n } = attrs;
    const nnz = (inputs[0] as NdArray).data.length;
    const arena = arenaOf();
    const r = putArray(arena, (inputs[0] as NdArray).data as Int32Array);
    const c = putArray(arena, (inputs[1] as NdArray).data as Int32Array);
    const v = putArray(arena, (inputs[2] as NdArray).data as Float64Array);
    const ip = allocBytes(arena, (m + 1) * 4);
    const ix = allocBytes(arena, nnz * 4);
    const dv = allocBytes(arena, nnz * 8);
    const cnt = allocBytes(arena, 8);
    const ws = allocBytes(arena, arena.fn('gf_csr_from_triplets_workspace_bytes')(m, n, nnz));
    callDense(arena, csrFromTripletsOp.id, 'gf_csr_from_triplets', [m, n, nnz, r, c, v, ip, ix, dv, cnt, ws], 'rows');
    const w = arena.i32(cnt, 1)[0] as number;
    return [
      { dtype: 'i32', shape: [m + 1], data: arena.i32(ip, m + 1).slice() },
      { dtype: 'i32', shape: [w], data: arena.i32(ix, w).slice() },
      { dtype: 'f64', shape: [w], data: arena.f64(dv, w).slice() },
    ];
  };
}

/** Registers the wasm `csr-from-triplets` kernel. */
export function registerCsrFromTripletsWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registry.register('wasm', csrFromTripletsOp, createCsrFromTripletsKernel(arenaOf));
}
