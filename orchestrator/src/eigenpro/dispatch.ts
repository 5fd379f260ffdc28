/**
 * Fan-out of one round of tasks from inside a long activity, straight over NATS: publish the
 * tasks (deduplicated by `Nats-Msg-Id`, so a resumed attempt re-publishing a round does not
 * make a second shard), and collect their results from a subscription on the job's result
 * subjects, looking a result up in the results stream when the task had been published
 * before (by an earlier attempt) or when a result may have been missed during a reconnect.
 */
import {
  GramfleetError, PROTOCOL_VERSION, jobResultsFilter, resultSubject, taskMsgId, taskSubject,
  type ArrayRef, type Logger, type Task, type TaskResult, type WorkerClass,
} from '@gramfleet/core';
import type { DataPlane } from '@gramfleet/workers';

/** One task of a round. */
export interface RoundTask {
  readonly shardId: string;
  readonly op: string;
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly inputs: readonly ArrayRef[];
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
}

/** A dispatcher bound to one job. */
export interface Dispatcher {
  /** Runs the tasks and returns their results in task order; a task's error result throws its typed error. */
  run(tasks: readonly RoundTask[]): Promise<TaskResult[]>;
  /** Tasks per worker id, from the results. */
  readonly workers: Record<string, number>;
  close(): void;
}

/** Creates a {@link Dispatcher} (subscribes to the job's results at once). */
export function createDispatcher(o: DispatcherOptions): Dispatcher {
  const { dp, jobId } = o;
  const prefix = dp.names.prefix;
  const waiting = new Map<string, (r: TaskResult) => void>();
  const workers: Record<string, number> = {};
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
      for (const t of tasks) {
        const task: Task = { v: PROTOCOL_VERSION, jobId, shardId: t.shardId, op: t.op, attrs: t.attrs, inputs: t.inputs, deadline: o.deadline };
        const ack = await dp.js.publish(taskSubject(prefix, o.cls, t.op, jobId), JSON.stringify(task), { msgID: taskMsgId(jobId, t.shardId) });
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
        }
      }
    } finally {
      for (const t of tasks) waiting.delete(t.shardId);
    }
    const out = tasks.map((t) => got.get(t.shardId) as TaskResult);
    for (const r of out) {
      if (r.error !== undefined) throw GramfleetError.fromPayload({ ...r.error, details: { ...r.error.details, shardId: r.shardId } });
      workers[r.stats.workerId] = (workers[r.stats.workerId] ?? 0) + 1;
    }
    return out;
  }

  return { run, workers, close: () => sub.unsubscribe() };
}
