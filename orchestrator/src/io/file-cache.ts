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
 * - The cache is not bounded: files stay until the directory is cleaned (see docs/data.md).
 *
 * The file's format is known from its content (every reader sniffs it: ZIP for `.npz`, the
 * `.npy` magic, `%%MatrixMarket`, IDX, else CSV); a 1-based `.adjlist` graph is known only by its
 * extension, so it cannot be named by reference.
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

/** Options of {@link createFileCache}. */
export interface FileCacheOptions {
  readonly store: ArrayStore;
  /** The bucket the store's arrays (and so file parts) live in. */
  readonly bucket: string;
  /** @default {@link defaultFileCacheDir} */
  readonly dir?: string;
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

/** A cache of referenced files in a directory; the returned function resolves a reference to its cached path. */
export function createFileCache(o: FileCacheOptions): FileRefResolver {
  const dir = o.dir ?? defaultFileCacheDir();
  const inFlight = new Map<string, Promise<string>>();
  const fetchOnce = async (field: string, ref: string): Promise<string> => {
    const { digest } = parseFileRef(ref, field);
    const out = path.join(dir, digest);
    let m;
    try {
      m = await readManifest(o.store, ref, o.bucket, field);
    } catch (e) {
      throw missing(field, ref, e);
    }
    const st = await fs.stat(out).catch(() => undefined);
    if (st !== undefined && st.isFile() && st.size === m.size) return out;
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${out}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await getFile(o.store, ref, tmp, { bucket: o.bucket, field });
      await fs.rename(tmp, out);
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      await fs.rm(`${tmp}.part`, { force: true }).catch(() => undefined);
      throw missing(field, ref, e);
    }
    return out;
  };
  return async (field, ref) => {
    if (!isFileRef(ref)) throw new GramfleetError('INPUT_INVALID', `${field} must be a file reference gf:file:<sha256>:<bytes>`, { field });
    const key = parseFileRef(ref, field).digest;
    let p = inFlight.get(key);
    if (p === undefined) {
      p = fetchOnce(field, ref).finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  };
}

/**
 * Checks that the store holds the file a reference names (its manifest), without fetching the
 * file: `STORE_MISSING_OBJECT` naming `field` when it does not, `INPUT_INVALID` when it is not a
 * reference.
 */
export async function checkFileRef(store: ArrayStore, bucket: string, field: string, ref: string): Promise<void> {
  try {
    await readManifest(store, ref, bucket, field);
  } catch (e) {
    throw missing(field, ref, e);
  }
}
