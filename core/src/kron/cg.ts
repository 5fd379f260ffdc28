/**
 * Incomplete grids and heteroscedastic noise by preconditioned conjugate gradients on
 * Kronecker mat-vecs (GPatt). With O the observed grid points (mask = 1) and D = diag(σ_i²)
 * on them, it solves exactly the GP on the observed points:
 *
 *   (K_OO + D)·α_O = y_O,   K_OO·v = P K Pᵀ v (scatter to the grid, Kronecker mat-vec, gather),
 *
 * preconditioned by M⁻¹ = P (K + σ̄²I)⁻¹ Pᵀ (σ̄² the mean observed noise), which the
 * eigendecomposition applies in 2D mode products. α is returned on the full grid, zero at
 * missing points, so the posterior mean on any test grid is the same Kronecker mat-vec as
 * for a full grid. Iterations and the final relative residual ‖y − Aα‖/‖y‖ are reported.
 */
import { GramfleetError } from '../errors';
import { eigenBasis, factorMatrix, factorise, gridShape, productEigenvalues, safeguards, type KronFactor, type KronModel, type KronSafeguards } from './gp';
import { kronMatvec, type KronLinalg } from './tensor';

/** Options of {@link solveKronCg}. */
export interface KronCgOptions {
  /** 1 = observed, 0 = missing, one per grid point. @default all observed */
  readonly mask?: Uint8Array;
  /** Per-point noise variances σ_i² (heteroscedastic). @default the model's σ² everywhere */
  readonly noise?: Float64Array;
  /** Relative residual to stop at. @default 1e-10 */
  readonly tol?: number;
  /** @default 1000 */
  readonly maxIter?: number;
  /** Precomputed factor eigendecompositions. */
  readonly factors?: readonly KronFactor[];
  /** Called after each iteration with (iteration, relative residual). */
  readonly onIteration?: (it: number, residual: number) => void;
}

/** Result of {@link solveKronCg}. */
export interface KronCgResult {
  /** α on the full grid (0 at missing points). */
  readonly alpha: Float64Array;
  readonly iterations: number;
  /** Final ‖y_O − (K_OO + D)α_O‖ / ‖y_O‖, recomputed from a fresh mat-vec. */
  readonly residual: number;
  readonly converged: boolean;
  readonly observed: number;
  readonly factors: readonly KronFactor[];
  readonly safeguards: KronSafeguards;
}

/** The observed points of a masked / heteroscedastic problem. */
export interface KronCgPoints {
  /** Grid indices of the observed points, ascending. */
  readonly idx: Int32Array;
  /** σ_i² at the observed points. */
  readonly noise: Float64Array;
  /** Mean observed σ², the preconditioner's noise. */
  readonly noiseMean: number;
  /** y at the observed points. */
  readonly b: Float64Array;
}

/** Picks the observed points, their noise and y (typed error when none is observed). */
export function kronCgPoints(m: Pick<KronModel, 'noise'>, y: Float64Array, mask?: Uint8Array, noise?: Float64Array): KronCgPoints {
  const n = y.length;
  const obs: number[] = [];
  for (let i = 0; i < n; i++) if (mask === undefined || mask[i] === 1) obs.push(i);
  const idx = Int32Array.from(obs);
  const no = idx.length;
  if (no === 0) throw new GramfleetError('INPUT_OUT_OF_RANGE', 'mask must mark at least 1 observed point, got 0', { field: 'mask', bound: '>= 1 observed' });
  const nz = new Float64Array(no);
  const b = new Float64Array(no);
  let noiseMean = 0;
  for (let t = 0; t < no; t++) {
    const i = idx[t] as number;
    nz[t] = noise === undefined ? m.noise : (noise[i] as number);
    noiseMean += (nz[t] as number) / no;
    b[t] = y[i] as number;
  }
  return { idx, noise: nz, noiseMean, b };
}

/** Scatters observed values onto a zeroed grid vector. */
export function scatterObserved(idx: Int32Array, v: Float64Array, grid: Float64Array): Float64Array {
  grid.fill(0);
  for (let t = 0; t < idx.length; t++) grid[idx[t] as number] = v[t] as number;
  return grid;
}

/** Gathers the observed values of a grid vector. */
export function gatherObserved(idx: Int32Array, grid: Float64Array, out: Float64Array = new Float64Array(idx.length)): Float64Array {
  for (let t = 0; t < idx.length; t++) out[t] = grid[idx[t] as number] as number;
  return out;
}

/**
 * State of a PCG run (plain arrays and numbers, so a long-running caller can checkpoint it):
 * iterate x, residual r, direction p, rᵀz, the iteration count and the relative residual.
 */
export interface PcgState {
  it: number;
  readonly x: Float64Array;
  readonly r: Float64Array;
  readonly p: Float64Array;
  rz: number;
  res: number;
  /** ‖b‖ (1 when b = 0). */
  readonly bn: number;
}

/** Starts PCG at x = 0 from b and z = M⁻¹b. */
export function pcgStart(b: Float64Array, z: Float64Array): PcgState {
  const bn = Math.sqrt(dot(b, b)) || 1;
  const r = b.slice();
  return { it: 0, x: new Float64Array(b.length), r, p: z.slice(), rz: dot(r, z), res: Math.sqrt(dot(r, r)) / bn, bn };
}

/** One step along p given Ap: x += a·p, r −= a·Ap, it += 1, res updated. */
export function pcgAdvance(s: PcgState, ap: Float64Array): void {
  const a = s.rz / dot(s.p, ap);
  const { x, r, p } = s;
  for (let t = 0; t < x.length; t++) {
    x[t] = (x[t] as number) + a * (p[t] as number);
    r[t] = (r[t] as number) - a * (ap[t] as number);
  }
  s.it++;
  s.res = Math.sqrt(dot(r, r)) / s.bn;
}

/** The new direction from z = M⁻¹r: p = z + β·p with β = rᵀz / (rᵀz)_old. */
export function pcgTurn(s: PcgState, z: Float64Array): void {
  const rzNew = dot(s.r, z);
  const beta = rzNew / s.rz;
  s.rz = rzNew;
  const p = s.p;
  for (let t = 0; t < p.length; t++) p[t] = (z[t] as number) + beta * (p[t] as number);
}

/** ‖b − Ax‖/‖b‖ from a fresh Ax. */
export function pcgTrueResidual(b: Float64Array, ax: Float64Array, bn: number): number {
  let rr = 0;
  for (let t = 0; t < b.length; t++) rr += ((b[t] as number) - (ax[t] as number)) ** 2;
  return Math.sqrt(rr) / bn;
}

/** Solves the observed-points GP by preconditioned CG (see the module comment). */
export function solveKronCg(lin: KronLinalg, m: KronModel, y: Float64Array, o: KronCgOptions = {}): KronCgResult {
  const shape = gridShape(m);
  const n = y.length;
  const { idx, noise, noiseMean, b } = kronCgPoints(m, y, o.mask, o.noise);
  const no = idx.length;
  const f = o.factors ?? factorise(lin, m);
  const kd = m.axes.map((_, d) => ({ m: factorMatrix(m, d), p: shape[d] as number, transpose: false }));
  const grid = new Float64Array(n);
  const apply = (v: Float64Array, out: Float64Array): void => {
    const kz = kronMatvec(lin, shape, kd, scatterObserved(idx, v, grid)).y;
    for (let t = 0; t < no; t++) out[t] = m.outputscale * (kz[idx[t] as number] as number) + (noise[t] as number) * (v[t] as number);
  };
  const inv = productEigenvalues(f, m.outputscale);
  for (let i = 0; i < n; i++) inv[i] = 1 / ((inv[i] as number) + noiseMean);
  const qt = eigenBasis(f, true);
  const q = eigenBasis(f, false);
  const precond = (r: Float64Array, out: Float64Array): void => {
    const z = kronMatvec(lin, shape, qt, scatterObserved(idx, r, grid)).y;
    for (let i = 0; i < n; i++) z[i] = (z[i] as number) * (inv[i] as number);
    gatherObserved(idx, kronMatvec(lin, shape, q, z).y, out);
  };
  const tol = o.tol ?? 1e-10;
  const maxIter = o.maxIter ?? 1000;
  const z = new Float64Array(no);
  precond(b, z);
  const s = pcgStart(b, z);
  const ap = new Float64Array(no);
  while (s.res > tol && s.it < maxIter) {
    apply(s.p, ap);
    pcgAdvance(s, ap);
    o.onIteration?.(s.it, s.res);
    if (s.res <= tol) break;
    precond(s.r, z);
    pcgTurn(s, z);
  }
  apply(s.x, ap);
  const residual = pcgTrueResidual(b, ap, s.bn);
  const alpha = new Float64Array(n);
  for (let t = 0; t < no; t++) alpha[idx[t] as number] = s.x[t] as number;
  return { alpha, iterations: s.it, residual, converged: residual <= tol * 10, observed: no, factors: f, safeguards: safeguards(m, f) };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}
