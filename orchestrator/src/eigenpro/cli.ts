/**
 * `gramfleet eigenpro …` (train through the cluster, per-epoch progress lines, write
 * model.npz) and `gramfleet predict --model model.npz --x X --out yhat.npy` (predict with a
 * written model, in this process with the wasm kernel-block-matmul kernel).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  EIGENPRO_KERNELS,
  EIGENPRO_PROJECTIONS,
  EIGENPRO_TASKS,
  GramfleetError,
  KERNEL_FUNCTIONS,
  expandFeatureBytes,
  kernelBlockMatmulOp,
  type EigenProJobResult,
  type EigenProProgressEvent,
  type KernelFunction,
  type NdArray,
} from '@gramfleet/core';
import { WasmArena, createJsonLogger, createKernelBlockMatmulKernel } from '@gramfleet/workers';
import { kernelsWasmPath } from '@gramfleet/wasm';
import { CLUSTER_FLAGS, JSON_FLAG, connectOptionsOf, type CliCommand, type CliContext, type Flags, type ParsedArgs } from '../cli/command';
import { readNpz, writeNpy, writeNpz, isStringArray } from '../io/npz';
import { loadRows } from './data-files';
import type { Fleet, JobHandle } from '../client/fleet';
import type { JobOutputRecipe } from '../jobs/types';
import { DETACH_FLAG, outputRecipe, printDetached, type JobCli } from '../cli/detach';
import type { EigenProJobSpec } from './submit';

function fmtEvent(e: EigenProProgressEvent): string | undefined {
  switch (e.kind) {
    case 'setup': {
      const s = e.setup;
      return `setup: s=${s.s} q=${s.q}${s.given.q ? ' (given)' : ''} batch=${s.batch}${s.given.batch ? ' (given)' : ''} step=${s.step.toPrecision(4)}${s.given.step ? ' (given)' : ''} λ1=${(s.topEigenvalues[0] ?? 0).toPrecision(4)} λq=${s.lambdaQ.toPrecision(4)}, ${e.batchesPerEpoch} batches/epoch${e.projection === undefined ? '' : `\nprojection: ${e.projection.projection} on ${e.projection.centers} centers (${e.projection.reason}), solver ${e.projection.solver}${e.projection.jitter !== undefined ? ` jitter ${e.projection.jitter}` : ''}${e.projection.interval > 1 ? `, every ${e.projection.interval} batches` : ''}`}`;
    }
    case 'epoch': {
      const parts = [`epoch ${e.epoch}/${e.epochs}`];
      if (e.trainAccuracy !== undefined) parts.push(`train acc ${(100 * e.trainAccuracy).toFixed(2)}%`);
      parts.push(`train mse ${e.trainMse.toPrecision(4)}`);
      if (e.testAccuracy !== undefined) parts.push(`test acc ${(100 * e.testAccuracy).toFixed(2)}%`);
      if (e.testMse !== undefined) parts.push(`test mse ${e.testMse.toPrecision(4)}`);
      parts.push(`${(e.elapsedMs / 1000).toFixed(1)} s`);
      return parts.join('  ');
    }
    case 'resumed':
      return `resumed from checkpoint at epoch ${e.epoch}, batch ${e.batch} (attempt ${e.attempt})`;
    default:
      return undefined;
  }
}

/** Runs `gramfleet eigenpro`. */
async function trainCommand(v: ParsedArgs, ctx: CliContext): Promise<number> {
  const out = v.need('out');
  type NumKey = 'epochs' | 'batchSize' | 'stepSize' | 'q' | 'subsampleSize' | 'seed' | 'shards';
  const opt = (name: string, key: NumKey): Partial<Record<NumKey, number>> => {
    const x = v.number(name);
    return x === undefined ? {} : { [key]: x };
  };
  const test = v.string('test');
  const testLabels = v.string('test-labels');
  const accumulate = v.string('accumulate');
  const task = v.string('task');
  const projection = v.string('projection');
  const centers = v.number('centers');
  const centersFile = v.string('centers-file');
  const projectionInterval = v.number('projection-interval');
  const spec: EigenProJobSpec = {
    kind: 'eigenpro',
    train: v.need('train'),
    trainLabels: v.need('train-labels'),
    ...(test !== undefined ? { test } : {}),
    ...(testLabels !== undefined ? { testLabels } : {}),
    kernel: (v.string('kernel') ?? 'laplacian') as EigenProJobSpec['kernel'],
    bandwidth: v.number('bandwidth') as number,
    ...opt('epochs', 'epochs'),
    ...opt('batch', 'batchSize'),
    ...opt('step', 'stepSize'),
    ...opt('q', 'q'),
    ...opt('subsample', 'subsampleSize'),
    ...opt('seed', 'seed'),
    ...opt('shards', 'shards'),
    ...(v.flag('f32') ? { featureDtype: 'f32' as const } : {}),
    ...(accumulate !== undefined ? { accumulate: accumulate as 'f64' | 'f32' } : {}),
    ...(task !== undefined ? { task: task as NonNullable<EigenProJobSpec['task']> } : {}),
    ...(projection !== undefined ? { projection: projection as NonNullable<EigenProJobSpec['projection']> } : {}),
    ...(centers !== undefined ? { centers } : {}),
    ...(centersFile !== undefined ? { centersFile } : {}),
    ...(projectionInterval !== undefined ? { projectionInterval } : {}),
  };
  const workers = v.number('workers');
  const recipe = outputRecipe('eigenpro', out);
  return ctx.withFleet(
    {
      ...connectOptionsOf(v),
      ...(workers !== undefined ? { workers } : {}),
      log: createJsonLogger({ proc: 'cli' }, 'warn'),
    },
    async (fleet) => {
      const t0 = Date.now();
      const json = v.flag('json');
      const h = await fleet.submit(spec, { output: recipe });
      if (v.flag('detach')) return printDetached(ctx, h, json);
      const r = (await EIGENPRO_JOB_CLI.watch(h as unknown as JobHandle, ctx, json)) as EigenProJobResult;
      return writeEigenPro(fleet, r, recipe, ctx, json, t0);
    },
  );
}

/** Writes the model `.npz` as the recipe says and prints the summary (`gramfleet eigenpro` and `gramfleet jobs result`). */
async function writeEigenPro(fleet: Fleet, r: EigenProJobResult, recipe: JobOutputRecipe, ctx: CliContext, json: boolean, t0: number): Promise<number> {
  const out = recipe.out;
  const coef = await fleet.getArray(r.coefficients);
  const stored = await fleet.getArray(r.centers);
  // Centers stored as bytes (image features) are written as the f64 features they stand for.
  const centers = r.centersScale !== undefined ? { dtype: 'f64' as const, shape: stored.shape, data: expandFeatureBytes(stored.data, r.centersScale) } : stored;
  await writeNpz(out, {
    coefficients: coef,
    centers,
    kernel: { dtype: 'unicode', itemSize: 16, shape: [], data: [r.kernel] },
    bandwidth: { dtype: 'f64', shape: [], data: Float64Array.of(r.bandwidth) },
    task: { dtype: 'unicode', itemSize: 16, shape: [], data: [r.task] },
    centers_digest: { dtype: 'unicode', itemSize: 64, shape: [], data: [r.centers.digest] },
  });
  const last = r.history[r.history.length - 1];
  const summary = {
    jobId: r.jobId,
    out: path.resolve(out),
    setup: r.setup,
    ...(r.projection !== undefined ? { projection: r.projection } : {}),
    final: last,
    workers: Object.keys(r.workers).length,
    attempt: r.attempt,
    ...(r.kernelRows !== undefined ? { kernelRows: r.kernelRows } : {}),
    wallMs: Date.now() - t0,
  };
  if (json) ctx.out.write(JSON.stringify({ kind: 'result', ...summary }) + '\n');
  else {
    const rows =
      r.kernelRows !== undefined && r.kernelRows.hits + r.kernelRows.misses > 0
        ? `kernel rows: ${r.kernelRows.misses} computed, ${r.kernelRows.hits} read from the workers' caches${(r.kernelRows.mirroredEntries ?? 0) > 0 ? ` (${r.kernelRows.mirroredEntries} entries of the computed rows read from their mirror rows)` : ''}\n`
        : '';
    ctx.out.write(
      `final: ${last === undefined ? '' : fmtEvent({ kind: 'epoch', jobId: r.jobId, epochs: r.history.length, ...last })}\n${rows}wrote ${summary.out}\n`,
    );
  }
  return 0;
}

/** EigenPro jobs on the command line: per-epoch lines and the model `.npz` of `gramfleet eigenpro`. */
export const EIGENPRO_JOB_CLI: JobCli = {
  kind: 'eigenpro',
  async watch(h, ctx, json) {
    if (!json) ctx.out.write(`eigenpro job ${h.jobId}\n`);
    return (h as JobHandle<'eigenpro'>).watch((e) => {
      const line = fmtEvent(e);
      if (json) {
        if (e.kind !== 'checkpoint') ctx.out.write(JSON.stringify(e) + '\n');
      } else if (line !== undefined) ctx.out.write(line + '\n');
    });
  },
  write: (fleet, _h, result, recipe, ctx, json) => writeEigenPro(fleet, result as EigenProJobResult, recipe, ctx, json, Date.now()),
  defaultRecipe: (out) => outputRecipe('eigenpro', out),
};

/** Predicts K(X, Z)·a for a model written by `gramfleet eigenpro`, in row blocks, with the wasm kernel, in this process. */
async function predictCommand(a: ParsedArgs, ctx: CliContext): Promise<number> {
  const v = { model: a.need('model'), x: a.need('x'), out: a.need('out'), json: a.flag('json') };
  const m = await readNpz(v.model);
  const get = (k: string): NdArray => {
    const arr = m[k];
    if (arr === undefined || isStringArray(arr)) throw new GramfleetError('INPUT_FILE_UNREADABLE', `${v.model}: no numeric array ${k}`, { field: 'model' });
    return arr;
  };
  const kern = m['kernel'];
  const kernel = (kern !== undefined && isStringArray(kern) ? kern.data[0] : 'laplacian') as KernelFunction;
  if (!(KERNEL_FUNCTIONS as readonly string[]).includes(kernel))
    throw new GramfleetError('INPUT_INVALID', `model kernel ${kernel} unknown`, { field: 'model' });
  const bandwidth = get('bandwidth').data[0] as number;
  const z = get('centers');
  const coef = get('coefficients');
  const x = await loadRows(v.x);
  const d = z.shape[1] as number;
  const c = coef.shape[1] as number;
  if (x.cols !== d)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `--x has ${x.cols} columns, the model's centers have ${d}`, { field: 'x', expected: d, got: x.cols });
  const mod = new WebAssembly.Module(fs.readFileSync(kernelsWasmPath));
  let arena: WasmArena | undefined;
  const kbm = createKernelBlockMatmulKernel(() => {
    if (arena === undefined || arena.poisoned) arena = new WasmArena(mod);
    arena.reset();
    return arena;
  });
  const attrs = kernelBlockMatmulOp.parseAttrs({ kernel, bandwidth });
  const out = new Float64Array(x.rows * c);
  const block = 1024;
  const zArr: NdArray = { dtype: 'f64', shape: [z.shape[0] as number, d], data: Float64Array.from(z.data as ArrayLike<number>) };
  for (let s = 0; s < x.rows; s += block) {
    const e = Math.min(x.rows, s + block);
    const xb: NdArray = { dtype: 'f64', shape: [e - s, d], data: x.data.slice(s * d, e * d) };
    const r = await kbm(attrs, [xb, zArr, coef], {});
    out.set((r[0] as NdArray).data as Float64Array, s * c);
  }
  await writeNpy(v.out, { dtype: 'f64', shape: [x.rows, c], data: out });
  const line = { out: path.resolve(v.out), rows: x.rows, outputs: c };
  ctx.out.write(v.json ? JSON.stringify(line) + '\n' : `wrote ${line.out} (${x.rows}×${c})\n`);
  return 0;
}

const EIGENPRO_FLAGS: Flags = {
  train: { type: 'string', value: 'X', required: true, description: 'training features: .npy, IDX or CSV' },
  'train-labels': { type: 'string', value: 'y', required: true, description: 'training labels (class ids or one-hot rows; targets for regression)' },
  test: { type: 'string', value: 'X', description: 'test features' },
  'test-labels': { type: 'string', value: 'y', description: 'test labels' },
  kernel: { type: 'string', value: EIGENPRO_KERNELS.join('|'), default: 'laplacian', description: 'kernel function' },
  bandwidth: { type: 'string', value: 'σ', required: true, description: 'kernel bandwidth > 0' },
  epochs: { type: 'string', value: 'E', description: 'passes over the data (default 3)' },
  batch: { type: 'string', value: 'm', description: 'batch size (default from the spectrum)' },
  step: { type: 'string', value: 'η', description: 'step size (default from the spectrum)' },
  q: { type: 'string', value: 'q', description: 'preconditioner level (default from the spectrum)' },
  subsample: { type: 'string', value: 's', description: 'Nyström subsample size' },
  seed: { type: 'string', value: 's', description: 'seed of the subsample and batch order (default 0)' },
  shards: { type: 'string', value: 'k', description: 'model shards (default one per worker)' },
  f32: { type: 'boolean', description: 'f32 features on the workers' },
  accumulate: { type: 'string', value: 'f64|f32', description: 'accumulation of the kernel products (default f64)' },
  task: { type: 'string', value: EIGENPRO_TASKS.join('|'), description: 'learning task (default classification)' },
  centers: { type: 'string', value: 'p', description: 'EigenPro 3: sample p centers from the training rows' },
  'centers-file': { type: 'string', value: 'Z', description: 'EigenPro 3: the centers (.npy, IDX or CSV)' },
  projection: { type: 'string', value: EIGENPRO_PROJECTIONS.join('|'), description: 'EigenPro 3/4 projection onto the centers' },
  'projection-interval': { type: 'string', value: 'T', description: 'EigenPro 4 (delayed): batches between projections' },
  workers: { type: 'string', value: 'N', description: 'WASM workers of a local cluster started for this job' },
  out: { type: 'string', value: 'model.npz', required: true, description: 'where the model (coefficients, centers, kernel, bandwidth) is written' },
  json: JSON_FLAG,
  detach: DETACH_FLAG,
  ...CLUSTER_FLAGS,
};

/** `gramfleet eigenpro`. */
export const EIGENPRO_COMMAND: CliCommand = {
  name: 'eigenpro',
  summary: 'train an EigenPro model on the cluster (per-epoch progress lines); EigenPro 3/4 with --centers or --centers-file',
  flags: EIGENPRO_FLAGS,
  run: trainCommand,
};

/** `gramfleet predict`. */
export const PREDICT_COMMAND: CliCommand = {
  name: 'predict',
  summary: 'predict with a model written by gramfleet eigenpro (in this process, no cluster needed)',
  flags: {
    model: { type: 'string', value: 'model.npz', required: true, description: 'the model' },
    x: { type: 'string', value: 'X', required: true, description: 'features to predict: .npy, IDX or CSV' },
    out: { type: 'string', value: 'yhat.npy', required: true, description: 'where K(X, Z)·a is written' },
    json: JSON_FLAG,
  },
  run: predictCommand,
};
