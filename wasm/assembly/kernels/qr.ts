// Householder QR of an m×n row-major matrix, A = Q·R (LAPACK dgeqr2 + dorg2r order).
// The factorisation runs on Aᵀ (copied into the workspace) so that each column of A is a
// contiguous row: reflector j is built from column j and applied to the later columns with
// dot/axpy on contiguous memory. Q is formed explicitly: reduced (m×k, k = min(m, n)) or
// complete (m×m). R's diagonal may be negative (LAPACK's convention).

import { LA_BAD_ARGS, LA_OK, at, axpy, dot, ld, nrm2, scal, st, transpose } from './la-internal';

/** Workspace bytes of gf_qr. */
export function gf_qr_work_bytes(m: i32, n: i32): usize {
  return (<usize>m * <usize>n + <usize>m * <usize>m + <usize>m + <usize>n + 16) * 8 + 128;
}

/**
 * Factors `a` (m×n, lda). Writes R (rows×n, ldr; rows = k reduced or m complete; zero below
 * the diagonal) and Q (m×qcols, ldq; qcols = k or m). `complete` selects the complete form.
 */
export function gf_qr(m: i32, n: i32, a: usize, lda: i32, complete: i32, q: usize, ldq: i32, r: usize, ldr: i32, work: usize): i32 {
  const k = min<i32>(m, n);
  const qcols = complete != 0 ? m : k;
  const rrows = complete != 0 ? m : k;
  if (m < 0 || n < 0 || lda < max<i32>(n, 1) || ldq < max<i32>(qcols, 1) || ldr < max<i32>(n, 1)) return LA_BAD_ARGS;
  const at0 = (work + 63) & ~(<usize>63);
  const qt = at0 + ((<usize>m * <usize>n) << 3);
  const tau = qt + ((<usize>m * <usize>m) << 3);
  // At (n×m): row c = column c of A
  transpose(m, n, a, lda, at0, m);
  for (let j = 0; j < k; j++) {
    const vj = at(at0, m, j, j);
    const alpha = ld(vj, 0);
    const xnorm = nrm2(m - j - 1, vj + 8);
    if (xnorm == 0) {
      st(tau, j, 0);
      continue;
    }
    let beta = Math.hypot(alpha, xnorm);
    if (alpha > 0) beta = -beta;
    const t = (beta - alpha) / beta;
    scal(m - j - 1, 1.0 / (alpha - beta), vj + 8);
    st(tau, j, t);
    st(vj, 0, beta);
    // apply H_j = I − t·v·vᵀ (v = [1, vj[1..]]) to columns c > j
    for (let c = j + 1; c < n; c++) {
      const xc = at(at0, m, c, j);
      const s = t * (ld(xc, 0) + dot(m - j - 1, vj + 8, xc + 8));
      st(xc, 0, ld(xc, 0) - s);
      axpy(m - j - 1, -s, vj + 8, xc + 8);
    }
  }
  // R
  for (let i = 0; i < rrows; i++) {
    const ri = at(r, ldr, i, 0);
    memory.fill(ri, 0, <usize>n << 3);
    for (let c = i; c < n; c++) if (i < k) st(ri, c, load<f64>(at(at0, m, c, i)));
  }
  // Qᵀ rows: Q·e_c = H_0⋯H_{k−1}·e_c
  for (let c = 0; c < qcols; c++) {
    const x = at(qt, m, c, 0);
    memory.fill(x, 0, <usize>m << 3);
    st(x, c, 1);
    for (let j = k - 1; j >= 0; j--) {
      const t = ld(tau, j);
      if (t == 0) continue;
      const vj = at(at0, m, j, j);
      const xj = x + (<usize>j << 3);
      const s = t * (ld(xj, 0) + dot(m - j - 1, vj + 8, xj + 8));
      st(xj, 0, ld(xj, 0) - s);
      axpy(m - j - 1, -s, vj + 8, xj + 8);
    }
  }
  transpose(qcols, m, qt, m, q, ldq);
  return LA_OK;
}
