// Internal dense building blocks shared by the factorisation and eigen kernels (cholesky,
// triangular-solve, qr, eigh, eigh-topk, eig-small, mode-product). Nothing here is exported
// from the module; the public GEMM lives in gemm.ts (another kernel family).
//
// Conventions: pointers are byte addresses of f64 data, leading dimensions and sizes are in
// elements, matrices are row-major. Multiply and add stay separate (no relaxed-SIMD FMA):
// Node 20 does not validate relaxed-SIMD without a flag.

/** Status codes of the factorisation kernels (the host maps them to typed errors). */
export const LA_OK: i32 = 0;
/** Cholesky: a pivot was not positive (the matrix is not positive definite). */
export const LA_NOT_SPD: i32 = 1;
/** A triangular or LU factor has a zero pivot. */
export const LA_SINGULAR: i32 = 2;
/** An iteration did not converge in its budget. */
export const LA_NO_CONVERGENCE: i32 = 3;
/** A size or leading dimension is invalid. */
export const LA_BAD_ARGS: i32 = 4;

@inline export function ld(p: usize, i: i32): f64 {
  return load<f64>(p + (<usize>i << 3));
}
@inline export function st(p: usize, i: i32, v: f64): void {
  store<f64>(p + (<usize>i << 3), v);
}
/** Address of element (i, j) of a row-major matrix with leading dimension `ldm`. */
@inline export function at(p: usize, ldm: i32, i: i32, j: i32): usize {
  return p + ((<usize>i * <usize>ldm + <usize>j) << 3);
}

/** Σ x[i]·y[i] over n contiguous f64 (two f64x2 accumulators). */
export function dot(n: i32, x: usize, y: usize): f64 {
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 3;
    a0 = f64x2.add(a0, f64x2.mul(v128.load(x + o), v128.load(y + o)));
    a1 = f64x2.add(a1, f64x2.mul(v128.load(x + o + 16), v128.load(y + o + 16)));
  }
  a0 = f64x2.add(a0, a1);
  let s = f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1);
  for (; i < n; i++) s += ld(x, i) * ld(y, i);
  return s;
}

/** y[i] += a·x[i] over n contiguous f64. */
export function axpy(n: i32, a: f64, x: usize, y: usize): void {
  const va = f64x2.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 3;
    v128.store(y + o, f64x2.add(v128.load(y + o), f64x2.mul(va, v128.load(x + o))));
    v128.store(y + o + 16, f64x2.add(v128.load(y + o + 16), f64x2.mul(va, v128.load(x + o + 16))));
  }
  for (; i < n; i++) st(y, i, ld(y, i) + a * ld(x, i));
}

/** x[i] *= a over n contiguous f64. */
export function scal(n: i32, a: f64, x: usize): void {
  const va = f64x2.splat(a);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 3;
    v128.store(x + o, f64x2.mul(va, v128.load(x + o)));
  }
  for (; i < n; i++) st(x, i, ld(x, i) * a);
}

/** Euclidean norm of n contiguous f64, scaled so that it neither overflows nor underflows. */
export function nrm2(n: i32, x: usize): f64 {
  let amax: f64 = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(ld(x, i));
    if (a > amax) amax = a;
  }
  if (amax == 0 || !isFinite(amax)) return amax;
  let s: f64 = 0;
  if (amax > 1e150 || amax < 1e-150) {
    const inv = 1.0 / amax;
    for (let i = 0; i < n; i++) {
      const t = ld(x, i) * inv;
      s += t * t;
    }
    return amax * Math.sqrt(s);
  }
  s = dot(n, x, x);
  return Math.sqrt(s);
}

/** Copies n contiguous f64. */
export function copy(n: i32, src: usize, dst: usize): void {
  memory.copy(dst, src, <usize>n << 3);
}

/**
 * C[i][j] += alpha·Σ_p A[i][p]·B[j][p] for i < m, j < n, p < k (C += alpha·A·Bᵀ), all
 * row-major. With `lower`, only blocks that meet the lower triangle (j ≤ i) are computed;
 * entries of C just above the diagonal inside those blocks are written too (callers that
 * use `lower` only read the lower triangle). Register block 4×2 (8 f64x2 accumulators,
 * vectorised along p), cache block of B rows sized for L2.
 */
export function gemmNT(m: i32, n: i32, k: i32, alpha: f64, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, lower: bool): void {
  // depth blocks of KCNT keep the 4 + 2 operand rows of a micro-tile in L1
  const KCNT: i32 = 384;
  for (let p0 = 0; p0 < k; p0 += KCNT) {
    const o = <usize>p0 << 3;
    gemmNTBlock(m, n, min<i32>(KCNT, k - p0), alpha, a + o, lda, b + o, ldb, c, ldc, lower);
  }
}

function gemmNTBlock(m: i32, n: i32, k: i32, alpha: f64, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, lower: bool): void {
  if (m <= 0 || n <= 0 || k <= 0) return;
  const kv = k & ~1;
  const JC: i32 = max<i32>(8, min<i32>(512, (96 * 1024) / max<i32>(k, 1)) & ~1);
  for (let j0 = 0; j0 < n; j0 += JC) {
    const j1 = min<i32>(n, j0 + JC);
    let i = lower ? (j0 & ~3) : 0;
    for (; i + 4 <= m; i += 4) {
      const ra0 = at(a, lda, i, 0);
      const ra1 = ra0 + (<usize>lda << 3);
      const ra2 = ra1 + (<usize>lda << 3);
      const ra3 = ra2 + (<usize>lda << 3);
      const jend = lower ? min<i32>(j1, i + 4) : j1;
      let j = j0;
      for (; j + 2 <= jend; j += 2) {
        const rb0 = at(b, ldb, j, 0);
        const rb1 = rb0 + (<usize>ldb << 3);
        let c00 = f64x2.splat(0), c01 = f64x2.splat(0);
        let c10 = f64x2.splat(0), c11 = f64x2.splat(0);
        let c20 = f64x2.splat(0), c21 = f64x2.splat(0);
        let c30 = f64x2.splat(0), c31 = f64x2.splat(0);
        for (let p = 0; p < kv; p += 2) {
          const o = <usize>p << 3;
          const b0 = v128.load(rb0 + o);
          const b1 = v128.load(rb1 + o);
          const a0 = v128.load(ra0 + o);
          c00 = f64x2.add(c00, f64x2.mul(a0, b0));
          c01 = f64x2.add(c01, f64x2.mul(a0, b1));
          const a1 = v128.load(ra1 + o);
          c10 = f64x2.add(c10, f64x2.mul(a1, b0));
          c11 = f64x2.add(c11, f64x2.mul(a1, b1));
          const a2 = v128.load(ra2 + o);
          c20 = f64x2.add(c20, f64x2.mul(a2, b0));
          c21 = f64x2.add(c21, f64x2.mul(a2, b1));
          const a3 = v128.load(ra3 + o);
          c30 = f64x2.add(c30, f64x2.mul(a3, b0));
          c31 = f64x2.add(c31, f64x2.mul(a3, b1));
        }
        let s00 = f64x2.extract_lane(c00, 0) + f64x2.extract_lane(c00, 1);
        let s01 = f64x2.extract_lane(c01, 0) + f64x2.extract_lane(c01, 1);
        let s10 = f64x2.extract_lane(c10, 0) + f64x2.extract_lane(c10, 1);
        let s11 = f64x2.extract_lane(c11, 0) + f64x2.extract_lane(c11, 1);
        let s20 = f64x2.extract_lane(c20, 0) + f64x2.extract_lane(c20, 1);
        let s21 = f64x2.extract_lane(c21, 0) + f64x2.extract_lane(c21, 1);
        let s30 = f64x2.extract_lane(c30, 0) + f64x2.extract_lane(c30, 1);
        let s31 = f64x2.extract_lane(c31, 0) + f64x2.extract_lane(c31, 1);
        if (kv < k) {
          const o = <usize>kv << 3;
          const b0 = load<f64>(rb0 + o), b1 = load<f64>(rb1 + o);
          const a0 = load<f64>(ra0 + o), a1 = load<f64>(ra1 + o), a2 = load<f64>(ra2 + o), a3 = load<f64>(ra3 + o);
          s00 += a0 * b0; s01 += a0 * b1; s10 += a1 * b0; s11 += a1 * b1;
          s20 += a2 * b0; s21 += a2 * b1; s30 += a3 * b0; s31 += a3 * b1;
        }
        let pc = at(c, ldc, i, j);
        store<f64>(pc, load<f64>(pc) + alpha * s00); store<f64>(pc + 8, load<f64>(pc + 8) + alpha * s01);
        pc += <usize>ldc << 3;
        store<f64>(pc, load<f64>(pc) + alpha * s10); store<f64>(pc + 8, load<f64>(pc + 8) + alpha * s11);
        pc += <usize>ldc << 3;
        store<f64>(pc, load<f64>(pc) + alpha * s20); store<f64>(pc + 8, load<f64>(pc + 8) + alpha * s21);
        pc += <usize>ldc << 3;
        store<f64>(pc, load<f64>(pc) + alpha * s30); store<f64>(pc + 8, load<f64>(pc + 8) + alpha * s31);
      }
      for (; j < jend; j++) {
        const rb = at(b, ldb, j, 0);
        for (let r = 0; r < 4; r++) {
          const pc = at(c, ldc, i + r, j);
          store<f64>(pc, load<f64>(pc) + alpha * dot(k, at(a, lda, i + r, 0), rb));
        }
      }
    }
    for (; i < m; i++) {
      const jend = lower ? min<i32>(j1, i + 1) : j1;
      const ra = at(a, lda, i, 0);
      for (let j = j0; j < jend; j++) {
        const pc = at(c, ldc, i, j);
        store<f64>(pc, load<f64>(pc) + alpha * dot(k, ra, at(b, ldb, j, 0)));
      }
    }
  }
}

/**
 * C[i][:] += alpha·Σ_p A[i][p]·B[p][:] for i < m, columns < n, p < k (C += alpha·A·B), all
 * row-major; register block 4 rows × 4 columns (vectorised along the columns of B and C).
 */
export function gemmNN(m: i32, n: i32, k: i32, alpha: f64, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  if (m <= 0 || n <= 0 || k <= 0) return;
  const KC: i32 = 256;
  const NC: i32 = max<i32>(16, ((128 * 1024) / (KC * 8)) & ~3);
  for (let p0 = 0; p0 < k; p0 += KC) {
    const p1 = min<i32>(k, p0 + KC);
    for (let j0 = 0; j0 < n; j0 += NC) {
      const j1 = min<i32>(n, j0 + NC);
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        let j = j0;
        for (; j + 4 <= j1; j += 4) {
          let c00 = f64x2.splat(0), c01 = f64x2.splat(0);
          let c10 = f64x2.splat(0), c11 = f64x2.splat(0);
          let c20 = f64x2.splat(0), c21 = f64x2.splat(0);
          let c30 = f64x2.splat(0), c31 = f64x2.splat(0);
          let pa = at(a, lda, i, p0);
          const sa = <usize>lda << 3;
          let pb = at(b, ldb, p0, j);
          const sb = <usize>ldb << 3;
          for (let p = p0; p < p1; p++) {
            const b0 = v128.load(pb);
            const b1 = v128.load(pb + 16);
            const a0 = f64x2.splat(load<f64>(pa));
            c00 = f64x2.add(c00, f64x2.mul(a0, b0));
            c01 = f64x2.add(c01, f64x2.mul(a0, b1));
            const a1 = f64x2.splat(load<f64>(pa + sa));
            c10 = f64x2.add(c10, f64x2.mul(a1, b0));
            c11 = f64x2.add(c11, f64x2.mul(a1, b1));
            const a2 = f64x2.splat(load<f64>(pa + 2 * sa));
            c20 = f64x2.add(c20, f64x2.mul(a2, b0));
            c21 = f64x2.add(c21, f64x2.mul(a2, b1));
            const a3 = f64x2.splat(load<f64>(pa + 3 * sa));
            c30 = f64x2.add(c30, f64x2.mul(a3, b0));
            c31 = f64x2.add(c31, f64x2.mul(a3, b1));
            pa += 8;
            pb += sb;
          }
          const va = f64x2.splat(alpha);
          let pc = at(c, ldc, i, j);
          const sc = <usize>ldc << 3;
          v128.store(pc, f64x2.add(v128.load(pc), f64x2.mul(va, c00)));
          v128.store(pc + 16, f64x2.add(v128.load(pc + 16), f64x2.mul(va, c01)));
          pc += sc;
          v128.store(pc, f64x2.add(v128.load(pc), f64x2.mul(va, c10)));
          v128.store(pc + 16, f64x2.add(v128.load(pc + 16), f64x2.mul(va, c11)));
          pc += sc;
          v128.store(pc, f64x2.add(v128.load(pc), f64x2.mul(va, c20)));
          v128.store(pc + 16, f64x2.add(v128.load(pc + 16), f64x2.mul(va, c21)));
          pc += sc;
          v128.store(pc, f64x2.add(v128.load(pc), f64x2.mul(va, c30)));
          v128.store(pc + 16, f64x2.add(v128.load(pc + 16), f64x2.mul(va, c31)));
        }
        if (j < j1) {
          for (let r = 0; r < 4; r++) {
            for (let p = p0; p < p1; p++) {
              const s = alpha * load<f64>(at(a, lda, i + r, p));
              const pb = at(b, ldb, p, 0);
              const pc = at(c, ldc, i + r, 0);
              for (let jj = j; jj < j1; jj++) st(pc, jj, ld(pc, jj) + s * ld(pb, jj));
            }
          }
        }
      }
      for (; i < m; i++) {
        const pc = at(c, ldc, i, j0);
        for (let p = p0; p < p1; p++) {
          axpy(j1 - j0, alpha * load<f64>(at(a, lda, i, p)), at(b, ldb, p, j0), pc);
        }
      }
    }
  }
}

/** Dst (cols × rows) = Srcᵀ for a rows × cols source; both row-major with given leading dims. */
export function transpose(rows: i32, cols: i32, src: usize, lds: i32, dst: usize, ldd: i32): void {
  const B: i32 = 32;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = min<i32>(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = min<i32>(cols, j0 + B);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) store<f64>(at(dst, ldd, j, i), load<f64>(at(src, lds, i, j)));
      }
    }
  }
}
