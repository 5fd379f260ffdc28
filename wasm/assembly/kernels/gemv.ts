// Dense GEMV: y = alpha·op(A)·x + beta·y, row-major A (m×n, lda ≥ n), f64.
// trans = 0: y has m entries, x has n; trans = 1: y has n entries, x has m.
// Pointers are byte addresses; offsets, leading dimension and increments in elements.
import { GF_BAD_LD, GF_BAD_SIZE, GF_OK } from './gemm';

@inline function at(p: usize, i: i32, inc: i32): usize {
  return p + (<usize>(<isize>i * <isize>inc) << 3);
}

/** Dot product of a contiguous row with x (incx may be anything). */
@inline function rowDot(r: usize, x: usize, incx: i32, n: i32): f64 {
  if (incx == 1) {
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const q = <usize>j << 3;
      s0 = f64x2.add(s0, f64x2.mul(v128.load(r + q), v128.load(x + q)));
      s1 = f64x2.add(s1, f64x2.mul(v128.load(r + q, 16), v128.load(x + q, 16)));
    }
    const s = f64x2.add(s0, s1);
    let t = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
    for (; j < n; j++) t += load<f64>(r + (<usize>j << 3)) * load<f64>(x + (<usize>j << 3));
    return t;
  }
  let t: f64 = 0;
  for (let j = 0; j < n; j++) t += load<f64>(r + (<usize>j << 3)) * load<f64>(at(x, j, incx));
  return t;
}

/** f64 GEMV with offsets and increments; returns a status (0 = ok). */
export function gf_gemv(
  trans: i32, m: i32, n: i32, alpha: f64, a: usize, offA: i32, lda: i32,
  x: usize, offX: i32, incx: i32, beta: f64, y: usize, offY: i32, incy: i32,
): i32 {
  if (m < 0 || n < 0) return GF_BAD_SIZE;
  if (lda < max(1, n) || incx == 0 || incy == 0) return GF_BAD_LD;
  const A = a + (<usize>offA << 3);
  const X = x + (<usize>offX << 3);
  const Y = y + (<usize>offY << 3);
  const ldaB = <usize>lda << 3;
  if (trans == 0) {
    for (let i = 0; i < m; i++) {
      const yi = at(Y, i, incy);
      const d = n > 0 && alpha != 0 ? alpha * rowDot(A + <usize>i * ldaB, X, incx, n) : 0.0;
      store<f64>(yi, beta == 0 ? d : beta * load<f64>(yi) + d);
    }
    return GF_OK;
  }
  // y(n) = beta·y + alpha·Aᵀx: scale y, then axpy the rows of A, two at a time.
  for (let j = 0; j < n; j++) {
    const yj = at(Y, j, incy);
    store<f64>(yj, beta == 0 ? 0.0 : beta * load<f64>(yj));
  }
  if (alpha == 0) return GF_OK;
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const x0 = alpha * load<f64>(at(X, i, incx));
    const x1 = alpha * load<f64>(at(X, i + 1, incx));
    const r0 = A + <usize>i * ldaB;
    const r1 = r0 + ldaB;
    let j = 0;
    if (incy == 1) {
      const v0 = f64x2.splat(x0), v1 = f64x2.splat(x1);
      for (; j + 2 <= n; j += 2) {
        const q = <usize>j << 3;
        v128.store(Y + q, f64x2.add(v128.load(Y + q), f64x2.add(f64x2.mul(v0, v128.load(r0 + q)), f64x2.mul(v1, v128.load(r1 + q)))));
      }
    }
    for (; j < n; j++) {
      const q = <usize>j << 3;
      const yj = at(Y, j, incy);
      store<f64>(yj, load<f64>(yj) + (x0 * load<f64>(r0 + q) + x1 * load<f64>(r1 + q)));
    }
  }
  if (i < m) {
    const x0 = alpha * load<f64>(at(X, i, incx));
    const r0 = A + <usize>i * ldaB;
    for (let j = 0; j < n; j++) {
      const yj = at(Y, j, incy);
      store<f64>(yj, load<f64>(yj) + x0 * load<f64>(r0 + (<usize>j << 3)));
    }
  }
  return GF_OK;
}
