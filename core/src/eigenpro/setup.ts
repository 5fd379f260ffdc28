/**
 * EigenPro 2 setup from the spectrum of a Nyström subsample (Ma & Belkin, arXiv 1806.06144;
 * docs/workloads.md §2): with λ_1 ≥ … the eigenvalues of K(X_S, X_S)/s (f64) and e_i its unit
 * eigenvectors,
 *   q  = max(5, #{i : λ_i^−α < min(max(s/5, m_G), s)} − 1), clamped to the computed pairs,
 *   D_i = (1 − (λ_q/λ_i)^α)/λ_i,  E = [e_1 … e_{q−1}]/√s,
 *   λ' = λ_1^{1−α} λ_q^α,  m = min(⌊β/λ'⌋ + 1, m_G),
 *   η = m/β if m < β/λ' + 1 else 2m/(β + (m − 1)λ'),  γ = η/m (per sample).
 */
import { GramfleetError } from '../errors';
import { Philox } from '../rng/philox';

/** What the setup picked, and from what (reported to the user). */
export interface EigenProSetup {
  /** Subsample size s and its rows (into the training set). */
  readonly s: number;
  readonly subsample: Int32Array;
  /** Preconditioner level q (q − 1 directions are damped). */
  readonly q: number;
  /** Top eigenvalues of K_SS/s, descending (as many as were computed). */
  readonly eigenvalues: readonly number[];
  /** D (q − 1). */
  readonly d: Float64Array;
  /** E (s × (q − 1), row-major). */
  readonly e: Float64Array;
  /** β = max k(x, x). */
  readonly beta: number;
  /** λ' = λ_1^{1−α} λ_q^α, the top eigenvalue of the preconditioned operator. */
  readonly lambdaPrime: number;
  readonly batch: number;
  /** η per batch and γ = η/m per sample. */
  readonly step: number;
  readonly gamma: number;
  /** Which values came from the user. */
  readonly given: { readonly batch: boolean; readonly step: boolean; readonly q: boolean };
}

/** Inputs of {@link eigenProSetupFromSpectrum}. */
export interface SpectrumInput {
  readonly subsample: Int32Array;
  /** Eigenvalues of K_SS/s, descending (length r). */
  readonly w: ArrayLike<number>;
  /** Unit eigenvectors of K_SS/s, s × r row-major, column j for w[j]. */
  readonly v: ArrayLike<number>;
  readonly alpha: number;
  readonly maxBatch: number;
  readonly beta: number;
  readonly n: number;
  readonly batchSize?: number | undefined;
  readonly stepSize?: number | undefined;
  readonly q?: number | undefined;
}

/** Applies the formulas of the module doc to a computed spectrum. */
export function eigenProSetupFromSpectrum(inp: SpectrumInput): EigenProSetup {
  const s = inp.subsample.length;
  const r = inp.w.length;
  if (r < 2) throw new GramfleetError('INPUT_OUT_OF_RANGE', `eigenpairs must be >= 2, got ${r}`, { field: 'eigenpairs', bound: '>= 2' });
  const w = Array.from(inp.w);
  // Only positive eigenvalues are usable; a rank-deficient subsample clamps q.
  let positive = 0;
  while (positive < r && (w[positive] as number) > 0) positive++;
  if (positive < 2)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', 'the subsample kernel has fewer than 2 positive eigenvalues (all training rows identical?)', {
      field: 'train',
    });
  const { alpha } = inp;
  let q: number;
  if (inp.q !== undefined) {
    if (inp.q > positive)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `q must be <= ${positive} (positive eigenvalues among the ${r} computed), got ${inp.q}`, {
        field: 'q',
        bound: positive,
      });
    q = inp.q;
  } else {
    const bound = Math.min(Math.max(s / 5, inp.maxBatch), s);
    let count = 0;
    for (let i = 0; i < positive; i++) if ((w[i] as number) ** -alpha < bound) count++;
    q = Math.min(Math.max(5, count - 1), positive);
    q = Math.max(2, q);
  }
  const lq = w[q - 1] as number;
  const l1 = w[0] as number;
  const d = new Float64Array(q - 1);
  for (let i = 0; i < q - 1; i++) {
    const li = w[i] as number;
    d[i] = (1 - (lq / li) ** alpha) / li;
  }
  const e = new Float64Array(s * (q - 1));
  const sq = Math.sqrt(s);
  for (let i = 0; i < s; i++) for (let j = 0; j < q - 1; j++) e[i * (q - 1) + j] = (inp.v[i * r + j] as number) / sq;
  const beta = inp.beta;
  const lambdaPrime = l1 ** (1 - alpha) * lq ** alpha;
  const auto = Math.min(Math.floor(beta / lambdaPrime) + 1, inp.maxBatch);
  const batch = Math.max(1, Math.min(inp.n, inp.batchSize ?? auto));
  const step = inp.stepSize ?? (batch < beta / lambdaPrime + 1 ? batch / beta : (2 * batch) / (beta + (batch - 1) * lambdaPrime));
  return {
    s,
    subsample: inp.subsample,
    q,
    eigenvalues: w,
    d,
    e,
    beta,
    lambdaPrime,
    batch,
    step,
    gamma: step / batch,
    given: { batch: inp.batchSize !== undefined, step: inp.stepSize !== undefined, q: inp.q !== undefined },
  };
}

/**
 * Relative Ritz residual the setup asks of `eigh-topk`. The preconditioner needs the top
 * eigenpairs to a few digits, not to 1e-10: on a 2000 × 2000 Laplacian Nyström block (r = 160)
 * 1e-4 moved λ_160 by 0.04 % and cut the WASM solve from 223 s to 29 s (bench/README.md).
 */
export const EIGENPRO_EIGEN_TOL = 1e-4;

/**
 * Which solver the setup uses for the top r eigenpairs of an s × s block: the full `eigh`
 * (~9s³ flops whatever r; measured when its tridiagonal stage was QL, before divide and
 * conquer) once r reaches s/4, `eigh-topk` with `method: 'subspace'` (~4s²r flops per
 * iteration, to EIGENPRO_EIGEN_TOL) below that.
 */
export function eigenSolverFor(s: number, r: number): 'eigh' | 'eigh-topk' {
  return 4 * r >= s ? 'eigh' : 'eigh-topk';
}

/** The top r eigenpairs (descending, vectors s × r) out of a full ascending `eigh` (vectors s × s). */
export function topOfFullEigh(s: number, r: number, w: ArrayLike<number>, v: ArrayLike<number>): { w: Float64Array; v: Float64Array } {
  const tw = new Float64Array(r);
  const tv = new Float64Array(s * r);
  for (let j = 0; j < r; j++) {
    const col = s - 1 - j;
    tw[j] = w[col] as number;
    for (let i = 0; i < s; i++) tv[i * r + j] = v[i * s + col] as number;
  }
  return { w: tw, v: tv };
}

/** Stream ids of the job's random permutations. */
export const EIGENPRO_STREAMS = { subsample: 1, trainEval: 2, epoch: 16 } as const;

/**
 * A seeded permutation of [0, n) (Fisher–Yates with Philox uniforms keyed by `seed`, counter
 * (i, stream, 0, 0)): the same (seed, stream) gives the same order on every machine.
 */
export function seededPermutation(n: number, seed: number, stream: number): Int32Array {
  const rng = new Philox(seed);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform(i, stream, 0x45503250, 0) * (i + 1));
    const t = perm[i] as number;
    perm[i] = perm[j] as number;
    perm[j] = t;
  }
  return perm;
}

/** The rows of the subsample (first s of the subsample permutation). */
export function subsampleRows(n: number, s: number, seed: number): Int32Array {
  return seededPermutation(n, seed, EIGENPRO_STREAMS.subsample).slice(0, s);
}

/** The batch order of an epoch: a permutation drawn from (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  return seededPermutation(n, seed, EIGENPRO_STREAMS.epoch + epoch);
}
