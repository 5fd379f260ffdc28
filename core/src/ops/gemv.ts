/**
 * `gemv`: y = alpha·op(A)·x + beta·y with row-major f64 A (m×n). `trans = false`: x has n
 * entries and y has m; `trans = true`: y = alpha·Aᵀx + beta·y, x has m entries, y has n.
 *
 * Dimensions come from A's shape, or from attrs `m`, `n` with `offsetA`/`lda`, `offsetX`/`incx`,
 * `offsetY`/`incy` (positive increments) for strided views into flat buffers. Output: a copy
 * of `y` with the view updated, or a fresh vector when `y` is absent.
 */
import type { NdArray } from '../array';
import { GramfleetError } from '../errors';
import { attrRecord, boolAttr, expectInputCount, inputAt } from './linalg-common';
import { dim2, numAttr, optInt, requireDtype, shapeMismatch, stridedView, type StridedView } from './dense-common';
import type { OpDef } from './types';

/** Validated attributes of `gemv`. */
export interface GemvAttrs {
  /** @default false */
  readonly trans: boolean;
  /** @default 1 */
  readonly alpha: number;
  /** @default 0 */
  readonly beta: number;
  /** View dimensions of A (both or none). */
  readonly m: number | undefined;
  readonly n: number | undefined;
  readonly offsetA: number;
  readonly lda: number | undefined;
  readonly offsetX: number;
  /** @default 1 */
  readonly incx: number;
  readonly offsetY: number;
  /** @default 1 */
  readonly incy: number;
}

/** Wire name. */
export const GEMV_OP_ID = 'gemv';

/** Resolved gemv problem. */
export interface GemvProblem {
  readonly m: number;
  readonly n: number;
  readonly a: StridedView;
  /** Length of x and y. */
  readonly lenX: number;
  readonly lenY: number;
  readonly hasY: boolean;
  readonly outLength: number;
}

const VIEW = ['offsetA', 'lda', 'offsetX', 'incx', 'offsetY', 'incy'] as const;

function vecCheck(op: string, v: NdArray, name: string, len: number, offset: number, inc: number): void {
  const need = len > 0 ? offset + (len - 1) * inc + 1 : offset;
  if (need > v.data.length) {
    throw new GramfleetError(
      'INPUT_OUT_OF_RANGE',
      `${op}: ${name} view (offset ${offset}, increment ${inc}, length ${len}) needs ${need} elements, ${name} has ${v.data.length}`,
      { op, argument: name, bound: `<= ${v.data.length}`, value: need },
    );
  }
}

/** Resolves the problem; throws typed errors naming the argument. */
export function gemvProblem(attrs: GemvAttrs, inputs: readonly NdArray[]): GemvProblem {
  const op = GEMV_OP_ID;
  expectInputCount(op, inputs, 2, 3, 'a, x[, y]');
  const a = inputAt(op, inputs, 0, 'a');
  const x = inputAt(op, inputs, 1, 'x');
  const y = inputs[2];
  requireDtype(op, a, 'a', ['f64']);
  requireDtype(op, x, 'x', ['f64']);
  if (y !== undefined) requireDtype(op, y, 'y', ['f64']);
  let m: number, n: number;
  const view = attrs.m !== undefined && attrs.n !== undefined;
  if (view) {
    m = attrs.m as number;
    n = attrs.n as number;
  } else {
    [m, n] = dim2(op, a, 'a');
  }
  const va = stridedView(op, a, 'a', m, n, attrs.offsetA, attrs.lda);
  const lenX = attrs.trans ? m : n;
  const lenY = attrs.trans ? n : m;
  if (!view && x.data.length !== lenX) throw shapeMismatch(op, 'x', `[${lenX}]`, x.shape);
  if (!view && y !== undefined && y.data.length !== lenY) throw shapeMismatch(op, 'y', `[${lenY}]`, y.shape);
  vecCheck(op, x, 'x', lenX, attrs.offsetX, attrs.incx);
  if (y !== undefined) vecCheck(op, y, 'y', lenY, attrs.offsetY, attrs.incy);
  else if (attrs.offsetY !== 0 || attrs.incy !== 1)
    throw new GramfleetError('INPUT_INVALID', `${op}: attrs.offsetY/incy need a y input`, { op, argument: 'attrs.offsetY' });
  return { m, n, a: va, lenX, lenY, hasY: y !== undefined, outLength: y !== undefined ? y.data.length : lenY };
}

/** The `gemv` op. */
export const gemvOp: OpDef<GemvAttrs> = {
  id: GEMV_OP_ID,
  summary: 'dense matrix-vector product y = alpha·op(A)·x + beta·y (f64)',
  parseAttrs(raw: unknown): GemvAttrs {
    const r = attrRecord(GEMV_OP_ID, raw, ['trans', 'alpha', 'beta', 'm', 'n', ...VIEW]);
    const m = optInt(r, 'm', 0);
    const n = optInt(r, 'n', 0);
    if ((m === undefined) !== (n === undefined))
      throw new GramfleetError('INPUT_INVALID', `${GEMV_OP_ID}: attrs.m and attrs.n must be given together (view mode)`, {
        op: GEMV_OP_ID,
        argument: 'attrs.m',
      });
    if (m === undefined) {
      for (const f of VIEW)
        if (r[f] !== undefined)
          throw new GramfleetError('INPUT_INVALID', `${GEMV_OP_ID}: attrs.${f} needs attrs.m and attrs.n (view mode)`, {
            op: GEMV_OP_ID,
            argument: `attrs.${f}`,
          });
    }
    return Object.freeze({
      trans: boolAttr(r, 'trans', false),
      alpha: numAttr(r, 'alpha', 1),
      beta: numAttr(r, 'beta', 0),
      m,
      n,
      offsetA: optInt(r, 'offsetA', 0) ?? 0,
      lda: optInt(r, 'lda', 1),
      offsetX: optInt(r, 'offsetX', 0) ?? 0,
      incx: optInt(r, 'incx', 1) ?? 1,
      offsetY: optInt(r, 'offsetY', 0) ?? 0,
      incy: optInt(r, 'incy', 1) ?? 1,
    });
  },
  checkInputs(attrs: GemvAttrs, inputs: readonly NdArray[]): void {
    gemvProblem(attrs, inputs);
  },
  reference(attrs: GemvAttrs, inputs: readonly NdArray[]): NdArray[] {
    const p = gemvProblem(attrs, inputs);
    const a = (inputs[0] as NdArray).data;
    const x = (inputs[1] as NdArray).data;
    const y = inputs[2];
    const out = new Float64Array(p.outLength);
    if (y !== undefined) out.set(y.data as Float64Array);
    const beta = p.hasY ? attrs.beta : 0;
    for (let i = 0; i < p.lenY; i++) {
      let s = 0;
      for (let j = 0; j < p.lenX; j++) {
        const aij = attrs.trans ? (a[p.a.offset + j * p.a.ld + i] as number) : (a[p.a.offset + i * p.a.ld + j] as number);
        s += aij * (x[attrs.offsetX + j * attrs.incx] as number);
      }
      const q = attrs.offsetY + i * attrs.incy;
      out[q] = beta === 0 ? attrs.alpha * s : beta * (out[q] as number) + attrs.alpha * s;
    }
    return [{ dtype: 'f64', shape: y !== undefined ? [...y.shape] : [p.lenY], data: out }];
  },
};
