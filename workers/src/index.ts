// Public entry of @gramfleet/workers. Explicit exports only.
export { WasmArena } from './backends/wasm/arena';
export type { WasmArenaOptions } from './backends/wasm/arena';
export { compileDataPlaneOptions, connectNats, openDataPlane } from './dataplane/nats';
export type { CompiledDataPlaneOptions, DataPlane, DataPlaneOptions } from './dataplane/nats';
export { createArrayStore, inlineBytes, sha256Hex } from './dataplane/store';
export type { ArrayStore, ArrayStoreOptions, PutOptions } from './dataplane/store';
export { createTaskClient } from './dataplane/lanes';
export type { RunOptions, TaskClient, TaskClientOptions, TaskClientStats, TaskSpec } from './dataplane/lanes';
export { createKernelPool } from './pool';
export type { KernelPool, KernelPoolOptions, KernelRun } from './pool';
export type { BlockJob, ProductJob, RowJob, SharedRows } from './row-jobs';
export { drainOnSignals, startWorker } from './runtime';
export type { RunningWorker, WorkerOptions } from './runtime';
export { createJsonLogger } from './log';
export { GRF_ROWS_PER_CALL, GRF_STATUS, createGrfWalksWasmKernel, registerGrfWalksWasm } from './backends/wasm/grf-walks';
export { registerReferenceKernels, registerWasmKernels } from './backends/wasm/register-all';
export { createWasmKronLinalg } from './backends/wasm/kron-linalg';
export { createSandbox } from './sandbox/sandbox';
export type { Sandbox, SandboxRun } from './sandbox/sandbox';
export { withUserWasm } from './sandbox/with-user-wasm';
export { WAT_DOUBLE, WAT_GROW, WAT_IMPORTS_SOCKET, WAT_READ_FILE, WAT_SOCKET, WAT_SPIN, WAT_TRAP, WAT_UNCAPPED, assembleWat } from './sandbox/test-modules';
export { healthPortFromEnv, startHealthServer } from './health';
export type { HealthServer, HealthServerOptions } from './health';
export { createKernelBlockKernel, createKernelBlockMatmulKernel } from './backends/wasm/kernel-block';
// kernel library: kernel build choice and multi-core shards
export { RELAXED_SIMD_NODE_FLAG, kernelsFmaWasmPath, loadKernelModuleBytes, relaxedSimdAvailable, relaxedSimdNodeArgs } from './backends/wasm/kernel-module';
export type { KernelBuild, KernelModuleBytes } from './backends/wasm/kernel-module';
export { MULTI_CORE_BACKEND, createShardThreadsPool } from './shard-threads';
export type { ShardThreadsOptions } from './shard-threads';
// datagen: the wasm Krylov dense backend and the datagen-solve kernel built on it
export { createWasmKrylovDense } from './backends/wasm/krylov-dense';
export { createDatagenSolveKernel, registerDatagenSolveWasm } from './backends/wasm/datagen-solve';
export { withHostGather } from './host-gather';
export { kernelCacheBudgetFromEnv, withKernelRowCache } from './kernel-cache';
export type { KernelRowCache, KernelRowCacheOptions, KernelRowCacheStats } from './kernel-cache';
