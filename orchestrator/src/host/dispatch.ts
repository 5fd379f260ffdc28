/**
 * Fan-out of one round of tasks from inside a long activity, straight over NATS: publish the
 * tasks (deduplicated by `Nats-Msg-Id`, so a resumed attempt re-publishing a round does not
 * make a second shard), and collect their results from a subscription on the job's result
 * subjects, looking a result up in the results stream when the task had been published
 * before (by an earlier attempt) or when a result may have been missed during a reconnect.
 * A task may be pinned to one worker (its caches hold the shard's data): it then goes to that
 * worker's own subject, and if the worker leaves the registry before answering, the task is
 * re-queued on the class subject for any worker (and the pinned copy purged).
 */
import {
  GramfleetError, PROTOCOL_VERSION, jobResultsFilter, pinnedTaskSubject, requeuedTaskMsgId, resultSubject, taskMsgId, taskSubject,
  type ArrayRef, type Logger, type Task, type TaskResult, type WorkerClass, type WorkerRecord,
} from '@gramfleet/core';
import type { DataPlane } from '@gramfleet/workers';

/** One task of a round. */
export interface RoundTask {
  readonly shardId: string;
  readonly op: string;
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly inputs: readonly ArrayRef[];
  /** Pin token of the worker that should run it ({@link WorkerRecord.pin}); any worker when absent. */
  readonly pin?: string | undefined;
}

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  readonly dp: DataPlane;
  readonly jobId: string;
  readonly cls: WorkerClass;
  /** Epoch ms after which workers drop the tasks. */
  readonly deadline: number;
  readonly log: Logger;
  /** Called every second while a round waits (heartbeats). */
  readonly onWait?: () => void;
  /** Aborts a waiting round (activity cancellation). */
  readonly signal?: AbortSignal;
  /** Pins of the live workers, asked while pinned tasks wait (see {@link createPinner}). */
  readonly livePins?: () => Promise<ReadonlySet<string>>;
}

/** A dispatcher bound to one job. */
export interface Dispatcher {
  /** Runs the tasks and returns their results in task order; a task's error result throws its typed error. */
  run(tasks: readonly RoundTask[]): Promise<TaskResult[]>;
  /** Tasks per worker id, from the results. */
  readonly workers: Record<string, number>;
  /** Kernel rows the workers served from their kernel-row caches (`hits`) and computed (`misses`), and the entries of computed rows read from cached mirror rows. */
  readonly kernelRows: { hits: number; misses: number; mirroredEntries: number };
  close(): void;
}

/** Creates a {@link Dispatcher} (subscribes to the job's results at once). */
export function createDispatcher(o: DispatcherOptions): Dispatcher {
  const { dp, jobId } = o;
  const prefix = dp.names.prefix;
  const waiting = new Map<string, (r: TaskResult) => void>();
  const workers: Record<string, number> = {};
  const kernelRows = { hits: 0, misses: 0, mirroredEntries: 0 };
  const sub = dp.nc.subscribe(jobResultsFilter(prefix, jobId), {
    callback: (err, msg) => {
      if (err !== null) return;
      const shard = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
      const w = waiting.get(shard);
      if (w === undefined) return;
      try {
        w(msg.json<TaskResult>());
      } catch {
        /* undecodable: the stream lookup retries */
      }
    },
  });

  async function existing(shard: string): Promise<TaskResult | null> {
    try {
      const m = await dp.jsm.streams.getMessage(dp.names.resultsStream, { last_by_subj: resultSubject(prefix, jobId, shard) });
      return m === null ? null : m.json<TaskResult>();
    } catch {
      return null;
    }
  }

  async function run(tasks: readonly RoundTask[]): Promise<TaskResult[]> {
    const got = new Map<string, TaskResult>();
    let wake: (() => void) | undefined;
    const accept = (r: TaskResult): void => {
      if (got.has(r.shardId) || !waiting.has(r.shardId)) return;
      got.set(r.shardId, r);
      waiting.delete(r.shardId);
      wake?.();
    };
    for (const t of tasks) waiting.set(t.shardId, accept);
    try {
      const taskOf = (t: RoundTask): Task => ({ v: PROTOCOL_VERSION, jobId, shardId: t.shardId, op: t.op, attrs: t.attrs, inputs: t.inputs, deadline: o.deadline });
      const requeued = new Set<string>();
      for (const t of tasks) {
        const subject = t.pin !== undefined ? pinnedTaskSubject(prefix, t.pin, t.op, jobId) : taskSubject(prefix, o.cls, t.op, jobId);
        const ack = await dp.js.publish(subject, JSON.stringify(taskOf(t)), { msgID: taskMsgId(jobId, t.shardId) });
        if (ack.duplicate) {
          const r = await existing(t.shardId);
          if (r !== null) accept(r);
        }
      }
      let sweepAt = Date.now() + 5_000;
      while (got.size < tasks.length) {
        if (o.signal?.aborted === true) throw new GramfleetError('JOB_CANCELLED', `job ${jobId} was cancelled`, { jobId });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1_000);
          wake = () => { clearTimeout(timer); resolve(); };
        });
        wake = undefined;
        o.onWait?.();
        if (Date.now() > sweepAt) {
          sweepAt = Date.now() + 5_000;
          for (const t of tasks) {
            if (got.has(t.shardId)) continue;
            const r = await existing(t.shardId);
            if (r !== null) accept(r);
          }
          const waitingPinned = tasks.filter((t) => t.pin !== undefined && !got.has(t.shardId) && !requeued.has(t.shardId));
          if (waitingPinned.length > 0 && o.livePins !== undefined) {
            const live = await o.livePins();
            for (const t of waitingPinned) {
              if (live.has(t.pin as string)) continue;
              // The worker left: any worker may run the task now; its pinned copy would only sit.
              o.log.warn('pinned worker gone; re-queueing its task for any worker', { jobId, shardId: t.shardId, pin: t.pin });
              await dp.jsm.streams.purge(dp.names.tasksStream, { filter: pinnedTaskSubject(prefix, t.pin as string, t.op, jobId) }).catch(() => undefined);
              await dp.js.publish(taskSubject(prefix, o.cls, t.op, jobId), JSON.stringify(taskOf(t)), { msgID: requeuedTaskMsgId(jobId, t.shardId) });
              requeued.add(t.shardId);
            }
          }
        }
      }
    } finally {
      for (const t of tasks) waiting.delete(t.shardId);
    }
    const out = tasks.map((t) => got.get(t.shardId) as TaskResult);
    for (const r of out) {
      if (r.error !== undefined) throw GramfleetError.fromPayload({ ...r.error, details: { ...r.error.details, shardId: r.shardId } });
      workers[r.stats.workerId] = (workers[r.stats.workerId] ?? 0) + 1;
      kernelRows.hits += r.stats.rowHits ?? 0;
      kernelRows.misses += r.stats.rowMisses ?? 0;
      kernelRows.mirroredEntries += r.stats.mirroredEntries ?? 0;
    }
    return out;
  }

  return { run, workers, kernelRows, close: () => sub.unsubscribe() };
}

/** Options of {@link createPinner}. */
export interface PinnerOptions {
  readonly dp: DataPlane;
  readonly cls: WorkerClass;
  /** Registry entries older than this are not live. @default the data plane's worker TTL */
  readonly maxAgeMs?: number;
  /** Registry reads are reused for this long. @default 5000 */
  readonly refreshMs?: number;
}

/** Stable shard → worker assignment for pinned tasks. */
export interface Pinner {
  /** The pin of shard `k` of `count` (stable while its worker lives; undefined with no live worker). */
  pins(count: number): Promise<(string | undefined)[]>;
  /** Pins of the live workers of the class. */
  live(): Promise<ReadonlySet<string>>;
}

/**
 * Assigns shards to the live workers of a class, round robin over their sorted pins, and keeps
 * each assignment while its worker lives (so the worker's caches keep serving it); a shard
 * whose worker left goes to the live worker with the fewest shards.
 */
export function createPinner(o: PinnerOptions): Pinner {
  const maxAge = o.maxAgeMs ?? o.dp.options.workerTtlMs;
  let cached: { at: number; pins: Set<string> } | undefined;
  const assigned: (string | undefined)[] = [];
  async function live(): Promise<ReadonlySet<string>> {
    if (cached !== undefined && Date.now() - cached.at < (o.refreshMs ?? 5000)) return cached.pins;
    const pins = new Set<string>();
    const now = Date.now();
    for await (const k of await o.dp.workers.keys()) {
      const e = await o.dp.workers.get(k).catch(() => null);
      if (e === null || e.operation !== 'PUT') continue;
      const w = e.json<WorkerRecord>();
      if (w.cls === o.cls && w.pin !== undefined && now - w.beatAt <= maxAge) pins.add(w.pin);
    }
    cached = { at: Date.now(), pins };
    return pins;
  }
  return {
    live,
    async pins(count: number): Promise<(string | undefined)[]> {
      const alive = [...(await live())].sort();
      if (alive.length === 0) return Array.from({ length: count }, () => undefined);
      const load = new Map(alive.map((p) => [p, 0]));
      for (let k = 0; k < count; k++) {
        const p = assigned[k];
        if (p !== undefined && load.has(p)) load.set(p, (load.get(p) as number) + 1);
        else assigned[k] = undefined;
      }
      for (let k = 0; k < count; k++) {
        if (assigned[k] !== undefined) continue;
        // Round robin on a first assignment; otherwise the least loaded live worker.
        let best = alive[k % alive.length] as string;
        if ((load.get(best) as number) > Math.min(...load.values())) best = [...load.entries()].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1))[0]?.[0] as string;
        assigned[k] = best;
        load.set(best, (load.get(best) as number) + 1);
      }
      return assigned.slice(0, count);
    },
  };
}
