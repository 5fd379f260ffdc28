/**
 * Shared input checks and small dense helpers for the factorisation and eigen ops
 * (cholesky, triangular-solve, qr, eigh, eigh-topk, eig-small, mode-product). Every check
 * throws a {@link GramfleetError} whose details name the argument.
 */
import { ndarray, type NdArray } from '../array';
import { GramfleetError, invalidField } from '../errors';

/** A validated dense f64 matrix view of an input. */
export interface MatrixView {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** The input at `index`, which must exist. Throws `INPUT_INVALID` naming `name`. */
export function inputAt(op: string, inputs: readonly NdArray[], index: number, name: string): NdArray {
  const a = inputs[index];
  if (a === undefined) throw new GramfleetError('INPUT_INVALID', `${op}: input ${index} (${name}) is missing`, { op, argument: name, index });
  return a;
}

/** Checks the number of inputs. Throws `INPUT_INVALID`. */
export function expectInputCount(op: string, inputs: readonly NdArray[], min: number, max: number, names: string): void {
  if (inputs.length < min || inputs.length > max) {
    const want = min === max ? `${min}` : `${min}..${max}`;
    throw new GramfleetError('INPUT_INVALID', `${op}: expects ${want} inputs (${names}), got ${inputs.length}`, { op, expected: want, got: inputs.length });
  }
}

/** Checks dtype f64 and every value finite. Throws `INPUT_INVALID` or `INPUT_NOT_FINITE` naming `name`. */
export function requireFiniteF64(op: string, a: NdArray, name: string): Float64Array {
  if (a.dtype !== 'f64' || !(a.data instanceof Float64Array)) {
    throw new GramfleetError('INPUT_INVALID', `${op}: ${name} must have dtype f64, got ${a.dtype}`, { op, argument: name, dtype: a.dtype });
  }
  const d = a.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i] as number;
    if (v - v !== 0) {
      throw new GramfleetError('INPUT_NOT_FINITE', `${op}: ${name} must be finite, element ${i} is ${String(v)}`, {
        op,
        argument: name,
        index: i,
        value: String(v),
      });
    }
  }
  return d;
}

/** A rank-2 f64 finite matrix. Throws `INPUT_SHAPE_MISMATCH` (wrong rank) or the checks of {@link requireFiniteF64}. */
export function matrixInput(op: string, a: NdArray, name: string): MatrixView {
  if (a.shape.length !== 2) {
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${op}: ${name} must be a matrix (rank 2), got shape [${a.shape.join(',')}]`, {
      op,
      argument: name,
      shape: [...a.shape],
    });
  }
  const data = requireFiniteF64(op, a, name);
  return { rows: a.shape[0] as number, cols: a.shape[1] as number, data };
}

/** A square rank-2 f64 finite matrix. Throws `INPUT_NOT_SQUARE` naming `name`. */
export function squareInput(op: string, a: NdArray, name: string): MatrixView {
  const m = matrixInput(op, a, name);
  if (m.rows !== m.cols) {
    throw new GramfleetError('INPUT_NOT_SQUARE', `${op}: ${name} must be square, got shape [${m.rows},${m.cols}]`, {
      op,
      argument: name,
      shape: [m.rows, m.cols],
    });
  }
  return m;
}

/**
 * Checks |a_ij − a_ji| ≤ tol·max|a| for a square matrix. Throws `INPUT_ASYMMETRIC` naming
 * `name`, the first offending (i, j) and the bound.
 */
export function requireSymmetric(op: string, m: MatrixView, name: string, tol: number): void {
  const n = m.rows;
  const d = m.data;
  let amax = 0;
  for (let i = 0; i < d.length; i++) amax = Math.max(amax, Math.abs(d[i] as number));
  const bound = tol * amax;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const diff = Math.abs((d[i * n + j] as number) - (d[j * n + i] as number));
      if (diff > bound) {
        throw new GramfleetError(
          'INPUT_ASYMMETRIC',
          `${op}: ${name} must be symmetric within ${tol}·max|${name}|; |${name}[${i},${j}] − ${name}[${j},${i}]| = ${diff} > ${bound}`,
          { op, argument: name, i, j, difference: diff, bound },
        );
      }
    }
  }
}

/** An optional boolean attribute. Throws `INPUT_INVALID` naming `attrs.<field>`. */
export function boolAttr(raw: Record<string, unknown>, field: string, dflt: boolean): boolean {
  const v = raw[field];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw invalidField(`attrs.${field}`, 'a boolean', v);
  return v;
}

/** Attributes as a record (`undefined`/`null` become `{}`). Rejects unknown keys with `INPUT_INVALID`. */
export function attrRecord(op: string, raw: unknown, known: readonly string[]): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidField('attrs', 'an object', raw);
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!known.includes(k)) throw invalidField(`attrs.${k}`, `one of the ${op} attributes (${known.join(', ') || 'none'})`, k);
  }
  return r;
}

/** A row-major f64 matrix as an {@link NdArray}. */
export function matrix(rows: number, cols: number, data: Float64Array = new Float64Array(rows * cols)): NdArray<'f64'> {
  return ndarray('f64', [rows, cols], data);
}

/** A row-major f64 vector as an {@link NdArray}. */
export function vector(data: Float64Array): NdArray<'f64'> {
  return ndarray('f64', [data.length], data);
}

/** Frobenius norm. */
export function frobenius(d: ArrayLike<number>): number {
  let s = 0;
  let scale = 0;
  for (let i = 0; i < d.length; i++) scale = Math.max(scale, Math.abs(d[i] as number));
  if (scale === 0) return 0;
  for (let i = 0; i < d.length; i++) {
    const t = (d[i] as number) / scale;
    s += t * t;
  }
  return scale * Math.sqrt(s);
}

/** Error thrown when Cholesky meets a non-positive pivot (shared by the reference and every backend). */
export function notPositiveDefinite(op: string, argument: string, pivot: number, value: number): GramfleetError {
  return new GramfleetError('KERNEL_STATUS', `${op}: ${argument} is not positive definite: pivot ${pivot} is ${value} (must be > 0)`, {
    op,
    argument,
    reason: 'not-positive-definite',
    pivot,
    value,
  });
}

/** Error thrown when a triangular factor has a zero diagonal entry. */
export function singularTriangle(op: string, argument: string, row: number): GramfleetError {
  return new GramfleetError('KERNEL_STATUS', `${op}: ${argument} is singular: diagonal entry ${row} is 0`, { op, argument, reason: 'singular', row });
}

/** Error thrown when an iteration did not converge. */
export function noConvergence(op: string, detail: string, details: Record<string, unknown> = {}): GramfleetError {
  return new GramfleetError('KERNEL_STATUS', `${op}: did not converge (${detail})`, { op, reason: 'no-convergence', ...details });
}
