/**
 * Reading a named blob (a checkpoint) from the object store with the two outcomes told apart:
 * none there (null), or a store that did not answer (typed, retryable).
 */
import { GramfleetError } from '@gramfleet/core';
import type { ObjectStore } from '@nats-io/obj';

/**
 * The blob `name`, or null when the store does not hold it (also when its bucket is gone: a wiped
 * store). A store that does not answer is CLUSTER_UNAVAILABLE (retryable), not "none": a retried
 * attempt then resumes from its checkpoint instead of starting over.
 */
export async function readBlob(os: ObjectStore, name: string): Promise<Uint8Array | null> {
  return os.getBlob(name).catch((e: unknown) => {
    if (/not found/i.test((e as Error).message)) return null;
    throw new GramfleetError('CLUSTER_UNAVAILABLE', `the object store did not answer for ${name}: ${(e as Error).message}`, { name });
  });
}
