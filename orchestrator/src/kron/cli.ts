/**
 * `gramfleet kron-gp fit|solve|predict|pde`: the Kronecker GP from the command line.
 *
 * - `solve` and `predict` submit a job to the cluster (SDK `submit`) and write α, the
 *   LML and its gradient (and the posterior mean / variance on a test grid) to a `.npz`.
 *   With `--mask` (incomplete grid) the job is a PCG solve on the cluster (worker mat-vecs)
 *   and reports its iterations and final residual.
 * - `fit` optimises the hyperparameters (L-BFGS or Adam on the exact LML) on the cluster:
 *   the loop in the `kronFit` activity, each evaluation a solve on a worker.
 * - `pde` solves Poisson by GP collocation in this process and reports the relative L2 error
 *   against the manufactured solution.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  GramfleetError,
  isGramfleetError,
  POISSON_PROBLEMS,
  compileKronGp,
  factorise,
  predictKron,
  solvePoissonGp,
  withHyper,
  type AxisKernel,
  type KronJobResult,
  type KronLinalg,
  type NdArray,
} from '@gramfleet/core';
import { createJsonLogger, createWasmKronLinalg } from '@gramfleet/workers';
import { readVectorFile, type KronGpJobSpec } from './submit';
import { writeNpz } from '../io/npz';
import { CLUSTER_FLAGS, JSON_FLAG, connectOptionsOf, type CliCommand, type CliContext, type Flags, type ParsedArgs } from '../cli/command';
import { createProgressBar } from '../cli/progress';
import { DETACH_FLAG, outputRecipe, printDetached, type JobCli } from '../cli/detach';
import type { Fleet, JobHandle } from '../client/fleet';
import type { JobOutputRecipe } from '../jobs/types';

function numList(name: string, s: string): number[] {
  return s.split(',').map((x) => {
    const v = Number(x);
    if (x.trim() === '' || Number.isNaN(v))
      throw new GramfleetError('INPUT_INVALID', `--${name} must be comma-separated numbers, got ${JSON.stringify(s)}`, { field: name });
    return v;
  });
}

function gridAxes(name: string, grid: string, bounds: string | undefined): number[][] {
  const ns = numList(name, grid);
  const bs = bounds === undefined ? ns.map(() => [0, 1]) : bounds.split(',').map((b) => numList('bounds', b.replace(':', ',')));
  if (bs.length !== ns.length) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `--bounds must have ${ns.length} entries a:b`, { field: 'bounds' });
  return ns.map((n, d) => {
    if (!Number.isInteger(n) || n < 1)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `--${name}[${d}] must be an integer >= 1, got ${n}`, { field: `${name}[${d}]`, bound: '>= 1' });
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
  if (!Array.isArray(v) || !v.every((a) => Array.isArray(a)))
    throw new GramfleetError('INPUT_INVALID', `--${field} ${file} must hold a JSON array of arrays of numbers`, { field });
  return v as number[][];
}

function f64(shape: readonly number[], data: Float64Array | number[]): NdArray {
  return { dtype: 'f64', shape: [...shape], data: data instanceof Float64Array ? data : Float64Array.from(data) };
}

let cachedLin: KronLinalg | undefined;
function wasmLinalg(): KronLinalg {
  cachedLin ??= createWasmKronLinalg();
  return cachedLin;
}

/** `kron-gp pde`: Poisson by GP collocation in this process. */
async function pdeCommand(v: ParsedArgs, ctx: CliContext): Promise<number> {
  const json = v.flag('json');
  const say = (human: string, obj: Record<string, unknown>): void => {
    ctx.out.write(json ? JSON.stringify(obj) + '\n' : human + '\n');
  };
  const name = v.string('problem') ?? 'gphm';
  const problem = POISSON_PROBLEMS[name];
  if (problem === undefined)
    throw new GramfleetError('INPUT_INVALID', `--problem must be one of ${Object.keys(POISSON_PROBLEMS).join('|')}, got ${JSON.stringify(name)}`, {
      field: 'problem',
    });
  const grid = v.string('grid');
  const n = grid === undefined ? [100, 100] : numList('grid', grid);
  const l = v.number('lengthscale') ?? 0.02;
  const k: AxisKernel = { kind: 'rbf', lengthscale: l };
  const t0 = Date.now();
  const r = solvePoissonGp(wasmLinalg(), problem, { n, kernels: n.map(() => k) });
  const outFile = v.string('out');
  if (outFile !== undefined) await writeNpz(outFile, { u: f64(r.shape, r.u), rel_l2: f64([], [r.relL2]) });
  say(
    `Poisson (${problem.name}) on ${n.join('×')} by GP collocation (rbf ℓ=${l}): relative L2 error ${r.relL2.toExponential(3)}, max ${r.relMax.toExponential(3)}, ${Date.now() - t0} ms`,
    { problem: problem.name, grid: n, lengthscale: l, relL2: r.relL2, relMax: r.relMax, ms: Date.now() - t0 },
  );
  return v.flag('solution-check') && !(r.relL2 <= 1e-2) ? 1 : 0;
}

/**
 * What a Kronecker GP job's output recipe records: what the `.npz` is made of beside the job's
 * result (the grid and kernel of the model, the test grid of the posterior, whether the variance
 * is wanted), so that `gramfleet jobs result` writes the same file from any machine.
 */
interface KronRecipeOptions {
  readonly sub: 'fit' | 'solve' | 'predict';
  readonly axes: number[][];
  readonly kernel: string;
  readonly lengthscales?: number[];
  readonly outputscale?: number;
  readonly noise?: number;
  readonly testAxes?: number[][];
  readonly variance: boolean;
  readonly masked: boolean;
}

function kronOptions(recipe: JobOutputRecipe): KronRecipeOptions | undefined {
  const o = recipe.options as Partial<KronRecipeOptions>;
  return Array.isArray(o.axes) && typeof o.kernel === 'string' && typeof o.sub === 'string' ? (o as KronRecipeOptions) : undefined;
}

/**
 * Writes α, the LML and its gradient (and the posterior mean / variance on the test grid,
 * computed here) to the recipe's `.npz` and prints the summary (`gramfleet kron-gp fit|solve|predict`
 * and `gramfleet jobs result`).
 */
async function writeKron(fleet: Fleet, h: JobHandle, r: KronJobResult, recipe: JobOutputRecipe, ctx: CliContext, json: boolean): Promise<number> {
  const o = kronOptions(recipe);
  if (o === undefined)
    throw new GramfleetError(
      'INPUT_INVALID',
      `kron-gp job ${h.jobId} was submitted without its grid recorded (not by 'gramfleet kron-gp'): its .npz cannot be written here; 'gramfleet jobs result ${h.jobId} --json' prints its result`,
      { field: 'jobId', jobId: h.jobId },
    );
  if (o.variance && o.masked && o.testAxes !== undefined)
    throw new GramfleetError('INPUT_INVALID', 'variance: the posterior variance needs a full grid (eigen route), not a mask', { field: 'variance' });
  const n = o.axes.reduce((a, x) => a * x.length, 1);
  // The model is the grid, the kernel and the fitted hyperparameters; y is in the job, not needed here.
  const compiled = compileKronGp({
    axes: o.axes,
    y: new Float64Array(n),
    kernel: o.kernel,
    ...(o.lengthscales !== undefined ? { lengthscales: o.lengthscales } : {}),
    ...(o.outputscale !== undefined ? { outputscale: o.outputscale } : {}),
    ...(o.noise !== undefined ? { noise: o.noise } : {}),
  });
  const out: Record<string, NdArray> = {};
  const summary: Record<string, unknown> = { n: compiled.n, shape: compiled.shape };
  const c = r.candidates[0] as KronJobResult['candidates'][number];
  const model = withHyper(compiled.model, c.hyper);
  const alpha = (await fleet.getArray(c.alpha)).data as Float64Array;
  if (r.cg === undefined) {
    out['lml'] = f64([], [c.lml]);
    out['logdet'] = f64([], [c.logdet]);
  }
  if (c.gradient !== undefined) {
    out['grad_lengthscales'] = f64([c.gradient.lengthscales.length], [...c.gradient.lengthscales]);
    out['grad_outputscale'] = f64([], [c.gradient.outputscale]);
    out['grad_noise'] = f64([], [c.gradient.noise]);
  }
  Object.assign(summary, {
    jobId: r.jobId,
    route: r.route,
    shards: r.shards,
    bytesMoved: r.bytesMoved,
    workers: Object.keys(r.workers).length,
    backends: r.backends,
  });
  if (r.cg !== undefined)
    Object.assign(summary, {
      solver: 'pcg',
      iterations: r.cg.iterations,
      residual: r.cg.residual,
      converged: r.cg.converged,
      observed: r.cg.observed,
      rounds: r.cg.rounds,
    });
  else Object.assign(summary, { lml: c.lml, logdet: c.logdet, gradient: c.gradient });
  if (r.fit !== undefined) {
    Object.assign(summary, { optimizer: r.fit.optimizer, iterations: r.fit.iterations, evaluations: r.fit.evaluations, fittedLml: c.lml });
    out['lml_history'] = f64([r.fit.history.length], [...r.fit.history]);
  }
  out['lengthscales'] = f64(
    [model.kernels.length],
    model.kernels.map((k) => k.lengthscale),
  );
  out['outputscale'] = f64([], [model.outputscale]);
  out['noise'] = f64([], [model.noise]);
  out['alpha'] = f64(compiled.shape, alpha);
  if (o.testAxes !== undefined) {
    const t = o.testAxes.map((a) => Float64Array.from(a));
    const pr = predictKron(wasmLinalg(), model, { alpha, factors: o.variance ? factorise(wasmLinalg(), model) : [] }, t, { variance: o.variance });
    out['mean'] = f64(pr.shape, pr.mean);
    if (pr.variance !== undefined) out['variance'] = f64(pr.shape, pr.variance);
  }
  await writeNpz(recipe.out, out);
  summary['out'] = recipe.out;
  ctx.out.write(
    json
      ? JSON.stringify(summary) + '\n'
      : `kron-gp ${o.sub}: N=${compiled.n} (${compiled.shape.join('×')})${summary['lml'] !== undefined ? `, LML ${String(summary['lml'])}` : ''}${summary['iterations'] !== undefined ? `, ${String(summary['iterations'])} iterations` : ''}; wrote ${recipe.out}\n`,
  );
  return 0;
}

/** Kronecker GP jobs on the command line: the shards bar and the `.npz` of `gramfleet kron-gp fit|solve|predict`. */
export const KRON_JOB_CLI: JobCli = {
  kind: 'kron-gp',
  async watch(h, _ctx, json) {
    const bar = json ? undefined : createProgressBar(`kron-gp ${h.jobId}`);
    const r = await (h as JobHandle<'kron-gp'>).watch((p) => bar?.update(p.shardsDone, p.shardsTotal, p.stage));
    bar?.finish('done');
    return r;
  },
  write: (fleet, h, result, recipe, ctx, json) => writeKron(fleet, h, result as KronJobResult, recipe, ctx, json),
  defaultRecipe: (out) => outputRecipe('kron-gp', out),
  needsRecipe: true,
};

/** `kron-gp fit|solve|predict`: a job on the cluster, the answer written to a `.npz`. */
async function clusterCommand(sub: 'fit' | 'solve' | 'predict', v: ParsedArgs, ctx: CliContext): Promise<number> {
  const json = v.flag('json');
  const values = {
    axes: v.string('axes'),
    grid: v.string('grid'),
    bounds: v.string('bounds'),
    y: v.need('y'),
    mask: v.string('mask'),
    kernel: v.string('kernel'),
    lengthscales: v.string('lengthscales'),
    outputscale: v.string('outputscale'),
    noise: v.string('noise'),
    slabs: v.string('slabs'),
    'test-axes': v.string('test-axes'),
    'test-grid': v.string('test-grid'),
    variance: v.flag('variance'),
    out: v.need('out'),
    'data-dir': v.string('data-dir'),
    optimizer: sub === 'fit' ? v.string('optimizer') : undefined,
    iters: sub === 'fit' ? v.string('iters') : undefined,
  };
  const axes =
    values.axes !== undefined
      ? readAxesJson(values.axes, 'axes')
      : values.grid !== undefined
        ? gridAxes('grid', values.grid, values.bounds)
        : (() => {
            throw new GramfleetError('INPUT_INVALID', '--axes or --grid is required', { field: 'axes' });
          })();
  const y = await readVectorFile(values.y, 'y', '--y');
  const mask = values.mask === undefined ? undefined : Uint8Array.from(await readVectorFile(values.mask, 'mask', '--mask'));
  const kernel = values.kernel ?? 'rbf';
  const hyper = {
    ...(values.lengthscales !== undefined ? { lengthscales: numList('lengthscales', values.lengthscales) } : {}),
    ...(values.outputscale !== undefined ? { outputscale: Number(values.outputscale) } : {}),
    ...(values.noise !== undefined ? { noise: Number(values.noise) } : {}),
  };
  const base = { axes, y, kernel, ...hyper };
  const testAxes =
    values['test-axes'] !== undefined
      ? readAxesJson(values['test-axes'], 'test-axes')
      : values['test-grid'] !== undefined
        ? gridAxes('test-grid', values['test-grid'], values.bounds)
        : undefined;
  if (sub === 'predict' && testAxes === undefined)
    throw new GramfleetError('INPUT_INVALID', '--test-axes or --test-grid is required for predict', { field: 'test-axes' });
  const compiled = compileKronGp({ ...base, ...(mask !== undefined ? { mask } : {}) });
  const model = compiled.model;
  let fitSpec: KronGpJobSpec['fit'];
  if (sub === 'fit') {
    if (mask !== undefined)
      throw new GramfleetError('INPUT_INVALID', 'mask: fit needs a full grid (the exact LML); solve/predict take a mask', { field: 'mask' });
    const optimizer =
      values.optimizer === 'adam'
        ? 'adam'
        : values.optimizer === 'lbfgs'
          ? 'lbfgs'
          : (() => {
              throw new GramfleetError('INPUT_INVALID', `--optimizer must be lbfgs|adam, got ${JSON.stringify(values.optimizer)}`, { field: 'optimizer' });
            })();
    fitSpec = { optimizer, iters: Number(values.iters ?? '50') };
  }
  if (values.variance && testAxes !== undefined && mask !== undefined)
    throw new GramfleetError('INPUT_INVALID', 'variance: the posterior variance needs a full grid (eigen route), not a mask', { field: 'variance' });
  const options: KronRecipeOptions = {
    sub,
    axes,
    kernel,
    ...hyper,
    ...(testAxes !== undefined ? { testAxes } : {}),
    variance: values.variance,
    masked: mask !== undefined,
  };
  // The recipe carries the grids; a grid too large for a job's memo is still run in the foreground, without one.
  let recipe: JobOutputRecipe | undefined;
  try {
    recipe = outputRecipe('kron-gp', values.out, options as unknown as Record<string, unknown>);
  } catch (e) {
    if (v.flag('detach') || !isGramfleetError(e) || e.code !== 'INPUT_TOO_LARGE') throw e;
  }
  const h0 = { lengthscales: model.kernels.map((k) => k.lengthscale), outputscale: model.outputscale, noise: model.noise };
  return ctx.withFleet({ ...connectOptionsOf(v), log: createJsonLogger({ proc: 'cli' }, 'warn') }, async (fleet) => {
    const spec: KronGpJobSpec = {
      kind: 'kron-gp',
      ...base,
      ...h0,
      ...(values.slabs !== undefined ? { slabs: Number(values.slabs) } : {}),
      ...(mask !== undefined ? { mask } : {}),
      ...(fitSpec !== undefined ? { fit: fitSpec } : {}),
    };
    const h = await fleet.submit(spec, recipe !== undefined ? { output: recipe } : {});
    if (v.flag('detach')) return printDetached(ctx, h, json);
    const r = (await KRON_JOB_CLI.watch(h as unknown as JobHandle, ctx, json)) as KronJobResult;
    return writeKron(
      fleet,
      h as unknown as JobHandle,
      r,
      recipe ?? { command: 'kron-gp', out: path.resolve(values.out), options: options as unknown as Record<string, unknown> },
      ctx,
      json,
    );
  });
}

/** Flags of `kron-gp fit|solve|predict`. */
function clusterFlags(sub: 'fit' | 'solve' | 'predict'): Flags {
  return {
    axes: { type: 'string', value: 'axes.json', description: 'grid points per axis, a JSON array of arrays (or give --grid)' },
    grid: { type: 'string', value: 'n1,n2,...', description: 'an evenly spaced grid with these points per axis' },
    bounds: { type: 'string', value: 'a:b,...', description: 'bounds of --grid / --test-grid per axis (default 0:1)' },
    y: { type: 'string', value: 'y.npy', required: true, description: 'observations on the grid, row-major' },
    mask: { type: 'string', value: 'mask.npy', description: '1 = observed, 0 = missing (PCG on the cluster; not with fit)' },
    kernel: { type: 'string', value: 'KIND', default: 'rbf', description: 'rbf|matern12|matern32|matern52|periodic|spectral-mixture:Q' },
    lengthscales: { type: 'string', value: 'l1,...', description: 'one lengthscale or one per axis (default range/4)' },
    outputscale: { type: 'string', value: 's', description: 'output scale (default 1)' },
    noise: { type: 'string', value: 's2', description: 'noise variance (default 0.01)' },
    ...(sub === 'fit'
      ? ({
          optimizer: { type: 'string', value: 'lbfgs|adam', default: 'lbfgs', description: 'the optimiser of the LML' },
          iters: { type: 'string', value: 'K', default: '50', description: 'optimiser iterations' },
        } as const)
      : {}),
    slabs: { type: 'string', value: 'P', description: 'slabs along axis 0 (slab route when > 1)' },
    'test-axes': {
      type: 'string',
      value: 'test.json',
      description: `test grid points per axis, for the posterior mean${sub === 'predict' ? ' (this or --test-grid is required)' : ''}`,
    },
    'test-grid': { type: 'string', value: 'm1,m2,...', description: 'an evenly spaced test grid' },
    variance: { type: 'boolean', description: 'also the posterior variance at the test points (full grid only)' },
    out: { type: 'string', value: 'result.npz', required: true, description: 'where α, the LML, its gradient (and mean, variance) are written' },
    json: JSON_FLAG,
    detach: DETACH_FLAG,
    ...CLUSTER_FLAGS,
  };
}

const GRID_NOTE = 'The grid comes from --axes or from --grid (with --bounds).';

/** `gramfleet kron-gp`. */
export const KRON_GP_COMMAND: CliCommand = {
  name: 'kron-gp',
  summary: 'Gaussian processes on grids with Kronecker kernels: fit, solve, predict on the cluster; pde in this process',
  subcommands: [
    {
      name: 'fit',
      summary: 'fit the hyperparameters on the cluster (L-BFGS or Adam on the exact LML), write the fitted model',
      flags: clusterFlags('fit'),
      notes: GRID_NOTE,
      run: (a, ctx) => clusterCommand('fit', a, ctx),
    },
    {
      name: 'solve',
      summary: 'α, the LML and its gradient on the cluster (PCG with --mask)',
      flags: clusterFlags('solve'),
      notes: GRID_NOTE,
      run: (a, ctx) => clusterCommand('solve', a, ctx),
    },
    {
      name: 'predict',
      summary: 'solve on the cluster, then the posterior mean (and variance) on a test grid',
      flags: clusterFlags('predict'),
      notes: GRID_NOTE,
      run: (a, ctx) => clusterCommand('predict', a, ctx),
    },
    {
      name: 'pde',
      summary: 'solve Poisson by GP collocation in this process and report the error against the known solution',
      flags: {
        problem: { type: 'string', value: Object.keys(POISSON_PROBLEMS).join('|'), default: 'gphm', description: 'the manufactured problem' },
        grid: { type: 'string', value: 'n1,n2', description: 'collocation grid (default 100,100)' },
        lengthscale: { type: 'string', value: 'l', description: 'rbf lengthscale (default 0.02)' },
        'solution-check': { type: 'boolean', description: 'exit 1 when the relative L2 error is above 1e-2' },
        out: { type: 'string', value: 'u.npz', description: 'where the solution u is written' },
        json: JSON_FLAG,
      },
      run: pdeCommand,
    },
  ],
};
