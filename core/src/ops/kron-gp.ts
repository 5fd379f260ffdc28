/**
 * The Kronecker GP's shard ops (docs/workloads.md §3), built on `eigh` and `mode-product`:
 *
 * - `kron-factor`: one factor's eigendecomposition. Inputs: every axis (shared by the
 *   batch); attrs pick the axis and its kernel. Outputs: w [n] (clamped), v [n, n].
 * - `kron-slab`: a sequence of steps on one slab of the grid tensor: mode products with
 *   matrices given as inputs (only along axes the slab holds whole) and the eigen-scaling
 *   x_i ← x_i / (s·Π_d λ_d[i_d] + σ²) with the slab's global offset. Output: the slab.
 * - `kron-gp-solve`: a whole single-worker solve (α, LML, gradient) of one hyperparameter
 *   candidate. Inputs: y, then the axes. Outputs: α [N] and stats
 *   [lml, logdet, dataFit, ∂ℓ_0 … ∂ℓ_{D−1}, ∂s, ∂σ², clamped_0 … clamped_{D−1}] (gradient
 *   entries NaN when not asked; kron/layouts.ts names the slots).
 *
 * Kernels run the float64 reference ops by default; a backend passes its own
 * {@link KronLinalg} (the wasm workers use the wasm `eigh` and `mode-product`).
 */
import { ndarray, type NdArray } from '../array';
import { GramfleetError, invalidField } from '../errors';
import { int, num } from '../validate';
import { KRON_KERNEL_KINDS, type AxisKernel } from '../kron/kernels';
import { eigFactor, factorDerivativeBasis, factorMatrix, solveKron, type KronModel } from '../kron/gp';
import { forEachRow, referenceKronLinalg, type KronLinalg } from '../kron/tensor';
import { kronSolveStatsLayout } from '../kron/layouts';
import { attrRecord, boolAttr, inputAt, requireFiniteF64 } from './linalg-common';
import type { OpDef } from './types';

/** Parses an {@link AxisKernel} from JSON attributes. */
export function parseAxisKernel(field: string, raw: unknown): AxisKernel {
  if (typeof raw !== 'object' || raw === null) throw invalidField(field, 'a kernel object', raw);
  const r = raw as Record<string, unknown>;
  if (typeof r['kind'] !== 'string' || !(KRON_KERNEL_KINDS as readonly string[]).includes(r['kind']))
    throw invalidField(`${field}.kind`, KRON_KERNEL_KINDS.join('|'), r['kind']);
  const kind = r['kind'] as AxisKernel['kind'];
  const k: { -readonly [K in keyof AxisKernel]: AxisKernel[K] } = {
    kind,
    lengthscale: num(`${field}.lengthscale`, r['lengthscale'], { min: 0, minExclusive: true }),
  };
  if (kind === 'periodic') k.period = num(`${field}.period`, r['period'], { min: 0, minExclusive: true });
  if (kind === 'spectral-mixture') {
    const w = r['weights'];
    const f = r['freqs'];
    if (!Array.isArray(w) || !Array.isArray(f) || w.length !== f.length || w.length === 0)
      throw invalidField(`${field}.weights/freqs`, 'two arrays of equal length >= 1', w);
    k.weights = w.map((x, i) => num(`${field}.weights[${i}]`, x, { min: 0 }));
    k.freqs = f.map((x, i) => num(`${field}.freqs[${i}]`, x));
  }
  return k;
}

function axisInput(op: string, inputs: readonly NdArray[], i: number): Float64Array {
  const a = inputAt(op, inputs, i, `axis ${i}`);
  if (a.shape.length !== 1) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${op}: axis ${i} must be 1-D`, { op, argument: `axis ${i}` });
  return requireFiniteF64(op, a, `axis ${i}`);
}

/** Attributes of `kron-factor`. */
export interface KronFactorAttrs {
  readonly axis: number;
  readonly kernel: AxisKernel;
  readonly jitter: number;
  readonly eigFloor: number;
  /** Also return B = Qᵀ(∂K/∂ℓ)Q [n, n] (the slab route's LML gradient). @default false */
  readonly gradient: boolean;
}

/** Wire name of `kron-factor`. */
export const KRON_FACTOR_OP_ID = 'kron-factor';

/** `kron-factor` with an injected linear-algebra backend. */
export function kronFactorRun(lin: KronLinalg, a: KronFactorAttrs, inputs: readonly NdArray[]): NdArray[] {
  const x = axisInput(KRON_FACTOR_OP_ID, inputs, a.axis);
  const m: KronModel = { axes: [x], kernels: [a.kernel], outputscale: 1, noise: 0, jitter: a.jitter, eigFloor: a.eigFloor };
  const f = eigFactor(lin, x.length, factorMatrix(m, 0), a.eigFloor);
  const out = [ndarray('f64', [f.n], f.w), ndarray('f64', [f.n, f.n], f.v), ndarray('f64', [2], Float64Array.from([f.clamped, f.minEig]))];
  if (a.gradient) out.push(ndarray('f64', [f.n, f.n], factorDerivativeBasis(lin, m, f, 0)));
  return out;
}

/** The `kron-factor` op. */
export const kronFactorOp: OpDef<KronFactorAttrs> = {
  id: KRON_FACTOR_OP_ID,
  summary: 'eigendecomposition of one Kronecker factor K_d (+ jitter), eigenvalues clamped to a floor',
  parseAttrs(raw: unknown): KronFactorAttrs {
    const r = attrRecord(KRON_FACTOR_OP_ID, raw, ['axis', 'kernel', 'jitter', 'eigFloor', 'gradient']);
    return Object.freeze({
      axis: int('attrs.axis', r['axis'], 0, 31),
      kernel: parseAxisKernel('attrs.kernel', r['kernel']),
      jitter: num('attrs.jitter', r['jitter'] ?? 0, { min: 0 }),
      eigFloor: num('attrs.eigFloor', r['eigFloor'] ?? 0, { min: 0 }),
      gradient: boolAttr(r, 'gradient', false),
    });
  },
  checkInputs(a: KronFactorAttrs, inputs: readonly NdArray[]): void {
    axisInput(KRON_FACTOR_OP_ID, inputs, a.axis);
  },
  reference: (a, inputs) => kronFactorRun(referenceKronLinalg, a, inputs),
};

/**
 * One step of `kron-slab`. `mode`: x ← x ×_mode op(M). `scale`: x_i ← x_i/(s·Πλ + σ²).
 * `quad` (x = α̃, the LML gradient): appends s·Σ_i (Π_{e≠mode}λ_e)·x_i·(x ×_mode B)_i to the
 * stats, reading x from input `src` when given. `moments`: appends Σx_i² and Σ(s·Πλ)_i x_i².
 * `keep`: appends a copy of the current x to the outputs. Eigenvalue indices are global: the
 * slab starts at `start` along `slabAxis`.
 */
export type KronSlabStep =
  | { readonly kind: 'mode'; readonly mode: number; readonly input: number; readonly transpose: boolean }
  | {
      readonly kind: 'scale';
      readonly slabAxis: number;
      readonly start: number;
      readonly outputscale: number;
      readonly noise: number;
      readonly eigInputs: readonly number[];
    }
  | {
      readonly kind: 'quad';
      readonly mode: number;
      readonly input: number;
      readonly src?: number;
      readonly slabAxis: number;
      readonly start: number;
      readonly outputscale: number;
      readonly eigInputs: readonly number[];
    }
  | { readonly kind: 'moments'; readonly slabAxis: number; readonly start: number; readonly outputscale: number; readonly eigInputs: readonly number[] }
  | { readonly kind: 'keep' };

/** Attributes of `kron-slab`. */
export interface KronSlabAttrs {
  /** Shape of the slab (input 0). */
  readonly shape: readonly number[];
  readonly steps: readonly KronSlabStep[];
}

/** Wire name of `kron-slab`. */
export const KRON_SLAB_OP_ID = 'kron-slab';

/** `kron-slab` with an injected linear-algebra backend. */
export function kronSlabRun(lin: KronLinalg, a: KronSlabAttrs, inputs: readonly NdArray[]): NdArray[] {
  const op = KRON_SLAB_OP_ID;
  let x: Float64Array = requireFiniteF64(op, inputAt(op, inputs, 0, 'x'), 'x').slice();
  const shape = [...a.shape];
  const kept: NdArray[] = [];
  const stats: number[] = [];
  const square = (i: number, nd: number): Float64Array => {
    const m = inputAt(op, inputs, i, `m (input ${i})`);
    if (m.shape.length !== 2 || m.shape[0] !== nd || m.shape[1] !== nd)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${op}: input ${i} must be [${nd},${nd}]`, { op, argument: `input ${i}` });
    return m.data as Float64Array;
  };
  for (const s of a.steps) {
    if (s.kind === 'mode') {
      const nd = shape[s.mode] as number;
      x = lin.modeProduct(x, shape, s.mode, square(s.input, nd), nd, s.transpose);
    } else if (s.kind === 'keep') {
      kept.push(ndarray('f64', [...shape], x.slice()));
    } else if (s.kind === 'quad' || s.kind === 'moments') {
      const src = s.kind === 'quad' && s.src !== undefined ? requireFiniteF64(op, inputAt(op, inputs, s.src, `x (input ${s.src})`), `input ${s.src}`) : x;
      if (src.length !== x.length)
        throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${op}: input ${s.kind === 'quad' ? String(s.src) : 0} must hold ${x.length} values`, {
          op,
          argument: 'src',
        });
      const w = s.eigInputs.map((i) => inputAt(op, inputs, i, `w (input ${i})`).data as Float64Array);
      const D = shape.length;
      const skip = s.kind === 'quad' ? s.mode : -1;
      const t = s.kind === 'quad' ? lin.modeProduct(src, shape, s.mode, square(s.input, shape[s.mode] as number), shape[s.mode] as number, false) : src;
      const wl = w[D - 1] as Float64Array;
      const o = D - 1 === s.slabAxis ? s.start : 0;
      let q = 0;
      let q2 = 0;
      forEachRow(shape, (off, idx) => {
        let p = s.outputscale;
        for (let e = 0; e < D - 1; e++) if (e !== skip) p *= (w[e] as Float64Array)[(idx[e] as number) + (e === s.slabAxis ? s.start : 0)] as number;
        for (let j = 0; j < (shape[D - 1] as number); j++) {
          const v = src[off + j] as number;
          if (s.kind === 'quad') q += (skip === D - 1 ? p : p * (wl[j + o] as number)) * v * (t[off + j] as number);
          else {
            q += v * v;
            q2 += p * (wl[j + o] as number) * v * v;
          }
        }
      });
      stats.push(q);
      if (s.kind === 'moments') stats.push(q2);
    } else {
      const w = s.eigInputs.map((i) => inputAt(op, inputs, i, `w (input ${i})`).data as Float64Array);
      const D = shape.length;
      const wl = w[D - 1] as Float64Array;
      forEachRow(shape, (off, idx) => {
        let p = s.outputscale;
        for (let e = 0; e < D - 1; e++) p *= (w[e] as Float64Array)[(idx[e] as number) + (e === s.slabAxis ? s.start : 0)] as number;
        const o = D - 1 === s.slabAxis ? s.start : 0;
        for (let j = 0; j < (shape[D - 1] as number); j++) x[off + j] = (x[off + j] as number) / (p * (wl[j + o] as number) + s.noise);
      });
    }
  }
  return [ndarray('f64', shape, x), ...kept, ...(stats.length > 0 ? [ndarray('f64', [stats.length], Float64Array.from(stats))] : [])];
}

/** The `kron-slab` op. */
export const kronSlabOp: OpDef<KronSlabAttrs> = {
  id: KRON_SLAB_OP_ID,
  summary: 'mode products and eigen-scaling on one slab of a Kronecker GP grid tensor',
  parseAttrs(raw: unknown): KronSlabAttrs {
    const r = attrRecord(KRON_SLAB_OP_ID, raw, ['shape', 'steps']);
    if (!Array.isArray(r['shape'])) throw invalidField('attrs.shape', 'an array of sizes', r['shape']);
    const shape = (r['shape'] as unknown[]).map((s, i) => int(`attrs.shape[${i}]`, s, 1, 2 ** 31));
    if (!Array.isArray(r['steps'])) throw invalidField('attrs.steps', 'an array of steps', r['steps']);
    const steps = (r['steps'] as unknown[]).map((s, i): KronSlabStep => {
      const o = s as Record<string, unknown>;
      if (o['kind'] === 'mode')
        return {
          kind: 'mode',
          mode: int(`attrs.steps[${i}].mode`, o['mode'], 0, shape.length - 1),
          input: int(`attrs.steps[${i}].input`, o['input'], 1, 64),
          transpose: boolAttr(o, 'transpose', false),
        };
      if (o['kind'] === 'keep') return { kind: 'keep' };
      if (o['kind'] === 'quad' || o['kind'] === 'moments') {
        if (!Array.isArray(o['eigInputs']) || o['eigInputs'].length !== shape.length)
          throw invalidField(`attrs.steps[${i}].eigInputs`, `${shape.length} input indices`, o['eigInputs']);
        const common = {
          slabAxis: int(`attrs.steps[${i}].slabAxis`, o['slabAxis'], 0, shape.length - 1),
          start: int(`attrs.steps[${i}].start`, o['start'], 0, 2 ** 31),
          outputscale: num(`attrs.steps[${i}].outputscale`, o['outputscale'], { min: 0 }),
          eigInputs: (o['eigInputs'] as unknown[]).map((x, j) => int(`attrs.steps[${i}].eigInputs[${j}]`, x, 1, 64)),
        };
        if (o['kind'] === 'moments') return { kind: 'moments', ...common };
        return {
          kind: 'quad',
          mode: int(`attrs.steps[${i}].mode`, o['mode'], 0, shape.length - 1),
          input: int(`attrs.steps[${i}].input`, o['input'], 1, 64),
          ...(o['src'] !== undefined ? { src: int(`attrs.steps[${i}].src`, o['src'], 1, 64) } : {}),
          ...common,
        };
      }
      if (o['kind'] === 'scale') {
        if (!Array.isArray(o['eigInputs']) || o['eigInputs'].length !== shape.length)
          throw invalidField(`attrs.steps[${i}].eigInputs`, `${shape.length} input indices`, o['eigInputs']);
        return {
          kind: 'scale',
          slabAxis: int(`attrs.steps[${i}].slabAxis`, o['slabAxis'], 0, shape.length - 1),
          start: int(`attrs.steps[${i}].start`, o['start'], 0, 2 ** 31),
          outputscale: num(`attrs.steps[${i}].outputscale`, o['outputscale'], { min: 0 }),
          noise: num(`attrs.steps[${i}].noise`, o['noise'], { min: 0 }),
          eigInputs: (o['eigInputs'] as unknown[]).map((x, j) => int(`attrs.steps[${i}].eigInputs[${j}]`, x, 1, 64)),
        };
      }
      throw invalidField(`attrs.steps[${i}].kind`, 'mode|scale|quad|moments|keep', o['kind']);
    });
    return Object.freeze({ shape, steps });
  },
  checkInputs(a: KronSlabAttrs, inputs: readonly NdArray[]): void {
    const x = inputAt(KRON_SLAB_OP_ID, inputs, 0, 'x');
    const n = a.shape.reduce((p, s) => p * s, 1);
    if (x.data.length !== n)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${KRON_SLAB_OP_ID}: x has ${x.data.length} values, attrs.shape needs ${n}`, {
        op: KRON_SLAB_OP_ID,
        argument: 'x',
      });
  },
  reference: (a, inputs) => kronSlabRun(referenceKronLinalg, a, inputs),
};

/** Attributes of `kron-gp-solve`. */
export interface KronGpSolveAttrs {
  readonly kernels: readonly AxisKernel[];
  readonly outputscale: number;
  readonly noise: number;
  readonly jitter: number;
  readonly eigFloor: number;
  readonly gradient: boolean;
}

/** Wire name of `kron-gp-solve`. */
export const KRON_GP_SOLVE_OP_ID = 'kron-gp-solve';

/** `kron-gp-solve` with an injected linear-algebra backend. */
export function kronGpSolveRun(lin: KronLinalg, a: KronGpSolveAttrs, inputs: readonly NdArray[]): NdArray[] {
  const op = KRON_GP_SOLVE_OP_ID;
  const y = requireFiniteF64(op, inputAt(op, inputs, 0, 'y'), 'y');
  const axes = a.kernels.map((_, d) => axisInput(op, inputs, d + 1));
  const m: KronModel = { axes, kernels: a.kernels, outputscale: a.outputscale, noise: a.noise, jitter: a.jitter, eigFloor: a.eigFloor };
  const r = solveKron(lin, m, y, { gradient: a.gradient });
  const at = kronSolveStatsLayout(axes.length);
  const stats = new Float64Array(at.length).fill(NaN);
  stats[at.lml] = r.lml;
  stats[at.logdet] = r.logdet;
  stats[at.dataFit] = r.dataFit;
  if (r.gradient !== undefined) {
    r.gradient.lengthscales.forEach((g, d) => {
      stats[at.gradLengthscale(d)] = g;
    });
    stats[at.gradOutputscale] = r.gradient.outputscale;
    stats[at.gradNoise] = r.gradient.noise;
  }
  r.safeguards.clamped.forEach((c, d) => {
    stats[at.clamped(d)] = c;
  });
  return [ndarray('f64', [y.length], r.alpha), ndarray('f64', [stats.length], stats)];
}

/** The `kron-gp-solve` op. */
export const kronGpSolveOp: OpDef<KronGpSolveAttrs> = {
  id: KRON_GP_SOLVE_OP_ID,
  summary: 'single-worker Kronecker GP solve: α, LML and its gradient for one hyperparameter candidate',
  parseAttrs(raw: unknown): KronGpSolveAttrs {
    const r = attrRecord(KRON_GP_SOLVE_OP_ID, raw, ['kernels', 'outputscale', 'noise', 'jitter', 'eigFloor', 'gradient']);
    if (!Array.isArray(r['kernels']) || r['kernels'].length < 1) throw invalidField('attrs.kernels', 'an array of axis kernels', r['kernels']);
    return Object.freeze({
      kernels: (r['kernels'] as unknown[]).map((k, d) => parseAxisKernel(`attrs.kernels[${d}]`, k)),
      outputscale: num('attrs.outputscale', r['outputscale'], { min: 0, minExclusive: true }),
      noise: num('attrs.noise', r['noise'], { min: 0 }),
      jitter: num('attrs.jitter', r['jitter'] ?? 0, { min: 0 }),
      eigFloor: num('attrs.eigFloor', r['eigFloor'] ?? 0, { min: 0 }),
      gradient: boolAttr(r, 'gradient', false),
    });
  },
  checkInputs(a: KronGpSolveAttrs, inputs: readonly NdArray[]): void {
    const y = inputAt(KRON_GP_SOLVE_OP_ID, inputs, 0, 'y');
    const n = a.kernels.reduce((p, _, d) => p * axisInput(KRON_GP_SOLVE_OP_ID, inputs, d + 1).length, 1);
    if (y.data.length !== n)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${KRON_GP_SOLVE_OP_ID}: y has ${y.data.length} values, the grid has ${n}`, {
        op: KRON_GP_SOLVE_OP_ID,
        argument: 'y',
      });
  },
  reference: (a, inputs) => kronGpSolveRun(referenceKronLinalg, a, inputs),
};
