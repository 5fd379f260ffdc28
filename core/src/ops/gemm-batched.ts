/**
 * `gemm-batched`: for every b, C_b = alpha·op(A_b)·op(B_b) + beta·C_b — many small GEMMs in
 * one call. Inputs `a` [batch,m,k] (or [batch,k,m] with transA), `b` [batch,k,n] (or
 * [batch,n,k]) and optional `c` [batch,m,n], all f64 or all f32 (f64 accumulation). Output
 * [batch,m,n] of the input dtype.
 */
import type { NdArray } from '../array';
import { allocTyped } from '../array';
import { attrRecord, boolAttr, expectInputCount, inputAt } from './linalg-common';
import { numAttr, requireDtype, shapeMismatch } from './dense-common';
import { gemmReferenceInto } from './gemm';
import type { OpDef } from './types';

/** Validated attributes of `gemm-batched`. */
export interface GemmBatchedAttrs {
  /** @default false */
  readonly transA: boolean;
  /** @default false */
  readonly transB: boolean;
  /** @default 1 */
  readonly alpha: number;
  /** @default 0 */
  readonly beta: number;
}

/** Wire name. */
export const GEMM_BATCHED_OP_ID = 'gemm-batched';

/** Resolved batched problem. */
export interface GemmBatchedProblem {
  readonly dtype: 'f64' | 'f32';
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

/** Resolves batch and dimensions; throws typed errors naming the argument. */
export function gemmBatchedProblem(attrs: GemmBatchedAttrs, inputs: readonly NdArray[]): GemmBatchedProblem {
  const op = GEMM_BATCHED_OP_ID;
  expectInputCount(op, inputs, 2, 3, 'a, b[, c]');
  const a = inputAt(op, inputs, 0, 'a');
  const b = inputAt(op, inputs, 1, 'b');
  const c = inputs[2];
  requireDtype(op, a, 'a', ['f64', 'f32']);
  const dtype = a.dtype as 'f64' | 'f32';
  requireDtype(op, b, 'b', [dtype]);
  if (c !== undefined) requireDtype(op, c, 'c', [dtype]);
  if (a.shape.length !== 3) throw shapeMismatch(op, 'a', '[batch,rows,cols]', a.shape);
  const [batch, a1, a2] = a.shape as [number, number, number];
  const m = attrs.transA ? a2 : a1;
  const k = attrs.transA ? a1 : a2;
  if (b.shape.length !== 3 || b.shape[0] !== batch || b.shape[attrs.transB ? 2 : 1] !== k) {
    throw shapeMismatch(op, 'b', attrs.transB ? `[${batch},n,${k}]` : `[${batch},${k},n]`, b.shape);
  }
  const n = b.shape[attrs.transB ? 1 : 2] as number;
  if (c !== undefined && (c.shape.length !== 3 || c.shape[0] !== batch || c.shape[1] !== m || c.shape[2] !== n)) {
    throw shapeMismatch(op, 'c', `[${batch},${m},${n}]`, c.shape);
  }
  return { dtype, batch, m, n, k };
}

/** The `gemm-batched` op. */
export const gemmBatchedOp: OpDef<GemmBatchedAttrs> = {
  id: GEMM_BATCHED_OP_ID,
  summary: 'a batch of small dense products C_b = alpha·op(A_b)·op(B_b) + beta·C_b',
  parseAttrs(raw: unknown): GemmBatchedAttrs {
    const r = attrRecord(GEMM_BATCHED_OP_ID, raw, ['transA', 'transB', 'alpha', 'beta']);
    return Object.freeze({
      transA: boolAttr(r, 'transA', false),
      transB: boolAttr(r, 'transB', false),
      alpha: numAttr(r, 'alpha', 1),
      beta: numAttr(r, 'beta', 0),
    });
  },
  checkInputs(attrs: GemmBatchedAttrs, inputs: readonly NdArray[]): void {
    gemmBatchedProblem(attrs, inputs);
  },
  reference(attrs: GemmBatchedAttrs, inputs: readonly NdArray[]): NdArray[] {
    const p = gemmBatchedProblem(attrs, inputs);
    const a = (inputs[0] as NdArray).data;
    const b = (inputs[1] as NdArray).data;
    const c = inputs[2];
    const acc = new Float64Array(p.batch * p.m * p.n);
    if (c !== undefined) acc.set(c.data as Float64Array);
    const ar = attrs.transA ? p.k : p.m,
      ac = attrs.transA ? p.m : p.k;
    const br = attrs.transB ? p.n : p.k,
      bc = attrs.transB ? p.k : p.n;
    for (let t = 0; t < p.batch; t++) {
      gemmReferenceInto(
        attrs.transA,
        attrs.transB,
        p.m,
        p.n,
        p.k,
        attrs.alpha,
        a,
        { rows: ar, cols: ac, offset: t * p.m * p.k, ld: Math.max(1, ac) },
        b,
        { rows: br, cols: bc, offset: t * p.k * p.n, ld: Math.max(1, bc) },
        c !== undefined ? attrs.beta : 0,
        acc,
        { rows: p.m, cols: p.n, offset: t * p.m * p.n, ld: Math.max(1, p.n) },
      );
    }
    const out = allocTyped(p.dtype, acc.length);
    out.set(acc);
    return [{ dtype: p.dtype, shape: [p.batch, p.m, p.n], data: out }];
  },
};
