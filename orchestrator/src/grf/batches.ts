/**
 * The GRF job's activities: `runGrfBatch` runs one batch of shards through the process's task
 * client and keeps the batch's rows of Φ in this process (a claim check: the workflow records
 * only counts), and `assembleGrfBatches` stores the kept rows of every batch as Φ (part by part), stores it
 * and computes the extras. A batch whose rows are not here (another orchestrator ran it, this
 * one restarted, or they were evicted) is run again: same seeds, same bytes, so Φ never depends
 * on where its rows were kept. A job of one batch does it all in one activity.
 */
import { Context } from '@temporalio/activity';
import {
  GramfleetError,
  csrVstack,
  grfBatch,
  grfWalksOutputsProblem,
  type CsrArrays,
  type GrfActivities,
  type GrfAssembleBatchesInput,
  type GrfAssembled,
  type GrfBatchInput,
  type GrfBatchOutput,
  type GrfJobInput,
  type Logger,
  type TaskResult,
} from '@gramfleet/core';
import { countsEnabled, recordCount, type ArrayStore, type TaskClient } from '@gramfleet/workers';
import { finishGrf, readShardOutputs } from './assemble';
import { toFailure } from '../host/activities';

/** Dependencies of the GRF activities. */
export interface GrfActivityDeps {
  readonly store: ArrayStore;
  readonly tasks: TaskClient;
  readonly log: Logger;
  /** Bytes of batch rows kept in this process before the oldest are dropped (and run again at assembly if needed). @default 2 GiB */
  readonly keepBytes?: number;
}

/** A batch's rows of Φ: per stream, its shards' parts in order (stacked once, at assembly). */
interface Kept {
  readonly parts: CsrArrays[][];
  /** The shard ids the batch's accepted results name, in the order of `parts` (counts.ts). */
  readonly shards: readonly string[];
  readonly bytes: number;
}

/** The range and streams of a GRF shard, from its attributes (core grfShards). */
function attrsOf(s: { readonly attrs: Readonly<Record<string, unknown>> }): { nodeStart: number; nodeEnd: number; streams: readonly number[] } {
  return { nodeStart: s.attrs['nodeStart'] as number, nodeEnd: s.attrs['nodeEnd'] as number, streams: s.attrs['streams'] as readonly number[] };
}

/** Builds the GRF activities (with their store of kept batch rows). */
export function createGrfActivities(deps: GrfActivityDeps): GrfActivities {
  const { store, tasks, log } = deps;
  const budget = deps.keepBytes ?? 2 * 1024 ** 3;
  const kept = new Map<string, Kept>();
  let keptBytes = 0;
  const keyOf = (jobId: string, batch: number): string => `${jobId}#${batch}`;

  function keep(jobId: string, batch: number, parts: CsrArrays[][], shards: readonly string[]): void {
    const bytes = parts.flat().reduce((a, p) => a + p.indptr.byteLength + p.indices.byteLength + p.data.byteLength, 0);
    drop(jobId, batch);
    kept.set(keyOf(jobId, batch), { parts, shards, bytes });
    keptBytes += bytes;
    for (const [k, v] of kept) {
      if (keptBytes <= budget) break;
      kept.delete(k);
      keptBytes -= v.bytes;
    }
  }
  function drop(jobId: string, batch: number): void {
    const k = keyOf(jobId, batch);
    const v = kept.get(k);
    if (v === undefined) return;
    kept.delete(k);
    keptBytes -= v.bytes;
  }

  /** Runs batch `batch` of the job on the workers; its shards' rows of Φ per stream and the counts. */
  async function runBatch(
    job: GrfJobInput,
    batch: number,
    signal?: AbortSignal,
  ): Promise<{ parts: CsrArrays[][]; shards: readonly string[]; out: GrfBatchOutput }> {
    const shards = grfBatch(job, batch);
    if (shards === undefined) throw new GramfleetError('INPUT_OUT_OF_RANGE', `batch ${batch} is outside the job's batches`, { field: 'batch', value: batch });
    const inputs = [job.graph.indptr, job.graph.indices, job.graph.weights];
    const deadline = Date.now() + job.timeoutMs;
    const onAbort = (): void => tasks.cancelJob(job.jobId);
    signal?.addEventListener('abort', onAbort);
    let results: TaskResult[];
    try {
      // The shards' rows are read once, here, and can be recomputed: no durable copy.
      results = await Promise.all(
        shards.map((s) =>
          tasks.run(
            { jobId: job.jobId, shardId: s.shardId, op: 'grf-walks', attrs: s.attrs, inputs, deadline, durable: 'none' },
            { cls: job.cls, verify: job.params.verify, checkOutputs: (outs) => grfWalksOutputsProblem(attrsOf(s), outs) },
          ),
        ),
      );
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted === true) throw new GramfleetError('JOB_CANCELLED', `job ${job.jobId} was cancelled`, { jobId: job.jobId });
    const bad = results.find((r) => r.error !== undefined);
    if (bad?.error !== undefined) throw GramfleetError.fromPayload({ ...bad.error, details: { ...bad.error.details, shardId: bad.shardId } });
    const backends: Record<string, number> = {};
    const workers: Record<string, number> = {};
    let computeMs = 0;
    let verified = 0;
    // Tries of this batch's own shards: the accepted try's number is how many were sent (the
    // client's global counters are shared by the batches that run at once, so their deltas over-count).
    let published = 0;
    for (const r of results) {
      published += r.attempt;
      if (r.stats.verifiedBy !== undefined) verified++;
      backends[r.stats.backend] = (backends[r.stats.backend] ?? 0) + 1;
      workers[r.stats.workerId] = (workers[r.stats.workerId] ?? 0) + 1;
      computeMs += r.stats.computeMs;
    }
    // Kept stacked: one CSR per stream for the batch, not three arrays per shard (at one node per
    // shard, 10⁶ shards kept as 3·10⁶ small arrays held most of the orchestrator's memory).
    const parts = (
      await readShardOutputs(
        store,
        job,
        results.map((r) => r.outputs),
      )
    ).map((ps) => (ps.length > 1 ? [csrVstack(ps)] : ps));
    const taken = results.map((r) => r.shardId);
    if (countsEnabled()) recordCount({ ev: 'batch', jobId: job.jobId, batch, shards: taken, activityAttempt: Context.current().info.attempt });
    return {
      parts,
      shards: taken,
      out: {
        batch,
        shards: shards.length,
        published: published + verified,
        // This batch's own (a delta of the client's total would take in other jobs' and batches').
        duplicates: tasks.duplicatesOf(job.jobId, taken),
        backends,
        workers,
        computeMs,
        ...(verified > 0 ? { verified } : {}),
      },
    };
  }

  /** Heartbeats every second while `f` runs (a long batch must not look dead to Temporal). */
  async function beating<T>(f: () => Promise<T>): Promise<T> {
    const ctx = Context.current();
    // Local activities have no heartbeat (the workflow task's own keeps them alive).
    const beat = setInterval(() => {
      if (!ctx.info.isLocal) ctx.heartbeat();
    }, 1_000);
    try {
      return await f();
    } finally {
      clearInterval(beat);
    }
  }

  return {
    runGrfBatch: failingTyped(async (input: GrfBatchInput): Promise<GrfBatchOutput> => {
      const { job, batch } = input;
      const signal = Context.current().cancellationSignal;
      return beating(async () => {
        const { parts, shards, out } = await runBatch(job, batch, signal);
        if (input.finish) {
          const assembled = await finishGrf(store, job, parts);
          if (countsEnabled()) recordCount({ ev: 'assemble', jobId: job.jobId, shards, activityAttempt: Context.current().info.attempt });
          return { ...out, assembled };
        }
        keep(job.jobId, batch, parts, shards);
        return out;
      });
    }),
    assembleGrfBatches: failingTyped(async (input: GrfAssembleBatchesInput): Promise<GrfAssembled> => {
      const { job } = input;
      const signal = Context.current().cancellationSignal;
      return beating(async () => {
        const batches: CsrArrays[][][] = [];
        const shards: string[] = [];
        for (let b = 0; b < input.batches; b++) {
          let k: Pick<Kept, 'parts' | 'shards'> | undefined = kept.get(keyOf(job.jobId, b));
          if (k === undefined) {
            log.info('batch rows not kept here; running the batch again', { jobId: job.jobId, batch: b });
            k = await runBatch(job, b, signal);
          }
          batches.push(k.parts);
          shards.push(...k.shards);
        }
        // Every shard's rows in order, per stream (stored part by part, never stacked).
        const assembled = await finishGrf(
          store,
          job,
          job.params.streams.map((_, s) => batches.flatMap((parts) => parts[s] ?? [])),
        );
        if (countsEnabled()) recordCount({ ev: 'assemble', jobId: job.jobId, shards, activityAttempt: Context.current().info.attempt });
        for (let b = 0; b < input.batches; b++) drop(job.jobId, b);
        return assembled;
      });
    }),
  };
}

/** An activity whose gramfleet errors cross Temporal as failures typed by their code. */
function failingTyped<A, R>(f: (a: A) => Promise<R>): (a: A) => Promise<R> {
  return async (a: A): Promise<R> => {
    try {
      return await f(a);
    } catch (e) {
      throw toFailure(e);
    }
  };
}
