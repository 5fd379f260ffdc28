// Public entry of @gramfleet/orchestrator: the SDK (connect, one submit for every workload
// kind, job handles, campaigns, the Ray-like put/get/map), the local cluster, file I/O and the
// KernelCampaign resource's types. What only the test suites, benchmarks and scripts drive
// (activities, the registry, the CLI's parts, the Kubernetes controller and renderer, config
// declarations) is in `./internal`. Explicit exports only.
export { connect } from './client/sdk';
export type { ConnectOptions, Fleet, FleetJobs, JobHandle, SubmitOptions } from './client/fleet';
export { JOB_STATES, createJobsService } from './jobs/service';
export type {
  JobCancelResult,
  JobDescribeOptions,
  JobDescription,
  JobListFilter,
  JobOutputRecipe,
  JobState,
  JobSummary,
  JobsService,
  JobsServiceOptions,
} from './jobs/service';
export type { TemporalSecurity } from './security/temporal';
export type { EventFor, JobKind, JobSpec, ProgressFor, ResultFor, SpecFor, TypesFor } from './job-types';
export type { GrfJobSpec } from './grf/submit';
export type { EigenProJobSpec } from './eigenpro/submit';
export type { KronGpJobSpec } from './kron/submit';
export type { DatagenJobSpec, DatagenProgressView, DatasetManifest, DatasetSystem } from './datagen/submit';
export { INLINE_MAX_BYTES } from './client/ray';
export type { MapOptions, ObjectRef, PutValue, RaySdk, Ref, TaskRef, WasmKernel } from './client/ray';
export { readCampaignFile } from './campaign/client';
export type { CampaignClient, CampaignHandle, CampaignStartOptions } from './campaign/client';
export { RESULT_FORMATS, writeRows } from './campaign/export';
export type { ResultFormat } from './campaign/export';
export { LocalCluster, defaultDataDir } from './cluster/local-cluster';
export type { ClusterState, LocalClusterOptions, ProcessEntry } from './cluster/local-cluster';
export { csrFromNpz, decodeNpz, encodeNpz, readCsrNpz, readNpy, readNpz, writeCsrNpz, writeNpy, writeNpz } from './io/npz';
export type { NpyStringArray, NpzValue, WriteCsrNpzOptions, WriteNpzOptions } from './io/npz';
export { isFileRef, parseFileRef } from './io/objects';
export type { FileManifest, FileRef, ObjectProgress, ObjectsClient, PutFileResult } from './io/objects';
export { loadGraph, parseAdjlist, parseMatrixMarket } from './io/graph-files';
export type { GraphFileFormat, LoadGraphOptions, LoadedGraph } from './io/graph-files';
export { loadRows } from './eigenpro/data-files';
export type { LoadedRows } from './eigenpro/data-files';
export type { KernelCampaign, KernelCampaignCondition, KernelCampaignPhase, KernelCampaignStatus } from './k8s/crd';
