/**
 * Deleting a training job's per-batch objects safely. The array store is content-addressed, so
 * two puts of equal bytes are one object: a batch's rows can be byte-identical to a part of the
 * preconditioner's subsample (both drawn from one seeded permutation), and a coefficient shard
 * that a batch did not touch is the same object in consecutive batches. Deleting "this batch's
 * objects" by digest would then delete an object that is still in use. This keeps a set of
 * pinned digests (kept for the whole job) and deletes a cycle's objects only once no newer
 * cycle names them.
 */
import type { ArrayRef } from '@gramfleet/core';

/** Per-job bookkeeping of transient objects; see the module comment. */
export interface TransientObjects {
  /** Keeps `ref`'s object for the whole job (never deleted here); returns `ref`. */
  pin(ref: ArrayRef): ArrayRef;
  /**
   * Ends a cycle (a batch, an evaluation) that used `refs`, then deletes the objects of the
   * cycles more than `keep` cycles old, except pinned objects and objects a newer cycle uses.
   */
  endCycle(refs: readonly ArrayRef[]): Promise<void>;
  /** Deletes one object now unless it is pinned or used by a cycle still kept; false when kept. */
  drop(digest: string): Promise<boolean>;
}

/**
 * Creates a {@link TransientObjects}. `del` deletes an object by digest (errors are ignored:
 * an object already gone is fine); `keep` cycles are kept so every task of a round that used
 * them has answered before they go.
 */
export function createTransientObjects(del: (digest: string) => Promise<unknown>, keep = 2): TransientObjects {
  const pinned = new Set<string>();
  const cycles: Set<string>[] = [];
  const inUse = (digest: string): boolean => pinned.has(digest) || cycles.some((c) => c.has(digest));
  const drop = async (digest: string): Promise<boolean> => {
    if (inUse(digest)) return false;
    await del(digest).catch(() => undefined);
    return true;
  };
  return {
    pin(ref) {
      pinned.add(ref.digest);
      return ref;
    },
    async endCycle(refs) {
      cycles.push(new Set(refs.map((r) => r.digest)));
      while (cycles.length > keep) {
        const old = cycles.shift() as Set<string>;
        // Deleted before the next round's puts: deleting in the background measured worse, as
        // the object store's purges then held up those puts (2 workers: 16–38 s of puts an
        // epoch against 12–20 s of deletes and puts).
        for (const digest of old) await drop(digest);
      }
    },
    drop,
  };
}
