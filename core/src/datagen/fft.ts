/**
 * A small radix-2 complex FFT (iterative Cooley–Tukey, in place) and its 2-D form, for the
 * spectral sampling of random fields and the low-frequency features used to sort PDE
 * instances. Sizes must be powers of two. No normalisation in either direction:
 * `inverse` computes Σ_k X_k e^{+2πi jk/n}.
 */

/** The smallest power of two ≥ n (n ≥ 1). */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** In-place 1-D FFT of `re`/`im` (length a power of two), over `len` entries from `off` with `stride`. */
export function fft1d(re: Float64Array, im: Float64Array, inverse: boolean, len = re.length, off = 0, stride = 1): void {
  const n = len;
  if ((n & (n - 1)) !== 0) throw new Error(`internal: fft length ${n} is not a power of two`);
  // bit reversal
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; (j & bit) !== 0; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const a = off + i * stride;
      const b = off + j * stride;
      const tr = re[a] as number;
      re[a] = re[b] as number;
      re[b] = tr;
      const ti = im[a] as number;
      im[a] = im[b] as number;
      im[b] = ti;
    }
  }
  const sign = inverse ? 1 : -1;
  for (let size = 2; size <= n; size *= 2) {
    const half = size / 2;
    const ang = (sign * 2 * Math.PI) / size;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let s = 0; s < n; s += size) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < half; k++) {
        const a = off + (s + k) * stride;
        const b = off + (s + k + half) * stride;
        const xr = (re[b] as number) * cr - (im[b] as number) * ci;
        const xi = (re[b] as number) * ci + (im[b] as number) * cr;
        re[b] = (re[a] as number) - xr;
        im[b] = (im[a] as number) - xi;
        re[a] = (re[a] as number) + xr;
        im[a] = (im[a] as number) + xi;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}

/** In-place 2-D FFT of an m×m row-major complex array (m a power of two). */
export function fft2d(re: Float64Array, im: Float64Array, m: number, inverse: boolean): void {
  for (let r = 0; r < m; r++) fft1d(re, im, inverse, m, r * m, 1);
  for (let c = 0; c < m; c++) fft1d(re, im, inverse, m, c, m);
}

/**
 * Inverse 3-D FFT of an m×m×m row-major complex array (x fastest), correct only on the corner
 * [0, side)³ that a caller keeps: z on every (x, y) column, y on the kept z planes, x on the
 * kept (y, z) rows (m² + m·side + side² 1-D transforms instead of 3m²).
 */
export function fft3dInverseCorner(re: Float64Array, im: Float64Array, m: number, side: number): void {
  const m2 = m * m;
  for (let q = 0; q < m; q++) for (let p = 0; p < m; p++) fft1d(re, im, true, m, q * m + p, m2);
  for (let r = 0; r < side; r++) for (let p = 0; p < m; p++) fft1d(re, im, true, m, r * m2 + p, m);
  for (let r = 0; r < side; r++) for (let q = 0; q < side; q++) fft1d(re, im, true, m, r * m2 + q * m, 1);
}
