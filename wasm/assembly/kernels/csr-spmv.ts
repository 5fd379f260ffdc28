// CSR sparse matrix × vector: y = alpha·A·x + beta·y, A m×n with i32 indptr/indices and f64
// data. gf_csr_spmv validates indptr and every column index first (status GF_BAD_INDEX), then
// runs the unchecked row loop gf_csr_spmv_rows. Offsets and increments of x, y in elements.
// The row sum is one sequential accumulator, in the order scipy's csr_matvec uses.
import { GF_BAD_INDEX, GF_BAD_LD, GF_BAD_SIZE, GF_OK } from './gemm';

/** Checks indptr: indptr[0] = 0, non-decreasing, indptr[m] = nnz. */
export function checkIndptr(m: i32, nnz: i32, indptr: usize): i32 {
  if (load<i32>(indptr) != 0 || load<i32>(indptr + (<usize>m << 2)) != nnz) return GF_BAD_INDEX;
  let prev = 0;
  for (let i = 1; i <= m; i++) {
    const v = load<i32>(indptr + (<usize>i << 2));
    if (v < prev) return GF_BAD_INDEX;
    prev = v;
  }
  return GF_OK;
}

/** CSR SpMV with full validation of indptr and indices; returns a status (0 = ok). */
export function gf_csr_spmv(
  m: i32, n: i32, nnz: i32, indptr: usize, indices: usize, data: usize, alpha: f64,
  x: usize, offX: i32, incx: i32, beta: f64, y: usize, offY: i32, incy: i32,
): i32 {
  if (m < 0 || n < 0 || nnz < 0) return GF_BAD_SIZE;
  if (incx == 0 || incy == 0) return GF_BAD_LD;
  const st = checkIndptr(m, nnz, indptr);
  if (st != GF_OK) return st;
  for (let p = 0; p < nnz; p++) if (load<u32>(indices + (<usize>p << 2)) >= <u32>n) return GF_BAD_INDEX;
  return gf_csr_spmv_rows(0, m, n, indptr, indices, data, alpha, x, offX, incx, beta, y, offY, incy);
}

@inline function rowsContiguous(r0: i32, r1: i32, indptr: usize, indices: usize, pi: usize, pd: usize, X: usize, Y: usize, alpha: f64, beta: f64, useBeta: bool): void {
  let py = Y + (<usize>r0 << 3);
  for (let i = r0; i < r1; i++) {
    const ei = indices + (<usize>load<i32>(indptr + (<usize>(i + 1) << 2)) << 2);
    let s: f64 = 0;
    while (pi < ei) {
      s += load<f64>(pd) * load<f64>(X + (<usize>load<u32>(pi) << 3));
      pi += 4;
      pd += 8;
    }
    if (useBeta) store<f64>(py, beta * load<f64>(py) + alpha * s);
    else store<f64>(py, alpha * s);
    py += 8;
  }
}

/**
 * Rows [r0, r1) of a CSR SpMV whose indptr and indices the host has already validated (the
 * op checks them before any kernel runs; the multi-core split gives each thread a row
 * range). No per-element checks in the loop: they cost about a third of the time of this
 * memory-bound kernel. y is indexed by global row.
 */
export function gf_csr_spmv_rows(
  r0: i32, r1: i32, n: i32, indptr: usize, indices: usize, data: usize, alpha: f64,
  x: usize, offX: i32, incx: i32, beta: f64, y: usize, offY: i32, incy: i32,
): i32 {
  if (r0 < 0 || r1 < r0 || n < 0) return GF_BAD_SIZE;
  if (incx == 0 || incy == 0) return GF_BAD_LD;
  const X = x + (<usize>offX << 3);
  const Y = y + (<usize>offY << 3);
  const first = <usize>load<i32>(indptr + (<usize>r0 << 2));
  let pd = data + (first << 3);
  let pi = indices + (first << 2);
  if (incx == 1 && incy == 1) {
    // The common case: contiguous x and y. Separate loops for beta = 0 so that y is never
    // read there (a select would load it: 10 % more memory traffic on a 5-point stencil).
    if (beta == 0) rowsContiguous(r0, r1, indptr, indices, pi, pd, X, Y, alpha, 0, false);
    else rowsContiguous(r0, r1, indptr, indices, pi, pd, X, Y, alpha, beta, true);
    return GF_OK;
  }
  if (incx == 1) {
    for (let i = r0; i < r1; i++) {
      const ei = indices + (<usize>load<i32>(indptr + (<usize>(i + 1) << 2)) << 2);
      let s: f64 = 0;
      while (pi < ei) {
        s += load<f64>(pd) * load<f64>(X + (<usize>load<u32>(pi) << 3));
        pi += 4;
        pd += 8;
      }
      const yi = Y + <usize>(<isize>i * <isize>incy) * 8;
      store<f64>(yi, beta == 0 ? alpha * s : beta * load<f64>(yi) + alpha * s);
    }
    return GF_OK;
  }
  for (let i = r0; i < r1; i++) {
    const ei = indices + (<usize>load<i32>(indptr + (<usize>(i + 1) << 2)) << 2);
    let s: f64 = 0;
    while (pi < ei) {
      s += load<f64>(pd) * load<f64>(X + <usize>(<isize>load<u32>(pi) * <isize>incx) * 8);
      pi += 4;
      pd += 8;
    }
    const yi = Y + <usize>(<isize>i * <isize>incy) * 8;
    store<f64>(yi, beta == 0 ? alpha * s : beta * load<f64>(yi) + alpha * s);
  }
  return GF_OK;
}
