/**
 * Files named by object reference (`gf:file:<digest>:<bytes>`, ./objects.ts) made into local
 * files, so that every reader of a path (graphs, EigenPro's IDX/.npy/CSV, a Kronecker GP's `.npy`
 * vectors, …) takes a reference without knowing about it.
 *
 * Semantics:
 * - A reference is fetched once into `<dir>/<manifest digest>` and kept: later runs naming it read
 *   the cached file (the name is the manifest's digest, the file is checked against the manifest's
 *   sha256 when fetched, and a file of the wrong size is fetched again).
 * - Fetches are written to a file of their own and renamed into place, so two runs fetching the
 *   same reference at once both end with the whole file; concurrent fetches in one process share
 *   one download.
 * - A reference the store does not hold is `STORE_MISSING_OBJECT` naming the field; a malformed
 *   one `INPUT_INVALID` naming the field.
 * - With a byte bound (`maxBytes`; the orchestrator's `GRAMFLEET_FILE_CACHE_MAX_BYTES`), files no
 *   lease holds are removed least recently used first to make room; a file over the bound alone
 *   is `INPUT_TOO_LARGE` naming the field and the bound. Without one, files stay until the
 *   directory is cleaned (see docs/data.md).
 *
 * The file's format is known from its content (every reader sniffs it: ZIP for `.npz`, the
 * `.npy` magic, `%%MatrixMarket`, IDX, a first line of node ids for a 1-based `.adjlist` graph,
 * else CSV).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { GramfleetError, isGramfleetError } from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';
import { getFile, isFileRef, parseFileRef, readManifest } from './objects';

/** Where files named by reference are cached when nothing is configured. */
export function defaultFileCacheDir(): string {
  return path.join(os.tmpdir(), 'gramfleet-file-cache');
}

/** Turns a reference into a local file path; `field` names it in errors. */
export type FileRefResolver = (field: string, ref: string) => Promise<string>;

/** The variable that bounds the orchestrator's cache (named in the cache's errors). */
export const FILE_CACHE_MAX_BYTES_VAR = 'GRAMFLEET_FILE_CACHE_MAX_BYTES';

/** Options of {@link createFileCache}. */
export interface FileCacheOptions {
  readonly store: ArrayStore;
  /** The bucket the store's arrays (and so file parts) live in. */
  readonly bucket: string;
  /** @default {@link defaultFileCacheDir} */
  readonly dir?: string;
  /**
   * Bytes the cached files may take together; before a fetch, unpinned files are removed least
   * recently used first until the new one fits. @default unbounded
   */
  readonly maxBytes?: number;
}

/** A lease on cached files: each file it resolved stays (is not evicted) until {@link FileLease.release}. */
export interface FileLease {
  readonly resolve: FileRefResolver;
  /** Unpins every file this lease resolved (idempotent). */
  release(): void;
}

/** A cache of referenced files in a directory. */
export interface FileCache {
  /** Resolves a reference to its cached path (pinned only while it is fetched). */
  readonly resolve: FileRefResolver;
  /** A lease whose files stay until it is released (for the span in which a run reads them). */
  lease(): FileLease;
  /** Bytes and count of the whole files in the directory now. */
  usage(): Promise<{ readonly bytes: number; readonly files: number }>;
}

/** A field's reference the store does not hold, as the typed error the caller sees. */
function missing(field: string, ref: string, e: unknown): unknown {
  if (isGramfleetError(e) && e.code === 'STORE_MISSING_OBJECT')
    return new GramfleetError(
      'STORE_MISSING_OBJECT',
      `${field}: the cluster holds no file ${ref} (upload it with 'gramfleet put FILE', or name a path and let the client upload it)`,
      { field, ref },
    );
  return e;
}

/** `INPUT_TOO_LARGE` for a file that alone exceeds the cache's bound. */
export function fileTooLargeForCache(field: string, ref: string, size: number, maxBytes: number): GramfleetError {
  return new GramfleetError(
    'INPUT_TOO_LARGE',
    `${field}: the file ${ref} has ${size} bytes, more than the orchestrator's file cache holds (${FILE_CACHE_MAX_BYTES_VAR} = ${maxBytes} bytes); raise the bound or split the input`,
    { field, ref, size, bound: `bytes <= ${maxBytes}`, variable: FILE_CACHE_MAX_BYTES_VAR },
  );
}

const CACHED_NAME = /^[0-9a-f]{64}$/;

/**
 * A cache of referenced files in a directory (see the module doc). With `maxBytes`, the files
 * in the directory stay under it: before a file is fetched, files no lease holds are removed,
 * least recently used first (a use touches the file's mtime, so the order survives a restart);
 * a file larger than the bound alone is `INPUT_TOO_LARGE`, and one that does not fit beside the
 * pinned files `STORE_HOST_FULL` (retryable: room comes back as runs finish). Pins are this
 * process's: the directory must not be shared with another process that evicts from it.
 */
export function createFileCache(o: FileCacheOptions): FileCache {
  const dir = o.dir ?? defaultFileCacheDir();
  const inFlight = new Map<string, Promise<string>>();
  const pins = new Map<string, number>();
  let reserved = 0;
  let room: Promise<unknown> = Promise.resolve();
  const pin = (d: string): void => void pins.set(d, (pins.get(d) ?? 0) + 1);
  const unpin = (d: string): void => {
    const n = (pins.get(d) ?? 0) - 1;
    if (n > 0) pins.set(d, n);
    else pins.delete(d);
  };

  const entries = async (): Promise<{ name: string; size: number; mtimeMs: number }[]> => {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    const out = [];
    for (const name of names) {
      if (!CACHED_NAME.test(name)) continue;
      const st = await fs.stat(path.join(dir, name)).catch(() => undefined);
      if (st?.isFile() === true) out.push({ name, size: st.size, mtimeMs: st.mtimeMs });
    }
    return out;
  };

  /** Makes room for `size` bytes (one at a time, so two fetches never count the same room). */
  const makeRoom = (field: string, ref: string, digest: string, size: number): Promise<void> => {
    const max = o.maxBytes;
    if (max === undefined) return Promise.resolve();
    if (size > max) return Promise.reject(fileTooLargeForCache(field, ref, size, max));
    const p = room.then(async () => {
      const files = (await entries()).filter((e) => e.name !== digest);
      let used = reserved + files.reduce((a, e) => a + e.size, 0);
      for (const e of files.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
        if (used + size <= max) break;
        if (pins.has(e.name)) continue;
        await fs.rm(path.join(dir, e.name), { force: true });
        used -= e.size;
      }
      if (used + size > max)
        throw new GramfleetError(
          'STORE_HOST_FULL',
          `${field}: the orchestrator's file cache has no room for ${ref} (${size} bytes): the files runs are reading now take ${used} of its ${max} bytes (${FILE_CACHE_MAX_BYTES_VAR})`,
          { field, ref, size, used, bound: `bytes <= ${max}`, variable: FILE_CACHE_MAX_BYTES_VAR },
        );
      reserved += size;
    });
    room = p.catch(() => undefined);
    return p;
  };

  const fetchOnce = async (field: string, ref: string, digest: string): Promise<string> => {
    const out = path.join(dir, digest);
    let m;
    try {
      m = await readManifest(o.store, ref, o.bucket, field);
    } catch (e) {
      throw missing(field, ref, e);
    }
    const st = await fs.stat(out).catch(() => undefined);
    if (st !== undefined && st.isFile() && st.size === m.size) {
      const now = new Date();
      await fs.utimes(out, now, now).catch(() => undefined);
      return out;
    }
    await makeRoom(field, ref, digest, m.size);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${out}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await getFile(o.store, ref, tmp, { bucket: o.bucket, field });
      await fs.rename(tmp, out);
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      await fs.rm(`${tmp}.part`, { force: true }).catch(() => undefined);
      throw missing(field, ref, e);
    } finally {
      if (o.maxBytes !== undefined) reserved -= m.size;
    }
    return out;
  };

  /** Resolves with the file pinned; the caller unpins. */
  const resolvePinned = async (field: string, ref: string): Promise<{ path: string; digest: string }> => {
    if (!isFileRef(ref)) throw new GramfleetError('INPUT_INVALID', `${field} must be a file reference gf:file:<sha256>:<bytes>`, { field });
    const digest = parseFileRef(ref, field).digest;
    pin(digest);
    try {
      let p = inFlight.get(digest);
      if (p === undefined) {
        p = fetchOnce(field, ref, digest).finally(() => inFlight.delete(digest));
        inFlight.set(digest, p);
      }
      return { path: await p, digest };
    } catch (e) {
      unpin(digest);
      throw e;
    }
  };

  return {
    resolve: async (field, ref) => {
      const r = await resolvePinned(field, ref);
      unpin(r.digest);
      return r.path;
    },
    lease: () => {
      const held: string[] = [];
      let released = false;
      return {
        resolve: async (field, ref) => {
          if (released) throw new GramfleetError('INPUT_INVALID', `${field}: the file lease was already released`, { field });
          const r = await resolvePinned(field, ref);
          held.push(r.digest);
          return r.path;
        },
        release: () => {
          if (released) return;
          released = true;
          for (const d of held.splice(0)) unpin(d);
        },
      };
    },
    usage: async () => {
      const files = await entries();
      return { bytes: files.reduce((a, e) => a + e.size, 0), files: files.length };
    },
  };
}

/**
 * Checks that the store holds the file a reference names (its manifest), without fetching the
 * file, and answers its size: `STORE_MISSING_OBJECT` naming `field` when it does not,
 * `INPUT_INVALID` when it is not a reference.
 */
export async function checkFileRef(store: ArrayStore, bucket: string, field: string, ref: string): Promise<{ readonly size: number }> {
  try {
    return { size: (await readManifest(store, ref, bucket, field)).size };
  } catch (e) {
    throw missing(field, ref, e);
  }
}
