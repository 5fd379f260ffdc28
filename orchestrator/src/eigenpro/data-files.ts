/**
 * Reading EigenPro inputs: IDX (as MNIST / Fashion-MNIST ship them, optionally gzipped),
 * `.npy`, and CSV (comma or whitespace separated, an optional non-numeric header line).
 * Images (u8) are scaled to [0, 1]; 3-D arrays (n × h × w) become n × (h·w) rows.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
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

/** Parses IDX bytes (big-endian, magic 0 0 type ndim). */
export function decodeIdx(bytes: Uint8Array, path: string, scaleImages = true): LoadedRows {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw unreadable(path, 'not an IDX file (bad magic)');
  const t = IDX_TYPES[bytes[2] as number];
  const ndim = bytes[3] as number;
  if (t === undefined || ndim < 1) throw unreadable(path, `unsupported IDX type 0x${(bytes[2] as number).toString(16)} or ${ndim} dimensions`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(v.getUint32(4 + 4 * i, false));
  const rows = dims[0] as number;
  const cols = dims.slice(1).reduce((a, b) => a * b, 1);
  const off = 4 + 4 * ndim;
  if (bytes.length < off + rows * cols * t.size) throw unreadable(path, 'truncated IDX data');
  const data = new Float64Array(rows * cols);
  const scale = scaleImages && t.name === 'u8' && ndim > 1 ? 1 / 255 : 1;
  for (let i = 0; i < data.length; i++) data[i] = t.read(v, off + i * t.size) * scale;
  return { rows, cols, data, sourceDtype: t.name };
}

/** Parses CSV text of numbers (one row per line). */
export function decodeCsv(text: string, path: string): LoadedRows {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const out: number[] = [];
  let cols = -1;
  let rows = 0;
  lines.forEach((line, li) => {
    const cells = line.trim().split(/\s*[,;\t ]\s*/);
    const vals = cells.map(Number);
    if (vals.some((x, i) => Number.isNaN(x) && !/^nan$/i.test(cells[i] ?? ''))) {
      if (li === 0) return; // header
      throw unreadable(path, `line ${li + 1} holds a non-number`);
    }
    if (cols === -1) cols = vals.length;
    if (vals.length !== cols) throw unreadable(path, `line ${li + 1} has ${vals.length} fields, the first row has ${cols}`);
    for (const x of vals) out.push(x);
    rows++;
  });
  if (rows === 0) throw unreadable(path, 'no data rows');
  return { rows, cols, data: Float64Array.from(out), sourceDtype: 'csv' };
}

/** Loads a matrix (or a label vector, as n × 1) from an IDX, `.npy` or CSV file. */
export async function loadRows(path: string): Promise<LoadedRows> {
  let bytes: Uint8Array;
  try {
    const b = await readFile(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw unreadable(path, `cannot read file (${String((e as { code?: unknown }).code ?? 'EIO')})`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = new Uint8Array(gunzipSync(bytes));
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
