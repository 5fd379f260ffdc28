/**
 * EigenPro 3/4 planning before anything is scheduled: which projection runs (and how it
 * solves K(Z, Z)θ = h), whether the Cholesky of K(Z, Z) fits memory, and the seeded sample of
 * centers. Every refusal is a typed error naming the field and what would fit.
 */
import { GramfleetError } from '../errors';
import type { CompiledEigenProParams, EigenProDataShape } from './params';
import { seededPermutation } from './setup';

/** Stream id of the centers sample (apart from the subsample, eval rows and epoch orders). */
export const EIGENPRO_CENTERS_STREAM = 3;

/**
 * Largest wasm arena a worker gives one op (bytes); the Cholesky op holds K(Z, Z) and its
 * factor in it at once (16·p² bytes), which caps the exact projection at p ≈ 11 300.
 */
export const EIGENPRO_ARENA_BYTES = 2 ** 31 - 2 ** 26;

/**
 * Jitter ladder of the exact projection: the factor is of K(Z, Z) + εI with the first ε of
 * this list whose Cholesky succeeds (k(x, x) = 1 for every kernel, so ε is relative to the
 * diagonal). The picked ε is reported with the setup and in the result.
 */
export const EIGENPRO_JITTERS = [1e-10, 1e-8, 1e-6, 1e-4] as const;

/** How a job projects onto the centers (reported to the user). */
export interface EigenPro3Plan {
  /** The algorithm: EigenPro 3 exact, EigenPro 3 inexact (EigenPro 2 on Z), or EigenPro 4 delayed. */
  readonly projection: 'exact' | 'eigenpro' | 'delayed';
  /** How K(Z, Z)θ = h is solved: Cholesky factor (one factorisation on a worker), or EigenPro 2 passes on Z. */
  readonly solver: 'cholesky' | 'eigenpro';
  /** Whether the user named the projection. */
  readonly given: boolean;
  /** Largest p whose exact factor fits this budget. */
  readonly exactMaxCenters: number;
  /** Why this projection (one line). */
  readonly reason: string;
}

/** Bytes the exact projection needs: a worker holds K(Z, Z), its factor and a cached copy (24p²); the orchestrator K(Z, Z) then L (16p²). */
export function exactProjectionBytes(p: number): { worker: number; arena: number; orchestrator: number } {
  return { worker: 24 * p * p, arena: 16 * p * p, orchestrator: 16 * p * p };
}

/** Largest number of centers whose exact projection fits `budgetBytes` (and the wasm arena). */
export function exactProjectionMaxCenters(budgetBytes: number): number {
  return Math.floor(Math.min(Math.sqrt(budgetBytes / 24), Math.sqrt(EIGENPRO_ARENA_BYTES / 16)));
}

/**
 * Picks the projection of an EigenPro 3 job (shape.p centers ≠ the training rows): the one
 * asked for, or exact when the factor fits memory and eigenpro otherwise. Refuses an exact
 * projection that cannot fit with `INPUT_TOO_LARGE` saying what would fit.
 */
export function planEigenPro3(shape: EigenProDataShape, params: CompiledEigenProParams, budgetBytes: number): EigenPro3Plan {
  const { p } = shape;
  const maxP = exactProjectionMaxCenters(budgetBytes);
  const fits = p <= maxP;
  const need = exactProjectionBytes(p);
  if (params.projection === 'exact' && !fits) {
    throw new GramfleetError(
      'INPUT_TOO_LARGE',
      `exact projection on p=${p} centers needs about ${need.worker} bytes on a worker (K(Z,Z), its Cholesky factor and a cached copy) and ${need.arena} in one wasm arena, above the budget of ${budgetBytes} bytes or the arena limit of ${EIGENPRO_ARENA_BYTES}; would fit: centers <= ${maxP}, or projection eigenpro or delayed`,
      {
        field: 'projection',
        needBytes: need.worker,
        budgetBytes,
        fitCenters: maxP,
      },
    );
  }
  const projection = params.projection ?? (fits ? 'exact' : 'eigenpro');
  const solver = projection === 'eigenpro' || !fits ? 'eigenpro' : 'cholesky';
  const reason =
    params.projection !== undefined
      ? `${projection} as given${projection === 'delayed' ? `, solving with ${solver === 'cholesky' ? 'the Cholesky factor' : 'EigenPro 2 on the centers'} (exact fits up to ${maxP} centers)` : ''}`
      : fits
        ? `exact: the Cholesky of K(Z,Z) (p=${p}) fits (up to ${maxP} centers)`
        : `eigenpro: p=${p} is above the ${maxP} centers whose Cholesky fits the budget`;
  return { projection, solver, given: params.projection !== undefined, exactMaxCenters: maxP, reason };
}

/** Rows of the training set taken as centers: the first p of a seeded permutation (without replacement). */
export function sampleCenterRows(n: number, p: number, seed: number): Int32Array {
  if (!Number.isInteger(p) || p < 1 || p > n)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `centers must be in [1, ${n}] (the training rows, sampled without replacement), got ${p}`, {
      field: 'centers',
      bound: n,
      value: p,
    });
  return seededPermutation(n, seed, EIGENPRO_CENTERS_STREAM).slice(0, p).sort();
}
