/**
 * `csr-spmv`: y = alpha·A·x + beta·y for a CSR matrix A (m×n: `indptr` i32 [m+1], `indices`
 * i32 [nnz] in [0, n), `data` f64 [nnz]) and f64 vectors. n = attr `n`, or the length of x.
 * Inputs: indptr, indices, data, x[, y]. Output: y [m] (a copy of y updated when given).
 */
import type { NdArray } from '../array';
import { attrRecord, expectInputCount, inputAt } from './linalg-common';
import { checkCsr, numAttr, optInt, requireDtype, shapeMismatch } from './dense-common';
import type { OpDef } from './types';

/** Validated attributes of `csr-spmv`. */
export interface CsrSpmvAttrs {
  /** Number of columns of A. @default length of x */
  readonly n: number | undefined;
  /** @default 1 */
  readonly alpha: number;
  /** @default 0 */
  readonly beta: number;
}

/** Wire name. */
export const CSR_SPMV_OP_ID = 'csr-spmv';

/** Resolved problem. */
export interface CsrSpmvProblem {
  readonly m: number;
  readonly n: number;
  readonly nnz: number;
  readonly hasY: boolean;
}

/** Checks the CSR arrays and vectors; throws typed errors naming the argument. */
export function csrSpmvProblem(attrs: CsrSpmvAttrs, inputs: readonly NdArray[]): CsrSpmvProblem {
  const op = CSR_SPMV_OP_ID;
  expectInputCount(op, inputs, 4, 5, 'indptr, indices, data, x[, y]');
  const x = inputAt(op, inputs, 3, 'x');
  requireDtype(op, x, 'x', ['f64']);
  const n = attrs.n ?? x.data.length;
  if (x.shape.length !== 1 || x.data.length !== n) throw shapeMismatch(op, 'x', `[${n}]`, x.shape);
  const m = checkCsr(op, inputAt(op, inputs, 0, 'indptr'), inputAt(op, inputs, 1, 'indices'), inputAt(op, inputs, 2, 'data'), n);
  const y = inputs[4];
  if (y !== undefined) {
    requireDtype(op, y, 'y', ['f64']);
    if (y.shape.length !== 1 || y.data.length !== m) throw shapeMismatch(op, 'y', `[${m}]`, y.shape);
  }
  return { m, n, nnz: (inputs[1] as NdArray).data.length, hasY: y !== undefined };
}

/** The `csr-spmv` op. */
export const csrSpmvOp: OpDef<CsrSpmvAttrs> = {
  id: CSR_SPMV_OP_ID,
  summary: 'sparse CSR matrix times vector y = alpha·A·x + beta·y',
  parseAttrs(raw: unknown): CsrSpmvAttrs {
    const r = attrRecord(CSR_SPMV_OP_ID, raw, ['n', 'alpha', 'beta']);
    return Object.freeze({ n: optInt(r, 'n', 0), alpha: numAttr(r, 'alpha', 1), beta: numAttr(r, 'beta', 0) });
  },
  checkInputs(attrs: CsrSpmvAttrs, inputs: readonly NdArray[]): void {
    csrSpmvProblem(attrs, inputs);
  },
  reference(attrs: CsrSpmvAttrs, inputs: readonly NdArray[]): NdArray[] {
    const p = csrSpmvProblem(attrs, inputs);
    const ip = (inputs[0] as NdArray).data as Int32Array;
    const ix = (inputs[1] as NdArray).data as Int32Array;
    const v = (inputs[2] as NdArray).data as Float64Array;
    const x = (inputs[3] as NdArray).data as Float64Array;
    const y = inputs[4];
    const out = new Float64Array(p.m);
    for (let i = 0; i < p.m; i++) {
      let s = 0;
      for (let q = ip[i] as number; q < (ip[i + 1] as number); q++) s += (v[q] as number) * (x[ix[q] as number] as number);
      out[i] = y !== undefined && attrs.beta !== 0 ? attrs.beta * (y.data[i] as number) + attrs.alpha * s : attrs.alpha * s;
    }
    return [{ dtype: 'f64', shape: [p.m], data: out }];
  },
};
