/**
 * Backend routing of a job's shards. A job asks for `backend`: `'wasm'`, `'gpu'` or
 * `'auto'`. `'auto'` sends the shards to the GPU task queue when a live GPU worker that
 * advertises the op is registered (worker registry KV), else to WASM. `'gpu'` with no such
 * worker is refused up front with `CLUSTER_NO_GPU_WORKER` (nothing is scheduled), rather than
 * queueing shards that nobody may ever pull. The decision is recorded in the job's progress
 * and result. Pure and workflow-safe.
 */
import { GramfleetError } from '../errors';
import type { WorkerClass, WorkerRecord } from '../protocol';
import { oneOf } from '../validate';

/** What a job may ask for. */
export const BACKEND_CHOICES = ['auto', 'wasm', 'gpu'] as const;
/** A backend request. */
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** The routing decision of a job, as shown in its progress and result. */
export interface RouteDecision {
  /** What the job asked for. */
  readonly requested: BackendChoice;
  /** The worker class whose task queue gets the shards. */
  readonly cls: WorkerClass;
  /** Why, in words (e.g. "auto: no GPU worker registered with op grf-walks"). */
  readonly reason: string;
  /** Live GPU workers advertising the op when the decision was taken. */
  readonly gpuWorkers: readonly string[];
}

/** Validates a backend request; throws `INPUT_INVALID` naming `field`. */
export function parseBackendChoice(value: unknown, field = 'backend'): BackendChoice {
  return oneOf(field, value ?? 'auto', BACKEND_CHOICES);
}

/**
 * Live GPU workers that can run `op`: class `gpu`, a device description, the op among their
 * ops, and a heartbeat younger than `maxAgeMs` at `now`.
 */
export function gpuWorkersFor(op: string, workers: readonly WorkerRecord[], now: number, maxAgeMs: number): WorkerRecord[] {
  return workers.filter((w) => w.cls === 'gpu' && w.device !== undefined && w.ops.includes(op) && now - w.beatAt <= maxAgeMs);
}

/** Decides the worker class for a job's `op` shards (see the module documentation). */
export function routeOp(requested: BackendChoice, op: string, workers: readonly WorkerRecord[], now: number, maxAgeMs: number): RouteDecision {
  const gpus = gpuWorkersFor(op, workers, now, maxAgeMs)
    .map((w) => w.workerId)
    .sort();
  if (requested === 'wasm') return { requested, cls: 'wasm', reason: 'wasm requested', gpuWorkers: gpus };
  if (requested === 'gpu') {
    if (gpus.length === 0) {
      throw new GramfleetError(
        'CLUSTER_NO_GPU_WORKER',
        `backend is 'gpu' but no live GPU worker with op ${op} is registered; start a GPU worker or use backend 'auto'`,
        { field: 'backend', op },
      );
    }
    return { requested, cls: 'gpu', reason: `gpu requested; ${gpus.length} GPU worker(s) with op ${op}`, gpuWorkers: gpus };
  }
  return gpus.length > 0
    ? { requested, cls: 'gpu', reason: `auto: ${gpus.length} GPU worker(s) registered with op ${op}`, gpuWorkers: gpus }
    : { requested, cls: 'wasm', reason: `auto: no GPU worker registered with op ${op}; using wasm`, gpuWorkers: gpus };
}
