/**
 * Resumable uploads of large arrays by a remote client: what `gramfleet put` does for a file
 * (./objects.ts: parts by content digest, then a manifest), done for every input array of a
 * direct submit (and `fleet.put`) of at least {@link RESUMABLE_ARRAY_MIN_BYTES}.
 *
 * - The client computes the array's reference (its `.npy` bytes and their digest). When the
 *   cluster holds it, nothing is sent.
 * - Otherwise it stores the `.npy` bytes as a staging file ({@link putBytes}, parts stored as rows
 *   so their digests never equal a `gramfleet put` file's parts): parts the store already holds
 *   are not sent again, so a client killed mid-upload and run again sends only the missing parts.
 * - The orchestrator joins the parts into the array object (`joinUploadWorkflow`, a workflow so
 *   the client needs no more than its Temporal and NATS connections), checks that its digest is
 *   the one the client computed, and deletes the staging parts and manifest (a client's NATS role
 *   may not delete).
 *
 * The array's bytes cross the client's link once; inside the cluster the orchestrator reads the
 * parts and writes the array (twice the bytes, on the cluster's own network).
 */
import { createHash } from 'node:crypto';
import { GramfleetError, encodeNpy, decodeNpy, type ArrayRef, type JoinUploadInput, type NdArray, type UploadActivities } from '@gramfleet/core';
import type { ArrayStore, UploadProgress } from '@gramfleet/workers';
import { digestOf } from '@gramfleet/workers/internal';
import { toFailure } from '../host/activities';
import { PARTS_IN_FLIGHT, parseFileRef, partRef, putBytes, readManifest, type PutFileResult } from './objects';

/** Arrays whose `.npy` bytes are at least this large travel as resumable uploads (two parts). */
export const RESUMABLE_ARRAY_MIN_BYTES = 8 * 1024 * 1024;

/** The last resumable upload's counts, per array digest (what a progress bar or a test reads). */
export type UploadRecord = Pick<PutFileResult, 'parts' | 'partsFound' | 'bytesUploaded' | 'size'>;

/** Options of {@link resumableArrayStore}. */
export interface ResumableStoreOptions {
  /** The arrays bucket the orchestrator joins staging files in (the joined array's reference names it). */
  readonly bucket: string;
  /**
   * Where the staging parts go: a store over `bucket`. A client with its own arrays bucket (its
   * `inner`) stages its large arrays in the shared one, where the orchestrator joins them.
   * @default inner
   */
  readonly parts?: ArrayStore;
  /** Asks the orchestrator to join a staging file into the array `expect` (`joinUploadWorkflow`). */
  readonly join: (input: JoinUploadInput) => Promise<ArrayRef>;
  /** @default {@link RESUMABLE_ARRAY_MIN_BYTES} */
  readonly minBytes?: number;
  /** Hears each part of an upload: the array's digest, its bytes handled, its size, and of those the bytes the cluster already held. */
  readonly onUpload?: (e: UploadProgress) => void;
  /** Hears each finished upload's counts. */
  readonly onUploaded?: (digest: string, r: UploadRecord) => void;
}

/**
 * `inner` with puts of large arrays made resumable (see the module doc); every other call, and
 * puts of small arrays, go to `inner` unchanged. For a client of a remote cluster (no host store).
 */
export function resumableArrayStore(inner: ArrayStore, o: ResumableStoreOptions): ArrayStore {
  const minBytes = o.minBytes ?? RESUMABLE_ARRAY_MIN_BYTES;
  const staging = o.parts ?? inner;
  // One upload per digest at a time in this process (two puts of one array share it).
  const uploading = new Map<string, Promise<ArrayRef>>();
  const put: ArrayStore['put'] = async (a, po) => {
    // (An array this large is never carried inline, and without a host store, as for a remote
    // client, every put is durable: so `po` changes nothing for it.)
    if (npyBytes(a) < minBytes) return inner.put(a, po);
    const bytes = encodeNpy(a);
    const expect: ArrayRef = { bucket: o.bucket, digest: digestOf(bytes), dtype: a.dtype, shape: [...a.shape], bytes: bytes.byteLength };
    let p = uploading.get(expect.digest);
    if (p === undefined) {
      p = (async () => {
        if (await staging.has(expect.digest)) return expect;
        for (let attempt = 1; ; attempt++) {
          const up = await putBytes(staging, bytes, {
            partShape: 'row',
            ...(o.onUpload !== undefined
              ? { progress: (done: number, total: number, stored?: number) => o.onUpload?.({ digest: expect.digest, sent: done, total, stored: stored ?? 0 }) }
              : {}),
          });
          o.onUploaded?.(expect.digest, { parts: up.parts, partsFound: up.partsFound, bytesUploaded: up.bytesUploaded, size: up.size });
          try {
            return await o.join({ ref: up.ref, expect });
          } catch (e) {
            // A part this upload found was deleted meanwhile by the join of another array with an
            // equal part (both staging copies name it): storing the parts again sends that one.
            if (attempt >= 2 || !(e instanceof GramfleetError) || e.code !== 'STORE_MISSING_OBJECT') throw e;
          }
        }
      })().finally(() => uploading.delete(expect.digest));
      uploading.set(expect.digest, p);
    }
    return p;
  };
  return {
    put,
    putPatched: (a, base) => inner.putPatched(a, base),
    putConcat: (dtype, parts, po) => inner.putConcat(dtype, parts, po),
    get: (ref) => inner.get(ref),
    getBytes: (ref) => inner.getBytes(ref),
    has: (digest) => inner.has(digest),
    delete: (digest, d) => inner.delete(digest, d),
    persist: (ref) => inner.persist(ref),
    flush: (digest) => inner.flush(digest),
    get stats() {
      return inner.stats;
    },
  };
}

/** Size of an array's `.npy` bytes, without encoding it (the header is at most 128 bytes for the shapes that matter here). */
function npyBytes(a: NdArray): number {
  return 128 + a.data.byteLength;
}

/**
 * The orchestrator's half: makes `input.expect` from its staging file unless the store holds it,
 * checks it, deletes the staging parts and manifest, and returns the reference.
 * `STORE_MISSING_OBJECT` when a part is missing (the client sends it again on its next try);
 * `STORE_DIGEST_MISMATCH` when the joined bytes are not the array the client announced.
 */
export async function joinUploadedArray(store: ArrayStore, bucket: string, input: JoinUploadInput): Promise<ArrayRef> {
  const { expect } = input;
  parseFileRef(input.ref, 'ref');
  const manifest = await readManifest(store, input.ref, bucket).catch((e: unknown) => {
    if (e instanceof GramfleetError && e.code === 'STORE_MISSING_OBJECT') return undefined;
    throw e;
  });
  if (manifest !== undefined && manifest.partShape !== 'row')
    throw new GramfleetError('INPUT_INVALID', `ref ${input.ref} is a file, not the staging copy of an array`, { field: 'ref' });
  if (!(await store.has(expect.digest))) {
    if (manifest === undefined)
      throw new GramfleetError('STORE_MISSING_OBJECT', `the staging manifest ${input.ref} of array ${expect.digest} is not in the store`, {
        digest: expect.digest,
        bucket,
        final: true,
      });
    if (manifest.size !== expect.bytes)
      throw new GramfleetError('INPUT_INVALID', `staging file ${input.ref} holds ${manifest.size} bytes, the array ${expect.bytes}`, { field: 'expect.bytes' });
    const bytes = new Uint8Array(manifest.size);
    const whole = createHash('sha256');
    let at = 0;
    for (let i = 0; i < manifest.parts.length; i += PARTS_IN_FLIGHT) {
      // A missing part does not come back by itself: final, and the client stores the parts again.
      const got = await Promise.all(
        manifest.parts.slice(i, i + PARTS_IN_FLIGHT).map((p) =>
          store.get(partRef(bucket, p.digest, p.bytes, 'row')).catch((e: unknown) => {
            if (e instanceof GramfleetError && e.code === 'STORE_MISSING_OBJECT') throw new GramfleetError(e.code, e.message, { ...e.details, final: true });
            throw e;
          }),
        ),
      );
      for (const g of got) {
        const b = new Uint8Array(g.data.buffer, g.data.byteOffset, g.data.byteLength);
        if (at + b.byteLength > bytes.byteLength)
          throw new GramfleetError('STORE_DIGEST_MISMATCH', `staging file ${input.ref}: its parts hold more than its ${manifest.size} bytes`, {
            digest: expect.digest,
          });
        bytes.set(b, at);
        whole.update(b);
        at += b.byteLength;
      }
    }
    if (at !== manifest.size || whole.digest('hex') !== manifest.sha256)
      throw new GramfleetError('STORE_DIGEST_MISMATCH', `staging file ${input.ref}: its parts do not give its sha256`, { digest: expect.digest });
    const a = decodeNpy(bytes, 'uploaded array', { view: true });
    const r = await store.put(a, { durable: 'sync' });
    if (r.digest !== expect.digest)
      throw new GramfleetError('STORE_DIGEST_MISMATCH', `the joined array has digest ${r.digest}, the client announced ${expect.digest}`, {
        digest: expect.digest,
      });
  }
  // Staging parts are never a file's parts (./objects.ts, partShape); another array's staging copy
  // with an equal part loses it here and is sent again (resumableArrayStore).
  if (manifest !== undefined) {
    for (const p of manifest.parts) await store.delete(p.digest);
    await store.delete(parseFileRef(input.ref).digest);
  }
  return { bucket, digest: expect.digest, dtype: expect.dtype, shape: [...expect.shape], bytes: expect.bytes };
}

/** The orchestrator's upload activity over `store`. */
export function createUploadActivities(deps: { readonly store: ArrayStore; readonly bucket: string }): UploadActivities {
  return {
    async joinUploadedArray(input) {
      try {
        return await joinUploadedArray(deps.store, deps.bucket, input);
      } catch (e) {
        throw toFailure(e);
      }
    },
  };
}
