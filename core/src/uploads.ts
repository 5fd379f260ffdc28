/**
 * The resumable upload of a large array by a remote client (orchestrator/src/io/upload.ts): the
 * client stores the array's `.npy` bytes as parts by content digest (a staging file), then the
 * orchestrator joins the parts into the array object and deletes them.
 */
import type { ArrayRef } from './array';

/** What the orchestrator joins: the staging file and the array its bytes must give. */
export interface JoinUploadInput {
  /** The staging file's reference (`gf:file:<digest>:<bytes>`, parts stored as rows). */
  readonly ref: string;
  /** The array reference the client computed from the bytes (digest, dtype, shape, size). */
  readonly expect: ArrayRef;
}

/** The activity of the join workflow (`joinUploadWorkflow`), run by the orchestrator, whose NATS role may delete. */
export interface UploadActivities {
  /**
   * Makes the array `input.expect` from the staging file `input.ref` (unless the store already holds
   * it), checks its digest, deletes the staging parts and manifest, and returns its reference.
   */
  joinUploadedArray(input: JoinUploadInput): Promise<ArrayRef>;
}
