// Kernel-matrix blocks K(X, Z)[i, j] = k(‖x_i − z_j‖) fused with the distance computation:
// ‖x‖² + ‖z‖² − 2x·z is accumulated in f64 by the packed GEMM driver (gemm.ts) and the
// kernel epilogue runs on every finished 4×4 tile while it is still in L1, so no separate
// distance matrix is formed. X (n×d) and Z (m×d) are row-major f64 (dtype 0) or f32
// (dtype 1, widened to f64 while packing). The fused variant computes K(X, Z)·A panel by
// panel so the n×m block is never stored.
import { GF_BAD_ATTR, GF_BAD_LD, GF_BAD_SIZE, GF_OK, fmadd, gemmCore, gf_gemm_workspace_bytes, setEpilogue, epiNone } from './gemm';

/** Kernel ids (wire order of the op's `kernel` attribute). */
export const K_LAPLACIAN: i32 = 0;
export const K_GAUSSIAN: i32 = 1;
export const K_MATERN12: i32 = 2;
export const K_MATERN32: i32 = 3;
export const K_MATERN52: i32 = 4;
export const K_CAUCHY: i32 = 5;

/** Status: bandwidth not finite and > 0. */
export const GF_BAD_BANDWIDTH: i32 = 6;

/** Panel sizes of the fused K·A product (rows × columns of the block held at once). */
const PANEL_R: i32 = 192;
const PANEL_C: i32 = 1024;

let eKind: i32 = 0;
let eXn: usize = 0;
let eZn: usize = 0;
let eGj0: i32 = 0;
let eInvS: f64 = 1; // 1/σ
let eInvS2: f64 = 1; // 1/σ²

// ---------------------------------------------------------------- vector exp

const LOG2E: f64 = 1.4426950408889634;
const LN2HI: f64 = 0.6931471803691238;
const LN2LO: f64 = 1.9082149292705877e-10;

/** e^x for both lanes, x ≤ 0 (x < −745.2 gives 0); relative error about 2 ulp. */
@inline function expNeg(x: v128): v128 {
  x = f64x2.pmax(x, f64x2.splat(-745.2));
  const kf = f64x2.nearest(f64x2.mul(x, f64x2.splat(LOG2E)));
  const r = f64x2.sub(f64x2.sub(x, f64x2.mul(kf, f64x2.splat(LN2HI))), f64x2.mul(kf, f64x2.splat(LN2LO)));
  // Taylor polynomial of degree 12 on |r| ≤ ln2/2 (truncation ≈ 2e-17).
  let p = f64x2.splat(2.08767569878681e-9); // 1/12!
  p = fmadd(p, r, f64x2.splat(2.505210838544172e-8)); // 1/11!
  p = fmadd(p, r, f64x2.splat(2.755731922398589e-7)); // 1/10!
  p = fmadd(p, r, f64x2.splat(2.7557319223985893e-6)); // 1/9!
  p = fmadd(p, r, f64x2.splat(2.48015873015873e-5)); // 1/8!
  p = fmadd(p, r, f64x2.splat(1.984126984126984e-4)); // 1/7!
  p = fmadd(p, r, f64x2.splat(1.388888888888889e-3)); // 1/6!
  p = fmadd(p, r, f64x2.splat(8.333333333333333e-3)); // 1/5!
  p = fmadd(p, r, f64x2.splat(4.1666666666666664e-2)); // 1/4!
  p = fmadd(p, r, f64x2.splat(0.16666666666666666)); // 1/3!
  p = fmadd(p, r, f64x2.splat(0.5));
  p = fmadd(p, r, f64x2.splat(1.0));
  p = fmadd(p, r, f64x2.splat(1.0));
  // 2^k as 2^k1 · 2^k2 with k1 = k >> 1 so both stay normal down to k = −1075.
  const k = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(kf));
  const k1 = i64x2.shr_s(k, 1);
  const k2 = i64x2.sub(k, k1);
  const bias = i64x2.splat(1023);
  const s1 = i64x2.shl(i64x2.add(k1, bias), 52);
  const s2 = i64x2.shl(i64x2.add(k2, bias), 52);
  return f64x2.mul(f64x2.mul(p, s1), s2);
}

/** Applies kernel `kind` to squared distances `d2` (already clamped at 0). */
@inline function kernelOf(kind: i32, d2: v128): v128 {
  if (kind == K_GAUSSIAN) return expNeg(f64x2.mul(d2, f64x2.splat(-0.5 * eInvS2)));
  if (kind == K_CAUCHY) return f64x2.div(f64x2.splat(1.0), f64x2.add(f64x2.splat(1.0), f64x2.mul(d2, f64x2.splat(eInvS2))));
  const r = f64x2.mul(f64x2.sqrt(d2), f64x2.splat(eInvS)); // r/σ
  if (kind == K_MATERN32) {
    const t = f64x2.mul(r, f64x2.splat(1.7320508075688772));
    return f64x2.mul(f64x2.add(f64x2.splat(1.0), t), expNeg(f64x2.neg(t)));
  }
  if (kind == K_MATERN52) {
    const t = f64x2.mul(r, f64x2.splat(2.23606797749979));
    const poly = f64x2.add(f64x2.add(f64x2.splat(1.0), t), f64x2.mul(f64x2.mul(t, t), f64x2.splat(1.0 / 3.0)));
    return f64x2.mul(poly, expNeg(f64x2.neg(t)));
  }
  return expNeg(f64x2.neg(r)); // laplacian = matern 1/2
}

/** Epilogue: C holds −2x·z for the tile; replaces it by k(xn + zn − 2x·z clamped at 0). */
function epiKernel(c: usize, ldc: i32, rows: i32, cols: i32, gi: i32, gj: i32): void {
  const kind = eKind;
  const zn = eZn + (<usize>(gj + eGj0) << 3);
  const ldcB = <usize>ldc << 3;
  const zero = f64x2.splat(0);
  for (let i = 0; i < rows; i++) {
    const row = c + <usize>i * ldcB;
    const xi = f64x2.splat(load<f64>(eXn + (<usize>(gi + i) << 3)));
    let j = 0;
    for (; j + 2 <= cols; j += 2) {
      const q = <usize>j << 3;
      const d2 = f64x2.pmax(f64x2.add(f64x2.add(xi, v128.load(zn + q)), v128.load(row + q)), zero);
      v128.store(row + q, kernelOf(kind, d2));
    }
    if (j < cols) {
      const q = <usize>j << 3;
      const d2 = f64x2.pmax(f64x2.add(f64x2.add(xi, f64x2.splat(load<f64>(zn + q))), f64x2.splat(load<f64>(row + q))), zero);
      store<f64>(row + q, f64x2.extract_lane(kernelOf(kind, d2), 0));
    }
  }
}

/** Squared row norms in f64 of a row-major (rows×d, ld) f64/f32 matrix into out. */
function rowNorms(p: usize, f32: bool, rows: i32, d: i32, ld: i32, out: usize): void {
  const es: usize = f32 ? 4 : 8;
  for (let i = 0; i < rows; i++) {
    const r = p + <usize>i * <usize>ld * es;
    let s: f64 = 0;
    if (f32) {
      for (let j = 0; j < d; j++) {
        const v = <f64>load<f32>(r + (<usize>j << 2));
        s += v * v;
      }
    } else {
      let s0 = f64x2.splat(0);
      let j = 0;
      for (; j + 2 <= d; j += 2) {
        const v = v128.load(r + (<usize>j << 3));
        s0 = f64x2.add(s0, f64x2.mul(v, v));
      }
      s = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1);
      for (; j < d; j++) {
        const v = load<f64>(r + (<usize>j << 3));
        s += v * v;
      }
    }
    store<f64>(out + (<usize>i << 3), s);
  }
}

/** Workspace bytes for a block with n rows of X and m rows of Z. */
export function gf_kernel_block_workspace_bytes(n: i32, m: i32, fused: i32): usize {
  let b = gf_gemm_workspace_bytes() + <usize>(n + m + 16) * 8;
  if (fused != 0) b += <usize>(PANEL_R * PANEL_C + 8) * 8;
  return b;
}

/** Checks the arguments shared by the kernel-block kernels; returns a status. */
export function checkArgs(kind: i32, dtype: i32, n: i32, m: i32, d: i32, ldx: i32, ldz: i32, bandwidth: f64): i32 {
  if (n < 0 || m < 0 || d < 0) return GF_BAD_SIZE;
  if (ldx < max(1, d) || ldz < max(1, d)) return GF_BAD_LD;
  if (kind < 0 || kind > K_CAUCHY || (dtype != 0 && dtype != 1)) return GF_BAD_ATTR;
  if (!(bandwidth > 0) || !isFinite(bandwidth)) return GF_BAD_BANDWIDTH;
  return GF_OK;
}

function setup(kind: i32, bandwidth: f64, xn: usize, zn: usize): void {
  eKind = kind;
  eXn = xn;
  eZn = zn;
  eGj0 = 0;
  eInvS = 1.0 / bandwidth;
  eInvS2 = eInvS * eInvS;
}

/**
 * out[n×m] (f64, offOut, ldOut) = K(X, Z) with `kind` and `bandwidth`. X at x (+offX
 * elements, ldx), Z at z (+offZ, ldz), both f64 (dtype 0) or f32 (dtype 1).
 */
export function gf_kernel_block(
  kind: i32, dtype: i32, n: i32, m: i32, d: i32,
  x: usize, offX: i32, ldx: i32, z: usize, offZ: i32, ldz: i32, bandwidth: f64,
  out: usize, offOut: i32, ldOut: i32, work: usize,
): i32 {
  const s = checkArgs(kind, dtype, n, m, d, ldx, ldz, bandwidth);
  if (s != GF_OK) return s;
  if (ldOut < max(1, m)) return GF_BAD_LD;
  const f32 = dtype == 1;
  const es: usize = f32 ? 4 : 8;
  const X = x + <usize>offX * es;
  const Z = z + <usize>offZ * es;
  const xn = (work + 63) & ~(<usize>63);
  const zn = xn + (<usize>n << 3);
  const gw = (zn + (<usize>m << 3) + 63) & ~(<usize>63);
  rowNorms(X, f32, n, d, ldx, xn);
  rowNorms(Z, f32, m, d, ldz, zn);
  setup(kind, bandwidth, xn, zn);
  setEpilogue(epiKernel);
  gemmCore(false, true, f32, n, m, d, -2.0, X, ldx, Z, ldz, 0.0, out + (<usize>offOut << 3), ldOut, gw, true, 0);
  setEpilogue(epiNone);
  return GF_OK;
}

/** out = beta·out for n rows of c f64 values (row pitch ldOB bytes); beta = 0 overwrites (NaN does not propagate). */
export function scaleOut(o: usize, ldOB: usize, n: i32, c: i32, beta: f64): void {
  for (let i = 0; i < n; i++) {
    const row = o + <usize>i * ldOB;
    if (beta == 0) memory.fill(row, 0, <usize>c << 3);
    else if (beta != 1) for (let j = 0; j < c; j++) store<f64>(row + (<usize>j << 3), beta * load<f64>(row + (<usize>j << 3)));
  }
}

/**
 * out[n×c] (f64, offOut, ldOut) = beta·out + K(X, Z)·A with A (m×c f64, offA, lda), computed
 * in PANEL_R×PANEL_C panels of the block so that the n×m block is never stored.
 */
export function gf_kernel_block_matmul(
  kind: i32, dtype: i32, n: i32, m: i32, d: i32, c: i32,
  x: usize, offX: i32, ldx: i32, z: usize, offZ: i32, ldz: i32, bandwidth: f64,
  a: usize, offA: i32, lda: i32, beta: f64, out: usize, offOut: i32, ldOut: i32, work: usize,
): i32 {
  const s = checkArgs(kind, dtype, n, m, d, ldx, ldz, bandwidth);
  if (s != GF_OK) return s;
  if (c < 0) return GF_BAD_SIZE;
  if (lda < max(1, c) || ldOut < max(1, c)) return GF_BAD_LD;
  const f32 = dtype == 1;
  const es: usize = f32 ? 4 : 8;
  const X = x + <usize>offX * es;
  const Z = z + <usize>offZ * es;
  const A = a + (<usize>offA << 3);
  const O = out + (<usize>offOut << 3);
  const ldOB = <usize>ldOut << 3;
  scaleOut(O, ldOB, n, c, beta);
  if (n == 0 || m == 0 || c == 0) return GF_OK;
  const xn = (work + 63) & ~(<usize>63);
  const zn = xn + (<usize>n << 3);
  const panel = (zn + (<usize>m << 3) + 63) & ~(<usize>63);
  const gw = panel + <usize>(PANEL_R * PANEL_C) * 8;
  rowNorms(X, f32, n, d, ldx, xn);
  rowNorms(Z, f32, m, d, ldz, zn);
  setup(kind, bandwidth, xn, zn);
  for (let i0 = 0; i0 < n; i0 += PANEL_R) {
    const r = min(PANEL_R, n - i0);
    for (let j0 = 0; j0 < m; j0 += PANEL_C) {
      const w = min(PANEL_C, m - j0);
      eGj0 = j0;
      setEpilogue(epiKernel);
      gemmCore(false, true, f32, r, w, d, -2.0, X + <usize>i0 * <usize>ldx * es, ldx, Z + <usize>j0 * <usize>ldz * es, ldz, 0.0, panel, w, gw, true, i0);
      setEpilogue(epiNone);
      gemmCore(false, false, false, r, c, w, 1.0, panel, w, A + <usize>j0 * (<usize>lda << 3), lda, 1.0, O + <usize>i0 * ldOB, ldOut, gw, false, 0);
    }
  }
  eGj0 = 0;
  return GF_OK;
}
