/**
 * Activity implementations, built by a factory from their dependencies so they can be tested.
 * `runShardBatch` is idempotent: a retried attempt first looks up results that already exist,
 * publishes only the missing shards (deduplicated by `Nats-Msg-Id`), and counts every shard
 * once however many result messages arrive for it.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { DeliverPolicy } from '@nats-io/jetstream';
import {
  GramfleetError, PROTOCOL_VERSION, cancelSubject, isGramfleetError, jobTasksFilter, resultSubject, taskMsgId, taskSubject,
  type ClusterActivities, type GrfAssembleInput, type Logger, type ShardBatchInput, type ShardBatchOutput, type ShardOutcome,
  type Task, type TaskResult,
} from '@gramfleet/core';
import type { ArrayStore, DataPlane } from '@gramfleet/workers';
import { assembleGrfResult } from '../grf/assemble';

/** Dependencies of the activities. */
export interface ActivityDeps {
  readonly dp: DataPlane;
  readonly store: ArrayStore;
  readonly log: Logger;
}

/** Converts a gramfleet error into a Temporal failure whose type is the code. */
export function toFailure(e: unknown): unknown {
  if (isGramfleetError(e)) {
    return ApplicationFailure.create({ message: e.message, type: e.code, nonRetryable: !e.retryable, details: [e.details] });
  }
  return e;
}

/** Builds the activities. */
export function createActivities(deps: ActivityDeps): ClusterActivities {
  const { dp, log } = deps;
  const prefix = dp.names.prefix;

  async function existingResult(jobId: string, shard: string): Promise<TaskResult | null> {
    try {
      const m = await dp.jsm.streams.getMessage(dp.names.resultsStream, { last_by_subj: resultSubject(prefix, jobId, shard) });
      return m === null ? null : (m.json<TaskResult>());
    } catch {
      return null;
    }
  }

  async function runShardBatch(input: ShardBatchInput): Promise<ShardBatchOutput> {
    const ctx = Context.current();
    const got = new Map<string, ShardOutcome>();
    let duplicates = 0;
    let published = 0;
    let failed: TaskResult | undefined;
    const accept = (r: TaskResult): void => {
      if (r.error !== undefined) {
        failed ??= r;
        return;
      }
      if (got.has(r.shardId)) duplicates++;
      else got.set(r.shardId, { shardId: r.shardId, outputs: r.outputs, stats: r.stats });
    };
    const wanted = new Set(input.shards.map((s) => s.shardId));
    // Publish only shards without a result; a retried attempt finds most of them done.
    for (const s of input.shards) {
      if ((await existingResult(input.jobId, s.shardId)) !== null) continue;
      const task: Task = { v: PROTOCOL_VERSION, jobId: input.jobId, shardId: s.shardId, op: input.op, attrs: s.attrs, inputs: input.inputs, deadline: input.deadline };
      const ack = await dp.js.publish(taskSubject(prefix, input.cls, input.op, input.jobId), JSON.stringify(task), { msgID: taskMsgId(input.jobId, s.shardId) });
      if (!ack.duplicate) published++;
    }
    // Collect: an ordered consumer over exactly this batch's result subjects, from the start.
    const consumer = await dp.js.consumers.get(dp.names.resultsStream, {
      filter_subjects: input.shards.map((s) => resultSubject(prefix, input.jobId, s.shardId)),
      deliver_policy: DeliverPolicy.All,
    });
    const beat = setInterval(() => ctx.heartbeat({ done: got.size, total: wanted.size }), 1_000);
    const messages = await consumer.consume({ max_messages: 256 });
    const onCancel = (): void => { void messages.close(); };
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    try {
      for await (const m of messages) {
        accept(m.json<TaskResult>());
        if (failed !== undefined || got.size >= wanted.size) break;
      }
    } finally {
      clearInterval(beat);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
      await messages.close();
    }
    if (ctx.cancellationSignal.aborted) throw new GramfleetError('JOB_CANCELLED', `job ${input.jobId} was cancelled`);
    const bad = failed;
    if (bad?.error !== undefined) {
      throw toFailure(GramfleetError.fromPayload({ ...bad.error, details: { ...bad.error.details, shardId: bad.shardId } }));
    }
    const outcomes = input.shards.map((s) => got.get(s.shardId)).filter((o): o is ShardOutcome => o !== undefined);
    log.info('batch done', { jobId: input.jobId, shards: outcomes.length, published, duplicates });
    return { outcomes, published, duplicates };
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
