/**
 * `csr-transpose`: Aᵀ of a CSR matrix A (m×n), in CSR (so also CSR → CSC). Inputs: indptr,
 * indices, data; attr `n` (columns of A, required). Outputs: indptr [n+1], indices, data of
 * Aᵀ, column indices sorted within each row.
 */
import type { NdArray } from '../array';
import { GramfleetError } from '../errors';
import { attrRecord, expectInputCount, inputAt } from './linalg-common';
import { checkCsr, optInt } from './dense-common';
import type { OpDef } from './types';

/** Validated attributes of `csr-transpose`. */
export interface CsrTransposeAttrs {
  /** Columns of A. */
  readonly n: number;
}

/** Wire name. */
export const CSR_TRANSPOSE_OP_ID = 'csr-transpose';

/** The `csr-transpose` op. */
export const csrTransposeOp: OpDef<CsrTransposeAttrs> = {
  id: CSR_TRANSPOSE_OP_ID,
  summary: 'transpose of a CSR matrix (CSR → CSC), indices sorted',
  parseAttrs(raw: unknown): CsrTransposeAttrs {
    const r = attrRecord(CSR_TRANSPOSE_OP_ID, raw, ['n']);
    const n = optInt(r, 'n', 0);
    if (n === undefined)
      throw new GramfleetError('INPUT_INVALID', `${CSR_TRANSPOSE_OP_ID}: attrs.n (columns of A) is required`, { op: CSR_TRANSPOSE_OP_ID, argument: 'attrs.n' });
    return Object.freeze({ n });
  },
  checkInputs(attrs: CsrTransposeAttrs, inputs: readonly NdArray[]): void {
    const op = CSR_TRANSPOSE_OP_ID;
    expectInputCount(op, inputs, 3, 3, 'indptr, indices, data');
    checkCsr(op, inputAt(op, inputs, 0, 'indptr'), inputAt(op, inputs, 1, 'indices'), inputAt(op, inputs, 2, 'data'), attrs.n);
  },
  reference(attrs: CsrTransposeAttrs, inputs: readonly NdArray[]): NdArray[] {
    csrTransposeOp.checkInputs(attrs, inputs);
    const ip = (inputs[0] as NdArray).data as Int32Array;
    const ix = (inputs[1] as NdArray).data as Int32Array;
    const v = (inputs[2] as NdArray).data as Float64Array;
    const m = ip.length - 1;
    const n = attrs.n;
    const rows: Array<Array<[number, number]>> = Array.from({ length: n }, () => []);
    for (let i = 0; i < m; i++)
      for (let q = ip[i] as number; q < (ip[i + 1] as number); q++) (rows[ix[q] as number] as Array<[number, number]>).push([i, v[q] as number]);
    const tp = new Int32Array(n + 1);
    const ti = new Int32Array(ix.length);
    const tv = new Float64Array(ix.length);
    let w = 0;
    for (let j = 0; j < n; j++) {
      for (const [i, x] of rows[j] as Array<[number, number]>) {
        ti[w] = i;
        tv[w] = x;
        w++;
      }
      tp[j + 1] = w;
    }
    return [
      { dtype: 'i32', shape: [n + 1], data: tp },
      { dtype: 'i32', shape: [ix.length], data: ti },
      { dtype: 'f64', shape: [ix.length], data: tv },
    ];
  },
};
