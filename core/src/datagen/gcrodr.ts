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
import { accumulate, axpy, combineColumns, dot, dots, mgs } from './dense';
import { csrMatvec, type Preconditioner } from './precond';

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

/** U R⁻¹ for upper-triangular R (kk × kk row-major); null when R is numerically singular. */
function rightSolveUpper(u: readonly Float64Array[], r: Float64Array, kk: number): Float64Array[] | null {
  let big = 0;
  for (let j = 0; j < kk; j++) big = Math.max(big, Math.abs(r[j * kk + j] as number));
  const out: Float64Array[] = [];
  for (let j = 0; j < kk; j++) {
    const d = r[j * kk + j] as number;
    if (!(Math.abs(d) > 1e-13 * big)) return null;
    const v = Float64Array.from(u[j] as Float64Array);
    accumulate(v, out, j, (i) => -(r[i * kk + j] as number));
    for (let t = 0; t < v.length; t++) v[t] = (v[t] as number) / d;
    out.push(v);
  }
  return out;
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
  const bnorm = norm(b);
  const y = new Float64Array(n);
  const x = new Float64Array(n);
  const tmp = new Float64Array(n);
  let matvecs = 0;
  let iterations = 0;
  let cycles = 0;
  const op = (v: Float64Array, out: Float64Array): void => {
    o.precond.apply(v, tmp);
    csrMatvec(a, tmp, out);
    matvecs++;
  };
  const trueResidual = (): Float64Array => {
    o.precond.apply(y, x);
    const r = new Float64Array(n);
    csrMatvec(a, x, r);
    matvecs++;
    for (let i = 0; i < n; i++) r[i] = (b[i] as number) - (r[i] as number);
    return r;
  };
  if (bnorm === 0) return { x, iterations, matvecs, cycles, relres: 0, recycle: [] };

  let U: Float64Array<ArrayBufferLike>[] = [];
  let C: Float64Array<ArrayBufferLike>[] = [];
  if (o.k > 0 && recycle.length > 0) {
    // One QR per new matrix: C̃ = Â U = QR, C = Q, U ← U R⁻¹.
    const kk = recycle.length;
    const ct = new Float64Array(n * kk);
    const col = new Float64Array(n);
    for (let j = 0; j < kk; j++) {
      op(recycle[j] as Float64Array, col);
      for (let i = 0; i < n; i++) ct[i * kk + j] = col[i] as number;
    }
    const qr = qrReference(n, kk, ct, false);
    const nu = rightSolveUpper(recycle, qr.r, kk);
    if (nu !== null) {
      U = nu;
      C = [];
      for (let j = 0; j < kk; j++) {
        const c = new Float64Array(n);
        for (let i = 0; i < n; i++) c[i] = qr.q[i * kk + j] as number;
        C.push(c);
      }
    }
  }
  let r: Float64Array = Float64Array.from(b);
  let relres = 1;
  const m = o.m;
  for (;;) {
    // Project out the recycled directions: y += U Cᵀr, r -= C Cᵀr (no mat-vec).
    for (let i = 0; i < C.length; i++) {
      const c = dot(C[i] as Float64Array, r);
      axpy(c, U[i] as Float64Array, y);
      axpy(-c, C[i] as Float64Array, r);
    }
    const beta = norm(r);
    relres = beta / bnorm;
    if (cycles > 0 && relres <= o.rtol) break;
    if (matvecs >= o.maxMatvecs) {
      throw new GramfleetError('SOLVER_NOT_CONVERGED', `solver did not reach rtol=${o.rtol} within ${o.maxMatvecs} mat-vecs (relative residual ${relres.toExponential(3)})`, { field: 'rtol', relres, matvecs });
    }
    cycles++;
    const kk = C.length;
    const steps = Math.max(1, m - kk);
    const V: Float64Array[] = [r.map((v) => v / beta)];
    const H = new Float64Array((steps + 1) * steps); // row-major (steps+1) × steps
    const Bm = new Float64Array(kk * steps);
    const R = new Float64Array((steps + 1) * steps); // Givens-rotated copy of H
    const cs = new Float64Array(steps);
    const sn = new Float64Array(steps);
    const g = new Float64Array(steps + 1);
    g[0] = beta;
    let jEnd = 0;
    for (let j = 0; j < steps; j++) {
      const w = new Float64Array(n);
      op(V[j] as Float64Array, w);
      iterations++;
      mgs(C, kk, w, Bm, j, steps);
      const hn = Math.sqrt(mgs(V, j + 1, w, H, j, steps));
      H[(j + 1) * steps + j] = hn;
      if (hn > 0) for (let t = 0; t < n; t++) w[t] = (w[t] as number) / hn;
      V.push(w);
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
    accumulate(y, V, jEnd, (i) => y2[i] as number);
    const by = new Float64Array(kk);
    for (let i = 0; i < kk; i++) {
      let s = 0;
      for (let c = 0; c < jEnd; c++) s += (Bm[i * steps + c] as number) * (y2[c] as number);
      by[i] = -s;
    }
    accumulate(y, U, kk, (i) => by[i] as number);
    r = trueResidual();
    if (o.k > 0) {
      const upd = updateRecycle(n, o.k, U, C, V, H, Bm, steps, jEnd);
      if (upd !== null) ({ U, C } = upd);
    }
  }
  o.precond.apply(y, x);
  return { x, iterations, matvecs, cycles, relres, recycle: U };
}

/**
 * New (U, C) from one cycle: Ŵ = [C, V_{j+1}], V̂ = [U D, V_j], Ĝ = [[D, B], [0, H̄]] with
 * Â V̂ = Ŵ Ĝ; P = harmonic Ritz vectors of smallest magnitude; Ĝ P = QR; C = Ŵ Q; U = V̂ P R⁻¹.
 */
function updateRecycle(
  n: number, k: number, U: readonly Float64Array[], C: readonly Float64Array[], V: readonly Float64Array[],
  H: Float64Array, Bm: Float64Array, steps: number, jEnd: number,
): { U: Float64Array[]; C: Float64Array[] } | null {
  const kk = C.length;
  const s = kk + jEnd;
  const Vh: Float64Array[] = [];
  const d = new Float64Array(kk);
  for (let i = 0; i < kk; i++) {
    const u = U[i] as Float64Array;
    const nu = norm(u);
    d[i] = 1 / nu;
    Vh.push(u.map((v) => v / nu));
  }
  for (let j = 0; j < jEnd; j++) Vh.push(V[j] as Float64Array);
  const Wh: Float64Array[] = [...C, ...V.slice(0, jEnd + 1)];
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
    for (let j = 0; j < kk; j++) dots(Wh, s + 1, Vh[j] as Float64Array, WV, j, s);
    for (let i = 0; i <= s; i++) {
      if (i >= kk) {
        const t = i - kk;
        if (t < jEnd) WV[i * s + kk + t] = 1;
      }
    }
    const Ae = new Float64Array(s * s);
    const Be = new Float64Array(s * s);
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < s; j++) {
        let sa = 0;
        let sb = 0;
        for (let t = 0; t <= s; t++) {
          sa += (G[t * s + i] as number) * (G[t * s + j] as number);
          sb += (G[t * s + i] as number) * (WV[t * s + j] as number);
        }
        Ae[i * s + j] = sa;
        Be[i * s + j] = sb;
      }
    }
    const e = eigSmallCore(s, Ae, Be);
    if (e.status !== 0) return null;
    ({ p: P, cols } = smallestRitz(s, e.wr, e.wi, e.v, k));
  }
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
  const Y = combineColumns(Vh, P, cols, n);
  const Cn = combineColumns(Wh, qr.q, cols, n);
  const Un = rightSolveUpper(Y, qr.r, cols);
  return Un === null ? null : { U: Un, C: Cn };
}
