/**
 * Shard planning for the kernel-library ops: how one op call is cut into independent shards
 * that run on different workers (or threads), and how their outputs are put back together.
 *
 * Every op has a plan. Row-separable ops split one axis of their output: `gemm`, `gemv`,
 * `kernel-block`, `kernel-block-matmul`, `csr-spmm` by output rows; `csr-spmv` by rows
 * balanced by stored non-zeros; `gemm-batched` by batch; `triangular-solve` by right-hand-side
 * columns; `mode-product` along an axis other than its mode. Whole-matrix ops (`cholesky`,
 * `qr`, `eigh`, `eigh-topk`, `eig-small`, `csr-transpose`, `csr-from-triplets`) and calls in
 * view mode (explicit offsets/strides: they already are a shard) plan as one shard, and the
 * plan says why. `grf-walks` is sharded by its own job (origin ranges, `core/src/jobs`).
 *
 * A shard's inputs are views where the split axis is the leading one (`subarray`, no copy)
 * and copies otherwise; its attributes are the call's attributes, unchanged. Assembling
 * concatenates the shard outputs along the split axis, so running the shards of a plan
 * through any backend and assembling gives the same array as the unsharded call.
 */
import { allocTyped, type AnyTypedArray, type NdArray } from '../array';
import { GramfleetError } from '../errors';
import type { OpCatalogue } from './types';

/** One shard of a plan: the attributes (raw, as on the wire) and its inputs. */
export interface OpShard {
  readonly attrs: unknown;
  readonly inputs: NdArray[];
  /** Range [start, end) of the split axis this shard produces. */
  readonly range: readonly [number, number];
}

/** How one op call is cut into shards. */
export interface OpShardPlan {
  readonly op: string;
  /** Which output axis is split (`null`: one shard). */
  readonly axis: number | null;
  /** Why the call is one shard (whole-matrix op, view mode, 1-D right-hand side). */
  readonly single?: string;
  readonly shards: readonly OpShard[];
  /** Concatenates the shards' outputs (in plan order) into the outputs of the whole call. */
  assemble(outputs: ReadonlyArray<readonly NdArray[]>): NdArray[];
}

/** Options of {@link planOpShards}. */
export interface OpShardPlanOptions {
  /** Number of shards wanted (fewer when the split axis is shorter). @default 2 */
  readonly parts?: number;
}

const WHOLE: Readonly<Record<string, string>> = {
  cholesky: 'a factorisation needs the whole matrix',
  qr: 'a factorisation needs the whole matrix',
  eigh: 'an eigendecomposition needs the whole matrix',
  'eigh-topk': 'an eigendecomposition needs the whole matrix',
  'eig-small': 'an eigendecomposition needs the whole matrix',
  'csr-transpose': 'a transpose reads every row (cheap; run it where the matrix is)',
  'csr-from-triplets': 'construction reads every triplet (cheap; run it where the triplets are)',
  'grf-walks': 'grf-walks is sharded by the grf job (origin ranges)',
};

/** Elements per index along `axis` and the number of outer blocks. */
function strides(shape: readonly number[], axis: number): { outer: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i] as number;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i] as number;
  return { outer, inner };
}

/** The slab [i0, i1) of `a` along `axis`: a view for axis 0, a copy otherwise. */
export function sliceAxis(a: NdArray, axis: number, i0: number, i1: number): NdArray {
  const shape = [...a.shape];
  const len = shape[axis] as number;
  const { outer, inner } = strides(shape, axis);
  shape[axis] = i1 - i0;
  if (axis === 0) return { dtype: a.dtype, shape, data: a.data.subarray(i0 * inner, i1 * inner) } as NdArray;
  const out = allocTyped(a.dtype, outer * (i1 - i0) * inner);
  for (let o = 0; o < outer; o++) {
    (out as Float64Array).set((a.data as Float64Array).subarray((o * len + i0) * inner, (o * len + i1) * inner), o * (i1 - i0) * inner);
  }
  return { dtype: a.dtype, shape, data: out } as NdArray;
}

/** Concatenates arrays along `axis` (all other dimensions equal). */
export function concatAxis(parts: readonly NdArray[], axis: number): NdArray {
  const first = parts[0];
  if (first === undefined) throw new GramfleetError('INPUT_INVALID', 'concatAxis: no parts', { argument: 'parts' });
  const total = parts.reduce((s, p) => s + (p.shape[axis] as number), 0);
  const shape = [...first.shape];
  shape[axis] = total;
  const { outer, inner } = strides(shape, axis);
  const out = allocTyped(first.dtype, outer * total * inner) as AnyTypedArray;
  let at = 0;
  for (const p of parts) {
    const len = p.shape[axis] as number;
    for (let o = 0; o < outer; o++) {
      (out as Float64Array).set((p.data as Float64Array).subarray(o * len * inner, (o + 1) * len * inner), (o * total + at) * inner);
    }
    at += len;
  }
  return { dtype: first.dtype, shape, data: out } as NdArray;
}

/** Splits [0, n) into at most `parts` nearly equal non-empty ranges (one empty range for n = 0). */
export function evenRanges(n: number, parts: number): Array<[number, number]> {
  const p = Math.max(1, Math.min(parts, n));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < p; i++) out.push([Math.floor((n * i) / p), Math.floor((n * (i + 1)) / p)]);
  return out;
}

/** Splits CSR rows into at most `parts` ranges of about equal stored non-zeros. */
export function nnzRanges(indptr: ArrayLike<number>, parts: number): Array<[number, number]> {
  const m = indptr.length - 1;
  if (m <= 0) return [[0, 0]];
  const nnz = indptr[m] as number;
  const p = Math.max(1, Math.min(parts, m));
  const out: Array<[number, number]> = [];
  let r0 = 0;
  for (let t = 1; t <= p && r0 < m; t++) {
    let r1 = m;
    if (t < p) {
      const target = (nnz * t) / p;
      let lo = r0 + 1;
      let hi = m;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((indptr[mid] as number) < target) lo = mid + 1;
        else hi = mid;
      }
      r1 = Math.min(lo, m - (p - t));
      r1 = Math.max(r1, r0 + 1);
    }
    out.push([r0, r1]);
    r0 = r1;
  }
  return out;
}

/** Rebased CSR rows [r0, r1) of (indptr, indices, data) as three arrays (indices/data are views). */
function csrRows(ip: NdArray, ix: NdArray, dv: NdArray, r0: number, r1: number): NdArray[] {
  const ipd = ip.data as Int32Array;
  const s = ipd[r0] as number;
  const e = ipd[r1] as number;
  const nip = new Int32Array(r1 - r0 + 1);
  for (let i = 0; i <= r1 - r0; i++) nip[i] = (ipd[r0 + i] as number) - s;
  return [
    { dtype: 'i32', shape: [r1 - r0 + 1], data: nip },
    { dtype: ix.dtype, shape: [e - s], data: ix.data.subarray(s, e) } as NdArray,
    { dtype: dv.dtype, shape: [e - s], data: dv.data.subarray(s, e) } as NdArray,
  ];
}

function hasAny(raw: unknown, keys: readonly string[]): boolean {
  if (raw === null || typeof raw !== 'object') return false;
  const r = raw as Record<string, unknown>;
  return keys.some((k) => r[k] !== undefined);
}

function boolOf(raw: unknown, key: string): boolean {
  return raw !== null && typeof raw === 'object' && (raw as Record<string, unknown>)[key] === true;
}

function single(op: string, attrs: unknown, inputs: NdArray[], why: string): OpShardPlan {
  return { op, axis: null, single: why, shards: [{ attrs, inputs, range: [0, 1] }], assemble: (outs) => [...(outs[0] ?? [])] };
}

/** A plan that cuts output axis `axis` into `ranges`; `inputsFor` slices the inputs of one range. */
function split(op: string, attrs: unknown, axis: number, ranges: Array<[number, number]>, inputsFor: (r0: number, r1: number) => NdArray[]): OpShardPlan {
  return {
    op,
    axis,
    shards: ranges.map(([r0, r1]) => ({ attrs, inputs: inputsFor(r0, r1), range: [r0, r1] as const })),
    assemble(outs: ReadonlyArray<readonly NdArray[]>): NdArray[] {
      const n = outs[0]?.length ?? 0;
      return Array.from({ length: n }, (_, i) =>
        concatAxis(
          outs.map((o) => o[i] as NdArray),
          axis,
        ),
      );
    },
  };
}

/**
 * Plans the shards of one call of op `opId`. Attributes and inputs are validated first
 * (typed `INPUT_*` errors, as the op itself would raise), so a bad call fails before any
 * shard exists.
 */
export function planOpShards(ops: OpCatalogue, opId: string, rawAttrs: unknown, inputs: readonly NdArray[], opts: OpShardPlanOptions = {}): OpShardPlan {
  const op = ops.get(opId);
  const parts = opts.parts ?? 2;
  if (!Number.isInteger(parts) || parts < 1) {
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `planOpShards: parts must be an integer ≥ 1, got ${parts}`, { argument: 'parts', bound: 1 });
  }
  op.checkInputs(op.parseAttrs(rawAttrs), inputs);
  const ins = [...inputs];
  const at = (i: number): NdArray => ins[i] as NdArray;
  const whole = WHOLE[opId];
  if (whole !== undefined) return single(opId, rawAttrs, ins, whole);
  const rows = (a: NdArray): number => a.shape[0] as number;
  switch (opId) {
    case 'gemm': {
      if (hasAny(rawAttrs, ['m', 'n', 'k'])) return single(opId, rawAttrs, ins, 'view mode: the call already is a shard of a larger buffer');
      const transA = boolOf(rawAttrs, 'transA');
      const m = transA ? (at(0).shape[1] as number) : rows(at(0));
      return split(opId, rawAttrs, 0, evenRanges(m, parts), (r0, r1) => [
        sliceAxis(at(0), transA ? 1 : 0, r0, r1),
        at(1),
        ...(ins.length > 2 ? [sliceAxis(at(2), 0, r0, r1)] : []),
      ]);
    }
    case 'gemv': {
      if (hasAny(rawAttrs, ['m', 'n'])) return single(opId, rawAttrs, ins, 'view mode: the call already is a shard of a larger buffer');
      const trans = boolOf(rawAttrs, 'trans');
      const len = trans ? (at(0).shape[1] as number) : rows(at(0));
      return split(opId, rawAttrs, 0, evenRanges(len, parts), (r0, r1) => [
        sliceAxis(at(0), trans ? 1 : 0, r0, r1),
        at(1),
        ...(ins.length > 2 ? [sliceAxis(at(2), 0, r0, r1)] : []),
      ]);
    }
    case 'gemm-batched':
      return split(opId, rawAttrs, 0, evenRanges(rows(at(0)), parts), (r0, r1) => ins.map((a) => sliceAxis(a, 0, r0, r1)));
    case 'kernel-block':
    case 'kernel-block-matmul': {
      if (hasAny(rawAttrs, ['n', 'm', 'd'])) return single(opId, rawAttrs, ins, 'view mode: the call already is a shard of a larger buffer');
      return split(opId, rawAttrs, 0, evenRanges(rows(at(0)), parts), (r0, r1) => [
        sliceAxis(at(0), 0, r0, r1),
        ...ins.slice(1, 3),
        ...(ins.length > 3 ? [sliceAxis(at(3), 0, r0, r1)] : []),
      ]);
    }
    case 'csr-spmv':
    case 'csr-spmm': {
      const ip = at(0).data as Int32Array;
      const ranges = opId === 'csr-spmv' ? nnzRanges(ip, parts) : evenRanges(ip.length - 1, parts);
      return split(opId, rawAttrs, 0, ranges, (r0, r1) => [
        ...csrRows(at(0), at(1), at(2), r0, r1),
        at(3),
        ...(ins.length > 4 ? [sliceAxis(at(4), 0, r0, r1)] : []),
      ]);
    }
    case 'triangular-solve': {
      const b = at(1);
      if (b.shape.length !== 2) return single(opId, rawAttrs, ins, 'one right-hand side: nothing to split');
      return split(opId, rawAttrs, 1, evenRanges(b.shape[1] as number, parts), (c0, c1) => [at(0), sliceAxis(b, 1, c0, c1)]);
    }
    case 'mode-product': {
      const x = at(0);
      const mode = (rawAttrs as { mode: number }).mode;
      const axis = mode === 0 ? 1 : 0;
      if (x.shape.length < 2) return single(opId, rawAttrs, ins, 'a 1-way tensor has no axis besides its mode');
      return split(opId, rawAttrs, axis, evenRanges(x.shape[axis] as number, parts), (i0, i1) => [sliceAxis(x, axis, i0, i1), at(1)]);
    }
    default:
      return single(opId, rawAttrs, ins, 'no split defined for this op');
  }
}
