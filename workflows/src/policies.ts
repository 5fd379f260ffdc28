/**
 * The activity retry policy every gramfleet workflow uses, and the options of its two kinds
 * of activity: short steps, and long loops that heartbeat (docs/design.md §1 rule 4). One place, so a
 * change to how gramfleet retries is one change.
 */
import type { ActivityOptions, RetryPolicy } from '@temporalio/workflow';
import { ERROR_CODES } from '@gramfleet/core';

/** The permanent error codes: a Temporal failure of one of these types is not retried. */
export const PERMANENT_ERROR_TYPES: readonly string[] = Object.entries(ERROR_CODES)
  .filter(([, v]) => !v.retryable)
  .map(([k]) => k);

/** Attempts of a long loop's activity (each resumes from its last checkpoint). */
export const LONG_LOOP_MAX_ATTEMPTS = 20;

/**
 * Retries 1 s after a failure, doubling up to 10 s apart, until the activity's own timeout;
 * never for a permanent error code. `maximumAttempts` caps the attempts where given.
 */
export function activityRetry(maximumAttempts?: number): RetryPolicy {
  return {
    initialInterval: 1_000,
    backoffCoefficient: 2,
    maximumInterval: 10_000,
    ...(maximumAttempts !== undefined ? { maximumAttempts } : {}),
    nonRetryableErrorTypes: [...PERMANENT_ERROR_TYPES],
  };
}

/**
 * Options of a long loop's activity (EigenPro training, a Kronecker fit or CG solve): it may run
 * for the whole job (at least a minute), heartbeats every few seconds, and is retried at most
 * {@link LONG_LOOP_MAX_ATTEMPTS} times.
 */
export function longLoopActivityOptions(timeoutMs: number, heartbeatTimeoutMs: number): ActivityOptions {
  return { startToCloseTimeout: Math.max(60_000, timeoutMs), heartbeatTimeout: heartbeatTimeoutMs, retry: activityRetry(LONG_LOOP_MAX_ATTEMPTS) };
}
