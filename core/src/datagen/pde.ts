/**
 * Finite-difference PDE systems on the unit square (2-D families) or cube (`-3d` families)
 * with zero Dirichlet data: N interior points per side, h = 1/(N+1), unknown (i, j) ∈ [1, N]²
 * at index (i−1) + N·(j−1), in 3-D (i, j, l) ∈ [1, N]³ at (i−1) + N·(j−1) + N²·(l−1).
 *
 * The operator is −∇·(a∇u) + v·∇u + c·u discretised conservatively: a at cell faces is the
 * mean of the two nodes it joins, v by central differences, c pointwise. The four families:
 * - `darcy`: a = exp(g), f = 1 (SPD);
 * - `helmholtz`: a = 1, c = −k₀²·exp(g) with k₀ drawn per instance (symmetric indefinite);
 * - `advection-diffusion`: a = exp(g), v = V(cos θ, sin θ) drawn per instance (nonsymmetric);
 * - `poisson-rhs`: a = 1, f = g (one fixed matrix, varying right-hand side).
 * The `-3d` families are the same on the cube with the 7-point stencil, a 3-D random field
 * and, for advection–diffusion, a direction drawn uniformly on the sphere.
 */
import type { CsrArrays } from '../array';
import { csrFromTriplets } from '../graph';
import { fieldFeatures3d, instanceScalar, sampleField, sampleField3d, type FieldSpec, type SampledField } from './field';

/** The PDE families: 2-D (5-point) and 3-D (7-point). */
export const PDE_KINDS = [
  'darcy',
  'helmholtz',
  'advection-diffusion',
  'poisson-rhs',
  'darcy-3d',
  'helmholtz-3d',
  'advection-diffusion-3d',
  'poisson-rhs-3d',
] as const;
/** One of {@link PDE_KINDS}. */
export type PdeKind = (typeof PDE_KINDS)[number];
/** The family of a kind without its dimension. */
export type PdeFamily = 'darcy' | 'helmholtz' | 'advection-diffusion' | 'poisson-rhs';

/** Largest grid (interior points per side) of a 2-D family: 2048² ≈ 4.2·10⁶ unknowns. */
export const PDE_GRID_MAX_2D = 2048;
/** Largest grid of a 3-D family: 160³ ≈ 4.1·10⁶ unknowns, about the 2-D bound. */
export const PDE_GRID_MAX_3D = 160;

/** 2 or 3: the dimension of a kind. */
export function pdeDim(pde: PdeKind): 2 | 3 {
  return pde.endsWith('-3d') ? 3 : 2;
}

/** The family of a kind (`darcy-3d` → `darcy`). */
export function pdeFamily(pde: PdeKind): PdeFamily {
  return (pde.endsWith('-3d') ? pde.slice(0, -3) : pde) as PdeFamily;
}

/** Unknowns of a kind on `grid` points per side: grid^dim. */
export function pdeUnknowns(pde: PdeKind, grid: number): number {
  return grid ** pdeDim(pde);
}

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

/** Coefficients of one 7-point operator on the cube. */
export interface SevenPointCoefficients {
  /** Interior points per side. */
  readonly grid: number;
  /** Diffusion at the (N+2)³ nodes, a[i + side·j + side²·l]; omitted = 1. */
  readonly aNode?: Float64Array;
  /** Reaction c at the N³ unknowns; omitted = 0. */
  readonly reaction?: Float64Array;
  /** Constant velocity (vx, vy, vz). @default [0, 0, 0] */
  readonly velocity?: readonly [number, number, number];
}

/** Assembles the conservative 7-point operator as canonical CSR (same discretisation as {@link assembleFivePoint}). */
export function assembleSevenPoint(c: SevenPointCoefficients): CsrArrays {
  const N = c.grid;
  const side = N + 2;
  const s2 = side * side;
  const h = 1 / (N + 1);
  const ih2 = 1 / (h * h);
  const [vx, vy, vz] = c.velocity ?? [0, 0, 0];
  const aN = c.aNode;
  const a = (node: number): number => (aN === undefined ? 1 : (aN[node] as number));
  const n = N * N * N;
  const N2 = N * N;
  const rows = new Int32Array(7 * n);
  const cols = new Int32Array(7 * n);
  const vals = new Float64Array(7 * n);
  let t = 0;
  const put = (r: number, col: number, v: number): void => {
    rows[t] = r;
    cols[t] = col;
    vals[t] = v;
    t++;
  };
  const cx = vx / (2 * h);
  const cy = vy / (2 * h);
  const cz = vz / (2 * h);
  for (let l = 1; l <= N; l++) {
    for (let j = 1; j <= N; j++) {
      for (let i = 1; i <= N; i++) {
        const row = i - 1 + N * (j - 1) + N2 * (l - 1);
        const node = i + side * j + s2 * l;
        const ac = a(node);
        const ae = 0.5 * (ac + a(node + 1));
        const aw = 0.5 * (ac + a(node - 1));
        const an = 0.5 * (ac + a(node + side));
        const as = 0.5 * (ac + a(node - side));
        const au = 0.5 * (ac + a(node + s2));
        const ad = 0.5 * (ac + a(node - s2));
        if (l > 1) put(row, row - N2, -ad * ih2 - cz);
        if (j > 1) put(row, row - N, -as * ih2 - cy);
        if (i > 1) put(row, row - 1, -aw * ih2 - cx);
        put(row, row, (ae + aw + an + as + au + ad) * ih2 + (c.reaction === undefined ? 0 : (c.reaction[row] as number)));
        if (i < N) put(row, row + 1, -ae * ih2 + cx);
        if (j < N) put(row, row + N, -an * ih2 + cy);
        if (l < N) put(row, row + N2, -au * ih2 + cz);
      }
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
  /** The coefficient (or source) field at the (N+2)^dim nodes: a, κ² or f. */
  readonly input: Float64Array;
  /** Per-instance scalars (k₀ for Helmholtz; V, θ for advection–diffusion, and the polar angle φ in 3-D). */
  readonly scalars: readonly number[];
  /** Sort features: scaled scalars then normalised low-frequency field modes. */
  readonly features: Float64Array;
}

/** The field of instance `index` on the (N+2)^dim nodes of its kind. */
function fieldOf(spec: PdeSpec, index: number): SampledField {
  const side = spec.grid + 2;
  const h = 1 / (spec.grid + 1);
  return pdeDim(spec.pde) === 3 ? sampleField3d(spec.seed, index, side, h, spec.field) : sampleField(spec.seed, index, side, h, spec.field);
}

/** Per-instance scalars of a kind and their scaled sort features (the first entries of `features`). */
function scalarsOf(spec: PdeSpec, index: number): { scalars: number[]; scaled: number[] } {
  const fam = pdeFamily(spec.pde);
  if (fam === 'helmholtz') {
    const [lo, hi] = spec.wavenumber;
    const k0 = instanceScalar(spec.seed, index, 0, lo, hi);
    return { scalars: [k0], scaled: [hi > lo ? (k0 - lo) / (hi - lo) : 0] };
  }
  if (fam === 'advection-diffusion') {
    const [lo, hi] = spec.velocity;
    const speed = instanceScalar(spec.seed, index, 0, lo, hi);
    const r = hi > lo ? (speed - lo) / (hi - lo) : 0;
    const theta = instanceScalar(spec.seed, index, 1, 0, 2 * Math.PI);
    if (pdeDim(spec.pde) === 2) return { scalars: [speed, theta], scaled: [r * Math.cos(theta), r * Math.sin(theta)] };
    // Uniform on the sphere: azimuth θ, polar angle φ = acos(1 − 2u).
    const phi = Math.acos(1 - 2 * instanceScalar(spec.seed, index, 2, 0, 1));
    return { scalars: [speed, theta, phi], scaled: [r * Math.sin(phi) * Math.cos(theta), r * Math.sin(phi) * Math.sin(theta), r * Math.cos(phi)] };
  }
  return { scalars: [], scaled: [] };
}

/** Generates instance `index` of a family; a pure function of (spec, index). */
export function generateInstance(spec: PdeSpec, index: number): PdeInstance {
  const N = spec.grid;
  const dim = pdeDim(spec.pde);
  const side = N + 2;
  const fld = fieldOf(spec, index);
  const n = dim === 3 ? N * N * N : N * N;
  const interior = (node: Float64Array): Float64Array => {
    const out = new Float64Array(n);
    if (dim === 2) {
      for (let j = 1; j <= N; j++) for (let i = 1; i <= N; i++) out[i - 1 + N * (j - 1)] = node[i + side * j] as number;
    } else {
      for (let l = 1; l <= N; l++)
        for (let j = 1; j <= N; j++) for (let i = 1; i <= N; i++) out[i - 1 + N * (j - 1 + N * (l - 1))] = node[i + side * (j + side * l)] as number;
    }
    return out;
  };
  const assemble = (c: { aNode?: Float64Array; reaction?: Float64Array; v?: readonly number[] }): CsrArrays =>
    dim === 2
      ? assembleFivePoint({
          grid: N,
          ...(c.aNode ? { aNode: c.aNode } : {}),
          ...(c.reaction ? { reaction: c.reaction } : {}),
          vx: c.v?.[0] ?? 0,
          vy: c.v?.[1] ?? 0,
        })
      : assembleSevenPoint({
          grid: N,
          ...(c.aNode ? { aNode: c.aNode } : {}),
          ...(c.reaction ? { reaction: c.reaction } : {}),
          velocity: [c.v?.[0] ?? 0, c.v?.[1] ?? 0, c.v?.[2] ?? 0],
        });
  const { scalars, scaled } = scalarsOf(spec, index);
  const expG = fld.g.map(Math.exp);
  let a: CsrArrays;
  let b: Float64Array = new Float64Array(n).fill(1);
  let input: Float64Array;
  switch (pdeFamily(spec.pde)) {
    case 'darcy':
      a = assemble({ aNode: expG });
      input = expG;
      break;
    case 'helmholtz': {
      const k0 = scalars[0] as number;
      const k2 = expG.map((e) => k0 * k0 * e);
      a = assemble({ reaction: interior(k2).map((x) => -x) });
      input = k2;
      break;
    }
    case 'advection-diffusion': {
      const speed = scalars[0] as number;
      const theta = scalars[1] as number;
      const v =
        dim === 2
          ? [speed * Math.cos(theta), speed * Math.sin(theta)]
          : [
              speed * Math.sin(scalars[2] as number) * Math.cos(theta),
              speed * Math.sin(scalars[2] as number) * Math.sin(theta),
              speed * Math.cos(scalars[2] as number),
            ];
      a = assemble({ aNode: expG, v });
      input = expG;
      break;
    }
    case 'poisson-rhs':
      a = assemble({});
      input = fld.g;
      b = interior(fld.g);
      break;
  }
  const features = new Float64Array(scaled.length + fld.features.length);
  features.set(scaled, 0);
  features.set(fld.features, scaled.length);
  return { index, a, b, input, scalars, features };
}

/** The sort features of instance `index` without assembling its matrix (same values as {@link generateInstance}). */
export function instanceFeatures(spec: PdeSpec, index: number): Float64Array {
  const modes =
    pdeDim(spec.pde) === 3
      ? fieldFeatures3d(spec.seed, index, spec.grid + 2, 1 / (spec.grid + 1), spec.field) // the low modes only, no m³ field
      : fieldOf(spec, index).features;
  const { scaled } = scalarsOf(spec, index);
  const out = new Float64Array(scaled.length + modes.length);
  out.set(scaled, 0);
  out.set(modes, scaled.length);
  return out;
}
