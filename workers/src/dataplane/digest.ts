/**
 * Content digests of stored arrays (see ArrayRef.digest in core): the plain sha256 of the bytes
 * up to one leaf, a tree digest above. A tree digest is
 *
 *     't1-' + hex(sha256("gramfleet-tree-v1\n" ‖ u64le(bytes) ‖ sha256(leaf 0) ‖ … ‖ sha256(leaf n−1)))
 *
 * over leaves of TREE_LEAF_BYTES (the last one shorter). The leaf hashes ("leaf table", 32 bytes
 * each) can be computed in parallel (hash-pool.ts) and let a reader check each leaf as it arrives;
 * a leaf table received from elsewhere is first checked against the digest ({@link checkLeafTable}).
 * A plain sha256 digest of a large array (references written before tree digests) is checked
 * whole.
 */
import { createHash, hash } from 'node:crypto';
import { GramfleetError, TREE_DIGEST_PREFIX, TREE_LEAF_BYTES, isTreeDigest, treeLeafCount } from '@gramfleet/core';

/** Bytes of one leaf hash. */
export const LEAF_HASH_BYTES = 32;

const DOMAIN = Buffer.from('gramfleet-tree-v1\n', 'latin1');

/** sha256 hex of bytes. */
export function sha256Hex(b: Uint8Array): string {
  // One-shot crypto.hash (no Hash object): several times faster on the small arrays sent inline.
  return hash('sha256', b, 'hex');
}

/** Whether `bytes` bytes get a tree digest (more than one leaf). */
export function usesTree(bytes: number): boolean {
  return bytes > TREE_LEAF_BYTES;
}

/** The digest of `bytes` bytes whose leaf table is `leaves` (32 bytes per leaf, in order). */
export function digestFromLeaves(leaves: Uint8Array, bytes: number): string {
  if (!usesTree(bytes)) return Buffer.from(leaves.buffer, leaves.byteOffset, LEAF_HASH_BYTES).toString('hex');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(bytes));
  return TREE_DIGEST_PREFIX + createHash('sha256').update(DOMAIN).update(len).update(leaves).digest('hex');
}

/** The leaf table of bytes held in memory, hashed on this thread. */
export function leafTableOf(b: Uint8Array): Uint8Array {
  const n = treeLeafCount(b.byteLength);
  const out = new Uint8Array(n * LEAF_HASH_BYTES);
  for (let i = 0; i < n; i++) {
    out.set(
      createHash('sha256')
        .update(b.subarray(i * TREE_LEAF_BYTES, Math.min(b.byteLength, (i + 1) * TREE_LEAF_BYTES)))
        .digest(),
      i * LEAF_HASH_BYTES,
    );
  }
  return out;
}

/** The digest of bytes held in memory, hashed on this thread. */
export function digestOf(b: Uint8Array): string {
  return usesTree(b.byteLength) ? digestFromLeaves(leafTableOf(b), b.byteLength) : sha256Hex(b);
}

/**
 * Whether `digest` can be checked leaf by leaf for an object of `bytes` bytes: a tree digest, or a
 * plain one of a single-leaf object. Otherwise (a plain sha256 of a large object, written before
 * tree digests) only the whole can be checked.
 */
export function checkableByLeaf(digest: string, bytes: number): boolean {
  return isTreeDigest(digest) ? usesTree(bytes) : !usesTree(bytes);
}

/** Throws STORE_DIGEST_MISMATCH unless `leaves` is the leaf table of `bytes` bytes named by `digest`. */
export function checkLeafTable(digest: string, bytes: number, leaves: Uint8Array, what: string): void {
  if (leaves.byteLength !== treeLeafCount(bytes) * LEAF_HASH_BYTES || digestFromLeaves(leaves, bytes) !== digest) {
    throw new GramfleetError('STORE_DIGEST_MISMATCH', `${what}: the leaf table does not match digest ${digest}`, { digest });
  }
}

/** The byte range [start, end) of leaf `i` of an object of `bytes` bytes. */
export function leafRange(i: number, bytes: number): readonly [number, number] {
  return [i * TREE_LEAF_BYTES, Math.min(bytes, (i + 1) * TREE_LEAF_BYTES)];
}

/** Whether leaf `i`'s hash in `leaves` equals `hash` (32 bytes). */
export function leafMatches(leaves: Uint8Array, i: number, hash: Uint8Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(leaves.buffer, leaves.byteOffset + i * LEAF_HASH_BYTES, LEAF_HASH_BYTES),
      Buffer.from(hash.buffer, hash.byteOffset, LEAF_HASH_BYTES),
    ) === 0
  );
}

/** Whether bytes in memory match a digest of either form (hashed on this thread). */
export function matchesDigest(b: Uint8Array, digest: string): boolean {
  return isTreeDigest(digest) ? usesTree(b.byteLength) && digestOf(b) === digest : sha256Hex(b) === digest;
}
