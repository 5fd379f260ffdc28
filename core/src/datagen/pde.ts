/**
 * Finite-difference PDE systems on the unit square with zero Dirichlet data: N interior
 * points per side, h = 1/(N+1), unknown (i, j) ∈ [1, N]² at index (i−1) + N·(j−1).
 *
 * The operator is −∇·(a∇u) + v·∇u + c·u discretised conservatively: a at cell faces is the
 * mean of the two nodes it joins, v by central differences, c pointwise. The four families:
 * - `darcy`: a = exp(g), f = 1 (SPD);
 * - `helmholtz`: a = 1, c = −k₀²·exp(g) with k₀ drawn per instance (symmetric indefinite);
 * - `advection-diffusion`: a = exp(g), v = V(cos θ, sin θ) drawn per instance (nonsymmetric);
 * - `poisson-rhs`: a = 1, f = g (one fixed matrix, varying right-hand side).
 */
import type { CsrArrays } from '../array';
import { csrFromTriplets } from '../graph';
import { instanceScalar, sampleField, type FieldSpec } from './field';

/** The PDE families. */
export const PDE_KINDS = ['darcy', 'helmholtz', 'advection-diffusion', 'poisson-rhs'] as const;
/** One of {@link PDE_KINDS}. */
export type PdeKind = (typeof PDE_KINDS)[number];

/** Coefficients of one 5-point operator. */
export interface FivePointCoefficients {
  /** Interior points per side. */
  readonly grid: number;
  /** Diffusion at the (N+2)² nodes, row-major by j; omitted = 1. */
  readonly aNode?: Float64Array;
  /** Reaction c at the N² unknowns; omitted = 0. */
  readonly reaction?: Float64Array;
  /** Constant velocity. @default 0 */
  readonly vx?: number;
  readonly vy?: number;
}

/** Assembles the 5-point operator as canonical CSR (via the library's triplet builder). */
export function assembleFivePoint(c: FivePointCoefficients): CsrArrays {
  const N = c.grid;
  const side = N + 2;
  const h = 1 / (N + 1);
  const ih2 = 1 / (h * h);
  const vx = c.vx ?? 0;
  const vy = c.vy ?? 0;
  const a = (i: number, j: number): number => (c.aNode === undefined ? 1 : (c.aNode[i + side * j] as number));
  const n = N * N;
  const rows = new Int32Array(5 * n);
  const cols = new Int32Array(5 * n);
  const vals = new Float64Array(5 * n);
  let t = 0;
  const put = (r: number, col: number, v: number): void => {
    rows[t] = r;
    cols[t] = col;
    vals[t] = v;
    t++;
  };
  for (let j = 1; j <= N; j++) {
    for (let i = 1; i <= N; i++) {
      const row = i - 1 + N * (j - 1);
      const ac = a(i, j);
      const ae = 0.5 * (ac + a(i + 1, j));
      const aw = 0.5 * (ac + a(i - 1, j));
      const an = 0.5 * (ac + a(i, j + 1));
      const as = 0.5 * (ac + a(i, j - 1));
      put(row, row, (ae + aw + an + as) * ih2 + (c.reaction === undefined ? 0 : (c.reaction[row] as number)));
      if (i < N) put(row, row + 1, -ae * ih2 + vx / (2 * h));
      if (i > 1) put(row, row - 1, -aw * ih2 - vx / (2 * h));
      if (j < N) put(row, row + N, -an * ih2 + vy / (2 * h));
      if (j > 1) put(row, row - N, -as * ih2 - vy / (2 * h));
    }
  }
  return csrFromTriplets([n, n], rows.subarray(0, t), cols.subarray(0, t), vals.subarray(0, t));
}

/** What a family needs besides the grid: the random-field covariance and scalar ranges. */
export interface PdeSpec {
  readonly pde: PdeKind;
  readonly grid: number;
  readonly seed: number;
  readonly field: FieldSpec;
  /** Helmholtz wavenumber range [lo, hi). */
  readonly wavenumber: readonly [number, number];
  /** Advection speed range [lo, hi). */
  readonly velocity: readonly [number, number];
}

/** One generated system A x = b with what the dataset stores about it. */
export interface PdeInstance {
  readonly index: number;
  readonly a: CsrArrays;
  readonly b: Float64Array;
  /** The coefficient (or source) field at the (N+2)² nodes: a, κ² or f. */
  readonly input: Float64Array;
  /** Per-instance scalars (k₀ for Helmholtz; V, θ for advection–diffusion). */
  readonly scalars: readonly number[];
  /** Sort features: scaled scalars then normalised low-frequency field modes. */
  readonly features: Float64Array;
}

/** Generates instance `index` of a family; a pure function of (spec, index). */
export function generateInstance(spec: PdeSpec, index: number): PdeInstance {
  const N = spec.grid;
  const side = N + 2;
  const h = 1 / (N + 1);
  const fld = sampleField(spec.seed, index, side, h, spec.field);
  const n = N * N;
  const interior = (node: Float64Array): Float64Array => {
    const out = new Float64Array(n);
    for (let j = 1; j <= N; j++) for (let i = 1; i <= N; i++) out[i - 1 + N * (j - 1)] = node[i + side * j] as number;
    return out;
  };
  const expG = fld.g.map(Math.exp);
  let a: CsrArrays;
  let b: Float64Array = new Float64Array(n).fill(1);
  let input: Float64Array;
  let scalars: number[] = [];
  let scaled: number[] = [];
  switch (spec.pde) {
    case 'darcy':
      a = assembleFivePoint({ grid: N, aNode: expG });
      input = expG;
      break;
    case 'helmholtz': {
      const [lo, hi] = spec.wavenumber;
      const k0 = instanceScalar(spec.seed, index, 0, lo, hi);
      const k2 = expG.map((e) => k0 * k0 * e);
      a = assembleFivePoint({ grid: N, reaction: interior(k2).map((x) => -x) });
      input = k2;
      scalars = [k0];
      scaled = [hi > lo ? (k0 - lo) / (hi - lo) : 0];
      break;
    }
    case 'advection-diffusion': {
      const [lo, hi] = spec.velocity;
      const speed = instanceScalar(spec.seed, index, 0, lo, hi);
      const theta = instanceScalar(spec.seed, index, 1, 0, 2 * Math.PI);
      a = assembleFivePoint({ grid: N, aNode: expG, vx: speed * Math.cos(theta), vy: speed * Math.sin(theta) });
      input = expG;
      scalars = [speed, theta];
      const r = hi > lo ? (speed - lo) / (hi - lo) : 0;
      scaled = [r * Math.cos(theta), r * Math.sin(theta)];
      break;
    }
    case 'poisson-rhs':
      a = assembleFivePoint({ grid: N });
      input = fld.g;
      b = interior(fld.g);
      break;
  }
  const features = new Float64Array(scaled.length + fld.features.length);
  features.set(scaled, 0);
  for (let k = 0; k < fld.features.length; k++) features[scaled.length + k] = fld.features[k] as number;
  return { index, a, b, input, scalars, features };
}

/** The sort features of instance `index` without assembling its matrix (same values as {@link generateInstance}). */
export function instanceFeatures(spec: PdeSpec, index: number): Float64Array {
  const N = spec.grid;
  const fld = sampleField(spec.seed, index, N + 2, 1 / (N + 1), spec.field);
  let scaled: number[] = [];
  if (spec.pde === 'helmholtz') {
    const [lo, hi] = spec.wavenumber;
    const k0 = instanceScalar(spec.seed, index, 0, lo, hi);
    scaled = [hi > lo ? (k0 - lo) / (hi - lo) : 0];
  } else if (spec.pde === 'advection-diffusion') {
    const [lo, hi] = spec.velocity;
    const speed = instanceScalar(spec.seed, index, 0, lo, hi);
    const theta = instanceScalar(spec.seed, index, 1, 0, 2 * Math.PI);
    const r = hi > lo ? (speed - lo) / (hi - lo) : 0;
    scaled = [r * Math.cos(theta), r * Math.sin(theta)];
  }
  const out = new Float64Array(scaled.length + fld.features.length);
  out.set(scaled, 0);
  out.set(fld.features, scaled.length);
  return out;
}
