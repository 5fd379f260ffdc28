/**
 * Kronecker mat-vecs by mode products over an injected linear-algebra backend. Grid values
 * are flattened row-major (last axis fastest, numpy's `reshape`), so
 * (A_0 ⊗ … ⊗ A_{D−1})·vec(X) = X ×_0 A_0 … ×_{D−1} A_{D−1}.
 */
import { eighReference } from '../ops/eigh';
import { modeProductReference } from '../ops/mode-product';

/**
 * The two kernel-library ops the Kronecker GP is built on. The default
 * ({@link referenceKronLinalg}) is the catalogue's float64 reference; workers and the
 * orchestrator pass the wasm kernels (`eigh`, `mode-product`).
 */
export interface KronLinalg {
  /** Ascending eigenvalues and the n×n eigenvector matrix (columns, row-major) of symmetric `a`. */
  eigh(n: number, a: Float64Array): { w: Float64Array; v: Float64Array };
  /**
   * Y = X ×_mode op(M): `m` is [p, n_mode] row-major, or [n_mode, p] when `transpose` (Mᵀ is used).
   * Returns Y with shape[mode] replaced by p.
   */
  modeProduct(x: Float64Array, shape: readonly number[], mode: number, m: Float64Array, p: number, transpose: boolean): Float64Array;
  /**
   * Optional fused (⊗_d op(M_d))·x (same contract as {@link kronMatvec}): a backend with its
   * own memory keeps the tensor there between the mode products (one copy in, one out).
   */
  kronMatvec?(shape: readonly number[], factors: readonly (KronFactorMatrix | null)[], x: Float64Array): { y: Float64Array; shape: number[] };
}

/** (L, R) sizes either side of `mode`. */
export function modeSplit(shape: readonly number[], mode: number): { l: number; r: number } {
  let l = 1;
  let r = 1;
  shape.forEach((s, i) => {
    if (i < mode) l *= s;
    else if (i > mode) r *= s;
  });
  return { l, r };
}

/** The float64 reference backend (Jacobi `eigh`, loop `mode-product` from the op catalogue). */
export const referenceKronLinalg: KronLinalg = {
  eigh: (n, a) => eighReference(n, a),
  modeProduct(x, shape, mode, m, p, transpose) {
    const { l, r } = modeSplit(shape, mode);
    const nd = shape[mode] as number;
    return modeProductReference({ mode, transpose }, { l, nd, r, p, outShape: [] }, x, m);
  },
};

/** One Kronecker factor: `m` is [rows, cols] (or its transpose when `transpose`), acting on an axis of length cols. */
export interface KronFactorMatrix {
  readonly m: Float64Array;
  /** Output length along the axis (rows of op(M)). */
  readonly p: number;
  readonly transpose: boolean;
}

/**
 * (⊗_d op(M_d))·x for x of `shape`; a `null` factor is the identity. Returns the result and
 * its shape.
 */
export function kronMatvec(
  lin: KronLinalg,
  shape: readonly number[],
  factors: readonly (KronFactorMatrix | null)[],
  x: Float64Array,
): { y: Float64Array; shape: number[] } {
  if (lin.kronMatvec !== undefined && factors.some((f) => f !== null)) return lin.kronMatvec(shape, factors, x);
  let cur = x;
  const sh = [...shape];
  factors.forEach((f, d) => {
    if (f === null) return;
    cur = lin.modeProduct(cur, sh, d, f.m, f.p, f.transpose);
    sh[d] = f.p;
  });
  return { y: cur === x ? x.slice() : cur, shape: sh };
}

/**
 * Calls `inner(offset, prefix)` once per row of the last axis: `offset` is the flat index of
 * the row's first element and `idx` the multi-index of the outer axes (reused; read only).
 */
export function forEachRow(shape: readonly number[], inner: (offset: number, idx: Int32Array) => void): void {
  const d = shape.length;
  const last = shape[d - 1] as number;
  const outer = shape.slice(0, d - 1);
  const rows = outer.reduce((a, b) => a * b, 1);
  const idx = new Int32Array(Math.max(d - 1, 1));
  for (let row = 0; row < rows; row++) {
    inner(row * last, idx);
    for (let a = d - 2; a >= 0; a--) {
      idx[a] = (idx[a] as number) + 1;
      if ((idx[a] as number) < (outer[a] as number)) break;
      idx[a] = 0;
    }
  }
}
