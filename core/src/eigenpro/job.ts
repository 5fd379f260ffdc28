/**
 * The EigenPro job contracts: what the workflow receives ({@link EigenProJobInput}, array
 * references only), what the training activity returns ({@link EigenProJobResult}), the
 * activity interface, and the progress events a client reads per epoch.
 */
import type { ArrayRef } from '../array';
import type { CompiledEigenProParams, EigenProDataShape } from './params';
import type { EpochMetrics } from './train';
import type { EigenPro3Plan } from './ep3-plan';
import type { EigenPro3ProjectionSummary } from './ep3-train';
import type { WorkerClass } from '../protocol';

/** Input of the EigenPro workflow and its training activity. */
export interface EigenProJobInput {
  readonly jobId: string;
  readonly params: CompiledEigenProParams;
  readonly shape: EigenProDataShape;
  /** Training rows n × d: f64, or u8 bytes when {@link EigenProJobInput.featureScale} is set. */
  readonly x: ArrayRef;
  /** Class ids (i32, n) for classification, targets (f64, n × c) for regression. */
  readonly y: ArrayRef;
  /** Test rows, stored like `x`. */
  readonly xTest?: ArrayRef;
  readonly yTest?: ArrayRef;
  /**
   * Set when the features are bytes (images): `x` and `xTest` are u8 and the features are their
   * values times this scale (1/255 or 1; core/src/jobs/feature-bytes.ts), exactly.
   */
  readonly featureScale?: number;
  readonly cls: WorkerClass;
  /** Wall-clock limit of the job, ms. */
  readonly timeoutMs: number;
  /** Heartbeat timeout of the training activity, ms. @default 15000 */
  readonly heartbeatTimeoutMs?: number;
  /** EigenPro 3/4: the centers Z (p × d, f64); absent for EigenPro 2 (centers = training rows). */
  readonly centers?: ArrayRef;
  /** EigenPro 3/4: the projection picked before scheduling. */
  readonly projection?: EigenPro3Plan;
}

/** What the setup picked (reported to the user). */
export interface EigenProSetupSummary {
  readonly s: number;
  readonly q: number;
  readonly batch: number;
  readonly step: number;
  readonly gamma: number;
  readonly lambdaPrime: number;
  /** The first eigenvalues of K_SS/s (at most 10) and λ_q. */
  readonly topEigenvalues: readonly number[];
  readonly lambdaQ: number;
  readonly given: { readonly batch: boolean; readonly step: boolean; readonly q: boolean };
}

/** A progress event, published once per epoch (and once after the setup). */
export type EigenProProgressEvent =
  | {
      readonly kind: 'setup';
      readonly jobId: string;
      readonly setup: EigenProSetupSummary;
      readonly batchesPerEpoch: number;
      readonly projection?: EigenPro3ProjectionSummary;
    }
  | ({ readonly kind: 'epoch'; readonly jobId: string; readonly epochs: number } & EpochMetrics)
  | { readonly kind: 'checkpoint'; readonly jobId: string; readonly epoch: number; readonly batch: number }
  | { readonly kind: 'resumed'; readonly jobId: string; readonly epoch: number; readonly batch: number; readonly attempt: number };

/** Result of the training activity and of the workflow. */
export interface EigenProJobResult {
  readonly jobId: string;
  /** Coefficients p × c (f64). */
  readonly coefficients: ArrayRef;
  /** The centers (the training rows for EigenPro 2). */
  readonly centers: ArrayRef;
  /** Set when `centers` are u8 bytes (image features): the centers are their values times this. */
  readonly centersScale?: number;
  readonly kernel: CompiledEigenProParams['kernel'];
  readonly bandwidth: number;
  readonly task: CompiledEigenProParams['task'];
  readonly shape: EigenProDataShape;
  readonly setup: EigenProSetupSummary;
  readonly history: readonly EpochMetrics[];
  /** Where the last attempt started from, when it resumed a checkpoint. */
  readonly resumedFrom?: { readonly epoch: number; readonly batch: number };
  /** Activity attempt that finished. */
  readonly attempt: number;
  /** Checkpoints written by the finishing attempt. */
  readonly checkpoints: number;
  /** Shard tasks per worker (from the task stats). */
  readonly workers: Readonly<Record<string, number>>;
  /** Kernel rows served from the workers' kernel-row caches and rows computed, by the finishing attempt (f32 products on wasm workers), and the kernel entries of computed rows read from cached mirror rows. */
  readonly kernelRows?: { readonly hits: number; readonly misses: number; readonly mirroredEntries?: number };
  readonly trainMs: number;
  /** EigenPro 3/4: the projection that ran (solver, interval T, jitter of the factor). */
  readonly projection?: EigenPro3ProjectionSummary;
}

/** The EigenPro activity (implemented in orchestrator/). Names are part of history: add, never rename. */
export interface EigenProActivities {
  /** Runs the whole training loop; heartbeats and checkpoints; resumes a checkpoint when one exists. */
  trainEigenPro(input: EigenProJobInput): Promise<EigenProJobResult>;
}
