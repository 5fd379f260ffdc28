/**
 * `gemm`: C = alpha·op(A)·op(B) + beta·C (row-major), op(X) = X or Xᵀ.
 *
 * Inputs: `a`, `b` and optionally `c`, all f64 or all f32. With f32 inputs every product and
 * sum is formed in f64 and the result is rounded to f32 once (f32 storage, f64 accumulation).
 * Attr `accumulate`: `f64` (default, the above) or `f32` (f32 inputs only): a backend may then
 * sum in f32 as a BLAS sgemm does — the wasm backend runs an f32x4 GEMM at about twice the
 * arithmetic rate. Its error against the exact product is, entry for entry,
 * |Δc| ≤ (k + 2)·2⁻²⁴·(|alpha|·(|op(A)|·|op(B)|) + |beta·c|) (one f32 sum over k, products
 * of alpha·A rounded to f32); conformance checks (k + 4)·2⁻²⁴·(…) against the f64 reference
 * (test/src/conformance/gemm.test.ts, parallel.test.ts for the multi-core wasm backend). A
 * backend without an f32 path (the reference, the GPU workers) computes as it always does,
 * which is within it.
 * Dimensions come from the shapes (a [m,k] or [k,m] when transA, b [k,n] or [n,k], c [m,n]),
 * or — for strided views into flat buffers, as a shard sees them — from attrs `m`, `n`, `k`
 * with `offsetA`/`lda`, `offsetB`/`ldb`, `offsetC`/`ldc`. Output: a copy of `c` with the view
 * updated, or a fresh [m,n] array when `c` is absent (then beta is ignored). `beta = 0`
 * overwrites C, so NaN in C does not propagate (BLAS semantics).
 */
import { allocTyped, type NdArray } from '../array';
import { GramfleetError } from '../errors';
import { oneOf } from '../validate';
import { attrRecord, boolAttr, expectInputCount, inputAt } from './linalg-common';
import { dim2, numAttr, optInt, requireDtype, shapeMismatch, stridedView, type StridedView } from './dense-common';
import type { OpDef } from './types';

/** Validated attributes of `gemm`. */
export interface GemmAttrs {
  /** Use Aᵀ. @default false */
  readonly transA: boolean;
  /** Use Bᵀ. @default false */
  readonly transB: boolean;
  /** @default 1 */
  readonly alpha: number;
  /** @default 0 */
  readonly beta: number;
  /** View dimensions (all three or none); when set, inputs are flat buffers. */
  readonly m: number | undefined;
  readonly n: number | undefined;
  readonly k: number | undefined;
  /** Element offsets and leading dimensions of the views. @default 0 / dense */
  readonly offsetA: number;
  readonly lda: number | undefined;
  readonly offsetB: number;
  readonly ldb: number | undefined;
  readonly offsetC: number;
  readonly ldc: number | undefined;
  /** Accumulation precision; `f32` needs f32 inputs (see the file comment). @default 'f64' */
  readonly accumulate: GemmAccumulate;
}

/** Accumulation precisions of `gemm`. */
export const GEMM_ACCUMULATE = ['f64', 'f32'] as const;
/** A `gemm` accumulation precision. */
export type GemmAccumulate = (typeof GEMM_ACCUMULATE)[number];

/** Wire name. */
export const GEMM_OP_ID = 'gemm';

/** The resolved problem of one gemm call (shared by the reference and every backend). */
export interface GemmProblem {
  readonly dtype: 'f64' | 'f32';
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly a: StridedView;
  readonly b: StridedView;
  /** View of C in the output array. */
  readonly c: StridedView;
  /** Whether a C input was given (its data seeds the output). */
  readonly hasC: boolean;
  readonly outShape: readonly number[];
}

const VIEW_ATTRS = ['offsetA', 'lda', 'offsetB', 'ldb', 'offsetC', 'ldc'] as const;

/** Parses gemm-like view attributes (shared with gemm-batched where they apply). */
export function parseGemmAttrs(op: string, raw: unknown): GemmAttrs {
  const r = attrRecord(op, raw, ['transA', 'transB', 'alpha', 'beta', 'm', 'n', 'k', 'accumulate', ...VIEW_ATTRS]);
  const m = optInt(r, 'm', 0);
  const n = optInt(r, 'n', 0);
  const k = optInt(r, 'k', 0);
  const given = [m, n, k].filter((v) => v !== undefined).length;
  if (given !== 0 && given !== 3) {
    throw new GramfleetError('INPUT_INVALID', `${op}: attrs.m, attrs.n and attrs.k must be given together (view mode) or not at all`, {
      op,
      argument: 'attrs.m',
    });
  }
  if (given === 0) {
    for (const f of VIEW_ATTRS) {
      if (r[f] !== undefined)
        throw new GramfleetError('INPUT_INVALID', `${op}: attrs.${f} needs attrs.m, attrs.n and attrs.k (view mode)`, { op, argument: `attrs.${f}` });
    }
  }
  return Object.freeze({
    transA: boolAttr(r, 'transA', false),
    transB: boolAttr(r, 'transB', false),
    alpha: numAttr(r, 'alpha', 1),
    beta: numAttr(r, 'beta', 0),
    m,
    n,
    k,
    offsetA: optInt(r, 'offsetA', 0) ?? 0,
    lda: optInt(r, 'lda', 1),
    offsetB: optInt(r, 'offsetB', 0) ?? 0,
    ldb: optInt(r, 'ldb', 1),
    offsetC: optInt(r, 'offsetC', 0) ?? 0,
    ldc: optInt(r, 'ldc', 1),
    accumulate: r['accumulate'] === undefined ? 'f64' : oneOf('attrs.accumulate', r['accumulate'], GEMM_ACCUMULATE),
  });
}

/** Resolves dimensions and views; throws typed errors naming the argument. */
export function gemmProblem(op: string, attrs: GemmAttrs, inputs: readonly NdArray[]): GemmProblem {
  expectInputCount(op, inputs, 2, 3, 'a, b[, c]');
  const a = inputAt(op, inputs, 0, 'a');
  const b = inputAt(op, inputs, 1, 'b');
  const c = inputs[2];
  requireDtype(op, a, 'a', ['f64', 'f32']);
  const dtype = a.dtype as 'f64' | 'f32';
  requireDtype(op, b, 'b', [dtype]);
  if (attrs.accumulate === 'f32' && dtype !== 'f32')
    throw new GramfleetError('INPUT_INVALID', `${op}: attrs.accumulate = 'f32' needs f32 a and b (got ${dtype})`, { op, argument: 'accumulate', dtype });
  if (c !== undefined) requireDtype(op, c, 'c', [dtype]);
  let m: number, n: number, k: number;
  if (attrs.m !== undefined && attrs.n !== undefined && attrs.k !== undefined) {
    m = attrs.m;
    n = attrs.n;
    k = attrs.k;
  } else {
    const [ar, ac] = dim2(op, a, 'a');
    const [br, bc] = dim2(op, b, 'b');
    m = attrs.transA ? ac : ar;
    k = attrs.transA ? ar : ac;
    const kb = attrs.transB ? bc : br;
    n = attrs.transB ? br : bc;
    if (kb !== k) throw shapeMismatch(op, 'b', attrs.transB ? `[n,${k}] (transB)` : `[${k},n]`, b.shape);
    if (c !== undefined && (c.shape.length !== 2 || c.shape[0] !== m || c.shape[1] !== n)) throw shapeMismatch(op, 'c', `[${m},${n}]`, c.shape);
  }
  const va = stridedView(op, a, 'a', attrs.transA ? k : m, attrs.transA ? m : k, attrs.offsetA, attrs.lda);
  const vb = stridedView(op, b, 'b', attrs.transB ? n : k, attrs.transB ? k : n, attrs.offsetB, attrs.ldb);
  let vc: StridedView;
  let outShape: readonly number[];
  if (c !== undefined) {
    vc = stridedView(op, c, 'c', m, n, attrs.offsetC, attrs.ldc);
    outShape = c.shape;
  } else {
    if (attrs.offsetC !== 0 || attrs.ldc !== undefined) {
      throw new GramfleetError('INPUT_INVALID', `${op}: attrs.offsetC/ldc need a c input`, { op, argument: 'attrs.offsetC' });
    }
    vc = { rows: m, cols: n, offset: 0, ld: Math.max(1, n) };
    outShape = [m, n];
  }
  return { dtype, m, n, k, a: va, b: vb, c: vc, hasC: c !== undefined, outShape };
}

/** Copies the C input (or zeros) into a fresh output array of the problem's dtype. */
export function gemmOutput(p: GemmProblem, c: NdArray | undefined): NdArray {
  const size = p.outShape.reduce((x, y) => x * y, 1);
  const data = allocTyped(p.dtype, size);
  if (c !== undefined) data.set(c.data as Float64Array & Float32Array);
  return { dtype: p.dtype, shape: [...p.outShape], data };
}

/**
 * Reference f64 GEMM over strided views: out[c] = alpha·op(A)·op(B) + beta·out[c]
 * (beta = 0 overwrites). Values of f32 arrays are widened; f32 output is rounded once.
 */
export function gemmReferenceInto(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: ArrayLike<number>,
  va: StridedView,
  b: ArrayLike<number>,
  vb: StridedView,
  beta: number,
  out: Float64Array | Float32Array,
  vc: StridedView,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const x = transA ? (a[va.offset + p * va.ld + i] as number) : (a[va.offset + i * va.ld + p] as number);
        const y = transB ? (b[vb.offset + j * vb.ld + p] as number) : (b[vb.offset + p * vb.ld + j] as number);
        s += x * y;
      }
      const q = vc.offset + i * vc.ld + j;
      out[q] = beta === 0 ? alpha * s : beta * (out[q] as number) + alpha * s;
    }
  }
}

/** The `gemm` op. */
export const gemmOp: OpDef<GemmAttrs> = {
  id: GEMM_OP_ID,
  summary: 'dense matrix product C = alpha·op(A)·op(B) + beta·C (f64, or f32 storage with f64 accumulation)',
  parseAttrs: (raw: unknown): GemmAttrs => parseGemmAttrs(GEMM_OP_ID, raw),
  checkInputs(attrs: GemmAttrs, inputs: readonly NdArray[]): void {
    gemmProblem(GEMM_OP_ID, attrs, inputs);
  },
  reference(attrs: GemmAttrs, inputs: readonly NdArray[]): NdArray[] {
    const p = gemmProblem(GEMM_OP_ID, attrs, inputs);
    const c = inputs[2];
    const out = gemmOutput(p, c);
    const acc = new Float64Array(out.data.length);
    acc.set(out.data);
    gemmReferenceInto(
      attrs.transA,
      attrs.transB,
      p.m,
      p.n,
      p.k,
      attrs.alpha,
      (inputs[0] as NdArray).data,
      p.a,
      (inputs[1] as NdArray).data,
      p.b,
      p.hasC ? attrs.beta : 0,
      acc,
      p.c,
    );
    out.data.set(acc);
    return [out];
  },
};
