/**
 * Test harness: a real local cluster (Temporal dev server, nats-server with JetStream, TLS and
 * per-role credentials, orchestrator, WASM workers) in a throwaway directory on free ports, with a task queue named after the
 * test plus a random suffix. Always stopped in `after()`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { LocalCluster, connect, loadGraph, type Fleet, type LoadedGraph } from '@gramfleet/orchestrator';
import { connectNats, openDataPlane, type DataPlaneOptions } from '@gramfleet/workers';
import { compileGrfParams, grfWalksOp, normalisedWeights, resourceNames, type CsrRef, type NdArray } from '@gramfleet/core';

/** A started cluster plus an SDK connection to it. */
export interface TestCluster {
  readonly cluster: LocalCluster;
  readonly fleet: Fleet;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * The `gramfleet context add NAME …` flags that reach `t`'s cluster as a remote client would:
 * its Temporal address and namespace, NATS URL with the client role's credentials and CA, task
 * queue and prefix.
 */
export function contextAddFlags(t: TestCluster): string[] {
  const st = t.cluster.state;
  const auth = t.cluster.natsAuth('client');
  return [
    '--temporal',
    st.temporalAddress,
    '--namespace',
    st.namespace,
    '--nats',
    st.natsUrl,
    '--nats-creds',
    auth.credsFile as string,
    '--nats-ca',
    auth.caFile as string,
    '--task-queue',
    st.taskQueue,
    '--prefix',
    st.prefix,
  ];
}

/** Starts a cluster for one test file. */
export async function startTestCluster(
  name: string,
  o: {
    workers?: number;
    dataPlane?: DataPlaneOptions;
    memoryBudgetBytes?: number;
    temporalDynamicConfig?: Readonly<Record<string, string | number | boolean>>;
    /** The processes' log level. @default 'warn' */
    logLevel?: 'debug' | 'info' | 'warn' | 'error';
    /** Where NATS and the Temporal frontend listen (LocalClusterOptions.bindAddress). @default 127.0.0.1 */
    bindAddress?: string;
  } = {},
): Promise<TestCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gf-${name}-`));
  const cluster = await LocalCluster.start({
    dataDir: dir,
    workers: o.workers ?? 2,
    taskQueue: `${name}-${randomBytes(3).toString('hex')}`,
    dataPlane: o.dataPlane ?? { ackWaitMs: 3000, maxDeliver: 5 },
    logLevel: o.logLevel ?? 'warn',
    ...(o.temporalDynamicConfig !== undefined ? { temporalDynamicConfig: o.temporalDynamicConfig } : {}),
    ...(o.bindAddress !== undefined ? { bindAddress: o.bindAddress } : {}),
  });
  const fleet = await connect({ dataDir: dir, startLocal: false, ...(o.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: o.memoryBudgetBytes } : {}) });
  return {
    cluster,
    fleet,
    dir,
    async stop() {
      await fleet.close().catch(() => undefined);
      await cluster.stop();
      if (process.env['GRAMFLEET_KEEP_TEST_DIRS'] === undefined) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Path of a graph in ../shared/data/graphs. */
export function sharedGraph(file: string): string {
  return path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'data', 'graphs', file);
}

/** The content digests of a stored CSR: equal digests mean byte-identical arrays. */
export function csrDigest(r: CsrRef): string {
  return [r.indptr.digest, r.indices.digest, r.data.digest].join('/');
}

/** Polls until `pred` holds (or throws after `timeoutMs`). */
export async function until(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Everything that could have scheduled work so far: workflow executions (every job is one; its
 * shards go to the workers from its activities) and messages ever published to the task queue.
 * Equal before and after a rejected submit means nothing was scheduled.
 */
export async function scheduledWork(t: TestCluster): Promise<{ workflows: number; queuedTasks: number }> {
  const conn = await Connection.connect({ address: t.cluster.state.temporalAddress });
  const nc = await connectNats(t.cluster.state.natsUrl, 'test-scheduled', t.cluster.natsAuth('admin'));
  try {
    const workflows = Number((await new Client({ connection: conn }).workflow.count()).count);
    const dp = await openDataPlane(nc, resourceNames(t.cluster.state.prefix), t.cluster.state.dataPlane);
    const queuedTasks = (await dp.jsm.streams.info(dp.names.tasksStream)).state.last_seq;
    return { workflows, queuedTasks };
  } finally {
    await nc.close();
    await conn.close();
  }
}

/** The `gramfleet` CLI's entry script, as a user runs it. */
export const CLI_ENTRY_SCRIPT = path.join(path.dirname(require.resolve('@gramfleet/orchestrator')), '..', 'bin', 'gramfleet.js');

/** Runs the real `gramfleet` CLI in a child process (in `o.cwd`, with `o.env` added to this process's environment); its exit code and output. */
export function runGramfleet(
  args: readonly string[],
  o: { readonly cwd?: string; readonly env?: Readonly<Record<string, string>> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_ENTRY_SCRIPT, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
      ...(o.env !== undefined ? { env: { ...process.env, ...o.env } } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * The float64 reference Φ of a GRF job over the whole graph (walks are seeded per node, so any
 * sharding gives these bytes), with the graph and its normalised weights: what the cluster's Φ
 * must equal byte for byte.
 */
export async function grfReference(spec: {
  readonly graph: string;
  readonly kernel: string;
  readonly scale: number;
  readonly walks: number;
  readonly pHalt: number;
  readonly seed: number;
}): Promise<{ readonly phi: readonly NdArray[]; readonly graph: LoadedGraph; readonly weights: Float64Array }> {
  const graph = await loadGraph(spec.graph);
  const n = graph.csr.indptr.length - 1;
  const p = compileGrfParams(spec);
  const weights = normalisedWeights(graph.csr, spec.scale);
  const attrs = grfWalksOp.parseAttrs({
    seed: spec.seed,
    walks: spec.walks,
    pHalt: spec.pHalt,
    f: p.f,
    streams: [0],
    variance: 'none',
    nodeStart: 0,
    nodeEnd: n,
  });
  const phi = grfWalksOp.reference(attrs, [
    { dtype: 'i32', shape: [n + 1], data: graph.csr.indptr },
    { dtype: 'i32', shape: [graph.csr.indices.length], data: graph.csr.indices },
    { dtype: 'f64', shape: [weights.length], data: weights },
  ]);
  return { phi, graph, weights };
}
