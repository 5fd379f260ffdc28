/**
 * GP collocation of the Poisson equation Δu = f on [0,1]^D with Dirichlet data u = g on the
 * boundary, on a tensor grid (GP-HM style, Fang et al. 2024). The unknowns are the grid
 * values U; u(x) = k(x, X)K⁻¹vec(U) with a product kernel, so at the grid points
 *
 *   Δu = Σ_d (I ⊗ … ⊗ A_d ⊗ … ⊗ I)·U,   A_d = K_d″ K_d⁻¹ (K_d″ = ∂²k/∂x² at the grid),
 *
 * and the collocation equations at the interior points are one linear system in U: a
 * D-term Kronecker sum with the boundary values moved to the right-hand side. It is solved
 * directly by fast diagonalisation of each interior block A_d^{II} = V_d diag(μ_d) V_d⁻¹
 * (`eig-small`): U_II = (⊗V_d) diag(1/Σ_d μ_d) (⊗V_d⁻¹) rhs — O(N Σ n_d) with mode products.
 * The eigenvalues of A_d^{II} are real for these kernels (checked; the largest imaginary
 * part relative to the largest modulus is reported).
 */
import { GramfleetError } from '../errors';
import { eigSmallCore } from '../ops/eig-small-core';
import { crossMatrix, kernelD2, kernelValue, type AxisKernel } from './kernels';
import { forEachRow, kronMatvec, type KronLinalg } from './tensor';

/** A manufactured Poisson problem: exact u and its Laplacian. */
export interface PoissonProblem {
  readonly name: string;
  /** u at a point. */
  u(x: readonly number[]): number;
  /** Δu at a point. */
  laplacian(x: readonly number[]): number;
}

/** GP-HM's multi-scale solution u = Σ_d sin(6x_d)cos(20x_d). */
export const GPHM_POISSON: PoissonProblem = {
  name: 'gphm',
  u: (x) => x.reduce((s, t) => s + Math.sin(6 * t) * Math.cos(20 * t), 0),
  // sin(6t)cos(20t) = ½(sin 26t − sin 14t)
  laplacian: (x) => x.reduce((s, t) => s + 0.5 * (-676 * Math.sin(26 * t) + 196 * Math.sin(14 * t)), 0),
};

/** u = Π_d sin(π x_d), Δu = −Dπ²u. */
export const SINE_POISSON: PoissonProblem = {
  name: 'sine',
  u: (x) => x.reduce((p, t) => p * Math.sin(Math.PI * t), 1),
  laplacian: (x) => -x.length * Math.PI * Math.PI * x.reduce((p, t) => p * Math.sin(Math.PI * t), 1),
};

/** Manufactured problems by name. */
export const POISSON_PROBLEMS: Readonly<Record<string, PoissonProblem>> = { gphm: GPHM_POISSON, sine: SINE_POISSON };

/** Options of {@link solvePoissonGp}. */
export interface PoissonGpOptions {
  /** Points per axis (≥ 3), D = n.length. */
  readonly n: readonly number[];
  /** A twice-differentiable kernel per axis (`rbf` or `spectral-mixture`); lengthscale in units of [0,1]. */
  readonly kernels: readonly AxisKernel[];
  /** Added to K_d's diagonal before inverting. @default 1e-10 */
  readonly jitter?: number;
}

/** Result of {@link solvePoissonGp}. */
export interface PoissonGpResult {
  readonly shape: number[];
  /** Grid values U (boundary = g), row-major. */
  readonly u: Float64Array;
  /** ‖U − u*‖₂ / ‖u*‖₂ over all grid points. */
  readonly relL2: number;
  /** max |U − u*| / max |u*|. */
  readonly relMax: number;
  /** Largest |Im μ| / max |μ| over the A_d^{II} spectra (0 = all real). */
  readonly imagRatio: number;
  readonly jitter: number;
}

function luSolveMany(n: number, a: Float64Array, b: Float64Array, m: number): Float64Array {
  // Solves A X = B (A n×n, B n×m) by Gaussian elimination with partial pivoting.
  const A = a.slice();
  const X = b.slice();
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(A[i * n + k] as number) > Math.abs(A[p * n + k] as number)) p = i;
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = A[k * n + j] as number;
        A[k * n + j] = A[p * n + j] as number;
        A[p * n + j] = t;
      }
      for (let j = 0; j < m; j++) {
        const t = X[k * m + j] as number;
        X[k * m + j] = X[p * m + j] as number;
        X[p * m + j] = t;
      }
    }
    const piv = A[k * n + k] as number;
    if (piv === 0) throw new GramfleetError('KERNEL_STATUS', 'pde: singular eigenvector matrix in fast diagonalisation', { op: 'kron-pde' });
    for (let i = k + 1; i < n; i++) {
      const f = (A[i * n + k] as number) / piv;
      if (f === 0) continue;
      for (let j = k; j < n; j++) A[i * n + j] = (A[i * n + j] as number) - f * (A[k * n + j] as number);
      for (let j = 0; j < m; j++) X[i * m + j] = (X[i * m + j] as number) - f * (X[k * m + j] as number);
    }
  }
  for (let k = n - 1; k >= 0; k--) {
    const piv = A[k * n + k] as number;
    for (let j = 0; j < m; j++) {
      let s = X[k * m + j] as number;
      for (let t = k + 1; t < n; t++) s -= (A[k * n + t] as number) * (X[t * m + j] as number);
      X[k * m + j] = s / piv;
    }
  }
  return X;
}

/** The collocation differentiation matrix A = K″K⁻¹ of one axis (solved as K·Aᵀ = K″, K symmetric). */
export function secondDerivativeMatrix(x: Float64Array, k: AxisKernel, jitter: number): Float64Array {
  const n = x.length;
  const K = crossMatrix(x, x, (r) => kernelValue(k, r));
  for (let i = 0; i < n; i++) K[i * n + i] = (K[i * n + i] as number) + jitter;
  const K2 = crossMatrix(x, x, (r) => kernelD2(k, r));
  const At = luSolveMany(n, K, K2, n); // K·Aᵀ = K″ᵀ = K″
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = At[j * n + i] as number;
  return A;
}

/** Solves Δu = f, u = g on ∂[0,1]^D by GP collocation; compares with the manufactured solution. */
export function solvePoissonGp(lin: KronLinalg, problem: PoissonProblem, o: PoissonGpOptions): PoissonGpResult {
  const D = o.n.length;
  const shape = [...o.n];
  const jitter = o.jitter ?? 1e-10;
  o.n.forEach((n, d) => {
    if (!Number.isInteger(n) || n < 3)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `grid[${d}] must be an integer >= 3, got ${n}`, { field: `grid[${d}]`, bound: '>= 3', value: n });
  });
  const axes = o.n.map((n) => Float64Array.from({ length: n }, (_, i) => i / (n - 1)));
  const A = axes.map((x, d) => secondDerivativeMatrix(x, o.kernels[d] as AxisKernel, jitter));
  const N = shape.reduce((a, b) => a * b, 1);
  // exact u on the grid; G = boundary values (interior zero)
  const exact = new Float64Array(N);
  const G = new Float64Array(N);
  const pt = new Array<number>(D).fill(0);
  const isBoundary = new Uint8Array(N);
  forEachRow(shape, (off, idx) => {
    const last = shape[D - 1] as number;
    let outerB = false;
    for (let e = 0; e < D - 1; e++) {
      pt[e] = (axes[e] as Float64Array)[idx[e] as number] as number;
      if (idx[e] === 0 || idx[e] === (shape[e] as number) - 1) outerB = true;
    }
    for (let j = 0; j < last; j++) {
      pt[D - 1] = (axes[D - 1] as Float64Array)[j] as number;
      const v = problem.u(pt);
      exact[off + j] = v;
      if (outerB || j === 0 || j === last - 1) {
        isBoundary[off + j] = 1;
        G[off + j] = v;
      }
    }
  });
  // rhs on the interior: f − Σ_d A_d^{IB} g
  const ishape = shape.map((n) => n - 2);
  const NI = ishape.reduce((a, b) => a * b, 1);
  const rhs = new Float64Array(NI);
  const bterm = new Float64Array(N);
  A.forEach((a, d) => {
    const t = lin.modeProduct(G, shape, d, a, shape[d] as number, false);
    for (let i = 0; i < N; i++) bterm[i] = (bterm[i] as number) + (t[i] as number);
  });
  let c = 0;
  forEachRow(shape, (off, idx) => {
    for (let e = 0; e < D - 1; e++) if (idx[e] === 0 || idx[e] === (shape[e] as number) - 1) return;
    const last = shape[D - 1] as number;
    for (let e = 0; e < D - 1; e++) pt[e] = (axes[e] as Float64Array)[idx[e] as number] as number;
    for (let j = 1; j < last - 1; j++) {
      pt[D - 1] = (axes[D - 1] as Float64Array)[j] as number;
      rhs[c++] = problem.laplacian(pt) - (bterm[off + j] as number);
    }
  });
  // fast diagonalisation of each interior block
  let imagRatio = 0;
  const mus: Float64Array[] = [];
  const V: Float64Array[] = [];
  const Vinv: Float64Array[] = [];
  A.forEach((a, d) => {
    const n = shape[d] as number;
    const m = n - 2;
    const aii = new Float64Array(m * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) aii[i * m + j] = a[(i + 1) * n + (j + 1)] as number;
    const e = eigSmallCore(m, aii, null);
    if (e.status !== 0)
      throw new GramfleetError('KERNEL_STATUS', `pde: eig-small returned status ${e.status} on axis ${d}`, { op: 'eig-small', status: e.status });
    let maxMod = 0;
    let maxIm = 0;
    for (let i = 0; i < m; i++) {
      maxMod = Math.max(maxMod, Math.hypot(e.wr[i] as number, e.wi[i] as number));
      maxIm = Math.max(maxIm, Math.abs(e.wi[i] as number));
    }
    imagRatio = Math.max(imagRatio, maxIm / (maxMod || 1));
    if (maxIm > 1e-8 * maxMod) {
      throw new GramfleetError(
        'KERNEL_STATUS',
        `pde: the interior collocation block of axis ${d} has complex eigenvalues (|Im|/|μ| = ${maxIm / maxMod}); use a longer lengthscale or more jitter`,
        { op: 'kron-pde', axis: d, imagRatio: maxIm / maxMod },
      );
    }
    const eye = new Float64Array(m * m);
    for (let i = 0; i < m; i++) eye[i * m + i] = 1;
    mus.push(e.wr);
    V.push(e.v);
    Vinv.push(luSolveMany(m, e.v, eye, m));
  });
  const t = kronMatvec(
    lin,
    ishape,
    Vinv.map((v, d) => ({ m: v, p: ishape[d] as number, transpose: false })),
    rhs,
  ).y;
  const mlast = mus[D - 1] as Float64Array;
  forEachRow(ishape, (off, idx) => {
    let s = 0;
    for (let e = 0; e < D - 1; e++) s += (mus[e] as Float64Array)[idx[e] as number] as number;
    for (let j = 0; j < mlast.length; j++) t[off + j] = (t[off + j] as number) / (s + (mlast[j] as number));
  });
  const ui = kronMatvec(
    lin,
    ishape,
    V.map((v, d) => ({ m: v, p: ishape[d] as number, transpose: false })),
    t,
  ).y;
  const u = G.slice();
  c = 0;
  for (let i = 0; i < N; i++) if (isBoundary[i] === 0) u[i] = ui[c++] as number;
  let num2 = 0;
  let den2 = 0;
  let maxErr = 0;
  let maxU = 0;
  for (let i = 0; i < N; i++) {
    const e = (u[i] as number) - (exact[i] as number);
    num2 += e * e;
    den2 += (exact[i] as number) ** 2;
    maxErr = Math.max(maxErr, Math.abs(e));
    maxU = Math.max(maxU, Math.abs(exact[i] as number));
  }
  return { shape, u, relL2: Math.sqrt(num2 / den2), relMax: maxErr / maxU, imagRatio, jitter };
}
