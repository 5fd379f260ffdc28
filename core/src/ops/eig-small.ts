/**
 * `eig-small`: eigenvalues and right eigenvectors of a small dense non-symmetric matrix
 * (A·x = λx), or of the generalised problem A·x = λB·x — what GCRO-DR needs for harmonic Ritz
 * vectors (n ≤ 100 in practice; capped at {@link EIG_SMALL_MAX_ORDER}).
 *
 * Method: Householder reduction to Hessenberg form + Francis double-shift QR with eigenvector
 * back-substitution (EISPACK orthes/hqr2). The generalised problem is reduced to B⁻¹A by LU
 * with partial pivoting (not QZ): a singular B (pivot ≤ ε·max|B|) raises `KERNEL_STATUS` with
 * `details.reason = 'singular'`, `argument: 'b'` — infinite eigenvalues are not supported.
 *
 * Inputs: `a` [n, n] f64, optionally `b` [n, n] f64. Outputs: `wr` [n], `wi` [n] (real and
 * imaginary parts), `v` [n, n] in LAPACK `dgeev` layout: a real eigenvalue j has eigenvector
 * v[:, j]; a complex pair (wi[j] > 0, wi[j+1] = −wi[j]) has eigenvector v[:, j] + i·v[:, j+1]
 * for λ_j and its conjugate for λ_{j+1}. Every eigenvector has unit Euclidean norm.
 * `order: 'abs-ascending' | 'abs-descending'` sorts by |λ| (pairs stay adjacent; stable);
 * `'none'` (default) keeps the solver's order.
 */
import type { NdArray } from '../array';
import { GramfleetError } from '../errors';
import { oneOf } from '../validate';
import { eigSmallCore } from './eig-small-core';
import { attrRecord, expectInputCount, inputAt, matrix, noConvergence, squareInput, vector } from './linalg-common';
import type { OpDef } from './types';

/** Largest order accepted by `eig-small` (the dense O(n³) solver is for small problems). */
export const EIG_SMALL_MAX_ORDER = 1000;

/** Validated attributes of `eig-small`. */
export interface EigSmallAttrs {
  /** Output order of the eigenpairs. @default 'none' */
  readonly order: 'none' | 'abs-ascending' | 'abs-descending';
}

/** Wire name of the small non-symmetric eigen op. */
export const EIG_SMALL_OP_ID = 'eig-small';

/** Validates inputs and returns n and whether B is given. */
export function eigSmallShape(inputs: readonly NdArray[]): { n: number; generalised: boolean } {
  const op = EIG_SMALL_OP_ID;
  expectInputCount(op, inputs, 1, 2, 'a[, b]');
  const a = squareInput(op, inputAt(op, inputs, 0, 'a'), 'a');
  if (a.rows > EIG_SMALL_MAX_ORDER) {
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `${op}: the order of a must be <= ${EIG_SMALL_MAX_ORDER}, got ${a.rows}`, {
      op,
      argument: 'a',
      bound: `<= ${EIG_SMALL_MAX_ORDER}`,
      value: a.rows,
    });
  }
  if (inputs.length === 2) {
    const b = squareInput(op, inputAt(op, inputs, 1, 'b'), 'b');
    if (b.rows !== a.rows) {
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${op}: b must be [${a.rows},${a.rows}] like a, got [${b.rows},${b.cols}]`, {
        op,
        argument: 'b',
        expected: [a.rows, a.rows],
        shape: [b.rows, b.cols],
      });
    }
  }
  return { n: a.rows, generalised: inputs.length === 2 };
}

/** Error for a singular B. */
export function singularB(pivot: number): GramfleetError {
  return new GramfleetError('KERNEL_STATUS', `${EIG_SMALL_OP_ID}: b is singular (LU pivot ${pivot} ≤ ε·max|b|); infinite eigenvalues are not supported`, {
    op: EIG_SMALL_OP_ID,
    argument: 'b',
    reason: 'singular',
    pivot,
  });
}

/** Error for a QR iteration that did not converge. */
export function eigSmallNoConvergence(): GramfleetError {
  return noConvergence(EIG_SMALL_OP_ID, 'Francis QR iteration budget (30·n per eigenvalue) exhausted');
}

/**
 * Reorders (wr, wi, columns of v) by |λ| with a stable sort, keeping each complex pair as
 * two adjacent columns (real part first). Returns new arrays.
 */
export function orderEigenpairs(
  order: EigSmallAttrs['order'],
  n: number,
  wr: Float64Array,
  wi: Float64Array,
  v: Float64Array,
): { wr: Float64Array; wi: Float64Array; v: Float64Array } {
  if (order === 'none' || n < 2) return { wr, wi, v };
  // blocks: single real eigenvalues, or complex pairs
  const blocks: Array<{ start: number; size: number; mod: number }> = [];
  for (let j = 0; j < n;) {
    const size = (wi[j] as number) !== 0 && j + 1 < n ? 2 : 1;
    blocks.push({ start: j, size, mod: Math.hypot(wr[j] as number, wi[j] as number) });
    j += size;
  }
  const sign = order === 'abs-ascending' ? 1 : -1;
  blocks.sort((x, y) => sign * (x.mod - y.mod) || x.start - y.start);
  const owr = new Float64Array(n);
  const owi = new Float64Array(n);
  const ov = new Float64Array(n * n);
  let c = 0;
  for (const b of blocks) {
    for (let t = 0; t < b.size; t++, c++) {
      owr[c] = wr[b.start + t] as number;
      owi[c] = wi[b.start + t] as number;
      for (let i = 0; i < n; i++) ov[i * n + c] = v[i * n + b.start + t] as number;
    }
  }
  return { wr: owr, wi: owi, v: ov };
}

/** The `eig-small` op. */
export const eigSmallOp: OpDef<EigSmallAttrs> = {
  id: EIG_SMALL_OP_ID,
  summary: 'eigenpairs of a small dense non-symmetric matrix, or of A·x = λB·x (via B⁻¹A), LAPACK dgeev layout',
  parseAttrs(raw: unknown): EigSmallAttrs {
    const r = attrRecord(EIG_SMALL_OP_ID, raw, ['order']);
    return Object.freeze({ order: r['order'] === undefined ? 'none' : oneOf('attrs.order', r['order'], ['none', 'abs-ascending', 'abs-descending'] as const) });
  },
  checkInputs(_attrs: EigSmallAttrs, inputs: readonly NdArray[]): void {
    eigSmallShape(inputs);
  },
  reference(attrs: EigSmallAttrs, inputs: readonly NdArray[]): NdArray[] {
    const { n, generalised } = eigSmallShape(inputs);
    const a = inputAt(EIG_SMALL_OP_ID, inputs, 0, 'a').data as Float64Array;
    const b = generalised ? (inputAt(EIG_SMALL_OP_ID, inputs, 1, 'b').data as Float64Array) : null;
    const r = eigSmallCore(n, a, b);
    if (r.status === 2) throw singularB(r.singularAt);
    if (r.status !== 0) throw eigSmallNoConvergence();
    const o = orderEigenpairs(attrs.order, n, r.wr, r.wi, r.v);
    return [vector(o.wr), vector(o.wi), matrix(n, n, o.v)];
  },
};
