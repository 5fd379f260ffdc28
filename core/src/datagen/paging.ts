/**
 * Result paging of the datagen workflow: each finished chunk's systems are written to the
 * object store as one page (JSON bytes in a u8 array) and the workflow keeps, returns and
 * carries over `continueAsNew` only the pages' references, so its payloads stay far below
 * Temporal's 2 MB whatever the count. The SDK reads the pages back.
 */
import type { ArrayRef } from '../array';
import { GramfleetError } from '../errors';
import type { CompiledDatagenParams, DatagenSystemOutcome } from './params';

/** Largest count of one job: its chain (the workflow input) stays a small payload. */
export const DATAGEN_MAX_SYSTEMS = 20_000;
/** Largest number of chunks (one page reference each in the result). */
export const DATAGEN_MAX_CHUNKS = 2_000;
/** Largest window × chunk size: unpaged outcomes held by the workflow (~1 KB each). */
export const DATAGEN_MAX_IN_FLIGHT = 1_024;

/** Format tag of a page object. */
export const DATAGEN_PAGE_FORMAT = 'gramfleet-datagen-page/1';

/** One page: the systems of one finished chunk, in chain order. */
export interface DatagenPage {
  readonly format: typeof DATAGEN_PAGE_FORMAT;
  readonly jobId: string;
  readonly chunk: number;
  readonly systems: readonly DatagenSystemOutcome[];
}

/** Activities of the datagen workflow (implemented in orchestrator/). Names are part of history. */
export interface DatagenActivities {
  /** Stores one finished chunk's systems as a page object; returns its reference. */
  putDatagenPage(page: DatagenPage): Promise<ArrayRef>;
  /**
   * Deletes a finished job's page objects (only objects that are pages of `result.jobId`);
   * returns how many were deleted. Run for the SDK by the orchestrator, whose NATS role may purge
   * (a client's may not).
   */
  releaseDatagenPages(result: DatagenWorkflowResult): Promise<number>;
}

/** What the datagen workflow returns: one page reference per chunk, in chunk order. */
export interface DatagenWorkflowResult {
  readonly jobId: string;
  readonly pages: readonly ArrayRef[];
  readonly publishedTasks: number;
  readonly duplicateResults: number;
}

/**
 * The size bounds of one job (count, number of chunks, unpaged outcomes in flight), checked
 * before anything is scheduled: typed `INPUT_TOO_LARGE` naming the field and the bound.
 */
export function checkDatagenBounds(params: CompiledDatagenParams): void {
  if (params.count > DATAGEN_MAX_SYSTEMS) {
    throw new GramfleetError(
      'INPUT_TOO_LARGE',
      `count must be <= ${DATAGEN_MAX_SYSTEMS} per job (the chain is the workflow's input payload), got ${params.count}; split the campaign into several jobs`,
      { field: 'count', bound: DATAGEN_MAX_SYSTEMS, value: params.count },
    );
  }
  const nChunks = Math.ceil(params.count / params.chunkSize);
  if (nChunks > DATAGEN_MAX_CHUNKS) {
    throw new GramfleetError(
      'INPUT_TOO_LARGE',
      `chunkSize must be >= ${Math.ceil(params.count / DATAGEN_MAX_CHUNKS)} for count ${params.count} (at most ${DATAGEN_MAX_CHUNKS} chunks, one page reference each), got ${params.chunkSize}`,
      { field: 'chunkSize', bound: DATAGEN_MAX_CHUNKS, value: nChunks },
    );
  }
  const lanes = Math.min(params.window, nChunks);
  if (lanes * params.chunkSize > DATAGEN_MAX_IN_FLIGHT) {
    throw new GramfleetError(
      'INPUT_TOO_LARGE',
      `min(window, chunks) × chunkSize must be <= ${DATAGEN_MAX_IN_FLIGHT} (unpaged outcomes the workflow holds), got ${lanes} × ${params.chunkSize}`,
      { field: 'chunkSize', bound: DATAGEN_MAX_IN_FLIGHT, value: lanes * params.chunkSize },
    );
  }
}
