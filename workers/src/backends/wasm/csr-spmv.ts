/**
 * wasm kernel for `csr-spmv` (`gf_csr_spmv_rows`: row-wise CSR product over arrays the op has
 * already validated; `gf_csr_spmv` is the self-validating entry for callers that have not).
 */
import { csrSpmvOp, csrSpmvProblem, type CsrSpmvAttrs, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import { allocBytes, callDense, putArray, type DenseArenaSource } from './dense-host';

/** Builds the wasm `csr-spmv` kernel over arenas from `arenaOf`. */
export function createCsrSpmvKernel(arenaOf: DenseArenaSource): KernelImpl<CsrSpmvAttrs> {
  return (attrs: CsrSpmvAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const p = csrSpmvProblem(attrs, inputs);
    const arena = arenaOf();
    const ip = putArray(arena, (inputs[0] as NdArray).data as Int32Array);
    const ix = putArray(arena, (inputs[1] as NdArray).data as Int32Array);
    const dv = putArray(arena, (inputs[2] as NdArray).data as Float64Array);
    const x = putArray(arena, (inputs[3] as NdArray).data as Float64Array);
    const yIn = inputs[4];
    const y = yIn !== undefined ? putArray(arena, yIn.data as Float64Array) : allocBytes(arena, p.m * 8);
    // csrSpmvProblem validated indptr and every index, so the unchecked row kernel is safe.
    callDense(arena, csrSpmvOp.id, 'gf_csr_spmv_rows', [0, p.m, p.n, ip, ix, dv, attrs.alpha, x, 0, 1, p.hasY ? attrs.beta : 0, y, 0, 1], 'indices');
    return [{ dtype: 'f64', shape: [p.m], data: arena.f64(y, p.m).slice() }];
  };
}

/** Registers the wasm `csr-spmv` kernel. */
export function registerCsrSpmvWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registry.register('wasm', csrSpmvOp, createCsrSpmvKernel(arenaOf));
}
