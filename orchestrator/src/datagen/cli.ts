/**
 * `gramfleet datagen`: generates, sorts, solves (GCRO-DR chains over the workers) and writes
 * a PDE dataset. Rerunning the same command resumes the same job: finished systems are
 * not solved again.
 */
import { parseArgs } from 'node:util';
import * as path from 'node:path';
import { GramfleetError, type DatagenParams } from '@gramfleet/core';
import { createJsonLogger } from '@gramfleet/workers';
import { prepareDatagen, type DatagenJobSpec } from './submit';
import { createProgressBar } from '../cli/progress';
import { connect } from '../client/sdk';

/** Usage lines of the subcommand. */
export const DATAGEN_USAGE = `  gramfleet datagen --pde darcy|helmholtz|advection-diffusion|poisson-rhs --grid N --count C [--seed s]
                [--field-alpha A] [--field-tau T] [--wavenumber lo,hi] [--velocity lo,hi] [--rtol 1e-8]
                [--solver gmres|gcrodr|gcrodr-reset] [--restart 40 --recycle 20] [--precond none|jacobi|ilu0]
                [--sort greedy|none|fft-curve] [--chunk-size K] [--workers W] [--store-systems] [--keep-pages] --out DIR [--json]`;

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
export async function datagenCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h') || args.length === 0) {
    process.stdout.write(`usage:\n${DATAGEN_USAGE}\n`);
    return args.length === 0 ? 2 : 0;
  }
  const { values: v } = parseArgs({
    args,
    options: {
      pde: { type: 'string' }, grid: { type: 'string' }, count: { type: 'string' }, seed: { type: 'string' },
      'field-alpha': { type: 'string' }, 'field-tau': { type: 'string' }, wavenumber: { type: 'string' }, velocity: { type: 'string' },
      rtol: { type: 'string' }, solver: { type: 'string' }, restart: { type: 'string' }, recycle: { type: 'string' },
      precond: { type: 'string' }, sort: { type: 'string' }, 'chunk-size': { type: 'string' }, workers: { type: 'string' },
      'store-systems': { type: 'boolean' }, out: { type: 'string' }, json: { type: 'boolean' }, 'data-dir': { type: 'string' },
      'job-id': { type: 'string' }, 'keep-pages': { type: 'boolean' },
    },
  });
  const need = (k: string, x: string | undefined): string => {
    if (x === undefined) throw new GramfleetError('INPUT_INVALID', `--${k} is required`, { field: k });
    return x;
  };
  const out = need('out', v.out);
  const params: DatagenParams = {
    pde: need('pde', v.pde), grid: numArg('grid', need('grid', v.grid)), count: numArg('count', need('count', v.count)),
    ...(v.seed !== undefined ? { seed: numArg('seed', v.seed) } : {}),
    ...(v['field-alpha'] !== undefined ? { fieldAlpha: numArg('field-alpha', v['field-alpha']) } : {}),
    ...(v['field-tau'] !== undefined ? { fieldTau: numArg('field-tau', v['field-tau']) } : {}),
    ...(v.wavenumber !== undefined ? { wavenumber: pairArg('wavenumber', v.wavenumber) } : {}),
    ...(v.velocity !== undefined ? { velocity: pairArg('velocity', v.velocity) } : {}),
    ...(v.rtol !== undefined ? { rtol: numArg('rtol', v.rtol) } : {}),
    ...(v.solver !== undefined ? { solver: v.solver as DatagenParams['solver'] & string } : {}),
    ...(v.restart !== undefined ? { restart: numArg('restart', v.restart) } : {}),
    ...(v.recycle !== undefined ? { recycle: numArg('recycle', v.recycle) } : {}),
    ...(v.precond !== undefined ? { precond: v.precond as DatagenParams['precond'] & string } : {}),
    ...(v.sort !== undefined ? { sort: v.sort as DatagenParams['sort'] & string } : {}),
    ...(v['chunk-size'] !== undefined ? { chunkSize: numArg('chunk-size', v['chunk-size']) } : {}),
  };
  const spec: DatagenJobSpec = { kind: 'datagen', ...params, ...(v['job-id'] !== undefined ? { jobId: v['job-id'] } : {}) };
  const input = prepareDatagen(spec); // typed errors before a cluster is even contacted
  const fleet = await connect({
    ...(v['data-dir'] !== undefined ? { dataDir: v['data-dir'] } : {}),
    ...(v.workers !== undefined ? { workers: numArg('workers', v.workers) } : {}),
    log: createJsonLogger({ proc: 'cli' }, 'warn'),
  });
  try {
    const t0 = Date.now();
    const h = await fleet.submit(spec);
    const bar = v.json === true ? undefined : createProgressBar(`datagen ${h.jobId}`);
    let finished = false;
    const poll = (async () => {
      while (!finished) {
        const p = await h.progress().catch(() => undefined);
        if (p !== undefined) bar?.update(p.systemsDone, p.systemsTotal, `mat-vecs ${p.matvecs}, saved ${p.matvecsSaved}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    let r;
    try {
      r = await h.result();
    } finally {
      finished = true;
      await poll;
    }
    const p = await h.progress().catch(() => undefined);
    if (p !== undefined) bar?.update(p.systemsDone, p.systemsTotal, `mat-vecs ${p.matvecs}, saved ${p.matvecsSaved}`);
    bar?.finish('solved');
    const m = await fleet.writeDataset(input, r, out, { storeSystems: v['store-systems'] === true });
    // The dataset is written: the job's result pages are garbage unless asked to keep them.
    const released = v['keep-pages'] === true ? 0 : await fleet.releaseDatagenPages(h.jobId);
    const summary = {
      jobId: h.jobId, out: path.resolve(out), systems: m.systems.length, chunks: m.chunks.length, matvecs: m.totals.matvecs,
      matvecsSaved: p?.matvecsSaved ?? null, maxRelres: m.totals.maxRelres, publishedTasks: r.publishedTasks, pagesReleased: released, wallMs: Date.now() - t0,
    };
    if (v.json === true) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      process.stdout.write(`${m.systems.length} systems in ${m.chunks.length} chunks, ${m.totals.matvecs} mat-vecs, max true relative residual ${m.totals.maxRelres.toExponential(2)}, ${(summary.wallMs / 1000).toFixed(1)} s${r.publishedTasks === 0 ? ' (all systems were solved before; nothing re-solved)' : ''}\n`);
      process.stdout.write(`wrote ${summary.out}/manifest.json\n`);
    }
    return 0;
  } finally {
    await fleet.close();
  }
}
