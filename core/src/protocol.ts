/**
 * The wire protocol between orchestrator and workers: subjects, stream names and message
 * schemas. Subjects are built only by the helpers here.
 */
import type { ArrayRef } from './array';
import type { ErrorPayload } from './errors';

/** Bumped on any incompatible change of a message schema. */
export const PROTOCOL_VERSION = 1;

/** Worker classes; each pulls only its own task subjects. */
export const WORKER_CLASSES = ['wasm', 'gpu'] as const;
/** A worker class. */
export type WorkerClass = (typeof WORKER_CLASSES)[number];

/** Names of the JetStream resources; a `prefix` isolates clusters (and tests) on one server. */
export interface ResourceNames {
  readonly tasksStream: string;
  readonly resultsStream: string;
  readonly arraysBucket: string;
  readonly workersBucket: string;
  /** KV bucket of the array holders directory (which hosts' host stores hold which arrays). */
  readonly holdersBucket: string;
  readonly prefix: string;
}

/** Resource names for a prefix (default `gf`). The prefix must be a plain token. */
export function resourceNames(prefix = 'gf'): ResourceNames {
  if (!/^[a-z][a-z0-9_-]*$/i.test(prefix)) throw new Error(`bad resource prefix ${prefix}`);
  const up = prefix.toUpperCase().replace(/-/g, '_');
  return {
    prefix,
    tasksStream: `${up}_TASKS`,
    resultsStream: `${up}_RESULTS`,
    arraysBucket: `${prefix}-arrays`,
    workersBucket: `${prefix}-workers`,
    holdersBucket: `${prefix}-holders`,
  };
}

/**
 * `gf.task.<class>.<op>.<jobId>` — the trailing job id lets a cancelled job's queued shards
 * be purged by subject without touching other jobs.
 */
export function taskSubject(prefix: string, cls: WorkerClass, op: string, jobId: string): string {
  return `${prefix}.task.${cls}.${op}.${jobId}`;
}
/** Filter matching every queued task of one job, of any class and op. */
export function jobTasksFilter(prefix: string, jobId: string): string {
  return `${prefix}.task.*.*.${jobId}`;
}
/**
 * A worker's pin token: its id with every character that may not stand in a subject token or a
 * consumer name replaced by `_`. Advertised in its {@link WorkerRecord}.
 */
export function pinToken(workerId: string): string {
  return workerId.replace(/[^A-Za-z0-9_-]/g, '_');
}
/**
 * `gf.task.pin-<pin>.<op>.<jobId>`: a task for one worker, whose caches hold the shard's data
 * (EigenPro's center shards and kernel rows). Pulled only by that worker's own consumer; the
 * dispatcher re-queues it on the class subject when the worker leaves the registry.
 */
export function pinnedTaskSubject(prefix: string, pin: string, op: string, jobId: string): string {
  return `${prefix}.task.pin-${pin}.${op}.${jobId}`;
}
/** Filter of every task pinned to one worker. */
export function pinnedTaskFilter(prefix: string, pin: string): string {
  return `${prefix}.task.pin-${pin}.>`;
}
/** The durable pull consumer of one worker's pinned tasks. */
export function pinnedConsumerName(pin: string): string {
  return `pin-${pin}`;
}
/** The `Nats-Msg-Id` of a pinned task re-queued on its class subject. */
export function requeuedTaskMsgId(jobId: string, shardId: string): string {
  return `task:${jobId}:${shardId}:requeued`;
}
/** Filter for every task of a class. */
export function taskFilter(prefix: string, cls: WorkerClass): string {
  return `${prefix}.task.${cls}.>`;
}
/** Filter for every task. */
export function allTasksFilter(prefix: string): string {
  return `${prefix}.task.>`;
}
/** `gf.result.<jobId>.<shardId>` — one subject per shard so a retried collector can re-read. */
export function resultSubject(prefix: string, jobId: string, shardId: string): string {
  return `${prefix}.result.${jobId}.${shardId}`;
}
/** Filter for every result of a job. */
export function jobResultsFilter(prefix: string, jobId: string): string {
  return `${prefix}.result.${jobId}.>`;
}
/** Filter for every result. */
export function allResultsFilter(prefix: string): string {
  return `${prefix}.result.>`;
}
/** Subject on which cancellation of a job is announced to workers. */
export function cancelSubject(prefix: string, jobId: string): string {
  return `${prefix}.cancel.${jobId}`;
}
/** The durable pull consumer shared by all workers of a class. */
export function consumerName(cls: WorkerClass): string {
  return `workers-${cls}`;
}
/** The `Nats-Msg-Id` of a task: publishing it twice makes one message. */
export function taskMsgId(jobId: string, shardId: string): string {
  return `task:${jobId}:${shardId}`;
}
/** The `Nats-Msg-Id` of a result. */
export function resultMsgId(jobId: string, shardId: string): string {
  return `result:${jobId}:${shardId}`;
}

/** Ids must be subject tokens: letters, digits, `-`, `_`. */
export function isSubjectToken(s: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(s);
}

/** A shard of work. */
export interface Task {
  readonly v: number;
  readonly jobId: string;
  readonly shardId: string;
  readonly op: string;
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly inputs: readonly ArrayRef[];
  /** Epoch ms after which the result is no longer wanted. */
  readonly deadline: number;
}

/** Per-shard measurements reported by a worker. */
export interface TaskStats {
  readonly workerId: string;
  readonly backend: string;
  readonly deliveryCount: number;
  readonly computeMs: number;
  readonly fetchMs: number;
  readonly cacheHits: number;
  /** Kernel rows served from the worker's kernel-row cache, and rows computed (cached tasks only). */
  readonly rowHits?: number;
  readonly rowMisses?: number;
  /** Kernel entries of the computed rows read from cached mirror rows, K(x_i, x_l) = K(x_l, x_i) (cached tasks only). */
  readonly mirroredEntries?: number;
}

/** The outcome of a shard. */
export interface TaskResult {
  readonly v: number;
  readonly jobId: string;
  readonly shardId: string;
  readonly outputs: readonly ArrayRef[];
  readonly stats: TaskStats;
  readonly error?: ErrorPayload;
}

/** The value a worker writes into the registry KV bucket, refreshed by heartbeat. */
export interface WorkerRecord {
  readonly workerId: string;
  readonly cls: WorkerClass;
  readonly pid: number;
  readonly host: string;
  readonly threads: number;
  readonly ops: readonly string[];
  readonly device?: Readonly<Record<string, unknown>>;
  /** WASM workers: the kernel build loaded (`fma`: relaxed-SIMD FMA, `simd`: plain SIMD), the threads one shard's big op uses, and the kernel-row cache budget in MB. */
  readonly kernels?: { readonly build: 'fma' | 'simd'; readonly threadsPerShard: number; readonly cacheMB?: number };
  /** Token of the worker's pinned-task subject ({@link pinnedTaskSubject}). */
  readonly pin?: string;
  readonly startedAt: number;
  readonly beatAt: number;
  readonly shardsDone: number;
}
