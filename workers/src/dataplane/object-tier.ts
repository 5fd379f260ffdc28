/**
 * The durable tier of the array store: the JetStream object store, written and read in its own
 * wire layout (what `@nats-io/obj` and the `nats` CLI read and write) but without the client's
 * one-acknowledgement-at-a-time puts and whole-object reads:
 *
 * - Stream `OBJ_<bucket>`; an object's chunks are messages on `$O.<bucket>.C.<nuid>`, its metadata
 *   the last message on `$O.<bucket>.M.<base64url(name)>` (JSON: name, nuid, size, chunks,
 *   `digest: "SHA-256=<base64url>"` of the whole object, mtime, options.max_chunk_size), published
 *   with a subject rollup so it replaces the previous one.
 * - A put publishes up to {@link PUT_WINDOW} chunks before waiting for their acknowledgements (all
 *   of them are acknowledged, by the stream, before the metadata is published), then the metadata.
 * - A read fetches the chunks in batches with direct gets (no consumer to create) into memory the
 *   caller gives, reporting progress so that the caller checks each leaf as soon as it is complete.
 *
 * The whole-object SHA-256 in the metadata is what other clients check; gramfleet readers check
 * the array's own digest instead (digest.ts).
 */
import { createHash } from 'node:crypto';
import { headers, nuid } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { GramfleetError } from '@gramfleet/core';
import { limitError } from './nats';
import { forbiddenError } from '../security/auth';

/** Chunks published before their acknowledgements are awaited. */
export const PUT_WINDOW = 16;
/** Chunks asked for per direct-get batch. */
const READ_BATCH = 16;

/** The metadata of a stored object, as the object store writes it. */
export interface StoredObjectInfo {
  readonly name: string;
  readonly bucket: string;
  readonly nuid: string;
  readonly size: number;
  readonly chunks: number;
  readonly digest: string;
  readonly deleted?: boolean;
  readonly mtime?: string;
  readonly options?: { readonly max_chunk_size?: number; readonly link?: unknown };
  /** gramfleet writes an array's leaf table here (`gf-leaves`, base64), so readers check each leaf as it arrives. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The leaf table an object's metadata carries, if any. */
export function leafTableOfInfo(i: StoredObjectInfo): Uint8Array | undefined {
  const t = i.metadata?.['gf-leaves'];
  return t === undefined ? undefined : new Uint8Array(Buffer.from(t, 'base64'));
}

/** Reads and writes of one object-store bucket. */
export interface ObjectTier {
  readonly bucket: string;
  /** The object's metadata; null when it is absent or deleted. */
  info(name: string): Promise<StoredObjectInfo | null>;
  /**
   * Stores `bytes` under `name` (replacing an earlier object of that name). `sha256` (of the whole
   * bytes, for the metadata), when the caller knows it or computes it elsewhere while the chunks
   * are published, saves hashing the bytes on this thread. `replaces`: the object's current
   * metadata (null: none), when the caller just read it (saves a round trip).
   */
  put(
    name: string,
    bytes: Uint8Array,
    o?: {
      readonly sha256?: Uint8Array | Promise<Uint8Array>;
      readonly leaves?: Uint8Array;
      readonly replaces?: StoredObjectInfo | null;
      /** Called with the bytes acknowledged so far after each chunk's acknowledgement (upload progress). */
      readonly progress?: (sent: number, total: number) => void;
    },
  ): Promise<StoredObjectInfo>;
  /** Marks an object deleted and purges its chunks; false when it was not there. */
  delete(name: string): Promise<boolean>;
  /**
   * Reads an object's chunks into `dest` (at least `info.size` bytes), calling `progress(filled)`
   * after each chunk. Rejects with STORE_MISSING_OBJECT when chunks are missing.
   */
  read(info: StoredObjectInfo, dest: Uint8Array, progress?: (filled: number, chunk: Uint8Array) => void): Promise<void>;
}

/** Object tier of `bucket` over a JetStream client and manager. */
export function createObjectTier(js: JetStreamClient, jsm: JetStreamManager, bucket: string, chunkBytes: number, maxBytes = -1): ObjectTier {
  const stream = `OBJ_${bucket}`;
  const chunkSubject = (id: string): string => `$O.${bucket}.C.${id}`;
  const metaSubject = (name: string): string => `$O.${bucket}.M.${Buffer.from(name, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}`;

  async function info(name: string): Promise<StoredObjectInfo | null> {
    const m = await jsm.streams.getMessage(stream, { last_by_subj: metaSubject(name) });
    if (m === null) return null;
    const i = m.json<StoredObjectInfo>();
    return i.deleted === true ? null : i;
  }

  return {
    bucket,
    info,
    async put(name, bytes, po = {}) {
      const sha256 = po.sha256;
      const id = nuid.next();
      const subj = chunkSubject(id);
      const h = sha256 === undefined ? createHash('sha256') : undefined;
      const inflight = new Set<Promise<unknown>>();
      let chunks = 0;
      let sent = 0;
      const progress = po.progress;
      let failed: unknown;
      let meta: (StoredObjectInfo & { description: string }) | undefined;
      try {
        for (let at = 0; at < bytes.byteLength; at += chunkBytes) {
          const part = bytes.subarray(at, Math.min(bytes.byteLength, at + chunkBytes));
          h?.update(part);
          const p = js.publish(subj, part).then(
            () => {
              sent += part.byteLength;
              try {
                progress?.(sent, bytes.byteLength);
              } catch {
                // a progress listener's failure is not the upload's
              }
            },
            (e: unknown) => {
              failed ??= e;
            },
          );
          inflight.add(p);
          void p.finally(() => inflight.delete(p));
          chunks++;
          if (inflight.size >= PUT_WINDOW) await Promise.race(inflight);
          if (failed !== undefined) throw failed;
        }
        await Promise.all(inflight);
        if (failed !== undefined) throw failed;
        const digest = Buffer.from(sha256 !== undefined ? await sha256 : (h as ReturnType<typeof createHash>).digest())
          .toString('base64')
          .replace(/\+/g, '-')
          .replace(/\//g, '_');
        meta = {
          name,
          description: '',
          bucket,
          nuid: id,
          size: bytes.byteLength,
          chunks,
          digest: `SHA-256=${digest}`,
          mtime: new Date().toISOString(),
          deleted: false,
          options: { max_chunk_size: chunkBytes },
          ...(po.leaves !== undefined && po.leaves.byteLength > 32
            ? { metadata: { 'gf-leaves': Buffer.from(po.leaves.buffer, po.leaves.byteOffset, po.leaves.byteLength).toString('base64') } }
            : {}),
        };
        const hd = headers();
        hd.set('Nats-Rollup', 'sub');
        const old = po.replaces !== undefined ? po.replaces : await info(name).catch(() => null);
        await js.publish(metaSubject(name), JSON.stringify(meta), { headers: hd });
        if (old !== null && old.nuid !== id) await jsm.streams.purge(stream, { filter: chunkSubject(old.nuid) }).catch(() => undefined);
        return meta;
      } catch (e) {
        await Promise.allSettled(inflight);
        if (meta !== undefined) {
          // The meta publish failed, but it may have been stored with its ack lost (a stream leader
          // killed mid-publish, the R3 test): purging the chunks then would leave a meta whose
          // chunks are gone, and a later put of the same name is skipped, so the object would stay
          // unreadable. Purge only when the meta is known not to name these chunks.
          const now = await info(name).catch(() => undefined);
          if (now?.nuid === id) return meta;
          if (now === undefined) throw limitError(e, 'arrays', maxBytes) ?? e;
        }
        await jsm.streams.purge(stream, { filter: subj }).catch(() => undefined);
        throw limitError(e, 'arrays', maxBytes) ?? e;
      }
    },
    async delete(name) {
      const i = await info(name);
      if (i === null) return false;
      // The chunks' purge first: an identity whose role may not purge (a client, roles.ts) is
      // refused (CLUSTER_FORBIDDEN) before the metadata says the object is gone.
      await jsm.streams.purge(stream, { filter: chunkSubject(i.nuid) }).catch((e: unknown) => {
        throw forbiddenError(e, `deleting array ${name} from bucket ${bucket}`);
      });
      const hd = headers();
      hd.set('Nats-Rollup', 'sub');
      await js.publish(metaSubject(name), JSON.stringify({ ...i, deleted: true, size: 0, chunks: 0, digest: '' }), { headers: hd });
      return true;
    },
    async read(i, dest, progress) {
      if (i.options?.link !== undefined && i.options.link !== null)
        throw new GramfleetError('STORE_MISSING_OBJECT', `array ${i.name} is an object-store link, which gramfleet does not write`, { digest: i.name, bucket });
      const subj = chunkSubject(i.nuid);
      let filled = 0,
        got = 0,
        seq = 0;
      while (got < i.chunks) {
        const before = got;
        try {
          const batch = await jsm.direct.getBatch(stream, { next_by_subj: subj, seq: seq + 1, batch: Math.min(READ_BATCH, i.chunks - got) });
          for await (const m of batch) {
            if (filled + m.data.byteLength > i.size)
              throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${i.name}: its chunks hold more than its ${i.size} bytes`, { digest: i.name, bucket });
            dest.set(m.data, filled);
            filled += m.data.byteLength;
            seq = m.seq;
            got++;
            progress?.(filled, m.data);
          }
        } catch (e) {
          // No (further) chunk: the typed STORE_MISSING_OBJECT below, not the server's bare 404.
          if ((e as { code?: unknown }).code !== 404) throw e;
        }
        if (got === before) break;
      }
      if (got < i.chunks || filled !== i.size)
        throw new GramfleetError(
          'STORE_MISSING_OBJECT',
          `array ${i.name}: ${got} of its ${i.chunks} chunks (${filled} of ${i.size} bytes) are in bucket ${bucket}`,
          { digest: i.name, bucket },
        );
    },
  };
}
