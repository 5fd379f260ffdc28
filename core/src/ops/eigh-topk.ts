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
 */
import type { NdArray } from '../array';
import { GramfleetError } from '../errors';
import { int, num } from '../validate';
import { eighReference, parseSymmetryTol } from './eigh';
import { attrRecord, expectInputCount, inputAt, matrix, requireSymmetric, squareInput, vector } from './linalg-common';
import type { OpDef } from './types';

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
    const r = attrRecord(EIGH_TOPK_OP_ID, raw, ['k', 'oversample', 'maxIter', 'tol', 'seed', 'symmetryTol']);
    if (r['k'] === undefined) throw new GramfleetError('INPUT_INVALID', 'attrs.k must be an integer ≥ 0, got undefined', { field: 'attrs.k' });
    return Object.freeze({
      k: int('attrs.k', r['k'], 0),
      oversample: r['oversample'] === undefined ? -1 : int('attrs.oversample', r['oversample'], 0),
      maxIter: r['maxIter'] === undefined ? 300 : int('attrs.maxIter', r['maxIter'], 1, 100000),
      tol: r['tol'] === undefined ? 1e-10 : num('attrs.tol', r['tol'], { min: 0, minExclusive: true, max: 1 }),
      seed: r['seed'] === undefined ? 0 : int('attrs.seed', r['seed'], 0, Number.MAX_SAFE_INTEGER),
      symmetryTol: parseSymmetryTol(r),
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
