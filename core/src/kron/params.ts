/**
 * The Kronecker GP's user-facing parameters ({@link KronGpParams}) and their validation
 * ({@link compileKronGp}), which runs before anything is scheduled. Every error is a
 * {@link GramfleetError} naming the field and the bound it broke.
 */
import { GramfleetError, invalidField, outOfRange } from '../errors';
import { int, num } from '../validate';
import { KRON_KERNEL_KINDS, type AxisKernel, type KronKernelKind } from './kernels';
import type { KronModel } from './gp';

/** A Kronecker GP problem as a user gives it. */
export interface KronGpParams {
  /** Grid points per axis, strictly increasing (D = axes.length, N = Π n_d). */
  readonly axes: readonly (readonly number[] | Float64Array)[];
  /** Observations on the grid, row-major (last axis fastest), length N. */
  readonly y: readonly number[] | Float64Array;
  /** Kernel kind for every axis or one per axis: `rbf`, `matern12|32|52`, `periodic`, `spectral-mixture:Q`. */
  readonly kernel: string | readonly string[];
  /** One lengthscale for all axes or one per axis. @default (max − min)/4 of each axis */
  readonly lengthscales?: number | readonly number[];
  /** s. @default 1 */
  readonly outputscale?: number;
  /** σ² ≥ 0. @default 0.01 */
  readonly noise?: number;
  /** Periods of `periodic` axes (one or per axis). @default axis range + mean spacing (a periodic grid) */
  readonly periods?: number | readonly number[];
  /** Spectral-mixture weights (Q of them). @default 1/Q each */
  readonly smWeights?: readonly number[];
  /** Spectral-mixture frequencies in cycles per unit (Q of them). @default evenly from 0 to 1/(4·mean spacing) */
  readonly smFreqs?: readonly number[];
  /** 1 = observed, 0 = missing, length N (incomplete grid → PCG). */
  readonly mask?: readonly number[] | Uint8Array;
  /** Per-point noise variances, length N (heteroscedastic → PCG). */
  readonly noiseVector?: readonly number[] | Float64Array;
  /** Added to each factor's diagonal. @default 0 */
  readonly jitter?: number;
  /** Factor eigenvalues below this are raised to it. @default 0 */
  readonly eigFloor?: number;
  /** PCG relative residual. @default 1e-10 */
  readonly cgTol?: number;
  /** @default 2000 */
  readonly cgMaxIter?: number;
}

/** Validated problem. */
export interface CompiledKronGp {
  readonly model: KronModel;
  readonly shape: readonly number[];
  readonly n: number;
  readonly y: Float64Array;
  readonly mask?: Uint8Array;
  readonly noiseVector?: Float64Array;
  /** True when the problem needs PCG (mask or heteroscedastic noise). */
  readonly iterative: boolean;
  readonly cg: { readonly tol: number; readonly maxIter: number };
}

/** Bytes a full-grid solve with gradient holds at once (8 grid vectors + factor matrices). */
export function kronMemoryBytes(shape: readonly number[]): number {
  const n = shape.reduce((a, b) => a * b, 1);
  return 8 * 8 * n + shape.reduce((a, b) => a + 4 * 8 * b * b, 0);
}

/** Validates one axis: finite and strictly increasing. */
export function checkAxis(field: string, a: readonly number[] | Float64Array): Float64Array {
  if (!(a instanceof Float64Array) && !Array.isArray(a)) throw invalidField(field, 'an array of numbers', a);
  if (a.length < 1) throw outOfRange(`${field}.length`, '>= 1', a.length);
  const x = Float64Array.from(a as ArrayLike<number>);
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (typeof (a as ArrayLike<unknown>)[i] !== 'number') throw invalidField(`${field}[${i}]`, 'a number', (a as ArrayLike<unknown>)[i]);
    if (!Number.isFinite(v))
      throw new GramfleetError('INPUT_NOT_FINITE', `${field}[${i}] must be finite, got ${String(v)}`, { field: `${field}[${i}]`, value: String(v) });
    if (i > 0 && !(v > (x[i - 1] as number))) {
      throw new GramfleetError(
        'INPUT_OUT_OF_RANGE',
        `${field} must be strictly increasing (no duplicates): ${field}[${i}] = ${v} <= ${field}[${i - 1}] = ${x[i - 1]}`,
        { field: `${field}[${i}]`, bound: `> ${x[i - 1]}`, value: v },
      );
    }
  }
  return x;
}

/** Parses `rbf` … or `spectral-mixture:Q` into a kind and Q. */
export function parseKernelName(field: string, s: unknown): { kind: KronKernelKind; q: number } {
  if (typeof s !== 'string') throw invalidField(field, `one of ${KRON_KERNEL_KINDS.join('|')} (spectral-mixture:Q)`, s);
  const m = /^spectral-mixture(?::(\d+))?$/.exec(s);
  if (m !== null) return { kind: 'spectral-mixture', q: int(`${field} (Q)`, Number(m[1] ?? '1'), 1, 64) };
  if (!(KRON_KERNEL_KINDS as readonly string[]).includes(s)) throw invalidField(field, `one of rbf|matern12|matern32|matern52|periodic|spectral-mixture:Q`, s);
  return { kind: s as KronKernelKind, q: 0 };
}

function perAxis(
  field: string,
  v: number | readonly number[] | undefined,
  d: number,
  dflt: (i: number) => number,
  bound: { min: number; minExclusive?: boolean },
): number[] {
  if (v === undefined) return Array.from({ length: d }, (_, i) => dflt(i));
  if (typeof v === 'number') return Array.from({ length: d }, () => num(field, v, bound));
  if (!Array.isArray(v)) throw invalidField(field, 'a number or an array of numbers', v);
  if (v.length !== d)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${field} must have ${d} entries (one per axis), got ${v.length}`, { field, expected: d, got: v.length });
  return v.map((x, i) => num(`${field}[${i}]`, x, bound));
}

/** Validates a Kronecker GP problem; throws a typed error naming the field and the bound. */
export function compileKronGp(p: KronGpParams, o: { memoryBudgetBytes?: number } = {}): CompiledKronGp {
  if (!Array.isArray(p.axes) || p.axes.length < 1 || p.axes.length > 8) throw invalidField('axes', 'an array of 1 to 8 axes', p.axes);
  const axes = p.axes.map((a, d) => checkAxis(`axes[${d}]`, a));
  const shape = axes.map((a) => a.length);
  const n = shape.reduce((a, b) => a * b, 1);
  const budget = o.memoryBudgetBytes ?? 8 * 1024 ** 3;
  const need = kronMemoryBytes(shape);
  if (need > budget) {
    throw new GramfleetError(
      'INPUT_TOO_LARGE',
      `axes: a grid of N = ${n} points (${shape.join('×')}) needs about ${need} bytes, above the memory budget of ${budget} bytes`,
      { field: 'axes', needBytes: need, budgetBytes: budget, n },
    );
  }
  const D = axes.length;
  const yIn = p.y as ArrayLike<number>;
  if (yIn === undefined || typeof yIn.length !== 'number') throw invalidField('y', 'an array of numbers', p.y);
  if (yIn.length !== n)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `y has ${yIn.length} values, the grid ${shape.join('×')} has N = ${n} points`, {
      field: 'y',
      expected: n,
      got: yIn.length,
    });
  const y = yIn instanceof Float64Array ? yIn.slice() : Float64Array.from(yIn);
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(y[i]))
      throw new GramfleetError('INPUT_NOT_FINITE', `y[${i}] must be finite, got ${String(y[i])}`, { field: `y[${i}]`, value: String(y[i]) });
  const names = typeof p.kernel === 'string' ? Array.from({ length: D }, () => p.kernel as string) : p.kernel;
  if (!Array.isArray(names) || names.length !== D)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `kernel must be one name or ${D} names (one per axis)`, { field: 'kernel', expected: D });
  const kinds = names.map((s, d) => parseKernelName(typeof p.kernel === 'string' ? 'kernel' : `kernel[${d}]`, s));
  const span = (d: number): number => {
    const a = axes[d] as Float64Array;
    return a.length > 1 ? (a[a.length - 1] as number) - (a[0] as number) : 1;
  };
  const spacing = (d: number): number => span(d) / Math.max(1, (axes[d] as Float64Array).length - 1);
  const ls = perAxis('lengthscales', p.lengthscales, D, (d) => span(d) / 4, { min: 0, minExclusive: true });
  const periods = perAxis('periods', p.periods, D, (d) => span(d) + spacing(d), { min: 0, minExclusive: true });
  const outputscale = num('outputscale', p.outputscale ?? 1, { min: 0, minExclusive: true });
  const noise = num('noise', p.noise ?? 0.01, { min: 0 });
  const jitter = num('jitter', p.jitter ?? 0, { min: 0 });
  const eigFloor = num('eigFloor', p.eigFloor ?? 0, { min: 0 });
  const kernels: AxisKernel[] = kinds.map(({ kind, q }, d) => {
    const base = { kind, lengthscale: ls[d] as number };
    if (kind === 'periodic') return { ...base, period: periods[d] as number };
    if (kind !== 'spectral-mixture') return base;
    const weights = p.smWeights === undefined ? Array.from({ length: q }, () => 1 / q) : p.smWeights.map((w, i) => num(`smWeights[${i}]`, w, { min: 0 }));
    const fmax = 1 / (4 * spacing(d));
    const freqs =
      p.smFreqs === undefined ? Array.from({ length: q }, (_, i) => (q === 1 ? 0 : (i * fmax) / (q - 1))) : p.smFreqs.map((f, i) => num(`smFreqs[${i}]`, f));
    if (weights.length !== q)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `smWeights must have Q = ${q} entries, got ${weights.length}`, { field: 'smWeights', expected: q });
    if (freqs.length !== q)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `smFreqs must have Q = ${q} entries, got ${freqs.length}`, { field: 'smFreqs', expected: q });
    return { ...base, weights, freqs };
  });
  let mask: Uint8Array | undefined;
  if (p.mask !== undefined) {
    if (p.mask.length !== n)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `mask has ${p.mask.length} values, the grid has N = ${n}`, {
        field: 'mask',
        expected: n,
        got: p.mask.length,
      });
    mask = new Uint8Array(n);
    let seen = 0;
    for (let i = 0; i < n; i++) {
      const v = p.mask[i];
      if (v !== 0 && v !== 1) throw outOfRange(`mask[${i}]`, '0 or 1', v);
      mask[i] = v;
      seen += v;
    }
    if (seen === 0) throw outOfRange('mask', 'marking at least 1 observed point', 0);
  }
  let noiseVector: Float64Array | undefined;
  if (p.noiseVector !== undefined) {
    if (p.noiseVector.length !== n)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `noiseVector has ${p.noiseVector.length} values, the grid has N = ${n}`, {
        field: 'noiseVector',
        expected: n,
        got: p.noiseVector.length,
      });
    noiseVector = Float64Array.from(p.noiseVector as ArrayLike<number>);
    for (let i = 0; i < n; i++) num(`noiseVector[${i}]`, noiseVector[i], { min: 0 });
  }
  const model: KronModel = Object.freeze({ axes, kernels, outputscale, noise, jitter, eigFloor });
  return Object.freeze({
    model,
    shape,
    n,
    y,
    iterative: mask !== undefined || noiseVector !== undefined,
    ...(mask !== undefined ? { mask } : {}),
    ...(noiseVector !== undefined ? { noiseVector } : {}),
    cg: { tol: num('cgTol', p.cgTol ?? 1e-10, { min: 0, minExclusive: true }), maxIter: int('cgMaxIter', p.cgMaxIter ?? 2000, 1, 1e6) },
  });
}

/** A model with new hyperparameters (same axes and kernel shapes). */
export function withHyper(m: KronModel, h: { lengthscales: readonly number[]; outputscale: number; noise: number }): KronModel {
  return Object.freeze({
    ...m,
    kernels: m.kernels.map((k, d) => ({ ...k, lengthscale: h.lengthscales[d] as number })),
    outputscale: h.outputscale,
    noise: h.noise,
  });
}
