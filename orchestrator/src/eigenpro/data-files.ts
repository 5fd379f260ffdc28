/**
 * Reading EigenPro inputs: IDX (as MNIST / Fashion-MNIST ship them, optionally gzipped),
 * `.npy`, and CSV (comma or whitespace separated, an optional non-numeric header line).
 * Images (u8) are scaled to [0, 1]; 3-D arrays (n × h × w) become n × (h·w) rows.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';
import { GramfleetError, type DenseRows } from '@gramfleet/core';
import { decodeNpyValue, isStringArray } from '../io/npz';

/** Rows of a loaded file, with where they came from. */
export interface LoadedRows extends DenseRows {
  readonly data: Float64Array;
  /** The element type found in the file. */
  readonly sourceDtype: string;
}

function unreadable(path: string, why: string): GramfleetError {
  return new GramfleetError('INPUT_FILE_UNREADABLE', `${path}: ${why}`, { path });
}

const IDX_TYPES: Record<number, { name: string; size: number; read: (v: DataView, o: number) => number }> = {
  0x08: { name: 'u8', size: 1, read: (v, o) => v.getUint8(o) },
  0x09: { name: 'i8', size: 1, read: (v, o) => v.getInt8(o) },
  0x0b: { name: 'i16', size: 2, read: (v, o) => v.getInt16(o, false) },
  0x0c: { name: 'i32', size: 4, read: (v, o) => v.getInt32(o, false) },
  0x0d: { name: 'f32', size: 4, read: (v, o) => v.getFloat32(o, false) },
  0x0e: { name: 'f64', size: 8, read: (v, o) => v.getFloat64(o, false) },
};

/** Options of {@link loadRows} and {@link gunzipBounded}. */
export interface LoadRowsOptions {
  /**
   * Most bytes a gzipped file may inflate to (`INPUT_TOO_LARGE` beyond: the size the gzip
   * trailer declares is checked before inflating, and inflating stops one byte past it).
   * @default GZIP_DEFAULT_MAX_BYTES (256 MiB)
   */
  readonly maxBytes?: number;
}

/** The inflated size {@link gunzipBounded} accepts when the caller names no budget: 256 MiB. */
export const GZIP_DEFAULT_MAX_BYTES = 256 * 2 ** 20;

function tooLarge(path: string, bound: number, value: number): GramfleetError {
  return new GramfleetError('INPUT_TOO_LARGE', `${path}: inflates to ${value}+ bytes, more than the ${bound} allowed`, {
    field: 'maxBytes',
    path,
    bound,
    value,
  });
}

/**
 * Inflates gzip bytes without trusting them: the uncompressed size the trailer declares
 * (ISIZE) is checked against `maxBytes` first, and `gunzipSync` runs with `maxOutputLength`
 * one byte past that declared size, so a gzip bomb is refused before it fills memory and a
 * trailer that understates the size costs at most the size it states. (ISIZE is the size
 * modulo 2³² of the last member: a file over 4 GiB, or of several gzip members, is refused.)
 * Errors: `INPUT_TOO_LARGE` (over the bound), `INPUT_FILE_UNREADABLE` (not valid gzip, or
 * inflating to another size than declared).
 */
export function gunzipBounded(bytes: Uint8Array, path: string, maxBytes = GZIP_DEFAULT_MAX_BYTES): Uint8Array {
  if (bytes.length < 18) throw unreadable(path, `not a readable gzip file (only ${bytes.length} bytes)`);
  const isize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(bytes.length - 4, true);
  if (isize > maxBytes) throw tooLarge(path, maxBytes, isize);
  let b: Buffer;
  try {
    b = gunzipSync(bytes, { maxOutputLength: Math.min(isize + 1, bufferConstants.MAX_LENGTH) });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
      throw unreadable(path, `not a readable gzip file (it inflates to more than the ${isize} bytes its trailer declares)`);
    throw unreadable(path, `not a readable gzip file (${(e as Error).message})`);
  }
  if (b.byteLength !== isize) throw unreadable(path, `not a readable gzip file (it inflates to ${b.byteLength} bytes, its trailer declares ${isize})`);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Parses IDX bytes (big-endian, magic 0 0 type ndim). */
export function decodeIdx(bytes: Uint8Array, path: string, scaleImages = true): LoadedRows {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw unreadable(path, 'not an IDX file (bad magic)');
  const t = IDX_TYPES[bytes[2] as number];
  const ndim = bytes[3] as number;
  if (t === undefined || ndim < 1) throw unreadable(path, `unsupported IDX type 0x${(bytes[2] as number).toString(16)} or ${ndim} dimensions`);
  const off = 4 + 4 * ndim;
  if (bytes.length < off) throw unreadable(path, `truncated IDX header (${ndim} dimensions need ${off} bytes, the file has ${bytes.length})`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(v.getUint32(4 + 4 * i, false));
  const rows = dims[0] as number;
  const cols = dims.slice(1).reduce((a, b) => a * b, 1);
  const n = rows * cols;
  // Checked before allocating: every element must be in the file.
  if (!Number.isSafeInteger(n) || bytes.length - off < n * t.size) throw unreadable(path, `truncated IDX data (${dims.join('×')} ${t.name} values)`);
  const data = new Float64Array(n);
  const scale = scaleImages && t.name === 'u8' && ndim > 1 ? 1 / 255 : 1;
  for (let i = 0; i < data.length; i++) data[i] = t.read(v, off + i * t.size) * scale;
  return { rows, cols, data, sourceDtype: t.name };
}

/** Parses CSV text of numbers (one row per line; the first line may be a header). */
export function decodeCsv(text: string, path: string): LoadedRows {
  let out = new Float64Array(1024);
  let len = 0;
  let cols = -1;
  let rows = 0;
  let li = 0;
  let first = true;
  for (let start = 0; start <= text.length; li++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '') continue;
    const header = first;
    first = false;
    const cells = line.split(/\s*[,;\t ]\s*/);
    const vals = new Float64Array(cells.length);
    let numeric = true;
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i] as string;
      const x = Number(c);
      if (Number.isNaN(x) && !/^nan$/i.test(c)) {
        numeric = false;
        break;
      }
      vals[i] = x;
    }
    if (!numeric) {
      if (header) continue;
      throw unreadable(path, `line ${li + 1} holds a non-number`);
    }
    if (cols === -1) cols = vals.length;
    if (vals.length !== cols) throw unreadable(path, `line ${li + 1} has ${vals.length} fields, the first row has ${cols}`);
    if (len + cols > out.length) {
      const next = new Float64Array(Math.max(out.length * 2, len + cols));
      next.set(out.subarray(0, len));
      out = next;
    }
    out.set(vals, len);
    len += cols;
    rows++;
  }
  if (rows === 0) throw unreadable(path, 'no data rows');
  return { rows, cols, data: out.slice(0, len), sourceDtype: 'csv' };
}

/** Decodes a matrix (or a label vector, as n × 1) from the bytes of an IDX, `.npy` or CSV file, gzipped or not. */
export function decodeRows(raw: Uint8Array, path: string, opts: LoadRowsOptions = {}): LoadedRows {
  let bytes = raw;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipBounded(bytes, path, opts.maxBytes);
  if (bytes[0] === 0x93 && bytes[1] === 0x4e) {
    const a = decodeNpyValue(bytes, path);
    if (isStringArray(a)) throw unreadable(path, 'holds strings, expected numbers');
    const rows = a.shape[0] ?? 1;
    const cols = a.shape.length <= 1 ? 1 : a.shape.slice(1).reduce((x, y) => x * y, 1);
    const scale = a.dtype === 'u8' && a.shape.length > 1 ? 1 / 255 : 1;
    const data = new Float64Array(a.data.length);
    for (let i = 0; i < data.length; i++) data[i] = (a.data[i] as number) * scale;
    return { rows, cols, data, sourceDtype: a.dtype };
  }
  if (bytes[0] === 0 && bytes[1] === 0 && bytes.length >= 4 && (bytes[2] as number) >= 8 && (bytes[2] as number) <= 0x0e) return decodeIdx(bytes, path);
  return decodeCsv(new TextDecoder().decode(bytes), path);
}

/** Loads a matrix (or a label vector, as n × 1) from an IDX, `.npy` or CSV file, gzipped or not. */
export async function loadRows(path: string, opts: LoadRowsOptions = {}): Promise<LoadedRows> {
  let bytes: Uint8Array;
  try {
    const b = await readFile(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw unreadable(path, `cannot read file (${String((e as { code?: unknown }).code ?? 'EIO')})`);
  }
  return decodeRows(bytes, path, opts);
}
