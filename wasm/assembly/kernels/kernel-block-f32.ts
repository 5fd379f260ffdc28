// f32-accumulated fused kernel block times matrix: out = beta·out + K(X, Z)·A where the dot
// products x·z run in an f32x4 packed GEMM (4×8 register tile, twice the lanes of the f64
// path in kernel-block.ts) and the kernel epilogue runs in f32 on each finished tile while it
// is in L1, then widens the tile to f64 into a panel that the f64 GEMM multiplies into A.
// X (n×d) and Z (m×d) are row-major f32. This is the `accumulate: 'f32'` variant of
// `kernel-block-matmul` (core/src/ops/kernel-block.ts states its error bound); the f64 path
// stays the default and the reference.
import { GF_BAD_LD, GF_BAD_SIZE, GF_OK, gemmCore, gf_gemm_workspace_bytes, setEpilogue, epiNone } from './gemm';
import { K_CAUCHY, K_GAUSSIAN, K_MATERN32, K_MATERN52, checkArgs, scaleOut } from './kernel-block';

const MR: i32 = 4;
const NR: i32 = 8;
const MC: i32 = 96;
const KC: i32 = 256;
/** Panel of the block held at once (rows × columns); multiples of MC and NR. */
const PR: i32 = 192;
const PC: i32 = 1024;

/** c + a·b per lane: fused (relaxed-SIMD) in the GF_FMA build, mul + add otherwise. */
// @ts-ignore: GF_FMA is defined only by `asc --use GF_FMA=1`
@inline function fmadd32(a: v128, b: v128, c: v128): v128 {
  // @ts-ignore
  if (isDefined(GF_FMA)) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// ---------------------------------------------------------------- f32 vector exp

/** e^x for four lanes, x ≤ 0 (x < −87.3 gives about 1e-38); relative error about 2 ulp. */
@inline function expNeg32(x: v128): v128 {
  x = f32x4.pmax(x, f32x4.splat(-87.3));
  const kf = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.442695041)));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(kf, f32x4.splat(0.693359375))), f32x4.mul(kf, f32x4.splat(-2.12194440e-4)));
  // Taylor polynomial of degree 7 on |r| ≤ ln2/2 (truncation ≈ 5e-9).
  let p = f32x4.splat(1.9841270e-4); // 1/7!
  p = fmadd32(p, r, f32x4.splat(1.3888889e-3));
  p = fmadd32(p, r, f32x4.splat(8.3333333e-3));
  p = fmadd32(p, r, f32x4.splat(4.1666667e-2));
  p = fmadd32(p, r, f32x4.splat(0.16666667));
  p = fmadd32(p, r, f32x4.splat(0.5));
  p = fmadd32(p, r, f32x4.splat(1.0));
  p = fmadd32(p, r, f32x4.splat(1.0));
  // 2^k, k in [−126, 0]: a normal f32.
  const k = i32x4.trunc_sat_f32x4_s(kf);
  return f32x4.mul(p, i32x4.shl(i32x4.add(k, i32x4.splat(127)), 23));
}

let eKind: i32 = 0;
let eInvS: f32 = 1;
let eInvS2: f32 = 1;
let eFloor: f32 = 0; // γ = (d + 4)·2⁻²⁴: the f32 rounding bound of d² relative to ‖x‖² + ‖z‖²

/** Sets the f32 epilogue's kernel and bandwidth (read by {@link kernelOf32}); returns the kind. */
export function setEpilogue32(kind: i32, bandwidth: f64): i32 {
  eKind = kind;
  eInvS = <f32>(1.0 / bandwidth);
  eInvS2 = <f32>(1.0 / (bandwidth * bandwidth));
  return kind;
}

/** k(d²) for four lanes of squared distances, with the bandwidth set by {@link setEpilogue32}. */
@inline export function kernelOf32(kind: i32, d2: v128): v128 {
  if (kind == K_GAUSSIAN) return expNeg32(f32x4.mul(d2, f32x4.splat(-0.5 * eInvS2)));
  if (kind == K_CAUCHY) return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), f32x4.mul(d2, f32x4.splat(eInvS2))));
  const r = f32x4.mul(f32x4.sqrt(d2), f32x4.splat(eInvS));
  if (kind == K_MATERN32) {
    const t = f32x4.mul(r, f32x4.splat(1.7320508));
    return f32x4.mul(f32x4.add(f32x4.splat(1.0), t), expNeg32(f32x4.neg(t)));
  }
  if (kind == K_MATERN52) {
    const t = f32x4.mul(r, f32x4.splat(2.236068));
    const poly = f32x4.add(f32x4.add(f32x4.splat(1.0), t), f32x4.mul(f32x4.mul(t, t), f32x4.splat(<f32>(1.0 / 3.0))));
    return f32x4.mul(poly, expNeg32(f32x4.neg(t)));
  }
  return expNeg32(f32x4.neg(r)); // laplacian = matern 1/2
}

// ---------------------------------------------------------------- packing

/** Packs rows i0.. (mc of them) × columns p0..p0+kc of X (f32, ld) into MR-row micro-panels, zero-padded. */
function packRows(x: usize, ld: i32, i0: i32, rows: i32, p0: i32, kc: i32, width: i32, out: usize): void {
  let o = out;
  for (let ir = 0; ir < rows; ir += width) {
    const cnt = min(width, rows - ir);
    if (cnt == width && width == NR) {
      const r0 = x + (<usize>(i0 + ir) * <usize>ld + <usize>p0) * 4;
      const st = <usize>ld * 4;
      for (let p = 0; p < kc; p++) {
        const q = r0 + (<usize>p << 2);
        store<f32>(o, load<f32>(q));
        store<f32>(o, load<f32>(q + st), 4);
        store<f32>(o, load<f32>(q + 2 * st), 8);
        store<f32>(o, load<f32>(q + 3 * st), 12);
        store<f32>(o, load<f32>(q + 4 * st), 16);
        store<f32>(o, load<f32>(q + 5 * st), 20);
        store<f32>(o, load<f32>(q + 6 * st), 24);
        store<f32>(o, load<f32>(q + 7 * st), 28);
        o += 32;
      }
    } else if (cnt == width && width == MR) {
      const r0 = x + (<usize>(i0 + ir) * <usize>ld + <usize>p0) * 4;
      const st = <usize>ld * 4;
      for (let p = 0; p < kc; p++) {
        const q = <usize>p << 2;
        store<f32>(o, load<f32>(r0 + q));
        store<f32>(o, load<f32>(r0 + st + q), 4);
        store<f32>(o, load<f32>(r0 + 2 * st + q), 8);
        store<f32>(o, load<f32>(r0 + 3 * st + q), 12);
        o += 16;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let i = 0; i < width; i++) {
          let v: f32 = 0;
          if (i < cnt) v = load<f32>(x + (<usize>(i0 + ir + i) * <usize>ld + <usize>(p0 + p)) * 4);
          store<f32>(o + (<usize>i << 2), v);
        }
        o += <usize>width << 2;
      }
    }
  }
}

// ---------------------------------------------------------------- micro-kernel + epilogue

/** T[0:4, 0:8] (f32, row pitch 32 bytes) = (first ? 0 : T) + Ap·Bp over kc steps. */
@inline function micro4x8(kc: i32, pa: usize, pb: usize, t: usize, first: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = fmadd32(a, b0, c00);
    c01 = fmadd32(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = fmadd32(a, b0, c10);
    c11 = fmadd32(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = fmadd32(a, b0, c20);
    c21 = fmadd32(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = fmadd32(a, b0, c30);
    c31 = fmadd32(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  if (!first) {
    c00 = f32x4.add(c00, v128.load(t)); c01 = f32x4.add(c01, v128.load(t, 16));
    c10 = f32x4.add(c10, v128.load(t, 32)); c11 = f32x4.add(c11, v128.load(t, 48));
    c20 = f32x4.add(c20, v128.load(t, 64)); c21 = f32x4.add(c21, v128.load(t, 80));
    c30 = f32x4.add(c30, v128.load(t, 96)); c31 = f32x4.add(c31, v128.load(t, 112));
  }
  v128.store(t, c00); v128.store(t, c01, 16);
  v128.store(t, c10, 32); v128.store(t, c11, 48);
  v128.store(t, c20, 64); v128.store(t, c21, 80);
  v128.store(t, c30, 96); v128.store(t, c31, 112);
}

/**
 * Kernel values of a finished 4×8 tile: T holds x·z; writes k(d²) as f64 to the panel at
 * (row, col) for the rows × cols that are inside the block, with d² = ‖x‖² + ‖z‖² − 2x·z set to
 * 0 where it is below its own f32 rounding bound γ·(‖x‖² + ‖z‖²): such points are the same to
 * within the computation's precision, and coincident points (the diagonal of K(X, X)) get
 * k(0) = 1 exactly instead of a rounding-noise distance that the sqrt kernels would amplify.
 */
@inline function epilogue(t: usize, xn: usize, zn: usize, panel: usize, ldp: i32, rows: i32, cols: i32, f32out: bool): void {
  const kind = eKind;
  const minus2 = f32x4.splat(-2);
  const z0 = v128.load(zn);
  const z1 = v128.load(zn, 16);
  const g = f32x4.splat(eFloor);
  const ldpB = <usize>ldp << 3;
  for (let i = 0; i < rows; i++) {
    const xi = v128.load32_splat(xn + (<usize>i << 2));
    const tr = t + (<usize>i << 5);
    const s0 = f32x4.add(xi, z0);
    const s1 = f32x4.add(xi, z1);
    const d0 = fmadd32(v128.load(tr), minus2, s0);
    const d1 = fmadd32(v128.load(tr, 16), minus2, s1);
    // d² > γ·(‖x‖² + ‖z‖²) is kept, anything below (negative values included) becomes 0.
    const k0 = kernelOf32(kind, v128.and(d0, f32x4.gt(d0, f32x4.mul(g, s0))));
    const k1 = kernelOf32(kind, v128.and(d1, f32x4.gt(d1, f32x4.mul(g, s1))));
    if (f32out) {
      // kernel-block with f32 output: the same values, stored as computed (row pitch ldp f32s).
      const o32 = panel + <usize>i * (<usize>ldp << 2);
      if (cols == NR) {
        v128.store(o32, k0);
        v128.store(o32, k1, 16);
      } else {
        v128.store(t + (<usize>i << 5), k0);
        v128.store(t + (<usize>i << 5), k1, 16);
        for (let j = 0; j < cols; j++) store<f32>(o32 + (<usize>j << 2), load<f32>(t + (<usize>i << 5) + (<usize>j << 2)));
      }
      continue;
    }
    const o = panel + <usize>i * ldpB;
    if (cols == NR) {
      v128.store(o, f64x2.promote_low_f32x4(k0));
      v128.store(o, f64x2.promote_low_f32x4(v128.shuffle<f32>(k0, k0, 2, 3, 0, 1)), 16);
      v128.store(o, f64x2.promote_low_f32x4(k1), 32);
      v128.store(o, f64x2.promote_low_f32x4(v128.shuffle<f32>(k1, k1, 2, 3, 0, 1)), 48);
    } else {
      v128.store(t + (<usize>i << 5), k0);
      v128.store(t + (<usize>i << 5), k1, 16);
      for (let j = 0; j < cols; j++) store<f64>(o + (<usize>j << 3), <f64>load<f32>(t + (<usize>i << 5) + (<usize>j << 2)));
    }
  }
}

// ---------------------------------------------------------------- driver

/** Z panels are packed once for all of d when d ≤ this (≤ 16 MB), else one KC slice at a time. */
const D_WHOLE: i32 = 4096;

/** Depth of the packed Z panel: all of d, or one slice. */
@inline function packDepth(d: i32): i32 {
  return d <= D_WHOLE ? max(d, 1) : KC;
}

/** Workspace bytes of {@link gf_kernel_block_matmul_f32} for n rows of X, m rows of Z and d features. */
export function gf_kernel_block_matmul_f32_workspace_bytes(n: i32, m: i32, d: i32): usize {
  return gf_gemm_workspace_bytes()
    + <usize>(n + m + NR) * 4 // f32 norms (Z's padded to NR)
    + <usize>(MC * KC) * 4 // packed X
    + <usize>packDepth(d) * <usize>(PC + NR) * 4 // packed Z
    + <usize>(PR * (PC + NR)) * 4 // f32 partial sums, tile by tile
    + <usize>(PR * PC) * 8 // f64 kernel panel
    + 6 * 64;
}

/** Squared row norms, summed in f64 and rounded to f32, of rows × d (f32, ld); zero-padded to `pad` entries. */
function rowNorms32(p: usize, rows: i32, d: i32, ld: i32, out: usize, pad: i32): void {
  for (let i = 0; i < rows; i++) {
    const r = p + <usize>i * <usize>ld * 4;
    let s: f64 = 0;
    for (let j = 0; j < d; j++) {
      const v = <f64>load<f32>(r + (<usize>j << 2));
      s += v * v;
    }
    store<f32>(out + (<usize>i << 2), <f32>s);
  }
  for (let i = rows; i < pad; i++) store<f32>(out + (<usize>i << 2), 0);
}

@inline function align64(p: usize): usize {
  return (p + 63) & ~(<usize>63);
}

/**
 * out[n×c] (f64, offOut, ldOut) = beta·out + K(X, Z)·A with X (n×d, offX, ldx) and Z (m×d,
 * offZ, ldz) f32, A (m×c f64, offA, lda): x·z accumulated in f32 (see the file comment).
 * The block is made PR×PC panel by panel, column panels outermost so each packed Z panel
 * serves every row panel; each panel's dot products run slice by slice of d (KC wide, so the
 * packed micro-panels stay in L1) into f32 partial sums kept tile by tile, and the last slice
 * turns every finished tile into f64 kernel values.
 */
export function gf_kernel_block_matmul_f32(
  kind: i32, n: i32, m: i32, d: i32, c: i32,
  x: usize, offX: i32, ldx: i32, z: usize, offZ: i32, ldz: i32, bandwidth: f64,
  a: usize, offA: i32, lda: i32, beta: f64, out: usize, offOut: i32, ldOut: i32, work: usize,
): i32 {
  const s = checkArgs(kind, 1, n, m, d, ldx, ldz, bandwidth);
  if (s != GF_OK) return s;
  if (c < 0) return GF_BAD_SIZE;
  if (lda < max(1, c) || ldOut < max(1, c)) return GF_BAD_LD;
  const O = out + (<usize>offOut << 3);
  scaleOut(O, <usize>ldOut << 3, n, c, beta);
  if (n == 0 || m == 0 || c == 0) return GF_OK;
  drive(kind, n, m, d, c, x + (<usize>offX << 2), ldx, z + (<usize>offZ << 2), ldz, bandwidth, a + (<usize>offA << 3), lda, O, ldOut, work, false);
  return GF_OK;
}

/**
 * The f32 kernel block itself: out[n×m] (f32, offOut, ldOut) = K(X, Z), entry for entry the
 * values that {@link gf_kernel_block_matmul_f32} multiplies into A (the same tiles, the same
 * epilogue). Workspace: {@link gf_kernel_block_matmul_f32_workspace_bytes}.
 */
export function gf_kernel_block_f32(
  kind: i32, n: i32, m: i32, d: i32,
  x: usize, offX: i32, ldx: i32, z: usize, offZ: i32, ldz: i32, bandwidth: f64,
  out: usize, offOut: i32, ldOut: i32, work: usize,
): i32 {
  const s = checkArgs(kind, 1, n, m, d, ldx, ldz, bandwidth);
  if (s != GF_OK) return s;
  if (ldOut < max(1, m)) return GF_BAD_LD;
  if (n == 0 || m == 0) return GF_OK;
  drive(kind, n, m, d, 0, x + (<usize>offX << 2), ldx, z + (<usize>offZ << 2), ldz, bandwidth, 0, 0, out + (<usize>offOut << 2), ldOut, work, true);
  return GF_OK;
}

/** The panel loop of both entry points: `f32out` writes kernel values to O (f32, ldOut) instead of multiplying them into A. */
function drive(
  kind: i32, n: i32, m: i32, d: i32, c: i32, X: usize, ldx: i32, Z: usize, ldz: i32, bandwidth: f64,
  A: usize, lda: i32, O: usize, ldOut: i32, work: usize, f32out: bool,
): void {
  const ldOB = <usize>ldOut << 3;
  const xn = align64(work);
  const zn = align64(xn + (<usize>n << 2));
  const pa = align64(zn + (<usize>(m + NR) << 2));
  const pb = align64(pa + <usize>(MC * KC) * 4);
  const acc = align64(pb + <usize>packDepth(d) * <usize>(PC + NR) * 4);
  const panel = align64(acc + <usize>(PR * (PC + NR)) * 4);
  const gw = align64(panel + <usize>(PR * PC) * 8);
  rowNorms32(X, n, d, ldx, xn, n);
  rowNorms32(Z, m, d, ldz, zn, m + NR);
  setEpilogue32(kind, bandwidth);
  eFloor = <f32>(<f64>(d + 4) * 5.9604644775390625e-8);
  setEpilogue(epiNone);
  const tileB: usize = <usize>(MR * NR) * 4;
  const whole = d <= D_WHOLE;
  for (let j0 = 0; j0 < m; j0 += PC) {
    const w = min(PC, m - j0);
    const tilesPerRow = (w + NR - 1) / NR;
    const wp = tilesPerRow * NR;
    // The Z panel, packed once for every row panel of X when it fits (slice p0 at p0·wp).
    if (whole) for (let p0 = 0; p0 < d; p0 += KC) packRows(Z, ldz, j0, w, p0, min(KC, d - p0), NR, pb + <usize>(p0 * wp) * 4);
    for (let i0 = 0; i0 < n; i0 += PR) {
      const r = min(PR, n - i0);
      // The panel's dot products, slice by slice of d, into f32 partial sums kept tile by tile;
      // the last slice turns each finished tile into kernel values.
      if (d == 0) memory.fill(acc, 0, <usize>(((r + MR - 1) / MR) * tilesPerRow) * tileB);
      for (let p0 = 0; p0 < d || (d == 0 && p0 == 0); p0 += KC) {
        const kc = min(KC, d - p0);
        const first = p0 == 0 && d > 0;
        const last = p0 + kc >= d;
        const pbs = whole ? pb + <usize>(p0 * wp) * 4 : pb;
        if (kc > 0 && !whole) packRows(Z, ldz, j0, w, p0, kc, NR, pb);
        for (let ic = 0; ic < r; ic += MC) {
          const mc = min(MC, r - ic);
          if (kc > 0) packRows(X, ldx, i0 + ic, mc, p0, kc, MR, pa);
          for (let jr = 0; jr < w; jr += NR) {
            const pbj = pbs + <usize>(jr * kc) * 4;
            for (let ir = 0; ir < mc; ir += MR) {
              const t = acc + <usize>(((ic + ir) / MR) * tilesPerRow + jr / NR) * tileB;
              if (kc > 0) micro4x8(kc, pa + <usize>(ir * kc) * 4, pbj, t, first);
              if (!last) continue;
              const xr = xn + (<usize>(i0 + ic + ir) << 2), zr = zn + (<usize>(j0 + jr) << 2);
              const rows = min(MR, mc - ir), cols = min(NR, w - jr);
              if (f32out) epilogue(t, xr, zr, O + ((<usize>(i0 + ic + ir) * <usize>ldOut + <usize>(j0 + jr)) << 2), ldOut, rows, cols, true);
              else epilogue(t, xr, zr, panel + (<usize>((ic + ir) * w + jr) << 3), w, rows, cols, false);
            }
          }
        }
        if (d == 0) break;
      }
      if (!f32out) gemmCore(false, false, false, r, c, w, 1.0, panel, w, A + <usize>j0 * (<usize>lda << 3), lda, 1.0, O + <usize>i0 * ldOB, ldOut, gw, false, 0);
    }
  }
}
