// CSR sparse matrix × vector: y = alpha·A·x + beta·y, A m×n with i32 indptr/indices and f64
// data. Every column index is range-checked (status GF_BAD_INDEX) so bad input cannot read
// outside x. Offsets and increments of x and y in elements.
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

/** CSR SpMV; returns a status (0 = ok). */
export function gf_csr_spmv(
  m: i32, n: i32, nnz: i32, indptr: usize, indices: usize, data: usize, alpha: f64,
  x: usize, offX: i32, incx: i32, beta: f64, y: usize, offY: i32, incy: i32,
): i32 {
  if (m < 0 || n < 0 || nnz < 0) return GF_BAD_SIZE;
  if (incx == 0 || incy == 0) return GF_BAD_LD;
  const st = checkIndptr(m, nnz, indptr);
  if (st != GF_OK) return st;
  return gf_csr_spmv_rows(0, m, n, indptr, indices, data, alpha, x, offX, incx, beta, y, offY, incy);
}

/**
 * Rows [r0, r1) of a CSR SpMV whose indptr the host has already validated (the multi-core
 * split: each thread takes a row range). Column indices are still range-checked. y is
 * indexed by global row.
 */
export function gf_csr_spmv_rows(
  r0: i32, r1: i32, n: i32, indptr: usize, indices: usize, data: usize, alpha: f64,
  x: usize, offX: i32, incx: i32, beta: f64, y: usize, offY: i32, incy: i32,
): i32 {
  if (r0 < 0 || r1 < r0 || n < 0) return GF_BAD_SIZE;
  if (incx == 0 || incy == 0) return GF_BAD_LD;
  const X = x + (<usize>offX << 3);
  const Y = y + (<usize>offY << 3);
  const un = <u32>n;
  let start = load<i32>(indptr + (<usize>r0 << 2));
  if (incx == 1) {
    for (let i = r0; i < r1; i++) {
      const end = load<i32>(indptr + (<usize>(i + 1) << 2));
      let s0: f64 = 0, s1: f64 = 0;
      let p = start;
      for (; p + 2 <= end; p += 2) {
        const j0 = load<u32>(indices + (<usize>p << 2));
        const j1 = load<u32>(indices + (<usize>p << 2), 4);
        if ((j0 >= un) | (j1 >= un)) return GF_BAD_INDEX;
        s0 += load<f64>(data + (<usize>p << 3)) * load<f64>(X + (<usize>j0 << 3));
        s1 += load<f64>(data + (<usize>p << 3), 8) * load<f64>(X + (<usize>j1 << 3));
      }
      if (p < end) {
        const j0 = load<u32>(indices + (<usize>p << 2));
        if (j0 >= un) return GF_BAD_INDEX;
        s0 += load<f64>(data + (<usize>p << 3)) * load<f64>(X + (<usize>j0 << 3));
      }
      const yi = Y + <usize>(<isize>i * <isize>incy) * 8;
      const v = alpha * (s0 + s1);
      store<f64>(yi, beta == 0 ? v : beta * load<f64>(yi) + v);
      start = end;
    }
    return GF_OK;
  }
  for (let i = r0; i < r1; i++) {
    const end = load<i32>(indptr + (<usize>(i + 1) << 2));
    let s: f64 = 0;
    for (let p = start; p < end; p++) {
      const j = load<u32>(indices + (<usize>p << 2));
      if (j >= un) return GF_BAD_INDEX;
      s += load<f64>(data + (<usize>p << 3)) * load<f64>(X + <usize>(<isize>j * <isize>incx) * 8);
    }
    const yi = Y + <usize>(<isize>i * <isize>incy) * 8;
    store<f64>(yi, beta == 0 ? alpha * s : beta * load<f64>(yi) + alpha * s);
    start = end;
  }
  return GF_OK;
}
