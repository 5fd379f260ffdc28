/**
 * The Krylov-recycled data-generation workflow. The chain of PDE instances (sorted by the
 * SDK) is cut into chunks; up to `window` chunks run at once, each solving its systems in
 * order, one `datagen-solve` shard per system, carrying the recycled space U (an ArrayRef
 * in the object store) from one system to the next. Every finished system is recorded in
 * history, so a retried activity, a restarted orchestrator or a continued-as-new run starts
 * the chunk at its first unsolved system; a shard whose result already exists (a rerun with
 * the same job id) is not published again. A finished chunk's outcomes are written to the
 * object store as one page; only page references stay in the workflow's state, result and
 * continue-as-new payload.
 */
import { continueAsNew, defineQuery, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  DATAGEN_PAGE_FORMAT,
  datagenShardId,
  type ArrayRef,
  type DatagenActivities,
  type DatagenJobInput,
  type DatagenProgress,
  type DatagenSystemOutcome,
  type DatagenWorkflowResult,
} from '@gramfleet/core';
import { cleanupShards, continuesAsNew, clusterActivities } from './sharded';
import { activityRetry } from './policies';

/** Query answering the job's progress. */
export const datagenProgressQuery = defineQuery<DatagenProgress>('datagenProgress');

/** State carried over `continueAsNew`. */
export interface DatagenCarry {
  readonly done: Record<string, DatagenSystemOutcome>;
  readonly published: number;
  readonly duplicates: number;
  readonly generation: number;
  readonly startedAt: number;
  /** Page reference of each paged chunk, by chunk index. */
  readonly pages?: Record<string, ArrayRef>;
}

/** Solves every chunk of `input` and returns the references of the chunks' pages. */
export async function datagenWorkflow(input: DatagenJobInput, carry?: DatagenCarry): Promise<DatagenWorkflowResult> {
  const acts = clusterActivities(input.timeoutMs);
  const dacts = proxyActivities<DatagenActivities>({
    startToCloseTimeout: 60_000,
    retry: activityRetry(),
  });
  const done: Record<string, DatagenSystemOutcome> = { ...(carry?.done ?? {}) };
  const pages: Record<string, ArrayRef> = { ...(carry?.pages ?? {}) };
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
    const paged = Object.keys(pages).reduce((s, ci) => s + (input.chunks[Number(ci)]?.length ?? 0), 0);
    return {
      phase,
      systemsTotal: total,
      systemsDone: outs.length + paged,
      chunksTotal: input.chunks.length,
      chunksDone,
      generation,
      finished: outs.flatMap((o) => (o.outputs[4] === undefined ? [] : [{ chunk: o.chunk, position: o.position, stats: o.outputs[4] }])),
      pages: Object.values(pages),
    };
  });

  async function runChunk(ci: number): Promise<void> {
    const chunk = input.chunks[ci] ?? [];
    if (pages[ci] !== undefined) {
      chunksDone++;
      return;
    }
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
          jobId: input.jobId,
          op: 'datagen-solve',
          cls: input.cls,
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
    const ids = chunk.map((_, pos) => datagenShardId(ci, pos));
    const systems = ids.map((id) => done[id] as DatagenSystemOutcome);
    pages[ci] = await dacts.putDatagenPage({ format: DATAGEN_PAGE_FORMAT, jobId: input.jobId, chunk: ci, systems });
    for (const id of ids) delete done[id];
    chunksDone++;
  }

  try {
    let next = 0;
    const lanes = Array.from({ length: Math.min(p.window, input.chunks.length) }, async () => {
      while (next < input.chunks.length && !stop) await runChunk(next++);
    });
    await Promise.all(lanes);
    if (stop) {
      await continueAsNew<typeof datagenWorkflow>(input, { done, published, duplicates, generation: generation + 1, startedAt, pages });
    }
    const refs = input.chunks.map((_, ci) => {
      const r = pages[ci];
      if (r === undefined) throw new Error(`internal: chunk ${ci} has no page`);
      return r;
    });
    phase = 'done';
    return { jobId: input.jobId, pages: refs, publishedTasks: published, duplicateResults: duplicates };
  } catch (e) {
    if (continuesAsNew(e)) throw e;
    phase = isCancellation(e) ? 'cancelled' : 'failed';
    await cleanupShards(acts, input.jobId);
    throw e;
  }
}

/**
 * Deletes the page objects of a finished datagen job (`result`, its workflow's result) in the
 * orchestrator, whose NATS role may purge; the SDK's `releaseDatagenPages` starts it, since a
 * client's role may not (workers/src/security/roles.ts). Returns how many pages were deleted.
 */
export async function datagenReleaseWorkflow(result: DatagenWorkflowResult): Promise<number> {
  const dacts = proxyActivities<DatagenActivities>({ startToCloseTimeout: 120_000, retry: activityRetry() });
  return dacts.releaseDatagenPages(result);
}
