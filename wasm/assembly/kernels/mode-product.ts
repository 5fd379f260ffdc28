// Mode-d product of a row-major tensor with a matrix: Y = X ×_d M, the Kronecker mat-vec
// building block. X is viewed as (L, n_d, R) with L = Π_{e<d} n_e and R = Π_{e>d} n_e;
// Y[l][j][r] = Σ_k op(M)[j][k]·X[l][k][r], op(M) = M (m×n_d) or Mᵀ (M is n_d×m).
// R = 1 (last mode) is one NT/NN product over all l; otherwise one NN product per slab l.

import { LA_BAD_ARGS, LA_OK, gemmNN, gemmNT, transpose as transposeInto } from './la-internal';

/** Scratch bytes gf_mode_product needs (a transposed copy of M when transpose and R > 1). */
export function gf_mode_product_work_bytes(nd: i32, m: i32): usize {
  return (<usize>nd * <usize>m) * 8 + 64;
}

/**
 * y (L×m×R, zero-initialised here) = x (L×nd×R) ×_d op(mat). `transpose` = 0: mat is m×nd
 * (leading dim ldm); 1: mat is nd×m and Mᵀ is used. `work` holds
 * gf_mode_product_work_bytes(nd, m) bytes.
 */
export function gf_mode_product(lsz: i32, nd: i32, rsz: i32, x: usize, m: i32, mat: usize, ldm: i32, transpose: i32, y: usize, work: usize): i32 {
  if (lsz < 0 || nd < 0 || rsz < 0 || m < 0) return LA_BAD_ARGS;
  if (transpose == 0 ? ldm < max<i32>(nd, 1) : ldm < max<i32>(m, 1)) return LA_BAD_ARGS;
  const total = <usize>lsz * <usize>m * <usize>rsz;
  memory.fill(y, 0, total << 3);
  if (total == 0 || nd == 0) return LA_OK;
  if (rsz == 1) {
    // Y (L×m) = X (L×nd) · op(M)ᵀ
    if (transpose == 0) gemmNT(lsz, m, nd, 1.0, x, nd, mat, ldm, y, m, false);
    else gemmNN(lsz, m, nd, 1.0, x, nd, mat, ldm, y, m);
    return LA_OK;
  }
  let pm = mat;
  let lm = ldm;
  if (transpose != 0) {
    const t = (work + 63) & ~(<usize>63);
    transposeInto(nd, m, mat, ldm, t, nd);
    pm = t;
    lm = nd;
  }
  const slabX = (<usize>nd * <usize>rsz) << 3;
  const slabY = (<usize>m * <usize>rsz) << 3;
  for (let l = 0; l < lsz; l++) {
    gemmNN(m, rsz, nd, 1.0, pm, lm, x + <usize>l * slabX, rsz, y + <usize>l * slabY, rsz);
  }
  return LA_OK;
}
