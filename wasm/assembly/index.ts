// Entry of the kernel module. Every kernel file is re-exported here explicitly.
// Kernels take raw pointers (usize), sizes and strides, return an i32 status
// (0 = ok, see status.ts) and never allocate: the host owns all memory.

/** First byte the host may use for its own allocations. */
export function gf_heap_base(): usize {
  return __heap_base;
}

export { gf_grf_walks, gf_grf_walks_repelling } from './kernels/grf-walks';
// kernel library: factorisations, eigensolvers, mode product
export { gf_cholesky } from './kernels/cholesky';
export { gf_triangular_solve } from './kernels/triangular-solve';
// end kernel library: factorisations
