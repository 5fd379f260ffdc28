/**
 * What the EigenPro 2 and EigenPro 3/4 training activities share before and around their
 * loops: loading the job's arrays (heartbeating while large data loads), the targets, progress
 * events, and the checkpoint to resume from.
 */
import type { Context } from '@temporalio/activity';
import {
  resultSubject,
  expandFeatureBytes,
  type ArrayRef,
  type EigenProCheckpoint,
  type EigenProJobInput,
  type EigenProProgressEvent,
  type EigenProTargets,
  type Logger,
  type NdArray,
} from '@gramfleet/core';
import type { ArrayStore, DataPlane } from '@gramfleet/workers';
import { loadCheckpoint } from './checkpoint';
import { oneHotOf, rangeRows } from './rows';

/** Runs `f` while heartbeating `details` every second. */
export async function beating<T>(ctx: Context, details: Record<string, unknown>, f: () => Promise<T>): Promise<T> {
  const t = setInterval(() => ctx.heartbeat(details), 1_000);
  try {
    return await f();
  } finally {
    clearInterval(t);
  }
}

/** The job's training data as the loops use it. */
export interface TrainingData {
  /** n × d training features, row-major. */
  readonly x: Float64Array;
  readonly targets: EigenProTargets;
  /** The test features in the job's feature dtype (absent without a test set). */
  readonly xTestRef?: ArrayRef;
}

/**
 * Loads a job's features and labels. Loading and re-putting large data (60k × 784 features:
 * hundreds of MB) can outlast the heartbeat timeout, so it heartbeats while it runs; the test
 * features re-put in the feature dtype are pinned with `pin`.
 */
export async function loadTrainingData(ctx: Context, store: ArrayStore, input: EigenProJobInput, pin: (r: ArrayRef) => ArrayRef): Promise<TrainingData> {
  const { params, shape } = input;
  const { d, c } = shape;
  const fdt = params.featureDtype;
  const loading = <T>(f: () => Promise<T>): Promise<T> => beating(ctx, { phase: 'load' }, f);
  // Features stored as bytes (image data, EigenProJobInput.featureScale) expand to the same f64 values.
  const features = (a: NdArray): Float64Array => (input.featureScale !== undefined ? expandFeatureBytes(a.data, input.featureScale) : (a.data as Float64Array));
  const x = features(await loading(() => store.get(input.x)));
  const yArr = await store.get(input.y);
  const classification = params.task === 'classification';
  const labels = classification ? Int32Array.from(yArr.data as ArrayLike<number>) : undefined;
  const y = classification ? oneHotOf(labels as Int32Array, c) : Float64Array.from(yArr.data as ArrayLike<number>);
  if (input.xTest === undefined || input.yTest === undefined) return { x, targets: { y, ...(labels !== undefined ? { labels } : {}) } };
  const xt = await loading(() => store.get(input.xTest as ArrayRef));
  const xTestRef = fdt === 'f64' && xt.dtype === 'f64' ? input.xTest : pin(await loading(() => store.put(rangeRows(features(xt), d, 0, shape.nTest, fdt))));
  const yt = await store.get(input.yTest);
  const labelsTest = classification ? Int32Array.from(yt.data as ArrayLike<number>) : undefined;
  const yTest = labelsTest !== undefined ? oneHotOf(labelsTest, c) : Float64Array.from(yt.data as ArrayLike<number>);
  return {
    x,
    xTestRef,
    targets: { y, yTest, ...(labels !== undefined ? { labels } : {}), ...(labelsTest !== undefined ? { labelsTest } : {}) },
  };
}

/**
 * Publishes a job's progress events on the results stream under its `progress` subject (what
 * `watch` and the dashboard read); deduplicated by `id`; a failed publish is logged, not thrown.
 */
export function progressPublisher<E = EigenProProgressEvent>(dp: DataPlane, jobId: string, log: Logger): (ev: E, id: string) => Promise<void> {
  return async (ev, id) => {
    await dp.js
      .publish(resultSubject(dp.names.prefix, jobId, 'progress'), JSON.stringify(ev), { msgID: `progress:${jobId}:${id}` })
      .catch((e: Error) => log.warn('progress event not published', { jobId, err: e.message }));
  };
}

/** The job's last checkpoint, announcing the resume (a `resumed` event) when there is one. */
export async function resumeCheckpoint(
  dp: DataPlane,
  jobId: string,
  attempt: number,
  publish: (ev: EigenProProgressEvent, id: string) => Promise<void>,
  log: Logger,
): Promise<EigenProCheckpoint | null> {
  const resume = await loadCheckpoint(dp.arrays, jobId);
  if (resume !== null) {
    log.info('resuming from checkpoint', { jobId, epoch: resume.epoch, batch: resume.batch, attempt });
    await publish({ kind: 'resumed', jobId, epoch: resume.epoch, batch: resume.batch, attempt }, `resumed-${attempt}`);
  }
  return resume;
}
