// CSR transpose (equivalently CSR → CSC): A m×n → Aᵀ n×m by a counting sort on the column
// index. Column indices of the result come out sorted within each row.
import { GF_BAD_INDEX, GF_BAD_SIZE, GF_OK } from './gemm';
import { checkIndptr } from './csr-spmv';

/** Transposes a CSR matrix into (outIndptr n+1, outIndices nnz, outData nnz). */
export function gf_csr_transpose(
  m: i32, n: i32, nnz: i32, indptr: usize, indices: usize, data: usize,
  outIndptr: usize, outIndices: usize, outData: usize,
): i32 {
  if (m < 0 || n < 0 || nnz < 0) return GF_BAD_SIZE;
  const st = checkIndptr(m, nnz, indptr);
  if (st != GF_OK) return st;
  memory.fill(outIndptr, 0, <usize>(n + 1) << 2);
  for (let p = 0; p < nnz; p++) {
    const j = load<u32>(indices + (<usize>p << 2));
    if (j >= <u32>n) return GF_BAD_INDEX;
    const q = outIndptr + ((<usize>j + 1) << 2);
    store<i32>(q, load<i32>(q) + 1);
  }
  for (let j = 0; j < n; j++) {
    const q = outIndptr + ((<usize>j + 1) << 2);
    store<i32>(q, load<i32>(q) + load<i32>(q - 4));
  }
  // Scatter using outIndptr[j] as the cursor of column j, then shift back.
  let start = 0;
  for (let i = 0; i < m; i++) {
    const end = load<i32>(indptr + (<usize>(i + 1) << 2));
    for (let p = start; p < end; p++) {
      const j = load<u32>(indices + (<usize>p << 2));
      const cur = outIndptr + (<usize>j << 2);
      const dst = load<i32>(cur);
      store<i32>(outIndices + (<usize>dst << 2), i);
      store<f64>(outData + (<usize>dst << 3), load<f64>(data + (<usize>p << 3)));
      store<i32>(cur, dst + 1);
    }
    start = end;
  }
  for (let j = n; j > 0; j--) store<i32>(outIndptr + (<usize>j << 2), load<i32>(outIndptr + (<usize>(j - 1) << 2)));
  store<i32>(outIndptr, 0);
  return GF_OK;
}
