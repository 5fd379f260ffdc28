/** `gramfleet grf`: a graph-random-features job on the cluster; Φ is written as a scipy-compatible CSR `.npz`. */
import * as path from 'node:path';
import { GRAPH_KERNEL_KINDS, GRF_ESTIMATORS, GRF_VARIANCE, GramfleetError, type GraphKernelSpec, type GrfJobResult } from '@gramfleet/core';
import { createJsonLogger } from '@gramfleet/workers';
import type { Fleet, JobHandle } from '../client/fleet';
import type { JobOutputRecipe } from '../jobs/types';
import { DETACH_FLAG, outputRecipe, printDetached, type JobCli } from '../cli/detach';
import { CLUSTER_FLAGS, JSON_FLAG, connectOptionsOf, type CliCommand, type CliContext, type ParsedArgs } from '../cli/command';
import { createProgressBar } from '../cli/progress';
import { writeCsrNpz } from '../io/npz';
import type { GrfJobSpec } from './submit';

/** Submits a GRF job and shows a progress bar (on stderr) until it finishes. */
export async function runWithProgress(fleet: Fleet, spec: GrfJobSpec, show: boolean): Promise<GrfJobResult> {
  const h = await fleet.submit(spec);
  const bar = show ? createProgressBar(`grf ${h.jobId}`) : undefined;
  const r = await h.watch((p) => bar?.update(p.shardsDone, p.shardsTotal, p.phase === 'aggregating' ? 'assembling Φ' : ''));
  bar?.update(r.shards, r.shards);
  bar?.finish('done');
  return r;
}

function kernelFromArgs(a: ParsedArgs): GraphKernelSpec | string {
  const kind = a.string('kernel') ?? 'reg-laplacian';
  switch (kind) {
    case 'reg-laplacian':
      return { kind: 'reg-laplacian', d: a.number('d') ?? 1 };
    case 'diffusion':
      return { kind: 'diffusion', beta: a.number('beta') ?? 1 };
    case 'p-step':
      return { kind: 'p-step', p: a.number('p') ?? 2 };
    case 'custom': {
      const alpha = a.string('alpha');
      if (alpha === undefined) throw new GramfleetError('INPUT_INVALID', '--alpha a0,a1,... is required with --kernel custom', { field: 'alpha' });
      return {
        kind: 'custom',
        alpha: alpha.split(',').map((s) => {
          const x = Number(s);
          if (s.trim() === '' || Number.isNaN(x))
            throw new GramfleetError('INPUT_INVALID', `--alpha must be a number, got ${JSON.stringify(s)}`, { field: 'alpha' });
          return x;
        }),
      };
    }
    default:
      return kind;
  }
}

/** Writes Φ (and Φ₂) as the recipe says and prints the summary (`gramfleet grf` and `gramfleet jobs result`). */
async function writeGrf(fleet: Fleet, r: GrfJobResult, recipe: JobOutputRecipe, ctx: CliContext, json: boolean, t0: number): Promise<number> {
  const out = recipe.out;
  const phis = await Promise.all(r.phi.map((ref) => fleet.getCsr(ref)));
  const outs = phis.map((_, i) => (i === 0 ? out : out.replace(/(\.npz)?$/, `.phi${i + 1}.npz`)));
  for (let i = 0; i < phis.length; i++) await writeCsrNpz(outs[i] as string, phis[i] as NonNullable<(typeof phis)[number]>);
  const summary = {
    jobId: r.jobId,
    n: r.n,
    nnz: r.nnz,
    shards: r.shards,
    out: outs.map((o) => path.resolve(o)),
    backends: r.backends,
    workers: Object.keys(r.workers).length,
    duplicateResults: r.duplicateResults,
    ...(r.verifiedShards !== undefined ? { verifiedShards: r.verifiedShards } : {}),
    wallMs: Date.now() - t0,
    ...(r.labelSpreading !== undefined ? { labelSpreading: r.labelSpreading } : {}),
    ...(r.route !== undefined ? { route: r.route } : {}),
  };
  if (json) ctx.out.write(JSON.stringify(summary) + '\n');
  else {
    ctx.out.write(
      `Φ: ${r.n}×${r.n}, ${r.nnz.join('+')} non-zeros, ${r.shards} shards on ${summary.workers} workers (${Object.entries(r.backends)
        .map(([b, k]) => `${b}:${k}`)
        .join(' ')}), ${(summary.wallMs / 1000).toFixed(1)} s\n`,
    );
    ctx.out.write(`wrote ${summary.out.join(', ')}\n`);
    if (r.verifiedShards !== undefined) ctx.out.write(`verified ${r.verifiedShards} of ${r.shards} shards on a second worker: same bytes\n`);
    if (r.route !== undefined) ctx.out.write(`backend ${r.route.requested} -> ${r.route.cls} (${r.route.reason})\n`);
    if (r.labelSpreading !== undefined)
      ctx.out.write(
        `label spreading accuracy ${r.labelSpreading.accuracy.toFixed(4)} (${r.labelSpreading.train} labelled, ${r.labelSpreading.test} held out)\n`,
      );
  }
  return 0;
}

/** GRF jobs on the command line: the progress bar and the `.npz` files of `gramfleet grf`. */
export const GRF_JOB_CLI: JobCli = {
  kind: 'grf',
  async watch(h, _ctx, json) {
    const bar = json ? undefined : createProgressBar(`grf ${h.jobId}`);
    const r = (await (h as JobHandle<'grf'>).watch((p) =>
      bar?.update(p.shardsDone, p.shardsTotal, p.phase === 'aggregating' ? 'assembling Φ' : ''),
    )) as GrfJobResult;
    bar?.update(r.shards, r.shards);
    bar?.finish('done');
    return r;
  },
  write: (fleet, _h, result, recipe, ctx, json) => writeGrf(fleet, result as GrfJobResult, recipe, ctx, json, Date.now()),
  defaultRecipe: (out) => outputRecipe('grf', out),
};

/** `gramfleet grf`. */
export const GRF_COMMAND: CliCommand = {
  name: 'grf',
  summary: 'graph random features on the cluster: writes Φ (scipy CSR .npz), optionally label spreading',
  flags: {
    graph: { type: 'string', value: 'FILE', required: true, description: 'graph file: .npz (scipy CSR), .adjlist or .mtx' },
    kernel: { type: 'string', value: 'KIND', default: 'reg-laplacian', description: `graph kernel: ${GRAPH_KERNEL_KINDS.join('|')}` },
    d: { type: 'string', value: 'D', description: 'reg-laplacian exponent (default 1)' },
    beta: { type: 'string', value: 'B', description: 'diffusion β (default 1)' },
    p: { type: 'string', value: 'P', description: 'p-step p (default 2)' },
    alpha: { type: 'string', value: 'a0,a1,...', description: 'custom kernel series coefficients' },
    scale: { type: 'string', value: 'c', required: true, description: 'c in W = c·D^-1/2 A D^-1/2' },
    walks: { type: 'string', value: 'm', required: true, description: 'walkers per node' },
    'p-halt': { type: 'string', value: 'p', required: true, description: 'halting probability in (0, 1)' },
    seed: { type: 'string', value: 's', description: 'random seed (default 0)' },
    variance: { type: 'string', value: GRF_VARIANCE.join('|'), description: 'variance reduction (default none)' },
    estimator: { type: 'string', value: GRF_ESTIMATORS.join('|'), description: 'ΦΦᵀ (same-walk) or Φ₁Φ₂ᵀ (independent; writes .phi2.npz too)' },
    'label-spreading': { type: 'string', value: 'FRACTION', description: 'run label spreading with this fraction of nodes labelled' },
    'shard-nodes': { type: 'string', value: 'N', description: 'origins per shard (default chosen from n)' },
    backend: { type: 'string', value: 'auto|wasm|gpu', description: 'where the shards run (default auto)' },
    verify: {
      type: 'string',
      value: 'FRACTION',
      description: 'run this fraction of shards again on a second worker; differing bytes fail the job with VERIFY_MISMATCH (default 0)',
    },
    workers: { type: 'string', value: 'N', description: 'WASM workers of a local cluster started for this job' },
    out: { type: 'string', value: 'phi.npz', required: true, description: 'where Φ is written' },
    json: JSON_FLAG,
    detach: DETACH_FLAG,
    ...CLUSTER_FLAGS,
  },
  async run(a, ctx) {
    const out = a.need('out');
    const variance = a.string('variance');
    const estimator = a.string('estimator');
    const labelSpreading = a.number('label-spreading');
    const shardNodes = a.int('shard-nodes');
    const backend = a.string('backend');
    const verify = a.number('verify');
    const spec: GrfJobSpec = {
      kind: 'grf',
      graph: a.need('graph'),
      kernel: kernelFromArgs(a),
      scale: a.number('scale') as number,
      walks: a.int('walks') as number,
      pHalt: a.number('p-halt') as number,
      seed: a.int('seed') ?? 0,
      ...(variance !== undefined ? { variance: variance as NonNullable<GrfJobSpec['variance']> } : {}),
      ...(estimator !== undefined ? { estimator: estimator as NonNullable<GrfJobSpec['estimator']> } : {}),
      ...(labelSpreading !== undefined ? { labelSpreading: { trainFraction: labelSpreading } } : {}),
      ...(shardNodes !== undefined ? { shardNodes } : {}),
      ...(backend !== undefined ? { backend: backend as NonNullable<GrfJobSpec['backend']> } : {}),
      ...(verify !== undefined ? { verify } : {}),
    };
    const workers = a.int('workers');
    const json = a.flag('json');
    const recipe = outputRecipe('grf', out);
    return ctx.withFleet(
      { ...connectOptionsOf(a), ...(workers !== undefined ? { workers } : {}), log: createJsonLogger({ proc: 'cli' }, 'warn') },
      async (fleet) => {
        const t0 = Date.now();
        const h = await fleet.submit(spec, { output: recipe });
        if (a.flag('detach')) return printDetached(ctx, h, json);
        const r = await GRF_JOB_CLI.watch(h as unknown as JobHandle, ctx, json);
        return writeGrf(fleet, r as GrfJobResult, recipe, ctx, json, t0);
      },
    );
  },
};
