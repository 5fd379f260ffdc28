/** Temporal failures as gramfleet errors: what a job's or a campaign's `result()` rejects with. */
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure } from '@temporalio/common';
import { GramfleetError, isErrorCode, isGramfleetError } from '@gramfleet/core';

/** Maps a Temporal failure to a GramfleetError with the original code. */
export function fromTemporal(e: unknown, jobId: string): unknown {
  if (isGramfleetError(e)) return e;
  if (e instanceof WorkflowFailedError) {
    let c: unknown = e.cause;
    while (c !== undefined && c !== null) {
      if (c instanceof CancelledFailure) return new GramfleetError('JOB_CANCELLED', `job ${jobId} was cancelled`, { jobId });
      if (c instanceof TerminatedFailure) return new GramfleetError('JOB_CANCELLED', `job ${jobId} was terminated`, { jobId });
      if (c instanceof ApplicationFailure && isErrorCode(c.type)) {
        const details = (c.details?.[0] ?? {}) as Record<string, unknown>;
        return new GramfleetError(c.type, c.message, { ...details, jobId });
      }
      c = (c as { cause?: unknown }).cause;
    }
    return new GramfleetError('JOB_FAILED', `job ${jobId} failed: ${e.message}`, { jobId });
  }
  if (e instanceof WorkflowNotFoundError) return new GramfleetError('INPUT_INVALID', `no job ${jobId}`, { field: 'jobId', jobId });
  return e;
}
