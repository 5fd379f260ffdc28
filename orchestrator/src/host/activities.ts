/**
 * Activity implementations, built by a factory from their dependencies so they can be tested.
 * `runShardBatch` runs its shards through the process's {@link TaskClient} (straight to the
 * workers' lanes) and records each result in the results stream, so it is idempotent: a retried
 * attempt, or a rerun of the job, first reads the results that already exist and sends only the
 * missing shards, and every shard is counted once however many results arrive for it.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  GramfleetError,
  PROTOCOL_VERSION,
  cancelSubject,
  isGramfleetError,
  jobResultsFilter,
  jobTasksFilter,
  resultMsgId,
  resultSubject,
  type ArrayRef,
  type ClusterActivities,
  type GrfAssembleInput,
  type Logger,
  type ShardBatchInput,
  type ShardBatchOutput,
  type ShardOutcome,
  type TaskResult,
} from '@gramfleet/core';
import type { ArrayStore, DataPlane, TaskClient } from '@gramfleet/workers';
import { assembleGrfResult } from '../grf/assemble';

/** Dependencies of the activities. */
export interface ActivityDeps {
  readonly dp: DataPlane;
  readonly store: ArrayStore;
  /** The process's owner of tasks (one per process). */
  readonly tasks: TaskClient;
  readonly log: Logger;
  /** File EigenPro 2 appends its per-epoch time breakdown to (GRAMFLEET_EIGENPRO_PROFILE, host/config.ts). @default none */
  readonly eigenproProfile?: string;
}

/**
 * The activity attempt from which an object missing from the store is final in an orchestrator
 * step that reads what an earlier step wrote (Kronecker slabs, factors and pieces; EigenPro's
 * data): the first tries allow for a write that is late, after that the object is gone (a wiped
 * one-replica store) and more tries (unbounded for the Kronecker steps, 20 for the long loops)
 * would only delay the job's typed failure. Attempts 1 and 2 are 1 s and 2 s apart (activityRetry).
 */
export const MISSING_OBJECT_FINAL_ATTEMPT = 3;

/**
 * `e`, marked final (`details.final`) when it is STORE_MISSING_OBJECT and `attempt` has reached
 * {@link MISSING_OBJECT_FINAL_ATTEMPT}; anything else unchanged. `attempt` defaults to the running
 * activity's (1 outside an activity).
 */
export function missingObjectFinal(e: unknown, attempt: number = activityAttempt()): unknown {
  if (!isGramfleetError(e) || e.code !== 'STORE_MISSING_OBJECT' || e.details['final'] === true || attempt < MISSING_OBJECT_FINAL_ATTEMPT) return e;
  return new GramfleetError('STORE_MISSING_OBJECT', `${e.message} (still missing on attempt ${attempt}: final)`, {
    ...e.details,
    attempt,
    final: true,
  });
}

/** The running activity's attempt (1 outside an activity). */
function activityAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

/**
 * Converts a gramfleet error into a Temporal failure whose type is the code; not retried when the
 * code is permanent, or when its details say this occurrence is final (`final: true`, e.g. a
 * STORE_MISSING_OBJECT for inputs no store holds any more).
 */
export function toFailure(e: unknown): unknown {
  if (isGramfleetError(e)) {
    return ApplicationFailure.create({ message: e.message, type: e.code, nonRetryable: !e.retryable || e.details['final'] === true, details: [e.details] });
  }
  return e;
}

/** Outputs up to this size stay inline in outcomes that go into workflow history; larger ones are stored. */
const HISTORY_INLINE_MAX_BYTES = 1024;

/**
 * The results already recorded for some shards of a job (one request for the job's subjects,
 * then one read per result found).
 */
export async function recordedResults(dp: DataPlane, jobId: string, shardIds: readonly string[]): Promise<Map<string, TaskResult>> {
  const prefix = dp.names.prefix;
  const found = new Map<string, TaskResult>();
  let subjects: Record<string, number> = {};
  try {
    const info = await dp.jsm.streams.info(dp.names.resultsStream, { subjects_filter: jobResultsFilter(prefix, jobId) });
    subjects = info.state.subjects ?? {};
  } catch {
    return found;
  }
  const want = shardIds.filter((s) => subjects[resultSubject(prefix, jobId, s)] !== undefined);
  await Promise.all(
    want.map(async (s) => {
      try {
        const m = await dp.jsm.streams.getMessage(dp.names.resultsStream, { last_by_subj: resultSubject(prefix, jobId, s) });
        if (m !== null) found.set(s, m.json<TaskResult>());
      } catch {
        /* gone meanwhile: run it */
      }
    }),
  );
  return found;
}

/**
 * Records a shard's result in the results stream (deduplicated by id), riding through a
 * restarting server; still failing after ~10 s, CLUSTER_UNAVAILABLE (retryable: the activity's
 * next attempt runs the unrecorded shards again).
 */
export async function recordResult(dp: DataPlane, r: TaskResult): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await dp.js.publish(resultSubject(dp.names.prefix, r.jobId, r.shardId), JSON.stringify(r), { msgID: resultMsgId(r.jobId, r.shardId) });
      return;
    } catch (e) {
      if (attempt >= 20)
        throw new GramfleetError('CLUSTER_UNAVAILABLE', `result of shard ${r.shardId} could not be recorded: ${(e as Error).message}`, {
          jobId: r.jobId,
          shardId: r.shardId,
        });
      await new Promise((res) => setTimeout(res, 500));
    }
  }
}

/** Stores the larger inline outputs of a result, so that its outcome can go into workflow history. */
export async function materialise(store: ArrayStore, outputs: readonly ArrayRef[]): Promise<ArrayRef[]> {
  return Promise.all(
    outputs.map(async (r) => {
      if (r.inline === undefined || r.bytes <= HISTORY_INLINE_MAX_BYTES) return r;
      const stored = await store.put(await store.get(r));
      if (stored.digest !== r.digest) throw new GramfleetError('STORE_DIGEST_MISMATCH', `output ${r.digest} stored as ${stored.digest}`, { digest: r.digest });
      return stored;
    }),
  );
}

/** Builds the activities. */
export function createActivities(deps: ActivityDeps): ClusterActivities {
  const { dp, log, store, tasks } = deps;
  const prefix = dp.names.prefix;

  async function runShardBatch(input: ShardBatchInput): Promise<ShardBatchOutput> {
    const ctx = Context.current();
    const got = new Map<string, ShardOutcome>();
    let failed: TaskResult | undefined;
    const recorded = await recordedResults(
      dp,
      input.jobId,
      input.shards.map((s) => s.shardId),
    );
    for (const [id, r] of recorded) {
      if (r.error === undefined) got.set(id, { shardId: id, outputs: await materialise(store, r.outputs), stats: r.stats });
    }
    const todo = input.shards.filter((s) => !got.has(s.shardId));
    const beat = setInterval(() => ctx.heartbeat({ done: got.size, total: input.shards.length }), 1_000);
    const onCancel = (): void => tasks.cancelJob(input.jobId);
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    try {
      const records: Promise<unknown>[] = [];
      let unrecorded: unknown;
      await Promise.all(
        todo.map(async (s) => {
          const r = await tasks.run(
            { jobId: input.jobId, shardId: s.shardId, op: input.op, attrs: s.attrs, inputs: input.inputs, deadline: input.deadline },
            { cls: input.cls, verify: input.verify },
          );
          if (r.error !== undefined) {
            failed ??= r;
            if (r.error.code !== 'JOB_CANCELLED') tasks.cancelJob(input.jobId);
            return;
          }
          // Recorded for a retried attempt or a rerun (deduplicated by id: recorded once).
          records.push(
            recordResult(dp, r).catch((e: unknown) => {
              unrecorded ??= e;
            }),
          );
          got.set(s.shardId, { shardId: s.shardId, outputs: await materialise(store, r.outputs), stats: r.stats });
        }),
      );
      await Promise.all(records);
      if (unrecorded !== undefined) throw unrecorded;
    } finally {
      clearInterval(beat);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
    }
    if (ctx.cancellationSignal.aborted) throw new GramfleetError('JOB_CANCELLED', `job ${input.jobId} was cancelled`);
    const bad = failed;
    if (bad?.error !== undefined) {
      throw toFailure(GramfleetError.fromPayload({ ...bad.error, details: { ...bad.error.details, shardId: bad.shardId } }));
    }
    const outcomes = input.shards.map((s) => got.get(s.shardId)).filter((o): o is ShardOutcome => o !== undefined);
    // This batch's own (a delta of the client's total would take in other jobs' and batches').
    const duplicates = tasks.duplicatesOf(
      input.jobId,
      todo.map((s) => s.shardId),
    );
    log.info('batch done', { jobId: input.jobId, shards: outcomes.length, published: todo.length, duplicates });
    return { outcomes, published: todo.length, duplicates };
  }

  return {
    async runShardBatch(input: ShardBatchInput): Promise<ShardBatchOutput> {
      try {
        return await runShardBatch(input);
      } catch (e) {
        throw toFailure(e);
      }
    },
    async cancelJobShards({ jobId }: { jobId: string }): Promise<{ purged: number }> {
      tasks.cancelJob(jobId);
      dp.nc.publish(cancelSubject(prefix, jobId), '');
      const r = await dp.jsm.streams.purge(dp.names.tasksStream, { filter: jobTasksFilter(prefix, jobId) });
      log.info('job shards cancelled', { jobId, purged: r.purged });
      return { purged: r.purged };
    },
    async assembleGrf(input: GrfAssembleInput) {
      try {
        return await assembleGrfResult(deps.store, input);
      } catch (e) {
        throw toFailure(e);
      }
    },
  };
}
