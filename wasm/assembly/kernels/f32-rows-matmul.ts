// out[n×c] (f64) = K·A for an f32 matrix K (n×m, row pitch ldk) and an f64 matrix A (m×c, lda):
// the product of kernel rows kept in f32 (the workers' kernel-row cache) with coefficients.
// Every entry is Σ_j K[i,j]·A[j,q] summed in f64 in ascending j with a plain multiply and add
// (no FMA), so the bits do not depend on the row or column tiling or on the build.
import { GF_BAD_LD, GF_BAD_SIZE, GF_OK } from './gemm';

/** Rows of K at once (A's loads are shared by them). */
const RB: i32 = 4;
/** Bytes of A per column block of K (a block of A stays in L2 while the rows pass over it). */
const A_BLOCK_BYTES: i32 = 256 * 1024;

@inline function kv(k: usize, i: usize, ldkB: usize, j: usize): v128 {
  return f64x2.splat(<f64>load<f32>(k + i * ldkB + (j << 2)));
}

/** out[i0..i0+rows, q0..q0+4) for rows ≤ RB (the rest of the rows are padded). */
function block4(k: usize, ldkB: usize, i0: usize, rows: i32, j0: usize, j1: usize, a: usize, ldaB: usize, q0: usize, out: usize, ldoB: usize): void {
  const o = out + i0 * ldoB + (q0 << 3);
  // The first column block starts the sums at 0; later ones go on from the partial sums in out.
  const go = j0 > 0;
  const o1 = o + <usize>min(1, rows - 1) * ldoB, o2 = o + <usize>min(2, rows - 1) * ldoB, o3 = o + <usize>min(3, rows - 1) * ldoB;
  let c00 = go ? v128.load(o) : f64x2.splat(0), c01 = go ? v128.load(o, 16) : f64x2.splat(0);
  let c10 = go ? v128.load(o1) : f64x2.splat(0), c11 = go ? v128.load(o1, 16) : f64x2.splat(0);
  let c20 = go ? v128.load(o2) : f64x2.splat(0), c21 = go ? v128.load(o2, 16) : f64x2.splat(0);
  let c30 = go ? v128.load(o3) : f64x2.splat(0), c31 = go ? v128.load(o3, 16) : f64x2.splat(0);
  const r1 = i0 + <usize>min(1, rows - 1), r2 = i0 + <usize>min(2, rows - 1), r3 = i0 + <usize>min(3, rows - 1);
  let ap = a + j0 * ldaB + (q0 << 3);
  for (let j: usize = j0; j < j1; j++) {
    const a0 = v128.load(ap), a1 = v128.load(ap, 16);
    let s = kv(k, i0, ldkB, j);
    c00 = f64x2.add(c00, f64x2.mul(s, a0)); c01 = f64x2.add(c01, f64x2.mul(s, a1));
    s = kv(k, r1, ldkB, j);
    c10 = f64x2.add(c10, f64x2.mul(s, a0)); c11 = f64x2.add(c11, f64x2.mul(s, a1));
    s = kv(k, r2, ldkB, j);
    c20 = f64x2.add(c20, f64x2.mul(s, a0)); c21 = f64x2.add(c21, f64x2.mul(s, a1));
    s = kv(k, r3, ldkB, j);
    c30 = f64x2.add(c30, f64x2.mul(s, a0)); c31 = f64x2.add(c31, f64x2.mul(s, a1));
    ap += ldaB;
  }
  v128.store(o, c00); v128.store(o, c01, 16);
  if (rows > 1) { v128.store(o + ldoB, c10); v128.store(o + ldoB, c11, 16); }
  if (rows > 2) { v128.store(o + 2 * ldoB, c20); v128.store(o + 2 * ldoB, c21, 16); }
  if (rows > 3) { v128.store(o + 3 * ldoB, c30); v128.store(o + 3 * ldoB, c31, 16); }
}

/** out[i0..i0+rows, q0..q0+2) for rows ≤ RB: two columns in one f64x2 per row. */
function block2(k: usize, ldkB: usize, i0: usize, rows: i32, j0: usize, j1: usize, a: usize, ldaB: usize, q0: usize, out: usize, ldoB: usize): void {
  const o = out + i0 * ldoB + (q0 << 3);
  const go = j0 > 0;
  const o1 = o + <usize>min(1, rows - 1) * ldoB, o2 = o + <usize>min(2, rows - 1) * ldoB, o3 = o + <usize>min(3, rows - 1) * ldoB;
  let c0 = go ? v128.load(o) : f64x2.splat(0), c1 = go ? v128.load(o1) : f64x2.splat(0);
  let c2 = go ? v128.load(o2) : f64x2.splat(0), c3 = go ? v128.load(o3) : f64x2.splat(0);
  const r1 = i0 + <usize>min(1, rows - 1), r2 = i0 + <usize>min(2, rows - 1), r3 = i0 + <usize>min(3, rows - 1);
  let ap = a + j0 * ldaB + (q0 << 3);
  for (let j: usize = j0; j < j1; j++) {
    const a0 = v128.load(ap);
    c0 = f64x2.add(c0, f64x2.mul(kv(k, i0, ldkB, j), a0));
    c1 = f64x2.add(c1, f64x2.mul(kv(k, r1, ldkB, j), a0));
    c2 = f64x2.add(c2, f64x2.mul(kv(k, r2, ldkB, j), a0));
    c3 = f64x2.add(c3, f64x2.mul(kv(k, r3, ldkB, j), a0));
    ap += ldaB;
  }
  v128.store(o, c0);
  if (rows > 1) v128.store(o + ldoB, c1);
  if (rows > 2) v128.store(o + 2 * ldoB, c2);
  if (rows > 3) v128.store(o + 3 * ldoB, c3);
}

/** One column q of out for rows i0.. (≤ RB of them): scalar, one independent sum per row. */
function column1(k: usize, ldkB: usize, i0: usize, rows: i32, j0: usize, j1: usize, a: usize, ldaB: usize, q: usize, out: usize, ldoB: usize): void {
  const o = out + i0 * ldoB + (q << 3);
  const go = j0 > 0;
  const o1 = o + <usize>min(1, rows - 1) * ldoB, o2 = o + <usize>min(2, rows - 1) * ldoB, o3 = o + <usize>min(3, rows - 1) * ldoB;
  const k0 = k + i0 * ldkB;
  const k1 = k + (i0 + <usize>min(1, rows - 1)) * ldkB, k2 = k + (i0 + <usize>min(2, rows - 1)) * ldkB, k3 = k + (i0 + <usize>min(3, rows - 1)) * ldkB;
  let s0: f64 = go ? load<f64>(o) : 0, s1: f64 = go ? load<f64>(o1) : 0, s2: f64 = go ? load<f64>(o2) : 0, s3: f64 = go ? load<f64>(o3) : 0;
  let ap = a + j0 * ldaB + (q << 3);
  for (let j: usize = j0; j < j1; j++) {
    const av = load<f64>(ap), jb = j << 2;
    s0 = s0 + <f64>load<f32>(k0 + jb) * av;
    s1 = s1 + <f64>load<f32>(k1 + jb) * av;
    s2 = s2 + <f64>load<f32>(k2 + jb) * av;
    s3 = s3 + <f64>load<f32>(k3 + jb) * av;
    ap += ldaB;
  }
  store<f64>(o, s0);
  if (rows > 1) store<f64>(o + ldoB, s1);
  if (rows > 2) store<f64>(o + 2 * ldoB, s2);
  if (rows > 3) store<f64>(o + 3 * ldoB, s3);
}

/** out[n×c] (f64, ldo) = K·A, K n×m f32 (ldk), A m×c f64 (lda); see the file comment. */
export function gf_f32_rows_matmul(n: i32, m: i32, c: i32, k: usize, ldk: i32, a: usize, lda: i32, out: usize, ldo: i32): i32 {
  if (n < 0 || m < 0 || c < 0) return GF_BAD_SIZE;
  if (ldk < max(1, m) || lda < max(1, c) || ldo < max(1, c)) return GF_BAD_LD;
  const ldkB = <usize>ldk << 2, ldaB = <usize>lda << 3, ldoB = <usize>ldo << 3;
  if (m === 0) {
    for (let i = 0; i < n; i++) for (let q = 0; q < c; q++) store<f64>(out + <usize>i * ldoB + (<usize>q << 3), 0);
    return GF_OK;
  }
  // Column blocks of K (row blocks of A) small enough that A's block stays in the core's cache
  // while every row of K passes over it; the sums go on across blocks through out, so each is
  // still one f64 sum in ascending j.
  const jb = <usize>max(64, <i32>(A_BLOCK_BYTES / (max(1, c) << 3)));
  for (let j0: usize = 0; j0 < <usize>m; j0 += jb) {
    const j1 = min(<usize>m, j0 + jb);
    for (let i = 0; i < n; i += RB) {
      const rows = min(RB, n - i);
      let q = 0;
      for (; q + 4 <= c; q += 4) block4(k, ldkB, <usize>i, rows, j0, j1, a, ldaB, <usize>q, out, ldoB);
      for (; q + 2 <= c; q += 2) block2(k, ldkB, <usize>i, rows, j0, j1, a, ldaB, <usize>q, out, ldoB);
      for (; q < c; q++) column1(k, ldkB, <usize>i, rows, j0, j1, a, ldaB, <usize>q, out, ldoB);
    }
  }
  return GF_OK;
}
