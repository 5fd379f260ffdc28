/**
 * `triangular-solve`: solves op(T)·X = B for X, T triangular, with multiple right-hand sides.
 *
 * Inputs: `t` [n, n] f64 (only the triangle named by `lower` is read), `b` [n] or [n, k] f64.
 * Output: `x`, same shape as `b`. Attributes: `lower` (default true), `transpose` (solve with
 * Tᵀ, default false), `unitDiagonal` (default false). A zero diagonal entry raises
 * `KERNEL_STATUS` with `details.reason = 'singular'` and `details.row`.
 */
import { ndarray, type NdArray } from '../array';
import { GramfleetError } from '../errors';
import { attrRecord, boolAttr, expectInputCount, inputAt, requireFiniteF64, singularTriangle, squareInput } from './linalg-common';
import type { OpDef } from './types';

/** Validated attributes of `triangular-solve`. */
export interface TriangularSolveAttrs {
  /** T is lower triangular (else upper). @default true */
  readonly lower: boolean;
  /** Solve Tᵀ·X = B instead of T·X = B. @default false */
  readonly transpose: boolean;
  /** Take the diagonal of T as ones (it is not read). @default false */
  readonly unitDiagonal: boolean;
}

/** Wire name of the triangular-solve op. */
export const TRIANGULAR_SOLVE_OP_ID = 'triangular-solve';

/** Sizes of a validated triangular solve: n unknowns, k right-hand sides. */
export interface TriangularSolveShape {
  readonly n: number;
  readonly k: number;
}

/** Validates inputs and returns (n, k). */
export function triangularSolveShape(inputs: readonly NdArray[]): TriangularSolveShape {
  const op = TRIANGULAR_SOLVE_OP_ID;
  expectInputCount(op, inputs, 2, 2, 't, b');
  const t = squareInput(op, inputAt(op, inputs, 0, 't'), 't');
  const b = inputAt(op, inputs, 1, 'b');
  if (b.shape.length !== 1 && b.shape.length !== 2) {
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${op}: b must be [n] or [n, k], got shape [${b.shape.join(',')}]`, {
      op,
      argument: 'b',
      shape: [...b.shape],
    });
  }
  if (b.shape[0] !== t.rows) {
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${op}: b must have ${t.rows} rows (the order of t), got shape [${b.shape.join(',')}]`, {
      op,
      argument: 'b',
      expectedRows: t.rows,
      shape: [...b.shape],
    });
  }
  requireFiniteF64(op, b, 'b');
  return { n: t.rows, k: b.shape.length === 1 ? 1 : (b.shape[1] as number) };
}

/** Reference solve (substitution in plain TS); returns X row-major [n, k]. */
export function triangularSolveReference(attrs: TriangularSolveAttrs, n: number, k: number, t: Float64Array, b: Float64Array): Float64Array {
  const x = Float64Array.from(b);
  // element of op(T) at (i, j)
  const op = (i: number, j: number): number => (attrs.transpose ? (t[j * n + i] as number) : (t[i * n + j] as number));
  const lowerOp = attrs.lower !== attrs.transpose;
  if (!attrs.unitDiagonal) {
    for (let i = 0; i < n; i++) if (t[i * n + i] === 0) throw singularTriangle(TRIANGULAR_SOLVE_OP_ID, 't', i);
  }
  for (let s = 0; s < n; s++) {
    const i = lowerOp ? s : n - 1 - s;
    const d = attrs.unitDiagonal ? 1 : op(i, i);
    for (let c = 0; c < k; c++) {
      let acc = x[i * k + c] as number;
      if (lowerOp) for (let j = 0; j < i; j++) acc -= op(i, j) * (x[j * k + c] as number);
      else for (let j = i + 1; j < n; j++) acc -= op(i, j) * (x[j * k + c] as number);
      x[i * k + c] = acc / d;
    }
  }
  return x;
}

/** The `triangular-solve` op. */
export const triangularSolveOp: OpDef<TriangularSolveAttrs> = {
  id: TRIANGULAR_SOLVE_OP_ID,
  summary: 'solves op(T)·X = B by forward or back substitution (T triangular, many right-hand sides)',
  parseAttrs(raw: unknown): TriangularSolveAttrs {
    const r = attrRecord(TRIANGULAR_SOLVE_OP_ID, raw, ['lower', 'transpose', 'unitDiagonal']);
    return Object.freeze({ lower: boolAttr(r, 'lower', true), transpose: boolAttr(r, 'transpose', false), unitDiagonal: boolAttr(r, 'unitDiagonal', false) });
  },
  checkInputs(_attrs: TriangularSolveAttrs, inputs: readonly NdArray[]): void {
    triangularSolveShape(inputs);
  },
  reference(attrs: TriangularSolveAttrs, inputs: readonly NdArray[]): NdArray[] {
    const { n, k } = triangularSolveShape(inputs);
    const t = inputAt(TRIANGULAR_SOLVE_OP_ID, inputs, 0, 't').data as Float64Array;
    const b = inputAt(TRIANGULAR_SOLVE_OP_ID, inputs, 1, 'b');
    return [ndarray('f64', b.shape, triangularSolveReference(attrs, n, k, t, b.data as Float64Array))];
  },
};
