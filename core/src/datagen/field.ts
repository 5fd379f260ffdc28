/**
 * Gaussian random fields by the spectral method, seeded per instance with Philox.
 *
 * g(x) = Σ_k σ·(4π²|k|²/L² + τ²)^{-α/2} ξ_k e^{2πi k·x/L} on a periodic m×m grid of spacing h
 * (L = m·h), with ξ_k complex standard normal (Box–Muller on Philox uniforms addressed by
 * (instance, mode)), the mean mode set to 0 and the real part taken. σ = τ^{α−1} as in the
 * FNO data sets. The first `side` × `side` grid points are returned, so the field is not
 * visibly periodic on the unit square when m ≥ side. {@link sampleField3d} is the same on an
 * m×m×m grid, with σ = τ^{α−3/2} (the FNO convention σ = τ^{(2α−d)/2} for d = 3).
 */
import { Philox } from '../rng/philox';
import { fft2d, fft3dInverseCorner, nextPow2 } from './fft';

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

/**
 * The 3-D field of instance `index`: g on `side`³ points of spacing `h`, g[i + side·j +
 * side²·l] at (i·h, j·h, l·h), from the modes of an m×m×m periodic grid (m = nextPow2(side))
 * with ξ at Philox counter (index, mode, {@link STREAM_FIELD}); `featureModes` = K gives
 * (2K+1)³ complex low-frequency features, divided by their expected norm.
 */
export function sampleField3d(seed: number, index: number, side: number, h: number, spec: FieldSpec, featureModes = 1): SampledField {
  const m = nextPow2(side);
  const L = m * h;
  const sigma = Math.pow(spec.tau, spec.alpha - 1.5);
  const m2 = m * m;
  const re = new Float64Array(m2 * m);
  const im = new Float64Array(m2 * m);
  const rng = new Philox(seed);
  const c = (4 * Math.PI * Math.PI) / (L * L);
  const tau2 = spec.tau * spec.tau;
  for (let r = 0; r < m; r++) {
    const kz = r <= m / 2 ? r : r - m;
    for (let q = 0; q < m; q++) {
      const ky = q <= m / 2 ? q : q - m;
      for (let p = 0; p < m; p++) {
        const kx = p <= m / 2 ? p : p - m;
        if (kx === 0 && ky === 0 && kz === 0) continue;
        const s = sigma * Math.pow(c * (kx * kx + ky * ky + kz * kz) + tau2, -spec.alpha / 2);
        const at = (r * m + q) * m + p;
        const [a, b] = normalPair(rng, index >>> 0, at, STREAM_FIELD);
        re[at] = s * a;
        im[at] = s * b;
      }
    }
  }
  const features = fieldFeatures3d(seed, index, side, h, spec, featureModes);
  fft3dInverseCorner(re, im, m, side);
  const g = new Float64Array(side * side * side);
  for (let l = 0; l < side; l++) for (let j = 0; j < side; j++) for (let i = 0; i < side; i++) g[i + side * (j + side * l)] = re[l * m2 + j * m + i] as number;
  return { g, side, features };
}

/**
 * The sort features of {@link sampleField3d} without sampling the field: the (2K+1)³ modes
 * |k_x|, |k_y|, |k_z| ≤ K drawn at their own Philox counters (the same values), divided by
 * their expected norm. O(K³) instead of an m³ field.
 */
export function fieldFeatures3d(seed: number, index: number, side: number, h: number, spec: FieldSpec, featureModes = 1): Float64Array {
  const m = nextPow2(side);
  const L = m * h;
  const sigma = Math.pow(spec.tau, spec.alpha - 1.5);
  const c = (4 * Math.PI * Math.PI) / (L * L);
  const tau2 = spec.tau * spec.tau;
  const rng = new Philox(seed);
  const K = Math.min(featureModes, Math.floor(m / 2) - 1);
  const weight = (kx: number, ky: number, kz: number): number => sigma * Math.pow(c * (kx * kx + ky * ky + kz * kz) + tau2, -spec.alpha / 2);
  let expected = 0;
  for (let kz = -K; kz <= K; kz++)
    for (let ky = -K; ky <= K; ky++) for (let kx = -K; kx <= K; kx++) if (kx !== 0 || ky !== 0 || kz !== 0) expected += 2 * weight(kx, ky, kz) ** 2;
  const inv = expected > 0 ? 1 / Math.sqrt(expected) : 1;
  const features = new Float64Array(2 * (2 * featureModes + 1) ** 3);
  let f = 0;
  for (let kz = -K; kz <= K; kz++)
    for (let ky = -K; ky <= K; ky++)
      for (let kx = -K; kx <= K; kx++) {
        if (kx === 0 && ky === 0 && kz === 0) {
          f += 2;
          continue;
        }
        const at = (((kz + m) % m) * m + ((ky + m) % m)) * m + ((kx + m) % m);
        const [a, b] = normalPair(rng, index >>> 0, at, STREAM_FIELD);
        const s = weight(kx, ky, kz);
        features[f++] = s * a * inv;
        features[f++] = s * b * inv;
      }
  return features;
}
