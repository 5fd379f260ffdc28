/**
 * Gaussian random fields by the spectral method, seeded per instance with Philox.
 *
 * g(x) = Σ_k σ·(4π²|k|²/L² + τ²)^{-α/2} ξ_k e^{2πi k·x/L} on a periodic m×m grid of spacing h
 * (L = m·h), with ξ_k complex standard normal (Box–Muller on Philox uniforms addressed by
 * (instance, mode)), the mean mode set to 0 and the real part taken. σ = τ^{α−1} as in the
 * FNO data sets. The first `side` × `side` grid points are returned, so the field is not
 * visibly periodic on the unit square when m ≥ side.
 */
import { Philox } from '../rng/philox';
import { fft2d, nextPow2 } from './fft';

/** Parameters of the covariance (−Δ + τ²)^{-α}. */
export interface FieldSpec {
  readonly alpha: number;
  readonly tau: number;
}

/** A sampled field and its low-frequency features. */
export interface SampledField {
  /** side×side row-major values of g (not exponentiated), g[i + side·j] at (i·h, j·h). */
  readonly g: Float64Array;
  readonly side: number;
  /** Real and imaginary parts of the weighted modes |k_x|, |k_y| ≤ K (the sort features), divided by their expected norm. */
  readonly features: Float64Array;
}

/** Philox stream ids (counter word 2) so fields and scalars of one instance never share draws. */
export const STREAM_FIELD = 1;
/** Stream of per-instance scalars (wavenumber, velocity). */
export const STREAM_SCALAR = 2;

/** Standard normal pair from a Philox block (Box–Muller). */
function normalPair(rng: Philox, c0: number, c1: number, c2: number): [number, number] {
  const u1 = rng.uniform(c0, c1, c2, 0, 0);
  const u2 = rng.uniform(c0, c1, c2, 0, 1);
  const r = Math.sqrt(-2 * Math.log(1 - u1));
  return [r * Math.cos(2 * Math.PI * u2), r * Math.sin(2 * Math.PI * u2)];
}

/**
 * Samples the field of instance `index` for `seed` on `side`×`side` points of spacing `h`;
 * `featureModes` = K gives (2K+1)² complex low-frequency features.
 */
export function sampleField(seed: number, index: number, side: number, h: number, spec: FieldSpec, featureModes = 2): SampledField {
  const m = nextPow2(side);
  const L = m * h;
  const sigma = Math.pow(spec.tau, spec.alpha - 1);
  const re = new Float64Array(m * m);
  const im = new Float64Array(m * m);
  const rng = new Philox(seed);
  const K = featureModes;
  const features = new Float64Array(2 * (2 * K + 1) * (2 * K + 1));
  let f = 0;
  for (let q = 0; q < m; q++) {
    const ky = q <= m / 2 ? q : q - m;
    for (let p = 0; p < m; p++) {
      const kx = p <= m / 2 ? p : p - m;
      if (kx === 0 && ky === 0) continue;
      const lam = (4 * Math.PI * Math.PI * (kx * kx + ky * ky)) / (L * L) + spec.tau * spec.tau;
      const s = sigma * Math.pow(lam, -spec.alpha / 2);
      const [a, b] = normalPair(rng, index >>> 0, q * m + p, STREAM_FIELD);
      re[q * m + p] = s * a;
      im[q * m + p] = s * b;
    }
  }
  // Features scaled by their expected norm, so every instance's feature vector is O(1).
  let expected = 0;
  for (let ky = -K; ky <= K; ky++) {
    for (let kx = -K; kx <= K; kx++) {
      if (kx === 0 && ky === 0) continue;
      const lam = (4 * Math.PI * Math.PI * (kx * kx + ky * ky)) / (L * L) + spec.tau * spec.tau;
      expected += 2 * sigma * sigma * Math.pow(lam, -spec.alpha);
    }
  }
  const inv = expected > 0 ? 1 / Math.sqrt(expected) : 1;
  for (let ky = -K; ky <= K; ky++) {
    for (let kx = -K; kx <= K; kx++) {
      const at = ((ky + m) % m) * m + ((kx + m) % m);
      features[f++] = (re[at] as number) * inv;
      features[f++] = (im[at] as number) * inv;
    }
  }
  fft2d(re, im, m, true);
  const g = new Float64Array(side * side);
  for (let j = 0; j < side; j++) for (let i = 0; i < side; i++) g[i + side * j] = re[j * m + i] as number;
  return { g, side, features };
}

/** A uniform scalar in [lo, hi) for instance `index`, slot `slot` (independent of the field). */
export function instanceScalar(seed: number, index: number, slot: number, lo: number, hi: number): number {
  return lo + (hi - lo) * new Philox(seed).uniform(index >>> 0, slot, STREAM_SCALAR, 0, 0);
}
