/**
 * The steps the EigenPro 2 (ep2-activity.ts) and EigenPro 3/4 (ep3-activity.ts) training
 * activities share: opening the job (its objects, its activity context, its data), the
 * setup's eigensolve on a worker, symmetrising a kernel block, checkpoints and progress
 * events, and what is reported of the setup.
 */
import { Context } from '@temporalio/activity';
import {
  EIGENPRO_EIGEN_TOL,
  eigenSolverFor,
  topOfFullEigh,
  type ArrayRef,
  type EigenProCheckpoint,
  type EigenProJobInput,
  type EigenProProgressEvent,
  type EigenProSetup,
  type EigenProSetupSummary,
  type EpochMetrics,
  type TaskResult,
} from '@gramfleet/core';
import type { ActivityDeps } from '../host/activities';
import type { Dispatcher } from '../host/dispatch';
import { saveCheckpoint } from './checkpoint';
import { createTransientObjects, type TransientObjects } from './transient';
import { loadTrainingData, progressPublisher, resumeCheckpoint, type TrainingData } from './job-data';

/** The setup as reported to users. */
export function summariseSetup(s: EigenProSetup): EigenProSetupSummary {
  return {
    s: s.s,
    q: s.q,
    batch: s.batch,
    step: s.step,
    gamma: s.gamma,
    lambdaPrime: s.lambdaPrime,
    topEigenvalues: s.eigenvalues.slice(0, 10),
    lambdaQ: s.eigenvalues[s.q - 1] ?? 0,
    given: s.given,
  };
}

/** Balanced split of p rows into `k` contiguous ranges. */
export function shardRanges(p: number, k: number): { start: number; end: number }[] {
  return Array.from({ length: k }, (_, j) => ({ start: Math.floor((j * p) / k), end: Math.floor(((j + 1) * p) / k) }));
}

/** Averages K(i, j) and K(j, i) of an s × s block in place: the fused kernel rounds the two through different tiles. */
export function symmetrise(k: Float64Array, s: number): Float64Array {
  for (let i = 0; i < s; i++)
    for (let j = 0; j < i; j++) {
      const v = 0.5 * ((k[i * s + j] as number) + (k[j * s + i] as number));
      k[i * s + j] = v;
      k[j * s + i] = v;
    }
  return k;
}

/** A training job once opened: its activity context, its objects, and its data. */
export interface OpenedTrainingJob extends TrainingData {
  readonly input: EigenProJobInput;
  readonly ctx: Context;
  readonly attempt: number;
  /** When the activity started (ms since the epoch). */
  readonly t0: number;
  /** Objects deleted after use, and the job's long-lived objects that must never be (transient.ts). */
  readonly transient: TransientObjects;
  /** Keeps an object for the whole job; returns it. */
  readonly pin: (r: ArrayRef) => ArrayRef;
}

/**
 * Opens a training job: pins its input arrays (never deleted by the job) and loads its features
 * and targets, heartbeating while large data loads.
 */
export async function openTrainingJob(deps: ActivityDeps, input: EigenProJobInput): Promise<OpenedTrainingJob> {
  const { store } = deps;
  const transient = createTransientObjects((digest) => store.delete(digest));
  const pin = (r: ArrayRef): ArrayRef => transient.pin(r);
  for (const r of [input.x, input.y, input.xTest, input.yTest]) if (r !== undefined) pin(r);
  const ctx = Context.current();
  const t0 = Date.now();
  const data = await loadTrainingData(ctx, store, input, pin);
  return { ...data, input, ctx, attempt: ctx.info.attempt, t0, transient, pin };
}

/** How the setup's eigensolve reaches the store and the workers. */
export interface EigensolveIo {
  readonly dispatcher: Dispatcher;
  /** Puts the s × s matrix. */
  put(a: Float64Array, s: number): Promise<ArrayRef>;
  /** Output `i` of a task's result. */
  output(r: TaskResult | undefined, i: number): Promise<Float64Array>;
  /** Shard ids of the full eigensolve and of the top-k one. */
  readonly ids: { readonly eigh: string; readonly topk: string };
}

/**
 * The top r eigenpairs of the symmetric s × s `a` on a worker: the full `eigh` when r ≥ s/4
 * (eigenSolverFor), else `eigh-topk` to a 1e-4 Ritz residual.
 */
export async function topEigenpairsOnWorker(
  io: EigensolveIo,
  a: Float64Array,
  s: number,
  r: number,
  seed: number,
): Promise<{ w: Float64Array; v: Float64Array }> {
  const ar = await io.put(a, s);
  if (eigenSolverFor(s, r) === 'eigh') {
    const [full] = await io.dispatcher.run([{ shardId: io.ids.eigh, op: 'eigh', attrs: {}, inputs: [ar] }]);
    return topOfFullEigh(s, r, await io.output(full, 0), await io.output(full, 1));
  }
  // eigenSolverFor already chose between the two at this tolerance: keep the subspace iteration.
  const [res] = await io.dispatcher.run([
    { shardId: io.ids.topk, op: 'eigh-topk', attrs: { k: r, seed, tol: EIGENPRO_EIGEN_TOL, method: 'subspace' }, inputs: [ar] },
  ]);
  return { w: await io.output(res, 0), v: await io.output(res, 1) };
}

/** A job's progress events and checkpoints (one progress event per setup, checkpoint and epoch). */
export interface TrainingProgress {
  /** Publishes a progress event (deduplicated by `id`). */
  publish(ev: EigenProProgressEvent, id: string): Promise<void>;
  /** The checkpoint a retried attempt resumes from (announced with a `resumed` event), if any. */
  resume(): Promise<EigenProCheckpoint | null>;
  /** Saves the checkpoint `take` makes and announces it. */
  checkpoint(take: () => EigenProCheckpoint): Promise<void>;
  /** Logs and announces an epoch's metrics. */
  epochDone(m: EpochMetrics, epochs: number): Promise<void>;
  /** Checkpoints saved by this attempt. */
  readonly checkpoints: number;
}

/** The {@link TrainingProgress} of `job`. */
export function trainingProgress(deps: ActivityDeps, job: OpenedTrainingJob): TrainingProgress {
  const { dp, log } = deps;
  const jobId = job.input.jobId;
  const publish = progressPublisher(dp, jobId, log);
  let checkpoints = 0;
  return {
    publish,
    resume: () => resumeCheckpoint(dp, jobId, job.attempt, publish, log),
    async checkpoint(take) {
      const cp = take();
      await saveCheckpoint(dp.arrays, jobId, cp);
      checkpoints++;
      await publish({ kind: 'checkpoint', jobId, epoch: cp.epoch, batch: cp.batch }, `checkpoint-${cp.epoch}-${cp.batch}`);
    },
    async epochDone(m, epochs) {
      log.info('epoch done', { jobId, ...m });
      await publish({ kind: 'epoch', jobId, epochs, ...m }, `epoch-${m.epoch}`);
    },
    get checkpoints() {
      return checkpoints;
    },
  };
}
