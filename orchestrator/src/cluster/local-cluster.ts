/**
 * The embedded local cluster, like `ray.init()`: a Temporal dev server with an on-disk
 * database, a `nats-server` with JetStream on an on-disk store, the orchestrator worker and WASM
 * workers — on free ports, recorded in `<dataDir>/cluster.json`. NATS requires TLS and an
 * identity: the CA, the server certificate and a credential per role (and per worker) are made
 * in `<dataDir>/security/` (workers/src/security/local.ts); each process connects as its role. `stop()` stops exactly the
 * processes that the state file names (matched by pid and command line).
 */
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { StorageType } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { GramfleetError, isGramfleetError, pinToken, resourceNames, silentLogger, type Logger } from '@gramfleet/core';
import {
  connectNats,
  ensureLocalNatsSecurity,
  issueLocalIdentity,
  localNatsServerConfig,
  natsAuthEnv,
  openDataPlane,
  relaxedSimdNodeArgs,
  type DataPlaneOptions,
  type LocalNatsSecurity,
  type NatsAuth,
  type NatsRole,
} from '@gramfleet/workers';
import { openCampaignTable } from '../campaign/table';
import { binaryPath, repoRoot } from './binaries';
import { freePort, pidAlive, sleep, spawnManaged, stopPid, waitForPort, type ManagedProcess } from './proc';
import { clientConfig } from '../client/config';
import { PLAINTEXT_TEMPORAL_ENV } from '../security/temporal';

/** Options of {@link LocalCluster.start}. */
export interface LocalClusterOptions {
  /** Where state, databases, stores and logs live. */
  readonly dataDir: string;
  /** WASM worker processes. @default number of cores */
  readonly workers?: number;
  /** Kernel threads per worker process. @default the cores shared out over the workers (at least 1): 1 worker on 2 cores runs 2 */
  readonly threadsPerWorker?: number;
  /** Threads one shard's gemm / kernel-block / csr-spmv is split over inside a worker (`wasm-mt`). @default 1 */
  readonly threadsPerShard?: number;
  /** Kernel build of the workers: `auto` (relaxed-SIMD FMA where Node accepts it, with the V8 flag on Node 20) or `simd`. @default 'auto' */
  readonly kernelBuild?: 'auto' | 'simd';
  /** Let the processes outlive this one (`gramfleet up`). @default false */
  readonly detached?: boolean;
  /**
   * The IPv4 address of this host that clients on other hosts or network namespaces reach the
   * cluster at (`gramfleet up --bind`): NATS listens on it (its certificate names it too), and the
   * cluster's addresses name it. The Temporal dev server then listens on every address (0.0.0.0):
   * it dials its own services on 127.0.0.1, so it cannot listen on one other address alone.
   * Monitoring, the Web UI, the dashboard and the jobs API stay on loopback.
   * @default '127.0.0.1'
   */
  readonly bindAddress?: string;
  /** JetStream resource prefix. @default 'gf' */
  readonly prefix?: string;
  /** Temporal task queue of the orchestrator. @default 'gramfleet' */
  readonly taskQueue?: string;
  /** Data-plane tunables shared by every process. */
  readonly dataPlane?: DataPlaneOptions;
  /** Worker log level. @default 'info' */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * The host store every process of the cluster shares (sealed arrays in shared memory, read
   * without copies): its directory and size limit, or false for none. @default a directory under
   * /dev/shm named after the data directory, limited to a quarter of the smaller of memory and /dev/shm
   */
  readonly hostStore?: { readonly dir?: string; readonly maxBytes?: number } | false;
  /**
   * Dynamic config values for the Temporal dev server (`--dynamic-config-value key=value`, the
   * value as JSON), e.g. `{ 'limit.historyCount.suggestContinueAsNew': 60 }` to make workflows
   * continue as new early in tests. @default none
   */
  readonly temporalDynamicConfig?: Readonly<Record<string, string | number | boolean>>;
  /**
   * NATS with TLS and per-role credentials (made in `<dataDir>/security/`). False starts it
   * without either, on loopback — only for measuring what security costs (bench/cluster). @default true
   */
  readonly natsSecurity?: boolean;
  /**
   * Each orchestrator and worker process serves /healthz, /readyz and Prometheus /metrics
   * (GRAMFLEET_HEALTH_PORT). False starts them without: no metrics are counted at all — only
   * for measuring what metrics and tracing cost (bench/cluster/telemetry.js). Not kept for the
   * restarts of an attached cluster. @default true
   */
  readonly metrics?: boolean;
  /** Start the dashboard process (orchestrator/src/dashboard), on a free loopback port. @default true when detached (`gramfleet up`), else false */
  readonly dashboard?: boolean;
  /**
   * Start the jobs HTTP API beside the cluster (`gramfleet api`, orchestrator/src/api/), on
   * loopback; its address is `state.apiUrl`. @default true when `detached` (`gramfleet up`), else false
   */
  readonly api?: boolean;
  readonly log?: Logger;
}

/** One process in the state file. */
export interface ProcessEntry {
  readonly name: string;
  readonly pid: number;
  /** A string found in the process's command line, so a recycled pid is never killed. */
  readonly marker: string;
  /** Where it serves Prometheus metrics, `http://127.0.0.1:<port>/metrics` (absent for nats-server). */
  readonly metrics?: string;
}

/** The content of `cluster.json`. */
export interface ClusterState {
  readonly version: 1;
  readonly dataDir: string;
  readonly natsUrl: string;
  /** The address NATS and the Temporal frontend listen on (absent: 127.0.0.1). */
  readonly bindAddress?: string;
  readonly natsPort: number;
  readonly natsMonitorPort: number;
  readonly temporalAddress: string;
  readonly temporalPort: number;
  /** The Temporal Web UI of the dev server, `http://127.0.0.1:<port>` (absent in state files of older clusters). */
  readonly temporalUi?: string;
  readonly temporalUiPort?: number;
  /** The dashboard, `http://127.0.0.1:<port>/`, when the cluster runs one. */
  readonly dashboard?: string;
  readonly dashboardPort?: number;
  /** The jobs HTTP API, `http://127.0.0.1:<port>` (absent when the cluster runs without it). */
  readonly apiUrl?: string;
  readonly apiPort?: number;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly prefix: string;
  readonly dataPlane: DataPlaneOptions;
  /** The host store the cluster's processes share (removed by stop); absent when it has none. */
  readonly hostStore?: { readonly dir: string; readonly maxBytes: number };
  /** NATS security material (TLS CA, credentials per role); absent when NATS runs without it. */
  readonly natsSecurity?: LocalNatsSecurity;
  readonly startedAt: string;
  /** How the cluster's workers were started, so a supervisor or `attach` restarts them alike. */
  readonly launch?: {
    readonly threads: number;
    readonly threadsPerShard: number;
    readonly kernelBuild: 'auto' | 'simd';
    readonly logLevel: string;
    readonly plannedWorkers: number;
  };
  processes: ProcessEntry[];
}

/** `o.bindAddress` checked: an IPv4 address this host has (INPUT_INVALID naming it otherwise); 127.0.0.1 when absent. */
function checkBindAddress(a: string | undefined): string {
  if (a === undefined || a === '127.0.0.1') return '127.0.0.1';
  if (net.isIPv4(a) && a !== '0.0.0.0') {
    const mine = Object.values(os.networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address));
    if (mine.includes(a)) return a;
    throw new GramfleetError('INPUT_INVALID', `bindAddress ${a} is not an address of this host (it has ${mine.filter((x) => net.isIPv4(x)).join(', ')})`, {
      field: 'bindAddress',
      value: a,
    });
  }
  throw new GramfleetError('INPUT_INVALID', `bindAddress must be an IPv4 address of this host (not 0.0.0.0), got ${JSON.stringify(a)}`, {
    field: 'bindAddress',
    value: a,
  });
}

/** Path of the state file in a data directory. */
export function stateFile(dataDir: string): string {
  return path.join(dataDir, 'cluster.json');
}

/** The default data directory: $GRAMFLEET_HOME or `<repo>/.gramfleet/local`. */
export function defaultDataDir(): string {
  return clientConfig().home;
}

/** A local cluster handle, either started here or attached from its state file. */
export class LocalCluster {
  private readonly children = new Map<string, ManagedProcess>();
  private readonly log: Logger;
  private readonly detached: boolean;
  private readonly logLevel: string;
  private readonly threads: number;
  private readonly threadsPerShard: number;
  private readonly kernelBuild: 'auto' | 'simd';
  /** Whether processes serve /metrics (LocalClusterOptions.metrics). */
  private readonly metricsOn: boolean;
  private readonly temporalDynamicConfig: Readonly<Record<string, string | number | boolean>>;
  /** Workers the cluster starts with (splits the kernel-row cache budget); undefined when attached. */
  private plannedWorkers: number | undefined;

  private constructor(
    readonly state: ClusterState,
    o: Partial<LocalClusterOptions> = {},
  ) {
    const was = state.launch;
    this.log = o.log ?? silentLogger;
    this.detached = o.detached ?? false;
    this.logLevel = o.logLevel ?? was?.logLevel ?? 'info';
    this.threads = o.threadsPerWorker ?? was?.threads ?? Math.max(1, Math.floor(os.cpus().length / (o.workers ?? os.cpus().length)));
    this.threadsPerShard = o.threadsPerShard ?? was?.threadsPerShard ?? 1;
    this.kernelBuild = o.kernelBuild ?? was?.kernelBuild ?? 'auto';
    this.plannedWorkers = was?.plannedWorkers;
    this.temporalDynamicConfig = o.temporalDynamicConfig ?? {};
    this.metricsOn = o.metrics ?? true;
  }

  /** A free port for a process's health server, and its GRAMFLEET_HEALTH_PORT (none when metrics are off). */
  private async healthEnv(): Promise<{ port?: number; env: Record<string, string> }> {
    if (!this.metricsOn) return { env: {} };
    const port = await freePort();
    return { port, env: { GRAMFLEET_HEALTH_PORT: String(port) } };
  }

  /** Starts every process and waits until the cluster serves. */
  static async start(o: LocalClusterOptions): Promise<LocalCluster> {
    if (o.threadsPerShard !== undefined && (!Number.isInteger(o.threadsPerShard) || o.threadsPerShard < 1 || o.threadsPerShard > 256)) {
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `threadsPerShard must be an integer in [1, 256], got ${o.threadsPerShard}`, {
        field: 'threadsPerShard',
        bound: '[1, 256]',
        value: o.threadsPerShard,
      });
    }
    // The environment its processes inherit is checked before any of them starts.
    clientConfig();
    const dataDir = path.resolve(o.dataDir);
    fs.mkdirSync(path.join(dataDir, 'logs'), { recursive: true });
    // Any live process of an earlier start (nats-server may be the one that died) is a cluster.
    const existing = await LocalCluster.find(dataDir);
    if (existing !== null) {
      const alive = existing.status().filter((p) => p.alive);
      throw new GramfleetError(
        'CLUSTER_START_FAILED',
        `a cluster is already running from ${dataDir} (${alive.map((p) => `${p.name} pid ${p.pid}`).join(', ')}); stop it first (gramfleet down)`,
        { dataDir, alive: alive.map((p) => p.name) },
      );
    }
    const prefix = o.prefix ?? 'gf';
    resourceNames(prefix);
    const bind = checkBindAddress(o.bindAddress);
    const [natsPort, natsMonitorPort, temporalPort, temporalUiPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const state: ClusterState = {
      version: 1,
      dataDir,
      natsUrl: `nats://${bind}:${natsPort}`,
      ...(bind !== '127.0.0.1' ? { bindAddress: bind } : {}),
      natsPort,
      natsMonitorPort,
      temporalAddress: `${bind}:${temporalPort}`,
      temporalPort,
      temporalUi: `http://127.0.0.1:${temporalUiPort}`,
      temporalUiPort,
      namespace: 'default',
      taskQueue: o.taskQueue ?? 'gramfleet',
      prefix,
      dataPlane: o.dataPlane ?? {},
      ...hostStoreOf(dataDir, o.hostStore),
      startedAt: new Date().toISOString(),
      processes: [],
    };
    const secured = o.natsSecurity !== false ? { natsSecurity: await ensureLocalNatsSecurity(dataDir, prefix, bind !== '127.0.0.1' ? [bind] : []) } : {};
    const c = new LocalCluster({ ...state, ...secured }, o);
    (c.state as { launch?: ClusterState['launch'] }).launch = {
      threads: c.threads,
      threadsPerShard: c.threadsPerShard,
      kernelBuild: c.kernelBuild,
      logLevel: c.logLevel,
      plannedWorkers: o.workers ?? os.cpus().length,
    };
    try {
      await c.startNats();
      await c.startTemporalOnFreePorts();
      // Declare streams and buckets once, as the admin: workers and clients may not create them.
      const nc = await connectNats(state.natsUrl, 'gramfleet-launcher', c.natsAuth('admin'));
      const replicas = state.dataPlane.replicas ?? 1;
      await openCampaignTable(nc, prefix, replicas);
      await new Kvm(nc).create(resourceNames(prefix).holdersBucket, { history: 1, storage: StorageType.File, replicas });
      await (await openDataPlane(nc, resourceNames(prefix), state.dataPlane)).close();
      await c.startOrchestrator();
      const n = o.workers ?? os.cpus().length;
      c.plannedWorkers = n;
      for (let i = 0; i < n; i++) await c.addWorker();
      c.save();
      await c.waitForWorkers(n);
      if (o.dashboard ?? o.detached ?? false) {
        await c.startDashboard();
        c.save();
      }
      if (o.api ?? o.detached === true) await c.startApi();
      return c;
    } catch (e) {
      await c.stop().catch(() => undefined);
      throw e;
    }
  }

  /**
   * The cluster of a state file while any of its processes lives (the supervisor included), even
   * one whose nats-server died; null when none does. `up` refuses to start over it, `down` stops
   * what is left, `status` shows what is dead.
   */
  static async find(dataDir: string, o: Partial<LocalClusterOptions> = {}): Promise<LocalCluster | null> {
    const f = stateFile(path.resolve(dataDir));
    if (!fs.existsSync(f)) return null;
    let state: ClusterState;
    try {
      state = JSON.parse(fs.readFileSync(f, 'utf8')) as ClusterState;
    } catch {
      return null;
    }
    if (!state.processes.some((p) => pidAlive(p.pid, p.marker))) return null;
    return new LocalCluster(state, o);
  }

  /** Attaches to a running cluster from its state file; null when none runs there. */
  static async attach(dataDir: string, o: Partial<LocalClusterOptions> = {}): Promise<LocalCluster | null> {
    const f = stateFile(path.resolve(dataDir));
    if (!fs.existsSync(f)) return null;
    const state = JSON.parse(fs.readFileSync(f, 'utf8')) as ClusterState;
    const nats = state.processes.find((p) => p.name === 'nats');
    if (nats === undefined || !pidAlive(nats.pid, nats.marker)) return null;
    return new LocalCluster(state, o);
  }

  /**
   * How a process connects to this cluster's NATS as `role` (the files GRAMFLEET_NATS_CREDS and
   * GRAMFLEET_NATS_CA name); empty when the cluster runs NATS without security.
   */
  natsAuth(role: NatsRole = 'client'): NatsAuth {
    const s = this.state.natsSecurity;
    return s === undefined ? {} : { credsFile: s.creds[role], caFile: s.caFile };
  }

  /** A new identity of `role` for one worker process (its own credentials, allowed its own lane only). */
  private async workerAuth(role: 'wasm-worker' | 'gpu-worker', workerId: string): Promise<Record<string, string>> {
    const s = this.state.natsSecurity;
    if (s === undefined) return natsAuthEnv({});
    const pin = pinToken(workerId);
    return natsAuthEnv({ credsFile: await issueLocalIdentity(s, role, pin, pin), caFile: s.caFile });
  }

  /** Status of each process in the state file (with its metrics endpoint when it serves one). */
  status(): { name: string; pid: number; alive: boolean; metrics?: string }[] {
    return this.state.processes.map((p) => ({
      name: p.name,
      pid: p.pid,
      alive: pidAlive(p.pid, p.marker),
      ...(p.metrics !== undefined ? { metrics: p.metrics } : {}),
    }));
  }

  /** Stops every process this cluster started (workers first, servers last). */
  async stop(): Promise<void> {
    const order = [...this.state.processes].sort((a, b) => rank(a.name) - rank(b.name));
    for (const p of order) await stopPid(p.pid, p.marker, p.name.startsWith('worker') ? 15_000 : 10_000);
    this.state.processes = [];
    fs.rmSync(stateFile(this.state.dataDir), { force: true });
    if (this.state.hostStore !== undefined) fs.rmSync(this.state.hostStore.dir, { recursive: true, force: true });
  }

  /**
   * Starts one more WASM worker process; returns its name. `testOnlyCorruptOutputs` (tests only)
   * makes it return wrong bytes on purpose, for the verification mode to catch; `kernelTimeoutMs` sets its
   * GRAMFLEET_KERNEL_TIMEOUT_MS.
   */
  async addWorker(o: { readonly testOnlyCorruptOutputs?: boolean; readonly kernelTimeoutMs?: number; readonly name?: string } = {}): Promise<string> {
    const n = this.state.processes.filter((p) => p.name.startsWith('worker-')).length;
    const name = o.name ?? `worker-${n}`;
    const script = path.join(repoRoot(), 'workers', 'dist', 'main.js');
    // Node 20 runs the relaxed-SIMD FMA kernel build only with a V8 flag on the worker's command line.
    const nodeArgs = this.kernelBuild === 'simd' ? [] : relaxedSimdNodeArgs();
    const workerId = `${name}-${process.pid}-${Date.now().toString(36)}`;
    const auth = await this.workerAuth('wasm-worker', workerId);
    const health = await this.healthEnv();
    this.launch(
      name,
      process.execPath,
      [...nodeArgs, script, `--cluster=${this.state.dataDir}`],
      {
        GRAMFLEET_NATS_URL: this.state.natsUrl,
        ...auth,
        GRAMFLEET_PREFIX: this.state.prefix,
        GRAMFLEET_THREADS: String(this.threads),
        GRAMFLEET_WORKER_ID: workerId,
        GRAMFLEET_LOG_LEVEL: this.logLevel,
        ...dataPlaneEnv(this.state.dataPlane),
        ...hostStoreEnv(this.state),
        GRAMFLEET_THREADS_PER_SHARD: String(this.threadsPerShard),
        GRAMFLEET_KERNEL_BUILD: this.kernelBuild,
        ...this.kernelCacheEnv(n + 1),
        ...(o.testOnlyCorruptOutputs === true ? { GRAMFLEET_TEST_ONLY_CORRUPT_OUTPUTS: '1' } : {}),
        ...(o.kernelTimeoutMs !== undefined ? { GRAMFLEET_KERNEL_TIMEOUT_MS: String(o.kernelTimeoutMs) } : {}),
        ...health.env,
      },
      health.port,
    );
    return name;
  }

  /**
   * The workers of one host share its memory: unless GRAMFLEET_KERNEL_CACHE_MB is set, each
   * gets a quarter of the host's memory divided by the workers (the planned count, or the count
   * with this one for a worker added later), so their kernel-row caches together keep to a
   * quarter, as one worker's would.
   */
  private kernelCacheEnv(withThis: number): Record<string, string> {
    if (clientConfig().kernelCacheMB !== undefined) return {};
    const workers = Math.max(1, this.plannedWorkers ?? 0, withThis);
    return { GRAMFLEET_KERNEL_CACHE_MB: String(Math.floor(os.totalmem() / 4 / workers / 2 ** 20)) };
  }

  /**
   * Starts a GPU worker process (gpu-workers/dist/main.js) on device `ordinal` and waits until
   * it is registered. Without a CUDA device it exits with status 3 before registering; this
   * then rejects with `WORKER_NO_DEVICE` (its log names the reason) and forgets the process.
   */
  async addGpuWorker(ordinal = 0, timeoutMs = 120_000): Promise<string> {
    const n = this.state.processes.filter((p) => p.name.startsWith('worker-gpu-')).length;
    const name = `worker-gpu-${n}`;
    const workerId = `${name}-${process.pid}-${Date.now().toString(36)}`;
    const script = path.join(repoRoot(), 'gpu-workers', 'dist', 'main.js');
    const auth = await this.workerAuth('gpu-worker', workerId);
    const health = await this.healthEnv();
    const mp = this.launch(
      name,
      process.execPath,
      [script, `--cluster=${this.state.dataDir}`],
      {
        GRAMFLEET_NATS_URL: this.state.natsUrl,
        ...auth,
        GRAMFLEET_PREFIX: this.state.prefix,
        GRAMFLEET_WORKER_ID: workerId,
        GRAMFLEET_GPU_ORDINAL: String(ordinal),
        GRAMFLEET_LOG_LEVEL: this.logLevel,
        ...dataPlaneEnv(this.state.dataPlane),
        ...hostStoreEnv(this.state),
        ...health.env,
      },
      health.port,
    );
    this.save();
    let exit: number | null | undefined;
    void mp.exited.then((c) => {
      exit = c;
    });
    const nc = await connectNats(this.state.natsUrl, 'gramfleet-launcher', this.natsAuth('admin'));
    try {
      const dp = await openDataPlane(nc, resourceNames(this.state.prefix), this.state.dataPlane);
      const until = Date.now() + timeoutMs;
      while ((await dp.workers.get(workerId)) === null) {
        if (exit !== undefined || Date.now() > until) {
          this.state.processes = this.state.processes.filter((p) => p.name !== name);
          this.save();
          const log = path.join(this.state.dataDir, 'logs', `${name}.log`);
          if (exit === 3) throw new GramfleetError('WORKER_NO_DEVICE', `GPU worker ${name} found no CUDA device and exited; see ${log}`, { name, log });
          throw new GramfleetError(
            'CLUSTER_START_FAILED',
            `GPU worker ${name} ${exit !== undefined ? `exited with status ${String(exit)}` : `did not register within ${timeoutMs} ms`}; see ${log}`,
            { name, log },
          );
        }
        await sleep(100);
      }
      return name;
    } finally {
      await nc.close();
    }
  }

  /** Waits until `count` workers are registered (heartbeating) in the worker registry. */
  async waitForWorkers(count: number, timeoutMs = 60_000): Promise<void> {
    const nc = await connectNats(this.state.natsUrl, 'gramfleet-launcher', this.natsAuth('admin'));
    try {
      const dp = await openDataPlane(nc, resourceNames(this.state.prefix), this.state.dataPlane);
      const until = Date.now() + timeoutMs;
      for (;;) {
        let k = 0;
        for await (const key of await dp.workers.keys()) {
          void key;
          k++;
        }
        if (k >= count) return;
        if (Date.now() > until)
          throw new GramfleetError(
            'CLUSTER_START_FAILED',
            `only ${k} of ${count} workers registered within ${timeoutMs} ms; see ${path.join(this.state.dataDir, 'logs')}`,
            { registered: k, expected: count },
          );
        await sleep(100);
      }
    } finally {
      await nc.close();
    }
  }

  /** Kills a process by name with a signal (tests use SIGKILL to simulate a crash). */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.entry(name);
    await stopPid(p.pid, p.marker, 10_000, signal);
    this.state.processes = this.state.processes.filter((q) => q !== p);
    this.save();
  }

  /**
   * Starts again, on the same addresses and stores, every process of the state file that is dead
   * (the supervisor's job; see supervisor.ts). Returns the names restarted.
   */
  async restartDead(): Promise<string[]> {
    const dead = this.restartOrder(this.state.processes.filter((p) => p.name !== 'supervisor' && !pidAlive(p.pid, p.marker)).map((p) => p.name));
    for (const name of dead) await this.restart(name);
    return dead;
  }

  /** `names` in the order to restart them: servers first, since the orchestrator and workers connect to them. */
  restartOrder(names: readonly string[]): string[] {
    return [...names].sort((a, b) => rank(b) - rank(a));
  }

  /** Starts the process `name` again on its address and store (whatever is left of it is stopped first). */
  async restart(name: string): Promise<void> {
    await this.kill(name);
    try {
      if (name === 'nats') await this.startNats();
      else if (name === 'temporal') await this.startTemporal();
      else if (name === 'orchestrator') await this.startOrchestrator();
      else if (name === 'dashboard') await this.startDashboard();
      else if (name === 'api') await this.startApi();
      else if (name.startsWith('worker-gpu-')) await this.addGpuWorker();
      else if (name.startsWith('worker-')) await this.addWorker({ name });
    } finally {
      // A start that failed must leave the process in the state file, dead, so that the next try
      // sees it: `kill` took it out, and a start that threw before launching put nothing back
      // (a Temporal server that never served was then forgotten, and the cluster stalled for good).
      if (!this.state.processes.some((p) => p.name === name)) this.state.processes.push({ name, pid: 0, marker: this.state.dataDir });
      this.save();
    }
  }

  /**
   * Starts the supervisor (`gramfleet supervise`), a detached process that restarts any of the
   * cluster's processes that dies; `stop` stops it first.
   */
  async startSupervisor(): Promise<void> {
    const bin = path.join(repoRoot(), 'orchestrator', 'bin', 'gramfleet.js');
    this.launch('supervisor', process.execPath, [bin, 'supervise', '--data-dir', this.state.dataDir], {});
    this.save();
  }

  /**
   * Starts the jobs HTTP API (`gramfleet api`) on loopback, on the port of the state file when it
   * has one (a restart keeps the address), and waits until it answers; returns its URL.
   */
  async startApi(): Promise<string> {
    const s = this.state as { apiUrl?: string; apiPort?: number };
    const port = s.apiPort ?? (await freePort());
    const bin = path.join(repoRoot(), 'orchestrator', 'bin', 'gramfleet.js');
    const mp = this.launch('api', process.execPath, [bin, 'api', '--data-dir', this.state.dataDir, '--port', String(port)], {});
    s.apiPort = port;
    s.apiUrl = `http://127.0.0.1:${port}`;
    this.save();
    await waitForPort(port, 60_000, 'jobs API', () => pidAlive(mp.pid, this.state.dataDir));
    return s.apiUrl;
  }

  /** Restarts the NATS server on the same port and store (clients reconnect). */
  async restartNats(downMs = 0): Promise<void> {
    await this.kill('nats', 'SIGTERM');
    if (downMs > 0) await sleep(downMs);
    await this.startNats();
    this.save();
  }

  /** Restarts the Temporal dev server on the same port and database. */
  async restartTemporal(downMs = 0): Promise<void> {
    await this.kill('temporal', 'SIGTERM');
    if (downMs > 0) await sleep(downMs);
    await this.startTemporal();
    this.save();
  }

  /** Restarts the orchestrator worker process. */
  async restartOrchestrator(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.kill('orchestrator', signal);
    await this.startOrchestrator();
    this.save();
  }

  /**
   * Starts again whichever of nats-server, the Temporal dev server and the orchestrator is
   * not in the cluster any more (after {@link kill}), on the same ports and stores, then
   * `workers` more WASM workers. Used to bring a whole cluster back after a full stop.
   */
  async resume(workers = 0): Promise<void> {
    const has = (n: string): boolean => this.state.processes.some((p) => p.name === n);
    if (!has('nats')) await this.startNats();
    if (!has('temporal')) await this.startTemporal();
    if (!has('orchestrator')) await this.startOrchestrator();
    for (let i = 0; i < workers; i++) await this.addWorker();
    this.save();
  }

  private entry(name: string): ProcessEntry {
    const p = this.state.processes.find((q) => q.name === name);
    if (p === undefined) throw new GramfleetError('CLUSTER_NOT_RUNNING', `no process named ${name} in this cluster`, { name });
    return p;
  }

  private launch(name: string, cmd: string, args: string[], env: Record<string, string>, metricsPort?: number): ManagedProcess {
    // The cluster's processes inherit this one's environment (checked by clientConfig at start;
    // each process's own config module reads its variables), with the cluster's on top.
    // eslint-disable-next-line no-restricted-properties
    const childEnv = { ...process.env, ...env };
    const mp = spawnManaged({
      name,
      cmd,
      args,
      env: childEnv,
      detached: this.detached,
      logFile: path.join(this.state.dataDir, 'logs', `${name}.log`),
      cwd: repoRoot(),
    });
    this.children.set(name, mp);
    this.state.processes.push({
      name,
      pid: mp.pid,
      marker: this.state.dataDir,
      ...(metricsPort !== undefined ? { metrics: `http://127.0.0.1:${metricsPort}/metrics` } : {}),
    });
    if (!this.detached) killOnExit(mp.pid);
    return mp;
  }

  private async startNats(): Promise<void> {
    const s = this.state;
    const sec = s.natsSecurity;
    let args: string[];
    if (sec !== undefined) {
      // TLS, operator-mode accounts and JetStream are set in a config file (flags cannot).
      const conf = path.join(sec.dir, 'nats-server.conf');
      const text = localNatsServerConfig(sec, {
        host: s.bindAddress ?? '127.0.0.1',
        port: s.natsPort,
        monitorPort: s.natsMonitorPort,
        monitorHost: '127.0.0.1',
        storeDir: path.join(s.dataDir, 'nats'),
        serverName: 'gramfleet-local',
      });
      fs.writeFileSync(conf, text, { mode: 0o600 });
      args = ['-c', conf];
    } else {
      args = [
        '-js',
        '-sd',
        path.join(s.dataDir, 'nats'),
        '-a',
        s.bindAddress ?? '127.0.0.1',
        '-p',
        String(s.natsPort),
        '-m',
        String(s.natsMonitorPort),
        '--server_name',
        'gramfleet-local',
      ];
    }
    const mp = this.launch('nats', binaryPath('nats-server'), args, {});
    let alive = true;
    void mp.exited.then(() => {
      alive = false;
    });
    await waitForPort(s.natsPort, 20_000, 'nats-server', () => alive, s.bindAddress);
    // (Without NATS security, nats-server's flags put its monitoring beside its clients' port.)
    const monitorHost = sec !== undefined ? '127.0.0.1' : (s.bindAddress ?? '127.0.0.1');
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      const ok = await fetch(`http://${monitorHost}:${s.natsMonitorPort}/healthz?js-enabled-only=true`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await sleep(100);
    }
    throw new GramfleetError('CLUSTER_START_FAILED', 'nats-server JetStream did not become healthy', {});
  }

  /**
   * First start of the Temporal dev server: a server that exits before it listens (a port it
   * takes besides the frontend's was taken between our probe and its bind, as happens when many
   * clusters start at once) is started again on new ports, twice at most.
   */
  private async startTemporalOnFreePorts(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.startTemporal();
        return;
      } catch (e) {
        const exited = isGramfleetError(e) && e.code === 'CLUSTER_START_FAILED' && e.details['what'] === 'temporal dev server';
        if (!exited || attempt >= 3) throw e;
        const s = this.state as { -readonly [K in keyof ClusterState]: ClusterState[K] };
        s.processes = s.processes.filter((p) => p.name !== 'temporal');
        s.temporalPort = await freePort();
        s.temporalAddress = `${s.bindAddress ?? '127.0.0.1'}:${s.temporalPort}`;
        if (s.temporalUiPort !== undefined) {
          s.temporalUiPort = await freePort();
          s.temporalUi = `http://127.0.0.1:${s.temporalUiPort}`;
        }
        this.log.warn('temporal dev server exited before it served; starting it on other ports', { attempt, port: s.temporalPort });
      }
    }
  }

  private async startTemporal(): Promise<void> {
    const s = this.state;
    const [httpPort, metricsPort] = [await freePort(), await freePort()];
    const mp = this.launch(
      'temporal',
      binaryPath('temporal'),
      [
        'server',
        'start-dev',
        '--db-filename',
        path.join(s.dataDir, 'temporal.db'),
        // The dev server dials its own history and matching services on 127.0.0.1 whatever --ip
        // says, so a cluster bound elsewhere runs it on every address (0.0.0.0) rather than on
        // the bind address alone (docs/remote.md).
        '--ip',
        s.bindAddress !== undefined ? '0.0.0.0' : '127.0.0.1',
        '--port',
        String(s.temporalPort),
        '--http-port',
        String(httpPort),
        '--metrics-port',
        String(metricsPort),
        // The Web UI, on the port recorded at start (the same after a restart); no newsfeed fetch.
        ...(s.temporalUiPort !== undefined ? ['--ui-port', String(s.temporalUiPort), '--ui-ip', '127.0.0.1', '--ui-disable-news-fetch'] : ['--headless']),
        '--log-level',
        'warn',
        ...Object.entries(this.temporalDynamicConfig).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${JSON.stringify(v)}`]),
      ],
      {},
      metricsPort,
    );
    let alive = true;
    void mp.exited.then(() => {
      alive = false;
    });
    await waitForPort(s.temporalPort, 60_000, 'temporal dev server', () => alive, s.bindAddress);
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        const conn = await Connection.connect({ address: s.temporalAddress, connectTimeout: 2_000 });
        try {
          await conn.workflowService.describeNamespace({ namespace: s.namespace });
          return;
        } finally {
          await conn.close();
        }
      } catch (e) {
        // Exited after it listened (another process took one of the ports it opens next): `what`
        // lets startTemporalOnFreePorts try again on other ports, as for an exit before listening.
        if (!alive)
          throw new GramfleetError('CLUSTER_START_FAILED', `temporal dev server exited before it served: ${(e as Error).message}`, {
            what: 'temporal dev server',
            port: s.temporalPort,
          });
        if (Date.now() > until) throw new GramfleetError('CLUSTER_START_FAILED', `temporal dev server did not serve: ${(e as Error).message}`, {});
        await sleep(200);
      }
    }
  }

  private async startOrchestrator(): Promise<void> {
    const s = this.state;
    const script = path.join(repoRoot(), 'orchestrator', 'dist', 'host', 'worker-host.js');
    const health = await this.healthEnv();
    this.launch(
      'orchestrator',
      process.execPath,
      [script, `--cluster=${s.dataDir}`],
      {
        GRAMFLEET_NATS_URL: s.natsUrl,
        ...natsAuthEnv(this.natsAuth('orchestrator')),
        GRAMFLEET_PREFIX: s.prefix,
        GRAMFLEET_TEMPORAL_ADDRESS: s.temporalAddress,
        // The dev server speaks plaintext on loopback: Temporal TLS variables of this shell (meant
        // for a remote cluster) are not passed on.
        ...PLAINTEXT_TEMPORAL_ENV,
        GRAMFLEET_NAMESPACE: s.namespace,
        GRAMFLEET_TASK_QUEUE: s.taskQueue,
        GRAMFLEET_LOG_LEVEL: this.logLevel,
        ...dataPlaneEnv(s.dataPlane),
        ...hostStoreEnv(s),
        ...health.env,
      },
      health.port,
    );
  }

  /**
   * Starts the dashboard process (orchestrator/dist/dashboard/main.js) on the port recorded in
   * the state (a free one the first time, the same after a restart) and waits until it answers.
   */
  async startDashboard(): Promise<string> {
    const s = this.state as { dashboard?: string; dashboardPort?: number };
    const port = s.dashboardPort ?? (await freePort());
    s.dashboardPort = port;
    s.dashboard = `http://127.0.0.1:${port}/`;
    const script = path.join(repoRoot(), 'orchestrator', 'dist', 'dashboard', 'main.js');
    const mp = this.launch('dashboard', process.execPath, [script, `--cluster=${this.state.dataDir}`, `--port=${port}`], {});
    let alive = true;
    void mp.exited.then(() => {
      alive = false;
    });
    // It reads the state file to attach: write it before waiting.
    this.save();
    await waitForPort(port, 30_000, 'dashboard', () => alive);
    return s.dashboard;
  }

  private save(): void {
    const f = stateFile(this.state.dataDir);
    fs.writeFileSync(f + '.tmp', JSON.stringify(this.state, null, 2));
    fs.renameSync(f + '.tmp', f);
  }
}

function rank(name: string): number {
  return name === 'supervisor' || name === 'api'
    ? -1
    : name.startsWith('worker') || name === 'dashboard'
      ? 0
      : name === 'orchestrator'
        ? 1
        : name === 'temporal'
          ? 2
          : 3;
}

/**
 * The host store of a cluster started from `dataDir`: under /dev/shm (shared memory) where there
 * is one, named after the data directory so one cluster's processes find the same store.
 */
function hostStoreOf(dataDir: string, o: LocalClusterOptions['hostStore']): { hostStore?: { dir: string; maxBytes: number } } {
  if (o === false) return {};
  const shm = fs.existsSync('/dev/shm') ? '/dev/shm' : undefined;
  const dir =
    o?.dir ??
    (shm !== undefined ? path.join(shm, `gramfleet-${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`) : path.join(dataDir, 'host-store'));
  let room = os.totalmem();
  try {
    const st = fs.statfsSync(shm ?? dataDir);
    room = Math.min(room, st.blocks * st.bsize);
  } catch {
    /* no statfs: memory bounds it */
  }
  const maxBytes = o?.maxBytes ?? Math.floor(room / 4);
  if (!Number.isInteger(maxBytes) || maxBytes < 1024 * 1024)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `hostStore.maxBytes must be an integer of at least 1 MiB, got ${maxBytes}`, {
      field: 'hostStore.maxBytes',
      min: 1024 * 1024,
    });
  return { hostStore: { dir, maxBytes } };
}

function hostStoreEnv(s: ClusterState): Record<string, string> {
  if (s.hostStore === undefined) return {};
  return { GRAMFLEET_HOST_STORE_DIR: s.hostStore.dir, GRAMFLEET_HOST_STORE_MB: String(Math.max(1, Math.floor(s.hostStore.maxBytes / 2 ** 20))) };
}

/** The GRAMFLEET_* variables that give a process the data-plane options `d`. */
export function dataPlaneEnv(d: DataPlaneOptions): Record<string, string> {
  const env: Record<string, string> = {};
  if (d.ackWaitMs !== undefined) env['GRAMFLEET_ACK_WAIT_MS'] = String(d.ackWaitMs);
  if (d.maxDeliver !== undefined) env['GRAMFLEET_MAX_DELIVER'] = String(d.maxDeliver);
  if (d.tasksMaxMsgs !== undefined) env['GRAMFLEET_TASKS_MAX_MSGS'] = String(d.tasksMaxMsgs);
  if (d.tasksMaxBytes !== undefined) env['GRAMFLEET_TASKS_MAX_BYTES'] = String(d.tasksMaxBytes);
  if (d.resultsMaxBytes !== undefined) env['GRAMFLEET_RESULTS_MAX_BYTES'] = String(d.resultsMaxBytes);
  if (d.arraysMaxBytes !== undefined) env['GRAMFLEET_ARRAYS_MAX_BYTES'] = String(d.arraysMaxBytes);
  if (d.replicas !== undefined) env['GRAMFLEET_NATS_REPLICAS'] = String(d.replicas);
  return env;
}

const toKill = new Set<number>();
let hooked = false;
function killOnExit(pid: number): void {
  toKill.add(pid);
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const p of toKill) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
}
