// Blocked lower Cholesky A = L·Lᵀ (right-looking; row-major; in place).
// Diagonal block: dot-product (Cholesky–Banachiewicz) order; panel: L21 = A21·L11⁻ᵀ;
// trailing update A22 −= L21·L21ᵀ by the packed GEMM (gemm.ts: packed panels, 4×4 f64x2
// register tiles, FMA in the relaxed-SIMD build), one block column of the lower triangle at a
// time, when the host passes a GEMM workspace; otherwise (work = 0) through the internal
// 4×2 register-blocked gemmNT.
// Only the lower triangle of the input is read; the upper triangle is zeroed on return.

import { LA_BAD_ARGS, LA_NOT_SPD, LA_OK, at, dot, gemmNT } from './la-internal';
import { gemmCore, setEpilogue, epiNone } from './gemm';

const NB: i32 = 128;

/**
 * Factors the n×n matrix at `a` (leading dimension `lda`) in place into its lower Cholesky
 * factor. Returns 0, or 1 (not positive definite) with the failing pivot's row index stored
 * as i32 at `info` (and the pivot's value, f64, at `info + 8`).
 */
export function gf_cholesky(n: i32, a: usize, lda: i32, info: usize): i32 {
  return cholesky(n, a, lda, info, 0);
}

/**
 * {@link gf_cholesky} with a workspace of gf_gemm_workspace_bytes() bytes at `work`: the
 * trailing updates run on the packed GEMM (about twice as fast for large n).
 */
export function gf_cholesky_ws(n: i32, a: usize, lda: i32, info: usize, work: usize): i32 {
  return cholesky(n, a, lda, info, work);
}

function cholesky(n: i32, a: usize, lda: i32, info: usize, work: usize): i32 {
  if (n < 0 || lda < max<i32>(n, 1)) return LA_BAD_ARGS;
  store<i32>(info, -1);
  for (let k0 = 0; k0 < n; k0 += NB) {
    const kb = min<i32>(NB, n - k0);
    const k1 = k0 + kb;
    for (let i = k0; i < k1; i++) {
      const ri = at(a, lda, i, k0);
      for (let j = k0; j < i; j++) {
        const p = at(a, lda, i, j);
        store<f64>(p, (load<f64>(p) - dot(j - k0, ri, at(a, lda, j, k0))) / load<f64>(at(a, lda, j, j)));
      }
      const pd = at(a, lda, i, i);
      const d = load<f64>(pd) - dot(i - k0, ri, ri);
      if (!(d > 0) || !isFinite(d)) {
        store<i32>(info, i);
        store<f64>(info + 8, d);
        return LA_NOT_SPD;
      }
      store<f64>(pd, Math.sqrt(d));
    }
    for (let i = k1; i < n; i++) {
      const ri = at(a, lda, i, k0);
      for (let j = k0; j < k1; j++) {
        const p = at(a, lda, i, j);
        store<f64>(p, (load<f64>(p) - dot(j - k0, ri, at(a, lda, j, k0))) / load<f64>(at(a, lda, j, j)));
      }
    }
    const m = n - k1;
    if (m > 0) {
      const l21 = at(a, lda, k1, k0);
      if (work == 0) gemmNT(m, m, kb, -1.0, l21, lda, l21, lda, at(a, lda, k1, k1), lda, true);
      else {
        setEpilogue(epiNone);
        // A[j0:n, j0:j0+w] −= L21[j0:n]·L21[j0:j0+w]ᵀ for each block column of the lower triangle
        for (let j0 = k1; j0 < n; j0 += NB) {
          const w = min<i32>(NB, n - j0);
          const lj = at(a, lda, j0, k0);
          gemmCore(false, true, false, n - j0, w, kb, -1.0, lj, lda, lj, lda, 1.0, at(a, lda, j0, j0), lda, work, false, 0);
        }
      }
    }
  }
  for (let i = 0; i < n; i++) {
    if (i + 1 < n) memory.fill(at(a, lda, i, i + 1), 0, <usize>(n - i - 1) << 3);
  }
  return LA_OK;
}
