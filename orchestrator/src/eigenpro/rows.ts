/**
 * Row helpers shared by the EigenPro 2 and EigenPro 3/4 training activities: copying training
 * rows into arrays for the workers, one-hot targets, the centers' layout.
 */
import { epochOrder, type NdArray } from '@gramfleet/core';

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

/** One-hot rows (n × c) of class labels. */
export function oneHotOf(labels: Int32Array, c: number): Float64Array {
  const out = new Float64Array(labels.length * c);
  for (let i = 0; i < labels.length; i++) out[i * c + (labels[i] as number)] = 1;
  return out;
}

/**
 * Where EigenPro 2 keeps its centers (the training rows) among the shards: in the order the
 * first epoch visits them, dealt round robin — shard j holds epoch 1's rows j, j + P, j + 2P, …
 * (P shards). Every batch of epoch 1 is then one contiguous run of positions in each shard, and
 * the rows of the earlier batches are the positions before it, so a worker's kernel-row cache
 * finds a batch row's mirror entries K(x_l, x_i) in contiguous stretches of the rows it already
 * holds (workers/src/kernel-cache.ts). `perm[q]` is the row at position q, `pos[i]` the position
 * of row i; shard j is positions [ranges[j].start, ranges[j].end).
 */
export interface CenterLayout {
  readonly perm: Int32Array;
  readonly pos: Int32Array;
  readonly ranges: readonly { readonly start: number; readonly end: number }[];
}

/** The {@link CenterLayout} of n rows over `shards` shards for the job's seed. */
export function centerLayout(n: number, seed: number, shards: number): CenterLayout {
  const order = epochOrder(n, seed, 0);
  const ranges: { start: number; end: number }[] = [];
  let start = 0;
  for (let j = 0; j < shards; j++) {
    const size = Math.max(0, Math.ceil((n - j) / shards));
    ranges.push({ start, end: start + size });
    start += size;
  }
  const perm = new Int32Array(n),
    pos = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const q = (ranges[k % shards] as { start: number }).start + Math.floor(k / shards);
    perm[q] = order[k] as number;
    pos[order[k] as number] = q;
  }
  return { perm, pos, ranges };
}
