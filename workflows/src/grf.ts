/**
 * The graph-random-features workflow: node-range shards of the `grf-walks` op, run in
 * batches with a bounded window, then assembled into Φ. Survives worker, NATS, Temporal and
 * orchestrator restarts: shard outcomes are recorded in history, batches are idempotent.
 */
import { continueAsNew, defineQuery, isCancellation, setHandler } from '@temporalio/workflow';
import { planRanges, shardId, type GrfJobInput, type GrfJobResult, type JobProgress, type ShardOutcome, type ShardSpec } from '@gramfleet/core';
import { cleanupShards, clusterActivities, runSharded, type ShardedCounters } from './sharded';

/** Query answering the job's progress. */
export const progressQuery = defineQuery<JobProgress>('progress');

/** State carried over `continueAsNew`. */
export interface GrfCarry {
  readonly done: Record<string, ShardOutcome>;
  readonly counters: ShardedCounters;
  readonly generation: number;
  readonly startedAt: number;
}

/** Computes Φ for every node of the graph in `input`. */
export async function grfWorkflow(input: GrfJobInput, carry?: GrfCarry): Promise<GrfJobResult> {
  const acts = clusterActivities(input.timeoutMs);
  const done: Record<string, ShardOutcome> = { ...(carry?.done ?? {}) };
  const counters: ShardedCounters = carry?.counters ?? { shardsDone: 0, batchesRunning: 0, published: 0, duplicates: 0 };
  counters.batchesRunning = 0;
  const generation = carry?.generation ?? 0;
  const startedAt = carry?.startedAt ?? Date.now();
  const ranges = planRanges(input.n, input.shardNodes);
  const p = input.params;
  const shards: ShardSpec[] = ranges.map((r, i) => ({
    shardId: shardId(i),
    attrs: { seed: p.seed, walks: p.walks, pHalt: p.pHalt, f: p.f, streams: p.streams, variance: p.variance, nodeStart: r.start, nodeEnd: r.end },
  }));
  let phase: JobProgress['phase'] = 'running';
  setHandler(progressQuery, () => ({ phase, shardsTotal: shards.length, shardsDone: counters.shardsDone, batchesRunning: counters.batchesRunning, generation, ...(input.route !== undefined ? { route: input.route } : {}) }));

  try {
    const state = await runSharded({
      jobId: input.jobId, op: 'grf-walks', cls: input.cls,
      inputs: [input.graph.indptr, input.graph.indices, input.graph.weights],
      shards, batchShards: p.batchShards, window: p.window, deadline: startedAt + input.timeoutMs, done, counters, acts,
    });
    if (state === 'continue') {
      await continueAsNew<typeof grfWorkflow>(input, { done, counters, generation: generation + 1, startedAt });
    }
    phase = 'aggregating';
    const outputs = shards.map((s) => {
      const o = done[s.shardId];
      if (o === undefined) throw new Error(`internal: shard ${s.shardId} has no outcome`);
      return o.outputs;
    });
    const assembled = await acts.assembleGrf({ job: input, shardOutputs: outputs });
    const backends: Record<string, number> = {};
    const workers: Record<string, number> = {};
    let computeMs = 0;
    for (const s of shards) {
      const st = done[s.shardId]?.stats;
      if (st === undefined) continue;
      backends[st.backend] = (backends[st.backend] ?? 0) + 1;
      workers[st.workerId] = (workers[st.workerId] ?? 0) + 1;
      computeMs += st.computeMs;
    }
    phase = 'done';
    return { ...assembled, shards: shards.length, duplicateResults: counters.duplicates, publishedTasks: counters.published, backends, workers, computeMs, ...(input.route !== undefined ? { route: input.route } : {}) };
  } catch (e) {
    phase = isCancellation(e) ? 'cancelled' : 'failed';
    await cleanupShards(acts, input.jobId);
    throw e;
  }
}
