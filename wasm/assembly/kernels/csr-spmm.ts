// CSR × dense: C (m×n) = alpha·A·B + beta·C with A m×k in CSR (i32 indptr/indices, f64 data)
// and B k×n row-major f64. Row i of C accumulates data·B[j, :] with f64x2 SIMD.
import { GF_BAD_INDEX, GF_BAD_LD, GF_BAD_SIZE, GF_OK } from './gemm';
import { checkIndptr } from './csr-spmv';

/** CSR SpMM; returns a status (0 = ok). */
export function gf_csr_spmm(
  m: i32, k: i32, n: i32, nnz: i32, indptr: usize, indices: usize, data: usize, alpha: f64,
  b: usize, offB: i32, ldb: i32, beta: f64, c: usize, offC: i32, ldc: i32,
): i32 {
  if (m < 0 || n < 0 || k < 0 || nnz < 0) return GF_BAD_SIZE;
  if (ldb < max(1, n) || ldc < max(1, n)) return GF_BAD_LD;
  const st = checkIndptr(m, nnz, indptr);
  if (st != GF_OK) return st;
  for (let p = 0; p < nnz; p++) if (load<u32>(indices + (<usize>p << 2)) >= <u32>k) return GF_BAD_INDEX;
  const B = b + (<usize>offB << 3);
  const C = c + (<usize>offC << 3);
  const ldbB = <usize>ldb << 3;
  const ldcB = <usize>ldc << 3;
  let start = 0;
  for (let i = 0; i < m; i++) {
    const end = load<i32>(indptr + (<usize>(i + 1) << 2));
    const row = C + <usize>i * ldcB;
    if (beta == 0) memory.fill(row, 0, <usize>n << 3);
    else if (beta != 1) for (let j = 0; j < n; j++) store<f64>(row + (<usize>j << 3), beta * load<f64>(row + (<usize>j << 3)));
    for (let p = start; p < end; p++) {
      const v = alpha * load<f64>(data + (<usize>p << 3));
      const src = B + <usize>load<u32>(indices + (<usize>p << 2)) * ldbB;
      const vv = f64x2.splat(v);
      let j = 0;
      for (; j + 4 <= n; j += 4) {
        const q = <usize>j << 3;
        v128.store(row + q, f64x2.add(v128.load(row + q), f64x2.mul(vv, v128.load(src + q))));
        v128.store(row + q, f64x2.add(v128.load(row + q, 16), f64x2.mul(vv, v128.load(src + q, 16))), 16);
      }
      for (; j < n; j++) {
        const q = <usize>j << 3;
        store<f64>(row + q, load<f64>(row + q) + v * load<f64>(src + q));
      }
    }
    start = end;
  }
  return GF_OK;
}
