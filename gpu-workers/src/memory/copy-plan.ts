/**
 * Host↔device copy planning. Small copies go directly from the (pageable) JS buffer with a
 * synchronous cuMemcpy. Large ones are staged through a ring of pinned host buffers: while
 * the DMA engine copies chunk i out of staging buffer i mod S, the host fills buffer
 * (i+1) mod S, so the host memcpy overlaps the transfer; an event per staging buffer tells
 * when it may be refilled. Pure: the plan is data, executed by the device layer.
 */
import { GramfleetError } from '@gramfleet/core';

/** Options of {@link planCopy}. */
export interface CopyPlanOptions {
  /** Bytes of each pinned staging buffer. @default 8 MiB */
  readonly stagingBytes?: number;
  /** Staging buffers in the ring. @default 2 */
  readonly stages?: number;
  /** Copies of at most this many bytes go direct. @default 1 MiB */
  readonly directBelowBytes?: number;
}

/** One chunk of a staged copy. */
export interface CopyChunk {
  /** Staging buffer to use. */
  readonly stage: number;
  /** Byte offset in the host array and in the device buffer. */
  readonly offset: number;
  readonly bytes: number;
  /** True when the stage was used before in this plan: wait for its event first. */
  readonly waitForStage: boolean;
}

/** A copy plan. */
export type CopyPlan =
  | { readonly mode: 'direct'; readonly bytes: number }
  | { readonly mode: 'staged'; readonly bytes: number; readonly stagingBytes: number; readonly stages: number; readonly chunks: readonly CopyChunk[] };

/** Resolved defaults. */
export const COPY_DEFAULTS = { stagingBytes: 8 << 20, stages: 2, directBelowBytes: 1 << 20 } as const;

/** Plans a copy of `totalBytes`. */
export function planCopy(totalBytes: number, o: CopyPlanOptions = {}): CopyPlan {
  const stagingBytes = o.stagingBytes ?? COPY_DEFAULTS.stagingBytes;
  const stages = o.stages ?? COPY_DEFAULTS.stages;
  const direct = o.directBelowBytes ?? COPY_DEFAULTS.directBelowBytes;
  if (!Number.isSafeInteger(totalBytes) || totalBytes < 0)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `totalBytes must be a non-negative integer, got ${totalBytes}`, {
      field: 'totalBytes',
      bound: '>= 0',
      value: totalBytes,
    });
  if (!Number.isSafeInteger(stagingBytes) || stagingBytes < 1)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `stagingBytes must be a positive integer, got ${stagingBytes}`, {
      field: 'stagingBytes',
      bound: '>= 1',
      value: stagingBytes,
    });
  if (!Number.isInteger(stages) || stages < 1 || stages > 16)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `stages must be an integer in [1, 16], got ${stages}`, { field: 'stages', bound: '[1, 16]', value: stages });
  if (totalBytes <= direct) return { mode: 'direct', bytes: totalBytes };
  const chunks: CopyChunk[] = [];
  for (let off = 0, i = 0; off < totalBytes; off += stagingBytes, i++) {
    chunks.push({ stage: i % stages, offset: off, bytes: Math.min(stagingBytes, totalBytes - off), waitForStage: i >= stages });
  }
  return { mode: 'staged', bytes: totalBytes, stagingBytes, stages, chunks };
}
