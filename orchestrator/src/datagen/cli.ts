/**
 * `gramfleet datagen`: generates, sorts, solves (GCRO-DR chains over the workers) and writes
 * a PDE dataset. Rerunning the same command resumes the same job: finished systems are
 * not solved again.
 */
import * as path from 'node:path';
import { DATAGEN_SOLVERS, GramfleetError, PDE_KINDS, PRECONDITIONERS, SORT_KINDS, type DatagenParams } from '@gramfleet/core';
import { createJsonLogger } from '@gramfleet/workers';
import { prepareDatagen, type DatagenJobSpec } from './submit';
import { createProgressBar } from '../cli/progress';
import { CLUSTER_FLAGS, JSON_FLAG, connectOptionsOf, type CliCommand, type ParsedArgs, type CliContext } from '../cli/command';

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
  const input = prepareDatagen(spec); // typed errors before a cluster is even contacted
  const json = a.flag('json');
  return ctx.withFleet(
    {
      ...connectOptionsOf(a),
      ...(v.workers !== undefined ? { workers: numArg('workers', v.workers) } : {}),
      log: createJsonLogger({ proc: 'cli' }, 'warn'),
    },
    async (fleet) => {
      const t0 = Date.now();
      const h = await fleet.submit(spec);
      const bar = json ? undefined : createProgressBar(`datagen ${h.jobId}`);
      const r = await h.watch((p) => bar?.update(p.systemsDone, p.systemsTotal, `mat-vecs ${p.matvecs}, saved ${p.matvecsSaved}`));
      const p = await h.progress().catch(() => undefined);
      if (p !== undefined) bar?.update(p.systemsDone, p.systemsTotal, `mat-vecs ${p.matvecs}, saved ${p.matvecsSaved}`);
      bar?.finish('solved');
      const m = await fleet.writeDataset(input, r, out, { storeSystems: a.flag('store-systems') });
      // The dataset is written: the job's result pages are garbage unless asked to keep them.
      const released = a.flag('keep-pages') ? 0 : await fleet.releaseDatagenPages(h.jobId);
      const summary = {
        jobId: h.jobId,
        out: path.resolve(out),
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
    ...CLUSTER_FLAGS,
  },
  run: datagenRun,
};
