/**
 * The graph-random-features job: what a user asks for ({@link GrfParams}), what the
 * workflow receives ({@link GrfJobInput}) and what it returns ({@link GrfJobResult}).
 * Validation here runs before anything is scheduled; every error names its field.
 */
import type { ArrayRef, CsrRef } from '../array';
import { GramfleetError } from '../errors';
import { checkVarianceBound, modulation, parseKernelSpec, walkLengthCap, type GraphKernelSpec } from './kernels';
import type { WorkerClass } from '../protocol';
import { chunk, planRanges, shardId, type ShardSpec } from '../jobs/shards';
import type { RouteDecision } from '../jobs/routing';
import { int, num, oneOf } from '../validate';
import { compileVerifyFraction } from '../results';

/** Variance-reduction schemes for the walks. */
export const GRF_VARIANCE = ['none', 'antithetic', 'repelling'] as const;
/** `same-walk`: K̂ = ΦΦᵀ (PSD, biased on the diagonal); `independent`: K̂ = Φ₁Φ₂ᵀ (unbiased). */
export const GRF_ESTIMATORS = ['same-walk', 'independent'] as const;

/** The numerical parameters of a GRF job, as a user gives them. */
export interface GrfParams {
  /** Kernel: a kind name (`reg-laplacian` means d = 1) or a full spec. */
  readonly kernel: string | GraphKernelSpec;
  /** c in W = c·D^{-1/2} A D^{-1/2}. */
  readonly scale: number;
  /** Walkers per node, m ≥ 1. */
  readonly walks: number;
  /** Halting probability in (0, 1). */
  readonly pHalt: number;
  /** @default 0 */
  readonly seed?: number;
  /** @default 'none' */
  readonly variance?: (typeof GRF_VARIANCE)[number];
  /** @default 'same-walk' */
  readonly estimator?: (typeof GRF_ESTIMATORS)[number];
  /** Origins per shard. @default chosen from n */
  readonly shardNodes?: number;
  /** Shards per Temporal activity. @default the shards over 8 activities, at least 64 a batch (one activity up to 64 shards) */
  readonly batchShards?: number;
  /** Activities in flight at once. @default 4 */
  readonly window?: number;
  /**
   * Verification: this fraction of shards, chosen by a hash of job and shard id, runs again on a
   * second worker and differing bytes fail the job with VERIFY_MISMATCH naming both workers
   * (core/src/results.ts). @default none
   */
  readonly verify?: number;
}

/** Validated parameters with the modulation function computed. */
export interface CompiledGrfParams {
  readonly kernel: GraphKernelSpec;
  readonly scale: number;
  readonly walks: number;
  readonly pHalt: number;
  readonly seed: number;
  readonly variance: (typeof GRF_VARIANCE)[number];
  readonly estimator: (typeof GRF_ESTIMATORS)[number];
  readonly f: readonly number[];
  readonly streams: readonly number[];
  readonly shardNodes: number | undefined;
  /** Shards per batch; undefined: {@link grfBatchShards} picks it from the shard count. */
  readonly batchShards: number | undefined;
  readonly window: number;
  /** Fraction of shards run again on a second worker ({@link GrfParams.verify}); absent: none. */
  readonly verify?: number;
}

/** Validates GRF parameters; throws a typed error naming the field and its bound. */
export function compileGrfParams(p: GrfParams): CompiledGrfParams {
  const raw = typeof p.kernel === 'string' ? (p.kernel === 'reg-laplacian' ? { kind: 'reg-laplacian', d: 1 } : { kind: p.kernel }) : p.kernel;
  const kernel = parseKernelSpec(raw, 'kernel');
  const walks = int('walks', p.walks, 1, 65536);
  const pHalt = num('pHalt', p.pHalt, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  const scale = num('scale', p.scale, { min: 0, minExclusive: true });
  const seed = int('seed', p.seed ?? 0, 0, Number.MAX_SAFE_INTEGER);
  const variance = oneOf('variance', p.variance ?? 'none', GRF_VARIANCE);
  const estimator = oneOf('estimator', p.estimator ?? 'same-walk', GRF_ESTIMATORS);
  if (variance === 'antithetic' && walks % 2 !== 0) {
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `walks must be even with variance=antithetic (walkers come in pairs), got ${walks}`, {
      field: 'walks',
      bound: 'even',
      value: walks,
    });
  }
  checkVarianceBound(kernel, scale, pHalt);
  const f = Array.from(modulation(kernel, walkLengthCap(pHalt) + 1));
  const shardNodes = p.shardNodes === undefined ? undefined : int('shardNodes', p.shardNodes, 1, 1 << 24);
  const verify = compileVerifyFraction(p.verify, 'verify');
  return Object.freeze({
    kernel,
    scale,
    walks,
    pHalt,
    seed,
    variance,
    estimator,
    f,
    streams: estimator === 'independent' ? [0, 1] : [0],
    shardNodes,
    batchShards: p.batchShards === undefined ? undefined : int('batchShards', p.batchShards, 1, GRF_MAX_BATCH_SHARDS),
    window: int('window', p.window ?? 4, 1, 64),
    ...(verify !== undefined && verify > 0 ? { verify } : {}),
  });
}

/** Shard size for n nodes when the user gave none: about 8 shards per worker thread. */
export function defaultShardNodes(n: number, workerThreads: number): number {
  return Math.max(16, Math.min(8192, Math.ceil(n / Math.max(1, 8 * workerThreads))));
}

/**
 * Shards per batch (one Temporal activity each): the user's `batchShards`, else the shards over
 * about 8 batches and at least 64 a batch, so that a small job is one activity and a large one
 * reports progress (and keeps its finished batches) a few times along the way.
 */
export function grfBatchShards(shards: number, batchShards: number | undefined): number {
  return batchShards ?? Math.max(64, Math.ceil(shards / 8));
}

/** The most shards a batch gets by default (and the bound on `batchShards`). */
export const GRF_MAX_BATCH_SHARDS = 4096;

/**
 * The `batchShards` a job is submitted with when the user gave none: {@link grfBatchShards}'s
 * choice up to {@link GRF_MAX_BATCH_SHARDS}. Above it (more than 32,768 shards) one batch would
 * hold its shards' promises, results and rows in one activity for minutes (10⁶ shards made
 * 125,000-shard batches that starved their own heartbeats); the cap is written into the input at
 * submit, so a job submitted before it (no `batchShards`) replays with the plan it started with.
 */
export function grfSubmitBatchShards(shards: number, batchShards: number | undefined): number | undefined {
  if (batchShards !== undefined) return batchShards;
  const auto = grfBatchShards(shards, undefined);
  return auto > GRF_MAX_BATCH_SHARDS ? GRF_MAX_BATCH_SHARDS : undefined;
}

/** The shards of a GRF job in order: node ranges of `shardNodes`, with the walk attributes. Derived from the job alone. */
export function grfShards(job: GrfJobInput): ShardSpec[] {
  const p = job.params;
  return planRanges(job.n, job.shardNodes).map((r, i) => ({
    shardId: shardId(i),
    attrs: { seed: p.seed, walks: p.walks, pHalt: p.pHalt, f: p.f, streams: p.streams, variance: p.variance, nodeStart: r.start, nodeEnd: r.end },
  }));
}

/** The batches of a GRF job: its shards in consecutive groups of {@link grfBatchShards}. */
export function grfBatches(job: GrfJobInput): ShardSpec[][] {
  const shards = grfShards(job);
  return chunk(shards, grfBatchShards(shards.length, job.params.batchShards));
}

/** The number of shards in each batch of a GRF job ({@link grfBatches}' lengths, without building the shards). */
export function grfBatchSizes(job: GrfJobInput): number[] {
  const shards = Math.ceil(job.n / job.shardNodes);
  const per = grfBatchShards(shards, job.params.batchShards);
  return Array.from({ length: Math.ceil(shards / per) }, (_, b) => Math.min(per, shards - b * per));
}

/** Batch `batch` of a GRF job (`grfBatches(job)[batch]`), built alone: O(batch), not O(job). Undefined past the last. */
export function grfBatch(job: GrfJobInput, batch: number): ShardSpec[] | undefined {
  const shards = Math.ceil(job.n / job.shardNodes);
  const per = grfBatchShards(shards, job.params.batchShards);
  if (!Number.isInteger(batch) || batch < 0 || batch * per >= shards) return undefined;
  const p = job.params;
  const out: ShardSpec[] = [];
  for (let i = batch * per; i < Math.min(shards, (batch + 1) * per); i++) {
    const start = i * job.shardNodes;
    out.push({
      shardId: shardId(i),
      attrs: {
        seed: p.seed,
        walks: p.walks,
        pHalt: p.pHalt,
        f: p.f,
        streams: p.streams,
        variance: p.variance,
        nodeStart: start,
        nodeEnd: Math.min(job.n, start + job.shardNodes),
      },
    });
  }
  return out;
}

/** Input of the GRF workflow (references only; no arrays). */
export interface GrfJobInput {
  readonly jobId: string;
  readonly n: number;
  readonly nnz: number;
  /** CSR of the normalised graph: indptr, indices, W values. */
  readonly graph: { readonly indptr: ArrayRef; readonly indices: ArrayRef; readonly weights: ArrayRef };
  readonly labels?: ArrayRef;
  readonly params: CompiledGrfParams;
  readonly shardNodes: number;
  readonly cls: WorkerClass;
  /** Label spreading on the features, when labels are given. */
  readonly labelSpreading?: { readonly trainFraction: number; readonly seed: number };
  /** Wall-clock limit of the whole job, ms. */
  readonly timeoutMs: number;
  /** How `cls` was chosen (backend wasm | gpu | auto); shown in progress and result. */
  readonly route?: RouteDecision;
}

/** What a GRF job returns. */
export interface GrfJobResult {
  readonly jobId: string;
  readonly n: number;
  /** Φ (same-walk) or [Φ₁, Φ₂] (independent), as CSR in the object store. */
  readonly phi: readonly CsrRef[];
  readonly nnz: readonly number[];
  readonly shards: number;
  /** Result messages for shards that already had one; each shard is counted once regardless. */
  readonly duplicateResults: number;
  /** Task messages published over all attempts. */
  readonly publishedTasks: number;
  /** Shards per backend and per worker, from the shards' own stats. */
  readonly backends: Readonly<Record<string, number>>;
  readonly workers: Readonly<Record<string, number>>;
  readonly computeMs: number;
  /** Shards run again on a second worker with the same bytes (`verify`); absent without verification. */
  readonly verifiedShards?: number;
  readonly labelSpreading?: { readonly accuracy: number; readonly train: number; readonly test: number };
  /** The routing decision (which worker class ran the shards, and why). */
  readonly route?: RouteDecision;
}

/** Φ and the extras, as the assembly step gives them (the workflow adds the counts). */
export type GrfAssembled = Omit<GrfJobResult, 'shards' | 'duplicateResults' | 'publishedTasks' | 'backends' | 'workers' | 'computeMs' | 'verifiedShards'>;

/** Input of the `runGrfBatch` activity: batch `batch` of {@link grfBatches}(job). */
export interface GrfBatchInput {
  readonly job: GrfJobInput;
  readonly batch: number;
  /** The job is this one batch: assemble and store Φ in the same activity. */
  readonly finish: boolean;
}

/**
 * What a batch reports to the workflow: counts only. Its rows of Φ stay with the process that
 * ran it (a claim check by job and batch); the assembly reads them there or, when that process
 * is gone, runs the batch's shards again (same seeds, same bytes).
 */
export interface GrfBatchOutput {
  readonly batch: number;
  readonly shards: number;
  /** Shard sends, retries included. */
  readonly published: number;
  /** Results that arrived for shards already answered. */
  readonly duplicates: number;
  readonly backends: Readonly<Record<string, number>>;
  readonly workers: Readonly<Record<string, number>>;
  readonly computeMs: number;
  /** Shards of the batch run again on a second worker with the same bytes (verification). */
  readonly verified?: number;
  /** With `finish`: Φ assembled and stored. */
  readonly assembled?: GrfAssembled;
}

/** Input of the `assembleGrfBatches` activity. */
export interface GrfAssembleBatchesInput {
  readonly job: GrfJobInput;
  readonly batches: number;
}

/** The GRF workflow's own activities (hosted by the GRF workload, orchestrator/src/grf/batches.ts). */
export interface GrfActivities {
  /** Runs one batch of a GRF job's shards and keeps its rows of Φ (with `finish`, assembles and stores Φ). */
  runGrfBatch(input: GrfBatchInput): Promise<GrfBatchOutput>;
  /** Stacks the kept rows of every batch (running a batch again where they are gone) into Φ and stores it. */
  assembleGrfBatches(input: GrfAssembleBatchesInput): Promise<GrfAssembled>;
}

/** Input of the GRF assembly activity. */
export interface GrfAssembleInput {
  readonly job: GrfJobInput;
  /** Per shard in order: the 3 × streams output refs. */
  readonly shardOutputs: readonly (readonly ArrayRef[])[];
}
