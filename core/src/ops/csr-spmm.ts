/**
 * `csr-spmm`: C = alpha·A·B + beta·C for a CSR matrix A (m×k) and a dense row-major f64
 * B (k×n). Inputs: indptr, indices, data, b[, c]. k is the number of rows of b. Output [m,n].
 */
import type { NdArray } from '../array';
import { attrRecord, expectInputCount, inputAt } from './linalg-common';
import { checkCsr, dim2, numAttr, requireDtype, shapeMismatch } from './dense-common';
import type { OpDef } from './types';

/** Validated attributes of `csr-spmm`. */
export interface CsrSpmmAttrs {
  /** @default 1 */
  readonly alpha: number;
  /** @default 0 */
  readonly beta: number;
}

/** Wire name. */
export const CSR_SPMM_OP_ID = 'csr-spmm';

/** Resolved problem. */
export interface CsrSpmmProblem {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly nnz: number;
  readonly hasC: boolean;
}

/** Checks inputs; throws typed errors naming the argument. */
export function csrSpmmProblem(_attrs: CsrSpmmAttrs, inputs: readonly NdArray[]): CsrSpmmProblem {
  const op = CSR_SPMM_OP_ID;
  expectInputCount(op, inputs, 4, 5, 'indptr, indices, data, b[, c]');
  const b = inputAt(op, inputs, 3, 'b');
  requireDtype(op, b, 'b', ['f64']);
  const [k, n] = dim2(op, b, 'b');
  const m = checkCsr(op, inputAt(op, inputs, 0, 'indptr'), inputAt(op, inputs, 1, 'indices'), inputAt(op, inputs, 2, 'data'), k);
  const c = inputs[4];
  if (c !== undefined) {
    requireDtype(op, c, 'c', ['f64']);
    if (c.shape.length !== 2 || c.shape[0] !== m || c.shape[1] !== n) throw shapeMismatch(op, 'c', `[${m},${n}]`, c.shape);
  }
  return { m, k, n, nnz: (inputs[1] as NdArray).data.length, hasC: c !== undefined };
}

/** The `csr-spmm` op. */
export const csrSpmmOp: OpDef<CsrSpmmAttrs> = {
  id: CSR_SPMM_OP_ID,
  summary: 'sparse CSR matrix times dense matrix C = alpha·A·B + beta·C',
  parseAttrs(raw: unknown): CsrSpmmAttrs {
    const r = attrRecord(CSR_SPMM_OP_ID, raw, ['alpha', 'beta']);
    return Object.freeze({ alpha: numAttr(r, 'alpha', 1), beta: numAttr(r, 'beta', 0) });
  },
  checkInputs(attrs: CsrSpmmAttrs, inputs: readonly NdArray[]): void {
    csrSpmmProblem(attrs, inputs);
  },
  reference(attrs: CsrSpmmAttrs, inputs: readonly NdArray[]): NdArray[] {
    const p = csrSpmmProblem(attrs, inputs);
    const ip = (inputs[0] as NdArray).data as Int32Array;
    const ix = (inputs[1] as NdArray).data as Int32Array;
    const v = (inputs[2] as NdArray).data as Float64Array;
    const b = (inputs[3] as NdArray).data as Float64Array;
    const c = inputs[4];
    const out = new Float64Array(p.m * p.n);
    for (let i = 0; i < p.m; i++) {
      for (let j = 0; j < p.n; j++) {
        let s = 0;
        for (let q = ip[i] as number; q < (ip[i + 1] as number); q++) s += (v[q] as number) * (b[(ix[q] as number) * p.n + j] as number);
        out[i * p.n + j] = c !== undefined && attrs.beta !== 0 ? attrs.beta * (c.data[i * p.n + j] as number) + attrs.alpha * s : attrs.alpha * s;
      }
    }
    return [{ dtype: 'f64', shape: [p.m, p.n], data: out }];
  },
};
