// Internal entry of @gramfleet/core (`@gramfleet/core/internal`), for the test suites,
// benchmarks and scripts only: the float64 references and numerics they check the cluster
// against, and helpers no other package needs. Not part of the public API. Explicit exports only.
export { envVars } from './env';
export { taskMsgId } from './protocol';
export type { AnyOpDef } from './ops/types';
export { philox4x32 } from './rng/philox';
export { walkLengthCap } from './grf/kernels';
export { csrFromEdges } from './grf/sparse';
export { grfFeatures } from './grf/estimators';
export { choleskyReference } from './ops/cholesky';
export { eigSmallCore } from './ops/eig-small-core';
export { kernelOfSquaredDistance } from './ops/kernel-block';
export { kernelValue } from './kron/kernels';
export { referenceKronLinalg } from './kron/tensor';
export type { KronFactorMatrix } from './kron/tensor';
export { solveKron } from './kron/gp';
export { fitKron } from './kron/optimize';
export { oneHot } from './eigenpro/train';
export { createReferenceCompute, kernelMatmulReference } from './eigenpro/reference';
export { trainEigenPro3Reference } from './eigenpro/ep3';
export { buildPreconditioner } from './datagen/precond';
export { nnzRanges, planOpShards } from './ops/shard-plan';
export { jsKrylovDense } from './datagen/krylov-dense';
