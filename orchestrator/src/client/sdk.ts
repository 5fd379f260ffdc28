/**
 * The TypeScript SDK. `connect()` with no address attaches to the local cluster (starting
 * one, like `ray.init()`, when none runs); `submit(spec)` validates everything and uploads
 * the inputs before a workflow is started, and returns a {@link JobHandle}.
 */
import { Client, Connection, WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure } from '@temporalio/common';
import {
  GramfleetError, isErrorCode, isGramfleetError, resourceNames, silentLogger,
  type ArrayRef, type CsrArrays, type CsrRef, type GrfJobInput, type GrfJobResult, type GrfParams, type JobProgress, type Logger, type NdArray, type WorkerClass, type WorkerRecord,
} from '@gramfleet/core';
import { connectNats, createArrayStore, createTaskClient, openDataPlane, type ArrayStore, type DataPlane, type DataPlaneOptions } from '@gramfleet/workers';
import { LocalCluster, defaultDataDir } from '../cluster/local-cluster';
import { prepareGrf, registeredWorkers, type GrfJobSpec } from '../grf/submit';
import { retrying } from './temporal-retry';
import { loadCsr } from '../grf/assemble';
import { prepareKron, type KronGpJobSpec } from '../kron/submit';
import type { KronJobResult } from '@gramfleet/core';
import { createCampaignClient, type CampaignClient } from '../campaign/client';
import { createRaySdk, type RaySdk } from './ray';
import { eigenProHandle, prepareEigenPro, startEigenPro, type EigenProJobHandle, type EigenProJobSpec } from '../eigenpro/submit';
import { datagenHandle, submitDatagen, writeDataset, type DatagenJobHandle, type DatagenJobSpec, type DatasetManifest } from '../datagen/submit';
import type { DatagenJobInput, DatagenJobResult } from '@gramfleet/core';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Temporal frontend `host:port`. Without it, the local cluster is used. */
  readonly temporalAddress?: string;
  /** NATS URL. Without it, the local cluster is used. */
  readonly natsUrl?: string;
  /** @default 'default' */
  readonly namespace?: string;
  /** @default 'gramfleet' */
  readonly taskQueue?: string;
  /** @default 'gf' */
  readonly prefix?: string;
  /** Local cluster directory. @default $GRAMFLEET_HOME or `<repo>/.gramfleet/local` */
  readonly dataDir?: string;
  /** Start a local cluster when none runs (it is stopped by `close()`). @default true */
  readonly startLocal?: boolean;
  /** WASM workers of a local cluster started here. @default number of cores */
  readonly workers?: number;
  /** Data-plane tunables of a local cluster started here. */
  readonly dataPlane?: DataPlaneOptions;
  /** Memory budget that submitted problems must fit, bytes. @default 8 GiB */
  readonly memoryBudgetBytes?: number;
  readonly log?: Logger;
}

export type { GrfJobSpec } from '../grf/submit';

/** Every job kind the SDK submits. */
export type JobSpec = GrfJobSpec;

/** A submitted job. */
export interface JobHandle<R> {
  readonly jobId: string;
  /** The workflow's progress (phase, shards done). */
  progress(): Promise<JobProgress>;
  /** Waits for the result; a failed job rejects with a {@link GramfleetError} carrying the code. */
  result(): Promise<R>;
  /** Cancels the job: outstanding shards are purged and workers drop them. */
  cancel(): Promise<void>;
}

/** A connection to a gramfleet cluster. */
export interface Fleet {
  /** Validates an EigenPro job, uploads its arrays and starts it; the handle streams per-epoch progress. */
  submit(spec: EigenProJobSpec): Promise<EigenProJobHandle>;
  /** Validates a job, uploads its inputs and starts it. Bad input throws before anything is scheduled. */
  submit(spec: JobSpec): Promise<JobHandle<GrfJobResult>>;
  /** A handle for a job submitted earlier. */
  job(jobId: string): JobHandle<GrfJobResult>;
  /** Validates a Kronecker GP job, uploads its arrays and starts it (bad input throws first). */
  submitKron(spec: KronGpJobSpec): Promise<JobHandle<KronJobResult>>;
  /** Reads a stored array. */
  getArray(ref: ArrayRef): Promise<NdArray>;
  /** Reads a stored CSR matrix (e.g. Φ from a GRF result). */
  getCsr(ref: CsrRef): Promise<CsrArrays>;
  /** Workers currently registered (heartbeating). */
  workers(): Promise<WorkerRecord[]>;
  /** The local cluster this connection started or attached to, if any. */
  readonly local: LocalCluster | undefined;
  /** Closes connections; stops the local cluster if this call started it. */
  close(): Promise<void>;
  /** Experiment campaigns: start, watch, results, cancel, list. */
  readonly campaigns: CampaignClient;
  /** Stores a value (arrays in the object store by reference; small values inline). */
  readonly put: RaySdk['put'];
  /** The value behind an object or task reference. */
  readonly get: RaySdk['get'];
  /** Checks and stores a user's WebAssembly module; returns its content digest. */
  readonly registerWasm: RaySdk['registerWasm'];
  /** One sandboxed task per input on the WASM workers. */
  readonly map: RaySdk['map'];
  /** Waits until some references are ready. */
  readonly wait: RaySdk['wait'];
  /** Validates, sorts and chunks a data-generation job and starts it (or attaches to the same job already running). */
  submitDatagen(spec: DatagenJobSpec): Promise<DatagenJobHandle>;
  /** A handle for a data-generation job submitted earlier. */
  datagenJob(jobId: string): DatagenJobHandle;
  /** Writes a finished data-generation job's dataset (`.npy` shards + manifest) into a folder. */
  writeDataset(input: DatagenJobInput, result: DatagenJobResult, outDir: string, o?: { storeSystems?: boolean }): Promise<DatasetManifest>;
}

/** Connects to a cluster (the local one unless addresses are given). */
export async function connect(o: ConnectOptions = {}): Promise<Fleet> {
  const log = o.log ?? silentLogger;
  let local: LocalCluster | undefined;
  let owned = false;
  let temporalAddress = o.temporalAddress;
  let natsUrl = o.natsUrl;
  let namespace = o.namespace ?? 'default';
  let taskQueue = o.taskQueue ?? 'gramfleet';
  let prefix = o.prefix ?? 'gf';
  if (temporalAddress === undefined || natsUrl === undefined) {
    const dataDir = o.dataDir ?? defaultDataDir();
    local = (await LocalCluster.attach(dataDir)) ?? undefined;
    if (local === undefined) {
      if (o.startLocal === false) throw new GramfleetError('CLUSTER_NOT_RUNNING', `no local cluster runs from ${dataDir}; start one with 'npx gramfleet up'`, { dataDir });
      log.info('starting a local cluster', { dataDir });
      local = await LocalCluster.start({ dataDir, ...(o.workers !== undefined ? { workers: o.workers } : {}), ...(o.dataPlane !== undefined ? { dataPlane: o.dataPlane } : {}), log });
      owned = true;
    }
    ({ temporalAddress, natsUrl, namespace, taskQueue, prefix } = local.state);
  }
  const names = resourceNames(prefix);
  const nc = await connectNats(natsUrl, 'gramfleet-sdk');
  const dp = await openDataPlane(nc, names, local?.state.dataPlane ?? o.dataPlane);
  const store = createArrayStore(dp.arrays, names.arraysBucket, { chunkBytes: dp.chunkBytes });
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace });
  const budget = o.memoryBudgetBytes ?? 8 * 1024 ** 3;
  const tasks = createTaskClient({ dp, log });
  const ray = createRaySdk(store, tasks);

  const fleet: Fleet = {
    local,
    campaigns: createCampaignClient({ client, nc, prefix, taskQueue }),
    put: ray.put, get: ray.get, registerWasm: ray.registerWasm, map: ray.map, wait: ray.wait,
    async submit(spec: JobSpec | EigenProJobSpec): Promise<JobHandle<GrfJobResult> & EigenProJobHandle> {
      if ((spec as { kind?: unknown }).kind === 'eigenpro') {
        let threads = 0;
        for await (const k of await dp.workers.keys()) { void k; threads++; }
        const input = await prepareEigenPro(spec as EigenProJobSpec, store, budget, threads || 1);
        await startEigenPro(client, taskQueue, input);
        log.info('job submitted', { jobId: input.jobId, n: input.shape.n, shards: input.params.shards });
        const base = handleFor(client, input.jobId);
        return { ...base, ...eigenProHandle(dp, input.jobId, base) } as JobHandle<GrfJobResult> & EigenProJobHandle;
      }
      if ((spec as { kind?: unknown }).kind !== 'grf') throw new GramfleetError('INPUT_INVALID', `kind must be 'grf', got ${String((spec as { kind?: unknown }).kind)}`, { field: 'kind' });
      const input = await prepareGrf(spec as GrfJobSpec, { dp, store, maxBytes: budget });
      await client.workflow.start('grfWorkflow', { taskQueue, workflowId: input.jobId, args: [input] });
      log.info('job submitted', { jobId: input.jobId, n: input.n, shardNodes: input.shardNodes });
      return handleFor(client, input.jobId) as JobHandle<GrfJobResult> & EigenProJobHandle;
    },
    job: (jobId: string) => handleFor(client, jobId),
    async submitKron(spec: KronGpJobSpec): Promise<JobHandle<KronJobResult>> {
      if ((spec as { kind?: unknown }).kind !== 'kron-gp') throw new GramfleetError('INPUT_INVALID', `kind must be 'kron-gp', got ${String((spec as { kind?: unknown }).kind)}`, { field: 'kind' });
      const input = await prepareKron(spec, store, budget);
      await client.workflow.start('kronGpWorkflow', { taskQueue, workflowId: input.jobId, args: [input] });
      log.info('job submitted', { jobId: input.jobId, shape: input.shape, route: input.route, slabs: input.slabs });
      return handleFor(client, input.jobId) as unknown as JobHandle<KronJobResult>;
    },
    getArray: (ref: ArrayRef) => store.get(ref),
    getCsr: (ref: CsrRef) => loadCsr(store, ref),
    workers: () => registeredWorkers(dp),
    submitDatagen: (spec: DatagenJobSpec) => submitDatagen({ client, taskQueue, store, fromTemporal }, spec),
    datagenJob: (jobId: string) => datagenHandle({ client, taskQueue, store, fromTemporal }, jobId),
    writeDataset: (input: DatagenJobInput, result: DatagenJobResult, outDir: string, wo?: { storeSystems?: boolean }) => writeDataset(store, input, result, outDir, wo),
    async close(): Promise<void> {
      await ray.close();
      await tasks.close();
      await connection.close().catch(() => undefined);
      await dp.close();
      if (owned) await local?.stop();
    },
  };
  return fleet;
}

function handleFor(client: Client, jobId: string): JobHandle<GrfJobResult> {
  const h: WorkflowHandle = client.workflow.getHandle(jobId);
  return {
    jobId,
    progress: () => retrying(() => h.query<JobProgress>('progress')),
    async result(): Promise<GrfJobResult> {
      try {
        return await retrying(() => h.result() as Promise<GrfJobResult>);
      } catch (e) {
        throw fromTemporal(e, jobId);
      }
    },
    async cancel(): Promise<void> {
      await retrying(() => h.cancel());
    },
  };
}

/** Maps a Temporal failure to a GramfleetError with the original code. */
export function fromTemporal(e: unknown, jobId: string): unknown {
  if (isGramfleetError(e)) return e;
  if (e instanceof WorkflowFailedError) {
    let c: unknown = e.cause;
    while (c !== undefined && c !== null) {
      if (c instanceof CancelledFailure) return new GramfleetError('JOB_CANCELLED', `job ${jobId} was cancelled`, { jobId });
      if (c instanceof TerminatedFailure) return new GramfleetError('JOB_CANCELLED', `job ${jobId} was terminated`, { jobId });
      if (c instanceof ApplicationFailure && isErrorCode(c.type)) {
        const details = (c.details?.[0] ?? {}) as Record<string, unknown>;
        return new GramfleetError(c.type, c.message, { ...details, jobId });
      }
      c = (c as { cause?: unknown }).cause;
    }
    return new GramfleetError('JOB_FAILED', `job ${jobId} failed: ${e.message}`, { jobId });
  }
  if (e instanceof WorkflowNotFoundError) return new GramfleetError('INPUT_INVALID', `no job ${jobId}`, { field: 'jobId', jobId });
  return e;
}

