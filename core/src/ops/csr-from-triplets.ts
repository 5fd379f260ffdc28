/**
 * `csr-from-triplets`: a canonical CSR matrix (m×n, column indices sorted within rows,
 * duplicates summed in input order) from COO triplets. Inputs: rows i32 [nnz] in [0, m),
 * cols i32 [nnz] in [0, n), vals f64 [nnz]; attrs `m`, `n`. Outputs: indptr, indices, data.
 */
import type { NdArray } from '../array';
import { GramfleetError } from '../errors';
import { attrRecord, expectInputCount, inputAt } from './linalg-common';
import { optInt, requireDtype, shapeMismatch } from './dense-common';
import type { OpDef } from './types';

/** Validated attributes of `csr-from-triplets`. */
export interface CsrFromTripletsAttrs {
  readonly m: number;
  readonly n: number;
}

/** Wire name. */
export const CSR_FROM_TRIPLETS_OP_ID = 'csr-from-triplets';

function indexCheck(op: string, a: NdArray, name: string, bound: number): void {
  const d = a.data as Int32Array;
  for (let p = 0; p < d.length; p++) {
    const v = d[p] as number;
    if (v < 0 || v >= bound)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `${op}: ${name}[${p}] = ${v} must be in [0, ${bound})`, {
        op,
        argument: name,
        index: p,
        bound: `[0, ${bound})`,
        value: v,
      });
  }
}

/** The `csr-from-triplets` op. */
export const csrFromTripletsOp: OpDef<CsrFromTripletsAttrs> = {
  id: CSR_FROM_TRIPLETS_OP_ID,
  summary: 'canonical CSR (sorted, duplicates summed) from COO triplets',
  parseAttrs(raw: unknown): CsrFromTripletsAttrs {
    const op = CSR_FROM_TRIPLETS_OP_ID;
    const r = attrRecord(op, raw, ['m', 'n']);
    const m = optInt(r, 'm', 0);
    const n = optInt(r, 'n', 0);
    if (m === undefined || n === undefined)
      throw new GramfleetError('INPUT_INVALID', `${op}: attrs.m and attrs.n (the shape) are required`, {
        op,
        argument: m === undefined ? 'attrs.m' : 'attrs.n',
      });
    return Object.freeze({ m, n });
  },
  checkInputs(attrs: CsrFromTripletsAttrs, inputs: readonly NdArray[]): void {
    const op = CSR_FROM_TRIPLETS_OP_ID;
    expectInputCount(op, inputs, 3, 3, 'rows, cols, vals');
    const rows = inputAt(op, inputs, 0, 'rows');
    const cols = inputAt(op, inputs, 1, 'cols');
    const vals = inputAt(op, inputs, 2, 'vals');
    requireDtype(op, rows, 'rows', ['i32']);
    requireDtype(op, cols, 'cols', ['i32']);
    requireDtype(op, vals, 'vals', ['f64']);
    const nnz = rows.data.length;
    if (rows.shape.length !== 1) throw shapeMismatch(op, 'rows', '[nnz]', rows.shape);
    if (cols.shape.length !== 1 || cols.data.length !== nnz) throw shapeMismatch(op, 'cols', `[${nnz}]`, cols.shape);
    if (vals.shape.length !== 1 || vals.data.length !== nnz) throw shapeMismatch(op, 'vals', `[${nnz}]`, vals.shape);
    indexCheck(op, rows, 'rows', attrs.m);
    indexCheck(op, cols, 'cols', attrs.n);
  },
  reference(attrs: CsrFromTripletsAttrs, inputs: readonly NdArray[]): NdArray[] {
    csrFromTripletsOp.checkInputs(attrs, inputs);
    const r = (inputs[0] as NdArray).data as Int32Array;
    const c = (inputs[1] as NdArray).data as Int32Array;
    const v = (inputs[2] as NdArray).data as Float64Array;
    const order = Array.from({ length: r.length }, (_, p) => p);
    order.sort((p, q) => (r[p] as number) - (r[q] as number) || (c[p] as number) - (c[q] as number) || p - q);
    const indptr = new Int32Array(attrs.m + 1);
    const idx: number[] = [];
    const val: number[] = [];
    let lastR = -1,
      lastC = -1;
    for (const p of order) {
      const i = r[p] as number,
        j = c[p] as number;
      if (i === lastR && j === lastC) val[val.length - 1] = (val[val.length - 1] as number) + (v[p] as number);
      else {
        idx.push(j);
        val.push(v[p] as number);
        indptr[i + 1] = (indptr[i + 1] as number) + 1;
        lastR = i;
        lastC = j;
      }
    }
    for (let i = 0; i < attrs.m; i++) indptr[i + 1] = (indptr[i + 1] as number) + (indptr[i] as number);
    return [
      { dtype: 'i32', shape: [attrs.m + 1], data: indptr },
      { dtype: 'i32', shape: [idx.length], data: Int32Array.from(idx) },
      { dtype: 'f64', shape: [val.length], data: Float64Array.from(val) },
    ];
  },
};
