/**
 * The TypeScript SDK. `connect()` with no address attaches to the local cluster (starting
 * one, like `ray.init()`, when none runs); `submit(spec)` validates everything and uploads
 * the inputs before a workflow is started, and returns a {@link JobHandle}.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { Client, Connection, WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure } from '@temporalio/common';
import {
  GramfleetError, compileGrfParams, defaultShardNodes, isErrorCode, isGramfleetError, normalisedWeights, num, resourceNames, silentLogger, validateGraph,
  parseBackendChoice, routeOp, type BackendChoice,
  type ArrayRef, type CsrArrays, type CsrRef, type GrfJobInput, type GrfJobResult, type GrfParams, type JobProgress, type Logger, type NdArray, type WorkerClass, type WorkerRecord,
} from '@gramfleet/core';
import { connectNats, createArrayStore, openDataPlane, type ArrayStore, type DataPlane, type DataPlaneOptions } from '@gramfleet/workers';
import { LocalCluster, defaultDataDir } from './cluster/local-cluster';
import { loadGraph } from './io/graph-files';
import { loadCsr } from './grf-assemble';
import { prepareKron, type KronGpJobSpec } from './kron-submit';
import type { KronJobResult } from '@gramfleet/core';
import { createCampaignClient, type CampaignClient } from './campaign/client';
import { createRaySdk, type RaySdk } from './ray';
import { eigenProHandle, prepareEigenPro, startEigenPro, type EigenProJobHandle, type EigenProJobSpec } from './eigenpro/submit';
import { datagenHandle, submitDatagen, writeDataset, type DatagenJobHandle, type DatagenJobSpec, type DatasetManifest } from './datagen';
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

/** A graph-random-features job as submitted through the SDK. */
export interface GrfJobSpec extends GrfParams {
  readonly kind: 'grf';
  /** A graph file (`.npz` scipy CSR, `.adjlist`, `.mtx`) or an in-memory symmetric CSR. */
  readonly graph: string | CsrArrays;
  /** Node labels for label spreading (taken from the `.npz` when it has them). */
  readonly labels?: Int32Array;
  /** Run label spreading on the features, with this fraction of nodes labelled. */
  readonly labelSpreading?: { readonly trainFraction?: number; readonly seed?: number };
  /**
   * Where the shards run: `'wasm'`, `'gpu'` (refused with `CLUSTER_NO_GPU_WORKER` when no GPU
   * worker with the op is registered) or `'auto'` (GPU when one is registered, else WASM).
   * @default 'auto'
   */
  readonly backend?: BackendChoice | WorkerClass;
  /** Job id (letters, digits, `-`, `_`). @default random */
  readonly jobId?: string;
  /** Whole-job time limit, ms. @default 6 h */
  readonly timeoutMs?: number;
}

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
  const store = createArrayStore(dp.arrays, names.arraysBucket);
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace });
  const budget = o.memoryBudgetBytes ?? 8 * 1024 ** 3;
  const ray = createRaySdk(dp, store);

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
      const input = await prepareGrf(spec as GrfJobSpec, dp, store, budget);
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
      await connection.close().catch(() => undefined);
      await dp.close();
      if (owned) await local?.stop();
    },
  };
  return fleet;

  async function prepareGrf(spec: GrfJobSpec, d: DataPlane, st: ArrayStore, maxBytes: number): Promise<GrfJobInput> {
    const params = compileGrfParams(spec);
    const requested = parseBackendChoice(spec.backend, 'backend');
    const jobId = spec.jobId ?? `grf-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(jobId)) throw new GramfleetError('INPUT_INVALID', `jobId must be 1–100 letters, digits, '-' or '_', got ${JSON.stringify(jobId)}`, { field: 'jobId' });
    const timeoutMs = num('timeoutMs', spec.timeoutMs ?? 6 * 3600_000, { min: 1000 });
    let csr: CsrArrays;
    let labels = spec.labels;
    if (typeof spec.graph === 'string') {
      const g = await loadGraph(spec.graph, { maxBytes });
      csr = g.csr;
      labels ??= g.labels;
    } else {
      csr = spec.graph;
      validateGraph(csr, { maxBytes });
    }
    const n = csr.shape[0];
    // Φ memory: each walker visits ~1/pHalt nodes; budget the assembled features.
    const phiBytes = n * Math.min(n, Math.ceil(params.walks / params.pHalt)) * 12 * params.streams.length;
    if (phiBytes > maxBytes) {
      throw new GramfleetError('INPUT_TOO_LARGE', `graph: features for n=${n}, walks=${params.walks}, pHalt=${params.pHalt} need about ${phiBytes} bytes, above the memory budget of ${maxBytes} bytes`, { field: 'graph', needBytes: phiBytes, budgetBytes: maxBytes });
    }
    if (labels !== undefined && labels.length !== n) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `labels has ${labels.length} entries, the graph has ${n} nodes`, { field: 'labels' });
    if (spec.labelSpreading !== undefined && labels === undefined) throw new GramfleetError('INPUT_INVALID', 'labelSpreading needs labels (in the .npz or as spec.labels)', { field: 'labels' });
    const trainFraction = spec.labelSpreading === undefined ? undefined : num('labelSpreading.trainFraction', spec.labelSpreading.trainFraction ?? 0.1, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
    let threads = 0;
    for await (const k of await d.workers.keys()) { void k; threads++; }
    const route = routeOp(requested, 'grf-walks', await registeredWorkers(d), Date.now(), d.options.workerTtlMs);
    const shardNodes = params.shardNodes ?? defaultShardNodes(n, threads || os.cpus().length);
    const weights = normalisedWeights(csr, params.scale);
    const graph = {
      indptr: await st.put({ dtype: 'i32', shape: [csr.indptr.length], data: csr.indptr }),
      indices: await st.put({ dtype: 'i32', shape: [csr.indices.length], data: csr.indices }),
      weights: await st.put({ dtype: 'f64', shape: [weights.length], data: weights }),
    };
    const labelsRef = labels === undefined ? undefined : await st.put({ dtype: 'i32', shape: [labels.length], data: labels });
    return {
      jobId, n, nnz: csr.indices.length, graph, params, shardNodes, cls: route.cls, route, timeoutMs,
      ...(labelsRef !== undefined ? { labels: labelsRef } : {}),
      ...(trainFraction !== undefined ? { labelSpreading: { trainFraction, seed: spec.labelSpreading?.seed ?? 0 } } : {}),
    };
  }
}

/** Workers currently in the registry (heartbeating). */
async function registeredWorkers(dp: DataPlane): Promise<WorkerRecord[]> {
  const out: WorkerRecord[] = [];
  for await (const k of await dp.workers.keys()) {
    const e = await dp.workers.get(k);
    if (e !== null && e.operation === 'PUT') out.push(e.json<WorkerRecord>());
  }
  return out;
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

/** Retries a Temporal client call while the server is unavailable (e.g. restarting). */
async function retrying<T>(f: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (let wait = 200; ; wait = Math.min(wait * 2, 3_000)) {
    try {
      return await f();
    } catch (e) {
      const msg = (e as Error).message ?? '';
      const transient = /UNAVAILABLE|ECONNREFUSED|connection|transport|Deadline|deadline|14 /.test(msg) && !(e instanceof WorkflowFailedError);
      if (!transient || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
