/**
 * Hyperparameter fitting: maximise the exact LML of a full-grid Kronecker GP over
 * θ = (log ℓ_0 … log ℓ_{D−1}, log s, log σ²) with L-BFGS (two-loop recursion, backtracking
 * Armijo line search) or Adam. The objective is −LML/N, its gradient the analytic one of
 * {@link solveKron} times the chain-rule factor x for log x.
 */
import { solveKron, type KronGradient, type KronModel } from './gp';
import { withHyper } from './params';
import type { KronLinalg } from './tensor';

/** Options of {@link fitKron}. */
export interface KronFitOptions {
  /** @default 'lbfgs' */
  readonly optimizer?: 'lbfgs' | 'adam';
  /** Iterations (L-BFGS: outer iterations; Adam: steps). @default 50 */
  readonly iters?: number;
  /** Adam step size in log space. @default 0.05 */
  readonly lr?: number;
  /** Keep σ² fixed. @default false */
  readonly fixNoise?: boolean;
  /** Stop when ‖∇‖∞ of −LML/N falls below this. @default 1e-7 */
  readonly gradTol?: number;
  /**
   * Called after each iteration with the LML and the Euclidean norm of its gradient in the
   * optimiser's variables (log ℓ_d, log outputscale, log noise unless fixed), ‖∇_θ LML‖₂.
   */
  readonly onIteration?: (it: number, lml: number, gradNorm: number) => void;
}

/** Result of {@link fitKron}. */
export interface KronFitResult {
  readonly model: KronModel;
  readonly lml: number;
  readonly iterations: number;
  readonly evaluations: number;
  /** LML after each iteration. */
  readonly history: readonly number[];
}

/** One LML evaluation the optimiser asks for: its value and gradient at a model. */
export interface KronLmlEval {
  readonly lml: number;
  readonly gradient: KronGradient;
}

/** Fits lengthscales, outputscale and (unless fixed) noise by maximising the LML. */
export function fitKron(lin: KronLinalg, m0: KronModel, y: Float64Array, o: KronFitOptions = {}): KronFitResult {
  const steps = fitKronSteps(m0, y.length, o);
  let s = steps.next();
  while (s.done !== true) {
    const r = solveKron(lin, s.value, y, { gradient: true });
    s = steps.next({ lml: r.lml, gradient: r.gradient as KronGradient });
  }
  return s.value;
}

/**
 * The optimiser of {@link fitKron} as a generator, for callers whose LML evaluations are
 * asynchronous (e.g. worker shards): it yields the model to evaluate and is resumed with that
 * model's {@link KronLmlEval}; it returns the fit. `n` is the number of grid points (the
 * objective is −LML/n).
 */
export function* fitKronSteps(m0: KronModel, n: number, o: KronFitOptions = {}): Generator<KronModel, KronFitResult, KronLmlEval> {
  const D = m0.axes.length;
  const fixNoise = o.fixNoise === true;
  // The optimiser's variables θ: [log ℓ_0 … log ℓ_{D−1}, log outputscale, log noise (unless fixed)].
  const at = { outputscale: D, noise: D + 1 } as const;
  const dim = D + (fixNoise ? 1 : 2);
  const toModel = (t: Float64Array): KronModel =>
    withHyper(m0, {
      lengthscales: Array.from(t.subarray(0, D), Math.exp),
      outputscale: Math.exp(t[at.outputscale] as number),
      noise: fixNoise ? m0.noise : Math.exp(t[at.noise] as number),
    });
  let evals = 0;
  function* fg(t: Float64Array): Generator<KronModel, { f: number; g: Float64Array }, KronLmlEval> {
    evals++;
    const m = toModel(t);
    const r = yield m;
    const gr = r.gradient;
    const g = new Float64Array(dim);
    for (let d = 0; d < D; d++) g[d] = (-(gr.lengthscales[d] as number) * (m.kernels[d]?.lengthscale as number)) / n;
    g[at.outputscale] = (-gr.outputscale * m.outputscale) / n;
    if (!fixNoise) g[at.noise] = (-gr.noise * m.noise) / n;
    return { f: -r.lml / n, g };
  }
  const t = new Float64Array(dim);
  m0.kernels.forEach((k, d) => {
    t[d] = Math.log(k.lengthscale);
  });
  t[at.outputscale] = Math.log(m0.outputscale);
  if (!fixNoise) t[at.noise] = Math.log(Math.max(m0.noise, 1e-12));
  const iters = o.iters ?? 50;
  const gradTol = o.gradTol ?? 1e-7;
  const history: number[] = [];
  let cur = yield* fg(t);
  let it = 0;
  if ((o.optimizer ?? 'lbfgs') === 'adam') {
    const lr = o.lr ?? 0.05;
    const mo = new Float64Array(dim);
    const v = new Float64Array(dim);
    for (it = 1; it <= iters; it++) {
      for (let i = 0; i < dim; i++) {
        const g = cur.g[i] as number;
        mo[i] = 0.9 * (mo[i] as number) + 0.1 * g;
        v[i] = 0.999 * (v[i] as number) + 0.001 * g * g;
        const mh = (mo[i] as number) / (1 - 0.9 ** it);
        const vh = (v[i] as number) / (1 - 0.999 ** it);
        t[i] = (t[i] as number) - (lr * mh) / (Math.sqrt(vh) + 1e-12);
      }
      cur = yield* fg(t);
      history.push(-cur.f * n);
      o.onIteration?.(it, -cur.f * n, norm2(cur.g) * n);
    }
    it = iters;
  } else {
    const S: Float64Array[] = [];
    const Y: Float64Array[] = [];
    for (it = 0; it < iters; it++) {
      if (maxAbs(cur.g) < gradTol) break;
      // two-loop recursion
      const q = cur.g.slice();
      const al: number[] = [];
      for (let k = S.length - 1; k >= 0; k--) {
        const rho = 1 / dot(Y[k] as Float64Array, S[k] as Float64Array);
        const a = rho * dot(S[k] as Float64Array, q);
        al[k] = a;
        axpy(-a, Y[k] as Float64Array, q);
      }
      if (S.length > 0) {
        const sl = S[S.length - 1] as Float64Array;
        const yl = Y[Y.length - 1] as Float64Array;
        scale(q, dot(sl, yl) / dot(yl, yl));
      } else {
        scale(q, Math.min(1, 0.5 / Math.max(maxAbs(q), 1e-300)));
      }
      for (let k = 0; k < S.length; k++) {
        const rho = 1 / dot(Y[k] as Float64Array, S[k] as Float64Array);
        const b = rho * dot(Y[k] as Float64Array, q);
        axpy((al[k] as number) - b, S[k] as Float64Array, q);
      }
      const dir = q.map((x) => -x);
      let slope = dot(cur.g, dir);
      if (!(slope < 0)) {
        S.length = 0;
        Y.length = 0;
        for (let i = 0; i < dim; i++) dir[i] = -(cur.g[i] as number);
        slope = dot(cur.g, dir);
      }
      let step = 1;
      let next = cur;
      let tn = t;
      for (let ls = 0; ls < 30; ls++) {
        // cap steps in log space at 2 (a factor e² per iteration)
        const sc = Math.min(step, 2 / Math.max(maxAbs(dir), 1e-300));
        tn = t.map((x, i) => x + sc * (dir[i] as number));
        next = yield* fg(tn);
        if (Number.isFinite(next.f) && next.f <= cur.f + 1e-4 * sc * slope) break;
        step *= 0.5;
      }
      if (!(next.f <= cur.f)) break;
      const s = tn.map((x, i) => x - (t[i] as number));
      const yv = next.g.map((x, i) => x - (cur.g[i] as number));
      if (dot(s, yv) > 1e-12 * dot(yv, yv)) {
        S.push(s);
        Y.push(yv);
        if (S.length > 10) {
          S.shift();
          Y.shift();
        }
      }
      t.set(tn);
      const improve = cur.f - next.f;
      cur = next;
      history.push(-cur.f * n);
      o.onIteration?.(it + 1, -cur.f * n, norm2(cur.g) * n);
      if (improve < 1e-13 * Math.max(1, Math.abs(cur.f))) {
        it++;
        break;
      }
    }
  }
  return { model: toModel(t), lml: -cur.f * n, iterations: it, evaluations: evals, history };
}

function norm2(a: Float64Array): number {
  return Math.sqrt(dot(a, a));
}
function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}
function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + a * (x[i] as number);
}
function scale(x: Float64Array, a: number): void {
  for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) * a;
}
function maxAbs(x: Float64Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] as number));
  return m;
}
