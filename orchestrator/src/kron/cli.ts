/**
 * `gramfleet kron-gp fit|solve|predict|pde`: the Kronecker GP from the command line.
 *
 * - `solve` and `predict` submit a job to the cluster (SDK `submitKron`) and write α, the
 *   LML and its gradient (and the posterior mean / variance on a test grid) to a `.npz`.
 *   With `--mask` (incomplete grid) the job is a PCG solve on the cluster (worker mat-vecs)
 *   and reports its iterations and final residual.
 * - `fit` optimises the hyperparameters (L-BFGS or Adam on the exact LML) on the cluster:
 *   the loop in the `kronFit` activity, each evaluation a solve on a worker.
 * - `pde` solves Poisson by GP collocation in this process and reports the relative L2 error
 *   against the manufactured solution.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import {
  GramfleetError, POISSON_PROBLEMS, compileKronGp, factorise, predictKron, solvePoissonGp, withHyper,
  type AxisKernel, type KronJobResult, type KronLinalg, type NdArray,
} from '@gramfleet/core';
import { createJsonLogger, createWasmKronLinalg } from '@gramfleet/workers';
import { connect } from '../client/sdk';
import type { KronGpJobSpec } from './submit';
import { isStringArray, readNpy, writeNpz } from '../io/npz';
import { createProgressBar } from '../cli/progress';

/** Usage lines of `kron-gp` (appended to the CLI's usage). */
export const KRON_USAGE = `  gramfleet kron-gp fit|solve|predict (--axes axes.json | --grid n1,n2,... [--bounds a:b,...]) --y y.npy
                [--mask mask.npy] --kernel rbf|matern12|matern32|matern52|periodic|spectral-mixture:Q [--lengthscales l1,...]
                [--outputscale s] [--noise s2] [--optimizer lbfgs|adam --iters K] [--slabs P]
                [--test-axes test.json | --test-grid m1,m2,...] [--variance] --out result.npz [--json]
  gramfleet kron-gp pde --problem gphm|sine --grid n1,n2 [--lengthscale l] [--solution-check] [--out u.npz] [--json]`;

function numList(name: string, s: string): number[] {
  return s.split(',').map((x) => {
    const v = Number(x);
    if (x.trim() === '' || Number.isNaN(v)) throw new GramfleetError('INPUT_INVALID', `--${name} must be comma-separated numbers, got ${JSON.stringify(s)}`, { field: name });
    return v;
  });
}

function gridAxes(name: string, grid: string, bounds: string | undefined): number[][] {
  const ns = numList(name, grid);
  const bs = bounds === undefined ? ns.map(() => [0, 1]) : bounds.split(',').map((b) => numList('bounds', b.replace(':', ',')));
  if (bs.length !== ns.length) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `--bounds must have ${ns.length} entries a:b`, { field: 'bounds' });
  return ns.map((n, d) => {
    if (!Number.isInteger(n) || n < 1) throw new GramfleetError('INPUT_OUT_OF_RANGE', `--${name}[${d}] must be an integer >= 1, got ${n}`, { field: `${name}[${d}]`, bound: '>= 1' });
    const [a, b] = bs[d] as number[];
    return Array.from({ length: n }, (_, i) => (n === 1 ? (a as number) : (a as number) + (((b as number) - (a as number)) * i) / (n - 1)));
  });
}

function readAxesJson(file: string, field: string): number[][] {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `--${field} ${file}: ${(e as Error).message}`, { field, path: file });
  }
  if (!Array.isArray(v) || !v.every((a) => Array.isArray(a))) throw new GramfleetError('INPUT_INVALID', `--${field} ${file} must hold a JSON array of arrays of numbers`, { field });
  return v as number[][];
}

async function readVector(file: string, field: string): Promise<Float64Array> {
  let a;
  try {
    a = await readNpy(file);
  } catch (e) {
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `--${field} ${file}: ${(e as Error).message}`, { field, path: file });
  }
  if (isStringArray(a)) throw new GramfleetError('INPUT_INVALID', `--${field} ${file} must hold numbers`, { field });
  return Float64Array.from(a.data as ArrayLike<number>);
}

function f64(shape: readonly number[], data: Float64Array | number[]): NdArray {
  return { dtype: 'f64', shape: [...shape], data: data instanceof Float64Array ? data : Float64Array.from(data) };
}

let cachedLin: KronLinalg | undefined;
function wasmLinalg(): KronLinalg {
  cachedLin ??= createWasmKronLinalg();
  return cachedLin;
}

/** Runs `kron-gp <sub> ...`; returns the exit code. */
export async function kronGpCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      axes: { type: 'string' }, grid: { type: 'string' }, bounds: { type: 'string' }, y: { type: 'string' }, mask: { type: 'string' },
      kernel: { type: 'string', default: 'rbf' }, lengthscales: { type: 'string' }, outputscale: { type: 'string' }, noise: { type: 'string' },
      optimizer: { type: 'string', default: 'lbfgs' }, iters: { type: 'string', default: '50' }, slabs: { type: 'string' },
      'test-axes': { type: 'string' }, 'test-grid': { type: 'string' }, variance: { type: 'boolean' }, out: { type: 'string' }, json: { type: 'boolean' },
      'data-dir': { type: 'string' }, problem: { type: 'string', default: 'gphm' }, lengthscale: { type: 'string' }, 'solution-check': { type: 'boolean' },
    },
  });
  const say = (human: string, obj: Record<string, unknown>): void => {
    process.stdout.write(values.json === true ? JSON.stringify(obj) + '\n' : human + '\n');
  };
  if (sub === 'pde') {
    const problem = POISSON_PROBLEMS[values.problem ?? 'gphm'];
    if (problem === undefined) throw new GramfleetError('INPUT_INVALID', `--problem must be one of ${Object.keys(POISSON_PROBLEMS).join('|')}, got ${JSON.stringify(values.problem)}`, { field: 'problem' });
    const n = values.grid === undefined ? [100, 100] : numList('grid', values.grid);
    const l = values.lengthscale === undefined ? 0.02 : Number(values.lengthscale);
    const k: AxisKernel = { kind: 'rbf', lengthscale: l };
    const t0 = Date.now();
    const r = solvePoissonGp(wasmLinalg(), problem, { n, kernels: n.map(() => k) });
    if (values.out !== undefined) await writeNpz(values.out, { u: f64(r.shape, r.u), rel_l2: f64([], [r.relL2]) });
    say(`Poisson (${problem.name}) on ${n.join('×')} by GP collocation (rbf ℓ=${l}): relative L2 error ${r.relL2.toExponential(3)}, max ${r.relMax.toExponential(3)}, ${Date.now() - t0} ms`, { problem: problem.name, grid: n, lengthscale: l, relL2: r.relL2, relMax: r.relMax, ms: Date.now() - t0 });
    return values['solution-check'] === true && !(r.relL2 <= 1e-2) ? 1 : 0;
  }
  if (sub !== 'fit' && sub !== 'solve' && sub !== 'predict') throw new GramfleetError('INPUT_INVALID', `kron-gp needs fit|solve|predict|pde, got ${JSON.stringify(sub)}`, { field: 'subcommand' });
  if (values.y === undefined) throw new GramfleetError('INPUT_INVALID', '--y is required', { field: 'y' });
  if (values.out === undefined) throw new GramfleetError('INPUT_INVALID', '--out is required', { field: 'out' });
  const axes = values.axes !== undefined ? readAxesJson(values.axes, 'axes') : values.grid !== undefined ? gridAxes('grid', values.grid, values.bounds) : (() => { throw new GramfleetError('INPUT_INVALID', '--axes or --grid is required', { field: 'axes' }); })();
  const y = await readVector(values.y, 'y');
  const mask = values.mask === undefined ? undefined : Uint8Array.from(await readVector(values.mask, 'mask'));
  const kernel = values.kernel ?? 'rbf';
  const base = {
    axes, y, kernel,
    ...(values.lengthscales !== undefined ? { lengthscales: numList('lengthscales', values.lengthscales) } : {}),
    ...(values.outputscale !== undefined ? { outputscale: Number(values.outputscale) } : {}),
    ...(values.noise !== undefined ? { noise: Number(values.noise) } : {}),
  };
  const testAxes = values['test-axes'] !== undefined ? readAxesJson(values['test-axes'], 'test-axes') : values['test-grid'] !== undefined ? gridAxes('test-grid', values['test-grid'], values.bounds) : undefined;
  if (sub === 'predict' && testAxes === undefined) throw new GramfleetError('INPUT_INVALID', '--test-axes or --test-grid is required for predict', { field: 'test-axes' });
  const compiled = compileKronGp({ ...base, ...(mask !== undefined ? { mask } : {}) });
  const out: Record<string, NdArray> = {};
  const summary: Record<string, unknown> = { n: compiled.n, shape: compiled.shape };
  let model = compiled.model;
  let fitSpec: KronGpJobSpec['fit'];
  if (sub === 'fit') {
    if (mask !== undefined) throw new GramfleetError('INPUT_INVALID', 'mask: fit needs a full grid (the exact LML); solve/predict take a mask', { field: 'mask' });
    const optimizer = values.optimizer === 'adam' ? 'adam' : values.optimizer === 'lbfgs' ? 'lbfgs' : (() => { throw new GramfleetError('INPUT_INVALID', `--optimizer must be lbfgs|adam, got ${JSON.stringify(values.optimizer)}`, { field: 'optimizer' }); })();
    fitSpec = { optimizer, iters: Number(values.iters ?? '50') };
  }
  const h0 = { lengthscales: model.kernels.map((k) => k.lengthscale), outputscale: model.outputscale, noise: model.noise };
  let alpha: Float64Array;
  const fleet = await connect({ ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}), log: createJsonLogger({ proc: 'cli' }, 'warn') });
  try {
    const spec: KronGpJobSpec = {
      kind: 'kron-gp', ...base, ...h0, ...(values.slabs !== undefined ? { slabs: Number(values.slabs) } : {}),
      ...(mask !== undefined ? { mask } : {}), ...(fitSpec !== undefined ? { fit: fitSpec } : {}),
    };
    const h = await fleet.submit(spec);
    const bar = values.json === true ? undefined : createProgressBar(`kron-gp ${h.jobId}`);
    let done = false;
    const poll = (async () => {
      while (!done) {
        const p = await h.progress().catch(() => undefined);
        if (p !== undefined) bar?.update(p.shardsDone, p.shardsTotal, p.stage);
        await new Promise((res) => setTimeout(res, 250));
      }
    })();
    let r: KronJobResult;
    try {
      r = await h.result();
    } finally {
      done = true;
      await poll;
    }
    bar?.finish('done');
    const c = r.candidates[0] as KronJobResult['candidates'][number];
    model = withHyper(model, c.hyper);
    alpha = (await fleet.getArray(c.alpha)).data as Float64Array;
    if (r.cg === undefined) {
      out['lml'] = f64([], [c.lml]);
      out['logdet'] = f64([], [c.logdet]);
    }
    if (c.gradient !== undefined) {
      out['grad_lengthscales'] = f64([c.gradient.lengthscales.length], [...c.gradient.lengthscales]);
      out['grad_outputscale'] = f64([], [c.gradient.outputscale]);
      out['grad_noise'] = f64([], [c.gradient.noise]);
    }
    Object.assign(summary, { jobId: r.jobId, route: r.route, shards: r.shards, bytesMoved: r.bytesMoved, workers: Object.keys(r.workers).length, backends: r.backends });
    if (r.cg !== undefined) Object.assign(summary, { solver: 'pcg', iterations: r.cg.iterations, residual: r.cg.residual, converged: r.cg.converged, observed: r.cg.observed, rounds: r.cg.rounds });
    else Object.assign(summary, { lml: c.lml, logdet: c.logdet, gradient: c.gradient });
    if (r.fit !== undefined) {
      Object.assign(summary, { optimizer: r.fit.optimizer, iterations: r.fit.iterations, evaluations: r.fit.evaluations, fittedLml: c.lml });
      out['lml_history'] = f64([r.fit.history.length], [...r.fit.history]);
    }
  } finally {
    await fleet.close();
  }
  out['lengthscales'] = f64([model.kernels.length], model.kernels.map((k) => k.lengthscale));
  out['outputscale'] = f64([], [model.outputscale]);
  out['noise'] = f64([], [model.noise]);
  out['alpha'] = f64(compiled.shape, alpha);
  if (testAxes !== undefined) {
    const t = testAxes.map((a) => Float64Array.from(a));
    const variance = values.variance === true;
    if (variance && mask !== undefined) throw new GramfleetError('INPUT_INVALID', 'variance: the posterior variance needs a full grid (eigen route), not a mask', { field: 'variance' });
    const pr = predictKron(wasmLinalg(), model, { alpha, factors: variance ? factorise(wasmLinalg(), model) : [] }, t, { variance });
    out['mean'] = f64(pr.shape, pr.mean);
    if (pr.variance !== undefined) out['variance'] = f64(pr.shape, pr.variance);
  }
  await writeNpz(values.out, out);
  summary['out'] = values.out;
  say(`kron-gp ${sub}: N=${compiled.n} (${compiled.shape.join('×')})${summary['lml'] !== undefined ? `, LML ${String(summary['lml'])}` : ''}${summary['iterations'] !== undefined ? `, ${String(summary['iterations'])} iterations` : ''}; wrote ${values.out}`, summary);
  return 0;
}
