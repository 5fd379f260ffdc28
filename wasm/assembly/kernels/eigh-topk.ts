// Top-k eigenpairs (algebraically largest) of a dense symmetric matrix by randomised subspace
// iteration with Rayleigh–Ritz, in f64. Basis vectors are rows (b×n, contiguous), so A·Q is
// Y = Q·A (A symmetric), and every other b×n product, runs on the packed GEMM (gemm.ts), so
// the cost of an iteration is GEMM-shaped. The next basis is a Chebyshev filter of degree ≤ 8
// applied to the Ritz vectors (Zhou & Saad's ChebFSI, mirrored for the top of the spectrum):
// it damps [λ_min estimate, θ_b] and grows the wanted end, so far fewer iterations are needed
// than with plain subspace iteration on slowly decaying spectra. The projected b×b problem is solved by gf_eigh.
// Orthonormalisation of the next basis A·X: rows scaled to unit norm (they are θ_t·x_t + r_t,
// so nearly orthonormal already), then Cholesky-QR twice (G = Q·Qᵀ = L·Lᵀ, Q ← L⁻¹·Q by GEMM);
// where G is not safely positive definite (a rank-deficient block), classical Gram–Schmidt
// applied twice (CGS2), in which a row that vanishes is replaced by a fresh seeded random row.

import { LA_BAD_ARGS, LA_NO_CONVERGENCE, LA_OK, at, axpy, dot, ld, nrm2, scal, st } from './la-internal';
import { gf_eigh, gf_eigh_work_bytes } from './eigh';
import { gf_cholesky } from './cholesky';
import { epiNone, gemmCore, gf_gemm_workspace_bytes, setEpilogue } from './gemm';

let rngState: u64 = 0;

@inline function nextUniform(): f64 {
  rngState += 0x9e3779b97f4a7c15;
  let z = rngState;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z = z ^ (z >> 31);
  return <f64>(z >> 11) * 1.1102230246251565e-16 - 0.5;
}

function fillRandom(n: i32, x: usize): void {
  for (let i = 0; i < n; i++) st(x, i, nextUniform());
}

/** Lanczos steps of the lower spectrum estimate, and the Chebyshev filter degree. */
const LANCZOS_STEPS: i32 = 40;
const CHEB_DEGREE: i32 = 8;

/** Workspace bytes of gf_eigh_topk for order n and block size b. */
export function gf_eigh_topk_work_bytes(n: i32, b: i32): usize {
  return (3 * <usize>b * <usize>n + 4 * <usize>b * <usize>b + 2 * <usize>b + 16) * 8 + gf_eigh_work_bytes(b) + gf_gemm_workspace_bytes() +
    (3 * <usize>n + 2 * <usize>LANCZOS_STEPS + 16) * 8 + 512;
}

/** acosh(t) for t ≥ 1. */
@inline function acosh1(t: f64): f64 {
  return Math.log(t + Math.sqrt(t * t - 1.0));
}

/** Number of eigenvalues of the symmetric tridiagonal (alpha, beta) below x (Sturm count). */
function sturmCount(m: i32, alpha: usize, beta: usize, x: f64): i32 {
  let count = 0;
  let q: f64 = 1;
  for (let i = 0; i < m; i++) {
    const b2 = i > 0 ? ld(beta, i - 1) * ld(beta, i - 1) : 0.0;
    q = ld(alpha, i) - x - (i > 0 ? b2 / q : 0.0);
    if (q == 0) q = 1e-300;
    if (q < 0) count++;
  }
  return count;
}

/**
 * An estimate of the smallest eigenvalue of the symmetric `a`: the smallest Ritz value of
 * LANCZOS_STEPS Lanczos steps from a seeded random vector (from above; the filter widens it).
 * The Chebyshev filter only needs an interval that about covers the unwanted end of the
 * spectrum: an estimate that is a little off costs speed, never correctness, as convergence
 * is decided by the residuals. Scratch: 3n + 2·LANCZOS_STEPS f64 at `ws`.
 */
function spectrumLowerBound(n: i32, a: usize, lda: i32, ws: usize): f64 {
  const v0 = ws;
  const v1 = v0 + (<usize>n << 3);
  const wv = v1 + (<usize>n << 3);
  const alpha = wv + (<usize>n << 3);
  const beta = alpha + (<usize>LANCZOS_STEPS << 3);
  memory.fill(v0, 0, <usize>n << 3);
  fillRandom(n, v1);
  scal(n, 1.0 / nrm2(n, v1), v1);
  let m = 0;
  let bPrev: f64 = 0;
  for (let j = 0; j < min<i32>(LANCZOS_STEPS, n); j++) {
    for (let i = 0; i < n; i++) st(wv, i, dot(n, at(a, lda, i, 0), v1));
    const aj = dot(n, wv, v1);
    axpy(n, -aj, v1, wv);
    if (bPrev != 0) axpy(n, -bPrev, v0, wv);
    st(alpha, j, aj);
    m = j + 1;
    const bj = nrm2(n, wv);
    st(beta, j, bj);
    if (!(bj > 1e-12 * (Math.abs(aj) + bPrev)) || !isFinite(bj)) break;
    memory.copy(v0, v1, <usize>n << 3);
    memory.copy(v1, wv, <usize>n << 3);
    scal(n, 1.0 / bj, v1);
    bPrev = bj;
  }
  // Gershgorin interval of T, then bisection (Sturm counts) for its smallest eigenvalue
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < m; i++) {
    const r = (i > 0 ? Math.abs(ld(beta, i - 1)) : 0.0) + (i + 1 < m ? Math.abs(ld(beta, i)) : 0.0);
    lo = min<f64>(lo, ld(alpha, i) - r);
    hi = max<f64>(hi, ld(alpha, i) + r);
  }
  let l = lo, h = hi;
  for (let it = 0; it < 100 && h - l > 1e-14 * max<f64>(Math.abs(l), Math.abs(h)); it++) {
    const mid = 0.5 * (l + h);
    if (sturmCount(m, alpha, beta, mid) >= 1) h = mid;
    else l = mid;
  }
  return l;
}

/** C (m×n, ldc) = A·op(B) by the packed GEMM (overwrites C). */
@inline function mul(transB: bool, m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, gw: usize): void {
  gemmCore(false, transB, false, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc, gw, false, 0);
}

/**
 * Orthonormalises the b rows of q (b×n) by row scaling and Cholesky-QR twice; `g`, `linv`
 * are b×b scratch, `tmp` b×n scratch. Returns false (q still spans the same space, rows
 * rescaled) when a row vanishes or G is too ill-conditioned; the caller then uses CGS2.
 */
function cholQr2(b: i32, n: i32, q: usize, tmp: usize, g: usize, linv: usize, gw: usize, info: usize): bool {
  for (let r = 0; r < b; r++) {
    const row = at(q, n, r, 0);
    const nr = nrm2(n, row);
    if (!(nr > 0) || !isFinite(nr)) return false;
    scal(n, 1.0 / nr, row);
  }
  for (let pass = 0; pass < 2; pass++) {
    mul(true, b, b, n, q, n, q, n, g, b, gw);
    if (gf_cholesky(b, g, b, info) != LA_OK) return false;
    // rows were unit vectors, so L[i][i]² is what is left of row i after projecting out the
    // rows before it: below 1e-6 the block is too close to rank-deficient for Cholesky-QR
    for (let i = 0; i < b; i++) if (!(ld(g, i * b + i) > 1e-3)) return false;
    memory.fill(linv, 0, (<usize>b * <usize>b) << 3);
    for (let j = 0; j < b; j++) {
      st(linv, j * b + j, 1.0 / ld(g, j * b + j));
      for (let i = j + 1; i < b; i++) {
        let sum: f64 = 0;
        for (let p = j; p < i; p++) sum += ld(g, i * b + p) * ld(linv, p * b + j);
        st(linv, i * b + j, -sum / ld(g, i * b + i));
      }
    }
    mul(false, b, n, b, linv, b, q, n, tmp, n, gw);
    memory.copy(q, tmp, (<usize>b * <usize>n) << 3);
  }
  return true;
}

/** Orthonormalises the `b` rows (length n) of `q` in place (CGS2 with random replacement). */
export function orthonormaliseRows(b: i32, n: i32, q: usize, coef: usize): void {
  for (let r = 0; r < b; r++) {
    const qr = at(q, n, r, 0);
    let attempts = 0;
    while (true) {
      const before = nrm2(n, qr);
      for (let pass = 0; pass < 2; pass++) {
        for (let s = 0; s < r; s++) st(coef, s, dot(n, at(q, n, s, 0), qr));
        for (let s = 0; s < r; s++) axpy(n, -ld(coef, s), at(q, n, s, 0), qr);
      }
      const after = nrm2(n, qr);
      if (after > 1e-8 * before && after > 0 && isFinite(after)) {
        scal(n, 1.0 / after, qr);
        break;
      }
      attempts++;
      fillRandom(n, qr);
      if (attempts > 5) {
        // n ≤ r: no room left; keep a zero row (callers use b ≤ n, so this cannot happen)
        memory.fill(qr, 0, <usize>n << 3);
        break;
      }
    }
  }
}

/**
 * k largest eigenpairs of the symmetric n×n `a` (lda), block size b (k ≤ b ≤ n), at most
 * `maxIter` iterations, stop when every one of the k Ritz residuals ‖A·x − θ·x‖ ≤
 * tol·max|θ|. Writes eigenvalues descending to `w` (k) and eigenvectors as the columns of `v`
 * (n×k, ldv). `a` is not modified. Returns 0, or 3 (no convergence: the iterations used are
 * stored as i32 at `info`, the worst relative residual as f64 at `info + 8`).
 */
export function gf_eigh_topk(n: i32, a: usize, lda: i32, k: i32, b: i32, maxIter: i32, tol: f64, seed: f64, w: usize, v: usize, ldv: i32, work: usize, info: usize): i32 {
  if (n < 0 || k < 0 || k > n || b < k || b > n || lda < max<i32>(n, 1) || ldv < max<i32>(k, 1) || maxIter < 1) return LA_BAD_ARGS;
  store<i32>(info, 0);
  store<f64>(info + 8, 0);
  if (k == 0) return LA_OK;
  rngState = <u64>seed;
  const base = (work + 63) & ~(<usize>63);
  const bn = (<usize>b * <usize>n) << 3;
  const bb = (<usize>b * <usize>b) << 3;
  let q = base;
  let y = q + bn;
  let x = y + bn;
  const h = base + 3 * bn;
  const u = h + bb;
  const ut = u + bb;
  const hc = ut + bb;
  const th = hc + bb;
  const coef = th + (<usize>b << 3);
  const ew = (coef + (<usize>b << 3) + 64 + 63) & ~(<usize>63);
  const einfo = coef + (<usize>b << 3);
  const gw = (ew + gf_eigh_work_bytes(b) + 63) & ~(<usize>63);
  const lz = (gw + gf_gemm_workspace_bytes() + 63) & ~(<usize>63);
  setEpilogue(epiNone);

  // lower end of the spectrum, for the Chebyshev filter's damping interval
  const lowEnd = b < n ? spectrumLowerBound(n, a, lda, lz) : 0.0;
  for (let r = 0; r < b; r++) fillRandom(n, at(q, n, r, 0));
  orthonormaliseRows(b, n, q, coef);
  let worst: f64 = 0;
  for (let it = 1; it <= maxIter; it++) {
    // Y = Q·A (rows: A·q_r)
    mul(false, b, n, n, q, n, a, lda, y, n, gw);
    // H = Q·Yᵀ (b×b), symmetrised
    mul(true, b, b, n, q, n, y, n, h, b, gw);
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < i; j++) {
        const s = 0.5 * (load<f64>(at(h, b, i, j)) + load<f64>(at(h, b, j, i)));
        store<f64>(at(h, b, i, j), s);
        store<f64>(at(h, b, j, i), s);
      }
    }
    memory.copy(hc, h, bb);
    const s = gf_eigh(b, hc, b, th, u, b, ew, einfo);
    if (s != LA_OK) return s;
    // Ut[t][r] = U[r][b-1-t] (descending order)
    for (let t = 0; t < b; t++) for (let r = 0; r < b; r++) store<f64>(at(ut, b, t, r), load<f64>(at(u, b, r, b - 1 - t)));
    // X = Ut·Q (Ritz vectors), AX = Ut·Y (into q)
    mul(false, b, n, b, ut, b, q, n, x, n, gw);
    mul(false, b, n, b, ut, b, y, n, q, n, gw);
    const scale = max<f64>(Math.abs(ld(th, b - 1)), Math.abs(ld(th, 0)));
    worst = 0;
    for (let t = 0; t < k; t++) {
      const theta = ld(th, b - 1 - t);
      // y row t as scratch: r = AX[t] − θ·X[t]
      const rt = at(y, n, t, 0);
      memory.copy(rt, at(q, n, t, 0), <usize>n << 3);
      axpy(n, -theta, at(x, n, t, 0), rt);
      const rel = scale > 0 ? nrm2(n, rt) / scale : 0;
      if (rel > worst) worst = rel;
    }
    if (worst <= tol || scale == 0) {
      for (let t = 0; t < k; t++) {
        st(w, t, ld(th, b - 1 - t));
        const xt = at(x, n, t, 0);
        for (let i = 0; i < n; i++) store<f64>(at(v, ldv, i, t), ld(xt, i));
      }
      store<i32>(info, it);
      store<f64>(info + 8, worst);
      return LA_OK;
    }
    // Next basis: a Chebyshev polynomial of A of degree ≤ CHEB_DEGREE applied to the Ritz
    // vectors X, damping [lowEnd, θ_b] (θ_b the smallest Ritz value of the block) and growing
    // the eigenvalues above θ_b (three-term recurrence; A·X is already in q). Without an
    // interval (b = n, or a degenerate one) the basis is A·X, plain subspace iteration.
    const cut = ld(th, 0);
    // Lanczos approaches λ_min from above: widen the damped interval downwards by 10 %
    const lo = lowEnd - 0.1 * max<f64>(cut - lowEnd, 0.0);
    const half = 0.5 * (cut - lo);
    if (b < n && half > 1e-12 * scale) {
      const c = 0.5 * (cut + lo);
      const t1 = (ld(th, b - 1) - c) / half;
      // The filter grows the top Ritz direction C_d(t1)/C_d(tk) times more than the k-th: keep
      // that below 1e10, or the k-th direction sinks under the rounding of the top ones (and
      // keep C_d(t1) far from overflow).
      const tk = max<f64>(1.0, (ld(th, b - k) - c) / half);
      const spread = acosh1(max<f64>(1.0, t1)) - acosh1(tk);
      let deg = CHEB_DEGREE;
      while (deg > 1 && (<f64>deg * spread > 23.0 || <f64>deg * Math.log10(2.0 * t1 + 2.0) > 200.0)) deg--;
      const nn = b * n;
      // Y1 = (A·X − c·X)/e  (in q)
      for (let i = 0; i < nn; i++) st(q, i, (ld(q, i) - c * ld(x, i)) / half);
      let prev = x, cur = q, nxt = y;
      for (let d = 2; d <= deg; d++) {
        mul(false, b, n, n, cur, n, a, lda, nxt, n, gw);
        const s2 = 2.0 / half;
        for (let i = 0; i < nn; i++) st(nxt, i, s2 * (ld(nxt, i) - c * ld(cur, i)) - ld(prev, i));
        const t = prev;
        prev = cur;
        cur = nxt;
        nxt = t;
      }
      q = cur;
      y = nxt;
      x = prev;
    }
    if (!cholQr2(b, n, q, y, hc, u, gw, einfo)) orthonormaliseRows(b, n, q, coef);
  }
  store<i32>(info, maxIter);
  store<f64>(info + 8, worst);
  return LA_NO_CONVERGENCE;
}
