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
import type { AxisKernel } from './kernels';
import type { KronSafeguards } from './gp';
import type { KronFitOptions } from './optimize';
import type { WorkerClass } from '../protocol';
import type { JobProgress } from '../jobs/shards';

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
  /** Incomplete grid: u8, 1 = observed, length N (PCG in the `kronCgSolve` activity). */
  readonly mask?: ArrayRef;
  /** Heteroscedastic noise σ_i², f64, length N (PCG in the `kronCgSolve` activity). */
  readonly noiseVector?: ArrayRef;
  /** PCG stopping rule. */
  readonly cg?: { readonly tol: number; readonly maxIter: number };
  /** Fit the hyperparameters from candidate 0 (direct route: the `kronFit` activity; slab route: the workflow drives the optimiser); the result holds the fitted candidate. */
  readonly fit?: { readonly optimizer: NonNullable<KronFitOptions['optimizer']>; readonly iters: number; readonly fixNoise: boolean };
  /** Heartbeat timeout of the long activities (PCG, fit). @default 30 s */
  readonly heartbeatTimeoutMs?: number;
}

/** Progress of a Kronecker GP job: the common {@link JobProgress} plus the stage and bytes moved. */
export interface KronProgress extends JobProgress {
  readonly stage: 'factors' | 'solving' | 'pcg' | 'fitting' | 'stage-a' | 'transpose' | 'stage-b' | 'stage-c' | 'finishing' | 'done' | 'failed';
  readonly bytesMoved: number;
  /**
   * A slab-route fit's steps so far (the workflow drives that optimiser, so its query answers
   * them; the direct-route fit and PCG publish {@link KronProgressEvent}s instead).
   */
  readonly fitSteps?: readonly KronFitStep[];
}

/** One accepted optimiser step of a fit: the LML and ‖∇_θ LML‖₂ (θ: the log hyperparameters). */
export interface KronFitStep {
  readonly iteration: number;
  readonly lml: number;
  readonly gradNorm: number;
}

/**
 * A progress event of the Kronecker GP long loops, published on the results stream under the
 * job's `progress` subject (as EigenPro's epochs): one `fit-step` per accepted optimiser step
 * of `kronFit`, one `pcg` per PCG iteration of `kronCgSolve` (relative residual ‖r‖/‖b‖). A
 * retried attempt publishes an iteration again; the last one counts.
 */
export type KronProgressEvent =
  | ({ readonly kind: 'fit-step'; readonly jobId: string; readonly attempt: number } & KronFitStep)
  | { readonly kind: 'pcg'; readonly jobId: string; readonly attempt: number; readonly iteration: number; readonly residual: number };

/** What a PCG solve on the cluster reports. */
export interface KronCgSummary {
  readonly iterations: number;
  /** Final ‖y_O − (K_OO + D)α_O‖/‖y_O‖ from a fresh mat-vec. */
  readonly residual: number;
  readonly converged: boolean;
  readonly observed: number;
  /** Rounds of worker mat-vecs (2 per iteration + setup). */
  readonly rounds: number;
  /** The iteration a retried activity resumed from (0: it never had to). */
  readonly resumedFrom: number;
}

/** What a hyperparameter fit on the cluster reports. */
export interface KronFitSummary {
  readonly optimizer: NonNullable<KronFitOptions['optimizer']>;
  readonly iterations: number;
  /** LML + gradient evaluations (one solve each, on the workers). */
  readonly evaluations: number;
  /** LML after each iteration. */
  readonly history: readonly number[];
  /** ‖∇_θ LML‖₂ after each iteration (θ: the log hyperparameters); absent in results of older builds. */
  readonly gradNorms?: readonly number[];
  /** The iteration a retried activity restarted from (0: it never had to). */
  readonly restartedFrom: number;
}

/** Output of the long Kronecker GP activities (`kronCgSolve`, `kronFit`). */
export interface KronLoopOutput {
  readonly candidate: KronCandidateResult;
  readonly cg?: KronCgSummary;
  readonly fit?: KronFitSummary;
  readonly shards: number;
  readonly bytesMoved: number;
  readonly workers: Readonly<Record<string, number>>;
  readonly safeguards?: KronSafeguards;
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
  /** PCG report (mask / heteroscedastic noise). */
  readonly cg?: KronCgSummary;
  /** Fit report (`fit` jobs). */
  readonly fit?: KronFitSummary;
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
  /** Gradient sums from the shards: stage b's [Σα̃², Σλα̃², quad_d for d ≠ 1 …] per slab, stage c's [quad_1] per slab. */
  readonly gradStats?: { readonly b: readonly ArrayRef[]; readonly c: readonly ArrayRef[] };
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

/** The long-running Kronecker GP activities (implemented in orchestrator/src/kron/loop.ts). Add, never rename. */
export interface KronLoopActivities {
  /** PCG on worker mat-vecs for a masked grid / heteroscedastic noise; heartbeats, checkpoints and resumes. */
  kronCgSolve(input: KronJobInput): Promise<KronLoopOutput>;
  /** L-BFGS / Adam on the exact LML, each evaluation a solve on the workers; restarts from the last iterate. */
  kronFit(input: KronJobInput): Promise<KronLoopOutput>;
}
