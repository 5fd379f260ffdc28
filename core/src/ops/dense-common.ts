/**
 * Shared checks of the dense and sparse kernel ops (gemm, gemv, gemm-batched, kernel-block,
 * csr-*): strided matrix views over flat inputs, dtype checks, optional integer attributes.
 * Every check throws a {@link GramfleetError} whose message and `details.argument` name the
 * argument and the bound it broke.
 */
import type { NdArray } from '../array';
import { GramfleetError, invalidField, outOfRange } from '../errors';
import { num } from '../validate';

/**
 * A strided row-major matrix view into a flat array: element (i, j) is
 * `data[offset + i·ld + j]` — the `(n, x, stride, offset)` convention of BLAS-like kernels,
 * so a shard can be a view rather than a copy.
 */
export interface StridedView {
  readonly rows: number;
  readonly cols: number;
  /** Index of element (0, 0) in `data`. */
  readonly offset: number;
  /** Leading dimension (elements between rows), ≥ max(1, cols). */
  readonly ld: number;
}

/** An optional integer attribute ≥ `min`, or `undefined`. Throws naming `attrs.<field>`. */
export function optInt(raw: Record<string, unknown>, field: string, min: number): number | undefined {
  const v = raw[field];
  if (v === undefined) return undefined;
  return num(`attrs.${field}`, v, { min, integer: true });
}

/** An optional finite number attribute with a default. */
export function numAttr(raw: Record<string, unknown>, field: string, dflt: number): number {
  const v = raw[field];
  return v === undefined ? dflt : num(`attrs.${field}`, v);
}

/** Checks the dtype of an input against the allowed ones. Throws `INPUT_INVALID` naming `name`. */
export function requireDtype(op: string, a: NdArray, name: string, allowed: readonly string[]): void {
  if (!allowed.includes(a.dtype)) {
    throw new GramfleetError('INPUT_INVALID', `${op}: ${name} must have dtype ${allowed.join(' or ')}, got ${a.dtype}`, {
      op,
      argument: name,
      dtype: a.dtype,
      allowed: [...allowed],
    });
  }
}

/** Shape mismatch error naming the argument and what was expected. */
export function shapeMismatch(op: string, name: string, expected: string, got: readonly number[]): GramfleetError {
  return new GramfleetError('INPUT_SHAPE_MISMATCH', `${op}: ${name} must have shape ${expected}, got [${got.join(',')}]`, {
    op,
    argument: name,
    expected,
    shape: [...got],
  });
}

/** Checks a rank-2 shape [rows, cols]. */
export function requireShape2(op: string, a: NdArray, name: string, rows: number, cols: number): void {
  if (a.shape.length !== 2 || a.shape[0] !== rows || a.shape[1] !== cols) throw shapeMismatch(op, name, `[${rows},${cols}]`, a.shape);
}

/** Arrays whose data was found finite and will not change (see {@link markFinite}). */
const knownFinite = new WeakSet<object>();

/**
 * Records that `a`'s data is finite and will never be written again, so {@link requireFinite}
 * skips it: for arrays a worker holds by content digest (its input cache), checked once and then
 * named by task after task. Only for data that really is immutable.
 */
export function markFinite(a: NdArray): void {
  knownFinite.add(a.data);
}

// One loop per element type, so each stays monomorphic (one loop over every typed array ran
// ~4× slower than these on f32 data).
function firstNonFiniteF32(d: Float32Array): number {
  for (let i = 0; i < d.length; i++) if ((d[i] as number) - (d[i] as number) !== 0) return i;
  return -1;
}
function firstNonFiniteF64(d: Float64Array): number {
  for (let i = 0; i < d.length; i++) if ((d[i] as number) - (d[i] as number) !== 0) return i;
  return -1;
}

/** Checks every element is finite. Throws `INPUT_NOT_FINITE` naming `name` and the index. */
export function requireFinite(op: string, a: NdArray, name: string): void {
  const d = a.data;
  if (knownFinite.has(d)) return;
  const i = d instanceof Float32Array ? firstNonFiniteF32(d) : d instanceof Float64Array ? firstNonFiniteF64(d) : -1;
  if (i >= 0) {
    const v = d[i] as number;
    throw new GramfleetError('INPUT_NOT_FINITE', `${op}: ${name} must be finite, element ${i} is ${String(v)}`, {
      op,
      argument: name,
      index: i,
      value: String(v),
    });
  }
}

/**
 * Builds and bounds-checks a view of `rows`×`cols` at `offset` with leading dimension `ld`
 * (default `cols`) over `a`'s flat data. Throws `INPUT_OUT_OF_RANGE` naming `name`.
 */
export function stridedView(op: string, a: NdArray, name: string, rows: number, cols: number, offset = 0, ld?: number): StridedView {
  const l = ld ?? Math.max(1, cols);
  if (l < Math.max(1, cols))
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `${op}: leading dimension of ${name} must be >= ${Math.max(1, cols)}, got ${l}`, {
      op,
      argument: name,
      field: 'ld',
      bound: `>= ${Math.max(1, cols)}`,
      value: l,
    });
  const need = rows > 0 && cols > 0 ? offset + (rows - 1) * l + cols : offset;
  if (need > a.data.length) {
    throw new GramfleetError(
      'INPUT_OUT_OF_RANGE',
      `${op}: ${name} view (offset ${offset}, ld ${l}, ${rows}×${cols}) needs ${need} elements, ${name} has ${a.data.length}`,
      { op, argument: name, bound: `<= ${a.data.length}`, value: need },
    );
  }
  return { rows, cols, offset, ld: l };
}

/** Dimension of a rank-2 input, or a shape mismatch naming `name`. */
export function dim2(op: string, a: NdArray, name: string): [number, number] {
  if (a.shape.length !== 2) throw shapeMismatch(op, name, 'a matrix (rank 2)', a.shape);
  return [a.shape[0] as number, a.shape[1] as number];
}

/** A required positive attribute error helper (e.g. bandwidth). */
export function requirePositive(op: string, field: string, v: unknown): number {
  if (typeof v !== 'number') throw invalidField(`attrs.${field}`, 'a number', v);
  if (!Number.isFinite(v))
    throw new GramfleetError('INPUT_NOT_FINITE', `${op}: attrs.${field} must be finite, got ${String(v)}`, {
      op,
      argument: field,
      field: `attrs.${field}`,
      value: String(v),
    });
  if (!(v > 0)) {
    const e = outOfRange(`attrs.${field}`, '> 0', v);
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `${op}: ${e.message.replace(/^\[[A-Z_]+\] /, '')}`, { ...e.details, op, argument: field });
  }
  return v;
}

/** Checks CSR arrays: indptr i32 [m+1] from 0, non-decreasing, ending at nnz; indices i32 in [0, n). */
export function checkCsr(op: string, indptr: NdArray, indices: NdArray, data: NdArray, n: number, prefix = 'a'): number {
  requireDtype(op, indptr, `${prefix}.indptr`, ['i32']);
  requireDtype(op, indices, `${prefix}.indices`, ['i32']);
  requireDtype(op, data, `${prefix}.data`, ['f64']);
  if (indptr.shape.length !== 1 || indptr.data.length < 1) throw shapeMismatch(op, `${prefix}.indptr`, '[m+1] with m >= 0', indptr.shape);
  const nnz = indices.data.length;
  if (indices.shape.length !== 1) throw shapeMismatch(op, `${prefix}.indices`, '[nnz]', indices.shape);
  if (data.shape.length !== 1 || data.data.length !== nnz) throw shapeMismatch(op, `${prefix}.data`, `[${nnz}] (as many as ${prefix}.indices)`, data.shape);
  const ip = indptr.data as Int32Array;
  const m = ip.length - 1;
  if (ip[0] !== 0 || ip[m] !== nnz) {
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `${op}: ${prefix}.indptr must start at 0 and end at nnz = ${nnz}, got ${ip[0]} … ${ip[m]}`, {
      op,
      argument: `${prefix}.indptr`,
      bound: `indptr[0] = 0, indptr[m] = ${nnz}`,
    });
  }
  for (let i = 0; i < m; i++) {
    if ((ip[i + 1] as number) < (ip[i] as number)) {
      throw new GramfleetError(
        'INPUT_OUT_OF_RANGE',
        `${op}: ${prefix}.indptr must be non-decreasing; indptr[${i + 1}] = ${ip[i + 1]} < indptr[${i}] = ${ip[i]}`,
        { op, argument: `${prefix}.indptr`, index: i + 1 },
      );
    }
  }
  const ix = indices.data as Int32Array;
  for (let p = 0; p < nnz; p++) {
    const j = ix[p] as number;
    if (j < 0 || j >= n) {
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `${op}: ${prefix}.indices[${p}] = ${j} must be in [0, ${n})`, {
        op,
        argument: `${prefix}.indices`,
        index: p,
        bound: `[0, ${n})`,
        value: j,
      });
    }
  }
  return m;
}
