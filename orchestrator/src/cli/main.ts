/**
 * The `gramfleet` command line: `up`, `down`, `status` for the local cluster, and `grf` to
 * run a graph-random-features job and write Φ as a scipy-compatible CSR `.npz`.
 */
import { parseArgs } from 'node:util';
import * as path from 'node:path';
import { GramfleetError, isGramfleetError, type GraphKernelSpec, type GrfJobResult } from '@gramfleet/core';
import { createJsonLogger } from '@gramfleet/workers';
import { LocalCluster, defaultDataDir } from '../cluster/local-cluster';
import { connect, type Fleet } from '../client/sdk';
import type { GrfJobSpec } from '../grf/submit';
import { writeCsrNpz } from '../io/npz';
import { createProgressBar } from './progress';
import { KRON_USAGE, kronGpCommand } from '../kron/cli';
import { CAMPAIGN_USAGE, campaignCommand } from '../campaign/cli';
import { K8S_USAGE, k8sCommand } from '../k8s/cli';
import { EIGENPRO_USAGE, eigenProCommand, predictCommand } from '../eigenpro/cli';
import { DATAGEN_USAGE, datagenCommand } from '../datagen/cli';

const USAGE = `usage:
  gramfleet up [--workers N] [--threads T] [--data-dir DIR] [--threads-per-shard P] [--gpu-workers G]
  gramfleet down [--data-dir DIR]
  gramfleet status [--data-dir DIR] [--json]
  gramfleet grf --graph FILE(.npz|.adjlist|.mtx) --kernel reg-laplacian|diffusion|p-step|cosine|custom
                [--d D] [--beta B] [--p P] [--alpha a0,a1,...] --scale c --walks m --p-halt p [--seed s]
                [--variance none|antithetic|repelling] [--estimator same-walk|independent]
                [--label-spreading FRACTION] [--workers N] --out phi.npz [--json]
                [--backend auto|wasm|gpu]
${KRON_USAGE}
${CAMPAIGN_USAGE}
${EIGENPRO_USAGE}
${DATAGEN_USAGE}`;

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'up': return await up(rest);
      case 'down': return await down(rest);
      case 'status': return await status(rest);
      case 'grf': return await grf(rest);
      case 'kron-gp': return await kronGpCommand(rest);
      case 'campaign': return await campaign(rest);
      case 'k8s': return await k8sCommand(rest);
      case 'eigenpro': return await eigenProCommand(rest);
      case 'predict': return await predictCommand(rest);
      case 'datagen': return await datagenCommand(rest);
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(USAGE + '\n' + K8S_USAGE + '\n');
        return cmd === undefined ? 2 : 0;
      default:
        process.stderr.write(`unknown command ${cmd}\n${USAGE}\n`);
        return 2;
    }
  } catch (e) {
    if (isGramfleetError(e)) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

async function up(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { workers: { type: 'string' }, threads: { type: 'string' }, 'data-dir': { type: 'string' }, 'threads-per-shard': { type: 'string' }, 'gpu-workers': { type: 'string' } } });
  const dataDir = values['data-dir'] ?? defaultDataDir();
  const c = await LocalCluster.start({
    dataDir, detached: true,
    ...(values.workers !== undefined ? { workers: intArg('workers', values.workers) } : {}),
    ...(values.threads !== undefined ? { threadsPerWorker: intArg('threads', values.threads) } : {}),
    ...(values['threads-per-shard'] !== undefined ? { threadsPerShard: intArg('threads-per-shard', values['threads-per-shard']) } : {}),
  });
  let gpuFailed = false;
  for (let g = 0; g < (values['gpu-workers'] !== undefined ? intArg('gpu-workers', values['gpu-workers']) : 0); g++) {
    await c.addGpuWorker(g).catch((e: Error) => { gpuFailed = true; process.stderr.write(`error: ${e.message} (the rest of the cluster stays up)\n`); });
  }
  process.stdout.write(`gramfleet local cluster up (${dataDir})\n  temporal ${c.state.temporalAddress}\n  nats     ${c.state.natsUrl}\n  processes: ${c.state.processes.map((p) => `${p.name}(${p.pid})`).join(' ')}\n`);
  return gpuFailed ? 1 : 0;
}

async function down(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { 'data-dir': { type: 'string' } } });
  const dataDir = values['data-dir'] ?? defaultDataDir();
  const c = await LocalCluster.attach(dataDir);
  if (c === null) {
    process.stdout.write(`no local cluster runs from ${dataDir}\n`);
    return 0;
  }
  const n = c.state.processes.length;
  await c.stop();
  process.stdout.write(`stopped ${n} processes\n`);
  return 0;
}

async function status(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { 'data-dir': { type: 'string' }, json: { type: 'boolean' } } });
  const dataDir = values['data-dir'] ?? defaultDataDir();
  const c = await LocalCluster.attach(dataDir);
  if (c === null) {
    if (values.json === true) process.stdout.write(JSON.stringify({ running: false, dataDir }) + '\n');
    else process.stdout.write(`no local cluster runs from ${dataDir}\n`);
    return 3;
  }
  const fleet = await connect({ dataDir, startLocal: false });
  try {
    const workers = await fleet.workers();
    if (values.json === true) {
      process.stdout.write(JSON.stringify({ running: true, ...c.state, status: c.status(), workers }) + '\n');
    } else {
      process.stdout.write(`local cluster (${dataDir})\n  temporal ${c.state.temporalAddress}\n  nats     ${c.state.natsUrl}\n`);
      for (const p of c.status()) process.stdout.write(`  ${p.name.padEnd(14)} pid ${String(p.pid).padEnd(8)} ${p.alive ? 'running' : 'DEAD'}\n`);
      process.stdout.write(`  registered workers: ${workers.length}\n`);
      for (const w of workers) process.stdout.write(`    ${w.workerId} ${w.cls} threads=${w.threads} shards=${w.shardsDone}${w.kernels !== undefined ? ` kernels=${w.kernels.build} threads/shard=${w.kernels.threadsPerShard}${w.kernels.cacheMB !== undefined ? ` row-cache=${w.kernels.cacheMB}MB` : ''}` : ''}\n`);
    }
  } finally {
    await fleet.close();
  }
  return 0;
}

async function grf(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      graph: { type: 'string' }, kernel: { type: 'string', default: 'reg-laplacian' }, d: { type: 'string' }, beta: { type: 'string' },
      p: { type: 'string' }, alpha: { type: 'string' }, scale: { type: 'string' }, walks: { type: 'string' }, 'p-halt': { type: 'string' },
      seed: { type: 'string' }, variance: { type: 'string' }, estimator: { type: 'string' }, 'label-spreading': { type: 'string' },
      workers: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' }, 'data-dir': { type: 'string' },
      'shard-nodes': { type: 'string' },
      backend: { type: 'string' },
    },
  });
  const need = (k: string, v: string | undefined): string => {
    if (v === undefined) throw new GramfleetError('INPUT_INVALID', `--${k} is required`, { field: k });
    return v;
  };
  const graph = need('graph', values.graph);
  const out = need('out', values.out);
  const spec: GrfJobSpec = {
    kind: 'grf', graph,
    kernel: kernelFromArgs(values.kernel ?? 'reg-laplacian', values),
    scale: numArg('scale', need('scale', values.scale)),
    walks: intArg('walks', need('walks', values.walks)),
    pHalt: numArg('p-halt', need('p-halt', values['p-halt'])),
    seed: values.seed !== undefined ? intArg('seed', values.seed) : 0,
    ...(values.variance !== undefined ? { variance: values.variance as GrfJobSpec['variance'] & string } : {}),
    ...(values.estimator !== undefined ? { estimator: values.estimator as GrfJobSpec['estimator'] & string } : {}),
    ...(values['label-spreading'] !== undefined ? { labelSpreading: { trainFraction: numArg('label-spreading', values['label-spreading']) } } : {}),
    ...(values['shard-nodes'] !== undefined ? { shardNodes: intArg('shard-nodes', values['shard-nodes']) } : {}),
    ...(values.backend !== undefined ? { backend: values.backend as NonNullable<GrfJobSpec['backend']> } : {}),
  };
  const fleet = await connect({
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
    ...(values.workers !== undefined ? { workers: intArg('workers', values.workers) } : {}),
    log: createJsonLogger({ proc: 'cli' }, 'warn'),
  });
  try {
    const t0 = Date.now();
    const r = await runWithProgress(fleet, spec, values.json !== true);
    const phis = await Promise.all(r.phi.map((ref) => fleet.getCsr(ref)));
    const outs = phis.map((_, i) => (i === 0 ? out : out.replace(/(\.npz)?$/, `.phi${i + 1}.npz`)));
    for (let i = 0; i < phis.length; i++) await writeCsrNpz(outs[i] as string, phis[i] as NonNullable<(typeof phis)[number]>);
    const summary = { jobId: r.jobId, n: r.n, nnz: r.nnz, shards: r.shards, out: outs.map((o) => path.resolve(o)), backends: r.backends, workers: Object.keys(r.workers).length, duplicateResults: r.duplicateResults, wallMs: Date.now() - t0, ...(r.labelSpreading !== undefined ? { labelSpreading: r.labelSpreading } : {}), ...(r.route !== undefined ? { route: r.route } : {}) };
    if (values.json === true) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      process.stdout.write(`Φ: ${r.n}×${r.n}, ${r.nnz.join('+')} non-zeros, ${r.shards} shards on ${summary.workers} workers (${Object.entries(r.backends).map(([b, k]) => `${b}:${k}`).join(' ')}), ${(summary.wallMs / 1000).toFixed(1)} s\n`);
      process.stdout.write(`wrote ${summary.out.join(', ')}\n`);
      if (r.route !== undefined) process.stdout.write(`backend ${r.route.requested} -> ${r.route.cls} (${r.route.reason})\n`);
      if (r.labelSpreading !== undefined) process.stdout.write(`label spreading accuracy ${r.labelSpreading.accuracy.toFixed(4)} (${r.labelSpreading.train} labelled, ${r.labelSpreading.test} held out)\n`);
    }
    return 0;
  } finally {
    await fleet.close();
  }
}

/** Submits a job and shows a progress bar until it finishes. */
export async function runWithProgress(fleet: Fleet, spec: GrfJobSpec, show: boolean): Promise<GrfJobResult> {
  const h = await fleet.submit(spec);
  const bar = show ? createProgressBar(`grf ${h.jobId}`) : undefined;
  let finished = false;
  const poll = (async () => {
    while (!finished) {
      const p = await h.progress().catch(() => undefined);
      if (p !== undefined) bar?.update(p.shardsDone, p.shardsTotal, p.phase === 'aggregating' ? 'assembling Φ' : '');
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    const r = await h.result();
    bar?.update(r.shards, r.shards);
    bar?.finish('done');
    return r;
  } finally {
    finished = true;
    await poll;
  }
}

function kernelFromArgs(kind: string, v: { d?: string | undefined; beta?: string | undefined; p?: string | undefined; alpha?: string | undefined }): GraphKernelSpec | string {
  switch (kind) {
    case 'reg-laplacian': return { kind: 'reg-laplacian', d: v.d !== undefined ? numArg('d', v.d) : 1 };
    case 'diffusion': return { kind: 'diffusion', beta: v.beta !== undefined ? numArg('beta', v.beta) : 1 };
    case 'p-step': return { kind: 'p-step', p: numArg('p', v.p ?? '2') };
    case 'custom': {
      if (v.alpha === undefined) throw new GramfleetError('INPUT_INVALID', '--alpha a0,a1,... is required with --kernel custom', { field: 'alpha' });
      return { kind: 'custom', alpha: v.alpha.split(',').map((s) => numArg('alpha', s)) };
    }
    default: return kind;
  }
}

function numArg(name: string, s: string): number {
  const x = Number(s);
  if (s.trim() === '' || Number.isNaN(x)) throw new GramfleetError('INPUT_INVALID', `--${name} must be a number, got ${JSON.stringify(s)}`, { field: name });
  return x;
}

function intArg(name: string, s: string): number {
  const x = numArg(name, s);
  if (!Number.isInteger(x)) throw new GramfleetError('INPUT_INVALID', `--${name} must be an integer, got ${JSON.stringify(s)}`, { field: name });
  return x;
}

async function campaign(args: string[]): Promise<number> {
  const i = args.indexOf('--data-dir');
  const dataDir = i >= 0 ? args[i + 1] : undefined;
  const fleet = await connect({ startLocal: false, ...(dataDir !== undefined ? { dataDir } : {}) });
  try {
    return await campaignCommand(fleet, args);
  } finally {
    await fleet.close();
  }
}
