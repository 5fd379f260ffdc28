/**
 * One handle type for a submitted job of any kind: `progress`, `watch`, `result`, `cancel`.
 * What differs per kind (how the workflow's answers read, where progress events come from)
 * comes from the workload's registry entry.
 */
import type { Client } from '@temporalio/client';
import type { EventFor, JobKind, ProgressFor, ResultFor } from '../job-types';
import type { JobHandle } from './fleet';
import type { JobReader, Workload, WorkloadContext, WorkloadTypes } from '../workload';
import { fromTemporal } from './failure';
import { retrying } from './temporal-retry';
import type { JobsService } from '../jobs/types';

/** How often the default `watch` polls `progress()`, ms. */
const WATCH_POLL_MS = 250;

/** The handle of job `jobId` of workload `w`. */
export function createJobHandle<K extends JobKind>(
  w: Workload<WorkloadTypes>,
  jobId: string,
  o: { readonly client: Client; readonly ctx: WorkloadContext; readonly jobs: JobsService },
): JobHandle<K> {
  const h = o.client.workflow.getHandle(jobId);
  const reader: JobReader<WorkloadTypes> = w.reader?.(o.ctx, jobId) ?? { progress: (raw) => Promise.resolve(raw), result: (raw) => Promise.resolve(raw) };
  const progress = async (): Promise<unknown> => reader.progress(await retrying(() => h.query(w.def.progressQuery)));
  const result = async (): Promise<unknown> => {
    try {
      return await reader.result(await retrying(() => h.result()));
    } catch (e) {
      throw fromTemporal(e, jobId);
    }
  };
  const watch = async (onEvent: (e: unknown) => void): Promise<unknown> => {
    if (w.watch !== undefined) return w.watch(o.ctx, jobId, onEvent, result);
    let finished = false;
    let last = '';
    const poll = (async () => {
      while (!finished) {
        const p = await progress().catch(() => undefined);
        const seen = JSON.stringify(p);
        if (p !== undefined && seen !== last) {
          last = seen;
          try {
            onEvent(p);
          } catch {
            /* a throwing listener must not stop the job */
          }
        }
        await new Promise((r) => setTimeout(r, WATCH_POLL_MS));
      }
    })();
    try {
      return await result();
    } finally {
      finished = true;
      await poll;
    }
  };
  return {
    jobId,
    kind: w.def.kind as K,
    status: () => o.jobs.describe(jobId),
    progress: progress as () => Promise<ProgressFor<K>>,
    watch: watch as (onEvent: (e: EventFor<K>) => void) => Promise<ResultFor<K>>,
    result: result as () => Promise<ResultFor<K>>,
    async cancel(): Promise<void> {
      await retrying(() => h.cancel());
    },
  };
}
