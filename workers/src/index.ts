// Public entry of @gramfleet/workers: the worker runtime, the data plane (NATS connection,
// array store, task client) and the kernel pool, as the orchestrator and the GPU worker use
// them. The WASM backend's per-op parts are in `./internal` (test suites and benchmarks only),
// test fixtures in `./testing`. Explicit exports only.
export { WasmArena } from './backends/wasm/arena';
export type { WasmArenaOptions } from './backends/wasm/arena';
export { connectNats, openDataPlane } from './dataplane/nats';
export type { CompiledDataPlaneOptions, DataPlane, DataPlaneOptions } from './dataplane/nats';
export { createArrayStore } from './dataplane/store';
export type { ArrayStore, ArrayStoreConnection, ArrayStoreOptions, ArrayStoreStats, Durability, PutOptions, UploadProgress } from './dataplane/store';
export { openArrayStore } from './dataplane/tiers';
export type { OpenedArrayStore, StoreTiersConfig } from './dataplane/tiers';
export { openHostStore } from './dataplane/host-store';
export type { HostStore, HostStoreOptions } from './dataplane/host-store';
export { createTaskClient } from './dataplane/lanes';
export type { RunOptions, TaskClient, TaskClientOptions, TaskClientStats, TaskSpec } from './dataplane/lanes';
export { createKernelPool } from './pool';
export type { KernelPool, KernelPoolOptions, KernelRun } from './pool';
export type { BlockJob, ProductJob, RowJob, SharedRows } from './row-jobs';
export { drainOnSignals, startWorker } from './runtime';
export type { RunningWorker, WorkerOptions } from './runtime';
export { createJsonLogger } from './log';
export { FORCE_TRACE_ATTRIBUTE, TRACEPARENT_HEADER, activeTracing, currentTraceparent, startTaskSpans, startTracing, traceparentSampled } from './tracing';
export type { TaskSpanAttributes, TaskSpans, Tracing, TracingOptions, TracingStats } from './tracing';
export { registerReferenceKernels } from './backends/wasm/register-all';
export { createWasmKronLinalg } from './backends/wasm/kron-linalg';
export { createKernelBlockMatmulKernel } from './backends/wasm/kernel-block';
export { loadKernelModuleBytes, relaxedSimdNodeArgs } from './backends/wasm/kernel-module';
export type { KernelBuild, KernelModuleBytes } from './backends/wasm/kernel-module';
export { startHealthServer } from './health';
export { TASK_OUTCOMES, TASK_SECONDS_BUCKETS, createProcessMetrics } from './metrics';
export type { ProcessMetrics, ProcessMetricsOptions, Sample, TaskMetrics, TaskOutcome } from './metrics';
export type { HealthServer, HealthServerOptions } from './health';
export { STORE_TIERS_ENV, WASM_WORKER_ENV, WORKER_ENV, wasmWorkerConfig } from './config';
export { NATS_AUTH_ENV, natsAuthEnv, natsAuthFromEnv, natsConnectOptions, ownerIdPrefix } from './security/auth';
export type { NatsAuth } from './security/auth';
export { NATS_ROLES, rolePermissions } from './security/roles';
export type { NatsPermissions, NatsRole } from './security/roles';
export {
  createNatsAccounts,
  ensureLocalNatsSecurity,
  issueLocalIdentity,
  localNatsServerConfig,
  natsOperatorConfig,
  roleCreds,
  securityDir,
} from './security/local';
export type { LocalNatsSecurity, NatsAccounts } from './security/local';
export { createCertificateAuthority, issueCertificate } from './security/x509';
export type { CertRequest, IssuedCert } from './security/x509';
export type { WasmWorkerConfig } from './config';
export { countsEnabled, readCounts, recordCount } from './counts';
export type { CountEvent, CountRecord } from './counts';
