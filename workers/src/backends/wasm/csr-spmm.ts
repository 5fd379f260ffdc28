/**
 * wasm kernel for `csr-spmm` (`gf_csr_spmm`: each row of C accumulates data·B[j, :] in f64x2).
 */
import { csrSpmmOp, csrSpmmProblem, type CsrSpmmAttrs, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import { allocBytes, callDense, putArray, type DenseArenaSource } from './dense-host';

/** Builds the wasm `csr-spmm` kernel over arenas from `arenaOf`. */
export function createCsrSpmmKernel(arenaOf: DenseArenaSource): KernelImpl<CsrSpmmAttrs> {
  return (attrs: CsrSpmmAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const p = csrSpmmProblem(attrs, inputs);
    const arena = arenaOf();
    const ip = putArray(arena, (inputs[0] as NdArray).data as Int32Array);
    const ix = putArray(arena, (inputs[1] as NdArray).data as Int32Array);
    const dv = putArray(arena, (inputs[2] as NdArray).data as Float64Array);
    const b = putArray(arena, (inputs[3] as NdArray).data as Float64Array);
    const cIn = inputs[4];
    const c = cIn !== undefined ? putArray(arena, cIn.data as Float64Array) : allocBytes(arena, p.m * p.n * 8);
    const ld = Math.max(1, p.n);
    callDense(arena, csrSpmmOp.id, 'gf_csr_spmm', [p.m, p.k, p.n, p.nnz, ip, ix, dv, attrs.alpha, b, 0, ld, p.hasC ? attrs.beta : 0, c, 0, ld], 'indices');
    return [{ dtype: 'f64', shape: [p.m, p.n], data: arena.f64(c, p.m * p.n).slice() }];
  };
}

/** Registers the wasm `csr-spmm` kernel. */
export function registerCsrSpmmWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registry.register('wasm', csrSpmmOp, createCsrSpmmKernel(arenaOf));
}
