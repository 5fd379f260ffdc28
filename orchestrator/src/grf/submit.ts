/**
 * Turning a GRF job spec into a workflow input: validation, the memory plan, routing and the
 * upload of the graph by digest. Shared by `Fleet.submit` and the campaign runner, so a run in
 * a campaign is prepared exactly like a job submitted on its own.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import {
  GramfleetError,
  compileGrfParams,
  defaultShardNodes,
  grfSubmitBatchShards,
  normalisedWeights,
  num,
  parseBackendChoice,
  routeOp,
  validateGraph,
  type BackendChoice,
  type CsrArrays,
  type GrfJobInput,
  type GrfJobResult,
  type GrfParams,
  type JobProgress,
  type WorkerClass,
  type WorkerRecord,
} from '@gramfleet/core';
import type { ArrayStore, DataPlane } from '@gramfleet/workers';
import { loadGraph, type LoadedGraph } from '../io/graph-files';

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

/** What {@link prepareGrf} reads and writes. */
export interface GrfPrepareDeps {
  readonly dp: DataPlane;
  readonly store: ArrayStore;
  /** Memory budget the job must fit, bytes. */
  readonly maxBytes: number;
  /** Checks on the loaded graph before anything is uploaded (e.g. a campaign's size cap). */
  readonly checkGraph?: (g: { readonly csr: CsrArrays; readonly labels?: Int32Array }) => void;
  /** The live workers from a view kept up to date; absent: the registry is read. */
  readonly workers?: () => Promise<WorkerRecord[]>;
}

/** Workers currently in the registry (heartbeating). */
export async function registeredWorkers(dp: DataPlane): Promise<WorkerRecord[]> {
  const out: WorkerRecord[] = [];
  for await (const k of await dp.workers.keys()) {
    const e = await dp.workers.get(k);
    if (e !== null && e.operation === 'PUT') out.push(e.json<WorkerRecord>());
  }
  return out;
}

/**
 * Validates a GRF spec (typed errors naming the field, before anything is scheduled), plans
 * its memory, routes it (wasm / gpu / auto) and uploads the graph; returns the workflow input.
 */
export async function prepareGrf(spec: GrfJobSpec, deps: GrfPrepareDeps): Promise<GrfJobInput> {
  const { dp, store, maxBytes } = deps;
  const params = compileGrfParams(spec);
  const requested = parseBackendChoice(spec.backend, 'backend');
  const jobId = spec.jobId ?? `grf-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(jobId))
    throw new GramfleetError('INPUT_INVALID', `jobId must be 1–100 letters, digits, '-' or '_', got ${JSON.stringify(jobId)}`, { field: 'jobId' });
  const timeoutMs = num('timeoutMs', spec.timeoutMs ?? 6 * 3600_000, { min: 1000 });
  let csr: CsrArrays;
  let labels = spec.labels;
  if (typeof spec.graph === 'string') {
    const g: LoadedGraph = await loadGraph(spec.graph, { maxBytes });
    csr = g.csr;
    labels ??= g.labels;
  } else {
    csr = spec.graph;
    validateGraph(csr, { maxBytes });
  }
  deps.checkGraph?.({ csr, ...(labels !== undefined ? { labels } : {}) });
  const n = csr.shape[0];
  // Φ memory: each walker visits ~1/pHalt nodes; budget the assembled features.
  const phiBytes = n * Math.min(n, Math.ceil(params.walks / params.pHalt)) * 12 * params.streams.length;
  if (phiBytes > maxBytes) {
    throw new GramfleetError(
      'INPUT_TOO_LARGE',
      `graph: features for n=${n}, walks=${params.walks}, pHalt=${params.pHalt} need about ${phiBytes} bytes, above the memory budget of ${maxBytes} bytes`,
      { field: 'graph', needBytes: phiBytes, budgetBytes: maxBytes },
    );
  }
  if (labels !== undefined && labels.length !== n)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `labels has ${labels.length} entries, the graph has ${n} nodes`, { field: 'labels' });
  if (spec.labelSpreading !== undefined && labels === undefined)
    throw new GramfleetError('INPUT_INVALID', 'labelSpreading needs labels (in the .npz or as spec.labels)', { field: 'labels' });
  const trainFraction =
    spec.labelSpreading === undefined
      ? undefined
      : num('labelSpreading.trainFraction', spec.labelSpreading.trainFraction ?? 0.1, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  const workers = await (deps.workers ?? (() => registeredWorkers(dp)))();
  const route = routeOp(requested, 'grf-walks', workers, Date.now(), dp.options.workerTtlMs);
  const shardNodes = params.shardNodes ?? defaultShardNodes(n, workers.length || os.cpus().length);
  const batchShards = grfSubmitBatchShards(Math.ceil(n / shardNodes), params.batchShards);
  const weights = normalisedWeights(csr, params.scale);
  // The arrays go to the store together (their round trips overlap), not one after another.
  const [indptr, indices, weightsRef, labelsRef] = await Promise.all([
    store.put({ dtype: 'i32', shape: [csr.indptr.length], data: csr.indptr }),
    store.put({ dtype: 'i32', shape: [csr.indices.length], data: csr.indices }),
    store.put({ dtype: 'f64', shape: [weights.length], data: weights }),
    labels === undefined ? undefined : store.put({ dtype: 'i32', shape: [labels.length], data: labels }),
  ]);
  const graph = { indptr, indices, weights: weightsRef };
  return {
    jobId,
    n,
    nnz: csr.indices.length,
    graph,
    params: batchShards === params.batchShards ? params : { ...params, batchShards },
    shardNodes,
    cls: route.cls,
    route,
    timeoutMs,
    ...(labelsRef !== undefined ? { labels: labelsRef } : {}),
    ...(trainFraction !== undefined ? { labelSpreading: { trainFraction, seed: spec.labelSpreading?.seed ?? 0 } } : {}),
  };
}

/** The types of the `grf` workload. */
export interface GrfTypes {
  readonly kind: 'grf';
  readonly spec: GrfJobSpec;
  readonly input: GrfJobInput;
  readonly result: GrfJobResult;
  readonly progress: JobProgress;
  readonly event: JobProgress;
}
