/**
 * The float64 reference {@link EigenProCompute}: kernel products in plain TypeScript with the
 * `kernel-block` reference formula (‖x‖² + ‖z‖² − 2x·z in f64, clamped at 0), eigenpairs by the
 * reference eigensolver. The oracle of the tests; fine for n up to a few thousand.
 */
import { kernelOfSquaredDistance, type KernelFunction } from '../ops/kernel-block';
import { eighTopkReference } from '../ops/eigh-topk';
import type { BatchTag, EigenProCompute } from './train';

/** Data of the reference compute. */
export interface ReferenceComputeData {
  readonly kernel: KernelFunction;
  readonly bandwidth: number;
  readonly d: number;
  /** Training rows n × d (the centers). */
  readonly x: ArrayLike<number>;
  readonly xTest?: ArrayLike<number>;
  /** Output columns c. */
  readonly c: number;
}

/** out (rows × c) = K(A[rowsA], Z)·coef, A and Z row-major with d columns. */
export function kernelMatmulReference(
  kernel: KernelFunction,
  sigma: number,
  d: number,
  a: ArrayLike<number>,
  rowsA: ArrayLike<number> | null,
  na: number,
  z: ArrayLike<number>,
  nz: number,
  coef: ArrayLike<number>,
  c: number,
): Float64Array {
  const zn = new Float64Array(nz);
  for (let j = 0; j < nz; j++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += (z[j * d + k] as number) ** 2;
    zn[j] = s;
  }
  const out = new Float64Array(na * c);
  for (let i = 0; i < na; i++) {
    const r = rowsA === null ? i : (rowsA[i] as number);
    let xn = 0;
    for (let k = 0; k < d; k++) xn += (a[r * d + k] as number) ** 2;
    for (let j = 0; j < nz; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += (a[r * d + k] as number) * (z[j * d + k] as number);
      const kv = kernelOfSquaredDistance(kernel, Math.max(0, xn + (zn[j] as number) - 2 * dot), sigma);
      for (let t = 0; t < c; t++) out[i * c + t] = (out[i * c + t] as number) + kv * (coef[j * c + t] as number);
    }
  }
  return out;
}

function gather(x: ArrayLike<number>, rows: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) for (let k = 0; k < d; k++) out[i * d + k] = x[(rows[i] as number) * d + k] as number;
  return out;
}

/** Creates the reference compute over in-memory data. */
export function createReferenceCompute(data: ReferenceComputeData): EigenProCompute {
  const { kernel, bandwidth: sigma, d, x, c } = data;
  const n = x.length / d;
  let xs: Float64Array = new Float64Array(0);
  let e: Float64Array = new Float64Array(0);
  let q1 = 0;
  return {
    subsampleKernel(rows: Int32Array): Promise<Float64Array> {
      const s = rows.length;
      const xsub = gather(x, rows, d);
      const eye = new Float64Array(s * s);
      for (let i = 0; i < s; i++) eye[i * s + i] = 1;
      return Promise.resolve(kernelMatmulReference(kernel, sigma, d, xsub, null, s, xsub, s, eye, s));
    },
    topEigenpairs(a: Float64Array, s: number, r: number): Promise<{ w: Float64Array; v: Float64Array }> {
      return Promise.resolve(eighTopkReference(s, r, a));
    },
    preconditioner(rows: Int32Array, basis: Float64Array, q: number): Promise<void> {
      xs = gather(x, rows, d) as Float64Array<ArrayBuffer>;
      e = basis;
      q1 = q;
      return Promise.resolve();
    },
    batch(rows: Int32Array, a: Float64Array, _tag: BatchTag): Promise<{ pred: Float64Array; phi: Float64Array }> {
      const pred = kernelMatmulReference(kernel, sigma, d, x, rows, rows.length, x, n, a, c);
      const phi = kernelMatmulReference(kernel, sigma, d, x, rows, rows.length, xs, xs.length / d, e, q1);
      return Promise.resolve({ pred, phi });
    },
    predict(set: 'test' | 'train', a: Float64Array, _tag: BatchTag, rows?: Int32Array): Promise<Float64Array> {
      if (set === 'test') {
        const xt = data.xTest ?? new Float64Array(0);
        return Promise.resolve(kernelMatmulReference(kernel, sigma, d, xt, null, xt.length / d, x, n, a, c));
      }
      const r = rows ?? Int32Array.from({ length: n }, (_, i) => i);
      return Promise.resolve(kernelMatmulReference(kernel, sigma, d, x, r, r.length, x, n, a, c));
    },
  };
}
