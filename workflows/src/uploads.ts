/**
 * Joins a remote client's resumable upload of a large array (orchestrator/src/io/upload.ts): the
 * staging parts the client stored by digest become the array object, in the orchestrator, which
 * may delete the parts afterwards (a client's NATS role may not).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ArrayRef, JoinUploadInput, UploadActivities } from '@gramfleet/core';
import { activityRetry } from './policies';

/** Returns the joined array's reference (the client's `expect`, checked). */
export async function joinUploadWorkflow(input: JoinUploadInput): Promise<ArrayRef> {
  const acts = proxyActivities<UploadActivities>({ startToCloseTimeout: 600_000, retry: activityRetry(5) });
  return acts.joinUploadedArray(input);
}
