/**
 * Exact graph kernels K = Σ_k α_k W^k for checking graph random features on small graphs
 * (n ≤ ~3,000): a Horner series over sparse W times a dense block, truncated where the tail
 * Σ_{k>L} |α_k| ρ^k (ρ ≥ spectral radius of W) is below a tolerance. For W = c·D^{-1/2}AD^{-1/2}
 * the spectral radius is at most |c|.
 */
import type { CsrArrays } from '../array';
import { GramfleetError } from '../errors';
import { num } from '../validate';
import { kernelAlpha, MAX_WALK_STEPS, type GraphKernelSpec } from './kernels';
import { csrSpmm } from './sparse';

/** Options of the exact-kernel routines. */
export interface ExactKernelOptions {
  /** An upper bound on the spectral radius of W (|c| for a normalised W). */
  readonly radius: number;
  /** Bound on the truncated tail Σ_{k>L} |α_k| ρ^k. @default 1e-15 */
  readonly tol?: number;
}

/** Coefficients α_0..α_L with the tail beyond L below `tol` (relative to Σ|α_k|ρ^k). */
export function truncatedAlpha(spec: GraphKernelSpec, opts: ExactKernelOptions): Float64Array {
  const rho = num('radius', opts.radius, { min: 0 });
  const tol = opts.tol ?? 1e-15;
  const a = kernelAlpha(spec, MAX_WALK_STEPS + 1);
  const terms = a.map((x, k) => Math.abs(x) * Math.pow(rho, k));
  let total = 0;
  for (const t of terms) total += t;
  let tail = 0;
  let L = terms.length - 1;
  // Walk back while the tail (including term L) stays negligible.
  while (L > 0 && tail + (terms[L] ?? 0) <= tol * Math.max(total, 1e-300)) {
    tail += terms[L] ?? 0;
    L--;
  }
  if (L === terms.length - 1 && (terms[L] ?? 0) > tol * total) {
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `kernel series does not converge within ${MAX_WALK_STEPS} terms at radius ${rho}`, {
      field: 'radius',
      value: rho,
    });
  }
  return a.slice(0, L + 1);
}

/**
 * K·V for a dense row-major block V (n × k), by Horner's rule on the truncated series:
 * X ← α_L V; X ← W X + α_j V for j = L−1..0.
 */
export function applyExactKernel(w: CsrArrays, spec: GraphKernelSpec, v: Float64Array, k: number, opts: ExactKernelOptions): Float64Array {
  const a = truncatedAlpha(spec, opts);
  const n = w.shape[0];
  if (v.length !== n * k) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `block has ${v.length} entries, expected ${n}×${k}`, { n, k });
  const L = a.length - 1;
  let x = new Float64Array(n * k);
  let y = new Float64Array(n * k);
  const aL = a[L] ?? 0;
  for (let i = 0; i < x.length; i++) x[i] = aL * (v[i] ?? 0);
  for (let j = L - 1; j >= 0; j--) {
    csrSpmm(w, x, k, y);
    const aj = a[j] ?? 0;
    if (aj !== 0) for (let i = 0; i < y.length; i++) y[i] = (y[i] ?? 0) + aj * (v[i] ?? 0);
    const t = x;
    x = y;
    y = t;
  }
  return x;
}

/** The dense kernel matrix K (n × n, row-major) of W; for n up to a few thousand. */
export function exactKernelDense(w: CsrArrays, spec: GraphKernelSpec, opts: ExactKernelOptions): Float64Array {
  const n = w.shape[0];
  if (n > 8192) throw new GramfleetError('INPUT_TOO_LARGE', `exactKernelDense is for n <= 8192, got ${n}`, { n });
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  return applyExactKernel(w, spec, eye, n, opts);
}
