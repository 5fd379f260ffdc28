/**
 * `gramfleet datagen`: generates, sorts, solves (GCRO-DR chains over the workers) and writes
 * a PDE dataset. Rerunning the same command resumes the same job: finished systems are
 * not solved again.
 */
import * as path from 'node:path';
import { DATAGEN_SOLVERS, GramfleetError, PDE_KINDS, PRECONDITIONERS, SORT_KINDS, type DatagenJobResult, type DatagenParams } from '@gramfleet/core';
import { createJsonLogger } from '@gramfleet/workers';
import { prepareDatagen, type DatagenJobSpec } from './submit';
import { createProgressBar } from '../cli/progress';
import { CLUSTER_FLAGS, JSON_FLAG, connectOptionsOf, type CliCommand, type ParsedArgs, type CliContext } from '../cli/command';
import { DETACH_FLAG, outputRecipe, printDetached, type JobCli } from '../cli/detach';
import type { Fleet, JobHandle } from '../client/fleet';
import type { JobOutputRecipe } from '../jobs/types';

/** What a datagen job's recipe records: the parameters (the dataset's manifest is made from them) and the output switches. */
interface DatagenRecipeOptions {
  readonly params: DatagenParams;
  readonly storeSystems: boolean;
  readonly keepPages: boolean;
}

function recipeOptions(recipe: JobOutputRecipe): DatagenRecipeOptions | undefined {
  const o = recipe.options as Partial<DatagenRecipeOptions>;
  return typeof o.params === 'object' && o.params !== null ? (o as DatagenRecipeOptions) : undefined;
}

/**
 * Writes a finished datagen job's dataset as the recipe says (the `.npy` shards and manifest under
 * `recipe.out`), releases its result pages unless asked to keep them, and prints the summary
 * (`gramfleet datagen` and `gramfleet jobs result`).
 */
async function writeDatagen(
  fleet: Fleet,
  h: JobHandle,
  r: DatagenJobResult,
  recipe: JobOutputRecipe,
  ctx: CliContext,
  json: boolean,
  t0: number,
): Promise<number> {
  const o = recipeOptions(recipe);
  if (o === undefined)
    throw new GramfleetError(
      'INPUT_INVALID',
      `datagen job ${h.jobId} was submitted without its parameters recorded (not by 'gramfleet datagen'): its dataset cannot be written here; 'gramfleet jobs result ${h.jobId} --json' prints its result`,
      { field: 'jobId', jobId: h.jobId },
    );
  const input = prepareDatagen({ kind: 'datagen', ...o.params, jobId: h.jobId });
  const p = (await h.progress().catch(() => undefined)) as { matvecsSaved?: number } | undefined;
  const m = await fleet.writeDataset(input, r, recipe.out, { storeSystems: o.storeSystems });
  // The dataset is written: the job's result pages are garbage unless asked to keep them.
  const released = o.keepPages ? 0 : await fleet.releaseDatagenPages(h.jobId);
  const summary = {
    jobId: h.jobId,
    out: path.resolve(recipe.out),
    systems: m.systems.length,
    chunks: m.chunks.length,
    matvecs: m.totals.matvecs,
    matvecsSaved: p?.matvecsSaved ?? null,
    maxRelres: m.totals.maxRelres,
    publishedTasks: r.publishedTasks,
    pagesReleased: released,
    wallMs: Date.now() - t0,
  };
  if (json) ctx.out.write(JSON.stringify(summary) + '\n');
  else {
    ctx.out.write(
      `${m.systems.length} systems in ${m.chunks.length} chunks, ${m.totals.matvecs} mat-vecs, max true relative residual ${m.totals.maxRelres.toExponential(2)}, ${(summary.wallMs / 1000).toFixed(1)} s${r.publishedTasks === 0 ? ' (all systems were solved before; nothing re-solved)' : ''}\n`,
    );
    ctx.out.write(`wrote ${summary.out}/manifest.json\n`);
  }
  return 0;
}

/** Datagen jobs on the command line: the systems bar and the dataset folder of `gramfleet datagen`. */
export const DATAGEN_JOB_CLI: JobCli = {
  kind: 'datagen',
  async watch(h, _ctx, json) {
    const dh = h as JobHandle<'datagen'>;
    const bar = json ? undefined : createProgressBar(`datagen ${h.jobId}`);
    const r = await dh.watch((p) => bar?.update(p.systemsDone, p.systemsTotal, `mat-vecs ${p.matvecs}, saved ${p.matvecsSaved}`));
    const p = await dh.progress().catch(() => undefined);
    if (p !== undefined) bar?.update(p.systemsDone, p.systemsTotal, `mat-vecs ${p.matvecs}, saved ${p.matvecsSaved}`);
    bar?.finish('solved');
    return r;
  },
  write: (fleet, h, result, recipe, ctx, json) => writeDatagen(fleet, h, result as DatagenJobResult, recipe, ctx, json, Date.now()),
  defaultRecipe: (out) => outputRecipe('datagen', out),
  needsRecipe: true,
};

function numArg(name: string, s: string): number {
  const x = Number(s);
  if (s.trim() === '' || Number.isNaN(x)) throw new GramfleetError('INPUT_INVALID', `--${name} must be a number, got ${JSON.stringify(s)}`, { field: name });
  return x;
}

function pairArg(name: string, s: string): [number, number] {
  const parts = s.split(',');
  if (parts.length !== 2) throw new GramfleetError('INPUT_INVALID', `--${name} must be lo,hi, got ${JSON.stringify(s)}`, { field: name });
  return [numArg(name, parts[0] ?? ''), numArg(name, parts[1] ?? '')];
}

/** Runs `gramfleet datagen`; returns the exit code. */
async function datagenRun(a: ParsedArgs, ctx: CliContext): Promise<number> {
  const keys = [
    'pde',
    'grid',
    'count',
    'seed',
    'field-alpha',
    'field-tau',
    'wavenumber',
    'velocity',
    'rtol',
    'solver',
    'restart',
    'recycle',
    'recycle-every',
    'precond',
    'sort',
    'chunk-size',
    'workers',
    'out',
    'data-dir',
    'job-id',
  ] as const;
  const v = Object.fromEntries(keys.map((k) => [k, a.string(k)])) as Record<(typeof keys)[number], string | undefined>;
  const out = a.need('out');
  const params: DatagenParams = {
    pde: a.need('pde'),
    grid: numArg('grid', a.need('grid')),
    count: numArg('count', a.need('count')),
    ...(v.seed !== undefined ? { seed: numArg('seed', v.seed) } : {}),
    ...(v['field-alpha'] !== undefined ? { fieldAlpha: numArg('field-alpha', v['field-alpha']) } : {}),
    ...(v['field-tau'] !== undefined ? { fieldTau: numArg('field-tau', v['field-tau']) } : {}),
    ...(v.wavenumber !== undefined ? { wavenumber: pairArg('wavenumber', v.wavenumber) } : {}),
    ...(v.velocity !== undefined ? { velocity: pairArg('velocity', v.velocity) } : {}),
    ...(v.rtol !== undefined ? { rtol: numArg('rtol', v.rtol) } : {}),
    ...(v.solver !== undefined ? { solver: v.solver as DatagenParams['solver'] & string } : {}),
    ...(v.restart !== undefined ? { restart: numArg('restart', v.restart) } : {}),
    ...(v.recycle !== undefined ? { recycle: numArg('recycle', v.recycle) } : {}),
    ...(v['recycle-every'] !== undefined ? { recycleEvery: numArg('recycle-every', v['recycle-every']) } : {}),
    ...(v.precond !== undefined ? { precond: v.precond as DatagenParams['precond'] & string } : {}),
    ...(v.sort !== undefined ? { sort: v.sort as DatagenParams['sort'] & string } : {}),
    ...(v['chunk-size'] !== undefined ? { chunkSize: numArg('chunk-size', v['chunk-size']) } : {}),
  };
  const spec: DatagenJobSpec = { kind: 'datagen', ...params, ...(v['job-id'] !== undefined ? { jobId: v['job-id'] } : {}) };
  prepareDatagen(spec); // typed errors before a cluster is even contacted
  const json = a.flag('json');
  const options: DatagenRecipeOptions = { params, storeSystems: a.flag('store-systems'), keepPages: a.flag('keep-pages') };
  const recipe = outputRecipe('datagen', out, options as unknown as Record<string, unknown>);
  return ctx.withFleet(
    {
      ...connectOptionsOf(a),
      ...(v.workers !== undefined ? { workers: numArg('workers', v.workers) } : {}),
      log: createJsonLogger({ proc: 'cli' }, 'warn'),
    },
    async (fleet) => {
      const t0 = Date.now();
      const h = await fleet.submit(spec, { output: recipe });
      if (a.flag('detach')) return printDetached(ctx, h, json);
      const r = (await DATAGEN_JOB_CLI.watch(h as unknown as JobHandle, ctx, json)) as DatagenJobResult;
      return writeDatagen(fleet, h as unknown as JobHandle, r, recipe, ctx, json, t0);
    },
  );
}

/** `gramfleet datagen`. */
export const DATAGEN_COMMAND: CliCommand = {
  name: 'datagen',
  summary: 'generate, sort and solve a PDE dataset on the cluster (GCRO-DR chains); a rerun resumes the same job',
  flags: {
    pde: { type: 'string', value: PDE_KINDS.join('|'), required: true, description: 'the PDE family' },
    grid: { type: 'string', value: 'N', required: true, description: 'interior points per side, 3..2048 (2-D), 3..160 (-3d families)' },
    count: { type: 'string', value: 'C', required: true, description: 'number of PDE instances' },
    seed: { type: 'string', value: 's', description: 'seed of the instances (default 0)' },
    'field-alpha': { type: 'string', value: 'A', description: 'random field covariance exponent (default 2)' },
    'field-tau': { type: 'string', value: 'T', description: 'random field covariance τ (default 3)' },
    wavenumber: { type: 'string', value: 'lo,hi', description: 'Helmholtz k₀ range (default 5,15 in 2-D, 4,8 in 3-D)' },
    velocity: { type: 'string', value: 'lo,hi', description: 'advection speed range (default 0,20)' },
    rtol: { type: 'string', value: 'r', description: 'relative residual to stop at (default 1e-8)' },
    solver: { type: 'string', value: DATAGEN_SOLVERS.join('|'), description: 'Krylov solver (default gcrodr)' },
    restart: { type: 'string', value: 'm', description: 'restart length (default 40)' },
    recycle: { type: 'string', value: 'k', description: 'recycled dimension (default 20)' },
    'recycle-every': { type: 'string', value: 'e', description: 'update the recycled space after cycles 1, 1+e, … of each system only (default 1)' },
    precond: { type: 'string', value: PRECONDITIONERS.join('|'), description: 'preconditioner (default none)' },
    sort: { type: 'string', value: SORT_KINDS.join('|'), description: 'order of the chain (default greedy)' },
    'chunk-size': { type: 'string', value: 'K', description: 'systems per chunk, solved in order' },
    'job-id': { type: 'string', value: 'ID', description: 'job id (default derived from the parameters: a rerun resumes)' },
    workers: { type: 'string', value: 'W', description: 'WASM workers of a local cluster started for this job' },
    'store-systems': { type: 'boolean', description: 'also write each system (A as CSR .npz, b as .npy)' },
    'keep-pages': { type: 'boolean', description: "keep the job's result pages in the object store after writing the dataset" },
    out: { type: 'string', value: 'DIR', required: true, description: 'where the .npy shards and manifest.json are written' },
    json: JSON_FLAG,
    detach: DETACH_FLAG,
    ...CLUSTER_FLAGS,
  },
  run: datagenRun,
};
