/**
 * Files in the cluster's object store, by content digest: what `gramfleet put FILE` uploads and
 * `gramfleet get REF --out FILE` fetches, and how local inputs travel to a remote cluster.
 *
 * A file is stored as parts of at most {@link FILE_PART_BYTES} bytes, each its own
 * content-addressed object (a 1-D `u8` array in the array store, so every tier, every check and
 * every limit of arrays applies), and a manifest naming the parts in order with the sha256 of
 * the whole file (stored the same way). The reference is the manifest's: `gf:file:<digest>:<bytes>`
 * ({@link FileRef}). So:
 *
 * - equal bytes give the same reference, and a second put of them uploads nothing (every part
 *   is found by its digest before anything is sent);
 * - an interrupted put, run again, sends only the parts still missing (resumable at part
 *   granularity);
 * - a get checks each part against its digest and the whole file against its sha256.
 *
 * Arrays that results and campaign artifacts name ({@link ArrayRef}, {@link CsrRef}) are fetched
 * by {@link getRefs} as `.npy` (one array) or `.npz` (several, or a CSR matrix in scipy's layout).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { GramfleetError, TREE_LEAF_BYTES, npyHeader, type ArrayRef, type CsrRef, type NdArray } from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';
import { writeCsrNpz, writeNpy, writeNpz } from './npz';

/**
 * Bytes of a file per stored part: a part's `.npy` bytes (128-byte header + data) are exactly one
 * digest leaf (4 MiB), so its digest is the plain sha256 of those bytes, computed here before
 * asking the store whether it already holds the part.
 */
export const FILE_PART_BYTES = TREE_LEAF_BYTES - 128;

/** Parts uploaded or fetched at once. */
export const PARTS_IN_FLIGHT = 4;

/** A reference to a stored file: `gf:file:<manifest digest>:<manifest bytes>`. */
export type FileRef = `gf:file:${string}`;

/** The manifest of a stored file. */
export interface FileManifest {
  readonly format: 'gramfleet-file/1';
  /**
   * How the parts are stored: absent for a file (`u8` arrays of shape `[n]`); `'row'` for the
   * staging copy of an uploaded array (`u8` arrays of shape `[1, n]`, ./upload.ts), so a staging
   * part never has the digest of a file's part and can be deleted once the array is joined.
   */
  readonly partShape?: 'row';
  /** Bytes of the whole file. */
  readonly size: number;
  /** Lower-case hex sha256 of the whole file. */
  readonly sha256: string;
  /** The parts in order: the digest of each part's `.npy` bytes and its data length. */
  readonly parts: readonly { readonly digest: string; readonly bytes: number }[];
}

/** What {@link putFile} did. */
export interface PutFileResult {
  readonly ref: FileRef;
  readonly size: number;
  readonly sha256: string;
  readonly parts: number;
  /** Parts the store already held (a repeated or resumed put), not sent again. */
  readonly partsFound: number;
  /** File bytes sent to the store by this put (0 for a repeated put). */
  readonly bytesUploaded: number;
}

/**
 * Progress of a put or get: bytes done of the total; for a put, `stored`: of the bytes done, those
 * the cluster already held (parts not sent again).
 */
export type ObjectProgress = (done: number, total: number, stored?: number) => void;

function sha256Hex(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** How a part is stored ({@link FileManifest.partShape}). */
type PartShape = FileManifest['partShape'];

function partShape(n: number, s: PartShape): number[] {
  return s === 'row' ? [1, n] : [n];
}

/** The `.npy` bytes a part of `n` bytes is stored as: its header then the part. */
function partHeader(n: number, s: PartShape = undefined): Uint8Array {
  return npyHeader('u8', partShape(n, s));
}

/** The array reference of a stored part. */
export function partRef(bucket: string, digest: string, n: number, s: PartShape = undefined): ArrayRef {
  return { bucket, digest, dtype: 'u8', shape: partShape(n, s), bytes: partHeader(n, s).byteLength + n };
}

/** Stores `data` as one part (a `u8` array) unless the store holds it; true when it was sent. */
async function putPart(store: ArrayStore, data: Uint8Array, s: PartShape = undefined): Promise<{ digest: string; sent: boolean }> {
  const head = partHeader(data.byteLength, s);
  const digest = createHash('sha256').update(head).update(data).digest('hex');
  if (await store.has(digest)) return { digest, sent: false };
  const ref = await store.put({ dtype: 'u8', shape: partShape(data.byteLength, s), data }, { durable: 'sync' });
  if (ref.digest !== digest) throw new GramfleetError('STORE_DIGEST_MISMATCH', `part stored as ${ref.digest}, expected ${digest}`, { digest });
  return { digest, sent: true };
}

/**
 * Parses a file reference (`gf:file:<digest>:<bytes>`); `INPUT_INVALID` naming `field` when it is
 * not one.
 */
export function parseFileRef(ref: string, field = 'ref'): { readonly digest: string; readonly bytes: number } {
  const m = /^gf:file:([0-9a-f]{64}):([0-9]{1,15})$/.exec(ref);
  if (m === null)
    throw new GramfleetError(
      'INPUT_INVALID',
      `${field} must be a file reference gf:file:<64 hex digits>:<bytes> (as 'gramfleet put' prints), got ${JSON.stringify(ref.slice(0, 100))}`,
      {
        field,
        expected: 'gf:file:<sha256>:<bytes>',
      },
    );
  return { digest: m[1] as string, bytes: Number(m[2]) };
}

/** Whether a string is a file reference (its form only; {@link parseFileRef} checks it). */
export function isFileRef(v: unknown): v is FileRef {
  return typeof v === 'string' && v.startsWith('gf:file:');
}

/**
 * Uploads a local file to the store by content digest (see the module doc): parts the store
 * already holds are not sent, so a repeated put sends nothing and an interrupted one, run again,
 * sends what is missing. `progress` is called with the file bytes handled so far.
 * `INPUT_FILE_UNREADABLE` names a file that cannot be read.
 */
export async function putFile(
  store: ArrayStore,
  file: string,
  o: { readonly progress?: ObjectProgress; readonly bucket?: string } = {},
): Promise<PutFileResult> {
  const unreadable = (e: unknown): GramfleetError => {
    const code = String((e as { code?: unknown }).code ?? 'EIO');
    return new GramfleetError('INPUT_FILE_UNREADABLE', `${file}: cannot read file (${code})`, { field: 'file', path: file, errno: code });
  };
  let size: number;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
    size = st.size;
  } catch (e) {
    throw unreadable(e);
  }
  // Parts are read in order (the whole-file hash needs them so), each FILE_PART_BYTES but the last.
  async function* partsOfFile(): AsyncGenerator<Uint8Array> {
    const stream = createReadStream(file, { highWaterMark: FILE_PART_BYTES });
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingBytes += chunk.byteLength;
      while (pendingBytes >= FILE_PART_BYTES) {
        const all = Buffer.concat(pending, pendingBytes);
        yield all.subarray(0, FILE_PART_BYTES);
        const rest = all.subarray(FILE_PART_BYTES);
        pending = rest.byteLength > 0 ? [Buffer.from(rest)] : [];
        pendingBytes = rest.byteLength;
      }
    }
    if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
  }
  return putParts(store, partsOfFile(), size, undefined, o.progress, unreadable);
}

/**
 * Stores bytes held in memory the way {@link putFile} stores a file: by parts, each sent only when
 * the store does not hold it, then a manifest. `partShape: 'row'` stores the parts as the staging
 * copy of an array (./upload.ts).
 */
export async function putBytes(
  store: ArrayStore,
  bytes: Uint8Array,
  o: { readonly progress?: ObjectProgress; readonly partShape?: 'row' } = {},
): Promise<PutFileResult> {
  function* partsOf(): Generator<Uint8Array> {
    for (let at = 0; at < bytes.byteLength; at += FILE_PART_BYTES) yield bytes.subarray(at, Math.min(bytes.byteLength, at + FILE_PART_BYTES));
  }
  return putParts(store, partsOf(), bytes.byteLength, o.partShape, o.progress);
}

/** Stores `chunks` (the parts, in order) up to PARTS_IN_FLIGHT at once, then their manifest. */
async function putParts(
  store: ArrayStore,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size: number,
  shape: PartShape,
  progress: ObjectProgress | undefined,
  readError: (e: unknown) => unknown = (e) => e,
): Promise<PutFileResult> {
  const whole = createHash('sha256');
  const parts: { digest: string; bytes: number }[] = [];
  let found = 0;
  let foundBytes = 0;
  let uploaded = 0;
  let done = 0;
  const inFlight: Promise<void>[] = [];
  const flushPart = async (buf: Uint8Array): Promise<void> => {
    const i = parts.length;
    parts.push({ digest: '', bytes: buf.byteLength });
    whole.update(buf);
    const p = (async () => {
      const r = await putPart(store, buf, shape);
      parts[i] = { digest: r.digest, bytes: buf.byteLength };
      if (r.sent) uploaded += buf.byteLength;
      else {
        found++;
        foundBytes += buf.byteLength;
      }
      done += buf.byteLength;
      progress?.(done, size, foundBytes);
    })();
    inFlight.push(p);
    if (inFlight.length >= PARTS_IN_FLIGHT) await inFlight.shift();
  };
  try {
    for await (const c of chunks) await flushPart(c);
    if (parts.length === 0) await flushPart(new Uint8Array(0));
    await Promise.all(inFlight);
  } catch (e) {
    await Promise.allSettled(inFlight);
    if (e instanceof GramfleetError) throw e;
    throw readError(e);
  }
  const sha256 = whole.digest('hex');
  const manifest: FileManifest = { format: 'gramfleet-file/1', ...(shape !== undefined ? { partShape: shape } : {}), size, sha256, parts };
  const mBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  const m = await putPart(store, new Uint8Array(mBytes.buffer, mBytes.byteOffset, mBytes.byteLength));
  return { ref: `gf:file:${m.digest}:${mBytes.byteLength}`, size, sha256, parts: parts.length, partsFound: found, bytesUploaded: uploaded };
}

/** Reads a stored file's manifest; `STORE_MISSING_OBJECT` when the cluster does not hold it. */
export async function readManifest(store: ArrayStore, ref: string, bucket: string, field = 'ref'): Promise<FileManifest> {
  const { digest, bytes } = parseFileRef(ref, field);
  const a = await store.get(partRef(bucket, digest, bytes));
  let m: FileManifest;
  try {
    m = JSON.parse(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).toString('utf8')) as FileManifest;
  } catch {
    throw new GramfleetError('INPUT_INVALID', `${field} ${ref} is not a file manifest`, { field });
  }
  if (m.format !== 'gramfleet-file/1' || !Array.isArray(m.parts) || (m.partShape !== undefined && m.partShape !== 'row'))
    throw new GramfleetError('INPUT_INVALID', `${field} ${ref} is not a file manifest`, { field });
  return m;
}

/**
 * Fetches a stored file into `out` (written to `out + '.part'` and renamed once whole and
 * checked): each part is checked against its digest by the store, the whole against the
 * manifest's sha256 (`STORE_DIGEST_MISMATCH`).
 */
export async function getFile(
  store: ArrayStore,
  ref: string,
  out: string,
  o: { readonly bucket: string; readonly progress?: ObjectProgress; readonly field?: string },
): Promise<FileManifest> {
  const m = await readManifest(store, ref, o.bucket, o.field ?? 'ref');
  const tmp = `${out}.part`;
  const fh = await fs.open(tmp, 'w');
  const whole = createHash('sha256');
  let done = 0;
  try {
    for (let i = 0; i < m.parts.length; i += PARTS_IN_FLIGHT) {
      const batch = m.parts.slice(i, i + PARTS_IN_FLIGHT);
      const got = await Promise.all(batch.map((p) => store.get(partRef(o.bucket, p.digest, p.bytes, m.partShape))));
      for (const a of got) {
        const b = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
        whole.update(b);
        let w = 0;
        while (w < b.byteLength) w += (await fh.write(b, w, b.byteLength - w)).bytesWritten;
        done += b.byteLength;
        o.progress?.(done, m.size);
      }
    }
  } finally {
    await fh.close();
  }
  const sha = whole.digest('hex');
  if (sha !== m.sha256 || done !== m.size) {
    await fs.rm(tmp, { force: true });
    throw new GramfleetError(
      'STORE_DIGEST_MISMATCH',
      `${ref}: the fetched file has sha256 ${sha} (${done} bytes), its manifest says ${m.sha256} (${m.size} bytes)`,
      {
        digest: m.sha256,
      },
    );
  }
  await fs.rename(tmp, out);
  return m;
}

/** Whether a value has the fields of an {@link ArrayRef}. */
export function isArrayRef(v: unknown): v is ArrayRef {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r['digest'] === 'string' && typeof r['dtype'] === 'string' && Array.isArray(r['shape']) && typeof r['bytes'] === 'number';
}

/** Whether a value has the fields of a {@link CsrRef}. */
export function isCsrRef(v: unknown): v is CsrRef {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return Array.isArray(r['shape']) && isArrayRef(r['indptr']) && isArrayRef(r['indices']) && isArrayRef(r['data']);
}

/** Every array and CSR reference inside a JSON value, keyed by its path (`a.b.0`); a reference at the top is keyed `''`. */
export function collectRefs(v: unknown, at = ''): Map<string, ArrayRef | CsrRef> {
  const out = new Map<string, ArrayRef | CsrRef>();
  const walk = (x: unknown, p: string): void => {
    if (isCsrRef(x) || isArrayRef(x)) {
      out.set(p, x);
      return;
    }
    if (Array.isArray(x)) x.forEach((y, i) => walk(y, p === '' ? String(i) : `${p}.${i}`));
    else if (typeof x === 'object' && x !== null) for (const [k, y] of Object.entries(x)) walk(y, p === '' ? k : `${p}.${k}`);
  };
  walk(v, at);
  return out;
}

/**
 * Writes the arrays that `refs` name to `out`: one array reference to a `.npy` (or a one-entry
 * `.npz` when `out` ends in `.npz`); one CSR reference to a scipy CSR `.npz`; several to a `.npz`
 * with one entry per path (a CSR matrix as `<path>.indptr`, `.indices`, `.data`, `.shape`).
 * `INPUT_INVALID` when there is nothing to write or a `.npy` cannot hold it.
 */
export async function getRefs(store: ArrayStore, refs: ReadonlyMap<string, ArrayRef | CsrRef>, out: string): Promise<{ readonly arrays: number }> {
  if (refs.size === 0)
    throw new GramfleetError('INPUT_INVALID', 'ref names no array: give a gf:file: reference or JSON holding array references', { field: 'ref' });
  const npz = out.endsWith('.npz');
  const first = [...refs.values()][0];
  if (refs.size === 1 && first !== undefined && isCsrRef(first)) {
    if (!npz) throw new GramfleetError('INPUT_INVALID', `--out must end in .npz for a CSR matrix, got ${out}`, { field: 'out' });
    const [ip, ix, d] = await Promise.all([store.get(first.indptr), store.get(first.indices), store.get(first.data)]);
    await writeCsrNpz(out, { shape: first.shape, indptr: ip.data as Int32Array, indices: ix.data as Int32Array, data: d.data as Float64Array });
    return { arrays: 1 };
  }
  if (refs.size === 1 && first !== undefined && isArrayRef(first) && !npz) {
    await writeNpy(out, await store.get(first));
    return { arrays: 1 };
  }
  if (!npz) throw new GramfleetError('INPUT_INVALID', `--out must end in .npz for ${refs.size} arrays, got ${out}`, { field: 'out' });
  const arrays: Record<string, NdArray> = {};
  for (const [p, r] of refs) {
    const key = p === '' ? 'arr_0' : p;
    if (isCsrRef(r)) {
      const [ip, ix, d] = await Promise.all([store.get(r.indptr), store.get(r.indices), store.get(r.data)]);
      arrays[`${key}.indptr`] = ip;
      arrays[`${key}.indices`] = ix;
      arrays[`${key}.data`] = d;
      arrays[`${key}.shape`] = { dtype: 'i32', shape: [2], data: Int32Array.from(r.shape) };
    } else arrays[key] = await store.get(r);
  }
  await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await writeNpz(out, arrays);
  return { arrays: refs.size };
}

/** Files and arrays in a cluster's object store, bound to a connection (`fleet.objects`). */
export interface ObjectsClient {
  /** {@link putFile} on this cluster. */
  putFile(file: string, o?: { readonly progress?: ObjectProgress }): Promise<PutFileResult>;
  /** {@link getFile} on this cluster. */
  getFile(ref: string, out: string, o?: { readonly progress?: ObjectProgress }): Promise<FileManifest>;
  /** {@link getRefs} on this cluster. */
  getRefs(refs: ReadonlyMap<string, ArrayRef | CsrRef>, out: string): Promise<{ readonly arrays: number }>;
  /** {@link readManifest} on this cluster. */
  manifest(ref: string): Promise<FileManifest>;
}

/** An {@link ObjectsClient} over a connection's array store and its bucket. */
export function createObjectsClient(store: ArrayStore, bucket: string): ObjectsClient {
  return {
    putFile: (file, o = {}) => putFile(store, file, o),
    getFile: (ref, out, o = {}) => getFile(store, ref, out, { bucket, ...o }),
    getRefs: (refs, out) => getRefs(store, refs, out),
    manifest: (ref) => readManifest(store, ref, bucket),
  };
}
