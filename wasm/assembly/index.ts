// Entry of the kernel module. Every kernel file is re-exported here explicitly.
// Kernels take raw pointers (usize), sizes and strides, return an i32 status
// (0 = ok, see status.ts) and never allocate: the host owns all memory.

/** First byte the host may use for its own allocations. */
export function gf_heap_base(): usize {
  return __heap_base;
}

export { gf_grf_walks, gf_grf_walks_repelling } from './kernels/grf-walks';
// kernel library: factorisations, eigensolvers, mode product
export { gf_cholesky, gf_cholesky_ws } from './kernels/cholesky';
export { gf_cholesky_solve_rows } from './kernels/cholesky-solve'; // EigenPro 3 projection solves (no FMA: same bits in both builds)
export { gf_triangular_solve } from './kernels/triangular-solve';
export { gf_eigh, gf_eigh_work_bytes } from './kernels/eigh';
export { gf_eigh_topk, gf_eigh_topk_work_bytes } from './kernels/eigh-topk';
export { gf_qr, gf_qr_work_bytes } from './kernels/qr';
export { gf_mode_product, gf_mode_product_work_bytes } from './kernels/mode-product';
export { gf_eig_small, gf_eig_small_work_bytes } from './kernels/eig-small';
// end kernel library: factorisations
// kernel library: dense and sparse kernels
export { gf_fma_build, gf_gemm, gf_gemm_workspace_bytes } from './kernels/gemm';
export { gf_gemv } from './kernels/gemv';
export { gf_gemm_batched } from './kernels/gemm-batched';
export { gf_gemm_f32, gf_gemm_f32_workspace_bytes } from './kernels/gemm-f32'; // gemm with accumulate: 'f32'
export { gf_kernel_block, gf_kernel_block_matmul, gf_kernel_block_workspace_bytes } from './kernels/kernel-block';
export { gf_kernel_block_f32, gf_kernel_block_matmul_f32, gf_kernel_block_matmul_f32_workspace_bytes } from './kernels/kernel-block-f32';
export { gf_kernel_block_u8, gf_kernel_block_u8_workspace_bytes } from './kernels/kernel-block-u8'; // the kernel-row cache's rows of byte features (exact i32 distances)
export { gf_f32_rows_matmul, gf_f32_rows_matmul_workspace_bytes } from './kernels/f32-rows-matmul';
export { gf_f32_transpose } from './kernels/f32-transpose'; // the kernel-row cache's mirror entries (copies: same bits in both builds)
export { gf_csr_spmv, gf_csr_spmv_rows } from './kernels/csr-spmv';
export { gf_csr_spmm } from './kernels/csr-spmm';
export { gf_csr_transpose } from './kernels/csr-transpose';
export { gf_csr_from_triplets, gf_csr_from_triplets_workspace_bytes } from './kernels/csr-from-triplets';
// end kernel library: dense and sparse kernels
export { gf_krylov_combine, gf_krylov_gram, gf_krylov_mgs } from './kernels/krylov'; // datagen: Krylov basis products (no FMA: same bits in both builds)
