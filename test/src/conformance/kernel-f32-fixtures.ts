/**
 * The f32 kernel-block error bound shared by the f32 conformance tests: per entry, from the f32
 * rounding of the distance |Δd²| ≤ γ·(‖x‖² + ‖z‖²), γ = (d + 4)·2⁻²⁴, then
 * |Δr| ≤ min(√|Δd²|, |Δd²|/r), every kernel here having |dk/dr| ≤ 1/σ, plus 1e-6 for the f32
 * epilogue. Returns the f64 reference block and the bound of each entry.
 */
import { type KernelFunction } from '@gramfleet/core';
import { kernelOfSquaredDistance } from '@gramfleet/core/internal';

/** The f64 reference K (n×m) and the per-entry bound of the f32 kernels. */
export function f32KernelBounds(
  x: Float32Array,
  z: Float32Array,
  n: number,
  m: number,
  d: number,
  sigma: number,
  kernel: KernelFunction,
): { k: Float64Array; tol: Float64Array } {
  const k = new Float64Array(n * m);
  const tol = new Float64Array(n * m);
  const g = (d + 4) * 2 ** -24;
  for (let i = 0; i < n; i++) {
    let xn = 0;
    for (let q = 0; q < d; q++) xn += (x[i * d + q] as number) ** 2;
    for (let j = 0; j < m; j++) {
      let zn = 0,
        d2 = 0;
      for (let q = 0; q < d; q++) {
        const zq = z[j * d + q] as number;
        zn += zq * zq;
        d2 += ((x[i * d + q] as number) - zq) ** 2;
      }
      const dd = g * (xn + zn);
      const r = Math.sqrt(d2);
      const dr = Math.min(Math.sqrt(dd), r > 0 ? dd / r : Infinity);
      k[i * m + j] = kernelOfSquaredDistance(kernel, d2, sigma);
      tol[i * m + j] = dr / sigma + 1e-6;
    }
  }
  return { k, tol };
}
