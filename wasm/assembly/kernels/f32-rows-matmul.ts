// out[n×c] (f64) = K·A for an f32 matrix K (n×m, row pitch ldk) and an f64 matrix A (m×c, lda):
// the product of kernel rows kept in f32 (the workers' kernel-row cache) with coefficients.
// Every entry is Σ_j K[i,j]·A[j,q] summed in f64 in ascending j with a plain multiply and add
// (no FMA), so the bits do not depend on the row or column tiling or on the build. Each block
// of RB rows × a column block of K is widened to f64 once, into the workspace, and every
// group of output columns reads it from there (with c = 158 columns, the preconditioner's, a
// K entry was otherwise converted 40 times).
import { GF_BAD_LD, GF_BAD_SIZE, GF_OK } from './gemm';

/** Rows of K at once (A's loads are shared by them). */
const RB: i32 = 4;
/** Bytes of A per column block of K (a block of A stays in L2 while the rows pass over it). */
const A_BLOCK_BYTES: i32 = 256 * 1024;
/** Most columns in a column block (the scratch holds RB rows of them in f64). */
const JB_MAX: i32 = 8192;
/** RB rows × JB_MAX columns of K widened to f64: row r of the current block at WIDE + r·JB_MAX·8 (the workspace). */
let WIDE: usize = 0;

/** Workspace bytes of {@link gf_f32_rows_matmul}. */
export function gf_f32_rows_matmul_workspace_bytes(): usize {
  return <usize>(RB * JB_MAX) * 8 + 16;
}

/** Rows i0..i0+rows of K, columns j0..j1, widened to f64 into WIDE (row r at r·JB_MAX·8, columns from 0). */
function widen(k: usize, ldkB: usize, i0: usize, rows: i32, j0: usize, j1: usize): void {
  const w = j1 - j0;
  for (let r = 0; r < rows; r++) {
    const src = k + (i0 + <usize>r) * ldkB + (j0 << 2), dst = WIDE + <usize>r * (<usize>JB_MAX << 3);
    let j: usize = 0;
    for (; j + 4 <= w; j += 4) {
      const v = v128.load(src + (j << 2));
      v128.store(dst + (j << 3), f64x2.promote_low_f32x4(v));
      v128.store(dst + (j << 3), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), 16);
    }
    for (; j < w; j++) store<f64>(dst + (j << 3), <f64>load<f32>(src + (j << 2)));
  }
}

/** The widened rows' f64 row pitch in bytes. */
const WB: usize = <usize>JB_MAX << 3;

/** Row r of the widened block (rows past `rows` repeat the last one: computed, not stored). */
@inline function wrow(r: i32, rows: i32): usize {
  return WIDE + <usize>min(r, rows - 1) * WB;
}

/** out[i0..i0+rows, q0..q0+4) for rows ≤ RB, from the widened block of columns j0..j1. */
function block4(i0: usize, rows: i32, j0: usize, j1: usize, a: usize, ldaB: usize, q0: usize, out: usize, ldoB: usize): void {
  const o = out + i0 * ldoB + (q0 << 3);
  // The first column block starts the sums at 0; later ones go on from the partial sums in out.
  const go = j0 > 0;
  const o1 = o + <usize>min(1, rows - 1) * ldoB, o2 = o + <usize>min(2, rows - 1) * ldoB, o3 = o + <usize>min(3, rows - 1) * ldoB;
  let c00 = go ? v128.load(o) : f64x2.splat(0), c01 = go ? v128.load(o, 16) : f64x2.splat(0);
  let c10 = go ? v128.load(o1) : f64x2.splat(0), c11 = go ? v128.load(o1, 16) : f64x2.splat(0);
  let c20 = go ? v128.load(o2) : f64x2.splat(0), c21 = go ? v128.load(o2, 16) : f64x2.splat(0);
  let c30 = go ? v128.load(o3) : f64x2.splat(0), c31 = go ? v128.load(o3, 16) : f64x2.splat(0);
  const w0 = wrow(0, rows), w1 = wrow(1, rows), w2 = wrow(2, rows), w3 = wrow(3, rows);
  let ap = a + j0 * ldaB + (q0 << 3);
  const w = (j1 - j0) << 3;
  for (let jj: usize = 0; jj < w; jj += 8) {
    const a0 = v128.load(ap), a1 = v128.load(ap, 16);
    let s = v128.load64_splat(w0 + jj);
    c00 = f64x2.add(c00, f64x2.mul(s, a0)); c01 = f64x2.add(c01, f64x2.mul(s, a1));
    s = v128.load64_splat(w1 + jj);
    c10 = f64x2.add(c10, f64x2.mul(s, a0)); c11 = f64x2.add(c11, f64x2.mul(s, a1));
    s = v128.load64_splat(w2 + jj);
    c20 = f64x2.add(c20, f64x2.mul(s, a0)); c21 = f64x2.add(c21, f64x2.mul(s, a1));
    s = v128.load64_splat(w3 + jj);
    c30 = f64x2.add(c30, f64x2.mul(s, a0)); c31 = f64x2.add(c31, f64x2.mul(s, a1));
    ap += ldaB;
  }
  v128.store(o, c00); v128.store(o, c01, 16);
  if (rows > 1) { v128.store(o + ldoB, c10); v128.store(o + ldoB, c11, 16); }
  if (rows > 2) { v128.store(o + 2 * ldoB, c20); v128.store(o + 2 * ldoB, c21, 16); }
  if (rows > 3) { v128.store(o + 3 * ldoB, c30); v128.store(o + 3 * ldoB, c31, 16); }
}

/** out[i0..i0+rows, q0..q0+2) for rows ≤ RB: two columns in one f64x2 per row. */
function block2(i0: usize, rows: i32, j0: usize, j1: usize, a: usize, ldaB: usize, q0: usize, out: usize, ldoB: usize): void {
  const o = out + i0 * ldoB + (q0 << 3);
  const go = j0 > 0;
  const o1 = o + <usize>min(1, rows - 1) * ldoB, o2 = o + <usize>min(2, rows - 1) * ldoB, o3 = o + <usize>min(3, rows - 1) * ldoB;
  let c0 = go ? v128.load(o) : f64x2.splat(0), c1 = go ? v128.load(o1) : f64x2.splat(0);
  let c2 = go ? v128.load(o2) : f64x2.splat(0), c3 = go ? v128.load(o3) : f64x2.splat(0);
  const w0 = wrow(0, rows), w1 = wrow(1, rows), w2 = wrow(2, rows), w3 = wrow(3, rows);
  let ap = a + j0 * ldaB + (q0 << 3);
  const w = (j1 - j0) << 3;
  for (let jj: usize = 0; jj < w; jj += 8) {
    const a0 = v128.load(ap);
    c0 = f64x2.add(c0, f64x2.mul(v128.load64_splat(w0 + jj), a0));
    c1 = f64x2.add(c1, f64x2.mul(v128.load64_splat(w1 + jj), a0));
    c2 = f64x2.add(c2, f64x2.mul(v128.load64_splat(w2 + jj), a0));
    c3 = f64x2.add(c3, f64x2.mul(v128.load64_splat(w3 + jj), a0));
    ap += ldaB;
  }
  v128.store(o, c0);
  if (rows > 1) v128.store(o + ldoB, c1);
  if (rows > 2) v128.store(o + 2 * ldoB, c2);
  if (rows > 3) v128.store(o + 3 * ldoB, c3);
}

/** One column q of out for rows i0.. (≤ RB of them): scalar, one independent sum per row. */
function column1(i0: usize, rows: i32, j0: usize, j1: usize, a: usize, ldaB: usize, q: usize, out: usize, ldoB: usize): void {
  const o = out + i0 * ldoB + (q << 3);
  const go = j0 > 0;
  const o1 = o + <usize>min(1, rows - 1) * ldoB, o2 = o + <usize>min(2, rows - 1) * ldoB, o3 = o + <usize>min(3, rows - 1) * ldoB;
  const w0 = wrow(0, rows), w1 = wrow(1, rows), w2 = wrow(2, rows), w3 = wrow(3, rows);
  let s0: f64 = go ? load<f64>(o) : 0, s1: f64 = go ? load<f64>(o1) : 0, s2: f64 = go ? load<f64>(o2) : 0, s3: f64 = go ? load<f64>(o3) : 0;
  let ap = a + j0 * ldaB + (q << 3);
  const w = (j1 - j0) << 3;
  for (let jj: usize = 0; jj < w; jj += 8) {
    const av = load<f64>(ap);
    s0 = s0 + load<f64>(w0 + jj) * av;
    s1 = s1 + load<f64>(w1 + jj) * av;
    s2 = s2 + load<f64>(w2 + jj) * av;
    s3 = s3 + load<f64>(w3 + jj) * av;
    ap += ldaB;
  }
  store<f64>(o, s0);
  if (rows > 1) store<f64>(o + ldoB, s1);
  if (rows > 2) store<f64>(o + 2 * ldoB, s2);
  if (rows > 3) store<f64>(o + 3 * ldoB, s3);
}

/** out[n×c] (f64, ldo) = K·A, K n×m f32 (ldk), A m×c f64 (lda); see the file comment. Workspace: {@link gf_f32_rows_matmul_workspace_bytes}. */
export function gf_f32_rows_matmul(n: i32, m: i32, c: i32, k: usize, ldk: i32, a: usize, lda: i32, out: usize, ldo: i32, work: usize): i32 {
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
  WIDE = (work + 15) & ~(<usize>15);
  const jb = <usize>min(JB_MAX, max(64, <i32>(A_BLOCK_BYTES / (max(1, c) << 3))));
  for (let j0: usize = 0; j0 < <usize>m; j0 += jb) {
    const j1 = min(<usize>m, j0 + jb);
    for (let i = 0; i < n; i += RB) {
      const rows = min(RB, n - i);
      widen(k, ldkB, <usize>i, rows, j0, j1);
      let q = 0;
      for (; q + 4 <= c; q += 4) block4(<usize>i, rows, j0, j1, a, ldaB, <usize>q, out, ldoB);
      for (; q + 2 <= c; q += 2) block2(<usize>i, rows, j0, j1, a, ldaB, <usize>q, out, ldoB);
      for (; q < c; q++) column1(<usize>i, rows, j0, j1, a, ldaB, <usize>q, out, ldoB);
    }
  }
  return GF_OK;
}
