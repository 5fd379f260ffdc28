/** `gramfleet up | down | status`: the local cluster from the command line. */
import { createJsonLogger } from '@gramfleet/workers';
import { LocalCluster, defaultDataDir } from './local-cluster';
import { readSupervisorEvents, runSupervisor } from './supervisor';
import {
  CLUSTER_FLAGS,
  CONTEXT_FLAG,
  DATA_DIR_FLAG,
  JSON_FLAG,
  connectOptionsOf,
  usageError,
  type CliCommand,
  type CliContext,
  type FlagSpec,
  type ParsedArgs,
} from '../cli/command';
import { clientConfig, targetEnv } from '../client/config';
import { LOCAL_CONTEXT, resolveTarget } from '../client/context';
import { localTemporalTransport } from '../security/temporal';

/** The Temporal lines of `up` and `status`: the address, how it is reached, and its Web UI. */
function temporalLine(c: LocalCluster): string {
  const ui = c.state.temporalUi;
  return `  temporal ${c.state.temporalAddress} (${localTemporalTransport(c.state.bindAddress)}: the dev server cannot terminate TLS)\n${ui !== undefined ? `  temporal-ui ${ui}\n` : ''}`;
}

/** The dashboard line of `up` and `status`, when the cluster runs one. */
function dashboardLine(c: LocalCluster): string {
  return c.state.dashboard !== undefined ? `  dashboard ${c.state.dashboard}\n` : '';
}

/** The NATS line of `up` and `status`: the URL, and whether TLS and credentials guard it. */
function natsLine(c: LocalCluster): string {
  const sec = c.state.natsSecurity;
  return `  nats     ${c.state.natsUrl} (${sec !== undefined ? `TLS + a credential per process, in ${sec.dir}` : 'plaintext, no credentials'})\n`;
}

/** `--context` of the commands that manage the local cluster: only `local` is accepted. */
const LOCAL_CONTEXT_FLAG: FlagSpec = { ...CONTEXT_FLAG, description: "only 'local': this command manages the local cluster" };

/** The local cluster's directory of `up`, `down`, `supervise`; a remote `--context` is a usage error. */
function localDataDir(a: ParsedArgs, command: string): string {
  const context = a.string('context');
  if (context !== undefined && context !== LOCAL_CONTEXT)
    throw usageError(
      `'gramfleet ${command}' manages the local cluster; context ${context} names a remote one, which its operators run (e.g. with the Helm chart)`,
      {
        field: 'context',
        command: `gramfleet ${command}`,
      },
    );
  return a.string('data-dir') ?? defaultDataDir();
}

/** `gramfleet up`. */
export const UP_COMMAND: CliCommand = {
  name: 'up',
  summary: 'start the local cluster (Temporal dev server, nats-server, orchestrator, WASM workers) in the background',
  flags: {
    workers: { type: 'string', value: 'N', description: 'WASM workers (default one per core)' },
    threads: { type: 'string', value: 'T', description: 'kernel threads per worker' },
    'threads-per-shard': { type: 'string', value: 'P', description: 'kernel threads one shard may use' },
    'gpu-workers': { type: 'string', value: 'G', description: 'GPU workers to add (one per device)' },
    bind: {
      type: 'string',
      value: 'ADDR',
      description:
        'IPv4 address of this host where clients elsewhere reach the cluster through a context: NATS listens on it, the Temporal dev server then on every address (default 127.0.0.1; monitoring, Web UI, dashboard and API stay on loopback)',
    },
    context: LOCAL_CONTEXT_FLAG,
    'data-dir': DATA_DIR_FLAG,
  },
  async run(a, ctx) {
    const dataDir = localDataDir(a, 'up');
    const bind = a.string('bind');
    const workers = a.int('workers');
    const threads = a.int('threads');
    const threadsPerShard = a.int('threads-per-shard');
    const gpuWorkers = a.int('gpu-workers') ?? 0;
    const c = await LocalCluster.start({
      dataDir,
      detached: true,
      ...(workers !== undefined ? { workers } : {}),
      ...(threads !== undefined ? { threadsPerWorker: threads } : {}),
      ...(threadsPerShard !== undefined ? { threadsPerShard } : {}),
      ...(bind !== undefined ? { bindAddress: bind } : {}),
    });
    let gpuFailed = false;
    for (let g = 0; g < gpuWorkers; g++) {
      await c.addGpuWorker(g).catch((e: Error) => {
        gpuFailed = true;
        ctx.err.write(`error: ${e.message} (the rest of the cluster stays up)\n`);
      });
    }
    await c.startSupervisor();
    ctx.out.write(
      `gramfleet local cluster up (${dataDir})\n${temporalLine(c)}${dashboardLine(c)}${natsLine(c)}${c.state.apiUrl !== undefined ? `  api      ${c.state.apiUrl} (jobs HTTP API, OpenAPI at ${c.state.apiUrl}/openapi.json; tokens: gramfleet token create)\n` : ''}  processes: ${c.state.processes.map((p) => `${p.name}(${p.pid})`).join(' ')}\n`,
    );
    return gpuFailed ? 1 : 0;
  },
};

/** `gramfleet down`. */
export const DOWN_COMMAND: CliCommand = {
  name: 'down',
  summary: 'stop the processes the local cluster started',
  flags: { context: LOCAL_CONTEXT_FLAG, 'data-dir': DATA_DIR_FLAG },
  async run(a, ctx) {
    const dataDir = localDataDir(a, 'down');
    // Whatever state it is in: any live process of the state file (nats-server may be dead).
    const c = await LocalCluster.find(dataDir);
    if (c === null) {
      ctx.out.write(`no local cluster runs from ${dataDir}\n`);
      return 0;
    }
    const n = c.status().filter((p) => p.alive).length;
    await c.stop();
    ctx.out.write(`stopped ${n} processes\n`);
    return 0;
  },
};

/** `gramfleet status`. */
export const STATUS_COMMAND: CliCommand = {
  name: 'status',
  summary:
    "the cluster's addresses and registered workers; for the local cluster also its Temporal Web UI, processes and their Prometheus /metrics (exit 3 when none runs)",
  flags: { ...CLUSTER_FLAGS, json: JSON_FLAG },
  async run(a, ctx) {
    const json = a.flag('json');
    const target = resolveTarget(connectOptionsOf(a), targetEnv(), () => clientConfig());
    if (target.kind === 'remote') return remoteStatus(a, ctx, json);
    const dataDir = target.dataDir ?? defaultDataDir();
    const c = await LocalCluster.find(dataDir);
    if (c === null) {
      if (json) ctx.out.write(JSON.stringify({ running: false, dataDir }) + '\n');
      else ctx.out.write(`no local cluster runs from ${dataDir}\n`);
      return 3;
    }
    const events = readSupervisorEvents(dataDir);
    if ((await LocalCluster.attach(dataDir)) === null) {
      // nats-server is down (the supervisor restarts it): show the processes, not the registry.
      if (json) ctx.out.write(JSON.stringify({ running: true, natsDown: true, ...c.state, status: c.status(), events }) + '\n');
      else {
        ctx.out.write(`local cluster (${dataDir}): nats-server is down\n`);
        for (const p of c.status()) ctx.out.write(`  ${p.name.padEnd(14)} pid ${String(p.pid).padEnd(8)} ${p.alive ? 'running' : 'DEAD'}\n`);
        writeEvents(ctx.out, events);
      }
      return 0;
    }
    return ctx.withFleet({ dataDir, startLocal: false }, async (fleet) => {
      const workers = await fleet.workers();
      if (json) {
        ctx.out.write(
          JSON.stringify({ running: true, ...c.state, temporalTransport: localTemporalTransport(c.state.bindAddress), status: c.status(), workers, events }) +
            '\n',
        );
      } else {
        ctx.out.write(`local cluster (${dataDir})\n${temporalLine(c)}${dashboardLine(c)}${natsLine(c)}`);
        for (const p of c.status())
          ctx.out.write(
            `  ${p.name.padEnd(14)} pid ${String(p.pid).padEnd(8)} ${(p.alive ? 'running' : 'DEAD').padEnd(8)}${p.metrics !== undefined ? ` metrics ${p.metrics}` : ''}\n`,
          );
        writeEvents(ctx.out, events);
        ctx.out.write(`  registered workers: ${workers.length}\n`);
        for (const w of workers)
          ctx.out.write(
            `    ${w.workerId} ${w.cls} threads=${w.threads} shards=${w.shardsDone}${w.kernels !== undefined ? ` kernels=${w.kernels.build} threads/shard=${w.kernels.threadsPerShard}${w.kernels.cacheMB !== undefined ? ` row-cache=${w.kernels.cacheMB}MB` : ''}` : ''}\n`,
          );
      }
      return 0;
    });
  },
};

/** `gramfleet status` of a remote cluster: its addresses and registered workers (a typed error when it does not answer). */
async function remoteStatus(a: ParsedArgs, ctx: CliContext, json: boolean): Promise<number> {
  const target = resolveTarget(connectOptionsOf(a), targetEnv(), () => clientConfig());
  if (target.kind !== 'remote') throw new Error('internal: remoteStatus of the local cluster');
  return ctx.withFleet({ ...connectOptionsOf(a), startLocal: false }, async (fleet) => {
    const workers = await fleet.workers();
    const where = {
      context: target.context ?? '(environment)',
      temporalAddress: target.temporalAddress,
      namespace: target.namespace,
      natsUrl: target.natsUrl,
      taskQueue: target.taskQueue,
      prefix: target.prefix,
    };
    if (json) ctx.out.write(JSON.stringify({ running: true, remote: true, ...where, workers }) + '\n');
    else {
      ctx.out.write(
        `context ${where.context} (remote)\n  temporal ${where.temporalAddress} namespace ${where.namespace}${target.temporalSecurity !== undefined ? ' (TLS)' : ''}\n  nats     ${where.natsUrl}\n  registered workers: ${workers.length}\n`,
      );
      for (const w of workers) ctx.out.write(`    ${w.workerId} ${w.cls} threads=${w.threads} shards=${w.shardsDone}\n`);
    }
    return 0;
  });
}

/** The supervisor's last restarts, as `status` prints them. */
function writeEvents(out: { write(s: string): unknown }, events: readonly { at: string; process: string; what: string; detail?: string }[]): void {
  if (events.length === 0) return;
  out.write(`  supervisor: ${events.length} event(s), the last ${Math.min(5, events.length)}:\n`);
  for (const e of events.slice(-5)) out.write(`    ${e.at} ${e.process} ${e.what}${e.detail !== undefined ? ` (${e.detail})` : ''}\n`);
}

/** `gramfleet dashboard`: prints the local cluster's dashboard address (starting the dashboard when the cluster has none), or opens it. */
export const DASHBOARD_COMMAND: CliCommand = {
  name: 'dashboard',
  summary: "print the local cluster's dashboard address (jobs, their plots, workers; cancel from the page); --open opens it in a browser",
  flags: {
    open: { type: 'boolean', description: 'open it with xdg-open (or open on macOS) as well' },
    'data-dir': DATA_DIR_FLAG,
  },
  async run(a, ctx) {
    const dataDir = a.string('data-dir') ?? defaultDataDir();
    const c = await LocalCluster.attach(dataDir, { detached: true });
    if (c === null) {
      ctx.err.write(`no local cluster runs from ${dataDir}; start one with 'gramfleet up'\n`);
      return 3;
    }
    const running = c.status().find((p) => p.name === 'dashboard' && p.alive);
    const url = running !== undefined && c.state.dashboard !== undefined ? c.state.dashboard : await c.startDashboard();
    ctx.out.write(`${url}\n`);
    if (a.flag('open')) {
      const { spawn } = await import('node:child_process');
      const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
      await new Promise<void>((resolve) => {
        const p = spawn(opener, [url], { stdio: 'ignore', detached: true });
        p.once('error', (e) => {
          ctx.err.write(`could not run ${opener} (${e.message}); open the address above in a browser\n`);
          resolve();
        });
        p.once('spawn', () => {
          p.unref();
          resolve();
        });
      });
    }
    return 0;
  },
};

/** `gramfleet supervise`: the supervisor `up` starts (restarts the cluster's processes that die). */
export const SUPERVISE_COMMAND: CliCommand = {
  name: 'supervise',
  summary: "restart the local cluster's processes that die, on the same addresses and stores (gramfleet up starts it; down stops it)",
  flags: { context: LOCAL_CONTEXT_FLAG, 'data-dir': DATA_DIR_FLAG },
  async run(a) {
    const dataDir = localDataDir(a, 'supervise');
    await runSupervisor(dataDir, createJsonLogger({ proc: 'supervisor' }, 'info'));
    return 0;
  },
};
