/**
 * The TypeScript SDK. `connect()` with no address attaches to the local cluster (starting
 * one, like `ray.init()`, when none runs); `submit(spec)` takes a spec of any workload kind
 * (a union discriminated by `kind`, see orchestrator/src/registry.ts), validates everything and
 * uploads the inputs before a workflow is started, and returns a {@link JobHandle}.
 */
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import {
  GramfleetError, checkParamNames, resourceNames, silentLogger,
  type ArrayRef, type CsrArrays, type CsrRef, type DatagenJobInput, type DatagenJobResult, type DatagenWorkflowResult, type Logger, type NdArray, type WorkerRecord,
} from '@gramfleet/core';
import { connectNats, createTaskClient, openArrayStore, openDataPlane, type DataPlaneOptions, type StoreTiersConfig } from '@gramfleet/workers';
import { LocalCluster, defaultDataDir } from '../cluster/local-cluster';
import { registeredWorkers } from '../grf/submit';
import { loadCsr } from '../grf/assemble';
import { createCampaignClient, type CampaignClient } from '../campaign/client';
import { writeDataset, type DatasetManifest } from '../datagen/submit';
import { releaseDatagenPages } from '../datagen/pages';
import { workloadFor, type JobKind, type JobSpec } from '../registry';
import type { WorkloadContext } from '../workload';
import { createRaySdk, type RaySdk } from './ray';
import { fromTemporal } from './failure';
import { createJobHandle, type JobHandle } from './handle';

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
  /**
   * Tiers of this connection's array store. @default the local cluster's host store (shared memory
   * with its workers), or the object store only for a remote cluster
   */
  readonly store?: StoreTiersConfig;
  readonly log?: Logger;
}

/** A connection to a gramfleet cluster. */
export interface Fleet {
  /**
   * Validates a job of any kind (`grf`, `eigenpro`, `kron-gp`, `datagen`: the spec's `kind`),
   * reads and uploads its inputs and starts its workflow; bad input throws a typed error naming
   * the field before anything is scheduled. A `datagen` job whose id already runs (the same
   * parameters submitted again) is attached to, so a rerun resumes.
   */
  submit<S extends JobSpec>(spec: S): Promise<JobHandle<S['kind']>>;
  /** A handle for a job of kind `kind` submitted earlier. */
  job<K extends JobKind>(kind: K, jobId: string): JobHandle<K>;
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
  /** Writes a finished data-generation job's dataset (`.npy` shards + manifest) into a folder. */
  writeDataset(input: DatagenJobInput, result: DatagenJobResult, outDir: string, o?: { storeSystems?: boolean }): Promise<DatasetManifest>;
  /**
   * Deletes a finished data-generation job's result pages from the object store (once its
   * dataset is written; the CLI does it). Returns how many were deleted; idempotent.
   * Afterwards the job's `result()` fails with `STORE_MISSING_OBJECT` until it is submitted
   * again, which rewrites the pages without solving anything again.
   */
  releaseDatagenPages(jobId: string): Promise<number>;
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
  const hs = local?.state.hostStore;
  const arrays = await openArrayStore(dp, o.store ?? (hs !== undefined ? { hostDir: hs.dir, hostBytes: hs.maxBytes } : {}), log);
  const store = arrays.store;
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace });
  const budget = o.memoryBudgetBytes ?? 8 * 1024 ** 3;
  const tasks = createTaskClient({ dp, log });
  const ray = createRaySdk(store, tasks);

  const ctx: WorkloadContext = { dp, store, memoryBudgetBytes: budget, workers: () => tasks.workers() };

  const fleet: Fleet = {
    local,
    campaigns: createCampaignClient({ client, nc, prefix, taskQueue }),
    put: ray.put, get: ray.get, registerWasm: ray.registerWasm, map: ray.map, wait: ray.wait,
    submit: (async (spec: JobSpec): Promise<JobHandle> => {
      if (typeof spec !== 'object' || spec === null) throw new GramfleetError('INPUT_INVALID', 'a job spec must be an object with a kind', { field: 'kind' });
      const w = workloadFor(spec.kind);
      checkParamNames(w.def, spec as unknown as Readonly<Record<string, unknown>>, 'sdk');
      const input = await w.prepare(spec, ctx);
      try {
        await client.workflow.start(w.def.workflowType, { taskQueue, workflowId: input.jobId, args: [input] });
      } catch (e) {
        if (!(w.attachToRunning === true && e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      }
      log.info('job submitted', { jobId: input.jobId, kind: w.def.kind, ...w.summary(input) });
      return createJobHandle(w, input.jobId, { client, ctx });
    }) as Fleet['submit'],
    job: <K extends JobKind>(kind: K, jobId: string) => createJobHandle<K>(workloadFor(kind), jobId, { client, ctx }),
    getArray: (ref: ArrayRef) => store.get(ref),
    getCsr: (ref: CsrRef) => loadCsr(store, ref),
    workers: () => registeredWorkers(dp),
    writeDataset: (input: DatagenJobInput, result: DatagenJobResult, outDir: string, wo?: { storeSystems?: boolean }) => writeDataset(store, input, result, outDir, wo),
    async releaseDatagenPages(jobId: string): Promise<number> {
      let r: DatagenWorkflowResult;
      try {
        r = (await client.workflow.getHandle(jobId).result()) as DatagenWorkflowResult;
      } catch (e) {
        throw fromTemporal(e, jobId);
      }
      return releaseDatagenPages(store, r);
    },
    async close(): Promise<void> {
      await ray.close();
      await tasks.close();
      await connection.close().catch(() => undefined);
      await arrays.close();
      await dp.close();
      if (owned) await local?.stop();
    },
  };
  return fleet;
}
