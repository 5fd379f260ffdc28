/**
 * Fan-out of one round of tasks from inside a long activity: the tasks go through the process's
 * {@link TaskClient} straight to the workers' lanes, and the round waits for all their results,
 * heartbeating every second. A task may be pinned to one worker (its caches hold the shard's
 * data); if that worker leaves, any worker runs it (the client re-queues it).
 */
import { GramfleetError, type ArrayRef, type Logger, type TaskResult, type WorkerClass } from '@gramfleet/core';
import type { TaskClient } from '@gramfleet/workers';

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
  readonly tasks: TaskClient;
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
  /** Kernel rows the workers served from their kernel-row caches (`hits`) and computed (`misses`), and the entries of computed rows read from cached mirror rows. */
  readonly kernelRows: { hits: number; misses: number; mirroredEntries: number };
  close(): void;
}

/** Creates a {@link Dispatcher}. */
export function createDispatcher(o: DispatcherOptions): Dispatcher {
  const { jobId } = o;
  const workers: Record<string, number> = {};
  const kernelRows = { hits: 0, misses: 0, mirroredEntries: 0 };

  async function run(tasks: readonly RoundTask[]): Promise<TaskResult[]> {
    const all = Promise.all(
      tasks.map((t) =>
        o.tasks.run({ jobId, shardId: t.shardId, op: t.op, attrs: t.attrs, inputs: t.inputs, deadline: o.deadline }, { cls: o.cls, pin: t.pin }),
      ),
    );
    let out: TaskResult[] | undefined;
    // Records the results; a rejection is the race's below (or, once cancelled, nobody's) — without
    // the second handler this copy of it would be an unhandled rejection, which ends the process.
    all.then(
      (r) => {
        out = r;
      },
      () => undefined,
    );
    while (out === undefined) {
      if (o.signal?.aborted === true) {
        o.tasks.cancelJob(jobId);
        throw new GramfleetError('JOB_CANCELLED', `job ${jobId} was cancelled`, { jobId });
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        all,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 1_000);
        }),
      ]);
      clearTimeout(timer);
      if (out === undefined) o.onWait?.();
    }
    const results: TaskResult[] = out;
    for (const r of results) {
      if (r.error !== undefined) throw GramfleetError.fromPayload({ ...r.error, details: { ...r.error.details, shardId: r.shardId } });
      workers[r.stats.workerId] = (workers[r.stats.workerId] ?? 0) + 1;
      kernelRows.hits += r.stats.rowHits ?? 0;
      kernelRows.misses += r.stats.rowMisses ?? 0;
      kernelRows.mirroredEntries += r.stats.mirroredEntries ?? 0;
    }
    return results;
  }

  return { run, workers, kernelRows, close: () => undefined };
}

/** Options of {@link createPinner}. */
export interface PinnerOptions {
  readonly tasks: TaskClient;
  readonly cls: WorkerClass;
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
  const assigned: (string | undefined)[] = [];
  const live = (): Promise<ReadonlySet<string>> => o.tasks.livePins(o.cls);
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
        if ((load.get(best) as number) > Math.min(...load.values()))
          best = [...load.entries()].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1))[0]?.[0] as string;
        assigned[k] = best;
        load.set(best, (load.get(best) as number) + 1);
      }
      return assigned.slice(0, count);
    },
  };
}
