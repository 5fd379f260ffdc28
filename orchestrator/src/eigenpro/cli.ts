/**
 * `gramfleet eigenpro …` (train through the cluster, per-epoch progress lines, write
 * model.npz) and `gramfleet predict --model model.npz --x X --out yhat.npy` (predict with a
 * written model, in this process with the wasm kernel-block-matmul kernel).
 */
import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  GramfleetError, KERNEL_FUNCTIONS, expandFeatureBytes, kernelBlockMatmulOp,
  type EigenProJobResult, type EigenProProgressEvent, type KernelFunction, type NdArray,
} from '@gramfleet/core';
import { WasmArena, createJsonLogger, createKernelBlockMatmulKernel } from '@gramfleet/workers';
import { kernelsWasmPath } from '@gramfleet/wasm';
import { connect } from '../client/sdk';
import { readNpz, writeNpy, writeNpz, isStringArray } from '../io/npz';
import { loadRows } from './data-files';
import type { EigenProJobSpec } from './submit';

/** Usage lines of the EigenPro commands. */
export const EIGENPRO_USAGE = `  gramfleet eigenpro --train X(.npy|idx|csv) --train-labels y --test X --test-labels y
                --kernel laplacian|gaussian|matern|matern32|matern52|cauchy --bandwidth σ [--epochs E]
                [--batch m] [--step η] [--q q] [--subsample s] [--seed s] [--shards k] [--f32] [--accumulate f64|f32]
                [--task classification|regression] [--workers N] --out model.npz [--json]
                [--centers p | --centers-file Z(.npy|idx|csv)] [--projection exact|eigenpro|delayed]
                [--projection-interval T]   (EigenPro 3/4: a model on p centers)
  gramfleet predict --model model.npz --x X(.npy|idx|csv) --out yhat.npy [--json]`;

function num(name: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const x = Number(s);
  if (s.trim() === '' || Number.isNaN(x)) throw new GramfleetError('INPUT_INVALID', `--${name} must be a number, got ${JSON.stringify(s)}`, { field: name });
  return x;
}

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
    case 'resumed': return `resumed from checkpoint at epoch ${e.epoch}, batch ${e.batch} (attempt ${e.attempt})`;
    default: return undefined;
  }
}

/** `gramfleet eigenpro`. */
export async function eigenProCommand(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      train: { type: 'string' }, 'train-labels': { type: 'string' }, test: { type: 'string' }, 'test-labels': { type: 'string' },
      kernel: { type: 'string', default: 'laplacian' }, bandwidth: { type: 'string' }, epochs: { type: 'string' }, batch: { type: 'string' },
      step: { type: 'string' }, q: { type: 'string' }, subsample: { type: 'string' }, seed: { type: 'string' }, shards: { type: 'string' },
      f32: { type: 'boolean' }, task: { type: 'string' }, workers: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' },
      'data-dir': { type: 'string' }, centers: { type: 'string' }, 'centers-file': { type: 'string' }, projection: { type: 'string' },
      'projection-interval': { type: 'string' }, accumulate: { type: 'string' },
    },
  });
  const need = (k: string, x: string | undefined): string => {
    if (x === undefined) throw new GramfleetError('INPUT_INVALID', `--${k} is required`, { field: k });
    return x;
  };
  const out = need('out', v.out);
  type NumKey = 'epochs' | 'batchSize' | 'stepSize' | 'q' | 'subsampleSize' | 'seed' | 'shards';
  const opt = (name: string, key: NumKey, s: string | undefined): Partial<Record<NumKey, number>> => (s === undefined ? {} : { [key]: num(name, s) as number });
  const spec: EigenProJobSpec = {
    kind: 'eigenpro', train: need('train', v.train), trainLabels: need('train-labels', v['train-labels']),
    ...(v.test !== undefined ? { test: v.test } : {}), ...(v['test-labels'] !== undefined ? { testLabels: v['test-labels'] } : {}),
    kernel: (v.kernel ?? 'laplacian') as EigenProJobSpec['kernel'], bandwidth: num('bandwidth', need('bandwidth', v.bandwidth)) as number,
    ...opt('epochs', 'epochs', v.epochs), ...opt('batch', 'batchSize', v.batch), ...opt('step', 'stepSize', v.step), ...opt('q', 'q', v.q),
    ...opt('subsample', 'subsampleSize', v.subsample), ...opt('seed', 'seed', v.seed), ...opt('shards', 'shards', v.shards),
    ...(v.f32 === true ? { featureDtype: 'f32' as const } : {}), ...(v.accumulate !== undefined ? { accumulate: v.accumulate as 'f64' | 'f32' } : {}), ...(v.task !== undefined ? { task: v.task as EigenProJobSpec['task'] & string } : {}),
    ...(v.projection !== undefined ? { projection: v.projection as EigenProJobSpec['projection'] & string } : {}),
    ...(v.centers !== undefined ? { centers: num('centers', v.centers) as number } : {}),
    ...(v['centers-file'] !== undefined ? { centersFile: v['centers-file'] } : {}),
    ...(v['projection-interval'] !== undefined ? { projectionInterval: num('projection-interval', v['projection-interval']) as number } : {}),
  };
  const fleet = await connect({
    ...(v['data-dir'] !== undefined ? { dataDir: v['data-dir'] } : {}),
    ...(v.workers !== undefined ? { workers: num('workers', v.workers) as number } : {}),
    log: createJsonLogger({ proc: 'cli' }, 'warn'),
  });
  try {
    const t0 = Date.now();
    const h = await fleet.submit(spec);
    const json = v.json === true;
    if (!json) process.stdout.write(`eigenpro job ${h.jobId}\n`);
    const r: EigenProJobResult = await h.watch((e) => {
      const line = fmtEvent(e);
      if (json) { if (e.kind !== 'checkpoint') process.stdout.write(JSON.stringify(e) + '\n'); } else if (line !== undefined) process.stdout.write(line + '\n');
    });
    const coef = await fleet.getArray(r.coefficients);
    const stored = await fleet.getArray(r.centers);
    // Centers stored as bytes (image features) are written as the f64 features they stand for.
    const centers = r.centersScale !== undefined ? { dtype: 'f64' as const, shape: stored.shape, data: expandFeatureBytes(stored.data, r.centersScale) } : stored;
    await writeNpz(out, {
      coefficients: coef, centers,
      kernel: { dtype: 'unicode', itemSize: 16, shape: [], data: [r.kernel] },
      bandwidth: { dtype: 'f64', shape: [], data: Float64Array.of(r.bandwidth) },
      task: { dtype: 'unicode', itemSize: 16, shape: [], data: [r.task] },
      centers_digest: { dtype: 'unicode', itemSize: 64, shape: [], data: [r.centers.digest] },
    });
    const last = r.history[r.history.length - 1];
    const summary = { jobId: r.jobId, out: path.resolve(out), setup: r.setup, ...(r.projection !== undefined ? { projection: r.projection } : {}), final: last, workers: Object.keys(r.workers).length, attempt: r.attempt, ...(r.kernelRows !== undefined ? { kernelRows: r.kernelRows } : {}), wallMs: Date.now() - t0 };
    if (json) process.stdout.write(JSON.stringify({ kind: 'result', ...summary }) + '\n');
    else {
      const rows = r.kernelRows !== undefined && r.kernelRows.hits + r.kernelRows.misses > 0
        ? `kernel rows: ${r.kernelRows.misses} computed, ${r.kernelRows.hits} read from the workers' caches${(r.kernelRows.mirroredEntries ?? 0) > 0 ? ` (${r.kernelRows.mirroredEntries} entries of the computed rows read from their mirror rows)` : ''}\n` : '';
      process.stdout.write(`final: ${last === undefined ? '' : fmtEvent({ kind: 'epoch', jobId: r.jobId, epochs: r.history.length, ...last })}\n${rows}wrote ${summary.out}\n`);
    }
    return 0;
  } finally {
    await fleet.close();
  }
}

/** Predicts K(X, Z)·a for a model written by `gramfleet eigenpro`, in row blocks, with the wasm kernel. */
export async function predictCommand(args: string[]): Promise<number> {
  const { values: v } = parseArgs({ args, options: { model: { type: 'string' }, x: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } } });
  if (v.model === undefined || v.x === undefined || v.out === undefined) throw new GramfleetError('INPUT_INVALID', '--model, --x and --out are required', { field: v.model === undefined ? 'model' : v.x === undefined ? 'x' : 'out' });
  const m = await readNpz(v.model);
  const get = (k: string): NdArray => {
    const a = m[k];
    if (a === undefined || isStringArray(a)) throw new GramfleetError('INPUT_FILE_UNREADABLE', `${v.model ?? ''}: no numeric array ${k}`, { field: 'model' });
    return a;
  };
  const kern = m['kernel'];
  const kernel = (kern !== undefined && isStringArray(kern) ? kern.data[0] : 'laplacian') as KernelFunction;
  if (!(KERNEL_FUNCTIONS as readonly string[]).includes(kernel)) throw new GramfleetError('INPUT_INVALID', `model kernel ${kernel} unknown`, { field: 'model' });
  const bandwidth = get('bandwidth').data[0] as number;
  const z = get('centers');
  const a = get('coefficients');
  const x = await loadRows(v.x);
  const d = z.shape[1] as number;
  const c = a.shape[1] as number;
  if (x.cols !== d) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `--x has ${x.cols} columns, the model's centers have ${d}`, { field: 'x', expected: d, got: x.cols });
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
    const r = await kbm(attrs, [xb, zArr, a], {});
    out.set((r[0] as NdArray).data as Float64Array, s * c);
  }
  await writeNpy(v.out, { dtype: 'f64', shape: [x.rows, c], data: out });
  const line = { out: path.resolve(v.out), rows: x.rows, outputs: c };
  process.stdout.write(v.json === true ? JSON.stringify(line) + '\n' : `wrote ${line.out} (${x.rows}×${c})\n`);
  return 0;
}
