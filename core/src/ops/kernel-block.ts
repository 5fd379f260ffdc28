/**
 * `kernel-block`: the kernel matrix K(X, Z)[i, j] = k(‖x_i − z_j‖) of rows of X (n×d) and Z
 * (m×d), and `kernel-block-matmul`: K(X, Z)·A (A m×c) without storing the block.
 *
 * Kernels (attr `kernel`, σ = attr `bandwidth` > 0, r = ‖x − z‖):
 * laplacian / matern12 exp(−r/σ); gaussian exp(−r²/(2σ²)); matern32 (1+√3r/σ)·exp(−√3r/σ);
 * matern52 (1+√5r/σ+5r²/(3σ²))·exp(−√5r/σ); cauchy 1/(1+r²/σ²).
 * Squared distances are ‖x‖² + ‖z‖² − 2x·z accumulated in f64 and clamped at 0 (the
 * reference uses the same formula). X and Z are both f64 or both f32; outputs are f64.
 * Attr `accumulate`: `f64` (default, the above) or `f32`: f32 inputs only (`kernel-block` then
 * returns an f32 block: the values the matmul ops multiply into A); x·z is accumulated in f32 and the kernel is evaluated in f32
 * (K·A still sums in f64), about twice the arithmetic rate on wasm. Its error against the f64
 * reference is |Δd²| ≤ γ·(‖x‖² + ‖z‖²), γ = (d + 4)·2⁻²⁴, in the distance; d² below that bound
 * is taken as 0 (the points are equal to the computation's precision: coincident points give
 * k(0) exactly). Entries of K(X, Z) whose points are well apart agree to ~1e-6 relative, near
 * points to |Δr| ≤ min(√|Δd²|, |Δd²|/r) over σ; conformance checks exactly that bound
 * (test/src/conformance/kernel-block-f32.test.ts). `f32` permits a backend to round so; one
 * without an f32 path (the reference, the GPU workers) computes as it always does.
 * X and Z must be finite. Views: attrs `n`, `m`, `d` with `offsetX`/`ldx`, `offsetZ`/`ldz`
 * read strided rows out of flat buffers (shards of a larger X or Z).
 */
import type { NdArray } from '../array';
import { GramfleetError } from '../errors';
import { oneOf } from '../validate';
import { attrRecord, expectInputCount, inputAt } from './linalg-common';
import { dim2, numAttr, optInt, requireDtype, requireFinite, requirePositive, shapeMismatch, stridedView, type StridedView } from './dense-common';
import type { OpDef } from './types';

/** Kernel names, in the order of the wasm kernel ids. */
export const KERNEL_FUNCTIONS = ['laplacian', 'gaussian', 'matern12', 'matern32', 'matern52', 'cauchy'] as const;
/** A kernel function name. */
export type KernelFunction = (typeof KERNEL_FUNCTIONS)[number];

/** Validated attributes of `kernel-block` and `kernel-block-matmul`. */
export interface KernelBlockAttrs {
  readonly kernel: KernelFunction;
  /** σ > 0. */
  readonly bandwidth: number;
  /** View dimensions (all three or none). */
  readonly n: number | undefined;
  readonly m: number | undefined;
  readonly d: number | undefined;
  readonly offsetX: number;
  readonly ldx: number | undefined;
  readonly offsetZ: number;
  readonly ldz: number | undefined;
  /** kernel-block-matmul only: out = beta·out0 + K·A when an `out0` input is given. @default 0 */
  readonly beta: number;
  /** Dot-product accumulation, `f32` needs f32 inputs (`kernel-block`: f32 output). @default 'f64' */
  readonly accumulate: KernelAccumulate;
  /**
   * Matmul ops only, with `accumulate: 'f32'`: a hint that the same rows will come again (the
   * EigenPro batches of every epoch). A worker with a kernel-row cache then keeps K's rows in
   * f32 and computes K·A from them (`workers/src/kernel-cache.ts`); a backend without one
   * ignores it. @default false
   */
  readonly cache: boolean;
}

/** Accumulation precisions of the kernel-block products. */
export const KERNEL_ACCUMULATE = ['f64', 'f32'] as const;
/** A kernel-block accumulation precision. */
export type KernelAccumulate = (typeof KERNEL_ACCUMULATE)[number];

/** Reads the optional `accumulate` attr of a matmul op. */
export function accumulateAttr(r: Readonly<Record<string, unknown>>): KernelAccumulate {
  return r['accumulate'] === undefined ? 'f64' : oneOf('attrs.accumulate', r['accumulate'], KERNEL_ACCUMULATE);
}

/** Reads the optional `cache` hint of a matmul op (needs `accumulate: 'f32'`). */
export function cacheAttr(op: string, r: Readonly<Record<string, unknown>>): boolean {
  const v = r['cache'];
  if (v === undefined || v === false) return false;
  if (v !== true) throw new GramfleetError('INPUT_INVALID', `${op}: attrs.cache must be a boolean (got ${JSON.stringify(v)})`, { op, argument: 'cache' });
  if (accumulateAttr(r) !== 'f32')
    throw new GramfleetError('INPUT_INVALID', `${op}: attrs.cache needs attrs.accumulate = 'f32' (the cache keeps f32 kernel rows)`, { op, argument: 'cache' });
  return true;
}

/** Wire names. */
export const KERNEL_BLOCK_OP_ID = 'kernel-block';
export const KERNEL_BLOCK_MATMUL_OP_ID = 'kernel-block-matmul';

/** Resolved problem. */
export interface KernelBlockProblem {
  readonly dtype: 'f64' | 'f32';
  readonly n: number;
  readonly m: number;
  readonly d: number;
  readonly x: StridedView;
  readonly z: StridedView;
  /** Columns of A (matmul only, else 0). */
  readonly c: number;
  readonly hasOut0: boolean;
}

/** k as a function of the squared distance (the f64 reference epilogue). */
export function kernelOfSquaredDistance(kernel: KernelFunction, d2: number, sigma: number): number {
  switch (kernel) {
    case 'gaussian':
      return Math.exp(-d2 / (2 * sigma * sigma));
    case 'cauchy':
      return 1 / (1 + d2 / (sigma * sigma));
    case 'matern32': {
      const t = (Math.sqrt(3) * Math.sqrt(d2)) / sigma;
      return (1 + t) * Math.exp(-t);
    }
    case 'matern52': {
      const t = (Math.sqrt(5) * Math.sqrt(d2)) / sigma;
      return (1 + t + (t * t) / 3) * Math.exp(-t);
    }
    default:
      return Math.exp(-Math.sqrt(d2) / sigma);
  }
}

function parse(op: string, raw: unknown, matmul: boolean): KernelBlockAttrs {
  const view = ['n', 'm', 'd', 'offsetX', 'ldx', 'offsetZ', 'ldz'];
  const r = attrRecord(op, raw, ['kernel', 'bandwidth', 'accumulate', ...view, ...(matmul ? ['beta', 'cache'] : [])]);
  if (r['kernel'] === undefined)
    throw new GramfleetError('INPUT_INVALID', `${op}: attrs.kernel is required (one of ${KERNEL_FUNCTIONS.join('|')})`, { op, argument: 'kernel' });
  const kernel = oneOf('attrs.kernel', r['kernel'], KERNEL_FUNCTIONS);
  if (r['bandwidth'] === undefined) throw new GramfleetError('INPUT_INVALID', `${op}: attrs.bandwidth is required (σ > 0)`, { op, argument: 'bandwidth' });
  const bandwidth = requirePositive(op, 'bandwidth', r['bandwidth']);
  const n = optInt(r, 'n', 0),
    m = optInt(r, 'm', 0),
    d = optInt(r, 'd', 0);
  const given = [n, m, d].filter((v) => v !== undefined).length;
  if (given !== 0 && given !== 3)
    throw new GramfleetError('INPUT_INVALID', `${op}: attrs.n, attrs.m and attrs.d must be given together (view mode) or not at all`, {
      op,
      argument: 'attrs.n',
    });
  if (given === 0) {
    for (const f of ['offsetX', 'ldx', 'offsetZ', 'ldz'])
      if (r[f] !== undefined)
        throw new GramfleetError('INPUT_INVALID', `${op}: attrs.${f} needs attrs.n, attrs.m and attrs.d (view mode)`, { op, argument: `attrs.${f}` });
  }
  return Object.freeze({
    kernel,
    bandwidth,
    n,
    m,
    d,
    offsetX: optInt(r, 'offsetX', 0) ?? 0,
    ldx: optInt(r, 'ldx', 1),
    offsetZ: optInt(r, 'offsetZ', 0) ?? 0,
    ldz: optInt(r, 'ldz', 1),
    beta: numAttr(r, 'beta', 0),
    accumulate: accumulateAttr(r),
    cache: cacheAttr(op, r),
  });
}

/** Resolves the problem; throws typed errors naming the argument. */
export function kernelBlockProblem(op: string, attrs: KernelBlockAttrs, inputs: readonly NdArray[], matmul: boolean): KernelBlockProblem {
  expectInputCount(op, inputs, matmul ? 3 : 2, matmul ? 4 : 2, matmul ? 'x, z, a[, out0]' : 'x, z');
  const x = inputAt(op, inputs, 0, 'x');
  const z = inputAt(op, inputs, 1, 'z');
  requireDtype(op, x, 'x', ['f64', 'f32']);
  const dtype = x.dtype as 'f64' | 'f32';
  requireDtype(op, z, 'z', [dtype]);
  if (attrs.accumulate === 'f32' && dtype !== 'f32')
    throw new GramfleetError('INPUT_INVALID', `${op}: attrs.accumulate = 'f32' needs f32 x and z (got ${dtype})`, { op, argument: 'accumulate', dtype });
  let n: number, m: number, d: number;
  if (attrs.n !== undefined && attrs.m !== undefined && attrs.d !== undefined) {
    n = attrs.n;
    m = attrs.m;
    d = attrs.d;
  } else {
    [n, d] = dim2(op, x, 'x');
    const [zm, zd] = dim2(op, z, 'z');
    if (zd !== d) throw shapeMismatch(op, 'z', `[m,${d}] (as many columns as x)`, z.shape);
    m = zm;
  }
  const vx = stridedView(op, x, 'x', n, d, attrs.offsetX, attrs.ldx);
  const vz = stridedView(op, z, 'z', m, d, attrs.offsetZ, attrs.ldz);
  requireFinite(op, x, 'x');
  requireFinite(op, z, 'z');
  let c = 0;
  let hasOut0 = false;
  if (matmul) {
    const a = inputAt(op, inputs, 2, 'a');
    requireDtype(op, a, 'a', ['f64']);
    if (a.shape.length !== 2 || a.shape[0] !== m) throw shapeMismatch(op, 'a', `[${m},c]`, a.shape);
    c = a.shape[1] as number;
    const o = inputs[3];
    if (o !== undefined) {
      requireDtype(op, o, 'out0', ['f64']);
      if (o.shape.length !== 2 || o.shape[0] !== n || o.shape[1] !== c) throw shapeMismatch(op, 'out0', `[${n},${c}]`, o.shape);
      hasOut0 = true;
    }
  }
  return { dtype, n, m, d, x: vx, z: vz, c, hasOut0 };
}

/** Reference block (n×m f64), distances by the same ‖x‖²+‖z‖²−2x·z formula in f64. */
export function kernelBlockReference(attrs: KernelBlockAttrs, p: KernelBlockProblem, x: ArrayLike<number>, z: ArrayLike<number>): Float64Array {
  const { n, m, d } = p;
  const xn = new Float64Array(n);
  const zn = new Float64Array(m);
  for (let i = 0; i < n; i++) for (let q = 0; q < d; q++) xn[i] = (xn[i] as number) + (x[p.x.offset + i * p.x.ld + q] as number) ** 2;
  for (let j = 0; j < m; j++) for (let q = 0; q < d; q++) zn[j] = (zn[j] as number) + (z[p.z.offset + j * p.z.ld + q] as number) ** 2;
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let q = 0; q < d; q++) dot += (x[p.x.offset + i * p.x.ld + q] as number) * (z[p.z.offset + j * p.z.ld + q] as number);
      const d2 = Math.max(0, (xn[i] as number) + (zn[j] as number) - 2 * dot);
      out[i * m + j] = kernelOfSquaredDistance(attrs.kernel, d2, attrs.bandwidth);
    }
  }
  return out;
}

/** The `kernel-block` op. */
export const kernelBlockOp: OpDef<KernelBlockAttrs> = {
  id: KERNEL_BLOCK_OP_ID,
  summary: 'kernel matrix block K(X, Z) (laplacian, gaussian, matern, cauchy) with fused f64 distances',
  parseAttrs: (raw: unknown): KernelBlockAttrs => parse(KERNEL_BLOCK_OP_ID, raw, false),
  checkInputs(attrs: KernelBlockAttrs, inputs: readonly NdArray[]): void {
    kernelBlockProblem(KERNEL_BLOCK_OP_ID, attrs, inputs, false);
  },
  reference(attrs: KernelBlockAttrs, inputs: readonly NdArray[]): NdArray[] {
    const p = kernelBlockProblem(KERNEL_BLOCK_OP_ID, attrs, inputs, false);
    const k = kernelBlockReference(attrs, p, (inputs[0] as NdArray).data, (inputs[1] as NdArray).data);
    // `accumulate: 'f32'` makes an f32 block: the f64 values rounded (within the f32 bound).
    if (attrs.accumulate === 'f32') return [{ dtype: 'f32', shape: [p.n, p.m], data: Float32Array.from(k) }];
    return [{ dtype: 'f64', shape: [p.n, p.m], data: k }];
  },
};

/** The `kernel-block-matmul` op: out = K(X, Z)·A (+ beta·out0), the block never stored. */
export const kernelBlockMatmulOp: OpDef<KernelBlockAttrs> = {
  id: KERNEL_BLOCK_MATMUL_OP_ID,
  summary: 'fused kernel block times matrix K(X, Z)·A without storing K',
  parseAttrs: (raw: unknown): KernelBlockAttrs => parse(KERNEL_BLOCK_MATMUL_OP_ID, raw, true),
  checkInputs(attrs: KernelBlockAttrs, inputs: readonly NdArray[]): void {
    kernelBlockProblem(KERNEL_BLOCK_MATMUL_OP_ID, attrs, inputs, true);
  },
  reference(attrs: KernelBlockAttrs, inputs: readonly NdArray[]): NdArray[] {
    const p = kernelBlockProblem(KERNEL_BLOCK_MATMUL_OP_ID, attrs, inputs, true);
    const k = kernelBlockReference(attrs, p, (inputs[0] as NdArray).data, (inputs[1] as NdArray).data);
    const a = (inputs[2] as NdArray).data;
    const out = new Float64Array(p.n * p.c);
    const o0 = inputs[3];
    if (o0 !== undefined && attrs.beta !== 0) for (let i = 0; i < out.length; i++) out[i] = attrs.beta * (o0.data[i] as number);
    for (let i = 0; i < p.n; i++) {
      for (let j = 0; j < p.m; j++) {
        const kij = k[i * p.m + j] as number;
        for (let q = 0; q < p.c; q++) out[i * p.c + q] = (out[i * p.c + q] as number) + kij * (a[j * p.c + q] as number);
      }
    }
    return [{ dtype: 'f64', shape: [p.n, p.c], data: out }];
  },
};
