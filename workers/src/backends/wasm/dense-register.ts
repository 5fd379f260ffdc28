/**
 * Registers every wasm kernel of the dense and sparse kernel library (gemm, gemv,
 * gemm-batched, kernel-block, kernel-block-matmul, csr-spmv, csr-spmm, csr-transpose,
 * csr-from-triplets) — one call for register-all.ts.
 */
import type { KernelRegistry } from '@gramfleet/core';
import type { DenseArenaSource } from './dense-host';
import { registerCsrFromTripletsWasm } from './csr-from-triplets';
import { registerCsrSpmmWasm } from './csr-spmm';
import { registerCsrSpmvWasm } from './csr-spmv';
import { registerCsrTransposeWasm } from './csr-transpose';
import { registerGemmWasm } from './gemm';
import { registerGemmBatchedWasm } from './gemm-batched';
import { registerGemvWasm } from './gemv';
import { registerKernelBlockWasm } from './kernel-block';

/** Registers the dense and sparse wasm kernels over arenas from `arenaOf`. */
export function registerDenseSparseWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registerGemmWasm(registry, arenaOf);
  registerGemvWasm(registry, arenaOf);
  registerGemmBatchedWasm(registry, arenaOf);
  registerKernelBlockWasm(registry, arenaOf);
  registerCsrSpmvWasm(registry, arenaOf);
  registerCsrSpmmWasm(registry, arenaOf);
  registerCsrTransposeWasm(registry, arenaOf);
  registerCsrFromTripletsWasm(registry, arenaOf);
}
