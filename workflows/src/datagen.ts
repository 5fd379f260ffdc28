/**
 * The Krylov-recycled data-generation workflow. The chain of PDE instances (sorted by the
 * SDK) is cut into chunks; up to `window` chunks run at once, each solving its systems in
 * order, one `datagen-solve` shard per system, carrying the recycled space U (an ArrayRef
 * in the object store) from one system to the next. Every finished system is recorded in
 * history, so a retried activity, a restarted orchestrator or a continued-as-new run starts
 * the chunk at its first unsolved system; a shard whose result already exists (a rerun with
 * the same job id) is not published again.
 */
import { continueAsNew, defineQuery, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import { datagenShardId, type ArrayRef, type DatagenJobInput, type DatagenJobResult, type DatagenProgress, type DatagenSystemOutcome } from '@gramfleet/core';
import { cleanupShards, clusterActivities } from './sharded';

/** Query answering the job's progress. */
export const datagenProgressQuery = defineQuery<DatagenProgress>('datagenProgress');

/** State carried over `continueAsNew`. */
export interface DatagenCarry {
  readonly done: Record<string, DatagenSystemOutcome>;
  readonly published: number;
  readonly duplicates: number;
  readonly generation: number;
  readonly startedAt: number;
}

/** Solves every chunk of `input` and returns the systems' references. */
export async function datagenWorkflow(input: DatagenJobInput, carry?: DatagenCarry): Promise<DatagenJobResult> {
  const acts = clusterActivities(input.timeoutMs);
  const done: Record<string, DatagenSystemOutcome> = { ...(carry?.done ?? {}) };
  let published = carry?.published ?? 0;
  let duplicates = carry?.duplicates ?? 0;
  const generation = carry?.generation ?? 0;
  const startedAt = carry?.startedAt ?? Date.now();
  const p = input.params;
  const total = input.chunks.reduce((s, c) => s + c.length, 0);
  let phase: DatagenProgress['phase'] = 'running';
  let chunksDone = 0;
  let stop = false;
  setHandler(datagenProgressQuery, () => {
    const outs = Object.values(done);
    return {
      phase, systemsTotal: total, systemsDone: outs.length, chunksTotal: input.chunks.length, chunksDone, generation,
      finished: outs.flatMap((o) => (o.outputs[4] === undefined ? [] : [{ chunk: o.chunk, position: o.position, stats: o.outputs[4] }])),
    };
  });

  async function runChunk(ci: number): Promise<void> {
    const chunk = input.chunks[ci] ?? [];
    let prevU: ArrayRef | undefined;
    for (let pos = 0; pos < chunk.length; pos++) {
      const id = datagenShardId(ci, pos);
      let o = done[id];
      if (o === undefined) {
        if (workflowInfo().continueAsNewSuggested) {
          stop = true;
          return;
        }
        const out = await acts.runShardBatch({
          jobId: input.jobId, op: 'datagen-solve', cls: input.cls,
          inputs: prevU !== undefined && p.solver === 'gcrodr' ? [prevU] : [],
          shards: [{ shardId: id, attrs: { params: p, index: chunk[pos] } }],
          deadline: startedAt + input.timeoutMs,
        });
        published += out.published;
        duplicates += out.duplicates;
        const got = out.outcomes[0];
        if (got === undefined) throw new Error(`internal: system ${id} has no outcome`);
        o = { index: chunk[pos] as number, chunk: ci, position: pos, outputs: got.outputs, stats: got.stats };
        done[id] = o;
      }
      const u = o.outputs[1];
      prevU = u !== undefined && (u.shape[0] ?? 0) > 0 ? u : undefined;
    }
    chunksDone++;
  }

  try {
    let next = 0;
    const lanes = Array.from({ length: Math.min(p.window, input.chunks.length) }, async () => {
      while (next < input.chunks.length && !stop) await runChunk(next++);
    });
    await Promise.all(lanes);
    if (stop) {
      await continueAsNew<typeof datagenWorkflow>(input, { done, published, duplicates, generation: generation + 1, startedAt });
    }
    const systems: DatagenSystemOutcome[] = [];
    input.chunks.forEach((c, ci) => c.forEach((_, pos) => {
      const o = done[datagenShardId(ci, pos)];
      if (o === undefined) throw new Error(`internal: system c${ci} p${pos} missing`);
      systems.push(o);
    }));
    phase = 'done';
    return { jobId: input.jobId, systems, publishedTasks: published, duplicateResults: duplicates };
  } catch (e) {
    phase = isCancellation(e) ? 'cancelled' : 'failed';
    await cleanupShards(acts, input.jobId);
    throw e;
  }
}
