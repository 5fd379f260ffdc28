/**
 * The owner side of the task path: the process that dispatches tasks (an activity host, the
 * SDK, a bench) owns them, in the manner of Ray's owners. It keeps its tasks in a queue, pushes
 * them in batched frames straight to the lanes of live workers over core NATS (nothing stored on
 * the way: ~0.1 ms a round trip instead of a stream write, a pull and an ack each way), at most
 * `slots` outstanding per worker, and gets results back on its own subject, small outputs
 * inline. It, not the server, retries:
 *
 * - a worker that holds tasks of this owner and sends nothing for `laneTimeoutMs`, or whose lane
 *   nobody listens on when it is probed after 1.5 s of silence (its connection is gone: killed),
 *   is taken as lost: its tasks go to other workers;
 * - each reply frame says which of this owner's tasks the worker still holds and the last frame
 *   it received, so a task that finished without its result arriving, or a frame that never
 *   arrived (e.g. across a nats-server restart), is sent again;
 * - a retryable error result is retried on any worker; after `maxDeliver` counted tries the task
 *   ends with WORKER_MAX_DELIVER, like a dead-lettered shard.
 *
 * A try that ends with its worker lost while the worker held other tasks too (a "shared loss") is
 * not counted: a shard that kills its worker (a poison shard) would otherwise use up the tries of
 * every innocent shard beside it. After {@link UNCOUNTED_LOSSES} shared losses a task is a suspect
 * and runs alone: the owner keeps a lane for it, sends it there once the lane holds nothing else of
 * its own and nothing more until it ends, and marks it `alone`, so the worker starts nothing else
 * (from any owner or the queue) while it runs. Every try alone counts; so a poison shard ends with
 * WORKER_MAX_DELIVER after at most `maxDeliver + UNCOUNTED_LOSSES` tries, and only it does.
 *
 * A task runs at least once and its result is counted once (the first result of a task wins;
 * later ones are counted as duplicates). Tasks run twice give the same bytes (seeded RNG), so a
 * retry never changes an answer.
 *
 * Results are checked before one is taken: a worker answers on `<replyTo>.<its pin>`
 * (ownerReplySubject), and a result counts only if its frame and the result itself decode
 * against their schemas (core/src/results.ts), the frame's worker id and pin agree with the
 * subject and with the worker registry, and the result names a try (job id, shard id, attempt)
 * that this owner sent to that very worker (or to the durable queue, for a spilled try). Anything
 * else is counted (`stats.rejected`), logged and dropped: the shard's real answer still counts, or
 * the worker's `running` list shows the try unanswered and the owner sends it again; a shard whose
 * every try was answered with a rejected result ends with WORKER_BAD_RESULT. The accepted result
 * carries the sender's checked pin (`stats.pin`).
 *
 * Verification (`RunOptions.verify`): the shards the fraction selects (verifySelected, a hash of
 * job and shard id) run a second time, on a different worker of the class, once the first result
 * is in; differing output digests end the shard with VERIFY_MISMATCH naming both workers. The
 * second run never goes to the durable queue (any worker, the first one included, could take it
 * there): with no other live worker it waits as long as a task waits before it would spill
 * (`spillAfterMs`), then ends with VERIFY_NO_PEER.
 *
 * The durable queue stays underneath: a task that finds no live worker of its class (none
 * started yet, scaled to zero) or waits longer than `spillAfterMs` for a free lane is
 * published to the work-queue stream, where any worker pulls it and where an autoscaler sees it
 * as consumer lag. Such a task answers on this owner's subject and also to the results stream;
 * the owner looks it up there if its reply went missing.
 *
 * Pinned tasks (a worker whose caches hold the task's data) wait for that worker's lane while it
 * lives; a pin is a preference, never a dependency: with the worker gone, any worker runs it.
 */
import { randomBytes } from 'node:crypto';
import { errors, headers, type MsgHdrs, type Subscription } from '@nats-io/transport-node';
import { KvWatchInclude } from '@nats-io/kv';
import {
  GramfleetError,
  PROTOCOL_VERSION,
  UNCOUNTED_LOSSES,
  isErrorCode,
  laneSubject,
  pinToken,
  replyFrameProblem,
  taskResultProblem,
  verifySelected,
  outputsDisagree,
  ownerSubject,
  resultSubject,
  silentLogger,
  spilledTaskMsgId,
  taskKey,
  taskSubject,
  type ArrayRef,
  type ErrorCode,
  type Logger,
  type NdArray,
  type ReplyFrame,
  type Task,
  type TaskResult,
  type WorkerClass,
  type WorkerRecord,
} from '@gramfleet/core';
import { ownerIdPrefix } from '../security/auth';
import { ERROR_CODES } from '@gramfleet/core';
import type { DataPlane } from './nats';
import { countsEnabled, recordCount } from '../counts';
import { TRACEPARENT_HEADER, currentTraceparent } from '../tracing';

/** NATS headers carrying a task's trace context. */
function traceHeaders(traceparent: string): MsgHdrs {
  const h = headers();
  h.set(TRACEPARENT_HEADER, traceparent);
  return h;
}

/** Options of {@link createTaskClient}. */
export interface TaskClientOptions {
  readonly dp: DataPlane;
  readonly log?: Logger;
  /** A task that waited this long for a free lane goes to the durable queue (a sustained backlog, for autoscalers to see). @default 30000 */
  readonly spillAfterMs?: number;
  /** A worker holding this owner's tasks that sends nothing for this long is taken as lost. @default 10000 */
  readonly laneTimeoutMs?: number;
  /**
   * A task that finds no live worker and whose every publish to the durable queue failed for this
   * long ends with CLUSTER_UNAVAILABLE (the queue's stream is gone and cannot be declared again,
   * or the server is down): a bound instead of a task that waits for ever. @default 60000
   */
  readonly spillFailMs?: number;
  /** A frame not yet confirmed by a worker that answers otherwise was lost after this long. @default 3000 */
  readonly resendMs?: number;
  /** Period of full registry reads (updates arrive by watch in between). @default 10000 */
  readonly registryPollMs?: number;
  /**
   * Reads outputs for verification: when a shard's two runs differ in digest, their outputs are
   * compared element by element within the dtype's tolerance (core/src/results.ts
   * outputsDisagree), so a backend that is not bit-reproducible is not taken for a faulty one.
   * Without it, digests must be equal. @default none
   */
  readonly store?: { get(ref: ArrayRef): Promise<NdArray> };
  /**
   * Tasks this owner holds unanswered at most (queued, sent or spilled); one more is refused at
   * once with the retryable QUEUE_FULL (back-pressure: an activity retries later, an SDK caller
   * waits for results first) instead of growing the owner's memory without bound. About 1 KB
   * each. @default 1,000,000
   */
  readonly maxPending?: number;
}

/** A task as its owner describes it (the client adds the protocol fields). */
export type TaskSpec = Omit<Task, 'v' | 'replyTo' | 'attempt'>;

/** Where a task may run. */
export interface RunOptions {
  readonly cls: WorkerClass;
  /** Pin of the worker whose caches hold the task's data ({@link WorkerRecord.pin}). */
  readonly pin?: string | undefined;
  /**
   * Verification fraction in [0, 1]: when `verifySelected(jobId, shardId, verify)`, the task runs
   * again on a different worker and differing digests end it with VERIFY_MISMATCH. @default none
   */
  readonly verify?: number | undefined;
  /**
   * The op's output schema for this task: why outputs (as references: dtype, shape) are not what
   * the op returns, or undefined when they fit (e.g. core grfWalksOutputsProblem). A result that
   * does not fit is refused like a malformed one. @default none
   */
  readonly checkOutputs?: ((outputs: readonly ArrayRef[]) => string | undefined) | undefined;
}

/** Suffix of the shard id of a task's second run (verification); never a real shard's. */
export const VERIFY_SHARD_SUFFIX = '--verify';

/** Counters of a {@link TaskClient}. */
export interface TaskClientStats {
  /** Task sends over lanes (first tries and retries). */
  sent: number;
  /** Tasks published to the durable queue. */
  spilled: number;
  /** Tries after the first (lost worker, lost message, retryable error). */
  retried: number;
  /** Results that arrived for a task already answered. */
  duplicates: number;
  /** Lane frames of tasks sent, and reply frames received: tasks per message, each way. */
  frames: number;
  replies: number;
  /** Results (or whole reply frames) refused: malformed, or not naming a try sent to their sender. */
  rejected: number;
  /** Shards run a second time on another worker whose digests agreed, and those whose did not. */
  verified: number;
  verifyMismatches: number;
}

/** The owner's handle on the cluster's workers. */
export interface TaskClient {
  /** This owner's id (its subject is `ownerSubject(prefix, ownerId)`). */
  readonly ownerId: string;
  /**
   * Runs a task; resolves with its result once one arrives. An error result (a permanent
   * error, or a retryable one after `maxDeliver` tries) resolves too, with `error` set.
   */
  run(task: TaskSpec, o: RunOptions): Promise<TaskResult>;
  /** Drops the queued and outstanding tasks of a job: they resolve with JOB_CANCELLED. */
  cancelJob(jobId: string): void;
  /** Pins of the live workers of a class. */
  livePins(cls: WorkerClass): Promise<ReadonlySet<string>>;
  /** Tasks of a class waiting for a lane (not yet sent). */
  queued(cls: WorkerClass): number;
  /** Tasks run() has not resolved yet (queued, sent, or spilled): the shards in flight. */
  inFlight(): number;
  /** The registry entries of the live workers, as this owner follows them (no round trip once it has read the registry). */
  workers(): Promise<WorkerRecord[]>;
  readonly stats: TaskClientStats;
  /**
   * Duplicate results (arrived for a task already answered) of these shards of a job, their
   * verification runs included, since each was last submitted: a job's or a batch's own count,
   * which {@link TaskClientStats.duplicates} (all jobs together) is not when jobs run at once.
   */
  duplicatesOf(jobId: string, shardIds: readonly string[]): number;
  /** Stops; outstanding tasks resolve with JOB_CANCELLED. */
  close(): Promise<void>;
}

interface Pending {
  readonly task: TaskSpec;
  readonly key: string;
  readonly cls: WorkerClass;
  readonly pin: string | undefined;
  attempt: number;
  queuedAt: number;
  /** The lane it was sent on, the frame, and when. */
  sentTo?: Lane | undefined;
  /** The lane of the last failed try: the next goes elsewhere when another lane has room. */
  avoid?: Lane | undefined;
  frameSeq: number;
  sentAt: number;
  spilled: boolean;
  /** Everyone waiting for the result (a task run twice by one owner is sent once). */
  readonly waiters: ((r: TaskResult) => void)[];
  /** Where each try went, by attempt − 1: a lane's pin, or {@link SPILLED} for the durable queue. */
  readonly tries: string[];
  /** Why the last result that named this task was refused (its end is WORKER_BAD_RESULT if no try succeeds). */
  rejectedWhy?: string | undefined;
  /** A second run (verification): never on this pin's lane, never spilled. */
  readonly exclude?: string | undefined;
  /** The first run this second run checks. */
  readonly verifyOf?: { readonly shardId: string; readonly workerId: string } | undefined;
  /** {@link RunOptions.checkOutputs}. */
  readonly checkOutputs?: RunOptions['checkOutputs'];
  /** The W3C trace context of the caller when it submitted the task (tracing on), sent in a `traceparent` header. */
  readonly traceparent?: string | undefined;
  /** Tries that ended with their worker lost while it held other tasks too: not counted against `maxDeliver` ({@link UNCOUNTED_LOSSES} at most). */
  lost: number;
  /** A suspect: every further try runs alone on its worker (see the module's comment). */
  alone: boolean;
  /** The lane kept for this suspect until it holds nothing else of this owner's. */
  reserved?: Lane | undefined;
  /** The start of the worker process its last lane try went to, as this owner knew it then ({@link ReplyFrame.since}). */
  sentSince?: number | undefined;
  /** Tries that never left this owner (the durable queue refused them): not counted. */
  unsent: number;
  /** Since when every spill of it failed (undefined: the last one did not). */
  spillFailingSince?: number | undefined;
  /** Inputs a worker found in no store (STORE_MISSING_OBJECT results), by digest. */
  readonly missing: Set<string>;
  /** The code of the last error result of a try. */
  lastCode?: string | undefined;
}

/** {@link Pending.tries} entry of a try sent to the durable queue. */
const SPILLED = '';

interface Lane {
  readonly pin: string;
  /** The worker's last registry entry. */
  record: WorkerRecord;
  workerId: string;
  cls: WorkerClass;
  slots: number;
  /** Registry revision and when this owner saw it change. */
  revision: number;
  freshAt: number;
  inRegistry: boolean;
  /** Last frame from the worker, and the highest lane frame it confirmed. */
  heardAt: number;
  seen: number;
  seq: number;
  /** Taken as lost until it is heard from again. */
  lost: boolean;
  /** When an empty frame last asked the worker what it holds. */
  probedAt: number;
  /**
   * Mean time a task of ours occupies the worker (its fetch and kernel time as the worker reports
   * them), ms, exponentially weighted. Not the time from send to result, which grows with the
   * tasks queued there and would shrink the window exactly when a burst needs it.
   */
  serviceMs: number;
  readonly outstanding: Map<string, Pending>;
  /** Pinned tasks waiting for this lane. */
  readonly pinnedQueue: Pending[];
  /** When the worker process last heard from started ({@link ReplyFrame.since}). */
  since?: number | undefined;
  /** The suspect this lane is kept for, or runs alone: no other task of this owner goes there meanwhile. */
  alone?: Pending | undefined;
}

const MAX_FRAME_SLACK = 16 * 1024;

/** Why two runs' outputs disagree beyond tolerance (undefined: they agree); an output that cannot be read counts as disagreeing. */
async function compareOutputs(store: NonNullable<TaskClientOptions['store']>, xs: readonly ArrayRef[], ys: readonly ArrayRef[]): Promise<string | undefined> {
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as ArrayRef;
    const y = ys[i] as ArrayRef;
    if (x.digest === y.digest) continue;
    let why: string | undefined;
    try {
      why = outputsDisagree(await store.get(x), await store.get(y));
    } catch (e) {
      why = `its values could not be read (${(e as Error).message})`;
    }
    if (why !== undefined) return `output ${i}: ${why}`;
  }
  return undefined;
}

/**
 * `JSON.stringify(t)` up to the order of keys (inputs and attrs last), with the values tasks share
 * (a job's input references, an op's coefficient arrays such as GRF's 61-term `f`) encoded once
 * per `shared` map, by identity: the owner uses one map per pump, so a value a caller changes
 * later is never sent stale. At one node per GRF shard this halves the owner's encoding time.
 */
export function taskJson(t: Task, shared: Map<unknown, string>): string {
  const { inputs, attrs, ...rest } = t;
  const once = (x: unknown): string => {
    if (typeof x !== 'object' || x === null) return JSON.stringify(x);
    let j = shared.get(x);
    if (j === undefined) shared.set(x, (j = JSON.stringify(x)));
    return j;
  };
  let a = '';
  for (const k of Object.keys(attrs)) {
    const v = attrs[k];
    // As JSON.stringify does: a property whose value has no JSON form is left out.
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    a += `${a.length > 0 ? ',' : ''}${JSON.stringify(k)}:${once(v)}`;
  }
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"inputs":${once(inputs)},"attrs":{${a}}}`;
}

/** Creates the owner side of the task path on a connected data plane. */
export function createTaskClient(o: TaskClientOptions): TaskClient {
  const { dp } = o;
  const log = o.log ?? silentLogger;
  const prefix = dp.names.prefix;
  // Prefixed with the identity's token where it may receive only on its own owner subjects.
  const ownerId = `${ownerIdPrefix(dp.nc)}o${randomBytes(8).toString('hex')}`;
  const replyTo = ownerSubject(prefix, ownerId);
  const spillAfterMs = o.spillAfterMs ?? 30_000;
  const maxPending = o.maxPending ?? 1_000_000;
  const laneTimeoutMs = o.laneTimeoutMs ?? 10_000;
  const spillFailMs = o.spillFailMs ?? 60_000;
  const resendMs = o.resendMs ?? 3_000;
  /** Silence after which a lane holding our tasks is asked what it holds (it pings every second while it holds any). */
  const probeAfterMs = Math.min(resendMs, 1_500);
  const pollMs = o.registryPollMs ?? 10_000;
  const maxAttempts = dp.options.maxDeliver;
  const maxFrame = Math.max(64 * 1024, (dp.nc.info?.max_payload ?? 1024 * 1024) - MAX_FRAME_SLACK);
  const stats: TaskClientStats = { sent: 0, spilled: 0, retried: 0, duplicates: 0, frames: 0, replies: 0, rejected: 0, verified: 0, verifyMismatches: 0 };

  const pending = new Map<string, Pending>();
  const lanes = new Map<string, Lane>();
  const classQueue = new Map<WorkerClass, Pending[]>();
  const spilled = new Map<string, Pending>();
  /** Tasks answered (by key, the most recent 200,000), each with the duplicate results that arrived for it since. */
  const answered = new Map<string, number>();
  /** Unanswered suspects (tasks that run alone): while there are none, a pump skips looking for them in the queues. */
  let suspects = 0;
  let closed = false;

  // --- results ---------------------------------------------------------------------------
  // Workers answer on `<replyTo>.<pin>`: the last token is the sender's pin.
  const sub: Subscription = dp.nc.subscribe(`${replyTo}.*`, {
    callback: (err, msg) => {
      if (err !== null) return;
      const sender = msg.subject.slice(replyTo.length + 1);
      let f: unknown;
      try {
        f = msg.json<unknown>();
      } catch {
        reject('the reply frame is not JSON', { sender });
        return;
      }
      const problem = replyFrameProblem(f);
      if (problem !== undefined) {
        reject(`malformed reply frame: ${problem}`, { sender });
        return;
      }
      onReply(f as ReplyFrame, sender);
    },
  });

  /** Counts and logs a refused frame or result (the first 20, then every 1000th: a flood must not flood the log). */
  function reject(why: string, ctx: Record<string, unknown>, p?: Pending): void {
    stats.rejected++;
    if (p !== undefined) p.rejectedWhy = why;
    if (stats.rejected <= 20 || stats.rejected % 1000 === 0) log.warn('result rejected', { why, rejected: stats.rejected, ...ctx });
  }

  /** Frees the lane a suspect was kept for. */
  function unreserve(p: Pending): void {
    if (p.reserved !== undefined && p.reserved.alone === p) p.reserved.alone = undefined;
    p.reserved = undefined;
  }

  /** Takes a task off the lane it was sent to (and frees a lane kept for it). */
  function detach(p: Pending): void {
    p.sentTo?.outstanding.delete(p.key);
    unreserve(p);
  }

  function finish(p: Pending, r: TaskResult): void {
    if (p.alone && pending.get(p.key) === p) suspects--;
    pending.delete(p.key);
    spilled.delete(p.key);
    detach(p);
    answered.set(p.key, 0);
    if (answered.size > 200_000) answered.delete(answered.keys().next().value as string);
    for (const w of p.waiters) w(r);
  }

  function failWith(p: Pending, code: ErrorCode, message: string, details: Record<string, unknown> = {}): void {
    const e = new GramfleetError(code, message, { jobId: p.task.jobId, shardId: p.task.shardId, ...details });
    if (countsEnabled()) recordCount({ ev: 'fail', owner: ownerId, jobId: p.task.jobId, shardId: p.task.shardId, attempt: p.attempt, code });
    finish(p, {
      v: PROTOCOL_VERSION,
      jobId: p.task.jobId,
      shardId: p.task.shardId,
      attempt: p.attempt,
      outputs: [],
      stats: { workerId: '', backend: 'none', deliveryCount: p.attempt, computeMs: 0, fetchMs: 0, cacheHits: 0 },
      error: e.toPayload(),
    });
  }

  /**
   * Puts a task back in its queue for another try (or ends it after `maxAttempts` counted tries).
   * `lostWorker`: the try ended with its worker lost (killed, silent, restarted without it); it is
   * not counted when the worker held other tasks too (a shared loss, {@link UNCOUNTED_LOSSES} at
   * most: then the task runs alone, where each loss counts).
   */
  function retry(p: Pending, why: string, delayMs = 0, lostWorker = false): void {
    const ranAlone = p.alone;
    detach(p);
    p.avoid = p.sentTo;
    p.sentTo = undefined;
    if (lostWorker && !ranAlone) p.lost++;
    const counted = p.attempt - p.lost - p.unsent;
    const tally = `${counted} counted (max ${maxAttempts}: error results, lost messages, and workers lost while it ran alone) and ${p.lost} on workers lost while they held other tasks too (not counted; after ${UNCOUNTED_LOSSES} it runs alone)`;
    if (counted >= maxAttempts && p.rejectedWhy === undefined && p.lastCode === 'STORE_MISSING_OBJECT' && p.missing.size > 0) {
      // Its inputs are in no store (a one-replica JetStream store wiped, a host store lost): more
      // tries cannot help, and the job fails for good (`final`: not retried as its code would be).
      const digests = [...p.missing];
      failWith(
        p,
        'STORE_MISSING_OBJECT',
        `task ${p.task.shardId} of job ${p.task.jobId}: input${digests.length > 1 ? 's' : ''} ${digests.join(', ')} ${digests.length > 1 ? 'are' : 'is'} in no store any more ` +
          `(${tally}; each try's worker found ${digests.length > 1 ? 'them' : 'it'} missing); the data plane lost ${digests.length > 1 ? 'them' : 'it'} — put the job's inputs again and resubmit`,
        { digests, deliveries: p.attempt, counted, bound: maxAttempts, final: true },
      );
      return;
    }
    if (counted >= maxAttempts && p.rejectedWhy === undefined) {
      failWith(p, 'WORKER_MAX_DELIVER', `task ${p.task.shardId} of job ${p.task.jobId} was tried ${p.attempt} times without a result: ${tally}; last: ${why}`, {
        deliveries: p.attempt,
        counted,
        lostBeside: p.lost,
        bound: maxAttempts,
        field: 'maxDeliver',
      });
      return;
    }
    if (counted >= maxAttempts && p.rejectedWhy !== undefined) {
      failWith(
        p,
        'WORKER_BAD_RESULT',
        `task ${p.task.shardId} of job ${p.task.jobId} got no acceptable result in ${p.attempt} tries (${tally}); last refused: ${p.rejectedWhy}`,
        { deliveries: p.attempt, counted, lostBeside: p.lost, why: p.rejectedWhy },
      );
      return;
    }
    if (!p.alone && p.lost >= UNCOUNTED_LOSSES) {
      p.alone = true;
      suspects++;
      log.warn('task lost with its worker repeatedly; it runs alone from now on', { jobId: p.task.jobId, shardId: p.task.shardId, lost: p.lost, why });
    }
    p.attempt++;
    stats.retried++;
    // The new try goes to the lanes: the task is no longer waiting in the durable queue (a late
    // result of its spilled try is still accepted: that try stays marked as sent to the queue).
    if (p.spilled) {
      p.spilled = false;
      spilled.delete(p.key);
    }
    log.debug('task retried', { jobId: p.task.jobId, shardId: p.task.shardId, attempt: p.attempt, why });
    const again = (): void => {
      if (!pending.has(p.key)) return;
      p.queuedAt = Date.now();
      enqueue(p, true);
      schedulePump();
    };
    if (delayMs > 0) setTimeout(again, delayMs).unref();
    else again();
  }

  /**
   * Takes in a reply frame from the worker whose pin is `sender` (the subject's last token), or,
   * with `sender` SPILLED, a result read back from the results stream.
   */
  function onReply(f: ReplyFrame, sender: string): void {
    stats.replies++;
    // The frame must say who sent it as the subject does, and the registry must agree.
    if (f.pin !== undefined && f.pin !== sender) {
      reject(`the frame names pin ${f.pin} but came from ${sender}`, { sender, workerId: f.workerId });
      return;
    }
    const from = sender === SPILLED ? undefined : lanes.get(sender);
    if (from !== undefined && from.workerId !== f.workerId) {
      reject(`the frame names worker ${f.workerId} but pin ${sender} is worker ${from.workerId}`, { sender, workerId: f.workerId });
      return;
    }
    const lane = f.pin !== undefined ? from : undefined;
    if (lane !== undefined) {
      lane.heardAt = Date.now();
      lane.lost = false;
      lane.seen = Math.max(lane.seen, f.seen);
      if (f.since !== undefined) lane.since = f.since;
    }
    /** Why this frame's last refused result was refused: the tries it leaves unanswered end, after `maxDeliver`, with WORKER_BAD_RESULT. */
    let refused: string | undefined;
    for (const x of f.results as readonly unknown[]) {
      const problem = taskResultProblem(x);
      if (problem !== undefined) {
        const named = typeof x === 'object' && x !== null ? (x as { jobId?: unknown; shardId?: unknown }) : {};
        const p = typeof named.jobId === 'string' && typeof named.shardId === 'string' ? pending.get(taskKey(named.jobId, named.shardId)) : undefined;
        refused = `malformed result: ${problem}`;
        reject(refused, { sender, workerId: f.workerId, jobId: named.jobId, shardId: named.shardId }, p);
        continue;
      }
      const r = x as TaskResult;
      const key = taskKey(r.jobId, r.shardId);
      const p = pending.get(key);
      if (p === undefined) {
        const dup = answered.get(key);
        if (dup !== undefined) {
          stats.duplicates++;
          answered.set(key, dup + 1);
        } else reject((refused = `the result names ${key}, no task of this owner`), { sender, workerId: f.workerId, jobId: r.jobId, shardId: r.shardId });
        continue;
      }
      // It must answer a try this owner sent to its sender: a lane try to that lane, or a spilled try (from the queue).
      const to = p.tries[r.attempt - 1];
      const fromQueue = f.pin === undefined;
      if (to === undefined || (fromQueue ? to !== SPILLED : to !== sender) || r.stats.workerId !== f.workerId) {
        reject(
          (refused =
            to === undefined
              ? `try ${r.attempt} of the task was never sent`
              : r.stats.workerId !== f.workerId
                ? `the result names worker ${r.stats.workerId} inside a frame of worker ${f.workerId}`
                : `try ${r.attempt} went to ${to === SPILLED ? 'the durable queue' : `pin ${to}`}, not ${fromQueue ? 'a lane' : `pin ${sender}`}`),
          { sender, workerId: f.workerId, jobId: r.jobId, shardId: r.shardId, attempt: r.attempt },
          p,
        );
        continue;
      }
      const unfit = r.error === undefined ? p.checkOutputs?.(r.outputs) : undefined;
      if (unfit !== undefined) {
        reject((refused = `outputs do not fit op ${p.task.op}: ${unfit}`), { sender, workerId: f.workerId, jobId: r.jobId, shardId: r.shardId }, p);
        continue;
      }
      if (lane !== undefined && p.sentTo === lane) lane.serviceMs += 0.1 * (r.stats.computeMs + r.stats.fetchMs - lane.serviceMs);
      if (r.error !== undefined && isErrorCode(r.error.code) && ERROR_CODES[r.error.code].retryable && r.error.details?.['final'] !== true) {
        // A failed try that is not the current one (the task was sent elsewhere since) changes nothing.
        if (lane !== undefined ? p.sentTo !== lane : !p.spilled) continue;
        p.lastCode = r.error.code;
        const gone = r.error.details?.['digest'];
        if (r.error.code === 'STORE_MISSING_OBJECT' && typeof gone === 'string') p.missing.add(gone);
        // Another try (after `maxAttempts` tries: WORKER_MAX_DELIVER, like a dead-lettered shard);
        // at once when the worker was only draining.
        retry(p, `${r.error.code}: ${r.error.message}`, r.error.code === 'WORKER_DRAINING' ? 0 : 1_000);
        continue;
      }
      // Accepted: recorded with the sender's checked pin (none for a result read from the stream).
      if (countsEnabled() && r.error !== undefined)
        recordCount({ ev: 'fail', owner: ownerId, jobId: r.jobId, shardId: r.shardId, attempt: r.attempt, code: r.error.code });
      else if (countsEnabled())
        recordCount({
          ev: 'accept',
          owner: ownerId,
          jobId: r.jobId,
          shardId: r.shardId,
          attempt: r.attempt,
          workerId: r.stats.workerId,
          outputs: r.outputs.map((x) => x.digest),
          ...(p.verifyOf !== undefined ? { verify: true } : {}),
        });
      finish(p, sender === SPILLED ? r : { ...r, stats: { ...r.stats, pin: sender } });
    }
    if (lane !== undefined) {
      // Tasks the worker confirmed receiving but no longer holds, whose result did not come
      // (it would have arrived before this frame: one connection, one subject, in order).
      const running = new Set(f.running);
      for (const p of [...lane.outstanding.values()]) {
        if (p.frameSeq > f.seen || running.has(p.key)) continue;
        // Answered in this frame with a result that was refused (e.g. one naming another shard).
        if (refused !== undefined) p.rejectedWhy ??= `worker ${lane.workerId} answered with refused results (${refused})`;
        // Held by a process that is gone (restarted under the same id): a lost worker; otherwise a lost message.
        const restarted = f.since !== undefined && p.sentSince !== undefined && f.since !== p.sentSince;
        retry(p, `worker ${lane.workerId} ${restarted ? 'was restarted and ' : ''}no longer holds it and its result did not arrive`, 0, restarted);
      }
    }
    schedulePump();
  }

  // --- registry ------------------------------------------------------------------------------
  // A full read of the registry at the start and every `pollMs` (what is stale drops out), and a
  // watch of its updates in between, so a worker that joins gets tasks at once.
  let polling: Promise<void> | undefined;
  let polledAt = 0;
  let watching = false;
  let watcher: { stop(): void } | undefined;

  /** Takes in one registry entry (a worker's heartbeat). */
  function upsert(w: WorkerRecord, revision: number, now: number): void {
    if (w.pin === undefined || w.slots === undefined) return;
    const lane = lanes.get(w.pin);
    if (lane === undefined) {
      lanes.set(w.pin, {
        pin: w.pin,
        record: w,
        workerId: w.workerId,
        cls: w.cls,
        slots: w.slots,
        revision,
        freshAt: now,
        inRegistry: true,
        heardAt: now,
        seen: 0,
        seq: 0,
        lost: false,
        probedAt: 0,
        serviceMs: 50,
        outstanding: new Map(),
        pinnedQueue: [],
      });
      schedulePump();
    } else if (lane.revision !== revision) {
      // A new process under the same id (a supervisor restarted a killed worker with its name):
      // live again, although nothing it holds of ours made it answer (what the old one held was
      // retried when it was lost, or is when the new one's reply shows it not held).
      const restarted = lane.record.startedAt !== w.startedAt || lane.record.pid !== w.pid;
      lane.revision = revision;
      lane.record = w;
      lane.freshAt = now;
      lane.slots = w.slots;
      lane.cls = w.cls;
      if (!lane.inRegistry || (restarted && lane.lost)) {
        lane.lost = false;
        // Its silence is counted from now: the last frame heard may be from before it was lost.
        lane.heardAt = now;
        schedulePump();
      }
      lane.inRegistry = true;
    }
  }

  async function pollRegistry(): Promise<void> {
    const now = Date.now();
    const seen = new Set<string>();
    try {
      for await (const k of await dp.workers.keys()) {
        const e = await dp.workers.get(k).catch(() => null);
        if (e === null || e.operation !== 'PUT') continue;
        try {
          const w = e.json<WorkerRecord>();
          if (w.pin !== undefined) seen.add(w.pin);
          upsert(w, e.revision, now);
        } catch {
          continue;
        }
      }
    } catch (err) {
      log.debug('registry poll failed', { err: (err as Error).message });
      return;
    }
    for (const lane of lanes.values()) {
      if (!seen.has(lane.pin) || now - lane.freshAt > dp.options.workerTtlMs) lane.inRegistry = false;
    }
    polledAt = Date.now();
  }
  // A read that hangs (a server going away mid-read) is given up after 5 s; the next one starts afresh.
  const poll = (): Promise<void> =>
    (polling ??= Promise.race([pollRegistry(), new Promise<void>((r) => setTimeout(r, 5_000).unref())]).finally(() => {
      polling = undefined;
      schedulePump();
    }));

  /** Follows registry updates until closed (restarting the watch if it ends, e.g. across a server restart). */
  async function watchRegistry(): Promise<void> {
    if (watching) return;
    watching = true;
    while (!closed) {
      try {
        const it = await dp.workers.watch({ include: KvWatchInclude.UpdatesOnly });
        watcher = it;
        for await (const e of it) {
          if (e.operation === 'PUT') {
            try {
              upsert(e.json<WorkerRecord>(), e.revision, Date.now());
            } catch {
              /* not a worker record */
            }
          } else {
            for (const lane of lanes.values()) if (lane.workerId === e.key) lane.inRegistry = false;
          }
        }
      } catch (err) {
        log.debug('registry watch ended', { err: (err as Error).message });
      }
      if (!closed) await new Promise((r) => setTimeout(r, 1_000).unref());
    }
  }
  const startRegistry = (): void => {
    if (watching) return;
    void watchRegistry();
    void poll();
  };
  const live = (l: Lane): boolean => l.inRegistry && !l.lost;
  /**
   * Tasks this owner keeps outstanding on a lane: the worker's slots, and more while its tasks are
   * short (tiny tasks: ~20 ms of work per slot queued there, at most 16 times the slots), so a
   * burst of small tasks is not held back by round trips, and long ones still spread over lanes.
   */
  const windowOf = (l: Lane): number => Math.min(16 * l.slots, Math.max(l.slots, Math.round((l.slots * 20) / Math.max(0.25, l.serviceMs))));

  // --- queues and sending ----------------------------------------------------------------------
  /** The task as sent: the owner's try, and its shared losses and suspicion when it has them. */
  function taskOf(p: Pending): Task {
    return {
      v: PROTOCOL_VERSION,
      ...p.task,
      replyTo,
      attempt: p.attempt,
      ...(p.lost > 0 ? { lost: p.lost } : {}),
      ...(p.alone ? { alone: true } : {}),
    };
  }

  function enqueue(p: Pending, front = false): void {
    // A suspect waits for a lane kept for it (pump), not for its pin.
    const lane = p.pin !== undefined && !p.alone ? lanes.get(p.pin) : undefined;
    const q =
      lane !== undefined && live(lane) && lane !== p.avoid
        ? lane.pinnedQueue
        : (classQueue.get(p.cls) ?? (classQueue.set(p.cls, []), classQueue.get(p.cls) as Pending[]));
    if (front) q.unshift(p);
    else q.push(p);
  }

  let pumpScheduled = false;
  function schedulePump(): void {
    if (pumpScheduled || closed) return;
    pumpScheduled = true;
    setImmediate(pump);
  }

  function pump(): void {
    pumpScheduled = false;
    const frames = new Map<Lane, Pending[]>();
    const take = (lane: Lane, p: Pending): void => {
      if (!pending.has(p.key)) return;
      p.sentTo = lane;
      p.sentSince = lane.since ?? lane.record.startedAt;
      p.tries[p.attempt - 1] = lane.pin;
      p.sentAt = Date.now();
      lane.outstanding.set(p.key, p);
      (frames.get(lane) ?? (frames.set(lane, []), frames.get(lane) as Pending[])).push(p);
      stats.sent++;
    };
    // Suspects first: each gets a lane kept for it (no new tasks go there), and is sent once that
    // lane holds nothing else of this owner's. (A scan of every queued task: only while there are suspects.)
    for (const [cls, q] of suspects > 0 ? classQueue : []) {
      for (let i = 0; i < q.length;) {
        const p = q[i] as Pending;
        if (!p.alone) {
          i++;
          continue;
        }
        if (!pending.has(p.key)) {
          q.splice(i, 1);
          continue;
        }
        if (p.reserved !== undefined && !live(p.reserved)) unreserve(p);
        if (p.reserved === undefined) {
          const ok = [...lanes.values()].filter((l) => l.cls === cls && live(l) && l.alone === undefined && l.pin !== p.exclude);
          // The emptiest lane, not the one its last try was lost on while another will do.
          ok.sort((a, b) => Number(a === p.avoid) - Number(b === p.avoid) || a.outstanding.size - b.outstanding.size);
          const lane = ok[0];
          if (lane !== undefined) {
            p.reserved = lane;
            lane.alone = p;
          }
        }
        if (p.reserved !== undefined && p.reserved.outstanding.size === 0) {
          q.splice(i, 1);
          take(p.reserved, p);
          continue;
        }
        i++;
      }
    }
    for (const lane of lanes.values()) {
      if (!live(lane) || lane.alone !== undefined) continue;
      // Pinned tasks first: they wait for this lane only.
      while (lane.pinnedQueue.length > 0 && lane.outstanding.size < windowOf(lane)) take(lane, lane.pinnedQueue.shift() as Pending);
    }
    for (const [cls, q] of classQueue) {
      if (q.length === 0) continue;
      const free = [...lanes.values()].filter((l) => l.cls === cls && live(l) && l.alone === undefined && l.outstanding.size < windowOf(l));
      // Round robin over lanes with room, one task at a time, so a burst spreads evenly; a retry
      // skips the lane its last try failed on while another has room.
      // A retry waits for another lane while the class has one live, even a full one.
      const liveCount = [...lanes.values()].filter((l) => l.cls === cls && live(l)).length;
      const deferred: Pending[] = [];
      let i = 0;
      while (q.length > 0 && free.length > 0) {
        const p = q.shift() as Pending;
        if (p.alone) {
          deferred.push(p);
          continue;
        }
        i %= free.length;
        let lane = free[i] as Lane;
        if (p.exclude !== undefined) {
          // A second run (verification) never goes to the worker of the first, and while it can,
          // not to the one its last try failed on either.
          const ok = free.filter((l) => l.pin !== p.exclude);
          const pick = ok.find((l) => l !== p.avoid) ?? ok[0];
          if (pick === undefined) {
            deferred.push(p);
            continue;
          }
          lane = pick;
        } else if (lane === p.avoid && liveCount > 1) {
          if (free.length === 1) {
            deferred.push(p);
            continue;
          }
          lane = free[(i + 1) % free.length] as Lane;
        }
        take(lane, p);
        if (lane.outstanding.size >= windowOf(lane)) free.splice(free.indexOf(lane), 1);
        else i++;
      }
      q.unshift(...deferred);
    }
    const shared = new Map<unknown, string>();
    for (const [lane, tasks] of frames) sendFrames(lane, tasks, shared);
  }

  /** Sends tasks to a lane in frames no larger than the server takes. */
  function sendFrames(lane: Lane, tasks: readonly Pending[], shared: Map<unknown, string>): void {
    let part: string[] = [];
    let bytes = 0;
    // Tracing on: a frame holds tasks of one trace context, carried in its traceparent header.
    let partTrace: string | undefined;
    const flush = (): void => {
      if (part.length === 0) return;
      try {
        dp.nc.publish(
          laneSubject(prefix, lane.pin),
          `{"v":${PROTOCOL_VERSION},"replyTo":${JSON.stringify(replyTo)},"seq":${lane.seq},"tasks":[${part.join(',')}]}`,
          partTrace !== undefined ? { headers: traceHeaders(partTrace) } : undefined,
        );
        stats.frames++;
      } catch (e) {
        // The sweep sends them again once the worker's replies show the frame missing.
        log.warn('lane publish failed; its tasks will be sent again', { pin: lane.pin, err: (e as Error).message });
      }
      part = [];
      bytes = 0;
    };
    lane.seq++;
    for (const p of tasks) {
      const t = taskJson(taskOf(p), shared);
      if ((bytes + t.length > maxFrame || p.traceparent !== partTrace) && part.length > 0) {
        flush();
        lane.seq++;
      }
      partTrace = p.traceparent;
      p.frameSeq = lane.seq;
      part.push(t);
      bytes += t.length + 1;
    }
    flush();
  }

  // --- the durable queue ---------------------------------------------------------------------
  async function spill(p: Pending): Promise<void> {
    unreserve(p);
    p.spilled = true;
    p.tries[p.attempt - 1] = SPILLED;
    spilled.set(p.key, p);
    stats.spilled++;
    const t: Task = taskOf(p);
    try {
      await dp.js.publish(taskSubject(prefix, p.cls, p.task.op, p.task.jobId), JSON.stringify(t), {
        msgID: spilledTaskMsgId(p.task.jobId, p.task.shardId, ownerId, p.attempt),
        ...(p.traceparent !== undefined ? { headers: traceHeaders(p.traceparent) } : {}),
      });
      p.spillFailingSince = undefined;
    } catch (e) {
      // Not queued: back to the lanes' queue (the sweep spills it again if still no lane). The
      // publish may have reached the stream although its acknowledgement did not come back, so the
      // lanes get the next try: a worker that takes the stored copy answers a try that stays
      // marked as sent to the queue, and its result is accepted instead of refused. The try is not
      // counted; a task the queue refuses for `spillFailMs` ends with CLUSTER_UNAVAILABLE.
      spilled.delete(p.key);
      p.spilled = false;
      const err = (e as Error).message;
      const now = Date.now();
      p.spillFailingSince ??= now;
      if (!pending.has(p.key)) return;
      if (now - p.spillFailingSince >= spillFailMs) {
        failWith(
          p,
          'CLUSTER_UNAVAILABLE',
          `task ${p.task.shardId} of job ${p.task.jobId} found no live worker and the durable queue (stream ${dp.names.tasksStream}) refused it for ${now - p.spillFailingSince} ms (bound ${spillFailMs} ms): ${err}`,
          { stream: dp.names.tasksStream, bound: spillFailMs, err },
        );
        return;
      }
      p.attempt++;
      p.unsent++;
      p.queuedAt = now;
      enqueue(p, true);
      // The server may have come back without its streams (a wiped store): declare them again.
      if (/not found|no responders|503/i.test(err)) void dp.redeclare();
      log.warn('spill to the durable queue failed; kept queued', { jobId: p.task.jobId, shardId: p.task.shardId, err });
    }
  }

  /** A spilled task whose reply went missing: its result is in the results stream too. */
  async function lookUp(p: Pending): Promise<void> {
    try {
      const m = await dp.jsm.streams.getMessage(dp.names.resultsStream, { last_by_subj: resultSubject(prefix, p.task.jobId, p.task.shardId) });
      if (m === null) return;
      const r = m.json<unknown>();
      const problem = taskResultProblem(r);
      if (problem !== undefined) {
        reject(`malformed result in the results stream: ${problem}`, { subject: m.subject }, p);
        return;
      }
      const ok = r as TaskResult;
      // Only a try that went to the durable queue is looked up here; a copy of a lane try's result
      // is that lane's to deliver (taking it as the queue's would refuse a good result).
      if (p.tries[ok.attempt - 1] !== SPILLED) return;
      if (ok.jobId !== p.task.jobId || ok.shardId !== p.task.shardId) {
        reject(`the results stream's ${m.subject} holds a result for ${taskKey(ok.jobId, ok.shardId)}`, { subject: m.subject }, p);
        return;
      }
      if (pending.has(p.key)) onReply({ v: PROTOCOL_VERSION, workerId: ok.stats.workerId, seen: 0, results: [ok], running: [] }, SPILLED);
    } catch {
      /* not there (yet) */
    }
  }

  /** Takes a lane's worker as lost: its tasks go to other workers, and it gets none until it is heard from again. */
  function lose(lane: Lane, why: string): void {
    if (!lane.lost) log.warn('worker lost; its tasks go to other workers', { workerId: lane.workerId, outstanding: lane.outstanding.size, why });
    lane.lost = true;
    for (const p of [...lane.outstanding.values()]) retry(p, `worker ${lane.workerId} lost`, 0, true);
    // A suspect waiting for this lane to empty waits for another.
    if (lane.alone !== undefined && lane.alone.sentTo !== lane) unreserve(lane.alone);
    schedulePump();
  }

  // --- the sweep -----------------------------------------------------------------------------
  let sweeping = false;
  let queueLostSeen = dp.queueLost();
  const sweep = async (): Promise<void> => {
    if (sweeping || closed) return;
    sweeping = true;
    try {
      const now = Date.now();
      if (pending.size === 0) return;
      if (now - polledAt >= pollMs) void poll();
      for (const lane of lanes.values()) {
        if (lane.outstanding.size === 0) continue;
        // A worker that left the registry gets no new tasks (live() is false) but finishes those it
        // holds (a drain answers them); only silence makes its tasks go elsewhere.
        if (now - lane.heardAt > laneTimeoutMs) {
          lose(lane, `silent for ${now - lane.heardAt} ms${lane.inRegistry ? '' : ', gone from the registry'}`);
          continue;
        }
        // Frames the worker has not confirmed although it answers: lost on the way.
        for (const p of [...lane.outstanding.values()]) {
          if (p.frameSeq > lane.seen && now - p.sentAt > resendMs && lane.heardAt > p.sentAt)
            retry(p, `frame ${p.frameSeq} to worker ${lane.workerId} was not received`);
        }
        // A worker that holds our tasks pings every second; one that is quiet may hold none of
        // them (their frames or results were lost), or be dead: an empty frame makes it say what
        // it holds, and the reply settles it (see onReply). The frame goes as a request, so that a
        // worker whose connection is gone (killed) is known at once — the server answers that
        // nobody listens on its lane — instead of after `laneTimeoutMs` of silence.
        if (now - lane.heardAt > probeAfterMs && now - lane.probedAt > probeAfterMs) {
          lane.probedAt = now;
          lane.seq++;
          const probed = lane.probedAt;
          dp.nc.request(laneSubject(prefix, lane.pin), JSON.stringify({ v: PROTOCOL_VERSION, replyTo, seq: lane.seq, tasks: [] }), { timeout: 2_000 }).then(
            () => undefined,
            (e: unknown) => {
              // Heard from since (a reconnect that beat the probe): not lost.
              if (e instanceof errors.RequestError && e.isNoResponders() && lane.heardAt < probed)
                lose(lane, 'nobody listens on its lane: its connection is gone');
            },
          );
        }
      }
      // Pinned tasks of lanes no longer live go to any worker.
      for (const lane of lanes.values()) {
        if (live(lane) || lane.pinnedQueue.length === 0) continue;
        for (const p of lane.pinnedQueue.splice(0)) enqueue(p);
      }
      // Tasks that found no lane for too long, or no live worker of their class at all: the durable queue.
      const toSpill: Pending[] = [];
      for (const [cls, q] of classQueue) {
        const anyLive = [...lanes.values()].some((l) => l.cls === cls && live(l));
        for (let i = 0; i < q.length;) {
          const p = q[i] as Pending;
          if (p.exclude !== undefined) {
            // A second run waits for a live worker other than the first's; with none for as long as
            // a task waits before it spills, the shard cannot be verified.
            const peer = [...lanes.values()].some((l) => l.cls === cls && live(l) && l.pin !== p.exclude);
            if (!peer && now - p.queuedAt >= spillAfterMs) {
              q.splice(i, 1);
              const of = p.verifyOf;
              failWith(
                p,
                'VERIFY_NO_PEER',
                `shard ${of?.shardId ?? p.task.shardId} of job ${p.task.jobId} ran on worker ${of?.workerId ?? p.exclude} and no other live ${cls} worker came within ${spillAfterMs} ms to run it again (verification needs two workers)`,
                { shardId: of?.shardId, workerId: of?.workerId, waitedMs: now - p.queuedAt },
              );
              continue;
            }
            i++;
            continue;
          }
          if (anyLive && now - p.queuedAt < spillAfterMs) break;
          // No live worker of the class (after a first read of the registry): the durable queue, after a second's grace.
          if (!anyLive && (polledAt === 0 || now - p.queuedAt < 1_000)) break;
          q.splice(i, 1);
          if (pending.has(p.key)) toSpill.push(p);
        }
      }
      // The server lost the durable queue (a wiped store; the stream was declared anew): what this
      // owner had spilled there is gone, so it goes to the lanes (or the new queue) again, uncounted.
      if (dp.queueLost() !== queueLostSeen) {
        queueLostSeen = dp.queueLost();
        if (spilled.size > 0) log.warn('the durable queue was lost with its tasks; sending them again', { tasks: spilled.size });
        for (const p of [...spilled.values()]) {
          spilled.delete(p.key);
          p.spilled = false;
          p.attempt++;
          p.unsent++;
          p.queuedAt = now;
          enqueue(p, true);
        }
      }
      // Published 256 at a time (acknowledgements awaited together).
      for (let i = 0; i < toSpill.length; i += 256) await Promise.all(toSpill.slice(i, i + 256).map(spill));
      for (const p of spilled.values()) {
        if (now - p.queuedAt > 2 * laneTimeoutMs) {
          p.queuedAt = now;
          void lookUp(p);
        }
      }
      schedulePump();
    } finally {
      sweeping = false;
    }
  };
  const timer = setInterval(() => void sweep(), 500);
  timer.unref();

  /** Queues one task (or joins the same task queued already); resolves with its accepted result. */
  function submit(task: TaskSpec, ro: RunOptions, second?: Pick<Pending, 'exclude' | 'verifyOf'>): Promise<TaskResult> {
    if (closed) return Promise.reject(new GramfleetError('CLUSTER_UNAVAILABLE', 'the task client is closed'));
    const key = taskKey(task.jobId, task.shardId);
    const existing = pending.get(key);
    if (existing !== undefined) return new Promise((resolve) => existing.waiters.push(resolve));
    if (second === undefined && pending.size >= maxPending)
      return Promise.reject(
        new GramfleetError(
          'QUEUE_FULL',
          `this owner already holds ${pending.size} unanswered tasks (maxPending = ${maxPending}); retry once some have finished`,
          {
            field: 'maxPending',
            bound: maxPending,
            jobId: task.jobId,
            shardId: task.shardId,
          },
        ),
      );
    answered.delete(key);
    return new Promise<TaskResult>((resolve) => {
      const p: Pending = {
        task,
        key,
        cls: ro.cls,
        pin: second === undefined ? ro.pin : undefined,
        checkOutputs: ro.checkOutputs,
        attempt: 1,
        queuedAt: Date.now(),
        frameSeq: 0,
        sentAt: 0,
        spilled: false,
        waiters: [resolve],
        tries: [],
        lost: 0,
        alone: false,
        unsent: 0,
        missing: new Set(),
        traceparent: currentTraceparent(),
        ...second,
      };
      pending.set(key, p);
      startRegistry();
      if (polledAt === 0) {
        // Nothing known of the workers yet (a new owner): place the task once the registry is
        // read, so a pin names a worker this owner knows.
        void poll().then(() => {
          if (!pending.has(key)) return;
          enqueue(p);
          schedulePump();
        });
        return;
      }
      enqueue(p);
      if (lanes.size === 0 && Date.now() - polledAt > 250) void poll();
      schedulePump();
    });
  }

  /**
   * Runs a shard a second time on another worker than the one that gave `first`, and compares
   * the output digests: the first result (marked `verifiedBy`) when they agree, VERIFY_MISMATCH
   * naming both workers when they do not, the second run's error when it has one.
   */
  async function verify(task: TaskSpec, ro: RunOptions, first: TaskResult): Promise<TaskResult> {
    const a = first.stats.workerId;
    const c = await submit(
      { ...task, shardId: `${task.shardId}${VERIFY_SHARD_SUFFIX}` },
      { cls: ro.cls, checkOutputs: ro.checkOutputs },
      {
        exclude: first.stats.pin ?? pinToken(a),
        verifyOf: { shardId: task.shardId, workerId: a },
      },
    );
    const failed = (error: TaskResult['error']): TaskResult => ({ ...first, outputs: [], ...(error !== undefined ? { error } : {}) });
    if (c.error !== undefined) return failed(c.error);
    const b = c.stats.workerId;
    const da = first.outputs.map((o) => o.digest);
    const db = c.outputs.map((o) => o.digest);
    let why = da.length !== db.length ? `${da.length} outputs against ${db.length}` : undefined;
    if (why === undefined && da.some((d, i) => d !== db[i])) {
      // Different bytes: equal within the tolerance (rounding on a backend that is not bit-reproducible) still agrees.
      why = o.store === undefined ? 'different digests' : await compareOutputs(o.store, first.outputs, c.outputs);
      if (why === undefined)
        log.info('verification: digests differ, values agree within tolerance', { jobId: task.jobId, shardId: task.shardId, workers: [a, b] });
    }
    if (why === undefined) {
      stats.verified++;
      return { ...first, stats: { ...first.stats, verifiedBy: b } };
    }
    stats.verifyMismatches++;
    const e = new GramfleetError(
      'VERIFY_MISMATCH',
      `shard ${task.shardId} of job ${task.jobId} gave different results on worker ${a} (${da.join(', ')}) and on worker ${b} (${db.join(', ')}): ${why}; one of them computes wrongly (a faulty device or CPU, or a compromised worker)`,
      { jobId: task.jobId, shardId: task.shardId, workers: [a, b], digests: [da, db], why },
    );
    log.error('verification failed: two workers gave different bytes', { jobId: task.jobId, shardId: task.shardId, workers: [a, b] });
    return failed(e.toPayload());
  }

  return {
    ownerId,
    stats,
    duplicatesOf(jobId: string, shardIds: readonly string[]): number {
      let n = 0;
      for (const s of shardIds) n += (answered.get(taskKey(jobId, s)) ?? 0) + (answered.get(taskKey(jobId, s + VERIFY_SHARD_SUFFIX)) ?? 0);
      return n;
    },
    inFlight: () => pending.size,
    run(task: TaskSpec, ro: RunOptions): Promise<TaskResult> {
      const first = submit(task, ro);
      if (!verifySelected(task.jobId, task.shardId, ro.verify)) return first;
      return first.then((r) => (r.error !== undefined ? r : verify(task, ro, r)));
    },
    cancelJob(jobId: string): void {
      for (const p of [...pending.values()]) {
        if (p.task.jobId !== jobId) continue;
        for (const q of [...classQueue.values(), ...[...lanes.values()].map((l) => l.pinnedQueue)]) {
          const i = q.indexOf(p);
          if (i >= 0) q.splice(i, 1);
        }
        failWith(p, 'JOB_CANCELLED', `job ${jobId} was cancelled`);
      }
    },
    async livePins(cls: WorkerClass): Promise<ReadonlySet<string>> {
      startRegistry();
      if (Date.now() - polledAt > pollMs) await poll();
      return new Set([...lanes.values()].filter((l) => l.cls === cls && live(l)).map((l) => l.pin));
    },
    async workers(): Promise<WorkerRecord[]> {
      startRegistry();
      if (polledAt === 0) await poll();
      return [...lanes.values()].filter(live).map((l) => l.record);
    },
    queued(cls: WorkerClass): number {
      let n = classQueue.get(cls)?.length ?? 0;
      for (const l of lanes.values()) if (l.cls === cls) n += l.pinnedQueue.length;
      return n;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      watcher?.stop();
      sub.unsubscribe();
      for (const p of [...pending.values()]) failWith(p, 'JOB_CANCELLED', 'the task client was closed');
      await polling?.catch(() => undefined);
    },
  };
}
