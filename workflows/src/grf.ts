/**
 * The graph-random-features workflow: node-range shards of the `grf-walks` op, run in batches
 * (one `runGrfBatch` activity each, a bounded window in flight), then assembled into Φ. The
 * history records per batch only its counts (a claim check): the batch's rows stay with the
 * process that ran it, and the assembly runs a batch again where they are gone, so the history
 * and the continue-as-new payload do not grow with Φ. A job of one batch is one activity.
 * Survives worker, NATS, Temporal and orchestrator restarts: batches are deterministic (seeded
 * walks), so a batch run twice gives the same bytes.
 */
import { continueAsNew, defineQuery, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  grfBatchSizes,
  type GrfActivities,
  type GrfAssembled,
  type GrfBatchOutput,
  type GrfJobInput,
  type GrfJobResult,
  type JobProgress,
} from '@gramfleet/core';
import { cleanupShards, continuesAsNew, clusterActivities, localClusterActivities, workloadActivities } from './sharded';

/** Query answering the job's progress. */
export const progressQuery = defineQuery<JobProgress>('progress');

/** State carried over `continueAsNew`: the counts of the batches already run. */
export interface GrfCarry {
  readonly done: Record<string, GrfBatchOutput>;
  readonly generation: number;
  readonly startedAt: number;
}

/** Computes Φ for every node of the graph in `input`. */
export async function grfWorkflow(input: GrfJobInput, carry?: GrfCarry): Promise<GrfJobResult> {
  const acts = clusterActivities(input.timeoutMs);
  const grf = workloadActivities<GrfActivities>(input.timeoutMs);
  const done: Record<string, GrfBatchOutput> = { ...(carry?.done ?? {}) };
  const generation = carry?.generation ?? 0;
  const batches = grfBatchSizes(input);
  const shardsTotal = batches.reduce((a, b) => a + b, 0);
  let batchesRunning = 0;
  let phase: JobProgress['phase'] = 'running';
  const shardsDone = (): number => Object.values(done).reduce((a, o) => a + o.shards, 0);
  setHandler(progressQuery, () => ({
    phase,
    shardsTotal,
    shardsDone: shardsDone(),
    batchesRunning,
    generation,
    ...(input.route !== undefined ? { route: input.route } : {}),
  }));

  const result = (assembled: GrfAssembled): GrfJobResult => {
    const outs = Object.values(done);
    const backends: Record<string, number> = {};
    const workers: Record<string, number> = {};
    for (const o of outs) {
      for (const [k, v] of Object.entries(o.backends)) backends[k] = (backends[k] ?? 0) + v;
      for (const [k, v] of Object.entries(o.workers)) workers[k] = (workers[k] ?? 0) + v;
    }
    phase = 'done';
    return {
      ...assembled,
      shards: shardsTotal,
      backends,
      workers,
      duplicateResults: outs.reduce((a, o) => a + o.duplicates, 0),
      publishedTasks: outs.reduce((a, o) => a + o.published, 0),
      computeMs: outs.reduce((a, o) => a + o.computeMs, 0),
      ...(input.params.verify !== undefined ? { verifiedShards: outs.reduce((a, o) => a + (o.verified ?? 0), 0) } : {}),
      ...(input.route !== undefined ? { route: input.route } : {}),
    };
  };

  try {
    if (batches.length === 1 && done['0'] === undefined) {
      batchesRunning = 1;
      // One batch: a local activity (the orchestrator running this workflow task runs it).
      const out = await localClusterActivities<GrfActivities>(input.timeoutMs).runGrfBatch({ job: input, batch: 0, finish: true });
      batchesRunning = 0;
      const { assembled, ...counts } = out;
      done['0'] = counts;
      if (assembled === undefined) throw new Error('internal: a one-batch job came back without Φ');
      return result(assembled);
    }
    // A bounded window of batches; once the history asks for it, no new batch starts and the
    // workflow continues as new after those in flight.
    const todo = batches.map((_, b) => b).filter((b) => done[String(b)] === undefined);
    const running = new Set<Promise<void>>();
    let failure: unknown;
    let stop = false;
    for (const b of todo) {
      if (failure !== undefined) break;
      if (workflowInfo().continueAsNewSuggested) {
        stop = true;
        break;
      }
      if (running.size >= input.params.window) await Promise.race(running);
      if (failure !== undefined) break;
      batchesRunning++;
      const p: Promise<void> = grf
        .runGrfBatch({ job: input, batch: b, finish: false })
        .then(
          (out) => {
            done[String(b)] = out;
          },
          (e: unknown) => {
            failure ??= e;
          },
        )
        .finally(() => {
          batchesRunning--;
          running.delete(p);
        });
      running.add(p);
    }
    await Promise.all(running);
    if (failure !== undefined) throw failure;
    if (stop) await continueAsNew<typeof grfWorkflow>(input, { done, generation: generation + 1, startedAt: carry?.startedAt ?? Date.now() });
    phase = 'aggregating';
    return result(await grf.assembleGrfBatches({ job: input, batches: batches.length }));
  } catch (e) {
    if (continuesAsNew(e)) throw e;
    phase = isCancellation(e) ? 'cancelled' : 'failed';
    await cleanupShards(acts, input.jobId);
    throw e;
  }
}
