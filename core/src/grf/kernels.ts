/**
 * Graph kernel families K = Σ_k α_k W^k for graph random features, their modulation
 * functions f (with f ∗ f = α, so that E[Φ₁Φ₂ᵀ] = K for independent walks), the walk-length
 * cap and the variance bound of the resolvent kernels. See docs/workloads.md §1.
 */
import { GramfleetError, invalidField, outOfRange } from '../errors';
import { int, num, obj, oneOf } from '../validate';

/**
 * A graph kernel family.
 * - `reg-laplacian`: (I − W)^{-d}, α_k = C(k+d−1, k) (d > 0);
 * - `diffusion`: exp(βW), α_k = β^k / k! (β defaults to 1);
 * - `p-step`: (I + W)^p, α_k = C(p, k) (p a positive integer);
 * - `cosine`: cos(W), α_k = (−1)^{k/2} / k! for even k, 0 for odd k;
 * - `custom`: any α (α₀ > 0 is required for a modulation function to exist).
 */
export type GraphKernelSpec =
  | { readonly kind: 'reg-laplacian'; readonly d: number }
  | { readonly kind: 'diffusion'; readonly beta?: number }
  | { readonly kind: 'p-step'; readonly p: number }
  | { readonly kind: 'cosine' }
  | { readonly kind: 'custom'; readonly alpha: readonly number[] };

/** The kernel kinds, in wire spelling. */
export const GRAPH_KERNEL_KINDS = ['reg-laplacian', 'diffusion', 'p-step', 'cosine', 'custom'] as const;

/** Largest number of walk steps any modulation function is evaluated for. */
export const MAX_WALK_STEPS = 4096;

function checkLen(len: number): void {
  int('len', len, 1, MAX_WALK_STEPS + 1);
}

/** The first `len` coefficients α_0..α_{len−1} of a kernel family. */
export function kernelAlpha(spec: GraphKernelSpec, len: number): Float64Array {
  checkLen(len);
  const a = new Float64Array(len);
  switch (spec.kind) {
    case 'reg-laplacian': {
      let v = 1;
      for (let k = 0; k < len; k++) {
        if (k > 0) v = (v * (k - 1 + spec.d)) / k;
        a[k] = v;
      }
      break;
    }
    case 'diffusion': {
      const beta = spec.beta ?? 1;
      let v = 1;
      for (let k = 0; k < len; k++) {
        if (k > 0) v = (v * beta) / k;
        a[k] = v;
      }
      break;
    }
    case 'p-step': {
      let v = 1;
      for (let k = 0; k < len; k++) {
        if (k > 0) v = (v * (spec.p - k + 1)) / k;
        a[k] = v;
      }
      break;
    }
    case 'cosine': {
      let v = 1;
      for (let k = 0; k < len; k++) {
        if (k > 0) v = v / k;
        a[k] = k % 2 === 1 ? 0 : k % 4 === 0 ? v : -v;
      }
      break;
    }
    case 'custom':
      for (let k = 0; k < len && k < spec.alpha.length; k++) a[k] = spec.alpha[k] ?? 0;
      break;
  }
  return a;
}

/**
 * Symmetric modulation from α by the recursion f₀ = √α₀,
 * f_k = (α_k − Σ_{j=1}^{k−1} f_j f_{k−j}) / (2 f₀). Throws `INPUT_OUT_OF_RANGE` (field
 * `alpha[0]`) when α₀ ≤ 0, where no real f exists.
 */
export function modulationFromAlpha(alpha: ArrayLike<number>, len: number = alpha.length): Float64Array {
  checkLen(len);
  const a0 = alpha[0] ?? 0;
  if (!(a0 > 0)) throw outOfRange('alpha[0]', '> 0 (a modulation function needs a positive α₀)', a0);
  const f = new Float64Array(len);
  f[0] = Math.sqrt(a0);
  const twoF0 = 2 * Math.sqrt(a0);
  for (let k = 1; k < len; k++) {
    let s = 0;
    for (let j = 1; j < k; j++) s += (f[j] ?? 0) * (f[k - j] ?? 0);
    f[k] = ((k < alpha.length ? (alpha[k] ?? 0) : 0) - s) / twoF0;
  }
  return f;
}

/**
 * The modulation function f_0..f_{len−1} (symmetric, f ∗ f = α) of a kernel family:
 * closed forms for reg-laplacian (f_k = C(k+d/2−1, k)), diffusion (f_k = (β/2)^k / k!) and
 * p-step (f_k = C(p/2, k)); the recursion of {@link modulationFromAlpha} otherwise.
 */
export function modulation(spec: GraphKernelSpec, len: number): Float64Array {
  checkLen(len);
  switch (spec.kind) {
    case 'reg-laplacian': {
      const f = new Float64Array(len);
      const h = spec.d / 2;
      let v = 1;
      for (let k = 0; k < len; k++) {
        if (k > 0) v = (v * (k - 1 + h)) / k;
        f[k] = v;
      }
      return f;
    }
    case 'diffusion': {
      const f = new Float64Array(len);
      const hb = (spec.beta ?? 1) / 2;
      let v = 1;
      for (let k = 0; k < len; k++) {
        if (k > 0) v = (v * hb) / k;
        f[k] = v;
      }
      return f;
    }
    case 'p-step': {
      const f = new Float64Array(len);
      const h = spec.p / 2;
      let v = 1;
      for (let k = 0; k < len; k++) {
        if (k > 0) v = (v * (h - k + 1)) / k;
        f[k] = v;
      }
      return f;
    }
    default:
      return modulationFromAlpha(kernelAlpha(spec, len), len);
  }
}

/** Survival probability below which a walk is treated as certainly halted. */
export const SURVIVAL_EPS = 1e-18;

/**
 * The number of steps L after which a walk halting with probability `pHalt` before each step
 * has survived with probability (1 − pHalt)^L < 1e-18, capped at {@link MAX_WALK_STEPS}.
 * A modulation array for these walks has length L + 1 (steps 0..L).
 */
export function walkLengthCap(pHalt: number): number {
  num('pHalt', pHalt, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  const l = Math.ceil(Math.log(SURVIVAL_EPS) / Math.log1p(-pHalt));
  return Math.min(Math.max(l, 1), MAX_WALK_STEPS);
}

/**
 * Rejects settings under which the GRF estimator of a resolvent kernel (reg-laplacian) has
 * infinite variance: throws `INPUT_OUT_OF_RANGE` naming field `scale` when c² ≥ 1 − pHalt.
 * Entire-function kernels (diffusion, p-step, cosine) have no such bound; `custom` is not
 * checked (its growth is unknown).
 */
export function checkVarianceBound(spec: GraphKernelSpec, c: number, pHalt: number): void {
  num('scale', c);
  num('pHalt', pHalt, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  if (spec.kind === 'reg-laplacian' && c * c >= 1 - pHalt) {
    throw outOfRange('scale', `such that scale² < 1 − pHalt = ${1 - pHalt} (finite variance for ${spec.kind})`, c);
  }
}

/** Validates a kernel spec from JSON; errors name the field (`kernel.kind`, `kernel.d`, …). */
export function parseKernelSpec(raw: unknown, field = 'kernel'): GraphKernelSpec {
  const o = obj(field, raw);
  const kind = oneOf(`${field}.kind`, o['kind'], GRAPH_KERNEL_KINDS);
  switch (kind) {
    case 'reg-laplacian':
      return Object.freeze({ kind, d: num(`${field}.d`, o['d'], { min: 0, minExclusive: true, max: 64 }) });
    case 'diffusion':
      return o['beta'] === undefined
        ? Object.freeze({ kind })
        : Object.freeze({ kind, beta: num(`${field}.beta`, o['beta'], { min: 0, minExclusive: true, max: 64 }) });
    case 'p-step':
      return Object.freeze({ kind, p: int(`${field}.p`, o['p'], 1, 1024) });
    case 'cosine':
      return Object.freeze({ kind });
    case 'custom': {
      const a = o['alpha'];
      if (!Array.isArray(a) || a.length === 0) throw invalidField(`${field}.alpha`, 'a non-empty array of numbers', a);
      if (a.length > MAX_WALK_STEPS + 1) throw outOfRange(`${field}.alpha.length`, `<= ${MAX_WALK_STEPS + 1}`, a.length);
      const alpha = a.map((x: unknown, i: number) => num(`${field}.alpha[${i}]`, x));
      if (!((alpha[0] ?? 0) > 0)) throw outOfRange(`${field}.alpha[0]`, '> 0', alpha[0]);
      return Object.freeze({ kind, alpha: Object.freeze(alpha) });
    }
  }
  throw new GramfleetError('INPUT_INVALID', `${field}.kind is not handled`, { field });
}
