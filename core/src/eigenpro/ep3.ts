/**
 * EigenPro 3 with exact projection (Abedsoltan, Belkin & Pandit, arXiv 2302.02605), float64
 * reference: a model on p centers Z ≠ X. The preconditioner comes from the Nyström subsample of
 * X as in EigenPro 2 (E, D, γ); F = K(Z, X_S)·E·diag(D) is formed once and K(Z, Z) = LLᵀ is
 * factorised once. Per batch B:
 *   G = K(X_B, Z)·a − Y_B,  h = K(Z, X_B)·G − F·(K(X_B, X_S)·E)ᵀ·G,  a −= γ·K(Z, Z)⁻¹·h.
 * Run to convergence with full batches this reaches the least-squares model on the centers,
 * (K_XZᵀK_XZ)⁻¹K_XZᵀY. Not yet distributed (the cluster runs EigenPro 2).
 */
import { choleskyReference } from '../ops/cholesky';
import type { KernelFunction } from '../ops/kernel-block';
import type { CompiledEigenProParams } from './params';
import { kernelMatmulReference, createReferenceCompute } from './reference';
import { epochOrder } from './setup';
import { eigenProSetup } from './train';
import type { EigenProSetup } from './setup';

/** Inputs of {@link trainEigenPro3Reference}. */
export interface EigenPro3Input {
  readonly kernel: KernelFunction;
  readonly bandwidth: number;
  readonly d: number;
  /** Training rows n × d and targets n × c. */
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly c: number;
  /** Centers p × d. */
  readonly z: Float64Array;
  readonly params: CompiledEigenProParams;
  /** ε added to the diagonal of K(Z, Z) before the Cholesky. @default 0 */
  readonly jitter?: number;
}

/** Solves L Lᵀ θ = h in place (h is p × c). */
function cholSolve(l: Float64Array, p: number, h: Float64Array, c: number): void {
  for (let j = 0; j < c; j++) {
    for (let i = 0; i < p; i++) {
      let s = h[i * c + j] as number;
      for (let t = 0; t < i; t++) s -= (l[i * p + t] as number) * (h[t * c + j] as number);
      h[i * c + j] = s / (l[i * p + i] as number);
    }
    for (let i = p - 1; i >= 0; i--) {
      let s = h[i * c + j] as number;
      for (let t = i + 1; t < p; t++) s -= (l[t * p + i] as number) * (h[t * c + j] as number);
      h[i * c + j] = s / (l[i * p + i] as number);
    }
  }
}

function gather(x: Float64Array, rows: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) out.set(x.subarray((rows[i] as number) * d, ((rows[i] as number) + 1) * d), i * d);
  return out;
}

/** Trains EigenPro 3 (exact projection) for `params.epochs` epochs; returns the coefficients p × c and the setup. */
export async function trainEigenPro3Reference(inp: EigenPro3Input): Promise<{ a: Float64Array; setup: EigenProSetup }> {
  const { kernel, bandwidth: sg, d, x, y, c, z, params } = inp;
  const n = x.length / d;
  const p = z.length / d;
  const setup = await eigenProSetup(createReferenceCompute({ kernel, bandwidth: sg, d, x, c }), params, { n, d, c, p: n, nTest: 0 });
  const q1 = setup.q - 1;
  const xs = gather(x, setup.subsample, d);
  // F = K(Z, X_S)·E·diag(D)
  const f = kernelMatmulReference(kernel, sg, d, z, null, p, xs, setup.s, setup.e, q1);
  for (let i = 0; i < p; i++) for (let k = 0; k < q1; k++) f[i * q1 + k] = (f[i * q1 + k] as number) * (setup.d[k] as number);
  const eye = new Float64Array(p * p);
  for (let i = 0; i < p; i++) eye[i * p + i] = 1;
  const kzz = kernelMatmulReference(kernel, sg, d, z, null, p, z, p, eye, p);
  for (let i = 0; i < p; i++) kzz[i * p + i] = (kzz[i * p + i] as number) + (inp.jitter ?? 0);
  const l = choleskyReference(p, kzz, 'centers');
  const a = new Float64Array(p * c);
  const m = setup.batch;
  for (let epoch = 0; epoch < params.epochs; epoch++) {
    const order = epochOrder(n, params.seed, epoch);
    for (let b = 0; b * m < n; b++) {
      const rows = order.slice(b * m, Math.min(n, (b + 1) * m));
      const xb = gather(x, rows, d);
      const g = kernelMatmulReference(kernel, sg, d, xb, null, rows.length, z, p, a, c);
      for (let i = 0; i < rows.length; i++) for (let j = 0; j < c; j++) g[i * c + j] = (g[i * c + j] as number) - (y[(rows[i] as number) * c + j] as number);
      const phi = kernelMatmulReference(kernel, sg, d, xb, null, rows.length, xs, setup.s, setup.e, q1);
      const t = new Float64Array(q1 * c);
      for (let i = 0; i < rows.length; i++)
        for (let k = 0; k < q1; k++)
          for (let j = 0; j < c; j++) t[k * c + j] = (t[k * c + j] as number) + (phi[i * q1 + k] as number) * (g[i * c + j] as number);
      const h = kernelMatmulReference(kernel, sg, d, z, null, p, xb, rows.length, g, c);
      for (let i = 0; i < p; i++)
        for (let j = 0; j < c; j++) {
          let acc = 0;
          for (let k = 0; k < q1; k++) acc += (f[i * q1 + k] as number) * (t[k * c + j] as number);
          h[i * c + j] = (h[i * c + j] as number) - acc;
        }
      cholSolve(l, p, h, c);
      for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) - setup.gamma * (h[i] as number);
    }
  }
  return { a, setup };
}
