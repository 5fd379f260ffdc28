// Symmetric eigensolver: all eigenpairs of a dense symmetric matrix, ascending.
//
// 1. Householder tridiagonalisation on the lower triangle (row-major; symv + syr2 per step on
//    contiguous row segments). Reflector k is kept in the unused upper triangle, row k.
// 2. Implicit QL with Wilkinson-type shifts (tql2) on the tridiagonal. The Givens rotations of
//    each sweep are recorded, and applied in batches to Zᵀ (rows = eigenvectors of T) one
//    column chunk at a time, so the chunk stays in cache across many sweeps.
// 3. Back-transform Vᵀ = Zᵀ·H_{n-3}⋯H_0, four rows of Zᵀ per pass over each reflector.
// 4. Sort ascending; write V with the eigenvectors as columns (numpy's `eigh` layout).

import { LA_BAD_ARGS, LA_NO_CONVERGENCE, LA_OK, at, axpy, dot, ld, nrm2, scal, st } from './la-internal';

const CHUNK_GROUPS: i32 = 8; // 8-column panels of Zᵀ per cache chunk while applying rotations
const MAX_ITER: i32 = 60; // QL iterations per eigenvalue

@inline function rotCap(n: i32): i32 {
  return min<i32>(1 << 20, max<i32>(1024, n * n));
}

/** Workspace bytes `gf_eigh` needs for an n×n matrix. */
export function gf_eigh_work_bytes(n: i32): usize {
  const cap = <usize>rotCap(n);
  const npad = <usize>((n + 7) & ~7);
  return (<usize>n * <usize>n + <usize>n * npad + 4 * <usize>n + 8 + 2 * cap) * 8 + cap * 4 + 128;
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

  tridiagonalise(n, a, lda, d, e, tau, p);

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

  backTransform(n, a, lda, tau, zt, p);

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

/**
 * Householder reduction of the lower triangle of `a` to tridiagonal form: d (diagonal),
 * e[k] (between k and k+1), tau[k]; reflector k (v[0] = 1 implicit at column k+1) is stored
 * in row k of the upper triangle, a[k][k+1..n). `p` is scratch of n+1 f64.
 */
function tridiagonalise(n: i32, a: usize, lda: i32, d: usize, e: usize, tau: usize, p: usize): void {
  for (let k = 0; k + 2 < n; k++) {
    const m = n - k - 1;
    const u = at(a, lda, k, k + 1); // row k, upper part: holds the reflector
    for (let i = 0; i < m; i++) st(u, i, load<f64>(at(a, lda, k + 1 + i, k)));
    const alpha = ld(u, 0);
    const xnorm = nrm2(m - 1, u + 8);
    st(d, k, load<f64>(at(a, lda, k, k)));
    if (xnorm == 0) {
      st(tau, k, 0);
      st(e, k, alpha);
      st(u, 0, 1);
      continue;
    }
    let beta = Math.hypot(alpha, xnorm);
    if (alpha > 0) beta = -beta;
    const t = (beta - alpha) / beta;
    scal(m - 1, 1.0 / (alpha - beta), u + 8);
    st(u, 0, 1);
    st(tau, k, t);
    st(e, k, beta);
    // p = t·A22·u (symmetric, lower triangle rows)
    memory.fill(p, 0, <usize>m << 3);
    const a22 = at(a, lda, k + 1, k + 1);
    for (let i = 0; i < m; i++) {
      const row = a22 + ((<usize>i * <usize>lda) << 3);
      const ui = ld(u, i);
      st(p, i, ld(p, i) + dot(i, row, u) + ld(row, i) * ui);
      axpy(i, ui, row, p);
    }
    scal(m, t, p);
    // w = p − ½·t·(pᵀu)·u  (in p)
    const kk = -0.5 * t * dot(m, p, u);
    axpy(m, kk, u, p);
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
 * Vᵀ = Zᵀ·H_{n-3}⋯H_0 in place in `zt`: each row x gets x −= tau_k·(x·v_k)·v_k for
 * k = n−3 … 0 (v_k lives in a[k][k+1..n), support k+1..n−1). Four rows share each pass.
 */
function backTransform(n: i32, a: usize, lda: i32, tau: usize, zt: usize, scratch: usize): void {
  let r = 0;
  for (; r + 4 <= n; r += 4) {
    const x0 = at(zt, n, r, 0);
    const x1 = x0 + (<usize>n << 3);
    const x2 = x1 + (<usize>n << 3);
    const x3 = x2 + (<usize>n << 3);
    for (let k = n - 3; k >= 0; k--) {
      const t = ld(tau, k);
      if (t == 0) continue;
      const vk = at(a, lda, k, k + 1);
      const len = n - k - 1;
      const o = <usize>(k + 1) << 3;
      dot4(len, vk, x0 + o, x1 + o, x2 + o, x3 + o, scratch);
      axpy4(len, vk, -t * ld(scratch, 0), x0 + o, -t * ld(scratch, 1), x1 + o, -t * ld(scratch, 2), x2 + o, -t * ld(scratch, 3), x3 + o);
    }
  }
  for (; r < n; r++) {
    const x = at(zt, n, r, 0);
    for (let k = n - 3; k >= 0; k--) {
      const t = ld(tau, k);
      if (t == 0) continue;
      const vk = at(a, lda, k, k + 1);
      const len = n - k - 1;
      const o = <usize>(k + 1) << 3;
      axpy(len, -t * dot(len, vk, x + o), vk, x + o);
    }
  }
}

/** out[r] = v·x_r for four vectors. */
function dot4(n: i32, v: usize, x0: usize, x1: usize, x2: usize, x3: usize, out: usize): void {
  let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0), a3 = f64x2.splat(0);
  let j = 0;
  for (; j + 2 <= n; j += 2) {
    const o = <usize>j << 3;
    const vv = v128.load(v + o);
    a0 = f64x2.add(a0, f64x2.mul(vv, v128.load(x0 + o)));
    a1 = f64x2.add(a1, f64x2.mul(vv, v128.load(x1 + o)));
    a2 = f64x2.add(a2, f64x2.mul(vv, v128.load(x2 + o)));
    a3 = f64x2.add(a3, f64x2.mul(vv, v128.load(x3 + o)));
  }
  let s0 = f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1);
  let s1 = f64x2.extract_lane(a1, 0) + f64x2.extract_lane(a1, 1);
  let s2 = f64x2.extract_lane(a2, 0) + f64x2.extract_lane(a2, 1);
  let s3 = f64x2.extract_lane(a3, 0) + f64x2.extract_lane(a3, 1);
  if (j < n) {
    const vv = ld(v, j);
    s0 += vv * ld(x0, j);
    s1 += vv * ld(x1, j);
    s2 += vv * ld(x2, j);
    s3 += vv * ld(x3, j);
  }
  st(out, 0, s0);
  st(out, 1, s1);
  st(out, 2, s2);
  st(out, 3, s3);
}

/** x_r += c_r·v for four vectors. */
function axpy4(n: i32, v: usize, c0: f64, x0: usize, c1: f64, x1: usize, c2: f64, x2: usize, c3: f64, x3: usize): void {
  const k0 = f64x2.splat(c0), k1 = f64x2.splat(c1), k2 = f64x2.splat(c2), k3 = f64x2.splat(c3);
  let j = 0;
  for (; j + 2 <= n; j += 2) {
    const o = <usize>j << 3;
    const vv = v128.load(v + o);
    v128.store(x0 + o, f64x2.add(v128.load(x0 + o), f64x2.mul(k0, vv)));
    v128.store(x1 + o, f64x2.add(v128.load(x1 + o), f64x2.mul(k1, vv)));
    v128.store(x2 + o, f64x2.add(v128.load(x2 + o), f64x2.mul(k2, vv)));
    v128.store(x3 + o, f64x2.add(v128.load(x3 + o), f64x2.mul(k3, vv)));
  }
  if (j < n) {
    const vv = ld(v, j);
    st(x0, j, ld(x0, j) + c0 * vv);
    st(x1, j, ld(x1, j) + c1 * vv);
    st(x2, j, ld(x2, j) + c2 * vv);
    st(x3, j, ld(x3, j) + c3 * vv);
  }
}
