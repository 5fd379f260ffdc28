/**
 * The replicated deployment (the chart's topology) reproduced on one machine: simulated hosts
 * (network namespaces on a bridge, replicated-net.ts), a three-server NATS cluster (one
 * nats-server per host, JetStream on, routes between them) with every stream, KV bucket and
 * object store at 3 replicas, a Temporal server with a persistent store, the orchestrator and
 * WASM workers on hosts of their own — each process started with `ip netns exec`, so it sees
 * only its host's network. The test process (root namespace) is the client, reaching the hosts
 * through the bridge.
 *
 * Layout (host: processes):
 *   n1: nats n1, temporal      n2: nats n2, orchestrator      n3: nats n3, worker-a      w1: worker-b
 *
 * Temporal's store: PostgreSQL (Debian's server, initdb'd in the temporary directory and run as
 * the postgres user on n1, schema by temporal-sql-tool) under the Temporal server built by
 * scripts/r3-temporal-server.sh, when that build and PostgreSQL are here; else the Temporal CLI's
 * dev server (the only Temporal server scripts/setup.sh installs: it has no PostgreSQL driver)
 * on its SQLite file on disk (`--db-filename`), and {@link temporalPostgresPlan} says why. The
 * chart points the Temporal chart at PostgreSQL (deploy/helm values temporal.server.config).
 *
 * NATS here runs without TLS and accounts (the local cluster and test/src/integration test those):
 * this harness is about replication and host failures.
 *
 * {@link ReplicatedCluster.stop} kills every process it started and removes the hosts, the
 * bridge and the temporary directory, also when start-up failed half-way; an exit hook kills
 * the processes if the test process ends first.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as tcp from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { connect, type Fleet } from '@gramfleet/orchestrator';
import { binaryPath, dataPlaneEnv, openCampaignTable } from '@gramfleet/orchestrator/internal';
import { StorageType } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connectNats, openDataPlane, relaxedSimdNodeArgs, type DataPlane, type DataPlaneOptions } from '@gramfleet/workers';
import { resourceNames } from '@gramfleet/core';
import { createHostNetwork, netnsUnavailable, type HostNetwork, type SimHost } from './replicated-net';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const NATS_PORT = 4222;
const NATS_MONITOR_PORT = 8222;
const NATS_ROUTE_PORT = 6222;
const TEMPORAL_PORT = 7233;
const TOXIPROXY_API_PORT = 8474;
/** toxiproxy's first NATS proxy port (one per server, consecutive). */
const TOXIPROXY_NATS_PORT = 14222;

/** What running Temporal on PostgreSQL here takes (found by {@link temporalPostgresPlan}). */
export interface PostgresPlan {
  readonly initdb: string;
  readonly postgres: string;
  /** pg_isready: whether the server accepts connections (not only listens: crash recovery refuses them). */
  readonly isReady: string;
  readonly server: string;
  readonly sqlTool: string;
  /** Temporal's schema/postgresql directory (v12/temporal, v12/visibility). */
  readonly schema: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * The binaries for Temporal on PostgreSQL: Debian's PostgreSQL server (/usr/lib/postgresql/N/bin)
 * and its postgres user, setpriv, and temporal-server, temporal-sql-tool and the schema in
 * .gramfleet/bin (scripts/r3-temporal-server.sh builds them); a string saying what is missing otherwise.
 */
export function temporalPostgresPlan(): PostgresPlan | string {
  const bin = path.join(ROOT, '.gramfleet', 'bin');
  const server = path.join(bin, 'temporal-server');
  const sqlTool = path.join(bin, 'temporal-sql-tool');
  const schema = path.join(bin, 'temporal-schema', 'postgresql');
  for (const f of [server, sqlTool, path.join(schema, 'v12', 'temporal', 'versioned')])
    if (!fs.existsSync(f))
      return `${path.relative(ROOT, f)} is missing: the Temporal CLI's dev server has no PostgreSQL driver, and the Temporal server that has one is built by scripts/r3-temporal-server.sh (a Go build of 40+ minutes on a loaded 2-core machine, not part of setup.sh)`;
  const pgRoot = '/usr/lib/postgresql';
  const versions = fs.existsSync(pgRoot) ? fs.readdirSync(pgRoot).filter((v) => fs.existsSync(path.join(pgRoot, v, 'bin', 'postgres'))) : [];
  const v = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (v === undefined) return "PostgreSQL's server is not installed (Debian's postgresql package; scripts/r3-temporal-server.sh installs it)";
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) return 'there is no postgres user to run PostgreSQL as (it refuses to run as root)';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) is missing: PostgreSQL must run as the postgres user';
  return {
    initdb: path.join(pgRoot, v, 'bin', 'initdb'),
    postgres: path.join(pgRoot, v, 'bin', 'postgres'),
    isReady: path.join(pgRoot, v, 'bin', 'pg_isready'),
    server,
    sqlTool,
    schema,
    uid,
    gid,
  };
}

/** Runs a command to its end; rejects with its output when it fails. */
/** Every process below `pid` (from /proc), deepest last. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function run(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${String(code)}): ${out.slice(-2000)}`));
    });
  });
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcp.connect({ host, port, timeout: 1000 });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/** The Temporal server's configuration: PostgreSQL at `pg`, the frontend on every address of its host. */
function temporalServerConfig(pg: string): string {
  const store = (db: string, conns: number): string[] => [
    `      sql:`,
    `        pluginName: "postgres12"`,
    `        databaseName: "${db}"`,
    `        connectAddr: "${pg}"`,
    `        connectProtocol: "tcp"`,
    `        user: "temporal"`,
    `        password: ""`,
    `        maxConns: ${conns}`,
    `        maxIdleConns: ${conns}`,
    `        maxConnLifetime: "1h"`,
  ];
  const svc = (name: string, grpc: number, member: number, bind: string): string[] => [
    `  ${name}:`,
    `    rpc:`,
    `      grpcPort: ${grpc}`,
    `      membershipPort: ${member}`,
    bind,
  ];
  return [
    `log:`,
    `  stdout: true`,
    `  level: warn`,
    `persistence:`,
    `  defaultStore: postgres-default`,
    `  visibilityStore: postgres-visibility`,
    `  numHistoryShards: 4`,
    `  datastores:`,
    `    postgres-default:`,
    ...store('temporal', 20),
    `    postgres-visibility:`,
    ...store('temporal_visibility', 4),
    `global:`,
    `  membership:`,
    `    maxJoinDuration: 30s`,
    `    broadcastAddress: "127.0.0.1"`,
    `services:`,
    ...svc('frontend', TEMPORAL_PORT, 6933, `      bindOnIP: "0.0.0.0"`),
    ...svc('history', 7234, 6934, `      bindOnLocalHost: true`),
    ...svc('matching', 7235, 6935, `      bindOnLocalHost: true`),
    ...svc('worker', 7239, 6939, `      bindOnLocalHost: true`),
    `clusterMetadata:`,
    `  enableGlobalNamespace: false`,
    `  failoverVersionIncrement: 10`,
    `  masterClusterName: "active"`,
    `  currentClusterName: "active"`,
    `  clusterInformation:`,
    `    active:`,
    `      enabled: true`,
    `      initialFailoverVersion: 1`,
    `      rpcName: "frontend"`,
    `      rpcAddress: "127.0.0.1:${TEMPORAL_PORT}"`,
    `dcRedirectionPolicy:`,
    `  policy: "noop"`,
    '',
  ].join('\n');
}

/** Why the replicated topology cannot run here; undefined when it can. */
export function replicatedUnavailable(): string | undefined {
  const net = netnsUnavailable();
  if (net !== undefined) return net;
  for (const b of ['nats-server', 'temporal'] as const) {
    try {
      binaryPath(b);
    } catch (e) {
      return (e as Error).message;
    }
  }
  return undefined;
}

/** A process the harness started on a simulated host. */
export interface HostProcess {
  readonly name: string;
  readonly host: string;
  readonly child: ChildProcess;
  readonly log: string;
  readonly exited: Promise<number | null>;
}

/** One NATS server of the cluster. */
export interface NatsNode {
  /** Its server_name (what stream info names as leader/replica): n1, n2, n3. */
  readonly name: string;
  readonly host: SimHost;
  readonly url: string;
  readonly monitor: string;
}

/** Options of {@link startReplicated}. */
export interface ReplicatedOptions {
  /** Data-plane options of every process; `replicas` is 3 unless set. */
  readonly dataPlane?: DataPlaneOptions;
  /** Log level of the orchestrator and workers. @default 'warn' */
  readonly logLevel?: string;
  /** Temporal's store: PostgreSQL where {@link temporalPostgresPlan} finds what it needs (else SQLite), or SQLite. @default 'auto' */
  readonly temporalStore?: 'auto' | 'sqlite';
}

/** Where Temporal keeps its state. */
export type TemporalStore =
  { readonly kind: 'postgres'; readonly address: string; readonly dataDir: string } | { readonly kind: 'sqlite'; readonly file: string; readonly why: string };

/** A started replicated cluster. */
export interface ReplicatedCluster {
  readonly net: HostNetwork;
  readonly dir: string;
  readonly nats: readonly NatsNode[];
  /** Every NATS server, comma-separated (what GRAMFLEET_NATS_URL is set to). */
  readonly natsUrl: string;
  readonly temporalAddress: string;
  /** Where Temporal keeps its state. */
  readonly temporalStore: TemporalStore;
  readonly taskQueue: string;
  readonly prefix: string;
  readonly dataPlane: DataPlaneOptions;
  /** The SDK connected from the root namespace. */
  readonly fleet: Fleet;
  /** Processes by name (nats-n1, temporal, orchestrator, worker-a, …); killed ones are removed. */
  readonly processes: Map<string, HostProcess>;
  /** A data-plane connection from the test process (closed by stop). */
  dataPlaneHandle(): Promise<DataPlane>;
  /** The server name of the current leader of a stream (e.g. the task stream), from its stream info. */
  streamLeader(stream: string): Promise<string | undefined>;
  /** Sends `signal` to a process and waits until it has exited. */
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a NATS server again on its host, address and store (after a kill). */
  restartNats(name: string): Promise<void>;
  /** Starts the Temporal server again on its store (PostgreSQL or the SQLite file), after a kill. */
  restartTemporal(): Promise<void>;
  /** Starts PostgreSQL again on its data directory, after a kill (the PostgreSQL store only). */
  restartPostgres(): Promise<void>;
  /**
   * The fault proxy (toxiproxy) on worker-b's host, through which worker-b reaches every NATS
   * server; a string saying why there is none (then worker-b connects directly).
   */
  readonly faultProxy: FaultProxy | string;
  stop(): Promise<void>;
}

/** Toxics on the links between worker-b's host and the NATS servers (toxiproxy's HTTP API). */
export interface FaultProxy {
  /** Adds a toxic (e.g. `latency` {latency, jitter}, `reset_peer` {timeout}) to every NATS link, in `stream` direction. */
  add(name: string, type: string, attributes: Record<string, number>, stream?: 'upstream' | 'downstream'): Promise<void>;
  /** Removes the toxic `name` from every link. */
  remove(name: string): Promise<void>;
}

function natsConfig(node: NatsNode, peers: readonly NatsNode[], storeDir: string): string {
  const q = (v: string): string => JSON.stringify(v);
  return [
    `server_name: ${q(node.name)}`,
    `listen: ${q(`${node.host.ip}:${NATS_PORT}`)}`,
    `http: ${q(`${node.host.ip}:${NATS_MONITOR_PORT}`)}`,
    `jetstream {`,
    `  store_dir: ${q(storeDir)}`,
    `  max_file_store: ${8 * 1024 ** 3}`,
    `  max_memory_store: ${256 * 1024 ** 2}`,
    `}`,
    `cluster {`,
    `  name: "gramfleet-r3"`,
    // Clients keep to the URLs they were given (worker-b's go through the fault proxy).
    `  no_advertise: true`,
    `  listen: ${q(`${node.host.ip}:${NATS_ROUTE_PORT}`)}`,
    `  routes: [${peers
      .filter((p) => p.name !== node.name)
      .map((p) => q(`nats-route://${p.host.ip}:${NATS_ROUTE_PORT}`))
      .join(', ')}]`,
    `}`,
    '',
  ].join('\n');
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function pollUntil(pred: () => Promise<boolean>, timeoutMs: number, what: string, log?: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred().catch(() => false))) {
    if (Date.now() > end) {
      const tail = log !== undefined && fs.existsSync(log) ? `\n--- ${log} (tail) ---\n${fs.readFileSync(log, 'utf8').slice(-2000)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tail}`);
    }
    await sleep(100);
  }
}

async function httpJson(url: string): Promise<unknown> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

/** Starts the whole topology; on any failure everything made so far is removed before the error is rethrown. */
export async function startReplicated(name: string, o: ReplicatedOptions = {}): Promise<ReplicatedCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gf-r3-${name}-`));
  fs.mkdirSync(path.join(dir, 'logs'));
  const net = createHostNetwork(['n1', 'n2', 'n3', 'w1']);
  const processes = new Map<string, HostProcess>();
  const all = new Set<ChildProcess>();
  const killAll = (): void => {
    for (const c of all) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  const dataPlane: DataPlaneOptions = {
    ackWaitMs: 3000,
    maxDeliver: 5,
    tasksMaxBytes: 256 * 1024 ** 2,
    resultsMaxBytes: 256 * 1024 ** 2,
    arraysMaxBytes: 1024 ** 3,
    ...o.dataPlane,
    replicas: o.dataPlane?.replicas ?? 3,
  };
  const prefix = 'gf';
  const taskQueue = `${name}-${randomBytes(3).toString('hex')}`;
  const logLevel = o.logLevel ?? 'warn';
  const nats: NatsNode[] = ['n1', 'n2', 'n3'].map((n) => {
    const host = net.host(n);
    return { name: n, host, url: `nats://${host.ip}:${NATS_PORT}`, monitor: `http://${host.ip}:${NATS_MONITOR_PORT}` };
  });
  const natsUrl = nats.map((n) => n.url).join(',');
  const temporalHost = net.host('n1');
  const temporalAddress = `${temporalHost.ip}:${TEMPORAL_PORT}`;
  const plan = o.temporalStore === 'sqlite' ? 'SQLite asked for' : temporalPostgresPlan();
  const temporalStore: TemporalStore =
    typeof plan === 'string'
      ? { kind: 'sqlite', file: path.join(dir, 'temporal.db'), why: plan }
      : { kind: 'postgres', address: `${temporalHost.ip}:5432`, dataDir: path.join(dir, 'pg', 'data') };
  let fleet: Fleet | undefined;
  const handles: DataPlane[] = [];

  const launch = (pname: string, host: SimHost, cmd: string, args: readonly string[], env: Record<string, string> = {}): HostProcess => {
    const log = path.join(dir, 'logs', `${pname}.log`);
    const fd = fs.openSync(log, 'a');
    // The environment a process reads is the cluster's own: nothing of this shell's GRAMFLEET_*.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GRAMFLEET_') && !k.startsWith('TEMPORAL_')));
    const child = spawn('ip', ['netns', 'exec', host.netns, cmd, ...args], { env: { ...base, ...env }, stdio: ['ignore', fd, fd], cwd: ROOT });
    fs.closeSync(fd);
    all.add(child);
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    const p: HostProcess = { name: pname, host: host.name, child, log, exited };
    processes.set(pname, p);
    return p;
  };

  const startNats = async (node: NatsNode): Promise<void> => {
    const conf = path.join(dir, `nats-${node.name}.conf`);
    fs.writeFileSync(conf, natsConfig(node, nats, path.join(dir, 'nats', node.name)));
    const p = launch(`nats-${node.name}`, node.host, binaryPath('nats-server'), ['-c', conf]);
    await pollUntil(
      async () => (await fetch(`${node.monitor}/healthz?js-enabled-only=true`, { signal: AbortSignal.timeout(2000) })).ok,
      30_000,
      `nats ${node.name}`,
      p.log,
    );
  };

  /** The Temporal CLI's dev server on its SQLite file. */
  const startDevServer = (file: string): HostProcess =>
    launch('temporal', temporalHost, binaryPath('temporal'), [
      'server',
      'start-dev',
      '--db-filename',
      file,
      // Bound to every address of its host: the dev server's frontend reaches its own history and
      // matching services on 127.0.0.1, which it refuses when bound to the host address only.
      '--ip',
      '0.0.0.0',
      '--port',
      String(TEMPORAL_PORT),
      '--http-port',
      String(TEMPORAL_PORT + 10),
      '--metrics-port',
      String(TEMPORAL_PORT + 11),
      '--headless',
      '--log-level',
      'warn',
    ]);

  /**
   * PostgreSQL on the Temporal host (initdb'd here, run as the postgres user: it refuses root),
   * Temporal's two databases and schemas (temporal-sql-tool), then the Temporal server on them
   * with the namespace `default` registered.
   */
  const startPostgresTemporal = async (p: PostgresPlan, data: string): Promise<HostProcess> => {
    const pgRoot = path.dirname(data);
    fs.mkdirSync(pgRoot);
    fs.chmodSync(dir, 0o711);
    fs.chownSync(pgRoot, p.uid, p.gid);
    await run('setpriv', [...asPostgres(p), p.initdb, '-D', data, '-U', 'temporal', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    // initdb trusts loopback only; the schema tool (root namespace) and the Temporal server reach
    // it over the test's private bridge.
    fs.appendFileSync(path.join(data, 'pg_hba.conf'), 'host all all 0.0.0.0/0 trust\n');
    await startPostgres(p, data);
    const sql = (db: string, ...args: string[]): Promise<string> =>
      run(p.sqlTool, ['--plugin', 'postgres12', '--ep', temporalHost.ip, '-p', '5432', '-u', 'temporal', '--db', db, ...args]);
    for (const [db, schema] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ] as const) {
      await sql(db, 'create-database');
      await sql(db, 'setup-schema', '-v', '0.0');
      await sql(db, 'update-schema', '-d', path.join(p.schema, 'v12', schema, 'versioned'));
    }
    fs.writeFileSync(temporalServerYaml, temporalServerConfig(`${temporalHost.ip}:5432`));
    return startTemporalServer(p);
  };
  const asPostgres = (p: PostgresPlan): string[] => [`--reuid=${p.uid}`, `--regid=${p.gid}`, '--init-groups', '--'];
  /** PostgreSQL on its data directory (initdb'd), as the postgres user; resolves once it listens. */
  const startPostgres = async (p: PostgresPlan, data: string): Promise<void> => {
    const pg = launch('postgres', temporalHost, 'setpriv', [
      ...asPostgres(p),
      p.postgres,
      '-D',
      data,
      '-h',
      temporalHost.ip,
      '-p',
      '5432',
      '-k',
      path.dirname(data),
    ]);
    await pollUntil(
      () =>
        run(p.isReady, ['-h', temporalHost.ip, '-p', '5432', '-t', '2'], 5_000).then(
          () => true,
          () => false,
        ),
      60_000,
      'PostgreSQL to accept connections',
      pg.log,
    );
  };
  const temporalServerYaml = path.join(dir, 'temporal-server.yaml');
  /** The Temporal server on the PostgreSQL store; resolves once namespace `default` answers. */
  const startTemporalServer = async (p: PostgresPlan): Promise<HostProcess> => {
    const server = launch('temporal', temporalHost, p.server, ['--config-file', temporalServerYaml, '--allow-no-auth', 'start']);
    await pollUntil(
      async () => {
        await run(
          binaryPath('temporal'),
          ['operator', 'namespace', 'create', '--namespace', 'default', '--address', temporalAddress, '--retention', '24h'],
          10_000,
        ).catch((e: Error) => {
          if (!/already exists|AlreadyExists/i.test(e.message)) throw e;
        });
        return true;
      },
      60_000,
      'the Temporal server to register namespace default',
      server.log,
    );
    return server;
  };

  let faultProxy: FaultProxy | string = 'not started';
  const proxyHost = net.host('w1');
  const proxyApi = `http://${proxyHost.ip}:${TOXIPROXY_API_PORT}`;
  const proxiedNatsUrl = nats.map((n, i) => `nats://${proxyHost.ip}:${TOXIPROXY_NATS_PORT + i}`).join(',');
  /** toxiproxy on w1, one proxy per NATS server; a reason string when its binary is not here. */
  const startFaultProxy = async (): Promise<FaultProxy | string> => {
    const bin = path.join(ROOT, '.gramfleet', 'bin', 'toxiproxy-server');
    if (!fs.existsSync(bin)) return `${path.relative(ROOT, bin)} is missing (scripts/setup.sh --test builds it from the Go module proxy)`;
    const cfg = path.join(dir, 'toxiproxy.json');
    fs.writeFileSync(
      cfg,
      JSON.stringify(
        nats.map((n, i) => ({
          name: `nats-${n.name}`,
          listen: `${proxyHost.ip}:${TOXIPROXY_NATS_PORT + i}`,
          upstream: `${n.host.ip}:${NATS_PORT}`,
          enabled: true,
        })),
      ),
    );
    const tp = launch('toxiproxy', proxyHost, bin, ['-host', proxyHost.ip, '-port', String(TOXIPROXY_API_PORT), '-config', cfg]);
    await pollUntil(async () => (await fetch(`${proxyApi}/proxies`, { signal: AbortSignal.timeout(2000) })).ok, 30_000, 'toxiproxy', tp.log);
    const call = async (method: string, p: string, body?: object): Promise<void> => {
      const r = await fetch(`${proxyApi}${p}`, {
        method,
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
        signal: AbortSignal.timeout(5000),
      });
      if (!r.ok && !(method === 'DELETE' && r.status === 404)) throw new Error(`toxiproxy ${method} ${p}: ${r.status} ${await r.text()}`);
    };
    return {
      async add(name, type, attributes, stream = 'downstream') {
        for (const n of nats) await call('POST', `/proxies/nats-${n.name}/toxics`, { name, type, stream, toxicity: 1, attributes });
      },
      async remove(name) {
        for (const n of nats) await call('DELETE', `/proxies/nats-${n.name}/toxics/${name}`);
      },
    };
  };

  const stop = async (): Promise<void> => {
    for (const h of handles.splice(0)) await h.close().catch(() => undefined);
    await fleet?.close().catch(() => undefined);
    // Clients first, servers last; SIGTERM, then SIGKILL for whatever has not exited in 10 s.
    const order = ['worker', 'orchestrator', 'toxiproxy', 'temporal', 'postgres', 'nats'];
    for (const prefixName of order) {
      const group = [...processes.values()].filter((p) => p.name.startsWith(prefixName));
      for (const p of group) p.child.kill('SIGTERM');
      await Promise.all(
        group.map(async (p) => {
          const t = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
          await p.exited;
          clearTimeout(t);
        }),
      );
    }
    killAll();
    process.removeListener('exit', killAll);
    net.destroy();
    if (process.env['GRAMFLEET_KEEP_TEST_DIRS'] === undefined) fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(nats.map(startNats));
    // The JetStream meta group has a leader and all three servers: streams can be placed at R3.
    await pollUntil(
      async () => {
        const jsz = (await httpJson(`${nats[0]!.monitor}/jsz`)) as { meta_cluster?: { leader?: string; cluster_size?: number; replicas?: unknown[] } };
        return (jsz.meta_cluster?.leader ?? '') !== '' && (jsz.meta_cluster?.cluster_size ?? 0) >= 3;
      },
      30_000,
      'the JetStream meta leader of three servers',
    );

    const temporal =
      typeof plan === 'string' || temporalStore.kind === 'sqlite'
        ? startDevServer(temporalStore.kind === 'sqlite' ? temporalStore.file : '')
        : await startPostgresTemporal(plan, temporalStore.dataDir);
    await pollUntil(
      async () => {
        const conn = await Connection.connect({ address: temporalAddress, connectTimeout: 2_000 });
        try {
          await conn.workflowService.describeNamespace({ namespace: 'default' });
          return true;
        } finally {
          await conn.close();
        }
      },
      60_000,
      'the Temporal server',
      temporal.log,
    );

    // Streams and buckets are declared once, at R3, before any other process opens them.
    const admin = await connectNats(natsUrl, 'r3-admin');
    const dp = await openDataPlane(admin, resourceNames(prefix), dataPlane);
    handles.push(dp);
    await openCampaignTable(admin, prefix, dataPlane.replicas ?? 3);
    await new Kvm(admin).create(resourceNames(prefix).holdersBucket, { history: 1, storage: StorageType.File, replicas: dataPlane.replicas ?? 3 });

    const common = { GRAMFLEET_NATS_URL: natsUrl, GRAMFLEET_PREFIX: prefix, GRAMFLEET_LOG_LEVEL: logLevel, ...dataPlaneEnv(dataPlane) };
    launch('orchestrator', net.host('n2'), process.execPath, [path.join(ROOT, 'orchestrator', 'dist', 'host', 'worker-host.js'), `--cluster=${dir}`], {
      ...common,
      GRAMFLEET_TEMPORAL_ADDRESS: temporalAddress,
      GRAMFLEET_NAMESPACE: 'default',
      GRAMFLEET_TASK_QUEUE: taskQueue,
      GRAMFLEET_HEALTH_PORT: '9100',
    });
    const workerScript = path.join(ROOT, 'workers', 'dist', 'main.js');
    faultProxy = await startFaultProxy();
    for (const [wname, host] of [
      ['worker-a', 'n3'],
      ['worker-b', 'w1'],
    ] as const) {
      launch(wname, net.host(host), process.execPath, [...relaxedSimdNodeArgs(), workerScript, `--cluster=${dir}`], {
        ...common,
        ...(wname === 'worker-b' && typeof faultProxy !== 'string' ? { GRAMFLEET_NATS_URL: proxiedNatsUrl } : {}),
        GRAMFLEET_WORKER_ID: `${wname}-${net.id}`,
        GRAMFLEET_THREADS: '1',
        GRAMFLEET_KERNEL_CACHE_MB: '256',
        GRAMFLEET_HEALTH_PORT: '9101',
      });
    }
    await pollUntil(
      async () => {
        let k = 0;
        for await (const key of await dp.workers.keys()) {
          void key;
          k++;
        }
        return k >= 2;
      },
      60_000,
      'both workers registered',
      path.join(dir, 'logs', 'worker-a.log'),
    );
    fleet = await connect({ temporalAddress, natsUrl, taskQueue, prefix, namespace: 'default', dataPlane, natsAuth: {} });
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }

  const c: ReplicatedCluster = {
    net,
    dir,
    nats,
    natsUrl,
    temporalAddress,
    temporalStore,
    taskQueue,
    prefix,
    dataPlane,
    fleet,
    processes,
    get faultProxy() {
      return faultProxy;
    },
    async dataPlaneHandle() {
      const nc = await connectNats(natsUrl, 'r3-test');
      const h = await openDataPlane(nc, resourceNames(prefix), dataPlane);
      handles.push(h);
      return h;
    },
    async streamLeader(stream) {
      const h = handles[0]!;
      return (await h.jsm.streams.info(stream)).cluster?.leader;
    },
    async kill(pname, signal = 'SIGKILL') {
      const p = processes.get(pname);
      if (p === undefined) throw new Error(`no process named ${pname}`);
      // Its children too (PostgreSQL's backends outlive a killed postmaster and hold its shared
      // memory), as when the container or host of the process dies.
      for (const pid of descendants(p.child.pid ?? -1))
        try {
          process.kill(pid, signal);
        } catch {
          /* gone */
        }
      p.child.kill(signal);
      await p.exited;
      processes.delete(pname);
    },
    async restartNats(nname) {
      const node = nats.find((n) => n.name === nname);
      if (node === undefined) throw new Error(`no NATS server named ${nname}`);
      await startNats(node);
    },
    async restartTemporal() {
      if (typeof plan === 'string' || temporalStore.kind === 'sqlite') {
        const t = startDevServer(temporalStore.kind === 'sqlite' ? temporalStore.file : '');
        await pollUntil(() => tcpOpen(temporalHost.ip, TEMPORAL_PORT), 60_000, 'the Temporal dev server', t.log);
      } else await startTemporalServer(plan);
    },
    async restartPostgres() {
      if (typeof plan === 'string' || temporalStore.kind !== 'postgres') throw new Error('Temporal runs on SQLite here: there is no PostgreSQL');
      await startPostgres(plan, temporalStore.dataDir);
    },
    stop,
  };
  return c;
}
