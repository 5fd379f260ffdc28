/**
 * One-dimensional stationary kernels for the Kronecker GP: k(r) with r = x − x′, its
 * derivative with respect to the lengthscale ℓ (for LML gradients) and, where the kernel is
 * twice differentiable, d²k/dr² (for GP collocation of second-order PDEs).
 *
 * - `rbf`: exp(−r²/(2ℓ²))
 * - `matern12` / `matern32` / `matern52`: Matérn ν = 1/2, 3/2, 5/2 with a = √(2ν)|r|/ℓ
 * - `periodic`: exp(−2 sin²(π r / p)/ℓ²) with period p
 * - `spectral-mixture` (Q components, GP-HM's SE × cosine mixture):
 *   Σ_q w_q exp(−r²/(2ℓ²)) cos(2π μ_q r), weights w_q ≥ 0 and frequencies μ_q (cycles per unit)
 *   fixed, one lengthscale ℓ shared by the components.
 */
import { GramfleetError } from '../errors';

/** Kernel kinds, as named on the command line (`spectral-mixture:Q` selects Q components). */
export const KRON_KERNEL_KINDS = ['rbf', 'matern12', 'matern32', 'matern52', 'periodic', 'spectral-mixture'] as const;
/** A kernel kind. */
export type KronKernelKind = (typeof KRON_KERNEL_KINDS)[number];

/** One axis's kernel: kind, lengthscale and the fixed shape parameters. */
export interface AxisKernel {
  readonly kind: KronKernelKind;
  readonly lengthscale: number;
  /** Period p (`periodic` only). */
  readonly period?: number;
  /** Component weights w_q (`spectral-mixture` only). */
  readonly weights?: readonly number[];
  /** Component frequencies μ_q in cycles per unit (`spectral-mixture` only). */
  readonly freqs?: readonly number[];
}

/** k(r). */
export function kernelValue(k: AxisKernel, r: number): number {
  const l = k.lengthscale;
  switch (k.kind) {
    case 'rbf':
      return Math.exp((-r * r) / (2 * l * l));
    case 'matern12':
      return Math.exp(-Math.abs(r) / l);
    case 'matern32': {
      const a = (Math.sqrt(3) * Math.abs(r)) / l;
      return (1 + a) * Math.exp(-a);
    }
    case 'matern52': {
      const a = (Math.sqrt(5) * Math.abs(r)) / l;
      return (1 + a + (a * a) / 3) * Math.exp(-a);
    }
    case 'periodic': {
      const s = Math.sin((Math.PI * r) / (k.period as number));
      return Math.exp((-2 * s * s) / (l * l));
    }
    case 'spectral-mixture': {
      const g = Math.exp((-r * r) / (2 * l * l));
      let t = 0;
      const w = k.weights as readonly number[];
      const f = k.freqs as readonly number[];
      for (let q = 0; q < w.length; q++) t += (w[q] as number) * Math.cos(2 * Math.PI * (f[q] as number) * r);
      return g * t;
    }
  }
}

/** ∂k(r)/∂ℓ. */
export function kernelDLengthscale(k: AxisKernel, r: number): number {
  const l = k.lengthscale;
  switch (k.kind) {
    case 'rbf':
    case 'spectral-mixture':
      return (kernelValue(k, r) * r * r) / (l * l * l);
    case 'matern12':
      return (Math.abs(r) / (l * l)) * Math.exp(-Math.abs(r) / l);
    case 'matern32': {
      const a = (Math.sqrt(3) * Math.abs(r)) / l;
      return ((a * a) / l) * Math.exp(-a);
    }
    case 'matern52': {
      const a = (Math.sqrt(5) * Math.abs(r)) / l;
      return (((a * a) / 3) * (1 + a) * Math.exp(-a)) / l;
    }
    case 'periodic': {
      const s = Math.sin((Math.PI * r) / (k.period as number));
      return (kernelValue(k, r) * 4 * s * s) / (l * l * l);
    }
  }
}

/** d²k/dr² (= ∂²k(x − x′)/∂x²); only for the twice-differentiable `rbf` and `spectral-mixture`. */
export function kernelD2(k: AxisKernel, r: number): number {
  const l = k.lengthscale;
  const l2 = l * l;
  if (k.kind === 'rbf') return ((r * r) / (l2 * l2) - 1 / l2) * kernelValue(k, r);
  if (k.kind === 'spectral-mixture') {
    const g = Math.exp((-r * r) / (2 * l2));
    const g1 = (-r / l2) * g;
    const g2 = ((r * r) / (l2 * l2) - 1 / l2) * g;
    let t = 0;
    const w = k.weights as readonly number[];
    const f = k.freqs as readonly number[];
    for (let q = 0; q < w.length; q++) {
      const om = 2 * Math.PI * (f[q] as number);
      const c = Math.cos(om * r);
      const s = Math.sin(om * r);
      t += (w[q] as number) * (g2 * c - 2 * g1 * om * s - g * om * om * c);
    }
    return t;
  }
  throw new GramfleetError('INPUT_INVALID', `kernel must be rbf or spectral-mixture for a second-order PDE (twice differentiable), got ${k.kind}`, {
    field: 'kernel',
    value: k.kind,
  });
}

/** The kernel's value at r = 0 (the prior variance per unit outputscale). */
export function kernelAtZero(k: AxisKernel): number {
  return kernelValue(k, 0);
}

/** Row-major [a.length × b.length] matrix f(a_i − b_j). */
export function crossMatrix(a: Float64Array, b: Float64Array, f: (r: number) => number): Float64Array {
  const m = new Float64Array(a.length * b.length);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) m[i * b.length + j] = f((a[i] as number) - (b[j] as number));
  return m;
}
