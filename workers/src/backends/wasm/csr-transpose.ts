/**
 * wasm kernel for `csr-transpose` (`gf_csr_transpose`: counting sort by column).
 */
import { csrTransposeOp, type CsrTransposeAttrs, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import { allocBytes, callDense, putArray, type DenseArenaSource } from './dense-host';

/** Builds the wasm `csr-transpose` kernel over arenas from `arenaOf`. */
export function createCsrTransposeKernel(arenaOf: DenseArenaSource): KernelImpl<CsrTransposeAttrs> {
  return (attrs: CsrTransposeAttrs, inputs: readonly NdArray[]): NdArray[] => {
    csrTransposeOp.checkInputs(attrs, inputs);
    const ipIn = (inputs[0] as NdArray).data as Int32Array;
    const m = ipIn.length - 1;
    const nnz = (inputs[1] as NdArray).data.length;
    const n = attrs.n;
    const arena = arenaOf();
    const ip = putArray(arena, ipIn);
    const ix = putArray(arena, (inputs[1] as NdArray).data as Int32Array);
    const dv = putArray(arena, (inputs[2] as NdArray).data as Float64Array);
    const tp = allocBytes(arena, (n + 1) * 4);
    const ti = allocBytes(arena, nnz * 4);
    const tv = allocBytes(arena, nnz * 8);
    callDense(arena, csrTransposeOp.id, 'gf_csr_transpose', [m, n, nnz, ip, ix, dv, tp, ti, tv], 'indices');
    return [
      { dtype: 'i32', shape: [n + 1], data: arena.i32(tp, n + 1).slice() },
      { dtype: 'i32', shape: [nnz], data: arena.i32(ti, nnz).slice() },
      { dtype: 'f64', shape: [nnz], data: arena.f64(tv, nnz).slice() },
    ];
  };
}

/** Registers the wasm `csr-transpose` kernel. */
export function registerCsrTransposeWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registry.register('wasm', csrTransposeOp, createCsrTransposeKernel(arenaOf));
}
