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
export { prepareKron } from './kron-submit';
export type { KronGpJobSpec } from './kron-submit';
export { createKronActivities, kronTransposeWith, putBlock, takeBlock } from './kron-activities';
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
export { defaultKubeConfig, kubeConfigFor } from './k8s/client';
export type { KubeConfig, KubeConfigForOptions, KubernetesObject } from './k8s/client';
export { GROUP as K8S_GROUP, VERSION as K8S_VERSION, KERNEL_CAMPAIGN, KERNEL_CAMPAIGN_PHASES, kernelCampaignCrd, kernelCampaignSpecSchema } from './k8s/crd';
export type { KernelCampaign, KernelCampaignCondition, KernelCampaignPhase, KernelCampaignStatus } from './k8s/crd';
export { KernelCampaignController, kernelCampaignId, kernelCampaignWorkflowId } from './k8s/controller';
export type { KernelCampaignControllerOptions } from './k8s/controller';
export { compileValues, controllerRules, renderManifests } from './k8s/render';
export type { ClassScaling, CompiledValues, DeployValues, Resources, Toleration } from './k8s/render';
export { WorkQueue } from './k8s/workqueue';
export type { WorkQueueOptions } from './k8s/workqueue';
export { k8s as k8sApi } from './k8s/client';
export type { K8s } from './k8s/client';
export { applyManifests, k8sCommand, manifestsYaml, valuesFromArgs } from './k8s/cli';
export { RawObjectApi, parseYamlStream, toYamlStream } from './k8s/raw';
export type { RawApplyOptions } from './k8s/raw';
