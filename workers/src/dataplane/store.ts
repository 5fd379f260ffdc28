/**
 * Arrays in the JetStream object store, stored as `.npy` bytes and addressed by their sha256.
 * Putting the same bytes twice stores them once. Reads verify the digest and go through an
 * LRU cache with a byte budget, so repeated shards do not refetch their inputs.
 */
import { createHash } from 'node:crypto';
import type { ObjectStore } from '@nats-io/obj';
import { GramfleetError, INLINE_ARRAY_MAX_BYTES, decodeNpy, encodeNpy, type ArrayRef, type NdArray } from '@gramfleet/core';

/** Options of {@link createArrayStore}. */
export interface ArrayStoreOptions {
  /** Byte budget of the read cache. @default 512 MiB */
  readonly cacheBytes?: number;
  /** Objects larger than this are read one at a time per store. @default 8 MiB */
  readonly serialReadBytes?: number;
  /** Bytes per object-store chunk (at most the server's largest message, see DataPlane.chunkBytes). @default 128 KiB */
  readonly chunkBytes?: number;
}

/** Options of {@link ArrayStore.put}. */
export interface PutOptions {
  /**
   * Carry an array whose `.npy` bytes fit {@link INLINE_ARRAY_MAX_BYTES} inside its reference
   * ({@link ArrayRef.inline}) instead of storing it: for references that travel in messages
   * (task results), not in workflow histories. Larger arrays are stored as usual. @default false
   */
  readonly inline?: boolean;
}

/** Content-addressed array storage. */
export interface ArrayStore {
  /** Stores an array (no-op when the same bytes are already there) and returns its reference. */
  put(a: NdArray, o?: PutOptions): Promise<ArrayRef>;
  /**
   * Stores a 2-D f64 array as a patch of `base` (a reference this store put or read, still in its
   * cache) when at most half of its rows differ: only those rows are stored, and the reference
   * carries {@link ArrayRef.patch}. Otherwise (or with no cached base) the same as {@link put}.
   */
  putPatched(a: NdArray, base: ArrayRef): Promise<ArrayRef>;
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

/** A patch stores rows only while at most this share of them changed (each with its index: ~half the bytes at most). */
const PATCH_SHARE = 0.5;

/** Rows (2-D f64, same shape) where `a` differs from `base` bit for bit, as f64 [k × (1 + cols)] with each row's index first. */
function changedRows(a: Float64Array, base: Float64Array, rows: number, cols: number, most: number): Float64Array | undefined {
  // Compared as bits (two u32 halves each): −0 replacing +0 is a change.
  const av = new Uint32Array(a.buffer, a.byteOffset, 2 * a.length), bv = new Uint32Array(base.buffer, base.byteOffset, 2 * base.length);
  const changed: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let q = 2 * i * cols; q < 2 * (i + 1) * cols; q++) {
      if (av[q] !== bv[q]) {
        changed.push(i);
        if (changed.length > most) return undefined;
        break;
      }
    }
  }
  const out = new Float64Array(changed.length * (1 + cols));
  changed.forEach((i, k) => {
    out[k * (1 + cols)] = i;
    out.set(a.subarray(i * cols, (i + 1) * cols), k * (1 + cols) + 1);
  });
  return out;
}

/** `base` with the rows of `patch` (see {@link changedRows}) replaced: a new array. */
function applyPatch(base: NdArray, patch: NdArray, what: string): NdArray {
  const [rows, cols] = base.shape as [number, number];
  const p = patch.data as Float64Array;
  if (base.dtype !== 'f64' || base.shape.length !== 2 || patch.dtype !== 'f64' || patch.shape.length !== 2 || patch.shape[1] !== 1 + cols) {
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${what}: a patch of ${patch.dtype} ${JSON.stringify(patch.shape)} does not fit its base, ${base.dtype} ${JSON.stringify(base.shape)}`, { field: 'patch' });
  }
  const out = Float64Array.from(base.data as Float64Array);
  for (let k = 0; k < (patch.shape[0] as number); k++) {
    const i = p[k * (1 + cols)] as number;
    if (!(Number.isInteger(i) && i >= 0 && i < rows)) throw new GramfleetError('INPUT_OUT_OF_RANGE', `${what}: patch row ${i} is outside [0, ${rows})`, { field: 'patch', row: i });
    out.set(p.subarray(k * (1 + cols) + 1, (k + 1) * (1 + cols)), i * cols);
  }
  return { dtype: 'f64', shape: [rows, cols], data: out };
}

/** The `.npy` bytes an inline reference carries, checked against its digest. */
export function inlineBytes(ref: ArrayRef): Uint8Array {
  const b = Buffer.from(ref.inline ?? '', 'base64');
  if (b.byteLength !== ref.bytes || sha256Hex(b) !== ref.digest) {
    throw new GramfleetError('STORE_DIGEST_MISMATCH', `inline array ${ref.digest} does not match its digest (${b.byteLength} bytes, ${ref.bytes} expected)`, { digest: ref.digest });
  }
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
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
    if (ref.inline !== undefined) return inlineBytes(ref);
    const b = await os.getBlob(ref.digest);
    if (b === null) throw new GramfleetError('STORE_MISSING_OBJECT', `array ${ref.digest} is not in bucket ${bucket}`, { digest: ref.digest, bucket });
    if (sha256Hex(b) !== ref.digest) throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${ref.digest} does not match its digest`, { digest: ref.digest });
    return b;
  }

  const api: ArrayStore = {
    stats,
    async put(a: NdArray, po: PutOptions = {}): Promise<ArrayRef> {
      const bytes = encodeNpy(a);
      const digest = sha256Hex(bytes);
      if (po.inline === true && bytes.byteLength <= INLINE_ARRAY_MAX_BYTES) {
        return { bucket, digest, dtype: a.dtype, shape: [...a.shape], bytes: bytes.byteLength, inline: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
      }
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
    async putPatched(a: NdArray, baseRef: ArrayRef): Promise<ArrayRef> {
      const base = cache.get(baseRef.digest);
      const [rows, cols] = a.shape as [number, number];
      const fits = base !== undefined && a.dtype === 'f64' && base.dtype === 'f64' && a.shape.length === 2 && base.shape.length === 2 && base.shape[0] === rows && base.shape[1] === cols;
      const p = fits ? changedRows(a.data as Float64Array, base.data as Float64Array, rows, cols, Math.floor(PATCH_SHARE * rows)) : undefined;
      if (p === undefined) return api.put(a);
      const bytes = encodeNpy(a);
      const digest = sha256Hex(bytes);
      const stored = await api.put({ dtype: 'f64', shape: [p.length / (1 + cols), 1 + cols], data: p });
      remember(digest, a, bytes.byteLength);
      return { bucket, digest, dtype: 'f64', shape: [rows, cols], bytes: bytes.byteLength, patch: { base: baseRef.digest, rows: stored } };
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
      if (ref.inline !== undefined) {
        // Not cached: the bytes came with the reference; decoding them is the whole read.
        return decodeNpy(inlineBytes(ref), `array ${ref.digest}`);
      }
      stats.misses++;
      const patch = ref.patch;
      if (patch !== undefined) {
        const base = cache.get(patch.base);
        if (base === undefined) throw new GramfleetError('STORE_PATCH_BASE_MISSING', `array ${ref.digest} patches ${patch.base}, which this process does not hold`, { digest: ref.digest, base: patch.base });
        const read = (async () => {
          const a = applyPatch(base, await api.get(patch.rows), `array ${ref.digest}`);
          const bytes = encodeNpy(a);
          if (sha256Hex(bytes) !== ref.digest) throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${ref.digest}, rebuilt from its patch, does not match its digest`, { digest: ref.digest });
          remember(ref.digest, a, bytes.byteLength);
          return a;
        })().finally(() => reading.delete(ref.digest));
        reading.set(ref.digest, read);
        return read;
      }
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
  return api;
}
