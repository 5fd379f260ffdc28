/**
 * `eigh-topk`: the k algebraically largest eigenpairs of a real symmetric matrix, in f64, by
 * randomised subspace iteration with Rayleigh–Ritz (block size b = min(n, k + oversample)),
 * stopping when every Ritz residual ‖A·x − θ·x‖ ≤ tol·max|θ|. Built for EigenPro's
 * preconditioner (top eigenpairs of a Nyström kernel block, fast spectral decay).
 *
 * Input: `a` [n, n] f64 symmetric. Outputs: `w` [k] eigenvalues **descending**; `v` [n, k]
 * with eigenvector j in column j; signs as in `eigh` (largest-magnitude entry positive).
 * No convergence within `maxIter` raises `KERNEL_STATUS` with `details.reason =
 * 'no-convergence'` and the residual reached. The start block is seeded (`seed`), so a run is
 * reproducible bit for bit.
 *
 * Attr `method`: `subspace` (the above), `full` (the full `eigh`, the top k taken; exact to
 * working precision, `tol`, `maxIter` and `seed` unused) or `auto` (default): `full` where
 * {@link topkMethod} measured it faster. Backends without a full path run `subspace`.
 */
import type { NdArray } from '../array';
import { GramfleetError } from '../errors';
import { int, num, oneOf } from '../validate';
import { eighReference, parseSymmetryTol } from './eigh';
import { attrRecord, expectInputCount, inputAt, matrix, requireSymmetric, squareInput, vector } from './linalg-common';
import type { OpDef } from './types';

/** How `eigh-topk` computes its pairs (see the op's doc). */
export type EighTopkMethod = 'auto' | 'subspace' | 'full';
const TOPK_METHODS: readonly EighTopkMethod[] = ['auto', 'subspace', 'full'];

/**
 * The path `method: 'auto'` takes for k of n: `full` (divide-and-conquer `eigh`, then the top
 * k) from k = n / TOPK_FULL_DIV up, else `subspace`. Measured by bench/kernels/topk-choice.js
 * (wasm FMA build, 1 thread, Laplacian kernel matrices, tol 1e-10; 2026-12-07): the subspace
 * iteration was faster at k/n = 2.5 % and 5 % (n = 1000 and 2000), the full solver at 10 %
 * (1.7× / 1.3×) and 20 % (4.0× at n = 1000). A spectrum that decays more slowly than a kernel
 * matrix's moves the crossover down.
 */
export function topkMethod(n: number, k: number): 'subspace' | 'full' {
  return k * TOPK_FULL_DIV >= n ? 'full' : 'subspace';
}
/** `auto` takes the full solver from k = n / TOPK_FULL_DIV up. */
export const TOPK_FULL_DIV = 10;

/** Validated attributes of `eigh-topk`. */
export interface EighTopkAttrs {
  /** Number of eigenpairs wanted (0 ≤ k ≤ n). */
  readonly k: number;
  /** Extra basis vectors beyond k; -1 picks max(10, k) (block 2k: fewer, costlier iterations). @default -1 */
  readonly oversample: number;
  /** Iteration budget. @default 300 */
  readonly maxIter: number;
  /** Relative residual target. @default 1e-10 */
  readonly tol: number;
  /** Seed of the random start block (an integer in [0, 2^53)). @default 0 */
  readonly seed: number;
  /** Relative symmetry tolerance (0 disables the check). @default 1e-12 */
  readonly symmetryTol: number;
  /** `auto`, `subspace` or `full` (see the op's doc). @default 'auto' */
  readonly method: EighTopkMethod;
}

/** Wire name of the top-k symmetric eigensolver op. */
export const EIGH_TOPK_OP_ID = 'eigh-topk';

/** The block size used for order n. */
export function topkBlockSize(attrs: EighTopkAttrs, n: number): number {
  const p = attrs.oversample >= 0 ? attrs.oversample : Math.max(10, attrs.k);
  return Math.min(n, attrs.k + p);
}

/** Reference: the full reference eigensolver, top k taken in descending order. */
export function eighTopkReference(n: number, k: number, a: Float64Array): { w: Float64Array; v: Float64Array } {
  const full = eighReference(n, a);
  const w = new Float64Array(k);
  const v = new Float64Array(n * k);
  for (let t = 0; t < k; t++) {
    const src = n - 1 - t;
    w[t] = full.w[src] as number;
    for (let i = 0; i < n; i++) v[i * k + t] = full.v[i * n + src] as number;
  }
  return { w, v };
}

/** The `eigh-topk` op. */
export const eighTopkOp: OpDef<EighTopkAttrs> = {
  id: EIGH_TOPK_OP_ID,
  summary: 'k largest eigenpairs of a symmetric matrix (randomised subspace iteration, f64), descending',
  parseAttrs(raw: unknown): EighTopkAttrs {
    const r = attrRecord(EIGH_TOPK_OP_ID, raw, ['k', 'oversample', 'maxIter', 'tol', 'seed', 'symmetryTol', 'method']);
    if (r['k'] === undefined) throw new GramfleetError('INPUT_INVALID', 'attrs.k must be an integer ≥ 0, got undefined', { field: 'attrs.k' });
    return Object.freeze({
      k: int('attrs.k', r['k'], 0),
      oversample: r['oversample'] === undefined ? -1 : int('attrs.oversample', r['oversample'], 0),
      maxIter: r['maxIter'] === undefined ? 300 : int('attrs.maxIter', r['maxIter'], 1, 100000),
      tol: r['tol'] === undefined ? 1e-10 : num('attrs.tol', r['tol'], { min: 0, minExclusive: true, max: 1 }),
      seed: r['seed'] === undefined ? 0 : int('attrs.seed', r['seed'], 0, Number.MAX_SAFE_INTEGER),
      symmetryTol: parseSymmetryTol(r),
      method: r['method'] === undefined ? 'auto' : oneOf('attrs.method', r['method'], TOPK_METHODS),
    });
  },
  checkInputs(attrs: EighTopkAttrs, inputs: readonly NdArray[]): void {
    expectInputCount(EIGH_TOPK_OP_ID, inputs, 1, 1, 'a');
    const m = squareInput(EIGH_TOPK_OP_ID, inputAt(EIGH_TOPK_OP_ID, inputs, 0, 'a'), 'a');
    if (attrs.k > m.rows) {
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `attrs.k must be <= ${m.rows} (the order of a), got ${attrs.k}`, {
        field: 'attrs.k',
        bound: `<= ${m.rows}`,
        value: attrs.k,
      });
    }
    if (attrs.symmetryTol > 0) requireSymmetric(EIGH_TOPK_OP_ID, m, 'a', attrs.symmetryTol);
  },
  reference(attrs: EighTopkAttrs, inputs: readonly NdArray[]): NdArray[] {
    eighTopkOp.checkInputs(attrs, inputs);
    const m = squareInput(EIGH_TOPK_OP_ID, inputAt(EIGH_TOPK_OP_ID, inputs, 0, 'a'), 'a');
    const { w, v } = eighTopkReference(m.rows, attrs.k, m.data);
    return [vector(w), matrix(m.rows, attrs.k, v)];
  },
};
