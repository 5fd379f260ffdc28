// Public entry of @gramfleet/orchestrator: the SDK, the local cluster, file I/O. Explicit exports only.
export { connect, fromTemporal } from './sdk';
export type { ConnectOptions, Fleet, GrfJobSpec, JobHandle, JobSpec } from './sdk';
export { LocalCluster, defaultDataDir, stateFile } from './cluster/local-cluster';
export type { ClusterState, LocalClusterOptions, ProcessEntry } from './cluster/local-cluster';
export { createActivities } from './activities';
export type { ActivityDeps } from './activities';
export { loadCsr, storeCsr } from './grf-assemble';
export { readZip, writeZip } from './io/zip';
export type { WriteZipOptions, ZipEntry } from './io/zip';
export {
  csrFromNpz, decodeNpyValue, decodeNpz, encodeCsrNpz, encodeNpyRaw, encodeNpz, isStringArray, readCsrNpz, readNpy, readNpz,
  writeCsrNpz, writeNpy, writeNpz,
} from './io/npz';
export type { NpyStringArray, NpzValue, WriteCsrNpzOptions, WriteNpzOptions } from './io/npz';
export { loadGraph, parseAdjlist, parseMatrixMarket } from './io/graph-files';
export type { GraphFileFormat, LoadGraphOptions, LoadedGraph } from './io/graph-files';
export { createCampaignClient, newCampaignId, readCampaignFile } from './campaign/client';
export type { CampaignClient, CampaignHandle, CampaignStartOptions } from './campaign/client';
export { openCampaignTable } from './campaign/table';
export type { CampaignTable } from './campaign/table';
export { createCampaignActivities } from './campaign/activities';
export type { CampaignActivityDeps } from './campaign/activities';
export { workloadRunner } from './campaign/workloads';
export type { RunExtract, WorkloadDeps, WorkloadRunner } from './campaign/workloads';
export { INLINE_MAX_BYTES, createRaySdk } from './ray';
export type { MapOptions, ObjectRef, PutValue, RaySdk, Ref, TaskRef, WasmKernel } from './ray';
export { RESULT_FORMATS, flattenRows, formatOf, rowsToCsv, rowsToParquet, writeRows } from './campaign/export';
export type { FlatColumn, ResultFormat } from './campaign/export';
export { CAMPAIGN_USAGE, campaignCommand } from './campaign/cli';
