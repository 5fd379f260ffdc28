/**
 * The Kronecker GP job: what the workflow receives ({@link KronJobInput}) and returns
 * ({@link KronJobResult}). Validation of the user's problem is `compileKronGp`
 * (core/src/kron/params.ts), run by the SDK before anything is scheduled.
 *
 * Two routes:
 * - `direct`: every hyperparameter candidate is one `kron-gp-solve` shard (a sweep fans out
 *   as independent shards); α, LML and the gradient come from the worker.
 * - `slab` (N too big for one worker, or asked for): factor eigendecompositions as
 *   `kron-factor` shards in parallel, then y split in slabs along axis 0; mode products on
 *   the slabs' whole axes run as `kron-slab` shards; the mode product along the split axis
 *   needs an all-to-all transpose (re-slab along axis 1), done through the object store by
 *   the `kronTranspose` activity, which reports the bytes it moved.
 */
import type { ArrayRef } from '../array';
import type { AxisKernel } from '../kron/kernels';
import type { KronSafeguards } from '../kron/gp';
import type { WorkerClass } from '../protocol';

/** One hyperparameter candidate. */
export interface KronHyper {
  readonly lengthscales: readonly number[];
  readonly outputscale: number;
  readonly noise: number;
}

/** Input of the Kronecker GP workflow (references only). */
export interface KronJobInput {
  readonly jobId: string;
  readonly shape: readonly number[];
  /** One 1-D f64 array per axis. */
  readonly axes: readonly ArrayRef[];
  /** y on the whole grid (direct route). */
  readonly y: ArrayRef;
  /** y split in slabs along axis 0 (slab route). */
  readonly ySlabs?: readonly ArrayRef[];
  /** Axis kernels (their lengthscales are those of candidate 0). */
  readonly kernels: readonly AxisKernel[];
  readonly candidates: readonly KronHyper[];
  readonly jitter: number;
  readonly eigFloor: number;
  readonly gradient: boolean;
  readonly route: 'direct' | 'slab';
  /** Slabs along axis 0 (and along axis 1 after the transpose). */
  readonly slabs: number;
  readonly cls: WorkerClass;
  readonly timeoutMs: number;
}

/** One candidate's answer. */
export interface KronCandidateResult {
  readonly hyper: KronHyper;
  readonly lml: number;
  readonly logdet: number;
  readonly gradient?: KronHyper;
  /** α on the grid, row-major. */
  readonly alpha: ArrayRef;
}

/** What a Kronecker GP job returns. */
export interface KronJobResult {
  readonly jobId: string;
  readonly n: number;
  readonly route: 'direct' | 'slab';
  readonly candidates: readonly KronCandidateResult[];
  /** Index of the candidate with the largest LML. */
  readonly best: number;
  readonly shards: number;
  /** Bytes the all-to-all transposes moved through the object store (slab route). */
  readonly bytesMoved: number;
  readonly backends: Readonly<Record<string, number>>;
  readonly workers: Readonly<Record<string, number>>;
  readonly safeguards?: KronSafeguards;
}

/** Input of the `kronTranspose` activity: slabs along `from` re-cut along `to`. */
export interface KronTransposeInput {
  readonly jobId: string;
  readonly shape: readonly number[];
  readonly parts: readonly ArrayRef[];
  readonly from: number;
  readonly to: number;
  readonly count: number;
}

/** Output of `kronTranspose`. */
export interface KronTransposeOutput {
  readonly parts: readonly ArrayRef[];
  readonly bytesMoved: number;
}

/** Input of the `kronFinish` activity (slab route): LML from y, α and the factor eigenvalues. */
export interface KronFinishInput {
  readonly job: KronJobInput;
  /** α slabs along axis 0. */
  readonly alphaParts: readonly ArrayRef[];
  /** Per axis: [w, v, info] from `kron-factor`. */
  readonly factors: readonly (readonly ArrayRef[])[];
}

/** Contiguous [start, end) ranges of an axis of length n cut in `count` slabs. */
export function slabRanges(n: number, count: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let i = 0; i < count; i++) out.push({ start: Math.floor((i * n) / count), end: Math.floor(((i + 1) * n) / count) });
  return out.filter((r) => r.end > r.start);
}

/** Activities of the Kronecker GP workflow (implemented in orchestrator/). Add, never rename. */
export interface KronActivities {
  /** All-to-all transpose of slabs through the object store. */
  kronTranspose(input: KronTransposeInput): Promise<KronTransposeOutput>;
  /** Slab route: assembles α, computes the LML from the factor eigenvalues. */
  kronFinish(input: KronFinishInput): Promise<{ readonly candidate: KronCandidateResult; readonly safeguards: KronSafeguards }>;
  /** Reads small f64 arrays (shard stats) as plain numbers. */
  kronReadSmall(input: { readonly refs: readonly ArrayRef[] }): Promise<number[][]>;
}
