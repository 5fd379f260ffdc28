/**
 * A small pool of worker_threads that compute sha256 of byte ranges, so the leaves of a tree
 * digest (digest.ts) are hashed on every core at once: node:crypto's SHA-256 runs ~1 GB/s on one
 * core here, which alone would cap a put, a verified read or a peer transfer near that rate.
 *
 * The threads read files themselves (the host store's files under /dev/shm) or shared memory, so
 * bytes are never copied into a message. One pool per process, created on first use; its
 * threads keep the process alive only while a request is in flight.
 */
import { Worker } from 'node:worker_threads';
import * as os from 'node:os';
import * as path from 'node:path';
import { GramfleetError, treeLeafCount } from '@gramfleet/core';
import { LEAF_HASH_BYTES, leafRange } from './digest';

/** A request to a hash thread: sha256 of each range (file offsets, or offsets from `byteOffset` in `buffer`). */
export type HashRequest =
  | { readonly id: number; readonly kind: 'file'; readonly path: string; readonly ranges: readonly (readonly [number, number])[] }
  | {
      readonly id: number;
      readonly kind: 'shared';
      readonly buffer: SharedArrayBuffer;
      readonly byteOffset: number;
      readonly ranges: readonly (readonly [number, number])[];
    };

/** A hash thread's reply: 32 bytes per range, in order. */
export type HashReply =
  { readonly id: number; readonly ok: true; readonly hashes: Uint8Array } | { readonly id: number; readonly ok: false; readonly message: string };

/** Where the bytes to hash are. */
export type HashSource =
  { readonly kind: 'file'; readonly path: string } | { readonly kind: 'shared'; readonly buffer: SharedArrayBuffer; readonly byteOffset: number };

/** The process's hash threads. */
export interface HashPool {
  readonly threads: number;
  /** Leaf hashes of leaves `leaves` (default: all) of an object of `bytes` bytes: 32 bytes per leaf, in the order asked. */
  leaves(src: HashSource, bytes: number, leaves?: readonly number[]): Promise<Uint8Array>;
  /** The sha256 of the first `bytes` bytes as a whole (one thread: a sequential hash). */
  whole(src: HashSource, bytes: number): Promise<Uint8Array>;
}

type Distributive<T> = T extends unknown ? Omit<T, 'id'> : never;
interface Slot {
  readonly worker: Worker;
  busy: number;
}
interface Job {
  readonly req: Distributive<HashRequest>;
  resolve(h: Uint8Array): void;
  reject(e: Error): void;
}

let shared: HashPool | undefined;

/** The process's hash pool (threads: the available cores, at most 8). */
export function hashPool(): HashPool {
  shared ??= createHashPool(Math.max(1, Math.min(8, os.availableParallelism())));
  return shared;
}

function createHashPool(n: number): HashPool {
  const script = path.join(__dirname, 'hash-thread.js');
  const slots: Slot[] = [];
  const queue: Job[] = [];
  const inflight = new Map<number, { slot: Slot; job: Job }>();
  let nextId = 1;

  function spawn(): Slot {
    const worker = new Worker(script);
    const slot: Slot = { worker, busy: 0 };
    worker.on('message', (r: HashReply) => {
      const f = inflight.get(r.id);
      if (f === undefined) return;
      inflight.delete(r.id);
      if (--slot.busy === 0) worker.unref();
      if (r.ok) f.job.resolve(r.hashes);
      else f.job.reject(new GramfleetError('STORE_MISSING_OBJECT', `hashing failed: ${r.message}`, {}));
      pump();
    });
    const die = (e: Error): void => {
      for (const [id, f] of inflight) {
        if (f.slot !== slot) continue;
        inflight.delete(id);
        f.job.reject(e);
      }
      const i = slots.indexOf(slot);
      if (i >= 0) slots[i] = spawn();
      pump();
    };
    worker.on('error', die);
    worker.on('exit', (code) => die(new Error(`hash thread exited with code ${code}`)));
    // After the listeners: listening for messages refs the thread again.
    worker.unref();
    return slot;
  }

  function pump(): void {
    // Two requests per thread queued at most, so a thread never idles between replies.
    for (let round = 0; round < 2; round++) {
      for (const slot of slots) {
        if (slot.busy > round) continue;
        const job = queue.shift();
        if (job === undefined) return;
        const id = nextId++;
        inflight.set(id, { slot, job });
        if (slot.busy++ === 0) slot.worker.ref();
        slot.worker.postMessage({ ...job.req, id });
      }
    }
  }

  for (let i = 0; i < n; i++) slots.push(spawn());

  const submit = (src: HashSource, ranges: readonly (readonly [number, number])[]): Promise<Uint8Array> =>
    new Promise<Uint8Array>((resolve, reject) => {
      const req: Distributive<HashRequest> =
        src.kind === 'file' ? { kind: 'file', path: src.path, ranges } : { kind: 'shared', buffer: src.buffer, byteOffset: src.byteOffset, ranges };
      queue.push({ req, resolve, reject });
      pump();
    });

  return {
    threads: n,
    whole: (src, bytes) => submit(src, [[0, bytes]]),
    async leaves(src, bytes, which) {
      const ids = which ?? Array.from({ length: treeLeafCount(bytes) }, (_, i) => i);
      // One leaf per request: requests are ~4 ms of hashing each, their messages ~0.05 ms.
      const parts = await Promise.all(ids.map((i) => submit(src, [leafRange(i, bytes)])));
      const out = new Uint8Array(ids.length * LEAF_HASH_BYTES);
      parts.forEach((h, k) => out.set(h, k * LEAF_HASH_BYTES));
      return out;
    },
  };
}
