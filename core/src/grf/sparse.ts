/**
 * Small CSR helpers for graph random features: SpMV, SpMM with a dense row-major block,
 * transpose, stacking row shards, and building CSR from edge lists. All float64.
 */
import type { CsrArrays } from '../array';
import { GramfleetError } from '../errors';

/** y = A·x for a CSR matrix A (rows × cols) and a vector x of length cols. */
export function csrSpmv(a: CsrArrays, x: Float64Array): Float64Array {
  const [rows, cols] = a.shape;
  if (x.length !== cols)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `csrSpmv: x has ${x.length} entries, matrix has ${cols} columns`, { cols, x: x.length });
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let p = a.indptr[i] ?? 0; p < (a.indptr[i + 1] ?? 0); p++) s += (a.data[p] ?? 0) * (x[a.indices[p] ?? 0] ?? 0);
    y[i] = s;
  }
  return y;
}

/**
 * Y = A·X where X is a dense row-major block of `k` columns (cols × k); returns rows × k.
 * `out` may be passed to avoid an allocation (it must not alias X).
 */
export function csrSpmm(a: CsrArrays, x: Float64Array, k: number, out?: Float64Array): Float64Array {
  const [rows, cols] = a.shape;
  if (x.length !== cols * k)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `csrSpmm: block has ${x.length} entries, expected ${cols}×${k}`, { cols, k, x: x.length });
  const y = out ?? new Float64Array(rows * k);
  y.fill(0);
  for (let i = 0; i < rows; i++) {
    const yo = i * k;
    for (let p = a.indptr[i] ?? 0; p < (a.indptr[i + 1] ?? 0); p++) {
      const v = a.data[p] ?? 0;
      const xo = (a.indices[p] ?? 0) * k;
      for (let c = 0; c < k; c++) y[yo + c] = (y[yo + c] ?? 0) + v * (x[xo + c] ?? 0);
    }
  }
  return y;
}

/** The transpose of a CSR matrix (column indices of the result ascend in each row). */
export function csrTranspose(a: CsrArrays): CsrArrays {
  const [rows, cols] = a.shape;
  const nnz = a.indptr[rows] ?? 0;
  const indptr = new Int32Array(cols + 1);
  for (let p = 0; p < nnz; p++) {
    const j = a.indices[p] ?? 0;
    indptr[j + 1] = (indptr[j + 1] ?? 0) + 1;
  }
  for (let j = 0; j < cols; j++) indptr[j + 1] = (indptr[j + 1] ?? 0) + (indptr[j] ?? 0);
  const next = indptr.slice(0, cols);
  const indices = new Int32Array(nnz);
  const data = new Float64Array(nnz);
  for (let i = 0; i < rows; i++) {
    for (let p = a.indptr[i] ?? 0; p < (a.indptr[i + 1] ?? 0); p++) {
      const j = a.indices[p] ?? 0;
      const q = next[j] ?? 0;
      next[j] = q + 1;
      indices[q] = i;
      data[q] = a.data[p] ?? 0;
    }
  }
  return { shape: [cols, rows], indptr, indices, data };
}

/** The rows of several CSR shards stacked, as row pointers plus the shards' column and value runs in order (not yet joined). */
export interface CsrRowParts {
  readonly shape: [number, number];
  readonly indptr: Int32Array;
  readonly indices: readonly Int32Array[];
  readonly data: readonly Float64Array[];
}

/**
 * The stacked row pointers of row shards (in order) and views of each shard's column indices and
 * values: what {@link csrVstack} joins, and what a store can write part by part without joining.
 * Every shard must have the same number of columns.
 */
export function csrRowParts(shards: readonly CsrArrays[]): CsrRowParts {
  if (shards.length === 0) throw new GramfleetError('INPUT_INVALID', 'csrVstack needs at least one shard', {});
  const cols = shards[0]?.shape[1] ?? 0;
  let rows = 0;
  for (const s of shards) {
    if (s.shape[1] !== cols) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `shard has ${s.shape[1]} columns, expected ${cols}`, { cols, got: s.shape[1] });
    rows += s.shape[0];
  }
  const indptr = new Int32Array(rows + 1);
  const indices: Int32Array[] = [];
  const data: Float64Array[] = [];
  let r = 0;
  let q = 0;
  for (const s of shards) {
    const sn = s.indptr[s.shape[0]] ?? 0;
    const base = s.indptr[0] ?? 0;
    for (let i = 0; i < s.shape[0]; i++) indptr[r + i + 1] = q + (s.indptr[i + 1] ?? 0) - base;
    indices.push(s.indices.subarray(base, sn));
    data.push(s.data.subarray(base, sn));
    r += s.shape[0];
    q += sn - base;
  }
  return { shape: [rows, cols], indptr, indices, data };
}

/**
 * Stacks row shards (in order) into one CSR matrix; every shard must have the same number of
 * columns. Used to gather per-origin-range GRF outputs.
 */
export function csrVstack(shards: readonly CsrArrays[]): CsrArrays {
  const p = csrRowParts(shards);
  const nnz = p.indptr[p.shape[0]] ?? 0;
  const indices = new Int32Array(nnz);
  const data = new Float64Array(nnz);
  let q = 0;
  p.indices.forEach((ix, k) => {
    indices.set(ix, q);
    data.set(p.data[k] as Float64Array, q);
    q += ix.length;
  });
  return { shape: p.shape, indptr: p.indptr, indices, data };
}

/**
 * Builds a symmetric n×n CSR adjacency from undirected edges (i, j, weight), summing
 * duplicates and dropping self-loops; column indices ascend in each row.
 */
export function csrFromEdges(n: number, edges: readonly (readonly [number, number, number?])[]): CsrArrays {
  const rows: Map<number, number>[] = Array.from({ length: n }, () => new Map());
  for (const [i, j, w] of edges) {
    if (i === j) continue;
    if (!(i >= 0 && i < n && j >= 0 && j < n)) throw new GramfleetError('INPUT_OUT_OF_RANGE', `edge (${i}, ${j}) is outside 0..${n - 1}`, { i, j, n });
    const ri = rows[i];
    const rj = rows[j];
    if (ri === undefined || rj === undefined) continue;
    ri.set(j, (ri.get(j) ?? 0) + (w ?? 1));
    rj.set(i, (rj.get(i) ?? 0) + (w ?? 1));
  }
  const indptr = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) indptr[i + 1] = (indptr[i] ?? 0) + (rows[i]?.size ?? 0);
  const indices = new Int32Array(indptr[n] ?? 0);
  const data = new Float64Array(indptr[n] ?? 0);
  for (let i = 0; i < n; i++) {
    const keys = [...(rows[i]?.keys() ?? [])].sort((a, b) => a - b);
    let q = indptr[i] ?? 0;
    for (const j of keys) {
      indices[q] = j;
      data[q] = rows[i]?.get(j) ?? 0;
      q++;
    }
  }
  return { shape: [n, n], indptr, indices, data };
}

/** A CSR matrix with the same pattern as `a` and the given values. */
export function csrWithValues(a: CsrArrays, data: Float64Array): CsrArrays {
  if (data.length !== a.data.length)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `csrWithValues: ${data.length} values for ${a.data.length} stored entries`, {});
  return { shape: a.shape, indptr: a.indptr, indices: a.indices, data };
}
