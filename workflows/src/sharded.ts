/**
 * Runs many shards through `runShardBatch` activities with a bounded window of batches in
 * flight, in the manner of the batch-sliding-window sample. Only batches touch Temporal;
 * single shards travel over NATS. Deterministic: uses workflow-safe APIs only.
 */
import { activityRetry } from './policies';
import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  proxyActivities,
  proxyLocalActivities,
  type ActivityInterfaceFor,
  type LocalActivityInterfaceFor,
} from '@temporalio/workflow';
import { chunk, type ClusterActivities, type ShardBatchInput, type ShardOutcome, type ShardSpec, type WorkerClass, type ArrayRef } from '@gramfleet/core';

/** Activity proxies with the retry policy every sharded workflow uses. */
export function clusterActivities(timeoutMs: number): ClusterActivities {
  return workloadActivities<ClusterActivities>(timeoutMs);
}

/**
 * The same activities as local activities: run by the orchestrator that runs the workflow task,
 * recorded with the workflow task's completion (no activity task round trip through the server,
 * no second workflow task). For short steps, e.g. a small job's only batch; a local activity
 * cut off by a crash is run again when the workflow task is retried.
 */
export function localClusterActivities<A = ClusterActivities>(timeoutMs: number): LocalActivityInterfaceFor<A> {
  return proxyLocalActivities<A>({ startToCloseTimeout: Math.max(60_000, timeoutMs), retry: activityRetry() });
}

/** A workload's own activities: a job-long start-to-close timeout, a 30 s heartbeat, gramfleet's retry policy. */
export function workloadActivities<A>(timeoutMs: number): ActivityInterfaceFor<A> {
  return proxyActivities<A>({ startToCloseTimeout: Math.max(60_000, timeoutMs), heartbeatTimeout: 30_000, retry: activityRetry() });
}

/** Live counters of a sharded run, read by the progress query. */
export interface ShardedCounters {
  shardsDone: number;
  batchesRunning: number;
  published: number;
  duplicates: number;
}

/** What {@link runSharded} needs. */
export interface ShardedRun {
  readonly jobId: string;
  readonly op: string;
  readonly cls: WorkerClass;
  readonly inputs: readonly ArrayRef[];
  readonly shards: readonly ShardSpec[];
  readonly batchShards: number;
  readonly window: number;
  readonly deadline: number;
  /** Outcomes already known (carried over continueAsNew), by shard id. */
  readonly done: Record<string, ShardOutcome>;
  readonly counters: ShardedCounters;
  readonly acts: ClusterActivities;
}

/**
 * Runs every shard without an outcome yet (outcomes land in `r.done`). It runs to the end even
 * when Temporal suggests continuing as new: its callers run few shards per call and continue as
 * new between calls (the Kronecker fit, between evaluations), where their state is whole.
 */
export async function runSharded(r: ShardedRun): Promise<void> {
  const todo = r.shards.filter((s) => r.done[s.shardId] === undefined);
  const batches = chunk(todo, r.batchShards);
  const running = new Map<number, Promise<number>>();
  let next = 0;
  let failure: unknown;
  const launch = (i: number): void => {
    const batch = batches[i];
    if (batch === undefined) return;
    const input: ShardBatchInput = { jobId: r.jobId, op: r.op, cls: r.cls, inputs: r.inputs, shards: batch, deadline: r.deadline };
    r.counters.batchesRunning++;
    running.set(
      i,
      r.acts.runShardBatch(input).then(
        (out) => {
          for (const o of out.outcomes) {
            if (r.done[o.shardId] === undefined) r.counters.shardsDone++;
            r.done[o.shardId] = o;
          }
          r.counters.published += out.published;
          r.counters.duplicates += out.duplicates;
          r.counters.batchesRunning--;
          return i;
        },
        (e: unknown) => {
          r.counters.batchesRunning--;
          failure ??= e;
          return i;
        },
      ),
    );
  };
  while (next < batches.length || running.size > 0) {
    while (failure === undefined && running.size < r.window && next < batches.length) launch(next++);
    if (running.size === 0) break;
    const finished = await Promise.race(running.values());
    running.delete(finished);
    if (failure !== undefined && running.size === 0) break;
  }
  if (failure !== undefined) throw failure;
}

/**
 * Whether `e` is the workflow continuing as new: not a failure, so the job's shards must not be
 * cancelled (cancelling tells every worker to drop the job's tasks, the next run's included).
 */
export function continuesAsNew(e: unknown): boolean {
  return e instanceof ContinueAsNew;
}

/** Runs the job's cleanup (purge queued shards, tell workers) even when the workflow is cancelled. */
export async function cleanupShards(acts: ClusterActivities, jobId: string): Promise<void> {
  await CancellationScope.nonCancellable(() => acts.cancelJobShards({ jobId }));
}
