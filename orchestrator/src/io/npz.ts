/**
 * `.npy` and `.npz` files, and sparse CSR matrices in exactly the layout that
 * `scipy.sparse.save_npz` writes (so `scipy.sparse.load_npz` reads ours and we read theirs).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { GramfleetError, csrFromTriplets, dataBytes, decodeNpy, encodeNpy, fortranToC, npyHeader, parseNpyHeader } from '@gramfleet/core';
import type { CsrArrays, NdArray } from '@gramfleet/core';
import { readZip, writeZip, writeZipFile } from './zip';
import type { ZipSource } from './zip';

/** A numpy string array (`|S<n>` bytes or `<U<n>` unicode), e.g. the `format` entry of a scipy `.npz`. */
export interface NpyStringArray {
  /** `'bytes'` for `|S<n>`, `'unicode'` for `<U<n>`. */
  readonly dtype: 'bytes' | 'unicode';
  /** Characters per element (the `<n>` of the descriptor). */
  readonly itemSize: number;
  readonly shape: readonly number[];
  /** Elements in C order, trailing NULs removed. */
  readonly data: readonly string[];
}

/** One array of an `.npz` archive: numeric ({@link NdArray}) or a string array. */
export type NpzValue = NdArray | NpyStringArray;

/** Options of the `.npz` writers. */
export interface WriteNpzOptions {
  /**
   * Deflate entries (as `numpy.savez_compressed` / `save_npz(compressed=True)`).
   * @default false
   */
  readonly compress?: boolean;
  /**
   * Sizes and offsets from which zip64 records are written (see the zip writer's `zip64From`):
   * archives past 4 GiB get them whatever this says; lower it only to exercise that path.
   * @default 0xFFFFFFFF
   */
  readonly zip64From?: number;
}

/** Options of {@link writeCsrNpz}. */
export interface WriteCsrNpzOptions extends WriteNpzOptions {
  /** Extra arrays to store beside the CSR layout (e.g. `labels`). Must not reuse scipy's keys. */
  readonly extra?: Readonly<Record<string, NdArray>>;
}

/** True when an npz value is a string array. */
export function isStringArray(v: NpzValue): v is NpyStringArray {
  return v.dtype === 'bytes' || v.dtype === 'unicode';
}

function unreadable(what: string, why: string, details: Record<string, unknown> = {}): GramfleetError {
  return new GramfleetError('INPUT_FILE_UNREADABLE', `${what}: ${why}`, { path: what, why, ...details });
}

/**
 * Encodes `.npy` v1.0 bytes from a raw descriptor (e.g. `'<i8'`, `'|S3'`), a shape and
 * the little-endian body. Header padded to 64 bytes as numpy does.
 */
export function encodeNpyRaw(descr: string, shape: readonly number[], body: Uint8Array): Uint8Array {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header = header + ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + body.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, (header.length >> 8) & 0xff], 0);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(body, 10 + header.length);
  return out;
}

/** Encodes an int64 (`<i8`) array, as numpy stores `np.array(shape)`. */
function encodeInt64(shape: readonly number[], values: readonly number[]): Uint8Array {
  const body = new Uint8Array(8 * values.length);
  const view = new DataView(body.buffer);
  values.forEach((v, i) => view.setBigInt64(8 * i, BigInt(v), true));
  return encodeNpyRaw('<i8', shape, body);
}

/** Encodes a string array as numpy would (`|S<n>` ASCII bytes or `<U<n>` UTF-32LE). */
function encodeStrings(a: NpyStringArray): Uint8Array {
  const n = a.data.length;
  if (a.dtype === 'bytes') {
    const body = new Uint8Array(n * a.itemSize);
    a.data.forEach((s, i) => {
      for (let c = 0; c < Math.min(s.length, a.itemSize); c++) body[i * a.itemSize + c] = s.charCodeAt(c) & 0xff;
    });
    return encodeNpyRaw(`|S${a.itemSize}`, a.shape, body);
  }
  const body = new Uint8Array(n * a.itemSize * 4);
  const view = new DataView(body.buffer);
  a.data.forEach((s, i) => {
    const cps = Array.from(s).slice(0, a.itemSize);
    cps.forEach((ch, c) => view.setUint32((i * a.itemSize + c) * 4, ch.codePointAt(0) ?? 0, true));
  });
  return encodeNpyRaw(`<U${a.itemSize}`, a.shape, body);
}

/**
 * Decodes `.npy` bytes, including numpy string arrays (`|S<n>`, `<U<n>`, `>U<n>`, C or Fortran
 * order); numeric ones via core's `decodeNpy` (every bool/int/uint/float width, both byte
 * orders, Fortran order returned in C order).
 */
export function decodeNpyValue(bytes: Uint8Array, what = 'array'): NpzValue {
  const h = parseNpyHeader(bytes, what);
  const m = /^([|<>=])([SU])(\d{1,9})$/.exec(h.descr);
  if (m === null) return decodeNpy(bytes, what);
  const kind = m[2] === 'S' ? 'bytes' : 'unicode';
  const itemSize = Number(m[3]);
  const n = h.n;
  const off = h.offset;
  const width = kind === 'bytes' ? itemSize : itemSize * 4;
  if (bytes.length - off < n * width) throw unreadable(what, 'not a readable .npy (truncated data)');
  if (itemSize === 0 && n > bytes.length) throw unreadable(what, `not a readable .npy (${n} empty strings in a ${bytes.length}-byte file)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + off, n * width);
  const data: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    for (let c = 0; c < itemSize; c++) {
      const code = kind === 'bytes' ? view.getUint8(i * width + c) : view.getUint32(i * width + c * 4, m[1] === '>' ? false : true);
      if (code === 0) break;
      if (code > 0x10ffff) throw unreadable(what, `not a readable .npy (code point ${code} in element ${i})`);
      s += String.fromCodePoint(code);
    }
    data.push(s);
  }
  return { dtype: kind, itemSize, shape: h.shape, data: h.fortranOrder && h.shape.length > 1 ? fortranToC(data, h.shape, new Array<string>(n)) : data };
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'EIO';
    throw unreadable(path, `cannot read file (${code})`, { errno: code });
  }
}

/** Reads a `.npy` file. Throws `INPUT_FILE_UNREADABLE` naming the path. */
export async function readNpy(path: string): Promise<NpzValue> {
  return decodeNpyValue(await readBytes(path), path);
}

/** Writes an array as a `.npy` file (readable with `numpy.load`). */
export async function writeNpy(path: string, a: NpzValue): Promise<void> {
  await writeFile(path, isStringArray(a) ? encodeStrings(a) : encodeNpy(a));
}

/** Options of {@link decodeNpz} and {@link readNpz}. */
export interface ReadNpzOptions {
  /**
   * Most bytes the archive's entries may hold uncompressed, all together; checked against the
   * sizes the archive declares before anything is inflated (`INPUT_TOO_LARGE`).
   * @default ZIP_DEFAULT_MAX_BYTES (256 MiB)
   */
  readonly maxBytes?: number;
}

/**
 * Decodes `.npz` bytes into arrays keyed by name (the entry name without `.npy`). The record
 * has no prototype: an entry named `__proto__.npy` or `constructor.npy` is just a key.
 */
export function decodeNpz(bytes: Uint8Array, what = 'archive.npz', opts: ReadNpzOptions = {}): Record<string, NpzValue> {
  const out = Object.create(null) as Record<string, NpzValue>;
  for (const e of readZip(bytes, what, opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes })) {
    const key = e.name.endsWith('.npy') ? e.name.slice(0, -4) : e.name;
    out[key] = decodeNpyValue(e.data, `${what}:${e.name}`);
  }
  return out;
}

/** Reads a `.npz` file (as written by `numpy.savez` or `savez_compressed`). */
export async function readNpz(path: string, opts: ReadNpzOptions = {}): Promise<Record<string, NpzValue>> {
  return decodeNpz(await readBytes(path), path, opts);
}

/** The `.npy` bytes of a value as parts: a numeric array's header, then its own memory (no copy). */
function npyParts(a: NpzValue): Uint8Array[] {
  return isStringArray(a) ? [encodeStrings(a)] : [npyHeader(a.dtype, a.shape), dataBytes(a)];
}

function zipOpts(opts: WriteNpzOptions): { compress: boolean; zip64From?: number } {
  return opts.zip64From === undefined ? { compress: opts.compress === true } : { compress: opts.compress === true, zip64From: opts.zip64From };
}

/** Encodes arrays as `.npz` bytes; entries are written in the key order of `arrays`. */
export function encodeNpz(arrays: Readonly<Record<string, NpzValue>>, opts: WriteNpzOptions = {}): Uint8Array {
  const entries = Object.entries(arrays).map(([k, a]) => ({ name: `${k}.npy`, data: npyParts(a) }));
  return writeZip(entries, zipOpts(opts));
}

/**
 * Writes arrays as a `.npz` file (readable with `numpy.load`), streamed to the file array by
 * array, with zip64 records once the archive passes 4 GiB (so any size is written).
 */
export async function writeNpz(path: string, arrays: Readonly<Record<string, NpzValue>>, opts: WriteNpzOptions = {}): Promise<void> {
  const entries = Object.entries(arrays).map(([k, a]) => ({ name: `${k}.npy`, data: npyParts(a) }));
  await writeZipFile(path, entries, zipOpts(opts));
}

function toF64(a: NdArray): Float64Array {
  return a.data instanceof Float64Array ? a.data : Float64Array.from(a.data);
}

/** An own entry of decoded arrays (never one inherited from a prototype). */
function own(arrays: Readonly<Record<string, NpzValue>>, key: string): NpzValue | undefined {
  return Object.prototype.hasOwnProperty.call(arrays, key) ? arrays[key] : undefined;
}

function needNumeric(arrays: Readonly<Record<string, NpzValue>>, key: string, what: string): NdArray {
  const a = own(arrays, key);
  if (a === undefined) throw unreadable(what, `not a scipy sparse .npz (no '${key}' array)`, { key });
  if (isStringArray(a)) throw unreadable(what, `'${key}' must be numeric, got ${a.dtype} strings`, { key });
  return a;
}

function needIndex(arrays: Readonly<Record<string, NpzValue>>, key: string, what: string): Int32Array {
  const a = needNumeric(arrays, key, what);
  if (a.data instanceof Int32Array) return a.data;
  if (a.data instanceof Uint32Array || a.data instanceof Uint8Array) return Int32Array.from(a.data);
  throw unreadable(what, `'${key}' must be an integer array, got ${a.dtype}`, { key });
}

/**
 * Interprets decoded `.npz` arrays as a scipy sparse matrix in `csr` (or `csc`, which is
 * transposed into CSR) layout; an archive without a `format` entry is read as CSR. Data of any numeric dtype becomes float64; int64 indices
 * are narrowed to int32. Other keys (e.g. `labels`) are ignored here.
 */
export function csrFromNpz(arrays: Readonly<Record<string, NpzValue>>, what = 'archive.npz'): CsrArrays {
  const fmt = own(arrays, 'format');
  // Without a `format` entry (as in some hand-made archives: data, indices, indptr, shape), CSR is assumed.
  const format = fmt === undefined ? 'csr' : isStringArray(fmt) ? fmt.data[0] : undefined;
  if (format !== 'csr' && format !== 'csc')
    throw unreadable(what, `not a scipy CSR/CSC .npz (format is ${format === undefined ? 'not a string' : JSON.stringify(format)})`, { format });
  const shapeA = needIndex(arrays, 'shape', what);
  const r = shapeA[0];
  const c = shapeA[1];
  if (shapeA.length !== 2 || r === undefined || c === undefined) throw unreadable(what, `'shape' must hold 2 values, got ${shapeA.length}`);
  const indptr = needIndex(arrays, 'indptr', what);
  const indices = needIndex(arrays, 'indices', what);
  const data = toF64(needNumeric(arrays, 'data', what));
  if (format === 'csr') return { shape: [r, c], indptr, indices, data };
  // CSC: indptr runs over columns, indices are rows.
  const nnz = indptr[indptr.length - 1] ?? 0;
  if (indptr.length !== c + 1 || nnz < 0 || indices.length < nnz || data.length < nnz) {
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${what}: csc arrays do not match shape [${r}, ${c}]`, { path: what });
  }
  const cols = new Int32Array(nnz);
  for (let j = 0; j < c; j++) cols.fill(j, indptr[j] ?? 0, indptr[j + 1] ?? 0);
  return csrFromTriplets([r, c], indices.subarray(0, nnz), cols, data.subarray(0, nnz));
}

/** Reads a scipy sparse `.npz` (as `scipy.sparse.save_npz` writes it) as CSR. */
export async function readCsrNpz(path: string, opts: ReadNpzOptions = {}): Promise<CsrArrays> {
  return csrFromNpz(await readNpz(path, opts), path);
}

/**
 * The `.npz` entries of a CSR matrix, exactly as `scipy.sparse.save_npz` lays them out:
 * `indices` (int32), `indptr` (int32), `format` (0-d `|S3` b'csr'), `shape` (int64[2]),
 * `data` (float64), followed by `extra` arrays.
 */
export function encodeCsrNpz(csr: CsrArrays, opts: WriteCsrNpzOptions = {}): Uint8Array {
  return writeZip(csrEntries(csr, opts), zipOpts(opts));
}

function csrEntries(csr: CsrArrays, opts: WriteCsrNpzOptions): ZipSource[] {
  const entries: ZipSource[] = [
    { name: 'indices.npy', data: npyParts({ dtype: 'i32', shape: [csr.indices.length], data: csr.indices }) },
    { name: 'indptr.npy', data: npyParts({ dtype: 'i32', shape: [csr.indptr.length], data: csr.indptr }) },
    { name: 'format.npy', data: encodeStrings({ dtype: 'bytes', itemSize: 3, shape: [], data: ['csr'] }) },
    { name: 'shape.npy', data: encodeInt64([2], [csr.shape[0], csr.shape[1]]) },
    { name: 'data.npy', data: npyParts({ dtype: 'f64', shape: [csr.data.length], data: csr.data }) },
  ];
  for (const [k, a] of Object.entries(opts.extra ?? {})) {
    if (entries.some((e) => e.name === `${k}.npy`)) {
      throw new GramfleetError('INPUT_INVALID', `extra.${k} must not reuse a scipy CSR key (indices, indptr, format, shape, data)`, { field: `extra.${k}` });
    }
    entries.push({ name: `${k}.npy`, data: npyParts(a) });
  }
  return entries;
}

/** Writes a CSR matrix as a `.npz` that `scipy.sparse.load_npz` reads (streamed, zip64 past 4 GiB). */
export async function writeCsrNpz(path: string, csr: CsrArrays, opts: WriteCsrNpzOptions = {}): Promise<void> {
  await writeZipFile(path, csrEntries(csr, opts), zipOpts(opts));
}
