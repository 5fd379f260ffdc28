// Public entry of @gramfleet/core: pure, workflow-safe contracts. Explicit exports only.
export { ERROR_CODES, GramfleetError, isErrorCode, isGramfleetError, outOfRange, invalidField } from './errors';
export {
  DATA_PLANE_ENV, HEALTH_PORT_ENV, HOST_PORT_PATTERN, LOG_LEVELS, LOG_LEVEL_ENV, PREFIX_ENV, PREFIX_PATTERN, TASK_QUEUE_ENV, TEMPORAL_ADDRESS_ENV, TEMPORAL_NAMESPACE_ENV,
  envChoice, envFlag, envGroup, envInt, envInvalid, envList, envOutOfRange, envRaw, envRequired, envString, envVars, parseEnvInt, parseEnvNumber, readEnv,
} from './env';
export type { Env, EnvField, EnvSpec, EnvValues, EnvVarDoc } from './env';
export type { ErrorCode, ErrorPayload } from './errors';
export { checkJobId, editDistance, int, nearestName, num, obj, oneOf, str } from './validate';
export { INLINE_ARRAY_MAX_BYTES, TREE_DIGEST_PREFIX, TREE_LEAF_BYTES, allocTyped, dataBytes, decodeNpy, dtypeSize, encodeNpy, isTreeDigest, ndarray, npyHeader, shapeSize, treeLeafCount } from './array';
export type { AnyTypedArray, ArrayPatch, ArrayRef, CsrArrays, CsrRef, DType, NdArray, TypedArrayOf } from './array';
export { barabasiAlbert, canonicaliseCsr, csrBytes, csrFromTriplets, gridGraph, rmat, symmetrise, validateGraph } from './graph';
export type { CsrFromTripletsOptions, DuplicatePolicy, GraphSummary, SymmetriseMode, ValidateGraphOptions } from './graph';
export {
  PROTOCOL_VERSION, WORKER_CLASSES, allResultsFilter, allTasksFilter, cancelSubject, consumerName, isSubjectToken,
  jobResultsFilter, jobTasksFilter, laneSubject, ownerSubject, spilledTaskMsgId, taskKey, pinToken, resourceNames, resultMsgId, resultSubject, taskFilter, taskMsgId, taskSubject,
} from './protocol';
export type { LaneFrame, ReplyFrame, ResourceNames, Task, TaskResult, TaskStats, WorkerClass, WorkerRecord } from './protocol';
export { createKernelRegistry, createOpCatalogue } from './ops/types';
export { OPS } from './ops/catalogue';
export { silentLogger } from './log';
export type { Logger } from './log';
export type { AnyOpDef, KernelContext, KernelImpl, KernelRegistry, OpCatalogue, OpDef } from './ops/types';
// --- graph random features (owned by the GRF numerics work) ---
export { Philox, TWO_POW_M53, mulhi32, philox4x32, seedKey, u53 } from './rng/philox';
export {
  GRAPH_KERNEL_KINDS, MAX_WALK_STEPS, SURVIVAL_EPS, checkVarianceBound, kernelAlpha, modulation, modulationFromAlpha,
  parseKernelSpec, walkLengthCap,
} from './grf/kernels';
export type { GraphKernelSpec } from './grf/kernels';
export { normalisedWeights } from './grf/normalise';
export { csrFromEdges, csrSpmm, csrSpmv, csrTranspose, csrVstack, csrWithValues } from './grf/sparse';
export { applyExactKernel, exactKernelDense, truncatedAlpha } from './grf/exact';
export type { ExactKernelOptions } from './grf/exact';
export {
  applyKhat, csrOutputs, grfFeatures, heldOutAccuracy, khatDense, labelSpreadingAccuracy, oneHotTrain, relFrobError, seededSubset,
} from './grf/estimators';
export type { GrfFeatureOptions } from './grf/estimators';
export {
  GRF_MAX_WALKS, GRF_VARIANCE_MODES, checkGrfWalksInputs, effectiveSteps, grfWalkRowsReference, grfWalksOp, parseGrfWalksAttrs,
} from './ops/grf-walks';
export type { GrfGraph, GrfRows, GrfVariance, GrfWalksAttrs } from './ops/grf-walks';
// --- kernel library (owned by the kernel-library work) ---
// kernel library: factorisations, eigensolvers, mode product
export { attrRecord, boolAttr, expectInputCount, frobenius, inputAt, matrix, matrixInput, noConvergence, notPositiveDefinite, requireFiniteF64, requireSymmetric, singularTriangle, squareInput, vector } from './ops/linalg-common';
export type { MatrixView } from './ops/linalg-common';
export { CHOLESKY_OP_ID, choleskyOp, choleskyReference } from './ops/cholesky';
export type { CholeskyAttrs } from './ops/cholesky';
export { TRIANGULAR_SOLVE_OP_ID, triangularSolveOp, triangularSolveReference, triangularSolveShape } from './ops/triangular-solve';
export type { TriangularSolveAttrs, TriangularSolveShape } from './ops/triangular-solve';
export { EIGH_OP_ID, eighOp, eighReference, normaliseEigenvectorSigns, parseSymmetryTol } from './ops/eigh';
export type { EighAttrs } from './ops/eigh';
export { EIGH_TOPK_OP_ID, eighTopkOp, eighTopkReference, topkBlockSize } from './ops/eigh-topk';
export type { EighTopkAttrs } from './ops/eigh-topk';
export { QR_OP_ID, qrOp, qrReference } from './ops/qr';
export type { QrAttrs } from './ops/qr';
export { MODE_PRODUCT_OP_ID, modeProductOp, modeProductReference, modeProductShape } from './ops/mode-product';
export type { ModeProductAttrs, ModeProductShape } from './ops/mode-product';
export { EIG_SMALL_MAX_ORDER, EIG_SMALL_OP_ID, eigSmallNoConvergence, eigSmallOp, eigSmallShape, orderEigenpairs, singularB } from './ops/eig-small';
export type { EigSmallAttrs } from './ops/eig-small';
export { eigSmallCore } from './ops/eig-small-core';
export type { EigSmallCoreResult } from './ops/eig-small-core';
// end kernel library: factorisations
// kernel library: dense and sparse kernels
export { checkCsr, markFinite, requireFinite, stridedView } from './ops/dense-common';
export type { StridedView } from './ops/dense-common';
export { GEMM_OP_ID, gemmOp, gemmOutput, gemmProblem, gemmReferenceInto } from './ops/gemm';
export type { GemmAttrs, GemmProblem } from './ops/gemm';
export { GEMV_OP_ID, gemvOp, gemvProblem } from './ops/gemv';
export type { GemvAttrs, GemvProblem } from './ops/gemv';
export { GEMM_BATCHED_OP_ID, gemmBatchedOp, gemmBatchedProblem } from './ops/gemm-batched';
export type { GemmBatchedAttrs, GemmBatchedProblem } from './ops/gemm-batched';
export { KERNEL_BLOCK_MATMUL_OP_ID, KERNEL_ACCUMULATE, KERNEL_BLOCK_OP_ID, KERNEL_FUNCTIONS, accumulateAttr, cacheAttr, kernelBlockMatmulOp, kernelBlockOp, kernelBlockProblem, kernelBlockReference, kernelOfSquaredDistance } from './ops/kernel-block';
export type { KernelAccumulate, KernelBlockAttrs, KernelBlockProblem, KernelFunction } from './ops/kernel-block';
export { CSR_SPMV_OP_ID, csrSpmvOp, csrSpmvProblem } from './ops/csr-spmv';
export type { CsrSpmvAttrs, CsrSpmvProblem } from './ops/csr-spmv';
export { CSR_SPMM_OP_ID, csrSpmmOp, csrSpmmProblem } from './ops/csr-spmm';
export type { CsrSpmmAttrs, CsrSpmmProblem } from './ops/csr-spmm';
export { CSR_TRANSPOSE_OP_ID, csrTransposeOp } from './ops/csr-transpose';
export type { CsrTransposeAttrs } from './ops/csr-transpose';
export { CSR_FROM_TRIPLETS_OP_ID, csrFromTripletsOp } from './ops/csr-from-triplets';
export type { CsrFromTripletsAttrs } from './ops/csr-from-triplets';
// end kernel library: dense and sparse kernels
// --- workloads: the registry and each workload's definition ---
export { WORKLOAD_DEFS, compileWorkloadParams, isWorkloadKind, workloadDef, workloadKinds } from './registry';
export type { WorkloadKind } from './registry';
export { checkParamNames, checkRequiredParams, paramNames, withFieldPrefix } from './workload';
export type { ParamDoc, ParamDocs, WorkloadDef } from './workload';
export { GRF_WORKLOAD } from './grf/workload';
export type { GrfRunParams } from './grf/workload';
export { EIGENPRO_DATA_FIELDS, EIGENPRO_WORKLOAD, checkEigenProCenters } from './eigenpro/workload';
export { KRON_GP_WORKLOAD, KRON_VECTOR_FIELDS, compileKronJob } from './kron/workload';
export type { CompiledKronJob, KronJobOptions } from './kron/workload';
export { DATAGEN_WORKLOAD } from './datagen/workload';
export type { DatagenRunParams } from './datagen/workload';
// --- jobs (workflow contracts) ---
export { chunk, planRanges, shardId } from './jobs/shards';
export type { JobProgress, ShardBatchInput, ShardBatchOutput, ShardOutcome, ShardSpec } from './jobs/shards';
export { GRF_ESTIMATORS, GRF_VARIANCE, compileGrfParams, defaultShardNodes, grfBatchShards, grfBatches, grfShards } from './grf/job';
export type {
  CompiledGrfParams, GrfActivities, GrfAssembleBatchesInput, GrfAssembleInput, GrfAssembled, GrfBatchInput, GrfBatchOutput, GrfJobInput, GrfJobResult, GrfParams,
} from './grf/job';
export type { ClusterActivities } from './jobs/activities';
// --- GPU backend routing ---
export { BACKEND_CHOICES, gpuWorkersFor, parseBackendChoice, routeOp } from './jobs/routing';
export type { BackendChoice, RouteDecision } from './jobs/routing';
// --- Kronecker GP (issue 5) ---
export { KRON_KERNEL_KINDS, crossMatrix, kernelAtZero, kernelD2, kernelDLengthscale, kernelValue } from './kron/kernels';
export type { AxisKernel, KronKernelKind } from './kron/kernels';
export { forEachRow, kronMatvec, modeSplit, referenceKronLinalg } from './kron/tensor';
export type { KronFactorMatrix, KronLinalg } from './kron/tensor';
export { eigFactor, eigenBasis, factorMatrix, factorise, gridShape, predictKron, productEigenvalues, safeguards, solveKron } from './kron/gp';
export type { KronFactor, KronGradient, KronModel, KronPrediction, KronSafeguards, KronSolveResult } from './kron/gp';
export { solveKronCg } from './kron/cg';
export type { KronCgOptions, KronCgResult } from './kron/cg';
export { checkAxis, compileKronGp, kronMemoryBytes, parseKernelName, withHyper } from './kron/params';
export type { CompiledKronGp, KronGpParams } from './kron/params';
export { fitKron } from './kron/optimize';
export type { KronFitOptions, KronFitResult } from './kron/optimize';
export { GPHM_POISSON, POISSON_PROBLEMS, SINE_POISSON, secondDerivativeMatrix, solvePoissonGp } from './kron/pde';
export type { PoissonGpOptions, PoissonGpResult, PoissonProblem } from './kron/pde';
export { KRON_FACTOR_OP_ID, KRON_GP_SOLVE_OP_ID, KRON_SLAB_OP_ID, kronFactorOp, kronFactorRun, kronGpSolveOp, kronGpSolveRun, kronSlabOp, kronSlabRun, parseAxisKernel } from './ops/kron-gp';
export type { KronFactorAttrs, KronGpSolveAttrs, KronSlabAttrs, KronSlabStep } from './ops/kron-gp';
export { slabRanges } from './kron/job';
export { KRON_FACTOR_INFO, KRON_FACTOR_OUT, KRON_SOLVE_OUT, kronSlabLayout, kronSolveStatsLayout, readKronSolveStats } from './kron/layouts';
export type { KronSlabLayout, KronSolveStats, KronSolveStatsLayout } from './kron/layouts';
export type { KronActivities, KronCandidateResult, KronFinishInput, KronHyper, KronJobInput, KronJobResult, KronProgress, KronTransposeInput, KronTransposeOutput } from './kron/job';
// --- campaigns (owned by the campaign work) ---
export {
  CAMPAIGN_MAX_CONCURRENCY, CAMPAIGN_MAX_LIST_RUNS, CAMPAIGN_MAX_RUNS, campaignAttemptId, campaignRunAt, campaignRunId, checkCampaignId, compileCampaignSpec,
} from './campaign/spec';
export type { CampaignGrid, CampaignRetry, CampaignRunSpec, CampaignSpec, CompiledCampaignSpec } from './campaign/spec';
export {
  CAMPAIGN_PROGRESS_QUERY, CAMPAIGN_RUNNING_QUERY, CAMPAIGN_WORKFLOW, campaignRowKey, campaignRowsFilter, campaignTable,
} from './campaign/contract';
export type {
  CampaignActivities, CampaignPhase, CampaignPrepareInput, CampaignProgress, CampaignRecord, CampaignRecordInput, CampaignRow, CampaignRunningRun,
  CampaignSummary, CampaignWorkflowInput,
} from './campaign/contract';
// --- Ray-like SDK: user WebAssembly kernels (owned by the campaign/SDK work) ---
export { USER_WASM_MAX_MEMORY_MB, USER_WASM_OP, WASM_PAGE, checkUserModule, inspectWasm, parseUserWasmAttrs } from './sdk/user-wasm';
export type { UserWasmAttrs, WasmLimits, WasmModuleInfo } from './sdk/user-wasm';
// --- EigenPro (owned by the EigenPro workload work) ---
export { EIGENPRO_KERNELS, EIGENPRO_PROJECTIONS, EIGENPRO_TASKS, checkEigenProData, compileEigenProParams, defaultSubsampleSize, planEigenProMemory } from './eigenpro/params';
export type { CompiledEigenProParams, DenseRows, EigenProData, EigenProDataShape, EigenProMemoryPlan, EigenProParams } from './eigenpro/params';
export { EIGENPRO_STREAMS, eigenProSetupFromSpectrum, epochOrder, seededPermutation, subsampleRows } from './eigenpro/setup';
export type { EigenProSetup, SpectrumInput } from './eigenpro/setup';
export { accuracy, applyEigenPro2Update, eigenProSetup, mse, oneHot, trainEigenPro2 } from './eigenpro/train';
export type { BatchTag, EigenProCheckpoint, EigenProCompute, EigenProTargets, EpochMetrics, TrainOptions, TrainResult } from './eigenpro/train';
export { createReferenceCompute, kernelMatmulReference } from './eigenpro/reference';
export type { ReferenceComputeData } from './eigenpro/reference';
export type { EigenProActivities, EigenProJobInput, EigenProJobResult, EigenProProgressEvent, EigenProSetupSummary } from './eigenpro/job';
export { expandFeatureBytes, featureBytes, type FeatureBytes } from './jobs/feature-bytes';
export { trainEigenPro3Reference } from './eigenpro/ep3';
export type { EigenPro3Input } from './eigenpro/ep3';
// --- krylov-recycled data generation (owned by the datagen work) ---
export { fft1d, fft2d, nextPow2 } from './datagen/fft';
export { STREAM_FIELD, STREAM_SCALAR, instanceScalar, sampleField } from './datagen/field';
export type { FieldSpec, SampledField } from './datagen/field';
export { PDE_KINDS, assembleFivePoint, generateInstance, instanceFeatures } from './datagen/pde';
export type { FivePointCoefficients, PdeInstance, PdeKind, PdeSpec } from './datagen/pde';
export { PRECONDITIONERS, buildPreconditioner, csrMatvec } from './datagen/precond';
export type { PrecondKind, Preconditioner } from './datagen/precond';
export { gcrodr } from './datagen/gcrodr';
export type { GcrodrOptions, GcrodrResult } from './datagen/gcrodr';
export { SORT_KINDS, greedyChain, hilbertIndex, sortInstances } from './datagen/sort';
export type { SortKind } from './datagen/sort';
export { DATAGEN_SOLVERS, compileDatagenParams, datagenShardId, pdeSpecOf } from './datagen/params';
export type { CompiledDatagenParams, DatagenJobInput, DatagenJobResult, DatagenParams, DatagenProgress, DatagenSolver, DatagenSystemOutcome } from './datagen/params';
export { DATAGEN_SOLVE_OP_ID, datagenSolve, datagenSolveOp } from './ops/datagen-solve';
export type { DatagenSolveAttrs } from './ops/datagen-solve';
// kernel library: shard planning per op
export { concatAxis, evenRanges, nnzRanges, planOpShards, sliceAxis } from './ops/shard-plan';
export type { OpShard, OpShardPlan, OpShardPlanOptions } from './ops/shard-plan';
export { DATAGEN_MAX_CHUNKS, DATAGEN_MAX_IN_FLIGHT, DATAGEN_MAX_SYSTEMS, DATAGEN_PAGE_FORMAT } from './datagen/paging';
export type { DatagenActivities, DatagenPage, DatagenWorkflowResult } from './datagen/paging';
export { EIGENPRO_EIGEN_TOL, eigenSolverFor, topOfFullEigh } from './eigenpro/setup';
export type { KronCgSummary, KronFitSummary, KronLoopActivities, KronLoopOutput } from './kron/job';
export { gatherObserved, kronCgPoints, pcgAdvance, pcgStart, pcgTrueResidual, pcgTurn, scatterObserved } from './kron/cg';
export type { KronCgPoints, PcgState } from './kron/cg';
export { factorDerivativeBasis, kronGradientFromSums } from './kron/gp';
export type { KronGradientSums } from './kron/gp';
export { fitKronSteps } from './kron/optimize';
export type { KronLmlEval } from './kron/optimize';
// --- EigenPro 3/4 on the cluster (ep3 branch) ---
export { EIGENPRO_ARENA_BYTES, EIGENPRO_CENTERS_STREAM, EIGENPRO_JITTERS, exactProjectionBytes, exactProjectionMaxCenters, planEigenPro3, sampleCenterRows } from './eigenpro/ep3-plan';
export type { EigenPro3Plan } from './eigenpro/ep3-plan';
export { choleskySolveInPlace, createReferenceCompute3, trainEigenPro3 } from './eigenpro/ep3-train';
export type { AuxPart, EigenPro3Compute, EigenPro3ProjectionSummary, ReferenceCompute3Data, Train3Options, Train3Result } from './eigenpro/ep3-train';
// krylov dense backend (datagen): interface and float64 reference; workers inject the wasm one
export { jsKrylovDense } from './datagen/krylov-dense';
export type { KrylovBlock, KrylovDense, KrylovDenseFactory } from './datagen/krylov-dense';
export { recycleRows } from './ops/datagen-solve';
export { checkDatagenBounds } from './datagen/paging';
export { KERNEL_ROWS_MATMUL_OP_ID, KERNEL_ROWS_MAX_BLOCKS, kernelRowsMatmulInputs, kernelRowsMatmulOp } from './ops/kernel-rows-matmul';
