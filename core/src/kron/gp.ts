/**
 * Exact GP regression on a full grid with a product kernel, by the eigen route
 * (Saatçi 2011; docs/workloads.md §3). With K = s·K_0 ⊗ … ⊗ K_{D−1} and K_d = Q_dΛ_dQ_dᵀ:
 *
 *   α = Q(Λ + σ²I)⁻¹Qᵀy,   log|K + σ²I| = Σ_i log(λ_i + σ²),
 *   LML = −½yᵀα − ½ log|K + σ²I| − (N/2) log 2π,
 *
 * and the gradient, computed in the eigenbasis (α̃ = Qᵀα, B_d = Q_dᵀ ∂K_d Q_d):
 *
 *   ∂LML/∂ℓ_d = ½ s·α̃ᵀ(⊗_{e≠d}Λ_e ⊗ B_d)α̃ − ½ s·Σ_i (Π_{e≠d}λ_e)·(B_d)_{i_d i_d}/(λ_i + σ²)
 *   ∂LML/∂s   = ½ α̃ᵀΛα̃/s − ½ Σ_i (λ_i/s)/(λ_i + σ²)
 *   ∂LML/∂σ²  = ½ α̃ᵀα̃ − ½ Σ_i 1/(λ_i + σ²).
 *
 * Numerical safeguards, both reported: `jitter` is added to every factor's diagonal before
 * the eigendecomposition, and factor eigenvalues below `eigFloor` (default 0: round-off
 * negatives) are raised to it. The model actually solved is the jittered, clamped one, and
 * the gradient is that model's exact gradient.
 */
import { crossMatrix, kernelAtZero, kernelDLengthscale, kernelValue, type AxisKernel } from './kernels';
import { forEachRow, kronMatvec, type KronFactorMatrix, type KronLinalg } from './tensor';

/** A grid GP model: axes, per-axis kernels and the global hyperparameters. */
export interface KronModel {
  readonly axes: readonly Float64Array[];
  readonly kernels: readonly AxisKernel[];
  /** s, multiplying the product kernel. */
  readonly outputscale: number;
  /** σ², the homoscedastic noise variance. */
  readonly noise: number;
  /** Added to each factor's diagonal. @default 0 */
  readonly jitter: number;
  /** Factor eigenvalues below this are raised to it. @default 0 */
  readonly eigFloor: number;
}

/** One factor's eigendecomposition. */
export interface KronFactor {
  readonly n: number;
  /** Eigenvalues after clamping, ascending. */
  readonly w: Float64Array;
  /** Eigenvectors as columns, row-major n×n. */
  readonly v: Float64Array;
  /** How many eigenvalues were raised to the floor. */
  readonly clamped: number;
  /** The smallest eigenvalue before clamping. */
  readonly minEig: number;
}

/** What the safeguards did. */
export interface KronSafeguards {
  readonly jitter: number;
  readonly eigFloor: number;
  /** Per axis: eigenvalues raised to the floor. */
  readonly clamped: readonly number[];
  /** Per axis: the smallest eigenvalue before clamping. */
  readonly minEig: readonly number[];
}

/** Grid shape of a model. */
export function gridShape(m: Pick<KronModel, 'axes'>): number[] {
  return m.axes.map((a) => a.length);
}

/** K_d (+ jitter on the diagonal) of axis d. */
export function factorMatrix(m: KronModel, d: number): Float64Array {
  const x = m.axes[d] as Float64Array;
  const k = m.kernels[d] as AxisKernel;
  const a = crossMatrix(x, x, (r) => kernelValue(k, r));
  if (m.jitter > 0) for (let i = 0; i < x.length; i++) a[i * x.length + i] = (a[i * x.length + i] as number) + m.jitter;
  return a;
}

/** Eigendecomposes one factor matrix with the model's clamping. */
export function eigFactor(lin: KronLinalg, n: number, a: Float64Array, eigFloor: number): KronFactor {
  const { w, v } = lin.eigh(n, a);
  let clamped = 0;
  let minEig = Infinity;
  for (let i = 0; i < n; i++) {
    const l = w[i] as number;
    minEig = Math.min(minEig, l);
    if (l < eigFloor) {
      w[i] = eigFloor;
      clamped++;
    }
  }
  return { n, w, v, clamped, minEig };
}

/** All factor eigendecompositions of a model. */
export function factorise(lin: KronLinalg, m: KronModel): KronFactor[] {
  return m.axes.map((x, d) => eigFactor(lin, x.length, factorMatrix(m, d), m.eigFloor));
}

/** The safeguard report of a factorisation. */
export function safeguards(m: KronModel, f: readonly KronFactor[]): KronSafeguards {
  return { jitter: m.jitter, eigFloor: m.eigFloor, clamped: f.map((x) => x.clamped), minEig: f.map((x) => x.minEig) };
}

/** Qᵀ factors (transpose) or Q factors for a Kronecker mat-vec. */
export function eigenBasis(f: readonly KronFactor[], transpose: boolean): KronFactorMatrix[] {
  return f.map((x) => ({ m: x.v, p: x.n, transpose }));
}

/** Product eigenvalues s·Π_d λ_d[i_d] written to `out` (length N). */
export function productEigenvalues(f: readonly KronFactor[], s: number, out = new Float64Array(f.reduce((a, x) => a * x.n, 1))): Float64Array {
  const shape = f.map((x) => x.n);
  const d = f.length;
  const wl = (f[d - 1] as KronFactor).w;
  const last = wl.length;
  forEachRow(shape, (off, idx) => {
    let p = s;
    for (let e = 0; e < d - 1; e++) p *= (f[e] as KronFactor).w[idx[e] as number] as number;
    for (let j = 0; j < last; j++) out[off + j] = p * (wl[j] as number);
  });
  return out;
}

/** LML gradient with respect to the hyperparameters. */
export interface KronGradient {
  readonly lengthscales: readonly number[];
  readonly outputscale: number;
  readonly noise: number;
}

/** Result of a full-grid solve. */
export interface KronSolveResult {
  /** α = (K + σ²I)⁻¹y on the grid. */
  readonly alpha: Float64Array;
  /** α̃ = Qᵀα (eigenbasis coefficients), kept for predictions. */
  readonly alphaTilde: Float64Array;
  readonly logdet: number;
  /** yᵀα. */
  readonly dataFit: number;
  readonly lml: number;
  readonly gradient?: KronGradient;
  readonly factors: readonly KronFactor[];
  readonly safeguards: KronSafeguards;
}

function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number, transA = false): Float64Array {
  // C[n×m] = op(A)[n×k]·B[k×m]; op(A) = Aᵀ (A stored k×n) when transA.
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const ait = transA ? (a[t * n + i] as number) : (a[i * k + t] as number);
      if (ait === 0) continue;
      const bo = t * m;
      const co = i * m;
      for (let j = 0; j < m; j++) c[co + j] = (c[co + j] as number) + ait * (b[bo + j] as number);
    }
  }
  return c;
}

/**
 * Solves the full-grid GP: α, log-determinant, LML and (when `gradient`) its gradient.
 * `factors` may be passed when already computed (e.g. by worker shards).
 */
export function solveKron(lin: KronLinalg, m: KronModel, y: Float64Array, o: { gradient?: boolean; factors?: readonly KronFactor[] } = {}): KronSolveResult {
  const f = o.factors ?? factorise(lin, m);
  const shape = gridShape(m);
  const n = y.length;
  const s = m.outputscale;
  const s2 = m.noise;
  const at = kronMatvec(lin, shape, eigenBasis(f, true), y).y; // ỹ = Qᵀy, overwritten by α̃
  const lam = productEigenvalues(f, s);
  let logdet = 0;
  let dataFit = 0;
  let sumInv = 0;
  let sumLamInv = 0;
  let quadA = 0;
  let quadLam = 0;
  const inv = o.gradient === true ? new Float64Array(n) : undefined; // 1/(λ_i + σ²) for the gradient's trace terms
  for (let i = 0; i < n; i++) {
    const li = lam[i] as number;
    const den = li + s2;
    const yt = at[i] as number;
    const a = yt / den;
    at[i] = a;
    logdet += Math.log(den);
    dataFit += yt * a;
    const id = 1 / den;
    if (inv !== undefined) inv[i] = id;
    sumInv += id;
    sumLamInv += li / den;
    quadA += a * a;
    quadLam += a * a * li;
  }
  const alpha = kronMatvec(lin, shape, eigenBasis(f, false), at).y;
  const lml = -0.5 * dataFit - 0.5 * logdet - 0.5 * n * Math.log(2 * Math.PI);
  const base = { alpha, alphaTilde: at, logdet, dataFit, lml, factors: f, safeguards: safeguards(m, f) };
  if (o.gradient !== true) return base;
  const gradient: KronGradient = {
    lengthscales: lengthscaleGradients(lin, m, f, at, inv as Float64Array),
    outputscale: s > 0 ? (0.5 * quadLam) / s - (0.5 * sumLamInv) / s : 0,
    noise: 0.5 * quadA - 0.5 * sumInv,
  };
  return { ...base, gradient };
}

/**
 * B_d = Q_dᵀ (∂K_d/∂ℓ_d) Q_d, row-major n_d×n_d: axis d's kernel derivative in its
 * eigenbasis, as two mode products of Q_d (viewed as an n_d×n_d tensor) on `lin`.
 */
export function factorDerivativeBasis(lin: KronLinalg, m: Pick<KronModel, 'axes' | 'kernels'>, fd: KronFactor, d: number): Float64Array {
  const nd = fd.n;
  const x = m.axes[d] as Float64Array;
  const k = m.kernels[d] as AxisKernel;
  const dk = crossMatrix(x, x, (r) => kernelDLengthscale(k, r));
  const dkq = lin.modeProduct(fd.v, [nd, nd], 0, dk, nd, false); // ∂K_d·Q_d
  return lin.modeProduct(dkq, [nd, nd], 0, fd.v, nd, true); // Q_dᵀ·(∂K_d·Q_d)
}

/** Sums over α̃ that the slab route's shards return (each a sum over the shard's points). */
export interface KronGradientSums {
  /** Per axis d: s·α̃ᵀ(⊗_{e≠d}Λ_e ⊗ B_d)α̃. */
  readonly quad: readonly number[];
  /** α̃ᵀα̃. */
  readonly alphaSq: number;
  /** α̃ᵀΛα̃ (Λ the product eigenvalues s·Πλ). */
  readonly alphaLam: number;
}

/**
 * The LML gradient from the α̃ sums of {@link KronGradientSums} and the eigenvalue-only
 * trace terms (computed here in one pass over the grid): the same formulas as
 * {@link solveKron}'s gradient, assembled from pieces computed elsewhere.
 * `bdiag[d]` is the diagonal of B_d.
 */
export function kronGradientFromSums(
  w: readonly Float64Array[],
  bdiag: readonly Float64Array[],
  s: number,
  noise: number,
  sums: KronGradientSums,
): KronGradient {
  const shape = w.map((x) => x.length);
  const D = shape.length;
  const tr = new Float64Array(D);
  let sumInv = 0;
  let sumLamInv = 0;
  const wl = w[D - 1] as Float64Array;
  const last = wl.length;
  const outer = new Float64Array(D);
  forEachRow(shape, (_off, idx) => {
    for (let d = 0; d < D; d++) {
      // Π over the outer axes except d (and B_d's diagonal when d is an outer axis)
      let p = s;
      for (let e = 0; e < D - 1; e++) if (e !== d) p *= (w[e] as Float64Array)[idx[e] as number] as number;
      outer[d] = d === D - 1 ? p : p * ((bdiag[d] as Float64Array)[idx[d] as number] as number);
    }
    let pAll = s;
    for (let e = 0; e < D - 1; e++) pAll *= (w[e] as Float64Array)[idx[e] as number] as number;
    const bl = bdiag[D - 1] as Float64Array;
    for (let j = 0; j < last; j++) {
      const wj = wl[j] as number;
      const li = pAll * wj;
      const inv = 1 / (li + noise);
      sumInv += inv;
      sumLamInv += li * inv;
      for (let d = 0; d < D - 1; d++) tr[d] = (tr[d] as number) + (outer[d] as number) * wj * inv;
      tr[D - 1] = (tr[D - 1] as number) + (outer[D - 1] as number) * (bl[j] as number) * inv;
    }
  });
  return {
    lengthscales: sums.quad.map((q, d) => 0.5 * q - 0.5 * (tr[d] as number)),
    outputscale: s > 0 ? (0.5 * sums.alphaLam) / s - (0.5 * sumLamInv) / s : 0,
    noise: 0.5 * sums.alphaSq - 0.5 * sumInv,
  };
}

/**
 * ∂LML/∂ℓ_d for every axis from α̃ and inv_i = 1/(λ_i + σ²), in one pass over the grid:
 * ½·Σ_i e_d(i)·α̃_i·(α̃ ×_d B_d)_i − ½·Σ_i e_d(i)·(B_d)_{i_d i_d}·inv_i with
 * e_d(i) = s·Π_{e≠d} λ_e[i_e].
 */
function lengthscaleGradients(lin: KronLinalg, m: KronModel, f: readonly KronFactor[], at: Float64Array, inv: Float64Array): number[] {
  const shape = gridShape(m);
  const D = shape.length;
  const t: Float64Array[] = [];
  const bd: Float64Array[] = [];
  for (let d = 0; d < D; d++) {
    const fd = f[d] as KronFactor;
    const nd = fd.n;
    const b = factorDerivativeBasis(lin, m, fd, d);
    t.push(lin.modeProduct(at, shape, d, b, nd, false));
    bd.push(Float64Array.from({ length: nd }, (_, i) => b[i * nd + i] as number));
  }
  const s = m.outputscale;
  const wl = (f[D - 1] as KronFactor).w;
  const bl = bd[D - 1] as Float64Array;
  const tl = t[D - 1] as Float64Array;
  const last = wl.length;
  const quad = new Float64Array(D);
  const tr = new Float64Array(D);
  const pd = new Float64Array(D); // per row: s·Π over the outer axes except d (times B_d's diagonal for tr)
  forEachRow(shape, (off, idx) => {
    for (let d = 0; d < D; d++) {
      let p = s;
      for (let e = 0; e < D - 1; e++) if (e !== d) p *= (f[e] as KronFactor).w[idx[e] as number] as number;
      pd[d] = p;
    }
    // the last axis: B_{D−1} along j, the outer eigenvalues as a row constant
    const pl = pd[D - 1] as number;
    let ql = 0;
    let rl = 0;
    for (let j = 0; j < last; j++) {
      const i = off + j;
      ql += (at[i] as number) * (tl[i] as number);
      rl += (bl[j] as number) * (inv[i] as number);
    }
    quad[D - 1] = (quad[D - 1] as number) + pl * ql;
    tr[D - 1] = (tr[D - 1] as number) + pl * rl;
    // outer axes: λ_{D−1}[j] along j, B_d's diagonal entry as a row constant
    for (let d = 0; d < D - 1; d++) {
      const td = t[d] as Float64Array;
      let q = 0;
      let r = 0;
      for (let j = 0; j < last; j++) {
        const i = off + j;
        const wj = wl[j] as number;
        q += wj * (at[i] as number) * (td[i] as number);
        r += wj * (inv[i] as number);
      }
      const p = pd[d] as number;
      quad[d] = (quad[d] as number) + p * q;
      tr[d] = (tr[d] as number) + p * ((bd[d] as Float64Array)[idx[d] as number] as number) * r;
    }
  });
  return Array.from(quad, (q, d) => 0.5 * q - 0.5 * (tr[d] as number));
}

/** Posterior on a test grid. */
export interface KronPrediction {
  readonly shape: number[];
  readonly mean: Float64Array;
  /** Latent (noise-free) posterior variance, when asked for. */
  readonly variance?: Float64Array;
}

/**
 * Posterior mean (and variance) on the grid `testAxes` from a full-grid solve:
 * mean = s·(⊗K*_d)α; var = s·Π k_d(0) − s²·(⊗(K*_dQ_d)∘²)·(λ + σ²)⁻¹.
 */
export function predictKron(
  lin: KronLinalg,
  m: KronModel,
  sol: Pick<KronSolveResult, 'alpha' | 'factors'>,
  testAxes: readonly Float64Array[],
  o: { variance?: boolean } = {},
): KronPrediction {
  const shape = gridShape(m);
  const ks = testAxes.map((t, d) => crossMatrix(t, m.axes[d] as Float64Array, (r) => kernelValue(m.kernels[d] as AxisKernel, r)));
  const mats = ks.map((k, d) => ({ m: k, p: (testAxes[d] as Float64Array).length, transpose: false }));
  const r = kronMatvec(lin, shape, mats, sol.alpha);
  const mean = r.y;
  for (let i = 0; i < mean.length; i++) mean[i] = (mean[i] as number) * m.outputscale;
  if (o.variance !== true) return { shape: r.shape, mean };
  const lam = productEigenvalues(sol.factors, m.outputscale);
  for (let i = 0; i < lam.length; i++) lam[i] = 1 / ((lam[i] as number) + m.noise);
  const sq = ks.map((k, d) => {
    const f = sol.factors[d] as KronFactor;
    const rows = (testAxes[d] as Float64Array).length;
    const a = matmul(k, f.v, rows, f.n, f.n);
    for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) ** 2;
    return { m: a, p: rows, transpose: false };
  });
  const red = kronMatvec(lin, shape, sq, lam).y;
  const prior = m.outputscale * m.kernels.reduce((p, k) => p * kernelAtZero(k), 1);
  const s2 = m.outputscale * m.outputscale;
  const variance = new Float64Array(red.length);
  for (let i = 0; i < red.length; i++) variance[i] = Math.max(0, prior - s2 * (red[i] as number));
  return { shape: r.shape, mean, variance };
}
