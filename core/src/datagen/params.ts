/**
 * The Krylov-recycled data-generation job: what a user asks for ({@link DatagenParams}), its
 * validation ({@link compileDatagenParams}, typed errors naming the field and the bound,
 * before anything is scheduled), and the workflow's input and result (references only).
 */
import type { ArrayRef } from '../array';
import type { TaskStats, WorkerClass } from '../protocol';
import { outOfRange } from '../errors';
import { int, num, oneOf } from '../validate';
import { PDE_GRID_MAX_2D, PDE_GRID_MAX_3D, PDE_KINDS, pdeDim, pdeUnknowns, type PdeKind, type PdeSpec } from './pde';
import { PRECONDITIONERS, type PrecondKind } from './precond';
import { SORT_KINDS, type SortKind } from './sort';

/** `gmres`: GMRES(m); `gcrodr`: GCRO-DR(m, k) carrying U along each chunk; `gcrodr-reset`: GCRO-DR restarted from nothing per system. */
export const DATAGEN_SOLVERS = ['gmres', 'gcrodr', 'gcrodr-reset'] as const;
/** One of {@link DATAGEN_SOLVERS}. */
export type DatagenSolver = (typeof DATAGEN_SOLVERS)[number];

/** The parameters of a data-generation run, as a user gives them. */
export interface DatagenParams {
  /** One of {@link PDE_KINDS}: a 2-D family or its `-3d` form. */
  readonly pde: string;
  /** Interior points per side, 3…2048 in 2-D, 3…160 in 3-D. */
  readonly grid: number;
  /** Number of PDE instances, ≥ 1. */
  readonly count: number;
  /** @default 0 */
  readonly seed?: number;
  /** Covariance (−Δ + τ²)^{-α} of the random field. @default 2 */
  readonly fieldAlpha?: number;
  /** @default 3 */
  readonly fieldTau?: number;
  /** Helmholtz k₀ range. @default [5, 15] in 2-D, [4, 8] in 3-D (k₀ = 15 on the cube needs ~10⁴ mat-vecs per system at 16³) */
  readonly wavenumber?: readonly [number, number];
  /** Advection speed range. @default [0, 20] */
  readonly velocity?: readonly [number, number];
  /** Stop on ‖b − Ax‖/‖b‖ ≤ rtol, in (0, 1). @default 1e-8 */
  readonly rtol?: number;
  /** @default 'gcrodr' */
  readonly solver?: DatagenSolver;
  /** m. @default 40 */
  readonly restart?: number;
  /** k, < restart. @default 20 */
  readonly recycle?: number;
  /** Update the recycled space after cycles 1, 1+e, 1+2e, … of each system only. @default 1 (every cycle) */
  readonly recycleEvery?: number;
  /** @default 'none' */
  readonly precond?: PrecondKind;
  /** @default 'greedy' (count ≤ 2000), 'fft-curve' above */
  readonly sort?: SortKind;
  /** Systems per chunk (one shard solves one chunk in order). @default ceil(count / 4), at most 64 */
  readonly chunkSize?: number;
  /** Per-system mat-vec budget. @default 20·grid^dim + 1000 */
  readonly maxMatvecs?: number;
  /** Chunks solved at once. @default 8 */
  readonly window?: number;
}

/** Validated, defaulted parameters. */
export interface CompiledDatagenParams {
  readonly pde: PdeKind;
  readonly grid: number;
  readonly count: number;
  readonly seed: number;
  readonly fieldAlpha: number;
  readonly fieldTau: number;
  readonly wavenumber: readonly [number, number];
  readonly velocity: readonly [number, number];
  readonly rtol: number;
  readonly solver: DatagenSolver;
  readonly restart: number;
  readonly recycle: number;
  /** Present only when > 1, so the job id of a run that does not set it is unchanged. */
  readonly recycleEvery?: number;
  readonly precond: PrecondKind;
  readonly sort: SortKind;
  readonly chunkSize: number;
  readonly maxMatvecs: number;
  readonly window: number;
}

function range(field: string, v: readonly [number, number] | undefined, dflt: [number, number]): readonly [number, number] {
  const r = v ?? dflt;
  const lo = num(`${field}[0]`, r[0], { min: 0 });
  const hi = num(`${field}[1]`, r[1], { min: lo });
  return Object.freeze([lo, hi] as const);
}

/** Validates parameters; throws `INPUT_*` naming the field and its bound. */
export function compileDatagenParams(p: DatagenParams): CompiledDatagenParams {
  const pde = oneOf('pde', p.pde, PDE_KINDS);
  const grid = int('grid', p.grid, 3, pdeDim(pde) === 3 ? PDE_GRID_MAX_3D : PDE_GRID_MAX_2D);
  const count = int('count', p.count, 1, 1_000_000);
  const rtol = num('rtol', p.rtol ?? 1e-8, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  const solver = oneOf('solver', p.solver ?? 'gcrodr', DATAGEN_SOLVERS);
  const restart = int('restart', p.restart ?? 40, 1, 100);
  const recycle = int('recycle', p.recycle ?? 20, 0, 99);
  if (solver !== 'gmres' && restart <= recycle) throw outOfRange('restart', `> recycle (${recycle})`, restart);
  const every = int('recycleEvery', p.recycleEvery ?? 1, 1, 1000);
  const chunkSize = int('chunkSize', p.chunkSize ?? Math.min(64, Math.ceil(count / 4)), 1, 1_000_000);
  return Object.freeze({
    pde,
    grid,
    count,
    rtol,
    solver,
    restart,
    recycle: solver === 'gmres' ? 0 : recycle,
    ...(every > 1 ? { recycleEvery: every } : {}),
    chunkSize,
    seed: int('seed', p.seed ?? 0, 0, Number.MAX_SAFE_INTEGER),
    fieldAlpha: num('fieldAlpha', p.fieldAlpha ?? 2, { min: 0, minExclusive: true }),
    fieldTau: num('fieldTau', p.fieldTau ?? 3, { min: 0, minExclusive: true }),
    wavenumber: range('wavenumber', p.wavenumber, pdeDim(pde) === 3 ? [4, 8] : [5, 15]),
    velocity: range('velocity', p.velocity, [0, 20]),
    precond: oneOf('precond', p.precond ?? 'none', PRECONDITIONERS),
    sort: oneOf('sort', p.sort ?? (count > 2000 ? 'fft-curve' : 'greedy'), SORT_KINDS),
    maxMatvecs: int('maxMatvecs', p.maxMatvecs ?? 20 * pdeUnknowns(pde, grid) + 1000, 1, Number.MAX_SAFE_INTEGER),
    window: int('window', p.window ?? 8, 1, 64),
  });
}

/** The PDE part of compiled parameters. */
export function pdeSpecOf(p: CompiledDatagenParams): PdeSpec {
  return { pde: p.pde, grid: p.grid, seed: p.seed, field: { alpha: p.fieldAlpha, tau: p.fieldTau }, wavenumber: p.wavenumber, velocity: p.velocity };
}

/** Input of the datagen workflow: the chain, cut into chunks of instance indices. */
export interface DatagenJobInput {
  readonly jobId: string;
  readonly params: CompiledDatagenParams;
  /** Instance indices per chunk, in chain order. */
  readonly chunks: readonly (readonly number[])[];
  readonly cls: WorkerClass;
  readonly timeoutMs: number;
}

/** One solved system as the workflow records it. Outputs: x, U, input field, b, solver stats. */
export interface DatagenSystemOutcome {
  readonly index: number;
  readonly chunk: number;
  readonly position: number;
  readonly outputs: readonly ArrayRef[];
  readonly stats: TaskStats;
}

/** Progress of a datagen job. */
export interface DatagenProgress {
  readonly phase: 'running' | 'done' | 'failed' | 'cancelled';
  readonly systemsTotal: number;
  readonly systemsDone: number;
  readonly chunksTotal: number;
  readonly chunksDone: number;
  /** Finished systems with their stats array (iterations, mat-vecs, cycles, relres, k), to sum mat-vecs. */
  readonly finished: readonly { readonly chunk: number; readonly position: number; readonly stats: ArrayRef }[];
  /** Pages of the chunks finished and paged (their systems are not in `finished`). */
  readonly pages?: readonly ArrayRef[];
  readonly generation: number;
}

/** What a datagen job returns. */
export interface DatagenJobResult {
  readonly jobId: string;
  readonly systems: readonly DatagenSystemOutcome[];
  /** Task messages published (0 on a rerun whose systems were all solved before). */
  readonly publishedTasks: number;
  readonly duplicateResults: number;
}

/** Shard id of chunk c, position p. */
export function datagenShardId(chunk: number, position: number): string {
  return `c${String(chunk).padStart(5, '0')}-p${String(position).padStart(5, '0')}`;
}
