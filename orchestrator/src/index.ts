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
export { DATAGEN_MAX_COUNT, datagenHandle, prepareDatagen, submitDatagen, writeDataset } from './datagen';
export type { DatagenDeps, DatagenJobHandle, DatagenJobSpec, DatagenProgressView, DatasetManifest, DatasetSystem } from './datagen';
