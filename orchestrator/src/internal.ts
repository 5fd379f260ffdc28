// Internal entry of @gramfleet/orchestrator (`@gramfleet/orchestrator/internal`), for the test
// suites, benchmarks and scripts only: the registry and the activities it drives, the CLI's
// parts, the Kubernetes controller, client and renderer, the config declarations that
// docs/config.md is generated from, and pieces of the workloads' long loops that tests check
// one by one. Not part of the public API. Explicit exports only.
export { CLIENT_ENV } from './client/config';
export { HOST_ENV } from './host/config';
export { CONTROLLER_ENV } from './k8s/config';
export {
  TEMPORAL_SECURITY_ENV,
  checkTemporalSecurity,
  describeTemporalSecurity,
  explainTemporalConnectError,
  temporalConnectionOptions,
  LOCAL_TEMPORAL_TRANSPORT,
} from './security/temporal';
export { prepareDatagen, writeDataset } from './datagen/submit';
export { releaseDatagenPages } from './datagen/pages';
export { joinUploadedArray } from './io/upload';
export { putBytes } from './io/objects';
export { createTransientObjects } from './eigenpro/transient';
export { centerLayout } from './eigenpro/rows';
export { choleskyWasmSolver } from './eigenpro/ep3-activity';
export { kronCgCheckpointName } from './kron/loop';
export { kronTransposeWith } from './kron/activities';
export { checkpointName, loadCheckpoint, saveCheckpoint } from './eigenpro/checkpoint';
export { MISSING_OBJECT_FINAL_ATTEMPT, missingObjectFinal } from './host/activities';
export { CAMPAIGN_COMMAND, campaignCommand } from './campaign/cli';
export { commandPaths } from './cli/command';
export type { CliContext } from './cli/command';
export { GRAMFLEET_COMMAND, cliVersion, main as runCli } from './cli/main';
export { kubeConfigFor } from './k8s/client';
export type { KubeConfig, KubernetesObject } from './k8s/client';
export { k8s as k8sApi } from './k8s/client';
export { GROUP as K8S_GROUP, VERSION as K8S_VERSION, KERNEL_CAMPAIGN, kernelCampaignCrd } from './k8s/crd';
export { KernelCampaignController, kernelCampaignWorkflowId } from './k8s/controller';
export { compileValues, renderManifests } from './k8s/render';
export { generateProductionCreds } from './security/creds';
export type { CredsOptions, GeneratedCreds } from './security/creds';
export { LeaderElector, type LeaderElectionOptions } from './k8s/leader';
export { grafanaDashboard, grafanaDashboardJson } from './k8s/grafana';
export { progressEvents } from './dashboard/data';
export { applyManifests, manifestsYaml } from './k8s/cli';
export { RawObjectApi, parseYamlStream, toYamlStream } from './k8s/raw';
export { readZip, writeZip, writeZipFile } from './io/zip';
export { FILE_PART_BYTES, collectRefs, parseFileRef, putFile } from './io/objects';
export { FILE_CACHE_MAX_BYTES_VAR, createFileCache } from './io/file-cache';
export type { FileCache, FileLease } from './io/file-cache';
export { decodeNpyValue } from './io/npz';
export { decodeGraph } from './io/graph-files';
export { decodeCsv, decodeIdx, decodeRows, gunzipBounded } from './eigenpro/data-files';
export { parseCampaignText } from './campaign/client';
export { binaryPath } from './cluster/binaries';
export { dataPlaneEnv } from './cluster/local-cluster';
export { openCampaignTable } from './campaign/table';
export { TokenStore, tokenFile, parseDuration } from './api/tokens';
export type { TokenRecord } from './api/tokens';
export { createApiServer, httpStatusOf, OPENAPI_PATH } from './api/server';
export type { ApiServerDeps } from './api/server';
export { serveApi, apiObjectsDir } from './api/serve';
export type { ApiHandle, ServeApiOptions } from './api/serve';
export { gatherJobLogs, formatJobLogLine } from './telemetry/logs';
export { createUploadProgress } from './cli/progress';
export type { UploadStep } from './cli/progress';
