// CSR from (row, col, value) triplets, in canonical form: column indices sorted within each
// row and duplicates summed (in input order, as scipy's sum_duplicates does). Two stable
// counting sorts (by column, then by row) give the order in O(nnz + m + n).
import { GF_BAD_INDEX, GF_BAD_SIZE, GF_OK } from './gemm';

/** Workspace bytes for gf_csr_from_triplets. */
export function gf_csr_from_triplets_workspace_bytes(m: i32, n: i32, nnz: i32): usize {
  return (<usize>(n + 1) << 2) + (<usize>nnz << 2) * 2 + (<usize>nnz << 3) + 256;
}

/**
 * Builds CSR (outIndptr m+1, outIndices ≥ nnz, outData ≥ nnz) from triplets; writes the
 * number of stored entries after merging duplicates to `outNnz` (an i32 slot).
 */
export function gf_csr_from_triplets(
  m: i32, n: i32, nnz: i32, rows: usize, cols: usize, vals: usize,
  outIndptr: usize, outIndices: usize, outData: usize, outNnz: usize, work: usize,
): i32 {
  if (m < 0 || n < 0 || nnz < 0) return GF_BAD_SIZE;
  for (let p = 0; p < nnz; p++) {
    if (load<u32>(rows + (<usize>p << 2)) >= <u32>m || load<u32>(cols + (<usize>p << 2)) >= <u32>n) return GF_BAD_INDEX;
  }
  const cptr = (work + 63) & ~(<usize>63);
  const perm = (cptr + (<usize>(n + 1) << 2) + 63) & ~(<usize>63); // triplet ids ordered by column
  // 1) stable counting sort of triplet ids by column
  memory.fill(cptr, 0, <usize>(n + 1) << 2);
  for (let p = 0; p < nnz; p++) {
    const q = cptr + ((<usize>load<u32>(cols + (<usize>p << 2)) + 1) << 2);
    store<i32>(q, load<i32>(q) + 1);
  }
  for (let j = 0; j < n; j++) {
    const q = cptr + ((<usize>j + 1) << 2);
    store<i32>(q, load<i32>(q) + load<i32>(q - 4));
  }
  for (let p = 0; p < nnz; p++) {
    const q = cptr + (<usize>load<u32>(cols + (<usize>p << 2)) << 2);
    const d = load<i32>(q);
    store<i32>(perm + (<usize>d << 2), p);
    store<i32>(q, d + 1);
  }
  // 2) stable counting sort by row, visiting triplets in column order
  memory.fill(outIndptr, 0, <usize>(m + 1) << 2);
  for (let p = 0; p < nnz; p++) {
    const q = outIndptr + ((<usize>load<u32>(rows + (<usize>p << 2)) + 1) << 2);
    store<i32>(q, load<i32>(q) + 1);
  }
  for (let i = 0; i < m; i++) {
    const q = outIndptr + ((<usize>i + 1) << 2);
    store<i32>(q, load<i32>(q) + load<i32>(q - 4));
  }
  for (let t = 0; t < nnz; t++) {
    const p = load<i32>(perm + (<usize>t << 2));
    const q = outIndptr + (<usize>load<u32>(rows + (<usize>p << 2)) << 2);
    const d = load<i32>(q);
    store<i32>(outIndices + (<usize>d << 2), load<i32>(cols + (<usize>p << 2)));
    store<f64>(outData + (<usize>d << 3), load<f64>(vals + (<usize>p << 3)));
    store<i32>(q, d + 1);
  }
  for (let i = m; i > 0; i--) store<i32>(outIndptr + (<usize>i << 2), load<i32>(outIndptr + (<usize>(i - 1) << 2)));
  store<i32>(outIndptr, 0);
  // 3) merge duplicates in place, row by row
  let w = 0;
  let start = 0;
  for (let i = 0; i < m; i++) {
    const end = load<i32>(outIndptr + (<usize>(i + 1) << 2));
    let p = start;
    while (p < end) {
      const j = load<i32>(outIndices + (<usize>p << 2));
      let v = load<f64>(outData + (<usize>p << 3));
      p++;
      while (p < end && load<i32>(outIndices + (<usize>p << 2)) == j) {
        v += load<f64>(outData + (<usize>p << 3));
        p++;
      }
      store<i32>(outIndices + (<usize>w << 2), j);
      store<f64>(outData + (<usize>w << 3), v);
      w++;
    }
    store<i32>(outIndptr + (<usize>(i + 1) << 2), w);
    start = end;
  }
  store<i32>(outNnz, w);
  return GF_OK;
}
