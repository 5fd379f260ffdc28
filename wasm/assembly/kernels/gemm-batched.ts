// Batched GEMM: for b in 0..batch, C_b = alpha·op(A_b)·op(B_b) + beta·C_b, where the b-th
// matrices start `strideX` elements after the (b−1)-th. Same packing driver as gemm.ts.
import { GF_BAD_ATTR, GF_BAD_LD, GF_BAD_SIZE, GF_OK, checkGemmArgs, gemmCore, setEpilogue, epiNone } from './gemm';

/** Batched f64 (dtype 0) or f32-in/f64-accumulate (dtype 1) GEMM; returns a status. */
export function gf_gemm_batched(
  transA: i32, transB: i32, dtype: i32, batch: i32, m: i32, n: i32, k: i32, alpha: f64,
  a: usize, offA: i32, lda: i32, strideA: i32, b: usize, offB: i32, ldb: i32, strideB: i32,
  beta: f64, c: usize, offC: i32, ldc: i32, strideC: i32, work: usize,
): i32 {
  const s = checkGemmArgs(transA != 0, transB != 0, m, n, k, lda, ldb, ldc);
  if (s != GF_OK) return s;
  if (batch < 0) return GF_BAD_SIZE;
  if (strideA < 0 || strideB < 0 || strideC < 0) return GF_BAD_LD;
  if (dtype != 0 && dtype != 1) return GF_BAD_ATTR;
  const es: usize = dtype == 1 ? 4 : 8;
  setEpilogue(epiNone);
  for (let t = 0; t < batch; t++) {
    gemmCore(
      transA != 0, transB != 0, dtype == 1, m, n, k, alpha,
      a + (<usize>offA + <usize>t * <usize>strideA) * es, lda,
      b + (<usize>offB + <usize>t * <usize>strideB) * es, ldb,
      beta, c + ((<usize>offC + <usize>t * <usize>strideC) << 3), ldc, work, false, 0,
    );
  }
  return GF_OK;
}
