/**
 * The op catalogue: every op gramfleet knows, by wire name. Adding an op = one file in
 * this folder plus one line here (see CONTRIBUTING.md).
 */
import { createOpCatalogue, type AnyOpDef, type OpCatalogue } from './types';
// kernel library: dense and sparse kernels
import { csrFromTripletsOp } from './csr-from-triplets';
import { csrSpmmOp } from './csr-spmm';
import { csrSpmvOp } from './csr-spmv';
import { csrTransposeOp } from './csr-transpose';
import { gemmOp } from './gemm';
import { gemmBatchedOp } from './gemm-batched';
import { gemvOp } from './gemv';
import { kernelBlockMatmulOp, kernelBlockOp } from './kernel-block';
import { grfWalksOp } from './grf-walks';
// kernel library: factorisations, eigensolvers, mode product
import { choleskyOp } from './cholesky';
import { eigSmallOp } from './eig-small';
import { eighOp } from './eigh';
import { eighTopkOp } from './eigh-topk';
import { modeProductOp } from './mode-product';
import { qrOp } from './qr';
import { triangularSolveOp } from './triangular-solve';
// Kronecker GP shard ops
import { kronFactorOp, kronGpSolveOp, kronSlabOp } from './kron-gp';
// krylov-recycled data generation
import { datagenSolveOp } from './datagen-solve';
// EigenPro: kernel products on resident row blocks
import { kernelRowsMatmulOp } from './kernel-rows-matmul';

const ALL_OPS: readonly AnyOpDef[] = [
  grfWalksOp,
  // kernel library: dense and sparse kernels
  gemmOp,
  gemvOp,
  gemmBatchedOp,
  kernelBlockOp,
  kernelBlockMatmulOp,
  csrSpmvOp,
  csrSpmmOp,
  csrTransposeOp,
  csrFromTripletsOp,
  // kernel library: factorisations, eigensolvers, mode product
  choleskyOp,
  triangularSolveOp,
  qrOp,
  eighOp,
  eighTopkOp,
  modeProductOp,
  eigSmallOp,
  // Kronecker GP shard ops
  kronFactorOp,
  kronSlabOp,
  kronGpSolveOp,
  // krylov-recycled data generation
  datagenSolveOp,
  // EigenPro: kernel products on resident row blocks
  kernelRowsMatmulOp,
];

/** Every op, by id. */
export const OPS: OpCatalogue = createOpCatalogue(ALL_OPS);
