// Kernel block of byte features: out[n×m] (f32) = K(X, Z) for X (n×d) and Z (m×d) stored as
// bytes v whose features are v·scale (pixel bytes, scale 1/255; core/src/jobs/feature-bytes.ts).
// The dot products x·z are sums of byte products, so they are computed exactly in i32 by the
// packed i16 dot product (`i32x4.dot_i16x8_s`: eight products a step where the f32 tile of
// kernel-block-f32.ts does four), and so are the squared distances D = ‖x‖² + ‖z‖² − 2x·z of
// the bytes. The f32 epilogue of kernel-block-f32.ts then takes k at D·scale² (the bandwidth
// is divided by the scale once). Exact distances make the block bitwise symmetric and give
// coincident points k = 1 without a rounding floor; the entries differ from the f64 kernel by
// the epilogue's rounding only.
import { GF_BAD_LD, GF_BAD_SIZE, GF_OK } from './gemm';
import { GF_BAD_BANDWIDTH, checkArgs } from './kernel-block';
import { kernelOf32, setEpilogue32 } from './kernel-block-f32';

const MR: i32 = 4;
const NR: i32 = 8;
const MC: i32 = 96;
/** Features per slice of d (even: slices are packed in pairs). */
const KC: i32 = 512;
/** Panel of the block held at once (rows × columns); multiples of MC and NR. */
const PR: i32 = 192;
const PC: i32 = 1024;
/** Z panels are packed once for all of d when d ≤ this, else one KC slice at a time. */
const D_WHOLE: i32 = 8192;
/** The largest d whose byte distances fit an i32: d·255² < 2³¹. */
export const GF_U8_MAX_D: i32 = 33025;

// ---------------------------------------------------------------- packing

/**
 * Packs rows i0.. (`rows` of them, in micro-panels of `width` rows, zero-padded) × features
 * p0..p0+kc of the bytes at x (ld) as i16 pairs: for each pair of features and each row of a
 * micro-panel, (x[p], x[p+1]) in 4 bytes (x[p+1] = 0 past the slice).
 */
function packPairs(x: usize, ld: i32, i0: i32, rows: i32, p0: i32, kc: i32, width: i32, out: usize): void {
  let o = out;
  const pairs = (kc + 1) >> 1;
  const even = kc & ~1;
  for (let ir = 0; ir < rows; ir += width) {
    const cnt = min(width, rows - ir);
    for (let i = 0; i < width; i++) {
      let q = o + (<usize>i << 2);
      const step = <usize>width << 2;
      if (i >= cnt) {
        for (let pp = 0; pp < pairs; pp++) { store<u32>(q, 0); q += step; }
        continue;
      }
      const r = x + <usize>(i0 + ir + i) * <usize>ld + <usize>p0;
      for (let p = 0; p < even; p += 2) {
        const v = <u32>load<u16>(r + <usize>p);
        store<u32>(q, (v & 0xff) | ((v >> 8) << 16));
        q += step;
      }
      if (even < kc) store<u32>(q, <u32>load<u8>(r + <usize>even));
    }
    o += <usize>(pairs * width) << 2;
  }
}

// ---------------------------------------------------------------- micro-kernel + epilogue

/** T[0:4, 0:8] (i32, row pitch 32 bytes) = (first ? 0 : T) + Ap·Bp over kp pairs of features. */
@inline function micro4x8(kp: i32, pa: usize, pb: usize, t: usize, first: bool): void {
  let c00 = i32x4.splat(0), c01 = i32x4.splat(0);
  let c10 = i32x4.splat(0), c11 = i32x4.splat(0);
  let c20 = i32x4.splat(0), c21 = i32x4.splat(0);
  let c30 = i32x4.splat(0), c31 = i32x4.splat(0);
  for (let q = 0; q < kp; q++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(a, b0));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(a, b1));
    a = v128.load32_splat(pa, 4);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(a, b0));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(a, b1));
    a = v128.load32_splat(pa, 8);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(a, b0));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(a, b1));
    a = v128.load32_splat(pa, 12);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(a, b0));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(a, b1));
    pa += 16;
    pb += 32;
  }
  if (!first) {
    c00 = i32x4.add(c00, v128.load(t)); c01 = i32x4.add(c01, v128.load(t, 16));
    c10 = i32x4.add(c10, v128.load(t, 32)); c11 = i32x4.add(c11, v128.load(t, 48));
    c20 = i32x4.add(c20, v128.load(t, 64)); c21 = i32x4.add(c21, v128.load(t, 80));
    c30 = i32x4.add(c30, v128.load(t, 96)); c31 = i32x4.add(c31, v128.load(t, 112));
  }
  v128.store(t, c00); v128.store(t, c01, 16);
  v128.store(t, c10, 32); v128.store(t, c11, 48);
  v128.store(t, c20, 64); v128.store(t, c21, 80);
  v128.store(t, c30, 96); v128.store(t, c31, 112);
}

/** Kernel values of a finished 4×8 tile of byte dot products T, written as f32 at o (row pitch ldo floats). */
@inline function epilogue(kind: i32, t: usize, xn: usize, zn: usize, o: usize, ldo: i32, rows: i32, cols: i32): void {
  const z0 = v128.load(zn);
  const z1 = v128.load(zn, 16);
  for (let i = 0; i < rows; i++) {
    const xi = v128.load32_splat(xn + (<usize>i << 2));
    const tr = t + (<usize>i << 5);
    // D = ‖x‖² + ‖z‖² − 2x·z, exact in i32.
    const d0 = i32x4.sub(i32x4.add(xi, z0), i32x4.shl(v128.load(tr), 1));
    const d1 = i32x4.sub(i32x4.add(xi, z1), i32x4.shl(v128.load(tr, 16), 1));
    const k0 = kernelOf32(kind, f32x4.convert_i32x4_s(d0));
    const k1 = kernelOf32(kind, f32x4.convert_i32x4_s(d1));
    const or = o + <usize>i * (<usize>ldo << 2);
    if (cols == NR) {
      v128.store(or, k0);
      v128.store(or, k1, 16);
    } else {
      v128.store(tr, k0);
      v128.store(tr, k1, 16);
      for (let j = 0; j < cols; j++) store<f32>(or + (<usize>j << 2), load<f32>(tr + (<usize>j << 2)));
    }
  }
}

// ---------------------------------------------------------------- driver

@inline function packDepth(d: i32): i32 {
  return d <= D_WHOLE ? max(d, 2) : KC;
}

/** Workspace bytes of {@link gf_kernel_block_u8} for n rows of X, m rows of Z and d features. */
export function gf_kernel_block_u8_workspace_bytes(n: i32, m: i32, d: i32): usize {
  return <usize>(n + m + NR) * 4 // i32 norms (Z's padded to NR)
    + <usize>(MC * KC) * 2 // packed X: 4 bytes a pair of features a row
    + <usize>((packDepth(d) + 1) >> 1) * <usize>(PC + NR) * 4 // packed Z
    + <usize>(PR * (PC + NR)) * 4 // i32 partial sums, tile by tile
    + 4 * 64;
}

/** Squared byte norms of rows × d (ld), exact in i32; zero-padded to `pad` entries. */
function byteNorms(p: usize, rows: i32, d: i32, ld: i32, out: usize, pad: i32): void {
  for (let i = 0; i < rows; i++) {
    const r = p + <usize>i * <usize>ld;
    let s: i32 = 0;
    for (let j = 0; j < d; j++) {
      const v = <i32>load<u8>(r + <usize>j);
      s += v * v;
    }
    store<i32>(out + (<usize>i << 2), s);
  }
  for (let i = rows; i < pad; i++) store<i32>(out + (<usize>i << 2), 0);
}

@inline function align64(p: usize): usize {
  return (p + 63) & ~(<usize>63);
}

/**
 * out[n×m] (f32, offOut, ldOut) = K(X·scale, Z·scale) for bytes X (n×d, offX, ldx) and Z (m×d,
 * offZ, ldz) — offsets and leading dimensions in bytes — see the file comment. d ≤
 * {@link GF_U8_MAX_D}. The block is made PR×PC panel by panel, column panels outermost so each
 * packed Z panel serves every row panel, each panel slice by slice of d into i32 partial sums
 * kept tile by tile; the last slice turns each finished tile into kernel values.
 */
export function gf_kernel_block_u8(
  kind: i32, n: i32, m: i32, d: i32,
  x: usize, offX: i32, ldx: i32, z: usize, offZ: i32, ldz: i32, scale: f64, bandwidth: f64,
  out: usize, offOut: i32, ldOut: i32, work: usize,
): i32 {
  const s = checkArgs(kind, 1, n, m, d, ldx, ldz, bandwidth);
  if (s != GF_OK) return s;
  if (d > GF_U8_MAX_D) return GF_BAD_SIZE;
  if (!(scale > 0) || !isFinite(scale) || !isFinite(bandwidth / scale)) return GF_BAD_BANDWIDTH;
  if (ldOut < max(1, m)) return GF_BAD_LD;
  if (n == 0 || m == 0) return GF_OK;
  const X = x + <usize>offX, Z = z + <usize>offZ, O = out + (<usize>offOut << 2);
  const xn = align64(work);
  const zn = align64(xn + (<usize>n << 2));
  const pa = align64(zn + (<usize>(m + NR) << 2));
  const pb = align64(pa + <usize>(MC * KC) * 2);
  const acc = align64(pb + <usize>((packDepth(d) + 1) >> 1) * <usize>(PC + NR) * 4);
  byteNorms(X, n, d, ldx, xn, n);
  byteNorms(Z, m, d, ldz, zn, m + NR);
  // k at D·scale² with bandwidth σ is k at D with bandwidth σ/scale.
  setEpilogue32(kind, bandwidth / scale);
  const tileB: usize = <usize>(MR * NR) * 4;
  const whole = d <= D_WHOLE;
  for (let j0 = 0; j0 < m; j0 += PC) {
    const w = min(PC, m - j0);
    const tilesPerRow = (w + NR - 1) / NR;
    const wp = tilesPerRow * NR;
    // The Z panel, packed once for every row panel of X when it fits (slice p0 at p0/2·wp pairs).
    if (whole) for (let p0 = 0; p0 < d; p0 += KC) packPairs(Z, ldz, j0, w, p0, min(KC, d - p0), NR, pb + <usize>((p0 >> 1) * wp) * 4);
    for (let i0 = 0; i0 < n; i0 += PR) {
      const r = min(PR, n - i0);
      if (d == 0) memory.fill(acc, 0, <usize>(((r + MR - 1) / MR) * tilesPerRow) * tileB);
      for (let p0 = 0; p0 < d || (d == 0 && p0 == 0); p0 += KC) {
        const kc = min(KC, d - p0);
        const kp = (kc + 1) >> 1;
        const first = p0 == 0 && d > 0;
        const last = p0 + kc >= d;
        const pbs = whole ? pb + <usize>((p0 >> 1) * wp) * 4 : pb;
        if (kc > 0 && !whole) packPairs(Z, ldz, j0, w, p0, kc, NR, pb);
        for (let ic = 0; ic < r; ic += MC) {
          const mc = min(MC, r - ic);
          if (kc > 0) packPairs(X, ldx, i0 + ic, mc, p0, kc, MR, pa);
          for (let jr = 0; jr < w; jr += NR) {
            const pbj = pbs + <usize>(jr * kp) * 4;
            for (let ir = 0; ir < mc; ir += MR) {
              const t = acc + <usize>(((ic + ir) / MR) * tilesPerRow + jr / NR) * tileB;
              if (kc > 0) micro4x8(kp, pa + <usize>(ir * kp) * 4, pbj, t, first);
              if (!last) continue;
              const xr = xn + (<usize>(i0 + ic + ir) << 2), zr = zn + (<usize>(j0 + jr) << 2);
              epilogue(kind, t, xr, zr, O + ((<usize>(i0 + ic + ir) * <usize>ldOut + <usize>(j0 + jr)) << 2), ldOut, min(MR, mc - ir), min(NR, w - jr));
            }
          }
        }
        if (d == 0) break;
      }
    }
  }
  return GF_OK;
}
