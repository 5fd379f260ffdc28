// Public entry of @gramfleet/core: pure, workflow-safe contracts. Explicit exports only.
export { ERROR_CODES, GramfleetError, isErrorCode, isGramfleetError, outOfRange, invalidField } from './errors';
export {
  DATA_PLANE_ENV,
  HEALTH_PORT_ENV,
  OTLP_ENDPOINT_ENV,
  OTLP_SAMPLE_RATIO_ENV,
  DEFAULT_OTLP_SAMPLE_RATIO,
  LOG_LEVEL_ENV,
  PREFIX_ENV,
  PREFIX_PATTERN,
  TASK_QUEUE_ENV,
  TEMPORAL_ADDRESS_ENV,
  TEMPORAL_NAMESPACE_ENV,
  envChoice,
  envFlag,
  envGroup,
  envInt,
  envInvalid,
  envList,
  envRaw,
  envRequired,
  envString,
  parseEnvInt,
  parseEnvNumber,
  readEnv,
} from './env';
export type { Env, EnvField, EnvSpec, EnvValues, EnvVarDoc } from './env';
export type { ErrorCode, ErrorPayload } from './errors';
export { checkJobId, int, nearestName, num, obj, str } from './validate';
export {
  INLINE_ARRAY_MAX_BYTES,
  NPY_MAX_HEADER_BYTES,
  TREE_DIGEST_PREFIX,
  TREE_LEAF_BYTES,
  allocTyped,
  dataBytes,
  decodeNpy,
  fortranToC,
  dtypeSize,
  encodeNpy,
  isTreeDigest,
  ndarray,
  npyHeader,
  parseNpyHeader,
  shapeSize,
  treeLeafCount,
} from './array';
export type { JoinUploadInput, UploadActivities } from './uploads';
export type { AnyTypedArray, ArrayPatch, ArrayRef, CsrArrays, CsrRef, DType, NdArray, NpyHeader, TypedArrayOf } from './array';
export { barabasiAlbert, csrBytes, csrFromTriplets, gridGraph, rmat, symmetrise, validateGraph } from './graph';
export type { CsrFromTripletsOptions, DuplicatePolicy, GraphSummary, SymmetriseMode, ValidateGraphOptions } from './graph';
export {
  PROTOCOL_VERSION,
  WORKER_CLASSES,
  WORKER_RECORD_MAX_CURRENT,
  allResultsFilter,
  allTasksFilter,
  cancelSubject,
  clientArraysBucket,
  consumerName,
  isArraysBucketOf,
  jobResultsFilter,
  jobTasksFilter,
  laneSubject,
  ownerReplySubject,
  ownerSubject,
  spilledTaskMsgId,
  taskKey,
  pinToken,
  resourceNames,
  resultMsgId,
  resultSubject,
  taskFilter,
  taskSubject,
  UNCOUNTED_LOSSES,
} from './protocol';
export type { LaneFrame, ReplyFrame, ResourceNames, Task, TaskResult, TaskStats, WorkerClass, WorkerCurrentTask, WorkerRecord } from './protocol';
export {
  VERIFY_PARAM,
  VERIFY_RTOL,
  arrayRefProblem,
  compileVerifyFraction,
  isReplyFrame,
  isTaskResult,
  npyBytesOf,
  outputsDisagree,
  replyFrameProblem,
  taskResultProblem,
  verifySelected,
} from './results';
export { createKernelRegistry } from './ops/types';
export { OPS } from './ops/catalogue';
export { silentLogger } from './log';
export type { Logger } from './log';
export type { KernelContext, KernelImpl, KernelRegistry, OpDef } from './ops/types';
// --- graph random features (owned by the GRF numerics work) ---
export { Philox, seedKey } from './rng/philox';
export { GRAPH_KERNEL_KINDS, kernelAlpha, modulation } from './grf/kernels';
export type { GraphKernelSpec } from './grf/kernels';
export { normalisedWeights } from './grf/normalise';
export { csrRowParts, csrVstack, csrWithValues } from './grf/sparse';
export type { CsrRowParts } from './grf/sparse';
export { applyExactKernel, exactKernelDense } from './grf/exact';
export { applyKhat, labelSpreadingAccuracy, relFrobError, seededSubset } from './grf/estimators';
export { checkGrfWalksInputs, effectiveSteps, grfWalksOp, grfWalksOutputsProblem } from './ops/grf-walks';
export type { GrfVariance, GrfWalksAttrs } from './ops/grf-walks';
// --- kernel library (owned by the kernel-library work) ---
// kernel library: factorisations, eigensolvers, mode product
export { inputAt, matrix, noConvergence, notPositiveDefinite, singularTriangle, squareInput, vector } from './ops/linalg-common';
export { CHOLESKY_OP_ID, choleskyOp } from './ops/cholesky';
export type { CholeskyAttrs } from './ops/cholesky';
export { triangularSolveOp } from './ops/triangular-solve';
export type { TriangularSolveAttrs } from './ops/triangular-solve';
export { EIGH_OP_ID, eighOp, eighReference, normaliseEigenvectorSigns } from './ops/eigh';
export type { EighAttrs } from './ops/eigh';
export { eighTopkOp, topkBlockSize, topkMethod } from './ops/eigh-topk';
export type { EighTopkAttrs, EighTopkMethod } from './ops/eigh-topk';
export { qrOp } from './ops/qr';
export type { QrAttrs } from './ops/qr';
export { modeProductOp, modeProductShape } from './ops/mode-product';
export type { ModeProductAttrs } from './ops/mode-product';
export { eigSmallNoConvergence, eigSmallOp, eigSmallShape, orderEigenpairs, singularB } from './ops/eig-small';
export type { EigSmallAttrs } from './ops/eig-small';
export type { EigSmallCoreResult } from './ops/eig-small-core';
// end kernel library: factorisations
// kernel library: dense and sparse kernels
export { markFinite, requireFinite } from './ops/dense-common';
export { GEMM_ACCUMULATE, GEMM_OP_ID, gemmOp, gemmOutput, gemmProblem } from './ops/gemm';
export type { GemmAccumulate, GemmAttrs, GemmProblem } from './ops/gemm';
export { gemvOp, gemvProblem } from './ops/gemv';
export type { GemvAttrs } from './ops/gemv';
export { gemmBatchedOp, gemmBatchedProblem } from './ops/gemm-batched';
export type { GemmBatchedAttrs } from './ops/gemm-batched';
export { KERNEL_BLOCK_MATMUL_OP_ID, KERNEL_BLOCK_OP_ID, KERNEL_FUNCTIONS, kernelBlockMatmulOp, kernelBlockOp, kernelBlockProblem } from './ops/kernel-block';
export type { KernelBlockAttrs, KernelFunction } from './ops/kernel-block';
export { csrSpmvOp, csrSpmvProblem } from './ops/csr-spmv';
export type { CsrSpmvAttrs } from './ops/csr-spmv';
export { csrSpmmOp, csrSpmmProblem } from './ops/csr-spmm';
export type { CsrSpmmAttrs } from './ops/csr-spmm';
export { csrTransposeOp } from './ops/csr-transpose';
export type { CsrTransposeAttrs } from './ops/csr-transpose';
export { csrFromTripletsOp } from './ops/csr-from-triplets';
export type { CsrFromTripletsAttrs } from './ops/csr-from-triplets';
// end kernel library: dense and sparse kernels
// --- workloads: the registry and each workload's definition ---
export { WORKLOAD_DEFS, isWorkloadKind, workloadDef, workloadKinds } from './registry';
export type { WorkloadKind } from './registry';
export { checkParamNames } from './workload';
export type { ParamDoc, ParamDocs, WorkloadDef } from './workload';
export { GRF_WORKLOAD } from './grf/workload';
export type { GrfRunParams } from './grf/workload';
export { EIGENPRO_WORKLOAD, checkEigenProCenters } from './eigenpro/workload';
export { KRON_GP_WORKLOAD, compileKronJob } from './kron/workload';
export type { KronJobOptions } from './kron/workload';
export { DATAGEN_WORKLOAD } from './datagen/workload';
export type { DatagenRunParams } from './datagen/workload';
// --- jobs (workflow contracts) ---
export { chunk, shardId } from './jobs/shards';
export type { JobProgress, ShardBatchInput, ShardBatchOutput, ShardOutcome, ShardSpec } from './jobs/shards';
export {
  GRF_ESTIMATORS,
  GRF_VARIANCE,
  compileGrfParams,
  defaultShardNodes,
  grfBatch,
  grfBatchSizes,
  grfBatches,
  grfSubmitBatchShards,
  GRF_MAX_BATCH_SHARDS,
} from './grf/job';
export type {
  GrfActivities,
  GrfAssembleBatchesInput,
  GrfAssembleInput,
  GrfAssembled,
  GrfBatchInput,
  GrfBatchOutput,
  GrfJobInput,
  GrfJobResult,
  GrfParams,
} from './grf/job';
export type { ClusterActivities } from './jobs/activities';
// --- GPU backend routing ---
export { parseBackendChoice, routeOp } from './jobs/routing';
export type { BackendChoice } from './jobs/routing';
// --- Kronecker GP (issue 5) ---
export type { AxisKernel } from './kron/kernels';
export { forEachRow, kronMatvec, modeSplit } from './kron/tensor';
export type { KronLinalg } from './kron/tensor';
export { factorMatrix, factorise, predictKron, safeguards } from './kron/gp';
export type { KronModel, KronSafeguards } from './kron/gp';
export { solveKronCg } from './kron/cg';
export { compileKronGp, withHyper } from './kron/params';
export type { KronGpParams } from './kron/params';
export { POISSON_PROBLEMS, solvePoissonGp } from './kron/pde';
export { kronFactorOp, kronFactorRun, kronGpSolveOp, kronGpSolveRun, kronSlabOp, kronSlabRun } from './ops/kron-gp';
export type { KronSlabStep } from './ops/kron-gp';
export { slabRanges } from './kron/job';
export { KRON_FACTOR_INFO, KRON_FACTOR_OUT, KRON_SOLVE_OUT, kronLoopInputs, kronSlabLayout, readKronSolveStats } from './kron/layouts';
export type { KronSlabLayout } from './kron/layouts';
export type {
  KronActivities,
  KronCandidateResult,
  KronFinishInput,
  KronHyper,
  KronJobInput,
  KronJobResult,
  KronProgress,
  KronTransposeInput,
  KronTransposeOutput,
} from './kron/job';
// --- campaigns (owned by the campaign work) ---
export { CAMPAIGN_MAX_CONCURRENCY, CAMPAIGN_MAX_LIST_RUNS, campaignAttemptId, campaignRunAt, campaignRunId, compileCampaignSpec } from './campaign/spec';
export type { CampaignGrid, CampaignRetry, CampaignRunSpec, CampaignSpec, CompiledCampaignSpec } from './campaign/spec';
export {
  CAMPAIGN_INPUTS_REFUSED,
  CAMPAIGN_PROGRESS_QUERY,
  CAMPAIGN_RUNNING_QUERY,
  CAMPAIGN_WORKFLOW,
  campaignRowKey,
  campaignRowsFilter,
  campaignTable,
} from './campaign/contract';
export type {
  CampaignActivities,
  CampaignCheckFilesInput,
  CampaignPhase,
  CampaignProgress,
  CampaignRecord,
  CampaignRow,
  CampaignRunningRun,
  CampaignSummary,
  CampaignWorkflowInput,
} from './campaign/contract';
// --- Ray-like SDK: user WebAssembly kernels (owned by the campaign/SDK work) ---
export {
  USER_WASM_ABSOLUTE_LIMITS,
  USER_WASM_MAX_MEMORY_MB,
  USER_WASM_MAX_MODULE_BYTES,
  USER_WASM_MAX_TIMEOUT_MS,
  USER_WASM_OP,
  WASM_PAGE,
  checkUserModule,
  checkUserWasmLimits,
  inspectWasm,
  parseUserWasmAttrs,
  tightestUserWasmLimits,
} from './sdk/user-wasm';
export type { UserWasmAttrs, UserWasmLimits, UserWasmRequest, WasmLimits, WasmModuleInfo } from './sdk/user-wasm';
// --- EigenPro (owned by the EigenPro workload work) ---
export { EIGENPRO_KERNELS, EIGENPRO_PROJECTIONS, EIGENPRO_TASKS, checkEigenProData, compileEigenProParams, planEigenProMemory } from './eigenpro/params';
export type { CompiledEigenProParams, DenseRows, EigenProParams } from './eigenpro/params';
export { epochOrder } from './eigenpro/setup';
export type { EigenProSetup } from './eigenpro/setup';
export { accuracy, batchTagId, mse, trainEigenPro2 } from './eigenpro/train';
export type { BatchTag, EigenProCheckpoint, EigenProCompute, EigenProTargets, EpochMetrics } from './eigenpro/train';
export type { EigenProActivities, EigenProJobInput, EigenProJobResult, EigenProProgressEvent, EigenProSetupSummary } from './eigenpro/job';
export { expandFeatureBytes, featureBytes, type FeatureBytes } from './jobs/feature-bytes';
// --- krylov-recycled data generation (owned by the datagen work) ---
export { PDE_KINDS, generateInstance, instanceFeatures, pdeDim, pdeFamily, pdeUnknowns } from './datagen/pde';
export { PRECONDITIONERS, csrMatvec } from './datagen/precond';
export { gcrodr } from './datagen/gcrodr';
export { SORT_KINDS, sortInstances } from './datagen/sort';
export { DATAGEN_SOLVERS, compileDatagenParams, datagenShardId, pdeSpecOf } from './datagen/params';
export type { DatagenJobInput, DatagenJobResult, DatagenParams, DatagenProgress, DatagenSystemOutcome } from './datagen/params';
export { datagenSolve, datagenSolveOp } from './ops/datagen-solve';
export type { DatagenSolveAttrs } from './ops/datagen-solve';
// kernel library: shard planning per op
export { DATAGEN_MAX_SYSTEMS, DATAGEN_PAGE_FORMAT } from './datagen/paging';
export type { DatagenActivities, DatagenPage, DatagenWorkflowResult } from './datagen/paging';
export { EIGENPRO_EIGEN_TOL, eigenSolverFor, topOfFullEigh } from './eigenpro/setup';
export type { KronFitStep, KronFitSummary, KronLoopActivities, KronLoopOutput, KronProgressEvent } from './kron/job';
export { kronCgPoints, pcgAdvance, pcgStart, pcgTrueResidual, pcgTurn, scatterObserved } from './kron/cg';
export type { PcgState } from './kron/cg';
export { kronGradientFromSums } from './kron/gp';
export { fitKronSteps } from './kron/optimize';
export type { KronLmlEval } from './kron/optimize';
// --- EigenPro 3/4 on the cluster (ep3 branch) ---
export { EIGENPRO_JITTERS, planEigenPro3, sampleCenterRows } from './eigenpro/ep3-plan';
export type { EigenPro3Plan } from './eigenpro/ep3-plan';
export { choleskySolveInPlace, trainEigenPro3 } from './eigenpro/ep3-train';
export type { EigenPro3Compute } from './eigenpro/ep3-train';
// krylov dense backend (datagen): interface and float64 reference; workers inject the wasm one
export type { KrylovBlock, KrylovDense, KrylovDenseFactory } from './datagen/krylov-dense';
export { recycleRows } from './ops/datagen-solve';
export { checkDatagenBounds } from './datagen/paging';
export { KERNEL_ROWS_MATMUL_OP_ID, kernelRowsMatmulInputs, kernelRowsMatmulOp } from './ops/kernel-rows-matmul';
