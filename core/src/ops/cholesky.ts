/**
 * `cholesky`: lower Cholesky factor of a symmetric positive definite matrix, A = L·Lᵀ.
 *
 * Input: `a` [n, n] f64, symmetric (checked to `symmetryTol`·max|a|; only the lower triangle
 * is used by the factorisation). Output: `l` [n, n] f64, lower triangular, zeros above the
 * diagonal. A matrix that is not positive definite raises `KERNEL_STATUS` with
 * `details.reason = 'not-positive-definite'` and `details.pivot` (the failing row) — never NaNs.
 */
import type { NdArray } from '../array';
import { num } from '../validate';
import { attrRecord, expectInputCount, inputAt, matrix, notPositiveDefinite, requireSymmetric, squareInput } from './linalg-common';
import type { OpDef } from './types';

/** Validated attributes of `cholesky`. */
export interface CholeskyAttrs {
  /** Relative symmetry tolerance (0 disables the check). @default 1e-12 */
  readonly symmetryTol: number;
}

/** Wire name of the Cholesky op. */
export const CHOLESKY_OP_ID = 'cholesky';

/**
 * Reference lower Cholesky (Cholesky–Banachiewicz, unblocked) of the n×n row-major `a`,
 * reading its lower triangle. Throws `KERNEL_STATUS` (not positive definite) naming the pivot.
 */
export function choleskyReference(n: number, a: Float64Array, argument = 'a'): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * n + k] as number) * (l[j * n + k] as number);
      if (j === i) {
        if (!(s > 0) || !Number.isFinite(s)) throw notPositiveDefinite(CHOLESKY_OP_ID, argument, i, s);
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / (l[j * n + j] as number);
      }
    }
  }
  return l;
}

/** The `cholesky` op. */
export const choleskyOp: OpDef<CholeskyAttrs> = {
  id: CHOLESKY_OP_ID,
  summary: 'lower Cholesky factor L of a symmetric positive definite matrix (A = L·Lᵀ)',
  parseAttrs(raw: unknown): CholeskyAttrs {
    const r = attrRecord(CHOLESKY_OP_ID, raw, ['symmetryTol']);
    const symmetryTol = r['symmetryTol'] === undefined ? 1e-12 : num('attrs.symmetryTol', r['symmetryTol'], { min: 0 });
    return Object.freeze({ symmetryTol });
  },
  checkInputs(attrs: CholeskyAttrs, inputs: readonly NdArray[]): void {
    expectInputCount(CHOLESKY_OP_ID, inputs, 1, 1, 'a');
    const m = squareInput(CHOLESKY_OP_ID, inputAt(CHOLESKY_OP_ID, inputs, 0, 'a'), 'a');
    if (attrs.symmetryTol > 0) requireSymmetric(CHOLESKY_OP_ID, m, 'a', attrs.symmetryTol);
  },
  reference(attrs: CholeskyAttrs, inputs: readonly NdArray[]): NdArray[] {
    choleskyOp.checkInputs(attrs, inputs);
    const m = squareInput(CHOLESKY_OP_ID, inputAt(CHOLESKY_OP_ID, inputs, 0, 'a'), 'a');
    return [matrix(m.rows, m.rows, choleskyReference(m.rows, m.data))];
  },
};
