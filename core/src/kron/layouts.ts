/**
 * Where each value sits in the Kronecker GP's flat arrays: the outputs of `kron-factor` and
 * `kron-gp-solve`, the stats vector of `kron-gp-solve`, and the inputs, outputs and stats of the
 * slab route's three `kron-slab` stages (docs/workloads.md §3). The op that writes a layout and every
 * reader (the workflow, the activities, the long loops) take the slots from here by name.
 * Workflow-safe (no I/O).
 */
import type { KronHyper } from './job';

/** Outputs of `kron-factor`, by position: w (clamped eigenvalues), V, info, and B = Qᵀ(∂K/∂ℓ)Q with `gradient`. */
export const KRON_FACTOR_OUT = { eigenvalues: 0, eigenvectors: 1, info: 2, derivativeBasis: 3 } as const;

/** Slots of `kron-factor`'s info output: eigenvalues raised to the floor, and the smallest eigenvalue. */
export const KRON_FACTOR_INFO = { clamped: 0, minEig: 1 } as const;

/** Outputs of `kron-gp-solve`, by position. */
export const KRON_SOLVE_OUT = { alpha: 0, stats: 1 } as const;

/**
 * Slots of `kron-gp-solve`'s stats for D axes:
 * [lml, logdet, dataFit, ∂ℓ_0 … ∂ℓ_{D−1}, ∂s, ∂σ², clamped_0 … clamped_{D−1}].
 */
export interface KronSolveStatsLayout {
  readonly lml: number;
  readonly logdet: number;
  readonly dataFit: number;
  /** ∂LML/∂ℓ_d. */
  gradLengthscale(d: number): number;
  readonly gradOutputscale: number;
  readonly gradNoise: number;
  /** Eigenvalues of factor d raised to the floor. */
  clamped(d: number): number;
  /** Entries in all. */
  readonly length: number;
}

/** The {@link KronSolveStatsLayout} of a D-axis grid. */
export function kronSolveStatsLayout(D: number): KronSolveStatsLayout {
  const grad = 3;
  return {
    lml: 0,
    logdet: 1,
    dataFit: 2,
    gradLengthscale: (d) => grad + d,
    gradOutputscale: grad + D,
    gradNoise: grad + D + 1,
    clamped: (d) => grad + D + 2 + d,
    length: grad + D + 2 + D,
  };
}

/** A `kron-gp-solve` stats vector, read by name. */
export interface KronSolveStats {
  readonly lml: number;
  readonly logdet: number;
  readonly dataFit: number;
  /** NaN entries when the solve was not asked for the gradient. */
  readonly gradient: KronHyper;
}

/** Reads the stats output of a `kron-gp-solve` on a D-axis grid. */
export function readKronSolveStats(s: ArrayLike<number>, D: number): KronSolveStats {
  const l = kronSolveStatsLayout(D);
  return {
    lml: s[l.lml] as number,
    logdet: s[l.logdet] as number,
    dataFit: s[l.dataFit] as number,
    gradient: {
      lengthscales: Array.from({ length: D }, (_, d) => s[l.gradLengthscale(d)] as number),
      outputscale: s[l.gradOutputscale] as number,
      noise: s[l.gradNoise] as number,
    },
  };
}

/**
 * The slab route's `kron-slab` stages on a D-axis grid (D ≥ 2). V_d, W_d and B_d are factor d's
 * eigenvectors, eigenvalues and derivative basis; the gradient parts are present only when the
 * job asks for the LML gradient.
 *
 * - Stage a, slabs along axis 0: inputs [slab, V_1 … V_{D−1}]; output [u].
 * - Stage b, slabs along axis 1: inputs [slab, V_0, W_0 … W_{D−1}, B_d for d ≠ 1];
 *   outputs [u, α̃, stats] with stats [Σα̃², Σλα̃², quad_d for d ≠ 1].
 * - Stage c, slabs along axis 0: inputs [u, V_1 … V_{D−1}, α̃, B_1, W_0 … W_{D−1}];
 *   outputs [α, stats] with stats [quad_1].
 */
export interface KronSlabLayout {
  readonly a: {
    readonly in: { readonly slab: number; v(d: number): number };
    readonly out: { readonly u: number };
  };
  readonly b: {
    readonly in: { readonly slab: number; readonly v0: number; w(d: number): number; b(d: number): number };
    readonly out: { readonly u: number; readonly alphaTilde: number; readonly stats: number };
    readonly stats: { readonly alphaSq: number; readonly alphaLam: number; quad(d: number): number };
  };
  readonly c: {
    readonly in: { readonly u: number; v(d: number): number; readonly alphaTilde: number; readonly b1: number; w(d: number): number };
    readonly out: { readonly alpha: number; readonly stats: number };
    readonly stats: { readonly quad1: number };
  };
}

/** The {@link KronSlabLayout} of a D-axis grid. */
export function kronSlabLayout(D: number): KronSlabLayout {
  // B_d for d ≠ 1, in order of d: B_0, B_2, B_3, …
  const skipAxis1 = (d: number): number => (d === 0 ? 0 : d - 1);
  return {
    a: { in: { slab: 0, v: (d) => d }, out: { u: 0 } },
    b: {
      in: { slab: 0, v0: 1, w: (d) => 2 + d, b: (d) => 2 + D + skipAxis1(d) },
      out: { u: 0, alphaTilde: 1, stats: 2 },
      stats: { alphaSq: 0, alphaLam: 1, quad: (d) => 2 + skipAxis1(d) },
    },
    c: {
      in: { u: 0, v: (d) => d, alphaTilde: D, b1: D + 1, w: (d) => D + 2 + d },
      out: { alpha: 0, stats: 1 },
      stats: { quad1: 0 },
    },
  };
}

/**
 * Inputs of the long loops' `kron-slab` shards (orchestrator/src/kron/loop.ts: the masked CG
 * solve's K and preconditioner products) on a D-axis grid:
 * [x, K_0 … K_{D−1}, V_0 … V_{D−1}, W_0 … W_{D−1}].
 */
export interface KronLoopInputs {
  readonly x: number;
  k(d: number): number;
  v(d: number): number;
  w(d: number): number;
}

/** The {@link KronLoopInputs} of a D-axis grid. */
export function kronLoopInputs(D: number): KronLoopInputs {
  return { x: 0, k: (d) => 1 + d, v: (d) => 1 + D + d, w: (d) => 1 + 2 * D + d };
}
