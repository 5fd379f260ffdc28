/**
 * Arrays in the JetStream object store, stored as `.npy` bytes and addressed by their sha256.
 * Putting the same bytes twice stores them once. Reads verify the digest and go through an
 * LRU cache with a byte budget, so repeated shards do not refetch their inputs.
 */
import { createHash } from 'node:crypto';
import type { ObjectStore } from '@nats-io/obj';
import { GramfleetError, decodeNpy, encodeNpy, type ArrayRef, type NdArray } from '@gramfleet/core';

/** Options of {@link createArrayStore}. */
export interface ArrayStoreOptions {
  /** Byte budget of the read cache. @default 512 MiB */
  readonly cacheBytes?: number;
  /** Objects larger than this are read one at a time per store. @default 8 MiB */
  readonly serialReadBytes?: number;
  /** Bytes per object-store chunk (at most the server's largest message, see DataPlane.chunkBytes). @default 128 KiB */
  readonly chunkBytes?: number;
}

/** Content-addressed array storage. */
export interface ArrayStore {
  /** Stores an array (no-op when the same bytes are already there) and returns its reference. */
  put(a: NdArray): Promise<ArrayRef>;
  /** Reads an array, from the cache when possible; verifies the digest. */
  get(ref: ArrayRef): Promise<NdArray>;
  /** Raw `.npy` bytes of a reference. */
  getBytes(ref: ArrayRef): Promise<Uint8Array>;
  /** Whether an object exists. */
  has(digest: string): Promise<boolean>;
  /**
   * Deletes an object (and drops it from this process's cache); false when it was not there.
   * Objects are content-addressed: delete only what no one else can reference (e.g. objects
   * whose bytes name their owner, like datagen pages).
   */
  delete(digest: string): Promise<boolean>;
  /** Cache statistics. */
  readonly stats: { hits: number; misses: number; bytes: number };
}

/** sha256 hex of bytes. */
export function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Creates an {@link ArrayStore} over an object store bucket. */
export function createArrayStore(os: ObjectStore, bucket: string, opts: ArrayStoreOptions = {}): ArrayStore {
  const budget = opts.cacheBytes ?? 512 * 1024 * 1024;
  const cache = new Map<string, NdArray>();
  const sizes = new Map<string, number>();
  const stats = { hits: 0, misses: 0, bytes: 0 };
  const uploading = new Map<string, Promise<void>>();
  // Deletes in flight: a put of the same bytes waits for them, so it finds the object gone and
  // uploads it again instead of counting on an object about to disappear.
  const deleting = new Map<string, Promise<boolean>>();
  // One read per digest at a time (a task may name one array twice), and large objects one
  // after the other: several concurrent reads of ~100 MB objects let the server's pending
  // bytes for this connection pass its limit (64 MiB) while this process hashes and decodes
  // another, and the server then drops the connection as a slow consumer, stalling the reads.
  const reading = new Map<string, Promise<NdArray>>();
  const serialBytes = opts.serialReadBytes ?? 8 * 1024 * 1024;
  let largeQueue: Promise<unknown> = Promise.resolve();
  const oneLargeAtATime = <T>(f: () => Promise<T>): Promise<T> => {
    const r = largeQueue.then(f, f);
    largeQueue = r.catch(() => undefined);
    return r;
  };

  function remember(digest: string, a: NdArray, size: number): void {
    if (size > budget) return;
    cache.set(digest, a);
    sizes.set(digest, size);
    stats.bytes += size;
    for (const k of cache.keys()) {
      if (stats.bytes <= budget) break;
      stats.bytes -= sizes.get(k) ?? 0;
      cache.delete(k);
      sizes.delete(k);
    }
  }

  async function getBytes(ref: ArrayRef): Promise<Uint8Array> {
    const b = await os.getBlob(ref.digest);
    if (b === null) throw new GramfleetError('STORE_MISSING_OBJECT', `array ${ref.digest} is not in bucket ${bucket}`, { digest: ref.digest, bucket });
    if (sha256Hex(b) !== ref.digest) throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${ref.digest} does not match its digest`, { digest: ref.digest });
    return b;
  }

  return {
    stats,
    async put(a: NdArray): Promise<ArrayRef> {
      const bytes = encodeNpy(a);
      const digest = sha256Hex(bytes);
      // One upload per digest at a time: two concurrent object-store puts of one name replace
      // each other's chunks, and a reader between them can find chunks missing.
      const gone = deleting.get(digest);
      if (gone !== undefined) await gone.catch(() => undefined);
      let upload = uploading.get(digest);
      if (upload === undefined) {
        upload = (async () => {
          const info = await os.info(digest).catch(() => null);
          if (info === null || info.deleted) await os.putBlob({ name: digest, ...(opts.chunkBytes !== undefined ? { options: { max_chunk_size: opts.chunkBytes } } : {}) }, bytes);
        })().finally(() => uploading.delete(digest));
        uploading.set(digest, upload);
      }
      await upload;
      remember(digest, a, bytes.byteLength);
      return { bucket, digest, dtype: a.dtype, shape: [...a.shape], bytes: bytes.byteLength };
    },
    async get(ref: ArrayRef): Promise<NdArray> {
      const hit = cache.get(ref.digest);
      if (hit !== undefined) {
        stats.hits++;
        cache.delete(ref.digest);
        cache.set(ref.digest, hit);
        return hit;
      }
      const pending = reading.get(ref.digest);
      if (pending !== undefined) {
        stats.hits++;
        return pending;
      }
      stats.misses++;
      const read = (async () => {
        const bytes = ref.bytes > serialBytes ? await oneLargeAtATime(() => getBytes(ref)) : await getBytes(ref);
        const a = decodeNpy(bytes, `array ${ref.digest}`);
        remember(ref.digest, a, bytes.byteLength);
        return a;
      })().finally(() => reading.delete(ref.digest));
      reading.set(ref.digest, read);
      return read;
    },
    getBytes,
    async has(digest: string): Promise<boolean> {
      const info = await os.info(digest).catch(() => null);
      return info !== null && !info.deleted;
    },
    async delete(digest: string): Promise<boolean> {
      stats.bytes -= sizes.get(digest) ?? 0;
      cache.delete(digest);
      sizes.delete(digest);
      const d = (async () => {
        const info = await os.info(digest).catch(() => null);
        if (info === null || info.deleted) return false;
        await os.delete(digest);
        return true;
      })();
      deleting.set(digest, d);
      try {
        return await d;
      } finally {
        if (deleting.get(digest) === d) deleting.delete(digest);
      }
    },
  };
}
