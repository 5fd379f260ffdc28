// Symmetric eigensolver: all eigenpairs of a dense symmetric matrix, ascending.
//
// 1. Householder tridiagonalisation on the lower triangle (row-major), blocked as LAPACK's
//    dsytrd/dlatrd: panels of NB columns reduced with one pass of symv over the trailing lower
//    triangle per column (the panel's earlier reflectors folded in through V and W, O(n·NB)),
//    then one rank-2·NB update A22 −= V·Wᵀ + W·Vᵀ of the trailing lower triangle on the packed
//    wasm GEMM (gemm.ts). The last NX columns, and small matrices, go unblocked (symv + syr2
//    per step on contiguous row segments). Reflector k is kept in the unused upper triangle, row k.
// 2. Implicit QL with Wilkinson-type shifts (tql2) on the tridiagonal. The Givens rotations of
//    each sweep are recorded, and applied in batches to Zᵀ (rows = eigenvectors of T) one
//    column chunk at a time, so the chunk stays in cache across many sweeps.
// 3. Back-transform Vᵀ = Zᵀ·H_{n-3}⋯H_0, NB reflectors at a time in compact WY form
//    (I − Y·Tᵀ·Yᵀ, T as LAPACK's dlarft): two GEMMs per block on the packed wasm GEMM.
// 4. Sort ascending; write V with the eigenvectors as columns (numpy's `eigh` layout).

import { LA_BAD_ARGS, LA_NO_CONVERGENCE, LA_OK, at, axpy, dot, ld, nrm2, scal, st } from './la-internal';
import { gemmCore, gf_gemm_workspace_bytes } from './gemm';

const CHUNK_GROUPS: i32 = 8; // 8-column panels of Zᵀ per cache chunk while applying rotations
const MAX_ITER: i32 = 60; // QL iterations per eigenvalue
/** Panel width of the blocked reduction and of the blocked back-transform. */
const NB: i32 = 32;
/** The reduction goes unblocked once the trailing matrix is at most NX wide (NX ≥ NB + 3). */
const NX: i32 = 128;
/** Column blocks of the trailing lower-triangle update (each one GEMM call). */
const UB: i32 = 192;

@inline function rotCap(n: i32): i32 {
  return min<i32>(1 << 20, max<i32>(1024, n * n));
}

/** Bytes of the blocked stages' scratch: V|W and W|V (n × 2NB each), Yᵀ (NB × n), M (n × NB), T (NB²), t (2NB), the GEMM's packing. */
@inline function blockedBytes(n: i32): usize {
  return (<usize>n * <usize>(6 * NB) + <usize>(NB * NB + 2 * NB)) * 8 + gf_gemm_workspace_bytes() + 6 * 64;
}

/** Workspace bytes `gf_eigh` needs for an n×n matrix. */
export function gf_eigh_work_bytes(n: i32): usize {
  const cap = <usize>rotCap(n);
  const npad = <usize>((n + 7) & ~7);
  return (<usize>n * <usize>n + <usize>n * npad + 4 * <usize>n + 8 + 2 * cap) * 8 + cap * 4 + 128 + blockedBytes(n);
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
  const cap = rotCap(n);
  const zt = (work + 63) & ~(<usize>63);
  const d = zt + ((<usize>n * <usize>n) << 3);
  const e = d + (<usize>n << 3);
  const tau = e + (<usize>n << 3);
  const p = tau + (<usize>n << 3);
  const rot = p + ((<usize>n + 8) << 3);
  const hdr = rot + ((<usize>cap * 2) << 3);
  const zp = (hdr + (<usize>cap << 2) + 63) & ~(<usize>63);
  const npad = (n + 7) & ~7;
  carve(n, zp + ((<usize>n * <usize>npad) << 3));

  let k0 = 0;
  while (n - k0 > NX) {
    reducePanel(n, k0, a, lda, d, e, tau, p);
    updateTrailing(n, k0 + NB, a, lda);
    k0 += NB;
  }
  tridiagonalise(n, k0, a, lda, d, e, tau, p);

  // Zᵀ = I, in 8-column panels
  memory.fill(zp, 0, (<usize>n * <usize>npad) << 3);
  for (let i = 0; i < n; i++) store<f64>(zp + <usize>(i >> 3) * (<usize>n << 6) + (<usize>i << 6) + (<usize>(i & 7) << 3), 1.0);

  const s = tql2(n, d, e, zp, rot, hdr, cap, info);
  if (s != LA_OK) return s;
  // panels → row-major Zᵀ
  for (let g = 0; g < (npad >> 3); g++) {
    const w = min<i32>(8, n - 8 * g);
    const pg = zp + <usize>g * (<usize>n << 6);
    for (let r = 0; r < n; r++) memory.copy(at(zt, n, r, 8 * g), pg + (<usize>r << 6), <usize>w << 3);
  }

  backTransformBlocked(n, a, lda, tau, zt);

  // sort ascending (selection by index; O(n²) compares, n row moves avoided via a permutation)
  const perm = hdr; // reuse: i32[n]
  for (let i = 0; i < n; i++) store<i32>(perm + (<usize>i << 2), i);
  // insertion-free: simple sort of indices by d (shell sort keeps it O(n^1.3))
  let gap = n >> 1;
  while (gap > 0) {
    for (let i = gap; i < n; i++) {
      const t = load<i32>(perm + (<usize>i << 2));
      const dt = ld(d, t);
      let j = i;
      while (j >= gap) {
        const pj = load<i32>(perm + (<usize>(j - gap) << 2));
        if (ld(d, pj) <= dt) break;
        store<i32>(perm + (<usize>j << 2), pj);
        j -= gap;
      }
      store<i32>(perm + (<usize>j << 2), t);
    }
    gap = gap == 2 ? 1 : <i32>(<f64>gap / 2.2);
  }
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
 * Implicit QL on (d, e) (EISPACK tql2 order), accumulating rotations into rows of `zt`.
 * `e[k]` is the off-diagonal between k and k+1 on entry.
 */
function tql2(n: i32, d: usize, e: usize, zt: usize, rot: usize, hdr: usize, cap: i32, info: usize): i32 {
  const eps: f64 = 2.220446049250313e-16;
  let f: f64 = 0;
  let tst1: f64 = 0;
  let nrot: i32 = 0; // rotations recorded
  let nsw: i32 = 0; // sweeps recorded (hdr: l, m pairs)
  const hcap = cap >> 1; // hdr holds cap i32 = cap/2 sweeps × (l, m)
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(ld(d, l)) + Math.abs(ld(e, l)));
    let m = l;
    while (m < n - 1) {
      if (Math.abs(ld(e, m)) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        iter++;
        if (iter > MAX_ITER) {
          store<i32>(info, l);
          return LA_NO_CONVERGENCE;
        }
        if (nrot + (m - l) > cap || nsw + 1 > hcap) {
          applyRotations(n, zt, rot, hdr, nsw);
          nrot = 0;
          nsw = 0;
        }
        let g = ld(d, l);
        let pp = (ld(d, l + 1) - g) / (2.0 * ld(e, l));
        let r = Math.hypot(pp, 1.0);
        if (pp < 0) r = -r;
        st(d, l, ld(e, l) / (pp + r));
        st(d, l + 1, ld(e, l) * (pp + r));
        const dl1 = ld(d, l + 1);
        let h = g - ld(d, l);
        for (let i = l + 2; i < n; i++) st(d, i, ld(d, i) - h);
        f += h;
        pp = ld(d, m);
        let c: f64 = 1, c2: f64 = 1, c3: f64 = 1;
        const el1 = ld(e, l + 1);
        let s: f64 = 0, s2: f64 = 0;
        store<i32>(hdr + (<usize>nsw << 3), l);
        store<i32>(hdr + (<usize>nsw << 3) + 4, m);
        nsw++;
        for (let i = m - 1; i >= l; i--) {
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
          st(rot, 2 * nrot, c);
          st(rot, 2 * nrot + 1, s);
          nrot++;
        }
        pp = (-s * s2 * c3 * el1 * ld(e, l)) / dl1;
        st(e, l, s * pp);
        st(d, l, c * pp);
      } while (Math.abs(ld(e, l)) > eps * tst1);
    }
    st(d, l, ld(d, l) + f);
    st(e, l, 0);
  }
  if (nsw > 0) applyRotations(n, zt, rot, hdr, nsw);
  return LA_OK;
}

/**
 * Applies the recorded sweeps to Zᵀ held in 8-column panels (`zp`: panel g holds columns
 * 8g..8g+7 of every row, 64 bytes per row, rows contiguous). For a chunk of panels, each
 * sweep walks each panel once with the carried row kept in registers: one load and one store
 * per element per rotation, sequential addresses.
 */
function applyRotations(n: i32, zp: usize, rot: usize, hdr: usize, nsw: i32): void {
  const groups = (n + 7) >> 3;
  const panelBytes = <usize>n << 6;
  for (let g0 = 0; g0 < groups; g0 += CHUNK_GROUPS) {
    const g1 = min<i32>(groups, g0 + CHUNK_GROUPS);
    let q: i32 = 0;
    for (let sw = 0; sw < nsw; sw++) {
      const l = load<i32>(hdr + (<usize>sw << 3));
      const m = load<i32>(hdr + (<usize>sw << 3) + 4);
      const rs = rot + (<usize>q << 4); // (c, s) of rotation i = m-1 at rs, i = m-2 at rs+16, ...
      for (let g = g0; g < g1; g++) {
        let pm = zp + <usize>g * panelBytes + (<usize>m << 6);
        let y0 = v128.load(pm), y1 = v128.load(pm + 16), y2 = v128.load(pm + 32), y3 = v128.load(pm + 48);
        let pr = rs;
        for (let i = m - 1; i >= l; i--) {
          const vc = v128.load64_splat(pr);
          const vs = v128.load64_splat(pr + 8);
          pr += 16;
          const pi = pm - 64;
          const x0 = v128.load(pi), x1 = v128.load(pi + 16), x2 = v128.load(pi + 32), x3 = v128.load(pi + 48);
          v128.store(pm, f64x2.add(f64x2.mul(vs, x0), f64x2.mul(vc, y0)));
          v128.store(pm + 16, f64x2.add(f64x2.mul(vs, x1), f64x2.mul(vc, y1)));
          v128.store(pm + 32, f64x2.add(f64x2.mul(vs, x2), f64x2.mul(vc, y2)));
          v128.store(pm + 48, f64x2.add(f64x2.mul(vs, x3), f64x2.mul(vc, y3)));
          y0 = f64x2.sub(f64x2.mul(vc, x0), f64x2.mul(vs, y0));
          y1 = f64x2.sub(f64x2.mul(vc, x1), f64x2.mul(vs, y1));
          y2 = f64x2.sub(f64x2.mul(vc, x2), f64x2.mul(vs, y2));
          y3 = f64x2.sub(f64x2.mul(vc, x3), f64x2.mul(vs, y3));
          pm = pi;
        }
        v128.store(pm, y0);
        v128.store(pm + 16, y1);
        v128.store(pm + 32, y2);
        v128.store(pm + 48, y3);
      }
      q += m - l;
    }
  }
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
