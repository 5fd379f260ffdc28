/**
 * The wire protocol between orchestrator and workers: subjects, stream names and message
 * schemas. Subjects are built only by the helpers here.
 */
import type { ArrayRef } from './array';
import type { ErrorPayload } from './errors';
import type { UserWasmLimits } from './sdk/user-wasm';

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
 * The arrays bucket of one client identity (`<prefix>-arrays-<token>`, the token as in
 * workers/src/security/roles.ts identityToken): what that identity uploads lives there, and the
 * client role reads and writes no other client's bucket (docs/operations.md, "Per-client buckets").
 */
export function clientArraysBucket(prefix: string, token: string): string {
  if (!isSubjectToken(token)) throw new Error(`bad identity token ${token}`);
  return `${resourceNames(prefix).arraysBucket}-${token}`;
}

/** Whether `bucket` is one of `prefix`'s arrays buckets: the shared one or a client identity's ({@link clientArraysBucket}). */
export function isArraysBucketOf(prefix: string, bucket: string): boolean {
  const shared = resourceNames(prefix).arraysBucket;
  return bucket === shared || (bucket.startsWith(`${shared}-`) && isSubjectToken(bucket.slice(shared.length + 1)));
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
 * A worker's pin token: its id with every character that may not stand in a subject token
 * replaced by `_`. Names its lane ({@link laneSubject}); advertised in its {@link WorkerRecord}.
 */
export function pinToken(workerId: string): string {
  return workerId.replace(/[^A-Za-z0-9_-]/g, '_');
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

/**
 * `gf.lane.<pin>`: the direct lane of one worker. An owner (the process that dispatches tasks:
 * an activity host, the SDK) pushes {@link LaneFrame}s of tasks here over core NATS, nothing
 * stored; the worker answers on the frame's `replyTo` ({@link ownerSubject}) with
 * {@link ReplyFrame}s. The owner retries what a lost worker or message leaves unanswered
 * (workers/src/dataplane/lanes.ts).
 */
export function laneSubject(prefix: string, pin: string): string {
  return `${prefix}.lane.${pin}`;
}
/**
 * `gf.owner.<ownerId>`: the `replyTo` of one owner's tasks. Workers answer on
 * {@link ownerReplySubject} beneath it, so the owner reads the sender's pin from the subject.
 */
export function ownerSubject(prefix: string, ownerId: string): string {
  return `${prefix}.owner.${ownerId}`;
}
/**
 * `<replyTo>.<pin>`: where the worker whose pin is `pin` sends an owner the results (and
 * liveness) of its tasks. The owner takes the last token as the sender's identity (it must
 * agree with the frame and with the worker registry), so NATS credentials that let a worker
 * publish only below its own pin (`gf.owner.*.<pin>`) make the sender authenticated.
 */
export function ownerReplySubject(replyTo: string, pin: string): string {
  return `${replyTo}.${pin}`;
}
/**
 * The `Nats-Msg-Id` of a task an owner spilled into the durable queue (no live worker, or it
 * waited too long): the owner and attempt are part of it, so a task re-sent by a new owner
 * (a retried activity) is a new message, not a duplicate of one already run for the old owner.
 */
export function spilledTaskMsgId(jobId: string, shardId: string, ownerId: string, attempt: number): string {
  return `task:${jobId}:${shardId}:${ownerId}:${attempt}`;
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
  /**
   * The owner's subject ({@link ownerSubject}): the result goes there in a {@link ReplyFrame}
   * (and, for a task taken from the durable queue, to the results stream as well). Without it
   * the result goes to the results stream only.
   */
  readonly replyTo?: string;
  /** The owner's try of this task, from 1. */
  readonly attempt?: number;
  /**
   * Tries before this one that ended with their worker lost while it also held other tasks
   * ("shared losses"): the task may have been an innocent victim of another task that killed the
   * worker, so they do not count against `maxDeliver` ({@link UNCOUNTED_LOSSES} at most). @default 0
   */
  readonly lost?: number;
  /**
   * A suspect (its workers were lost {@link UNCOUNTED_LOSSES} times while it ran beside others): the
   * worker runs it alone — nothing else starts there until it ends — so a loss now is its own and
   * counts. @default false
   */
  readonly alone?: boolean;
  /**
   * When the durable copy of a stored output must exist (the worker's array store, PutOptions.durable):
   * `'none'` for outputs their owner consumes and could recompute (GRF batches, EigenPro and
   * Kronecker rounds), so they stay in host stores. @default the worker store's default
   */
  readonly durable?: 'sync' | 'background' | 'none';
}

/**
 * Shared losses a task is allowed (tries that ended with the worker lost while it held other tasks
 * too, {@link Task.lost}): they do not count against `maxDeliver`, so a shard that kills its worker
 * (a poison shard) does not use up the tries of the innocent shards beside it. After this many the
 * task is a suspect and runs alone ({@link Task.alone}), where every try counts: a task is tried at
 * most `maxDeliver + UNCOUNTED_LOSSES` times.
 */
export const UNCOUNTED_LOSSES = 2;

/** Tasks pushed to one worker's lane ({@link laneSubject}). */
export interface LaneFrame {
  readonly v: number;
  /** The owner's subject; every task of the frame answers there. */
  readonly replyTo: string;
  /** Per (owner, worker) sequence number, from 1. */
  readonly seq: number;
  readonly tasks: readonly Task[];
}

/** Results (and liveness) a worker sends to an owner, on {@link ownerReplySubject} (checked: core/src/results.ts). */
export interface ReplyFrame {
  readonly v: number;
  readonly workerId: string;
  /** The worker's pin (its lane); absent for results of tasks taken from the durable queue. */
  readonly pin?: string;
  /** The highest lane frame `seq` of this owner the worker has received (0: none). */
  readonly seen: number;
  readonly results: readonly TaskResult[];
  /** `jobId/shardId` of this owner's lane tasks the worker still holds (queued or running). */
  readonly running: readonly string[];
  /**
   * When the worker process started ({@link WorkerRecord.startedAt}): a task sent under another
   * value was held by a process that is gone (a worker restarted under the same id). @default unknown
   */
  readonly since?: number;
}

/** The key of a task within its owner: `jobId/shardId`. */
export function taskKey(jobId: string, shardId: string): string {
  return `${jobId}/${shardId}`;
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
  /**
   * The sender's pin as the owner checked it when it accepted the result: the last token of the
   * reply subject ({@link ownerReplySubject}), which agreed with the frame, the worker registry
   * and the try the owner sent there. Set by the owner, not the worker.
   */
  readonly pin?: string;
  /** The worker that ran the shard again and got the same digests (verification mode); set by the owner. */
  readonly verifiedBy?: string;
}

/** The outcome of a shard. */
export interface TaskResult {
  readonly v: number;
  readonly jobId: string;
  readonly shardId: string;
  /**
   * The owner's try it answers ({@link Task.attempt}, 1 for a task without one). An owner takes a
   * result only from the worker it sent that try to (workers/src/dataplane/lanes.ts).
   */
  readonly attempt: number;
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
  /** Token of the worker's lane ({@link laneSubject}); tasks pinned to the worker name it. */
  readonly pin?: string;
  /** Lane tasks an owner may have outstanding on this worker at once (absent: the worker has no lane). */
  readonly slots?: number;
  /** WASM workers: what their sandbox accepts of a user's module and task (the SDK checks `map` against it). */
  readonly sandbox?: UserWasmLimits;
  readonly startedAt: number;
  readonly beatAt: number;
  readonly shardsDone: number;
  /** The tasks it was working on at `beatAt` (at most {@link WORKER_RECORD_MAX_CURRENT}; absent from older workers). */
  readonly current?: readonly WorkerCurrentTask[];
}

/** The most current tasks a {@link WorkerRecord} lists. */
export const WORKER_RECORD_MAX_CURRENT = 8;

/** A task a worker is working on (fetching its inputs, running its kernel or storing its outputs). */
export interface WorkerCurrentTask {
  readonly jobId: string;
  readonly shardId: string;
  readonly op: string;
  /** When it started here (ms since the epoch). */
  readonly since: number;
}
