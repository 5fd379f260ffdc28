/**
 * Pages of the datagen workflow's results in the object store: the activity that writes one
 * (JSON bytes of the chunk's outcomes as a u8 array, content-addressed so a retried activity
 * writes the same object) and the reader the SDK uses to turn the workflow's page references
 * back into the systems.
 */
import {
  DATAGEN_PAGE_FORMAT,
  GramfleetError,
  ndarray,
  type ArrayRef,
  type DatagenActivities,
  type DatagenJobResult,
  type DatagenPage,
  type DatagenSystemOutcome,
  type DatagenWorkflowResult,
} from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';
import { toFailure } from '../host/activities';

/** Encodes a page as a u8 array. */
export function encodeDatagenPage(page: DatagenPage): ReturnType<typeof ndarray> {
  const bytes = new Uint8Array(Buffer.from(JSON.stringify(page), 'utf8'));
  return ndarray('u8', [bytes.length], bytes);
}

/** Reads one page; a stored object that is not a page of `jobId` is a typed error. */
export async function readDatagenPage(store: ArrayStore, ref: ArrayRef, jobId: string): Promise<DatagenPage> {
  const a = await store.get(ref);
  let page: DatagenPage | undefined;
  try {
    page = a.dtype === 'u8' ? (JSON.parse(Buffer.from(a.data as Uint8Array).toString('utf8')) as DatagenPage) : undefined;
  } catch {
    page = undefined;
  }
  if (page?.format !== DATAGEN_PAGE_FORMAT || page.jobId !== jobId || !Array.isArray(page.systems)) {
    throw new GramfleetError('STORE_DIGEST_MISMATCH', `object ${ref.digest} is not a datagen page of job ${jobId}`, { field: 'pages', digest: ref.digest });
  }
  return page;
}

/** The job's systems, in chunk and chain order, from the workflow's page references. */
export async function expandDatagenResult(store: ArrayStore, r: DatagenWorkflowResult): Promise<DatagenJobResult> {
  const systems: DatagenSystemOutcome[] = [];
  for (const ref of r.pages) systems.push(...(await readDatagenPage(store, ref, r.jobId)).systems);
  return { jobId: r.jobId, systems, publishedTasks: r.publishedTasks, duplicateResults: r.duplicateResults };
}

/**
 * Deletes the page objects of a finished job (page GC, once its result has been assembled or
 * exported); returns how many were deleted. Only objects that are pages of `r.jobId` are
 * deleted — a page's bytes name its job, so no other job can reference it. Idempotent: pages
 * already gone are skipped. The per-system arrays (x, U, field, b, stats) are content-addressed
 * and may be shared with other jobs of the same parameters, so they are kept.
 */
export async function releaseDatagenPages(store: ArrayStore, r: DatagenWorkflowResult): Promise<number> {
  let deleted = 0;
  for (const ref of r.pages) {
    if (!(await store.has(ref.digest))) continue;
    await readDatagenPage(store, ref, r.jobId); // typed error when the object is not this job's page
    if (await store.delete(ref.digest)) deleted++;
  }
  return deleted;
}

/** The datagen activities over `store`. */
export function createDatagenActivities(deps: { readonly store: ArrayStore }): DatagenActivities {
  return {
    async putDatagenPage(page: DatagenPage): Promise<ArrayRef> {
      try {
        return await deps.store.put(encodeDatagenPage(page));
      } catch (e) {
        throw toFailure(e);
      }
    },
    async releaseDatagenPages(result: DatagenWorkflowResult): Promise<number> {
      try {
        return await releaseDatagenPages(deps.store, result);
      } catch (e) {
        throw toFailure(e);
      }
    },
  };
}
