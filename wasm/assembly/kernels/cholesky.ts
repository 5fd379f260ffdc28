// Blocked lower Cholesky A = L·Lᵀ (right-looking; row-major; in place).
// Diagonal block: dot-product (Cholesky–Banachiewicz) order; panel: L21 = A21·L11⁻ᵀ;
// trailing update A22 −= L21·L21ᵀ through the internal 4×2 register-blocked gemmNT.
// Only the lower triangle of the input is read; the upper triangle is zeroed on return.

import { LA_BAD_ARGS, LA_NOT_SPD, LA_OK, at, dot, gemmNT } from './la-internal';

const NB: i32 = 96;

/**
 * Factors the n×n matrix at `a` (leading dimension `lda`) in place into its lower Cholesky
 * factor. Returns 0, or 1 (not positive definite) with the failing pivot's row index stored
 * as i32 at `info` (and the pivot's value, f64, at `info + 8`).
 */
export function gf_cholesky(n: i32, a: usize, lda: i32, info: usize): i32 {
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
      gemmNT(m, m, kb, -1.0, l21, lda, l21, lda, at(a, lda, k1, k1), lda, true);
    }
  }
  for (let i = 0; i < n; i++) {
    if (i + 1 < n) memory.fill(at(a, lda, i, i + 1), 0, <usize>(n - i - 1) << 3);
  }
  return LA_OK;
}
