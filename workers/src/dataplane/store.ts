/**
 * Arrays stored as `.npy` bytes and addressed by their content digest (digest.ts), behind one
 * interface whatever tier holds them:
 *
 * - inline: small arrays inside their reference (ArrayRef.inline), for references that travel in
 *   messages;
 * - a read cache in this process (LRU with a byte budget), so repeated shards do not refetch;
 * - the host store (host-store.ts), when configured: sealed files in shared memory that every
 *   process of the host maps with no copy;
 * - peers (peer.ts, holders.ts), when configured: other hosts' host stores, pulled leaf by leaf;
 * - the JetStream object store (object-tier.ts), the durable tier: job inputs, final results and
 *   checkpoints live there, written synchronously by default.
 *
 * Every byte read from outside this process is checked against the digest (leaf by leaf where the
 * digest allows). A put of bytes already stored stores nothing.
 */
import { createHash } from 'node:crypto';
import type { ObjectStore } from '@nats-io/obj';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import {
  GramfleetError,
  INLINE_ARRAY_MAX_BYTES,
  dataBytes,
  decodeNpy,
  dtypeSize,
  encodeNpy,
  isArraysBucketOf,
  isGramfleetError,
  isTreeDigest,
  npyHeader,
  silentLogger,
  treeLeafCount,
  type ArrayRef,
  type Logger,
  type NdArray,
} from '@gramfleet/core';
import { checkLeafTable, digestFromLeaves, digestOf, leafMatches, leafRange, matchesDigest, sha256Hex, usesTree } from './digest';
import { hashPool, type HashSource } from './hash-pool';
import { receiveInMemory, type HostStore, type Incoming } from './host-store';
import type { HoldersDirectory } from './holders';
import { createObjectTier, leafTableOfInfo, type ObjectTier, type StoredObjectInfo } from './object-tier';
import { pullFromPeer, type PullOptions, type PullState } from './peer';
import { forbiddenError } from '../security/auth';

export { sha256Hex };

/** When a put's durable copy (in the object store) must exist. */
export type Durability = 'sync' | 'background' | 'none';

/** Options of {@link createArrayStore}. */
export interface ArrayStoreOptions {
  /** Byte budget of the read cache. @default 512 MiB */
  readonly cacheBytes?: number;
  /** Object-store reads larger than this run one at a time per store. @default 8 MiB */
  readonly serialReadBytes?: number;
  /** Bytes per object-store chunk (at most the server's largest message, see DataPlane.chunkBytes). @default the connection's chunkBytes, else 128 KiB */
  readonly chunkBytes?: number;
  /** The host store tier. @default none */
  readonly host?: HostStore;
  /** Arrays smaller than this skip the host store (small objects cost one round trip to the object store anyway). @default 64 KiB */
  readonly hostMinBytes?: number;
  /** Where other hosts' holders are found (needs `host`). @default none: no peer pulls */
  readonly directory?: HoldersDirectory;
  /** How peers are pulled from (connections, secret). */
  readonly peer?: PullOptions;
  /** The durability of a put that does not choose. @default 'sync' */
  readonly durability?: Durability;
  /**
   * A `'background'` durable copy starts this long after its put (or at once on {@link ArrayStore.flush}),
   * so it does not compete with the reads and puts that usually follow a put. @default 1000
   */
  readonly backgroundDelayMs?: number;
  /** Where failures of background work (durable copies, directory updates) are reported. */
  readonly log?: Logger;
  /**
   * Called as each durable copy is written to the object store: the array's digest, the bytes
   * acknowledged so far and its size, after every chunk (an upload progress bar's source).
   */
  readonly onUpload?: (e: UploadProgress) => void;
}

/** One step of a durable copy's upload ({@link ArrayStoreOptions.onUpload}). */
export interface UploadProgress {
  readonly digest: string;
  /** Bytes handled so far (acknowledged by the store, or found there). */
  readonly sent: number;
  readonly total: number;
  /** Of `sent`, the bytes the store already held and were not sent again (a resumed upload, orchestrator/src/io/upload.ts). */
  readonly stored?: number;
}

/** Options of {@link ArrayStore.put}. */
export interface PutOptions {
  /**
   * Carry an array whose `.npy` bytes fit {@link INLINE_ARRAY_MAX_BYTES} inside its reference
   * ({@link ArrayRef.inline}) instead of storing it: for references that travel in messages
   * (task results), not in workflow histories. Larger arrays are stored as usual. @default false
   */
  readonly inline?: boolean;
  /**
   * When the durable copy in the object store is written: `'sync'` before put returns (job inputs,
   * final results, checkpoints); `'background'` after (put returns once the host store holds it;
   * the copy starts a moment later, at once on {@link ArrayStore.flush}, which waits for it); `'none'` never (an intermediate that can be
   * recomputed: it lives in host stores only). Without a host store every put is `'sync'`.
   * @default the store's `durability`
   */
  readonly durable?: Durability;
}

/** Where {@link createArrayStore} reads and writes the object store: a DataPlane fits. */
export interface ArrayStoreConnection {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /**
   * `arraysBucket`: where puts go (the shared bucket, or a client identity's own). `prefix`, when
   * given: a reference naming another arrays bucket of that prefix (core isArraysBucketOf: the
   * shared one or a client's) is read from that bucket, so a worker reads a client's inputs from
   * its bucket; without it every read goes to `arraysBucket`.
   */
  readonly names: { readonly arraysBucket: string; readonly prefix?: string };
  readonly chunkBytes?: number;
  /** The array bucket's byte limit, named in STORE_FULL errors. */
  readonly limits?: { readonly arraysMaxBytes: number };
}

/** Read and write counts of a store, by tier. */
export interface ArrayStoreStats {
  /** Reads served from this process's cache (or joined to a read in flight). */
  hits: number;
  /** Reads that went past the cache. */
  misses: number;
  /** Bytes in the cache. */
  bytes: number;
  /** Reads served by the host store, peers, the object store. */
  hostReads: number;
  peerReads: number;
  objectReads: number;
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
  /**
   * Stores the 1-D array that is `parts` one after another, with the reference (same bytes, same
   * digest) {@link put} gives that array, without building it: with a host store the parts are
   * written to its file as they are (GRF's Φ from the rows of its shards: no stacked copy).
   * Without one, or for a small result, the parts are concatenated and put.
   */
  putConcat(dtype: NdArray['dtype'], parts: readonly NdArray['data'][], o?: PutOptions): Promise<ArrayRef>;
  /**
   * Reads an array, from the cache when possible; verifies the digest. An array read from the host
   * store (or received into it) is a view of shared memory, not a copy: writing into it changes
   * this process's pages only.
   */
  get(ref: ArrayRef): Promise<NdArray>;
  /** Raw `.npy` bytes of a reference, verified. */
  getBytes(ref: ArrayRef): Promise<Uint8Array>;
  /** Whether an object exists in the host store or the object store. */
  has(digest: string): Promise<boolean>;
  /**
   * Deletes an object from every tier (and drops it from this process's cache); false when it was
   * not there. Objects are content-addressed: delete only what no one else can reference (e.g.
   * objects whose bytes name their owner, like datagen pages). `local`: only this process's
   * copies (cache, host store, its holders entry), after another process with the right to purge
   * (the orchestrator, for a client) deleted the durable one.
   */
  delete(digest: string, o?: { readonly local?: boolean }): Promise<boolean>;
  /**
   * Makes sure the object store holds a durable copy of `ref` (a put with durability `'none'` or
   * `'background'`, e.g. before its reference goes to another host): writes it now from the host
   * store or this process's cache when it is missing. STORE_MISSING_OBJECT when no tier here has it.
   */
  persist(ref: ArrayRef): Promise<void>;
  /** Waits until the durable copies of background puts (all, or of one digest) are written; rejects if one failed. */
  flush(digest?: string): Promise<void>;
  /** Cache and tier statistics. */
  readonly stats: ArrayStoreStats;
}

/** The `.npy` bytes an inline reference carries, checked against its digest. */
export function inlineBytes(ref: ArrayRef): Uint8Array {
  const b = Buffer.from(ref.inline ?? '', 'base64');
  if (b.byteLength !== ref.bytes || sha256Hex(b) !== ref.digest) {
    throw new GramfleetError('STORE_DIGEST_MISMATCH', `inline array ${ref.digest} does not match its digest (${b.byteLength} bytes, ${ref.bytes} expected)`, {
      digest: ref.digest,
    });
  }
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A patch stores rows only while at most this share of them changed (each with its index: ~half the bytes at most). */
const PATCH_SHARE = 0.5;

/** Rows (2-D f64, same shape) where `a` differs from `base` bit for bit, as f64 [k × (1 + cols)] with each row's index first. */
function changedRows(a: Float64Array, base: Float64Array, rows: number, cols: number, most: number): Float64Array | undefined {
  // Compared as bits (two u32 halves each): −0 replacing +0 is a change.
  const av = new Uint32Array(a.buffer, a.byteOffset, 2 * a.length),
    bv = new Uint32Array(base.buffer, base.byteOffset, 2 * base.length);
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
    throw new GramfleetError(
      'INPUT_SHAPE_MISMATCH',
      `${what}: a patch of ${patch.dtype} ${JSON.stringify(patch.shape)} does not fit its base, ${base.dtype} ${JSON.stringify(base.shape)}`,
      { field: 'patch' },
    );
  }
  const out = Float64Array.from(base.data as Float64Array);
  for (let k = 0; k < (patch.shape[0] as number); k++) {
    const i = p[k * (1 + cols)] as number;
    if (!(Number.isInteger(i) && i >= 0 && i < rows))
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `${what}: patch row ${i} is outside [0, ${rows})`, { field: 'patch', row: i });
    out.set(p.subarray(k * (1 + cols) + 1, (k + 1) * (1 + cols)), i * cols);
  }
  return { dtype: 'f64', shape: [rows, cols], data: out };
}

/** Encodes an array into memory and digests it; large ones into shared memory, hashed on every core. */
/** The `.npy` bytes of a durable copy, where the hash threads can read them, and their leaf table. */
interface DurableSource {
  bytes(): Uint8Array | undefined;
  readonly src?: HashSource;
  readonly leaves?: Uint8Array | undefined;
}

/** Encodes an array into memory and digests it; large ones into shared memory, hashed on every core. */
async function encodeAndDigest(a: NdArray): Promise<{ digest: string; source: DurableSource }> {
  const head = npyHeader(a.dtype, a.shape),
    body = dataBytes(a);
  const total = head.byteLength + body.byteLength;
  if (!usesTree(total)) {
    const bytes = encodeNpy(a);
    return { digest: sha256Hex(bytes), source: { bytes: () => bytes } };
  }
  const sab = new SharedArrayBuffer(total);
  const bytes = new Uint8Array(sab);
  bytes.set(head, 0);
  bytes.set(body, head.byteLength);
  const src: HashSource = { kind: 'shared', buffer: sab, byteOffset: 0 };
  const leaves = await hashPool().leaves(src, total);
  return { digest: digestFromLeaves(leaves, total), source: { bytes: () => bytes, src, leaves } };
}

function isConnection(x: ObjectStore | ArrayStoreConnection): x is ArrayStoreConnection {
  return typeof (x as Partial<ArrayStoreConnection>).jsm === 'object' && typeof (x as Partial<ArrayStoreConnection>).names === 'object';
}

/** Creates an {@link ArrayStore} over a data plane's object-store bucket and the tiers in `opts`. */
export function createArrayStore(conn: ArrayStoreConnection, opts?: ArrayStoreOptions): ArrayStore;
/** @deprecated Pass the data plane: `createArrayStore(dp, opts)`. */
export function createArrayStore(os: ObjectStore, bucket: string, opts?: ArrayStoreOptions): ArrayStore;
export function createArrayStore(first: ObjectStore | ArrayStoreConnection, second?: string | ArrayStoreOptions, third?: ArrayStoreOptions): ArrayStore {
  let tier: ObjectTier;
  let opts: ArrayStoreOptions;
  let tierOf: ((bucket: string | undefined) => ObjectTier) | undefined;
  if (isConnection(first)) {
    opts = (second as ArrayStoreOptions | undefined) ?? {};
    const chunkBytes = opts.chunkBytes ?? first.chunkBytes ?? 128 * 1024;
    const home = createObjectTier(first.js, first.jsm, first.names.arraysBucket, chunkBytes, first.limits?.arraysMaxBytes);
    tier = home;
    const prefix = first.names.prefix;
    if (prefix !== undefined) {
      const others = new Map<string, ObjectTier>();
      tierOf = (b) => {
        if (b === undefined || b === home.bucket || !isArraysBucketOf(prefix, b)) return home;
        let t = others.get(b);
        if (t === undefined) others.set(b, (t = createObjectTier(first.js, first.jsm, b, chunkBytes, first.limits?.arraysMaxBytes)));
        return t;
      };
    }
  } else {
    // The object store client's own handles (public fields of its implementation).
    const os = first as unknown as { js: JetStreamClient; jsm: JetStreamManager };
    opts = third ?? {};
    tier = createObjectTier(os.js, os.jsm, second as string, opts.chunkBytes ?? 128 * 1024);
  }
  return createTieredStore(tier, opts, tierOf);
}

/**
 * `tierOf`: the object tier a reference's bucket is read from (reads only; puts, deletes and
 * durable copies use `tier`). @default every read from `tier`
 */
function createTieredStore(tier: ObjectTier, opts: ArrayStoreOptions, tierOf: (bucket: string | undefined) => ObjectTier = () => tier): ArrayStore {
  const bucket = tier.bucket;
  const log = opts.log ?? silentLogger;
  const host = opts.host;
  const hostMin = opts.hostMinBytes ?? INLINE_ARRAY_MAX_BYTES;
  const budget = opts.cacheBytes ?? 512 * 1024 * 1024;
  const cache = new Map<string, NdArray>();
  const sizes = new Map<string, number>();
  const stats: ArrayStoreStats = { hits: 0, misses: 0, bytes: 0, hostReads: 0, peerReads: 0, objectReads: 0 };
  // One durable write per digest at a time: two concurrent object-store puts of one name replace
  // each other's chunks, and a reader between them can find chunks missing.
  const uploading = new Map<string, Promise<void>>();
  // Digests whose durable copy this store wrote or found (persist skips them).
  const durableKnown = new Set<string>();
  // Durable copies written in the background, until written (flush waits for them), and the
  // start of those not started yet.
  const background = new Map<string, Promise<void>>();
  const starters = new Map<string, () => void>();
  const delayMs = opts.backgroundDelayMs ?? 1000;
  // Deletes in flight: a put of the same bytes waits for them, so it finds the object gone and
  // uploads it again instead of counting on an object about to disappear.
  const deleting = new Map<string, Promise<boolean>>();
  // One read per digest at a time (a task may name one array twice), and large object-store
  // reads one after the other: several concurrent reads of ~100 MB objects let the server's
  // pending bytes for this connection pass its limit (64 MiB) while this process checks another.
  const reading = new Map<string, Promise<NdArray>>();
  const serialBytes = opts.serialReadBytes ?? 8 * 1024 * 1024;
  let largeQueue: Promise<unknown> = Promise.resolve();
  const oneLargeAtATime = <T>(f: () => Promise<T>): Promise<T> => {
    const r = largeQueue.then(f, f);
    largeQueue = r.catch(() => undefined);
    return r;
  };

  /**
   * Writes `chunks` (an array's `.npy` bytes, in order) to the host store, announces it, and makes
   * its durable copy as `durable` says. Undefined when there is no host store, or it is full and a
   * durable copy is wanted (the caller stores it in the object store only).
   */
  async function putOnHost(chunks: readonly Uint8Array[], total: number, durable: Durability): Promise<string | undefined> {
    if (host === undefined) return undefined;
    let d: string;
    try {
      d = (await host.write(chunks)).digest;
    } catch (e) {
      if (!isGramfleetError(e) || e.code !== 'STORE_HOST_FULL' || durable === 'none') throw e;
      log.warn('host store full: storing in the object store only', { bytes: total });
      return undefined;
    }
    const gone = deleting.get(d);
    if (gone !== undefined) await gone.catch(() => undefined);
    void announce(d);
    const h = host;
    const source: DurableSource = {
      bytes: () => h.serve(d),
      src: { kind: 'file', path: h.pathOf(d) },
      leaves: isTreeDigest(d) ? await h.leafTable(d) : undefined,
    };
    if (durable === 'sync') await writeDurable(d, source);
    else if (durable === 'background') writeInBackground(d, source);
    return d;
  }

  function remember(digest: string, a: NdArray, size: number): void {
    if (size > budget) return;
    if (cache.has(digest)) return;
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

  /** Writes the durable copy of `digest` unless the object store has it. */
  function writeDurable(digest: string, source: DurableSource): Promise<void> {
    let upload = uploading.get(digest);
    if (upload === undefined) {
      upload = (async () => {
        const gone = deleting.get(digest);
        if (gone !== undefined) await gone.catch(() => undefined);
        const info = await tier.info(digest).catch(() => null);
        if (info === null) {
          const b = source.bytes();
          if (b === undefined)
            throw new GramfleetError('STORE_MISSING_OBJECT', `array ${digest} left the host store before its durable copy was written`, { digest, bucket });
          // The metadata's whole-object sha256: the digest itself when plain, else hashed on a
          // hash thread while the chunks are published.
          const sha256 = !isTreeDigest(digest) ? Buffer.from(digest, 'hex') : source.src !== undefined ? hashPool().whole(source.src, b.byteLength) : undefined;
          const onUpload = opts.onUpload;
          await tier.put(digest, b, {
            replaces: null,
            ...(onUpload !== undefined ? { progress: (sent: number, total: number) => onUpload({ digest, sent, total }) } : {}),
            ...(sha256 !== undefined ? { sha256 } : {}),
            ...(source.leaves !== undefined ? { leaves: source.leaves } : {}),
          });
        }
        host?.markDurable(digest);
        if (durableKnown.size > 100_000) durableKnown.clear();
        durableKnown.add(digest);
      })().finally(() => uploading.delete(digest));
      uploading.set(digest, upload);
    }
    return upload;
  }

  /** Starts a background durable write, retried a few times; failures are logged and kept for flush. */
  function writeInBackground(digest: string, source: DurableSource): void {
    if (background.has(digest)) return;
    const p = (async () => {
      await new Promise<void>((start) => {
        const timer = setTimeout(start, delayMs);
        starters.set(digest, () => {
          clearTimeout(timer);
          start();
        });
      });
      starters.delete(digest);
      for (let attempt = 1; ; attempt++) {
        try {
          await writeDurable(digest, source);
          return;
        } catch (e) {
          if (attempt >= 3 || (isGramfleetError(e) && !e.retryable)) {
            log.error('durable copy of an array failed', { digest, err: (e as Error).message });
            throw e;
          }
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    })();
    background.set(digest, p);
    p.then(
      () => background.delete(digest),
      () => undefined,
    );
  }

  async function announce(digest: string): Promise<void> {
    if (opts.directory === undefined) return;
    await opts.directory.add(digest).catch((e: Error) => log.warn('holders directory update failed', { digest, err: e.message }));
  }

  /** An Incoming for `ref`'s bytes: the host store when it has room, else this process's memory. */
  function incomingFor(ref: ArrayRef): Incoming {
    if (host !== undefined && ref.bytes >= hostMin) {
      try {
        return host.receive(ref.digest, ref.bytes);
      } catch (e) {
        if (!isGramfleetError(e) || e.code !== 'STORE_HOST_FULL') throw e;
        log.warn('host store full: reading into memory', { digest: ref.digest, bytes: ref.bytes });
      }
    }
    return receiveInMemory(ref.digest, ref.bytes);
  }

  /** Pulls `ref` from the holders the directory names; undefined when none has it. */
  async function fromPeers(ref: ArrayRef): Promise<Uint8Array | undefined> {
    if (opts.directory === undefined || host === undefined || ref.bytes < hostMin) return undefined;
    const holders = await opts.directory.holders(ref.digest).catch((e: Error) => {
      log.warn('holders directory lookup failed', { digest: ref.digest, err: e.message });
      return [];
    });
    if (holders.length === 0) return undefined;
    let into = incomingFor(ref);
    let state: PullState = { done: new Set() };
    for (const addr of holders) {
      let pulled = false;
      try {
        await pullFromPeer(addr, ref.digest, ref.bytes, into, state, opts.peer);
        pulled = true;
        const v = await into.seal(state.table);
        stats.peerReads++;
        void announce(ref.digest);
        return v;
      } catch (e) {
        // Lost peer, a leaf that failed its hash, an object no longer held: the next holder sends
        // what is still missing (leaves already checked are kept). A failed seal (a plain digest,
        // checked whole) starts over.
        log.warn('peer pull failed; trying the next holder', {
          digest: ref.digest,
          peer: addr,
          code: isGramfleetError(e) ? e.code : undefined,
          err: (e as Error).message,
        });
        if (pulled) {
          into = incomingFor(ref);
          state = { done: new Set() };
        }
      }
    }
    into.abort();
    return undefined;
  }

  /** Reads `ref` from the object store into the host store (or memory), checking leaves as they arrive. */
  async function fromObjectStore(ref: ArrayRef, info: StoredObjectInfo, src: ObjectTier): Promise<Uint8Array> {
    const bucket = src.bucket;
    if (info.size !== ref.bytes)
      throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${ref.digest} holds ${info.size} bytes in bucket ${bucket}, its reference says ${ref.bytes}`, {
        digest: ref.digest,
        bucket,
      });
    const into = incomingFor(ref);
    try {
      const bytes = ref.bytes;
      const tree = isTreeDigest(ref.digest) && usesTree(bytes);
      let table = tree ? leafTableOfInfo(info) : undefined;
      if (table !== undefined) {
        try {
          checkLeafTable(ref.digest, bytes, table, `array ${ref.digest}`);
        } catch {
          table = undefined; // a damaged table: check the whole at the end
        }
      }
      const whole = !tree ? createHash('sha256') : undefined;
      const checks: Promise<void>[] = [];
      let next = 0;
      const leaves = treeLeafCount(bytes);
      await src.read(info, into.view, (filled, chunk) => {
        whole?.update(chunk);
        if (table === undefined) return;
        const t = table;
        while (next < leaves && leafRange(next, bytes)[1] <= filled) {
          const leaf = next++;
          checks.push(
            into.hashLeaves([leaf]).then((h) => {
              if (!leafMatches(t, leaf, h))
                throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${ref.digest}: leaf ${leaf} in bucket ${bucket} does not match its hash`, {
                  digest: ref.digest,
                  bucket,
                  leaf,
                });
            }),
          );
        }
      });
      await Promise.all(checks);
      if (whole !== undefined && whole.digest('hex') !== ref.digest)
        throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${ref.digest} does not match its digest`, { digest: ref.digest, bucket });
      // Checked: leaf by leaf (table), or whole (plain digest); a tree digest without a table is checked by seal.
      const v = await into.seal(table ?? (whole !== undefined ? (usesTree(bytes) ? undefined : new Uint8Array(Buffer.from(ref.digest, 'hex'))) : undefined));
      host?.markDurable(ref.digest);
      stats.objectReads++;
      return v;
    } catch (e) {
      into.abort();
      throw e;
    }
  }

  async function getBytes(ref: ArrayRef): Promise<Uint8Array> {
    if (ref.inline !== undefined) return inlineBytes(ref);
    if (host !== undefined) {
      const v = await host.read(ref.digest).catch((e: unknown) => {
        if (isGramfleetError(e) && e.code === 'STORE_DIGEST_MISMATCH') {
          log.warn('host store copy failed its digest; reading it elsewhere', { digest: ref.digest });
          return undefined;
        }
        throw e;
      });
      if (v !== undefined) {
        stats.hostReads++;
        return v;
      }
    }
    const fromPeer = await fromPeers(ref);
    if (fromPeer !== undefined) return fromPeer;
    const src = tierOf(ref.bucket);
    const bucket = src.bucket;
    const read = async (): Promise<Uint8Array> => {
      const info = await src.info(ref.digest).catch((e: unknown) => {
        if (isGramfleetError(e)) throw e;
        // Another client identity's bucket (roles.ts): the typed refusal, not a missing array.
        const refused = forbiddenError(e, `reading array ${ref.digest} from bucket ${bucket}`);
        if (isGramfleetError(refused)) throw refused;
        // A bucket that is gone (a wiped store, before its owner declares it again) holds nothing.
        if (/stream not found/i.test((e as Error).message)) return null;
        // No answer (a server restarting): typed and retryable, naming the array, not a bare timeout.
        throw new GramfleetError('CLUSTER_UNAVAILABLE', `the object store did not answer for array ${ref.digest} (bucket ${bucket}): ${(e as Error).message}`, {
          digest: ref.digest,
          bucket,
        });
      });
      if (info === null)
        throw new GramfleetError('STORE_MISSING_OBJECT', `array ${ref.digest} is not in bucket ${bucket}${host !== undefined ? ' nor in a host store' : ''}`, {
          digest: ref.digest,
          bucket,
        });
      try {
        return await fromObjectStore(ref, info, src);
      } catch (e) {
        // The chunks' read got no answer (a bare NATS TimeoutError from a direct get; the 2-hour
        // soak of 2026-12-08 ended on one): typed and retryable, naming the array, as the metadata read is.
        if (!isGramfleetError(e) && (e as Error).name === 'TimeoutError')
          throw new GramfleetError(
            'CLUSTER_UNAVAILABLE',
            `the object store did not answer while reading array ${ref.digest} (bucket ${bucket}): ${(e as Error).message}`,
            {
              digest: ref.digest,
              bucket,
            },
          );
        if (!isGramfleetError(e) || e.code !== 'STORE_DIGEST_MISMATCH') throw e;
        // A corrupt durable copy would never heal (a put finds the name and skips it): remove it,
        // so the next put of this array writes it again.
        const removed = await src.delete(ref.digest).catch(() => false);
        log.error('durable copy failed its digest; removed it', { digest: ref.digest, bucket, removed, err: e.message });
        throw new GramfleetError('STORE_DIGEST_MISMATCH', `${e.message}; the corrupt copy was removed, so the next put of this array writes it again`, {
          ...(e.details ?? {}),
          digest: ref.digest,
          bucket,
          removed,
        });
      }
    };
    return ref.bytes > serialBytes ? oneLargeAtATime(read) : read();
  }

  const api: ArrayStore = {
    stats,
    async put(a: NdArray, po: PutOptions = {}): Promise<ArrayRef> {
      const head = npyHeader(a.dtype, a.shape);
      const total = head.byteLength + a.data.byteLength;
      const shape = [...a.shape];
      if (po.inline === true && total <= INLINE_ARRAY_MAX_BYTES) {
        const bytes = encodeNpy(a);
        return {
          bucket,
          digest: sha256Hex(bytes),
          dtype: a.dtype,
          shape,
          bytes: total,
          inline: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
        };
      }
      const durable = po.durable ?? opts.durability ?? 'sync';
      let digest = total >= hostMin ? await putOnHost([head, dataBytes(a)], total, durable) : undefined;
      if (digest === undefined) {
        const enc = await encodeAndDigest(a);
        digest = enc.digest;
        const gone = deleting.get(digest);
        if (gone !== undefined) await gone.catch(() => undefined);
        await writeDurable(digest, enc.source);
      }
      remember(digest, a, total);
      return { bucket, digest, dtype: a.dtype, shape, bytes: total };
    },
    async putConcat(dtype: NdArray['dtype'], parts: readonly NdArray['data'][], po: PutOptions = {}): Promise<ArrayRef> {
      const length = parts.reduce((n, p) => n + p.length, 0);
      const head = npyHeader(dtype, [length]);
      const total = head.byteLength + length * dtypeSize(dtype);
      const durable = po.durable ?? opts.durability ?? 'sync';
      if (po.inline !== true && total >= hostMin) {
        const chunks = [head, ...parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength))];
        const digest = await putOnHost(chunks, total, durable);
        if (digest !== undefined) return { bucket, digest, dtype, shape: [length], bytes: total };
      }
      const data =
        dtype === 'f64'
          ? new Float64Array(length)
          : dtype === 'f32'
            ? new Float32Array(length)
            : dtype === 'i32'
              ? new Int32Array(length)
              : dtype === 'u32'
                ? new Uint32Array(length)
                : new Uint8Array(length);
      let at = 0;
      for (const p of parts) {
        (data as Uint8Array).set(p as Uint8Array, at);
        at += p.length;
      }
      return api.put({ dtype, shape: [length], data } as NdArray, po);
    },
    async putPatched(a: NdArray, baseRef: ArrayRef): Promise<ArrayRef> {
      const base = cache.get(baseRef.digest);
      const [rows, cols] = a.shape as [number, number];
      const fits =
        base !== undefined &&
        a.dtype === 'f64' &&
        base.dtype === 'f64' &&
        a.shape.length === 2 &&
        base.shape.length === 2 &&
        base.shape[0] === rows &&
        base.shape[1] === cols;
      const p = fits ? changedRows(a.data as Float64Array, base.data as Float64Array, rows, cols, Math.floor(PATCH_SHARE * rows)) : undefined;
      if (p === undefined) return api.put(a);
      const bytes = encodeNpy(a);
      const digest = digestOf(bytes);
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
      if (ref.inline !== undefined) {
        // Not cached: the bytes came with the reference; decoding them is the whole read.
        return decodeNpy(inlineBytes(ref), `array ${ref.digest}`);
      }
      const pending = reading.get(ref.digest);
      if (pending !== undefined) {
        stats.hits++;
        return pending;
      }
      stats.misses++;
      const patch = ref.patch;
      if (patch !== undefined) {
        const base = cache.get(patch.base);
        if (base === undefined)
          throw new GramfleetError('STORE_PATCH_BASE_MISSING', `array ${ref.digest} patches ${patch.base}, which this process does not hold`, {
            digest: ref.digest,
            base: patch.base,
          });
        const read = (async () => {
          const a = applyPatch(base, await api.get(patch.rows), `array ${ref.digest}`);
          const bytes = encodeNpy(a);
          if (!matchesDigest(bytes, ref.digest))
            throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${ref.digest}, rebuilt from its patch, does not match its digest`, { digest: ref.digest });
          remember(ref.digest, a, bytes.byteLength);
          return a;
        })().finally(() => reading.delete(ref.digest));
        reading.set(ref.digest, read);
        return read;
      }
      const read = (async () => {
        const bytes = await getBytes(ref);
        // The bytes are this read's own (a mapping, or memory allocated for it): the array is a view.
        const a = decodeNpy(bytes, `array ${ref.digest}`, { view: true });
        remember(ref.digest, a, bytes.byteLength);
        return a;
      })().finally(() => reading.delete(ref.digest));
      reading.set(ref.digest, read);
      return read;
    },
    getBytes,
    async persist(ref: ArrayRef): Promise<void> {
      if (ref.inline !== undefined) return;
      if (ref.patch !== undefined) {
        await api.persist(ref.patch.rows);
        return;
      }
      const d = ref.digest;
      if (durableKnown.has(d)) return;
      // A reference into another arrays bucket (a client's input naming a result in the shared
      // one) is durable where it names, when that bucket holds it.
      const named = tierOf(ref.bucket);
      if (named !== tier && (await named.info(d).catch(() => null)) !== null) return;
      if (background.has(d)) {
        // A background copy that failed (e.g. the store was full) is tried once more, now.
        const ok = await api.flush(d).then(
          () => true,
          () => false,
        );
        if (ok) return;
        background.delete(d);
      }
      if (host?.size(d) !== undefined) {
        const h = host;
        await writeDurable(d, {
          bytes: () => h.serve(d),
          src: { kind: 'file', path: h.pathOf(d) },
          leaves: isTreeDigest(d) ? await h.leafTable(d) : undefined,
        });
        return;
      }
      if ((await tier.info(d).catch(() => null)) !== null) return;
      const cached = cache.get(d);
      if (cached === undefined)
        throw new GramfleetError('STORE_MISSING_OBJECT', `array ${d} is neither in bucket ${bucket} nor held here: it cannot be made durable`, {
          digest: d,
          bucket,
        });
      const enc = await encodeAndDigest(cached);
      if (enc.digest !== d)
        throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${d} in this process's cache no longer matches its digest (written into after its put?)`, {
          digest: d,
        });
      await writeDurable(d, enc.source);
    },
    async has(digest: string): Promise<boolean> {
      if (host?.size(digest) !== undefined) return true;
      return (await tier.info(digest).catch(() => null)) !== null;
    },
    async delete(digest: string, o: { readonly local?: boolean } = {}): Promise<boolean> {
      stats.bytes -= sizes.get(digest) ?? 0;
      cache.delete(digest);
      sizes.delete(digest);
      const d = (async () => {
        starters.get(digest)?.();
        await background.get(digest)?.catch(() => undefined);
        const local = host?.delete(digest) ?? false;
        if (local) await opts.directory?.remove(digest);
        const durable = o.local === true ? false : await tier.delete(digest);
        return local || durable;
      })();
      deleting.set(digest, d);
      durableKnown.delete(digest);
      try {
        return await d;
      } finally {
        if (deleting.get(digest) === d) deleting.delete(digest);
      }
    },
    async flush(digest?: string): Promise<void> {
      if (digest !== undefined) {
        starters.get(digest)?.();
        await background.get(digest);
        return;
      }
      for (const start of [...starters.values()]) start();
      await Promise.all([...background.values()]);
    },
  };
  return api;
}
