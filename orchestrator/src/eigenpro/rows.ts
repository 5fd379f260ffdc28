/**
 * Row helpers shared by the EigenPro 2 and EigenPro 3/4 training activities: copying training
 * rows into arrays for the workers, batch tags for shard ids, one-hot targets.
 */
import type { BatchTag, NdArray } from '@gramfleet/core';

/** The given rows of the row-major n × d matrix `x`, as an array of `dtype`. */
export function rowsOf(x: Float64Array, d: number, rows: ArrayLike<number>, dtype: 'f64' | 'f32'): NdArray {
  const out = dtype === 'f32' ? new Float32Array(rows.length * d) : new Float64Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as number;
    out.set(x.subarray(r * d, (r + 1) * d), i * d);
  }
  return { dtype, shape: [rows.length, d], data: out } as NdArray;
}

/** Rows `start` (inclusive) to `end` (exclusive) of `x`, copied as an array of `dtype`. */
export function rangeRows(x: Float64Array, d: number, start: number, end: number, dtype: 'f64' | 'f32'): NdArray {
  const src = x.subarray(start * d, end * d);
  const data = dtype === 'f32' ? Float32Array.from(src) : Float64Array.from(src);
  return { dtype, shape: [end - start, d], data } as NdArray;
}

/** Shard-id prefix of a batch: `e<epoch>b<batch>`, zero-padded so ids sort. */
export function tagId(t: BatchTag): string {
  return `e${String(t.epoch).padStart(4, '0')}b${String(t.batch).padStart(6, '0')}`;
}

/** One-hot rows (n × c) of class labels. */
export function oneHotOf(labels: Int32Array, c: number): Float64Array {
  const out = new Float64Array(labels.length * c);
  for (let i = 0; i < labels.length; i++) out[i * c + (labels[i] as number)] = 1;
  return out;
}
