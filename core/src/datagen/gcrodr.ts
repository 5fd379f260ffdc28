/**
 * GCRO-DR(m, k) of Parks, de Sturler, Mackey, Johnson & Maiti (SIAM J. Sci. Comput. 2006),
 * right-preconditioned, with the recycled space carried between systems. One code path
 * serves three solvers: k = 0 is restarted GMRES(m); no recycled space in = GCRO-DR reset
 * per system; the previous system's space in = recycling.
 *
 * Per system with a recycled U (A-images re-orthonormalised by one QR per new matrix):
 * C̃ = Â U, C̃ = QR, C = Q, U ← U R⁻¹, then x₀ = U Cᵀ b. Each cycle runs m − k Arnoldi steps
 * of (I − CCᵀ)Â, solves the small least-squares problem (residual tracked by Givens
 * rotations; y₁ = −D⁻¹B y₂ makes it the GMRES problem of H̄), recomputes the true residual
 * b − Ax (one mat-vec, counted) and stops when ‖b − Ax‖/‖b‖ ≤ rtol. After every cycle the
 * k harmonic Ritz vectors of smallest magnitude (Ĝᵀ Ĝ z = θ Ĝᵀ Ŵᵀ V̂ z, solved by the
 * library's `eig-small` core) give the new U and C = Ŵ Q through the library's QR.
 */
import type { CsrArrays } from '../array';
import { GramfleetError } from '../errors';
import { eigSmallCore } from '../ops/eig-small-core';
import { qrReference } from '../ops/qr';
import { dot } from './dense';
import { jsKrylovDense, type KrylovBlock, type KrylovDense, type KrylovDenseFactory } from './krylov-dense';
import type { Preconditioner } from './precond';

/** Options of {@link gcrodr}. */
export interface GcrodrOptions {
  /** Arnoldi basis size per cycle (restart length), m > k. */
  readonly m: number;
  /** Recycled vectors; 0 = GMRES(m). */
  readonly k: number;
  /** Stop when ‖b − Ax‖/‖b‖ ≤ rtol. */
  readonly rtol: number;
  /** Give up (throw `SOLVER_NOT_CONVERGED`) after this many mat-vecs. */
  readonly maxMatvecs: number;
  readonly precond: Preconditioner;
  /** Dense backend for the basis products. @default {@link jsKrylovDense} (the float64 reference) */
  readonly dense?: KrylovDenseFactory;
  /**
   * Recompute the recycled space (harmonic Ritz vectors; two n×m×k combinations, about as many
   * flops as the cycle's Arnoldi steps) after cycles 1, 1 + e, 1 + 2e, … of each system only
   * (e = `recycleEvery`); the cycles between keep the current (U, C), which stays exact for
   * this matrix (C = ÂU orthonormal), so they are GCRO cycles with a fixed space. A cycle
   * with no space yet always updates. @default 1 (every cycle, Parks et al.)
   */
  readonly recycleEvery?: number;
}

/** Outcome of one solve. */
export interface GcrodrResult {
  readonly x: Float64Array;
  /** Arnoldi steps (Krylov iterations). */
  readonly iterations: number;
  /** Applications of A (Arnoldi, the QR of Â U, true residuals). */
  readonly matvecs: number;
  readonly cycles: number;
  /** True relative residual ‖b − Ax‖/‖b‖ at exit. */
  readonly relres: number;
  /** The recycled space for the next system (in the preconditioned variable), or empty. */
  readonly recycle: Float64Array[];
}

const norm = (a: Float64Array): number => Math.sqrt(dot(a, a));

/**
 * Rows 0…kk−1 of `u` ← U R⁻¹ in place for upper-triangular R (kk × kk row-major): v_j =
 * (u_j − Σ_{i<j} R_ij v_i)/R_jj. False (and `u` untouched) when R is numerically singular.
 */
function rightSolveUpper(d: KrylovDense, u: KrylovBlock, r: Float64Array, kk: number): boolean {
  let big = 0;
  for (let j = 0; j < kk; j++) big = Math.max(big, Math.abs(r[j * kk + j] as number));
  for (let j = 0; j < kk; j++) if (!(Math.abs(r[j * kk + j] as number) > 1e-13 * big)) return false;
  const coef = new Float64Array(kk);
  for (let j = 0; j < kk; j++) {
    for (let i = 0; i < j; i++) coef[i] = -(r[i * kk + j] as number);
    const v = u.row(j);
    d.axpys(u, 0, j, coef, v);
    scale(v, 1 / (r[j * kk + j] as number));
  }
  return true;
}

function scale(v: Float64Array, f: number): void {
  for (let t = 0; t < v.length; t++) v[t] = (v[t] as number) * f;
}

/**
 * Picks the columns of the eigenvectors of the `want` eigenvalues of smallest magnitude,
 * keeping complex pairs together (real and imaginary parts as two columns).
 */
function smallestRitz(s: number, wr: Float64Array, wi: Float64Array, v: Float64Array, want: number): { p: Float64Array; cols: number } {
  const units: { mag: number; cols: number[] }[] = [];
  for (let j = 0; j < s; j++) {
    const im = wi[j] as number;
    if (im !== 0) {
      units.push({ mag: Math.hypot(wr[j] as number, im), cols: [j, j + 1] });
      j++;
    } else units.push({ mag: Math.abs(wr[j] as number), cols: [j] });
  }
  units.sort((a, b) => a.mag - b.mag);
  const chosen: number[] = [];
  for (const u of units) {
    if (chosen.length >= want) break;
    chosen.push(...u.cols);
  }
  const cols = chosen.length;
  const p = new Float64Array(s * cols);
  for (let c = 0; c < cols; c++) for (let i = 0; i < s; i++) p[i * cols + c] = v[i * s + (chosen[c] as number)] as number;
  return { p, cols };
}

/** Solves A x = b; `recycle` is the space carried from the previous system (may be empty). */
export function gcrodr(a: CsrArrays, b: Float64Array, o: GcrodrOptions, recycle: readonly Float64Array[] = []): GcrodrResult {
  const n = a.shape[0];
  const m = o.m;
  const kc = o.k > 0 ? o.k + 1 : 0; // room for a complex pair that straddles k
  const bnorm = norm(b);
  if (bnorm === 0) return { x: new Float64Array(n), iterations: 0, matvecs: 0, cycles: 0, relres: 0, recycle: [] };
  // Every vector the solve needs, reserved once: y, x, tmp, r; V (m+1); U, C and their next versions.
  const d = (o.dense ?? jsKrylovDense)(n, 4 + (m + 1) + 4 * kc, m + kc + 2, a.data.length);
  const spmv = d.csr(a);
  const work = d.block(4);
  const y = work.row(0);
  const x = work.row(1);
  const tmp = work.row(2);
  const r = work.row(3);
  const V = d.block(m + 1);
  let U = d.block(kc);
  let C = d.block(kc);
  let U2 = d.block(kc);
  let C2 = d.block(kc);
  let kk = 0;
  let matvecs = 0;
  let iterations = 0;
  let cycles = 0;
  const op = (v: Float64Array, out: Float64Array): void => {
    o.precond.apply(v, tmp);
    spmv(tmp, out);
    matvecs++;
  };

  if (o.k > 0 && recycle.length > 0) {
    // One QR per new matrix: C̃ = Â U = QR (Gram–Schmidt twice), C = Q, U ← U R⁻¹.
    const kin = Math.min(recycle.length, kc);
    for (let j = 0; j < kin; j++) {
      U.row(j).set(recycle[j] as Float64Array);
      op(U.row(j), C.row(j));
    }
    const R = new Float64Array(kin * kin);
    const h1 = new Float64Array(kin);
    const h2 = new Float64Array(kin);
    for (let j = 0; j < kin; j++) {
      const cj = C.row(j);
      d.mgs(C, 0, j, cj, h1, 0, 1);
      const rjj = Math.sqrt(d.mgs(C, 0, j, cj, h2, 0, 1));
      for (let i = 0; i < j; i++) R[i * kin + j] = (h1[i] as number) + (h2[i] as number);
      R[j * kin + j] = rjj;
      if (rjj > 0) scale(cj, 1 / rjj);
    }
    if (rightSolveUpper(d, U, R, kin)) kk = kin;
  }
  r.set(b);
  let relres = 1;
  for (;;) {
    // Project out the recycled directions: y += U Cᵀr, r −= C Cᵀr (no mat-vec).
    let beta: number;
    if (kk > 0) {
      const c = new Float64Array(kk);
      beta = Math.sqrt(d.mgs(C, 0, kk, r, c, 0, 1));
      d.axpys(U, 0, kk, c, y);
    } else beta = norm(r);
    relres = beta / bnorm;
    if (cycles > 0 && relres <= o.rtol) break;
    if (matvecs >= o.maxMatvecs) {
      throw new GramfleetError(
        'SOLVER_NOT_CONVERGED',
        `solver did not reach rtol=${o.rtol} within ${o.maxMatvecs} mat-vecs (relative residual ${relres.toExponential(3)})`,
        { field: 'rtol', relres, matvecs },
      );
    }
    cycles++;
    const steps = Math.max(1, m - kk);
    const v0 = V.row(0);
    for (let t = 0; t < n; t++) v0[t] = (r[t] as number) / beta;
    const H = new Float64Array((steps + 1) * steps); // row-major (steps+1) × steps
    const Bm = new Float64Array(kk * steps);
    const R = new Float64Array((steps + 1) * steps); // Givens-rotated copy of H
    const cs = new Float64Array(steps);
    const sn = new Float64Array(steps);
    const g = new Float64Array(steps + 1);
    g[0] = beta;
    let jEnd = 0;
    for (let j = 0; j < steps; j++) {
      const w = V.row(j + 1);
      op(V.row(j), w);
      iterations++;
      if (kk > 0) d.mgs(C, 0, kk, w, Bm, j, steps);
      const hn = Math.sqrt(d.mgs(V, 0, j + 1, w, H, j, steps));
      H[(j + 1) * steps + j] = hn;
      if (hn > 0) scale(w, 1 / hn);
      for (let i = 0; i <= j + 1; i++) R[i * steps + j] = H[i * steps + j] as number;
      for (let i = 0; i < j; i++) {
        const t1 = R[i * steps + j] as number;
        const t2 = R[(i + 1) * steps + j] as number;
        R[i * steps + j] = (cs[i] as number) * t1 + (sn[i] as number) * t2;
        R[(i + 1) * steps + j] = -(sn[i] as number) * t1 + (cs[i] as number) * t2;
      }
      const d1 = R[j * steps + j] as number;
      const d2 = R[(j + 1) * steps + j] as number;
      const den = Math.hypot(d1, d2);
      cs[j] = den === 0 ? 1 : d1 / den;
      sn[j] = den === 0 ? 0 : d2 / den;
      R[j * steps + j] = den;
      R[(j + 1) * steps + j] = 0;
      g[j + 1] = -(sn[j] as number) * (g[j] as number);
      g[j] = (cs[j] as number) * (g[j] as number);
      jEnd = j + 1;
      if (Math.abs(g[j + 1] as number) <= o.rtol * bnorm || hn === 0) break;
    }
    // y₂ = R⁻¹ g; y += V y₂ − U (B y₂).
    const y2 = new Float64Array(jEnd);
    for (let i = jEnd - 1; i >= 0; i--) {
      let s = g[i] as number;
      for (let c = i + 1; c < jEnd; c++) s -= (R[i * steps + c] as number) * (y2[c] as number);
      y2[i] = s / (R[i * steps + i] as number);
    }
    d.axpys(V, 0, jEnd, y2, y);
    if (kk > 0) {
      const by = new Float64Array(kk);
      for (let i = 0; i < kk; i++) {
        let s = 0;
        for (let c = 0; c < jEnd; c++) s += (Bm[i * steps + c] as number) * (y2[c] as number);
        by[i] = -s;
      }
      d.axpys(U, 0, kk, by, y);
    }
    // True residual r = b − A M⁻¹ y (one mat-vec, counted).
    o.precond.apply(y, x);
    spmv(x, r);
    matvecs++;
    for (let i = 0; i < n; i++) r[i] = (b[i] as number) - (r[i] as number);
    const every = o.recycleEvery ?? 1;
    if (o.k > 0 && (kk === 0 || (cycles - 1) % every === 0)) {
      const cols = updateRecycle(d, o.k, U, C, kk, V, H, Bm, steps, jEnd, U2, C2);
      if (cols >= 0) {
        [U, U2] = [U2, U];
        [C, C2] = [C2, C];
        kk = cols;
      }
    }
  }
  o.precond.apply(y, x);
  const out: Float64Array[] = [];
  for (let i = 0; i < kk; i++) out.push(Float64Array.from(U.row(i)));
  return { x: Float64Array.from(x), iterations, matvecs, cycles, relres, recycle: out };
}

/**
 * New (U, C) from one cycle, written to rows 0…cols−1 of `Un`, `Cn`; returns cols, or −1
 * (nothing usable) when the small problems fail. Ŵ = [C, V_{j+1}], V̂ = [U D, V_j],
 * Ĝ = [[D, B], [0, H̄]] with Â V̂ = Ŵ Ĝ; P = harmonic Ritz vectors of smallest magnitude;
 * Ĝ P = QR; C = Ŵ Q; U = V̂ P R⁻¹.
 */
function updateRecycle(
  dn: KrylovDense,
  k: number,
  U: KrylovBlock,
  C: KrylovBlock,
  kk: number,
  V: KrylovBlock,
  H: Float64Array,
  Bm: Float64Array,
  steps: number,
  jEnd: number,
  Un: KrylovBlock,
  Cn: KrylovBlock,
): number {
  const s = kk + jEnd;
  const d = new Float64Array(kk);
  for (let i = 0; i < kk; i++) d[i] = 1 / norm(U.row(i));
  // Ĝ: (s+1) × s
  const G = new Float64Array((s + 1) * s);
  for (let i = 0; i < kk; i++) {
    G[i * s + i] = d[i] as number;
    for (let j = 0; j < jEnd; j++) G[i * s + kk + j] = Bm[i * steps + j] as number;
  }
  for (let i = 0; i <= jEnd; i++) for (let j = 0; j < jEnd; j++) G[(kk + i) * s + kk + j] = H[i * steps + j] as number;
  let P: Float64Array;
  let cols: number;
  if (s <= k) {
    cols = s;
    P = new Float64Array(s * s);
    for (let i = 0; i < s; i++) P[i * s + i] = 1;
  } else {
    // Ŵᵀ V̂ = [[Cᵀ U D, 0], [Vᵀ U D, I]]
    const WV = new Float64Array((s + 1) * s);
    if (kk > 0) {
      const gc = new Float64Array(kk * kk);
      const gv = new Float64Array((jEnd + 1) * kk);
      dn.gram(C, 0, kk, U, 0, kk, gc);
      dn.gram(V, 0, jEnd + 1, U, 0, kk, gv);
      for (let j = 0; j < kk; j++) {
        const dj = d[j] as number;
        for (let i = 0; i < kk; i++) WV[i * s + j] = (gc[i * kk + j] as number) * dj;
        for (let t = 0; t <= jEnd; t++) WV[(kk + t) * s + j] = (gv[t * kk + j] as number) * dj;
      }
    }
    for (let t = 0; t < jEnd; t++) WV[(kk + t) * s + kk + t] = 1;
    // Ae = ĜᵀĜ, Be = Ĝᵀ(ŴᵀV̂), row by row of Ĝ (about half of Ĝ is zero: D is diagonal, H̄
    // Hessenberg); every entry still sums over t in increasing order.
    const Ae = new Float64Array(s * s);
    const Be = new Float64Array(s * s);
    for (let t = 0; t <= s; t++) {
      const gt = t * s;
      for (let i = 0; i < s; i++) {
        const gi = G[gt + i] as number;
        if (gi === 0) continue;
        const ri = i * s;
        for (let j = 0; j < s; j++) {
          Ae[ri + j] = (Ae[ri + j] as number) + gi * (G[gt + j] as number);
          Be[ri + j] = (Be[ri + j] as number) + gi * (WV[gt + j] as number);
        }
      }
    }
    const e = dn.eig(s, Ae, Be);
    if (e.status !== 0) return -1;
    ({ p: P, cols } = smallestRitz(s, e.wr, e.wi, e.v, k));
  }
  if (cols > Un.rows) return -1;
  // Ĝ P ((s+1) × cols) = QR
  const GP = new Float64Array((s + 1) * cols);
  for (let i = 0; i <= s; i++) {
    for (let c = 0; c < cols; c++) {
      let acc = 0;
      for (let t = 0; t < s; t++) acc += (G[i * s + t] as number) * (P[t * cols + c] as number);
      GP[i * cols + c] = acc;
    }
  }
  const qr = qrReference(s + 1, cols, GP, false);
  // Un = V̂ P R⁻¹ = U (D P_top R⁻¹) + V (P_bottom R⁻¹) (R⁻¹ applied in the small space);
  // Cn = Ŵ Q = C Q_top + V Q_bottom.
  const pr = rightSolveSmall(P, s, qr.r, cols);
  if (pr === null) return -1;
  if (kk > 0) {
    const pt = new Float64Array(kk * cols);
    for (let i = 0; i < kk; i++) for (let c = 0; c < cols; c++) pt[i * cols + c] = (d[i] as number) * (pr[i * cols + c] as number);
    dn.combine(U, 0, kk, pt, cols, Un, 0, false);
    dn.combine(C, 0, kk, qr.q.subarray(0, kk * cols), cols, Cn, 0, false);
  }
  dn.combine(V, 0, jEnd, pr.subarray(kk * cols, s * cols), cols, Un, 0, kk > 0);
  dn.combine(V, 0, jEnd + 1, qr.q.subarray(kk * cols, (s + 1) * cols), cols, Cn, 0, kk > 0);
  return cols;
}

/** P R⁻¹ (rows × cols row-major, R upper-triangular cols × cols); null when R is numerically singular. */
function rightSolveSmall(p: Float64Array, rows: number, r: Float64Array, cols: number): Float64Array | null {
  let big = 0;
  for (let j = 0; j < cols; j++) big = Math.max(big, Math.abs(r[j * cols + j] as number));
  for (let j = 0; j < cols; j++) if (!(Math.abs(r[j * cols + j] as number) > 1e-13 * big)) return null;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let v = p[i * cols + j] as number;
      for (let q = 0; q < j; q++) v -= (out[i * cols + q] as number) * (r[q * cols + j] as number);
      out[i * cols + j] = v / (r[j * cols + j] as number);
    }
  }
  return out;
}
