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

/** Solves the observed-points GP by preconditioned CG (see the module comment). */
export function solveKronCg(lin: KronLinalg, m: KronModel, y: Float64Array, o: KronCgOptions = {}): KronCgResult {
  const shape = gridShape(m);
  const n = y.length;
  const mask = o.mask;
  const obs: number[] = [];
  for (let i = 0; i < n; i++) if (mask === undefined || mask[i] === 1) obs.push(i);
  const idx = Int32Array.from(obs);
  const no = idx.length;
  if (no === 0) throw new GramfleetError('INPUT_OUT_OF_RANGE', 'mask must mark at least 1 observed point, got 0', { field: 'mask', bound: '>= 1 observed' });
  const noise = new Float64Array(no);
  let noiseMean = 0;
  for (let t = 0; t < no; t++) {
    noise[t] = o.noise === undefined ? m.noise : (o.noise[idx[t] as number] as number);
    noiseMean += (noise[t] as number) / no;
  }
  const f = o.factors ?? factorise(lin, m);
  const kd = m.axes.map((_, d) => ({ m: factorMatrix(m, d), p: shape[d] as number, transpose: false }));
  const grid = new Float64Array(n);
  const apply = (v: Float64Array, out: Float64Array): void => {
    grid.fill(0);
    for (let t = 0; t < no; t++) grid[idx[t] as number] = v[t] as number;
    const kz = kronMatvec(lin, shape, kd, grid).y;
    for (let t = 0; t < no; t++) out[t] = m.outputscale * (kz[idx[t] as number] as number) + (noise[t] as number) * (v[t] as number);
  };
  const inv = productEigenvalues(f, m.outputscale);
  for (let i = 0; i < n; i++) inv[i] = 1 / ((inv[i] as number) + noiseMean);
  const qt = eigenBasis(f, true);
  const q = eigenBasis(f, false);
  const precond = (r: Float64Array, out: Float64Array): void => {
    grid.fill(0);
    for (let t = 0; t < no; t++) grid[idx[t] as number] = r[t] as number;
    const z = kronMatvec(lin, shape, qt, grid).y;
    for (let i = 0; i < n; i++) z[i] = (z[i] as number) * (inv[i] as number);
    const back = kronMatvec(lin, shape, q, z).y;
    for (let t = 0; t < no; t++) out[t] = back[idx[t] as number] as number;
  };
  const b = new Float64Array(no);
  for (let t = 0; t < no; t++) b[t] = y[idx[t] as number] as number;
  const bn = Math.sqrt(dot(b, b)) || 1;
  const tol = o.tol ?? 1e-10;
  const maxIter = o.maxIter ?? 1000;
  const x = new Float64Array(no);
  const r = b.slice();
  const z = new Float64Array(no);
  precond(r, z);
  const p = z.slice();
  const ap = new Float64Array(no);
  let rz = dot(r, z);
  let it = 0;
  let res = Math.sqrt(dot(r, r)) / bn;
  while (res > tol && it < maxIter) {
    apply(p, ap);
    const a = rz / dot(p, ap);
    for (let t = 0; t < no; t++) {
      x[t] = (x[t] as number) + a * (p[t] as number);
      r[t] = (r[t] as number) - a * (ap[t] as number);
    }
    it++;
    res = Math.sqrt(dot(r, r)) / bn;
    o.onIteration?.(it, res);
    if (res <= tol) break;
    precond(r, z);
    const rzNew = dot(r, z);
    const beta = rzNew / rz;
    rz = rzNew;
    for (let t = 0; t < no; t++) p[t] = (z[t] as number) + beta * (p[t] as number);
  }
  apply(x, ap);
  let rr = 0;
  for (let t = 0; t < no; t++) rr += ((b[t] as number) - (ap[t] as number)) ** 2;
  const residual = Math.sqrt(rr) / bn;
  const alpha = new Float64Array(n);
  for (let t = 0; t < no; t++) alpha[idx[t] as number] = x[t] as number;
  return { alpha, iterations: it, residual, converged: residual <= tol * 10, observed: no, factors: f, safeguards: safeguards(m, f) };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}
