// Symmetric eigensolver: all eigenpairs of a dense symmetric matrix, ascending.
//
// 1. Householder tridiagonalisation on the lower triangle (row-major), blocked as LAPACK's
//    dsytrd/dlatrd: panels of NB columns reduced with one pass of symv over the trailing lower
//    triangle per column (the panel's earlier reflectors folded in through V and W, O(n·NB)),
//    then one rank-2·NB update A22 −= V·Wᵀ + W·Vᵀ of the trailing lower triangle on the packed
//    wasm GEMM (gemm.ts). The last NX columns, and small matrices, go unblocked (symv + syr2
//    per step on contiguous row segments). Reflector k is kept in the unused upper triangle, row k.
// 2. Tridiagonal eigenproblem by divide and conquer (Cuppen; LAPACK dstedc/dlaed0-3 style):
//    T is split in halves by a rank-one tear, the halves solved recursively (blocks of at most
//    LEAF rows by implicit QL, tql2), and each merge solves D + ρ·z·zᵀ: deflation of small z
//    components and of close eigenvalues (Givens), the secular equation per root with a
//    safeguarded middle-way rational iteration (Li; dlaed4's model, bracketed, bisection as
//    the fallback), ẑ recomputed by Löwner's formula so the eigenvectors are orthogonal to
//    working precision (Gu–Eisenstat), and the merged eigenvectors as two GEMMs (the top and
//    bottom row blocks, skipping the zero blocks of the block-diagonal Q) on the wasm GEMM.
//    Q is kept column-major (column j = eigenvector j of T), which is Zᵀ row-major.
// 3. Back-transform Vᵀ = Zᵀ·H_{n-3}⋯H_0, NB reflectors at a time in compact WY form
//    (I − Y·Tᵀ·Yᵀ, T as LAPACK's dlarft): two GEMMs per block on the packed wasm GEMM.
// 4. Sort ascending; write V with the eigenvectors as columns (numpy's `eigh` layout).

import { LA_BAD_ARGS, LA_NO_CONVERGENCE, LA_OK, at, axpy, dot, ld, nrm2, scal, st } from './la-internal';
import { gemmCore, gf_gemm_workspace_bytes } from './gemm';

const MAX_ITER: i32 = 60; // QL iterations per eigenvalue (leaves)
/** Largest block of the divide and conquer solved directly by QL. */
const LEAF: i32 = 32;
/** Iterations of the secular equation per root: model steps first, then bisection only. */
const SEC_MODEL_ITER: i32 = 30;
const SEC_MAX_ITER: i32 = 400;
const EPS: f64 = 2.220446049250313e-16;
/** Panel width of the blocked reduction and of the blocked back-transform. */
const NB: i32 = 32;
/** The reduction goes unblocked once the trailing matrix is at most NX wide (NX ≥ NB + 3). */
const NX: i32 = 128;
/** Column blocks of the trailing lower-triangle update (each one GEMM call). */
const UB: i32 = 192;

/** Bytes of the blocked stages' scratch: V|W and W|V (n × 2NB each), Yᵀ (NB × n), M (n × NB), T (NB²), t (2NB), the GEMM's packing. */
@inline function blockedBytes(n: i32): usize {
  return (<usize>n * <usize>(6 * NB) + <usize>(NB * NB + 2 * NB)) * 8 + gf_gemm_workspace_bytes() + 6 * 64;
}

/** Workspace bytes `gf_eigh` needs for an n×n matrix. */
export function gf_eigh_work_bytes(n: i32): usize {
  const nn = <usize>n * <usize>n;
  return (3 * nn + 11 * <usize>n + 16) * 8 + 5 * <usize>n * 4 + 20 * 64 + blockedBytes(n);
}

// The blocked stages' scratch, carved out of the workspace after the rotation panels (set by
// carve() at each gf_eigh call; kernels never allocate).
let VW: usize = 0; // n × 2NB; row i: V_i (NB values), W_i (NB values)
let WV: usize = 0; // n × 2NB; row i: W_i, V_i (the GEMM's right operand)
let YT: usize = 0; // NB × n: a block's reflectors as rows
let MB: usize = 0; // n × NB: Zᵀ·Y
let TB: usize = 0; // NB × NB: the block's T
let TT: usize = 0; // 2NB
let GW: usize = 0; // gemm.ts packing

// The divide and conquer's scratch (set by carveDc at each gf_eigh call).
let NG: i32 = 0; // n
let QZ: usize = 0; // Q, column-major n×n (= Zᵀ row-major)
let DV: usize = 0; // d (n)
let EV: usize = 0; // e (n): e[k] couples k and k+1
let QC: usize = 0; // n×n: a merge's columns, compact, column-major (ld = the merge's size)
let SU: usize = 0; // n×n: δ of each root, then the secular problem's eigenvectors (K×K, column-major)
let ZV: usize = 0; // n: z of a merge
let DL: usize = 0; // n: undeflated poles, ascending
let ZL: usize = 0; // n: their z, then ẑ
let DDF: usize = 0; // n: deflated eigenvalues
let LAM: usize = 0; // n: roots
let TMP: usize = 0; // n + 8
let IDX: usize = 0; // n i32: sort order
let CT: usize = 0; // n i32: column type (1 top, 2 dense, 3 bottom)
let UND: usize = 0; // n i32: undeflated columns, ascending pole
let DEF: usize = 0; // n i32: deflated columns
let POS: usize = 0; // n i32: type-order position of undeflated i

@inline function align64(p: usize): usize {
  return (p + 63) & ~(<usize>63);
}

function carve(n: i32, base: usize): void {
  VW = align64(base);
  WV = align64(VW + ((<usize>n * <usize>(2 * NB)) << 3));
  YT = align64(WV + ((<usize>n * <usize>(2 * NB)) << 3));
  MB = align64(YT + ((<usize>NB * <usize>n) << 3));
  TB = align64(MB + ((<usize>n * <usize>NB) << 3));
  TT = align64(TB + (<usize>(NB * NB) << 3));
  GW = align64(TT + (<usize>(2 * NB) << 3));
}

/** Carves the divide and conquer's scratch from `base`; returns the first byte after it. */
function carveDc(n: i32, base: usize): usize {
  const nb = <usize>n << 3;
  const nn = (<usize>n * <usize>n) << 3;
  QC = align64(base);
  SU = align64(QC + nn);
  ZV = align64(SU + nn);
  DL = align64(ZV + nb);
  ZL = align64(DL + nb);
  DDF = align64(ZL + nb);
  LAM = align64(DDF + nb);
  TMP = align64(LAM + nb);
  IDX = align64(TMP + nb + 64);
  CT = align64(IDX + (<usize>n << 2));
  UND = align64(CT + (<usize>n << 2));
  DEF = align64(UND + (<usize>n << 2));
  POS = align64(DEF + (<usize>n << 2));
  return align64(POS + (<usize>n << 2));
}

/**
 * Eigen-decomposition of the symmetric n×n matrix `a` (leading dimension `lda`; only the
 * lower triangle is read; `a` is overwritten). Writes the eigenvalues ascending to `w` (n)
 * and the eigenvectors as the columns of `v` (n×n, leading dimension `ldv`). `work` holds
 * gf_eigh_work_bytes(n) bytes. Returns 0, or 3 (no convergence) with the index of the
 * eigenvalue stored as i32 at `info`.
 */
export function gf_eigh(n: i32, a: usize, lda: i32, w: usize, v: usize, ldv: i32, work: usize, info: usize): i32 {
  if (n < 0 || lda < max<i32>(n, 1) || ldv < max<i32>(n, 1)) return LA_BAD_ARGS;
  store<i32>(info, -1);
  if (n == 0) return LA_OK;
  const zt = (work + 63) & ~(<usize>63);
  const d = zt + ((<usize>n * <usize>n) << 3);
  const e = d + (<usize>n << 3);
  const tau = e + (<usize>n << 3);
  const p = tau + (<usize>n << 3);
  carve(n, carveDc(n, p + ((<usize>n + 8) << 3)));

  let k0 = 0;
  while (n - k0 > NX) {
    reducePanel(n, k0, a, lda, d, e, tau, p);
    updateTrailing(n, k0 + NB, a, lda);
    k0 += NB;
  }
  tridiagonalise(n, k0, a, lda, d, e, tau, p);

  // Q = I (column-major, = Zᵀ row-major); the tridiagonal scaled to max |entry| = 1
  NG = n;
  QZ = zt;
  DV = d;
  EV = e;
  memory.fill(zt, 0, (<usize>n * <usize>n) << 3);
  for (let i = 0; i < n; i++) st(zt, i * n + i, 1.0);
  let scale: f64 = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.max(Math.abs(ld(d, i)), i + 1 < n ? Math.abs(ld(e, i)) : 0));
  if (scale > 0) {
    for (let i = 0; i < n; i++) {
      st(d, i, ld(d, i) / scale);
      st(e, i, ld(e, i) / scale);
    }
  }
  st(e, n - 1, 0);
  const s = divideConquer(0, n, info);
  if (s != LA_OK) return s;
  if (scale > 0) for (let i = 0; i < n; i++) st(d, i, ld(d, i) * scale);

  backTransformBlocked(n, a, lda, tau, zt);

  // sort ascending (shell sort of indices by d; the eigenvector rows are not moved)
  const perm = IDX; // i32[n]
  for (let i = 0; i < n; i++) store<i32>(perm + (<usize>i << 2), i);
  sortIndex(n, perm, d);
  for (let j = 0; j < n; j++) {
    const src = load<i32>(perm + (<usize>j << 2));
    st(w, j, ld(d, src));
  }
  // V[i][j] = Vᵀ[perm[j]][i], blocked over i
  const B: i32 = 32;
  for (let i0 = 0; i0 < n; i0 += B) {
    const i1 = min<i32>(n, i0 + B);
    for (let j = 0; j < n; j++) {
      const rowp = at(zt, n, load<i32>(perm + (<usize>j << 2)), 0);
      for (let i = i0; i < i1; i++) store<f64>(at(v, ldv, i, j), ld(rowp, i));
    }
  }
  return LA_OK;
}

/** Sorts the i32 indices perm[0..n) by key[perm[i]] ascending (shell sort). */
function sortIndex(n: i32, perm: usize, key: usize): void {
  let gap = n >> 1;
  while (gap > 0) {
    for (let i = gap; i < n; i++) {
      const t = load<i32>(perm + (<usize>i << 2));
      const dt = ld(key, t);
      let j = i;
      while (j >= gap) {
        const pj = load<i32>(perm + (<usize>(j - gap) << 2));
        if (ld(key, pj) <= dt) break;
        store<i32>(perm + (<usize>j << 2), pj);
        j -= gap;
      }
      store<i32>(perm + (<usize>j << 2), t);
    }
    gap = gap == 2 ? 1 : <i32>(<f64>gap / 2.2);
  }
}

/** Address of column j of the diagonal block of Q that starts at row/column lo. */
@inline function qcol(lo: i32, j: i32): usize {
  return QZ + ((<usize>(lo + j) * <usize>NG + <usize>lo) << 3);
}

/**
 * Eigenpairs of the tridiagonal block lo..lo+m−1 of (DV, EV) (its coupling EV[lo+m−1] to the
 * next block is not read): eigenvalues into DV[lo..lo+m), eigenvectors into the matching
 * diagonal block of Q (which holds I on entry), in no particular order.
 */
function divideConquer(lo: i32, m: i32, info: usize): i32 {
  if (m <= LEAF) return leafQL(lo, m, info);
  const n1 = m >> 1;
  const beta = ld(EV, lo + n1 - 1);
  const ab = Math.abs(beta);
  st(DV, lo + n1 - 1, ld(DV, lo + n1 - 1) - ab);
  st(DV, lo + n1, ld(DV, lo + n1) - ab);
  let s = divideConquer(lo, n1, info);
  if (s != LA_OK) return s;
  s = divideConquer(lo + n1, m - n1, info);
  if (s != LA_OK) return s;
  return merge(lo, m, n1, beta, info);
}

/** Implicit QL (EISPACK tql2) on the block lo..lo+m−1; rotations applied to Q's columns. */
function leafQL(lo: i32, m: i32, info: usize): i32 {
  const d = DV + (<usize>lo << 3);
  const e = TMP;
  for (let i = 0; i < m - 1; i++) st(e, i, ld(EV, lo + i));
  st(e, m - 1, 0);
  let f: f64 = 0;
  let tst1: f64 = 0;
  for (let l = 0; l < m; l++) {
    tst1 = Math.max(tst1, Math.abs(ld(d, l)) + Math.abs(ld(e, l)));
    let mm = l;
    while (mm < m - 1) {
      if (Math.abs(ld(e, mm)) <= EPS * tst1) break;
      mm++;
    }
    if (mm > l) {
      let iter = 0;
      do {
        iter++;
        if (iter > MAX_ITER) {
          store<i32>(info, lo + l);
          return LA_NO_CONVERGENCE;
        }
        let g = ld(d, l);
        let pp = (ld(d, l + 1) - g) / (2.0 * ld(e, l));
        let r = Math.hypot(pp, 1.0);
        if (pp < 0) r = -r;
        st(d, l, ld(e, l) / (pp + r));
        st(d, l + 1, ld(e, l) * (pp + r));
        const dl1 = ld(d, l + 1);
        let h = g - ld(d, l);
        for (let i = l + 2; i < m; i++) st(d, i, ld(d, i) - h);
        f += h;
        pp = ld(d, mm);
        let c: f64 = 1,
          c2: f64 = 1,
          c3: f64 = 1;
        const el1 = ld(e, l + 1);
        let s: f64 = 0,
          s2: f64 = 0;
        for (let i = mm - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * ld(e, i);
          h = c * pp;
          r = Math.hypot(pp, ld(e, i));
          st(e, i + 1, s * r);
          s = ld(e, i) / r;
          c = pp / r;
          pp = c * ld(d, i) - s * g;
          st(d, i + 1, h + s * (c * g + s * ld(d, i)));
          // columns i, i+1 of the block: x' = c·x − s·y, y' = s·x + c·y
          rotCols(m, qcol(lo, i), qcol(lo, i + 1), c, -s);
        }
        pp = (-s * s2 * c3 * el1 * ld(e, l)) / dl1;
        st(e, l, s * pp);
        st(d, l, c * pp);
      } while (Math.abs(ld(e, l)) > EPS * tst1);
    }
    st(d, l, ld(d, l) + f);
    st(e, l, 0);
  }
  return LA_OK;
}

/** x' = c·x + s·y, y' = c·y − s·x over len contiguous f64 (BLAS drot). */
function rotCols(len: i32, x: usize, y: usize, c: f64, s: f64): void {
  const vc = f64x2.splat(c);
  const vs = f64x2.splat(s);
  let i = 0;
  for (; i + 2 <= len; i += 2) {
    const o = <usize>i << 3;
    const xv = v128.load(x + o);
    const yv = v128.load(y + o);
    v128.store(x + o, f64x2.add(f64x2.mul(vc, xv), f64x2.mul(vs, yv)));
    v128.store(y + o, f64x2.sub(f64x2.mul(vc, yv), f64x2.mul(vs, xv)));
  }
  for (; i < len; i++) {
    const xv = ld(x, i);
    const yv = ld(y, i);
    st(x, i, c * xv + s * yv);
    st(y, i, c * yv - s * xv);
  }
}

/**
 * Merges the solved halves lo..lo+n1−1 and lo+n1..lo+m−1 (dlaed1-3): the block is
 * Q·(D + ρ·z·zᵀ)·Qᵀ with Q = diag(Q1, Q2), z = (last row of Q1, ±first row of Q2)/√2,
 * ρ = 2|β|. Leaves the eigenvalues in DV[lo..lo+m) and the eigenvectors in Q's block.
 */
function merge(lo: i32, m: i32, n1: i32, beta: f64, info: usize): i32 {
  const n2 = m - n1;
  const rho = 2.0 * Math.abs(beta);
  const sg: f64 = beta < 0 ? -Math.SQRT1_2 : Math.SQRT1_2;
  const d = DV + (<usize>lo << 3);
  let zmax: f64 = 0;
  let dmax: f64 = 0;
  for (let j = 0; j < m; j++) {
    const zj = j < n1 ? Math.SQRT1_2 * load<f64>(qcol(lo, j) + (<usize>(n1 - 1) << 3)) : sg * load<f64>(qcol(lo, j) + (<usize>n1 << 3));
    st(ZV, j, zj);
    zmax = Math.max(zmax, Math.abs(zj));
    dmax = Math.max(dmax, Math.abs(ld(d, j)));
    store<i32>(CT + (<usize>j << 2), j < n1 ? 1 : 3);
    store<i32>(IDX + (<usize>j << 2), j);
  }
  const tol = 8.0 * EPS * Math.max(dmax, zmax);
  if (rho * zmax <= tol) return LA_OK; // everything deflates: Q and D stand
  sortIndex(m, IDX, d);

  // deflation (dlaed2)
  let K = 0;
  let nd = 0;
  let pend = -1;
  for (let t = 0; t < m; t++) {
    const j = load<i32>(IDX + (<usize>t << 2));
    const zj = ld(ZV, j);
    if (rho * Math.abs(zj) <= tol) {
      store<i32>(DEF + (<usize>nd << 2), j);
      nd++;
      continue;
    }
    if (pend < 0) {
      pend = j;
      continue;
    }
    let s = ld(ZV, pend);
    let c = zj;
    const tau = Math.hypot(c, s);
    const gap = ld(d, j) - ld(d, pend);
    c /= tau;
    s = -s / tau;
    if (Math.abs(gap * c * s) <= tol) {
      st(ZV, j, tau);
      st(ZV, pend, 0);
      const tp = load<i32>(CT + (<usize>pend << 2));
      if (tp != load<i32>(CT + (<usize>j << 2))) {
        store<i32>(CT + (<usize>pend << 2), 2);
        store<i32>(CT + (<usize>j << 2), 2);
      }
      rotCols(m, qcol(lo, pend), qcol(lo, j), c, s);
      const dp = ld(d, pend);
      const dj = ld(d, j);
      st(d, pend, dp * c * c + dj * s * s);
      st(d, j, dp * s * s + dj * c * c);
      store<i32>(DEF + (<usize>nd << 2), pend);
      nd++;
    } else {
      store<i32>(UND + (<usize>K << 2), pend);
      K++;
    }
    pend = j;
  }
  if (pend >= 0) {
    store<i32>(UND + (<usize>K << 2), pend);
    K++;
  }

  // poles, z, and the type order of the undeflated columns (top-only, dense, bottom-only)
  let k1 = 0;
  let k2 = 0;
  for (let i = 0; i < K; i++) {
    const j = load<i32>(UND + (<usize>i << 2));
    st(DL, i, ld(d, j));
    st(ZL, i, ld(ZV, j));
    const t = load<i32>(CT + (<usize>j << 2));
    if (t == 1) k1++;
    else if (t == 2) k2++;
  }
  let o1 = 0;
  let o2 = k1;
  let o3 = k1 + k2;
  const mb = <usize>m << 3;
  for (let i = 0; i < K; i++) {
    const j = load<i32>(UND + (<usize>i << 2));
    const t = load<i32>(CT + (<usize>j << 2));
    const q = t == 1 ? o1++ : t == 2 ? o2++ : o3++;
    store<i32>(POS + (<usize>i << 2), q);
    memory.copy(QC + <usize>q * mb, qcol(lo, j), mb);
  }
  for (let t = 0; t < nd; t++) {
    const j = load<i32>(DEF + (<usize>t << 2));
    memory.copy(QC + <usize>(K + t) * mb, qcol(lo, j), mb);
    st(DDF, t, ld(d, j));
  }

  // the secular equation: roots and δ_ij = d_i − λ_j (column j of SU, K×K)
  if (K == 1) {
    st(LAM, 0, ld(DL, 0) + rho * ld(ZL, 0) * ld(ZL, 0));
    st(SU, 0, 1.0);
  } else {
    let zz: f64 = 0;
    for (let i = 0; i < K; i++) zz += ld(ZL, i) * ld(ZL, i);
    for (let j = 0; j < K; j++) {
      if (!secular(K, j, rho, zz, SU + ((<usize>j * <usize>K) << 3))) {
        store<i32>(info, lo + j);
        return LA_NO_CONVERGENCE;
      }
    }
    // ẑ by Löwner's formula from the computed roots (Gu–Eisenstat)
    for (let i = 0; i < K; i++) st(TMP, i, load<f64>(SU + ((<usize>i * <usize>K + <usize>i) << 3)));
    for (let j = 0; j < K; j++) {
      const col = SU + ((<usize>j * <usize>K) << 3);
      const dj = ld(DL, j);
      for (let i = 0; i < K; i++) {
        if (i != j) st(TMP, i, ld(TMP, i) * (ld(col, i) / (ld(DL, i) - dj)));
      }
    }
    for (let i = 0; i < K; i++) {
      const zh = Math.sqrt(Math.abs(ld(TMP, i)));
      st(ZL, i, ld(ZL, i) < 0 ? -zh : zh);
    }
    // eigenvectors of D + ρ·ẑ·ẑᵀ: u_j = (ẑ_i / δ_ij)_i normalised, rows put in type order
    const tmp2 = DDF + (<usize>nd << 3); // DDF holds nd values; the rest (≥ K) is free
    for (let j = 0; j < K; j++) {
      const col = SU + ((<usize>j * <usize>K) << 3);
      let ss: f64 = 0;
      for (let i = 0; i < K; i++) {
        const u = ld(ZL, i) / ld(col, i);
        st(col, i, u);
        ss += u * u;
      }
      const inv = 1.0 / Math.sqrt(ss);
      for (let i = 0; i < K; i++) st(tmp2, load<i32>(POS + (<usize>i << 2)), ld(col, i) * inv);
      memory.copy(col, tmp2, <usize>K << 3);
    }
  }
  // Q[:, 0:K] = Qc·U: rows 0..n1 from the top-only and dense columns, rows n1..m from the dense and bottom-only
  const k12 = k1 + k2;
  gemmCore(false, false, false, K, n1, k12, 1.0, SU, K, QC, m, 0.0, qcol(lo, 0), NG, GW, false, 0);
  gemmCore(false, false, false, K, n2, K - k1, 1.0, SU + (<usize>k1 << 3), K, QC + ((<usize>k1 * <usize>m + <usize>n1) << 3), m, 0.0, qcol(lo, 0) + (<usize>n1 << 3), NG, GW, false, 0);
  for (let j = 0; j < K; j++) st(d, j, ld(LAM, j));
  for (let t = 0; t < nd; t++) {
    memory.copy(qcol(lo, K + t), QC + <usize>(K + t) * mb, mb);
    st(d, K + t, ld(DDF, t));
  }
  return LA_OK;
}

/**
 * Root j of 1/ρ + Σ z_i²/(d_i − λ) = 0 (poles DL ascending, z in ZL, K ≥ 2). Written: λ_j
 * to LAM[j] and δ_i = d_i − λ_j to `delta` (computed from the nearer pole, so accurate).
 * Root j < K−1 lies in (d_j, d_{j+1}), root K−1 in (d_{K−1}, d_{K−1} + ρ·zᵀz]. Each step
 * solves the two-pole model c + s/(δ_L − η) + S/(δ_R − η) fitted to the value and the
 * slopes of the two partial sums (dlaed4's middle way); a step leaving the bracket is
 * replaced by Newton's, or by bisection. Returns false when no convergence.
 */
function secular(K: i32, j: i32, rho: f64, zz: f64, delta: usize): bool {
  const rhoinv = 1.0 / rho;
  let o: i32;
  let lo: f64;
  let hi: f64;
  let pL: i32;
  if (j < K - 1) {
    pL = j;
    const dj = ld(DL, j);
    const mid = 0.5 * (ld(DL, j + 1) - dj);
    let w = rhoinv;
    for (let i = 0; i < K; i++) {
      const z = ld(ZL, i);
      w += (z * z) / (ld(DL, i) - dj - mid);
    }
    if (w >= 0) {
      o = j;
      lo = 0;
      hi = mid;
    } else {
      o = j + 1;
      lo = dj + mid - ld(DL, j + 1);
      hi = 0;
    }
  } else {
    pL = K - 2;
    o = K - 1;
    lo = 0;
    hi = rho * zz;
  }
  const pR = pL + 1;
  const dO = ld(DL, o);
  let tau = 0.5 * (lo + hi);
  for (let iter = 0; iter < SEC_MAX_ITER; iter++) {
    let psi: f64 = 0,
      dpsi: f64 = 0,
      phi: f64 = 0,
      dphi: f64 = 0,
      abssum: f64 = 0;
    for (let i = 0; i < K; i++) {
      const del = ld(DL, i) - dO - tau;
      st(delta, i, del);
      const z = ld(ZL, i);
      const t = z / del;
      if (i <= pL) {
        psi += z * t;
        dpsi += t * t;
      } else {
        phi += z * t;
        dphi += t * t;
      }
      abssum += Math.abs(z * t);
    }
    const w = rhoinv + psi + phi;
    const dw = dpsi + dphi;
    const erretm = 10.0 * abssum + 2.0 * rhoinv + 3.0 * Math.abs(tau) * dw;
    if (Math.abs(w) <= EPS * erretm) {
      st(LAM, j, dO + tau);
      return true;
    }
    if (w > 0) hi = tau;
    else lo = tau;
    if (hi - lo <= 2.0 * EPS * Math.max(Math.abs(lo), Math.abs(hi))) {
      st(LAM, j, dO + tau);
      return true;
    }
    let eta: f64 = NaN;
    if (iter < SEC_MODEL_ITER) {
      const dL = ld(delta, pL);
      const dR = ld(delta, pR);
      const a = (dL + dR) * w - dL * dR * dw;
      const b = dL * dR * w;
      const c = w - dL * dpsi - dR * dphi;
      let best: f64 = NaN;
      if (c == 0) {
        if (a != 0) best = b / a;
      } else {
        const disc = Math.sqrt(Math.abs(a * a - 4.0 * b * c));
        const q = a >= 0 ? a + disc : a - disc;
        const r1 = q / (2.0 * c);
        const r2 = q != 0 ? (2.0 * b) / q : NaN;
        if (inside(tau + r1, lo, hi)) best = r1;
        if (inside(tau + r2, lo, hi) && (isNaN(best) || Math.abs(r2) < Math.abs(best))) best = r2;
      }
      if (!isNaN(best) && inside(tau + best, lo, hi)) eta = best;
      else if (dw > 0 && inside(tau - w / dw, lo, hi)) eta = -w / dw;
    }
    if (isNaN(eta) || eta == 0) eta = 0.5 * (lo + hi) - tau;
    tau += eta;
  }
  return false;
}

@inline function inside(x: f64, lo: f64, hi: f64): bool {
  return x > lo && x < hi;
}

/** Row i of V|W (NB values of V, then NB of W). */
@inline function vwRow(i: i32): usize {
  return VW + ((<usize>i * <usize>(2 * NB)) << 3);
}

/**
 * Householder vector of column k (rows k+1..n−1, already updated): written as u (u[0] = 1) to
 * row k of the upper triangle, d[k], e[k], tau[k] set; returns tau.
 */
function reflector(n: i32, k: i32, a: usize, lda: i32, d: usize, e: usize, tau: usize): f64 {
  const m = n - k - 1;
  const u = at(a, lda, k, k + 1);
  for (let i = 0; i < m; i++) st(u, i, load<f64>(at(a, lda, k + 1 + i, k)));
  const alpha = ld(u, 0);
  const xnorm = nrm2(m - 1, u + 8);
  st(d, k, load<f64>(at(a, lda, k, k)));
  if (xnorm == 0) {
    st(tau, k, 0);
    st(e, k, alpha);
    st(u, 0, 1);
    return 0;
  }
  let beta = Math.hypot(alpha, xnorm);
  if (alpha > 0) beta = -beta;
  const t = (beta - alpha) / beta;
  scal(m - 1, 1.0 / (alpha - beta), u + 8);
  st(u, 0, 1);
  st(tau, k, t);
  st(e, k, beta);
  return t;
}

/** p[0..m) = A22·u for the symmetric trailing A22 = a[k+1.., k+1..] (lower triangle read once). */
function symvLower(m: i32, a22: usize, lda: i32, u: usize, p: usize): void {
  memory.fill(p, 0, <usize>m << 3);
  for (let i = 0; i < m; i++) {
    const row = a22 + ((<usize>i * <usize>lda) << 3);
    const ui = ld(u, i);
    st(p, i, ld(p, i) + dot(i, row, u) + ld(row, i) * ui);
    axpy(i, ui, row, p);
  }
}

/**
 * Reduces columns k0..k0+NB−1 (dlatrd): column k is first brought up to date with the panel's
 * earlier reflectors (a[i][k] −= V_i·W_k + W_i·V_k), its reflector u is formed, and
 * w = tau·(A22·u − V·(Wᵀu) − W·(Vᵀu)) − ½·tau·(wᵀu)·u is kept as column j of W (u as column j
 * of V); A22 itself is left as it was at the panel's start. Needs k0 + NB + 2 < n.
 */
function reducePanel(n: i32, k0: i32, a: usize, lda: i32, d: usize, e: usize, tau: usize, p: usize): void {
  memory.fill(vwRow(k0), 0, (<usize>(n - k0) * <usize>(2 * NB)) << 3);
  const WO: usize = <usize>NB << 3; // byte offset of W within a row of V|W
  for (let j = 0; j < NB; j++) {
    const k = k0 + j;
    const m = n - k - 1;
    if (j > 0) {
      const rk = vwRow(k);
      for (let i = k; i < n; i++) {
        const ri = vwRow(i);
        const q = at(a, lda, i, k);
        store<f64>(q, load<f64>(q) - dot(j, ri, rk + WO) - dot(j, ri + WO, rk));
      }
    }
    const t = reflector(n, k, a, lda, d, e, tau);
    const u = at(a, lda, k, k + 1);
    if (t != 0) {
      symvLower(m, at(a, lda, k + 1, k + 1), lda, u, p);
      if (j > 0) {
        // tt[0..j) = Vᵀu, tt[NB..NB+j) = Wᵀu over rows k+1..n−1
        memory.fill(TT, 0, <usize>(2 * NB) << 3);
        for (let i = 0; i < m; i++) {
          const ri = vwRow(k + 1 + i);
          const ui = ld(u, i);
          axpy(j, ui, ri, TT);
          axpy(j, ui, ri + WO, TT + WO);
        }
        for (let i = 0; i < m; i++) {
          const ri = vwRow(k + 1 + i);
          st(p, i, ld(p, i) - dot(j, ri, TT + WO) - dot(j, ri + WO, TT));
        }
      }
      scal(m, t, p);
      axpy(m, -0.5 * t * dot(m, p, u), u, p);
    } else {
      memory.fill(p, 0, <usize>m << 3);
    }
    for (let i = 0; i < m; i++) {
      const ri = vwRow(k + 1 + i);
      st(ri, j, ld(u, i));
      st(ri + WO, j, ld(p, i));
    }
  }
}

/**
 * A22 −= V·Wᵀ + W·Vᵀ on the lower triangle of rows/columns r0..n−1: (V|W)·(W|V)ᵀ by column
 * blocks of UB, each one GEMM over the rows from its diagonal block down (the diagonal
 * block's upper part is written too: it holds only reflectors of later steps, not yet formed).
 */
function updateTrailing(n: i32, r0: i32, a: usize, lda: i32): void {
  const ld2 = 2 * NB;
  for (let i = r0; i < n; i++) {
    const s = vwRow(i);
    const o = WV + ((<usize>i * <usize>ld2) << 3);
    memory.copy(o, s + (<usize>NB << 3), <usize>NB << 3);
    memory.copy(o + (<usize>NB << 3), s, <usize>NB << 3);
  }
  for (let j0 = r0; j0 < n; j0 += UB) {
    const bs = min<i32>(UB, n - j0);
    gemmCore(false, true, false, n - j0, bs, ld2, -1.0, vwRow(j0), ld2, WV + ((<usize>j0 * <usize>ld2) << 3), ld2, 1.0, at(a, lda, j0, j0), lda, GW, false, 0);
  }
}

/**
 * Householder reduction of the lower triangle of `a` to tridiagonal form from column k0 on
 * (columns before k0 already reduced): d (diagonal), e[k] (between k and k+1), tau[k];
 * reflector k (v[0] = 1 at column k+1) is stored in row k of the upper triangle,
 * a[k][k+1..n). `p` is scratch of n+1 f64.
 */
function tridiagonalise(n: i32, k0: i32, a: usize, lda: i32, d: usize, e: usize, tau: usize, p: usize): void {
  for (let k = k0; k + 2 < n; k++) {
    const m = n - k - 1;
    const t = reflector(n, k, a, lda, d, e, tau);
    if (t == 0) continue;
    const u = at(a, lda, k, k + 1);
    const a22 = at(a, lda, k + 1, k + 1);
    symvLower(m, a22, lda, u, p);
    scal(m, t, p);
    // w = p − ½·t·(pᵀu)·u  (in p)
    axpy(m, -0.5 * t * dot(m, p, u), u, p);
    // A22 −= u·wᵀ + w·uᵀ (lower)
    for (let i = 0; i < m; i++) {
      const row = a22 + ((<usize>i * <usize>lda) << 3);
      syr2Row(i + 1, -ld(u, i), p, -ld(p, i), u, row);
    }
  }
  if (n >= 2) {
    st(d, n - 2, load<f64>(at(a, lda, n - 2, n - 2)));
    st(e, n - 2, load<f64>(at(a, lda, n - 1, n - 2)));
    st(tau, n - 2, 0);
  }
  st(d, n - 1, load<f64>(at(a, lda, n - 1, n - 1)));
  st(e, n - 1, 0);
  if (n >= 1) st(tau, n - 1, 0);
}

/** row[j] += a·x[j] + b·y[j] for j < len. */
function syr2Row(len: i32, a: f64, x: usize, b: f64, y: usize, row: usize): void {
  const va = f64x2.splat(a);
  const vb = f64x2.splat(b);
  let j = 0;
  for (; j + 2 <= len; j += 2) {
    const o = <usize>j << 3;
    v128.store(row + o, f64x2.add(v128.load(row + o), f64x2.add(f64x2.mul(va, v128.load(x + o)), f64x2.mul(vb, v128.load(y + o)))));
  }
  for (; j < len; j++) st(row, j, ld(row, j) + a * ld(x, j) + b * ld(y, j));
}

/**
 * Vᵀ = Zᵀ·H_{n-3}⋯H_0 in place in `zt`, NB reflectors at a time, last block first. For the
 * block k0..k1−1, H_{k0}⋯H_{k1−1} = I − Y·T·Yᵀ (Y's columns the reflectors, T upper
 * triangular as dlarft forms it), so Zᵀ·H_{k1−1}⋯H_{k0} = Zᵀ − (Zᵀ·Y)·Tᵀ·Yᵀ on columns k0+1..n−1.
 */
function backTransformBlocked(n: i32, a: usize, lda: i32, tau: usize, zt: usize): void {
  const nref = n - 2; // reflectors 0..n−3
  if (nref <= 0) return;
  let kb = ((nref - 1) / NB) * NB;
  for (; kb >= 0; kb -= NB) {
    const nb = min<i32>(NB, nref - kb);
    const L = n - kb - 1; // columns kb+1..n−1
    // Yᵀ (nb × L): row j = reflector kb+j, zero before its column kb+j+1
    for (let j = 0; j < nb; j++) {
      const row = YT + ((<usize>j * <usize>L) << 3);
      if (j > 0) memory.fill(row, 0, <usize>j << 3);
      memory.copy(row + (<usize>j << 3), at(a, lda, kb + j, kb + j + 1), <usize>(L - j) << 3);
    }
    // T (upper): T[j][j] = tau_j, T[0:j, j] = −tau_j·T[0:j, 0:j]·(Y[:, 0:j]ᵀ·y_j)
    for (let j = 0; j < nb; j++) {
      const tj = ld(tau, kb + j);
      const yj = YT + ((<usize>j * <usize>L) << 3);
      for (let i = 0; i < j; i++) st(TT, i, tj == 0 ? 0 : dot(L - j, YT + ((<usize>i * <usize>L + <usize>j) << 3), yj + (<usize>j << 3)));
      for (let i = 0; i < j; i++) {
        let s: f64 = 0;
        for (let l = i; l < j; l++) s += ld(TB, i * NB + l) * ld(TT, l);
        st(TB, i * NB + j, -tj * s);
      }
      st(TB, j * NB + j, tj);
    }
    // M = Zᵀ[:, kb+1:]·Y (n × nb)
    const z = zt + (<usize>(kb + 1) << 3);
    gemmCore(false, true, false, n, nb, L, 1.0, z, n, YT, L, 0.0, MB, nb, GW, false, 0);
    // M ← M·Tᵀ: M[r][i] = Σ_{j≥i} M[r][j]·T[i][j] (in place, i ascending)
    for (let r = 0; r < n; r++) {
      const mr = MB + ((<usize>r * <usize>nb) << 3);
      for (let i = 0; i < nb; i++) {
        let s: f64 = 0;
        for (let j = i; j < nb; j++) s += ld(mr, j) * ld(TB, i * NB + j);
        st(mr, i, s);
      }
    }
    // Zᵀ[:, kb+1:] −= M·Yᵀ
    gemmCore(false, false, false, n, L, nb, -1.0, MB, nb, YT, L, 1.0, z, n, GW, false, 0);
  }
}
