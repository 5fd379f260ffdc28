/**
 * Graphs as CSR adjacency matrices: validation (with typed errors that name the field
 * and the bound), canonicalisation, construction from triplets, symmetrisation, and
 * deterministic generators for scale tests. Pure: no I/O, no Node built-ins.
 */
import type { CsrArrays } from './array';
import { GramfleetError } from './errors';

/** Options of {@link validateGraph}. */
export interface ValidateGraphOptions {
  /**
   * Memory budget in bytes for holding the graph (see {@link csrBytes}).
   * @default unlimited
   */
  readonly maxBytes?: number;
  /**
   * Name of the field in error messages; errors name `<field>.shape`, `<field>.indptr`, …
   * @default 'graph'
   */
  readonly field?: string;
}

/** What {@link validateGraph} learned about a valid graph. */
export interface GraphSummary {
  /** Number of nodes (rows = columns). */
  readonly nodes: number;
  /** Stored non-zeros (each undirected edge counts twice, a self loop once). */
  readonly nnz: number;
  /** Bytes needed to hold the CSR arrays, as {@link csrBytes} computes. */
  readonly bytes: number;
}

/** How duplicate (row, column) entries are combined. */
export type DuplicatePolicy = 'sum' | 'max';

/** Options of {@link csrFromTriplets}. */
export interface CsrFromTripletsOptions {
  /**
   * How to combine duplicate entries. `'sum'` matches scipy's `sum_duplicates`.
   * @default 'sum'
   */
  readonly duplicates?: DuplicatePolicy;
  /**
   * Drop entries with row === column.
   * @default false
   */
  readonly dropSelfLoops?: boolean;
}

/** How {@link symmetrise} combines `A[i,j]` and `A[j,i]`. */
export type SymmetriseMode = 'max' | 'sum' | 'mean';

const MAX_INDEX = 2147483647;

/**
 * Bytes needed to hold an `n`-node CSR graph with `nnz` stored entries:
 * int32 `indptr` (n+1), int32 `indices` (nnz) and float64 `data` (nnz).
 */
export function csrBytes(n: number, nnz: number): number {
  return 4 * (n + 1) + 12 * nnz;
}

function fail(
  code:
    | 'INPUT_INVALID'
    | 'INPUT_OUT_OF_RANGE'
    | 'INPUT_SHAPE_MISMATCH'
    | 'INPUT_NOT_SQUARE'
    | 'INPUT_ASYMMETRIC'
    | 'INPUT_NEGATIVE_WEIGHT'
    | 'INPUT_NOT_FINITE'
    | 'INPUT_TOO_LARGE',
  field: string,
  message: string,
  details: Record<string, unknown>,
): GramfleetError {
  return new GramfleetError(code, `${field} ${message}`, { field, ...details });
}

/** Row of stored entry `k` (binary search in `indptr`). */
function rowOf(indptr: Int32Array, k: number): number {
  let lo = 0;
  let hi = indptr.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((indptr[mid] ?? 0) <= k) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Checks that a CSR matrix is a usable graph adjacency matrix and throws a
 * {@link GramfleetError} naming the field and the bound at the first violation:
 *
 * - `INPUT_NOT_SQUARE` — `<field>.shape` is not n×n;
 * - `INPUT_OUT_OF_RANGE` — an empty graph (no nodes or no stored edges), a column index
 *   outside `[0, n)`, or a dimension beyond int32;
 * - `INPUT_SHAPE_MISMATCH` — array lengths disagree with `shape` / `indptr[n]`;
 * - `INPUT_INVALID` — `indptr` does not start at 0 or decreases, or a row's indices are
 *   not strictly increasing (use {@link canonicaliseCsr} first);
 * - `INPUT_TOO_LARGE` — {@link csrBytes} exceeds `maxBytes` (the message gives both);
 * - `INPUT_NOT_FINITE` / `INPUT_NEGATIVE_WEIGHT` — a weight is NaN/±Inf or below 0;
 * - `INPUT_ASYMMETRIC` — `A[i,j] !== A[j,i]` (values included) for the first such (i, j)
 *   in row-major order.
 *
 * Cost: O(nnz log maxDegree) time, O(1) extra memory.
 */
export function validateGraph(csr: CsrArrays, opts: ValidateGraphOptions = {}): GraphSummary {
  const f = opts.field ?? 'graph';
  const { shape, indptr, indices, data } = csr;
  const [rows, cols] = shape;
  for (const [k, d] of [
    [0, rows],
    [1, cols],
  ] as const) {
    if (!Number.isInteger(d) || d < 0 || d > MAX_INDEX) {
      throw fail('INPUT_OUT_OF_RANGE', `${f}.shape`, `[${k}] must be an integer in [0, ${MAX_INDEX}], got ${String(d)}`, {
        bound: `[0, ${MAX_INDEX}]`,
        value: d,
      });
    }
  }
  if (rows !== cols) {
    throw fail('INPUT_NOT_SQUARE', `${f}.shape`, `must be square (n×n), got ${rows}×${cols}`, { bound: 'rows === cols', value: [rows, cols] });
  }
  const n = rows;
  if (n === 0) throw fail('INPUT_OUT_OF_RANGE', `${f}.shape`, 'must have at least 1 node, got 0×0 (empty graph)', { bound: 'n >= 1', value: [0, 0] });
  if (indptr.length !== n + 1) {
    throw fail('INPUT_SHAPE_MISMATCH', `${f}.indptr`, `must have length n+1 = ${n + 1}, got ${indptr.length}`, {
      bound: `length ${n + 1}`,
      value: indptr.length,
    });
  }
  if (indptr[0] !== 0) throw fail('INPUT_INVALID', `${f}.indptr`, `[0] must be 0, got ${String(indptr[0])}`, { bound: 'indptr[0] === 0', value: indptr[0] });
  const nnz = indptr[n] ?? 0;
  if (indices.length !== nnz) {
    throw fail('INPUT_SHAPE_MISMATCH', `${f}.indices`, `must have length indptr[n] = ${nnz}, got ${indices.length}`, {
      bound: `length ${nnz}`,
      value: indices.length,
    });
  }
  if (data.length !== nnz) {
    throw fail('INPUT_SHAPE_MISMATCH', `${f}.data`, `must have length indptr[n] = ${nnz}, got ${data.length}`, { bound: `length ${nnz}`, value: data.length });
  }
  const bytes = csrBytes(n, nnz);
  if (opts.maxBytes !== undefined && bytes > opts.maxBytes) {
    throw fail('INPUT_TOO_LARGE', f, `needs ${bytes} bytes (${n} nodes, ${nnz} stored non-zeros) but the memory budget maxBytes is ${opts.maxBytes} bytes`, {
      bound: `bytes <= ${opts.maxBytes}`,
      value: bytes,
      needed: bytes,
      budget: opts.maxBytes,
      nodes: n,
      nnz,
    });
  }
  if (nnz === 0)
    throw fail('INPUT_OUT_OF_RANGE', `${f}.data`, `must hold at least 1 edge, got 0 stored non-zeros (empty graph with ${n} nodes)`, {
      bound: 'nnz >= 1',
      value: 0,
    });
  for (let i = 0; i < n; i++) {
    const a = indptr[i] ?? 0;
    const b = indptr[i + 1] ?? 0;
    if (b < a)
      throw fail('INPUT_INVALID', `${f}.indptr`, `must be non-decreasing, got indptr[${i}] = ${a} > indptr[${i + 1}] = ${b}`, {
        bound: 'non-decreasing',
        row: i,
        value: [a, b],
      });
  }
  for (let i = 0; i < n; i++) {
    const a = indptr[i] ?? 0;
    const b = indptr[i + 1] ?? 0;
    let prev = -1;
    for (let k = a; k < b; k++) {
      const j = indices[k] ?? -1;
      if (j < 0 || j >= n)
        throw fail('INPUT_OUT_OF_RANGE', `${f}.indices`, `must be in [0, ${n}), got ${j} in row ${i}`, { bound: `[0, ${n})`, row: i, value: j });
      if (j <= prev) {
        throw fail(
          'INPUT_INVALID',
          `${f}.indices`,
          `must be strictly increasing within each row (sorted, no duplicates; see canonicaliseCsr), got ${prev} then ${j} in row ${i}`,
          { bound: 'strictly increasing per row', row: i, value: [prev, j] },
        );
      }
      prev = j;
    }
  }
  for (let k = 0; k < nnz; k++) {
    const v = data[k] ?? 0;
    if (!Number.isFinite(v)) {
      const i = rowOf(indptr, k);
      throw fail('INPUT_NOT_FINITE', `${f}.data`, `must be finite, got ${v} at (${i}, ${indices[k] ?? -1})`, {
        bound: 'finite',
        row: i,
        col: indices[k],
        value: String(v),
      });
    }
    if (v < 0) {
      const i = rowOf(indptr, k);
      throw fail('INPUT_NEGATIVE_WEIGHT', `${f}.data`, `must be >= 0, got ${v} at (${i}, ${indices[k] ?? -1})`, {
        bound: '>= 0',
        row: i,
        col: indices[k],
        value: v,
      });
    }
  }
  if (!symmetricFast(n, indptr, indices, data)) throwFirstAsymmetry(f, n, indptr, indices, data);
  return { nodes: n, nnz, bytes };
}

/**
 * Whether a CSR with sorted rows is symmetric, in one pass: rows are visited in order, and the
 * mirror (j, i) of each upper entry (i, j) must be the next unmatched entry of row j (row j's
 * lower entries are met in column order as rows i < j are visited). Any asymmetry stops a
 * cursor, so this never answers true for an asymmetric matrix; the exact first offender is then
 * found by {@link throwFirstAsymmetry}.
 */
function symmetricFast(n: number, indptr: Int32Array, indices: Int32Array, data: Float64Array): boolean {
  const cursor = indptr.slice(0, n);
  for (let i = 0; i < n; i++) {
    const b = indptr[i + 1] ?? 0;
    let k = cursor[i] ?? 0;
    // Every lower entry of row i was matched by its mirror (they come first in a sorted row).
    if (k < b && (indices[k] ?? 0) < i) return false;
    if (k < b && indices[k] === i) k++;
    for (; k < b; k++) {
      const j = indices[k] ?? 0;
      const c = cursor[j] ?? 0;
      if (c >= (indptr[j + 1] ?? 0) || indices[c] !== i || data[c] !== data[k]) return false;
      cursor[j] = c + 1;
    }
  }
  return true;
}

/** Throws INPUT_ASYMMETRIC naming the first (i, j), in row order, with A[i,j] !== A[j,i]. */
function throwFirstAsymmetry(f: string, n: number, indptr: Int32Array, indices: Int32Array, data: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const b = indptr[i + 1] ?? 0;
    for (let k = indptr[i] ?? 0; k < b; k++) {
      const j = indices[k] ?? 0;
      const v = data[k] ?? 0;
      if (j === i) continue;
      // binary search i in row j
      let lo = indptr[j] ?? 0;
      let hi = (indptr[j + 1] ?? 0) - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const c = indices[mid] ?? 0;
        if (c === i) {
          found = mid;
          break;
        }
        if (c < i) lo = mid + 1;
        else hi = mid - 1;
      }
      const w = found < 0 ? 0 : (data[found] ?? 0);
      if (w !== v) {
        throw fail(
          'INPUT_ASYMMETRIC',
          f,
          `must be symmetric (A[i,j] === A[j,i]), got A[${i},${j}] = ${v} but A[${j},${i}] = ${found < 0 ? '0 (not stored)' : String(w)}`,
          { bound: 'A[i,j] === A[j,i]', row: i, col: j, value: v, transposed: w },
        );
      }
    }
  }
}

/**
 * Stable sort of `cols[a..b)` ascending, moving `vals` along (when given). Rows that are
 * already sorted cost one scan.
 */
function sortRow(cols: Int32Array, vals: Float64Array | undefined, a: number, b: number): void {
  let sorted = true;
  for (let k = a + 1; k < b; k++)
    if ((cols[k] ?? 0) < (cols[k - 1] ?? 0)) {
      sorted = false;
      break;
    }
  if (sorted) return;
  if (vals === undefined) {
    cols.subarray(a, b).sort();
    return;
  }
  if (b - a <= 32) {
    for (let k = a + 1; k < b; k++) {
      const c = cols[k] ?? 0;
      const v = vals[k] ?? 0;
      let q = k - 1;
      while (q >= a && (cols[q] ?? 0) > c) {
        cols[q + 1] = cols[q] ?? 0;
        vals[q + 1] = vals[q] ?? 0;
        q--;
      }
      cols[q + 1] = c;
      vals[q + 1] = v;
    }
    return;
  }
  const order = Array.from({ length: b - a }, (_, i) => a + i).sort((x, y) => (cols[x] ?? 0) - (cols[y] ?? 0));
  const c2 = order.map((k) => cols[k] ?? 0);
  const v2 = order.map((k) => vals[k] ?? 0);
  cols.set(c2, a);
  vals.set(v2, a);
}

/**
 * Builds a canonical CSR matrix (rows sorted, duplicates combined) from coordinate
 * triplets. `vals` omitted means every entry is 1. A counting sort by row, then a stable
 * sort within each row: O(nnz log maxDegree + n).
 * Throws `INPUT_SHAPE_MISMATCH` if the arrays differ in length and `INPUT_OUT_OF_RANGE`
 * for an index outside the shape.
 */
export function csrFromTriplets(
  shape: readonly [number, number],
  rowIdx: Int32Array,
  colIdx: Int32Array,
  vals?: Float64Array,
  opts: CsrFromTripletsOptions = {},
): CsrArrays {
  const [nr, nc] = shape;
  const m = rowIdx.length;
  if (colIdx.length !== m || (vals !== undefined && vals.length !== m)) {
    throw new GramfleetError(
      'INPUT_SHAPE_MISMATCH',
      `triplets: rows, cols and vals must have equal lengths, got ${m}, ${colIdx.length}, ${vals?.length ?? m}`,
      { field: 'triplets' },
    );
  }
  const drop = opts.dropSelfLoops === true;
  // Counting sort by row (one scatter pass), then sort each row's columns locally: far
  // fewer random memory accesses than two global counting sorts on large random graphs.
  const rowPtr = new Int32Array(nr + 1);
  for (let k = 0; k < m; k++) {
    const r = rowIdx[k] ?? -1;
    const c = colIdx[k] ?? -1;
    if (r < 0 || r >= nr)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `triplets.rows[${k}] must be in [0, ${nr}), got ${r}`, {
        field: 'triplets.rows',
        bound: `[0, ${nr})`,
        value: r,
      });
    if (c < 0 || c >= nc)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `triplets.cols[${k}] must be in [0, ${nc}), got ${c}`, {
        field: 'triplets.cols',
        bound: `[0, ${nc})`,
        value: c,
      });
    if (drop && r === c) continue;
    rowPtr[r + 1] = (rowPtr[r + 1] ?? 0) + 1;
  }
  for (let r = 0; r < nr; r++) rowPtr[r + 1] = (rowPtr[r + 1] ?? 0) + (rowPtr[r] ?? 0);
  const kept = rowPtr[nr] ?? 0;
  const fill = rowPtr.slice(0, nr);
  const sortedCol = new Int32Array(kept);
  const sortedVal = new Float64Array(kept);
  if (vals === undefined) sortedVal.fill(1);
  for (let k = 0; k < m; k++) {
    const r = rowIdx[k] ?? 0;
    const c = colIdx[k] ?? 0;
    if (drop && r === c) continue;
    const p = fill[r] ?? 0;
    sortedCol[p] = c;
    if (vals !== undefined) sortedVal[p] = vals[k] ?? 0;
    fill[r] = p + 1;
  }
  for (let r = 0; r < nr; r++) sortRow(sortedCol, vals === undefined ? undefined : sortedVal, rowPtr[r] ?? 0, rowPtr[r + 1] ?? 0);
  // Merge duplicates in place.
  const useMax = opts.duplicates === 'max';
  const indptr = new Int32Array(nr + 1);
  let w = 0;
  for (let r = 0; r < nr; r++) {
    const b = rowPtr[r + 1] ?? 0;
    const rowStart = w;
    for (let k = rowPtr[r] ?? 0; k < b; k++) {
      const c = sortedCol[k] ?? 0;
      const v = sortedVal[k] ?? 0;
      if (w > rowStart && sortedCol[w - 1] === c) {
        const old = sortedVal[w - 1] ?? 0;
        sortedVal[w - 1] = useMax ? (v > old || Number.isNaN(v) ? v : old) : old + v;
      } else {
        sortedCol[w] = c;
        sortedVal[w] = v;
        w++;
      }
    }
    indptr[r + 1] = w;
  }
  return {
    shape: [nr, nc],
    indptr,
    indices: w === kept ? sortedCol : sortedCol.slice(0, w),
    data: w === kept ? sortedVal : sortedVal.slice(0, w),
  };
}

/** Expands CSR row pointers into one row index per stored entry. */
function expandRows(indptr: Int32Array, nnz: number): Int32Array {
  const rows = new Int32Array(nnz);
  for (let i = 0; i + 1 < indptr.length; i++) rows.fill(i, indptr[i] ?? 0, indptr[i + 1] ?? 0);
  return rows;
}

/**
 * Sorts each row's column indices and combines duplicate entries (default: sum, as
 * scipy's `sum_duplicates`). Returns a new matrix; the input is not modified.
 */
export function canonicaliseCsr(csr: CsrArrays, duplicates: DuplicatePolicy = 'sum'): CsrArrays {
  const nnz = csr.indptr[csr.indptr.length - 1] ?? 0;
  return csrFromTriplets(csr.shape, expandRows(csr.indptr, nnz), csr.indices.subarray(0, nnz), csr.data.subarray(0, nnz), { duplicates });
}

/**
 * Makes a square matrix symmetric: `'max'` → max(A, Aᵀ) (the union of edges for an
 * unweighted graph), `'sum'` → A + Aᵀ, `'mean'` → (A + Aᵀ)/2. Throws `INPUT_NOT_SQUARE`.
 */
export function symmetrise(csr: CsrArrays, mode: SymmetriseMode = 'max'): CsrArrays {
  const [n, nc] = csr.shape;
  if (n !== nc)
    throw new GramfleetError('INPUT_NOT_SQUARE', `graph.shape must be square (n×n), got ${n}×${nc}`, {
      field: 'graph.shape',
      bound: 'rows === cols',
      value: [n, nc],
    });
  const nnz = csr.indptr[n] ?? 0;
  const rows = new Int32Array(2 * nnz);
  const cols = new Int32Array(2 * nnz);
  const vals = new Float64Array(2 * nnz);
  rows.set(expandRows(csr.indptr, nnz), 0);
  cols.set(csr.indices.subarray(0, nnz), 0);
  vals.set(csr.data.subarray(0, nnz), 0);
  rows.set(cols.subarray(0, nnz), nnz);
  cols.set(rows.subarray(0, nnz), nnz);
  vals.set(csr.data.subarray(0, nnz), nnz);
  if (mode === 'max') return csrFromTriplets([n, n], rows, cols, vals, { duplicates: 'max' });
  // For 'sum', a diagonal entry appears twice and is doubled, as in A + Aᵀ.
  const out = csrFromTriplets([n, n], rows, cols, vals, { duplicates: 'sum' });
  if (mode === 'mean') for (let k = 0; k < out.data.length; k++) out.data[k] = (out.data[k] ?? 0) / 2;
  return out;
}

// ---------------------------------------------------------------------------------------
// Deterministic generators

/** xoshiro128** seeded through splitmix32; deterministic for a given seed. */
class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = (seed >>> 0) ^ Math.imul(Math.floor(seed / 4294967296) >>> 0, 0x9e3779b1);
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** Next uniform 32-bit unsigned integer. */
  u32(): number {
    const r = Math.imul(this.b, 5);
    const result = Math.imul((r << 7) | (r >>> 25), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = (this.d << 11) | (this.d >>> 21);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** Uniform integer in [0, k). */
  below(k: number): number {
    return Math.floor(this.float() * k);
  }
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `seed must be an integer in [0, 2^53), got ${String(seed)}`, {
      field: 'seed',
      bound: '[0, 2^53)',
      value: seed,
    });
  }
}

function checkInt(field: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `${field} must be an integer in [${lo}, ${hi}], got ${String(v)}`, {
      field,
      bound: `[${lo}, ${hi}]`,
      value: v,
    });
  }
}

/** CSR of an undirected simple graph from an edge list in which no edge appears twice. */
function undirected(n: number, us: Int32Array, vs: Int32Array, e: number): CsrArrays {
  const rows = new Int32Array(2 * e);
  const cols = new Int32Array(2 * e);
  rows.set(us.subarray(0, e), 0);
  rows.set(vs.subarray(0, e), e);
  cols.set(vs.subarray(0, e), 0);
  cols.set(us.subarray(0, e), e);
  return csrFromTriplets([n, n], rows, cols, undefined, { duplicates: 'max', dropSelfLoops: true });
}

/**
 * Barabási–Albert preferential-attachment graph (as networkx's `barabasi_albert_graph`):
 * a star on nodes 0..m, then each new node links to `m` distinct existing nodes chosen
 * with probability proportional to degree. `m + (n - m - 1)·m` undirected edges;
 * symmetric, unweighted (data 1), no self loops; deterministic for a seed.
 */
export function barabasiAlbert(n: number, m: number, seed: number): CsrArrays {
  checkInt('n', n, 2, MAX_INDEX);
  checkInt('m', m, 1, n - 1);
  checkSeed(seed);
  const rng = new Rng(seed);
  const e = m + (n - m - 1) * m;
  if (2 * e > MAX_INDEX)
    throw new GramfleetError('INPUT_TOO_LARGE', `barabasiAlbert needs ${2 * e} stored entries, more than int32 indices allow (${MAX_INDEX})`, {
      field: 'n',
      value: n,
    });
  const us = new Int32Array(e);
  const vs = new Int32Array(e);
  const repeated = new Int32Array(2 * e);
  let rlen = 0;
  let k = 0;
  for (let j = 1; j <= m; j++) {
    us[k] = 0;
    vs[k] = j;
    k++;
    repeated[rlen++] = 0;
    repeated[rlen++] = j;
  }
  const chosen = new Int32Array(m);
  for (let v = m + 1; v < n; v++) {
    let c = 0;
    while (c < m) {
      const t = repeated[rng.below(rlen)] ?? 0;
      let dup = false;
      for (let q = 0; q < c; q++)
        if (chosen[q] === t) {
          dup = true;
          break;
        }
      if (!dup) chosen[c++] = t;
    }
    for (let q = 0; q < m; q++) {
      const t = chosen[q] ?? 0;
      us[k] = v;
      vs[k] = t;
      k++;
      repeated[rlen++] = t;
      repeated[rlen++] = v;
    }
  }
  return undirected(n, us, vs, k);
}

/**
 * R-MAT graph (Graph500 parameters a=0.57, b=0.19, c=0.19, d=0.05, quantised to 1/65536) on `2^scale` nodes
 * from `edgeFactor · 2^scale` sampled edges, with node ids randomly permuted. Self loops
 * are dropped and duplicate edges merged, so it has at most that many undirected edges.
 * Symmetric, unweighted (data 1); deterministic for a seed.
 */
export function rmat(scale: number, edgeFactor: number, seed: number): CsrArrays {
  checkInt('scale', scale, 1, 30);
  checkInt('edgeFactor', edgeFactor, 1, 1 << 20);
  checkSeed(seed);
  const n = 2 ** scale;
  const e = edgeFactor * n;
  if (2 * e > MAX_INDEX)
    throw new GramfleetError('INPUT_TOO_LARGE', `rmat needs up to ${2 * e} stored entries, more than int32 indices allow (${MAX_INDEX})`, {
      field: 'edgeFactor',
      value: edgeFactor,
    });
  const rng = new Rng(seed);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = perm[i] ?? 0;
    perm[i] = perm[j] ?? 0;
    perm[j] = t;
  }
  // Each level draws 16 random bits (two levels per 32-bit draw): probabilities in 1/65536.
  // A table maps the 16 bits to the quadrant (bit 1: u half, bit 0: v half), branch-free.
  const a = Math.round(0.57 * 65536);
  const ab = Math.round(0.76 * 65536);
  const abc = Math.round(0.95 * 65536);
  const quad = new Uint8Array(65536);
  for (let r = 0; r < 65536; r++) quad[r] = r < a ? 0 : r < ab ? 1 : r < abc ? 2 : 3;
  const us = new Int32Array(e);
  const vs = new Int32Array(e);
  const odd = scale & 1;
  for (let k = 0; k < e; k++) {
    let u = 0;
    let v = 0;
    for (let bit = odd; bit < scale; bit += 2) {
      const word = rng.u32();
      const q0 = quad[word & 0xffff] ?? 0;
      const q1 = quad[word >>> 16] ?? 0;
      u = (u << 2) | ((q0 >> 1) << 1) | (q1 >> 1);
      v = (v << 2) | ((q0 & 1) << 1) | (q1 & 1);
    }
    if (odd === 1) {
      const q = quad[rng.u32() & 0xffff] ?? 0;
      u = (u << 1) | (q >> 1);
      v = (v << 1) | (q & 1);
    }
    us[k] = perm[u] ?? 0;
    vs[k] = perm[v] ?? 0;
  }
  return undirected(n, us, vs, e);
}

/**
 * The `nx × ny` 4-neighbour lattice; node `(x, y)` has id `y·nx + x`. Symmetric,
 * unweighted (data 1), no self loops.
 */
export function gridGraph(nx: number, ny: number): CsrArrays {
  checkInt('nx', nx, 1, MAX_INDEX);
  checkInt('ny', ny, 1, MAX_INDEX);
  const n = nx * ny;
  const nnz = 2 * ((nx - 1) * ny + nx * (ny - 1));
  if (n > MAX_INDEX || nnz > MAX_INDEX)
    throw new GramfleetError('INPUT_TOO_LARGE', `gridGraph(${nx}, ${ny}) exceeds int32 indices (${MAX_INDEX})`, { field: 'nx', value: [nx, ny] });
  const indptr = new Int32Array(n + 1);
  const indices = new Int32Array(nnz);
  let k = 0;
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      const id = y * nx + x;
      if (y > 0) indices[k++] = id - nx;
      if (x > 0) indices[k++] = id - 1;
      if (x + 1 < nx) indices[k++] = id + 1;
      if (y + 1 < ny) indices[k++] = id + nx;
      indptr[id + 1] = k;
    }
  }
  return { shape: [n, n], indptr, indices, data: new Float64Array(nnz).fill(1) };
}
