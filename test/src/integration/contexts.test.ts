/**
 * Cluster contexts against a real cluster, used as a remote user would: a client in a separate
 * working directory whose own local cluster directory is empty (no local cluster) records a
 * context with the cluster's addresses and NATS credentials (`gramfleet context add`), runs a
 * GRF job through it with the real CLI (Φ byte for byte the float64 reference) and lists it
 * with `jobs list`; eigenpro, kron-gp and datagen run through it from files in the client's
 * directory and write the same bytes as the same commands on the cluster's own directory; the SDK's `connect({ context })` reaches the same cluster; environment
 * variables override a context's fields; bad addresses and names are typed errors that say
 * what to fix; `connect()` with no context still means the local cluster.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { isGramfleetError, type ErrorCode } from '@gramfleet/core';
import { connect, readCsrNpz, writeNpy } from '@gramfleet/orchestrator';
import { contextAddFlags, grfReference, runGramfleet, sharedGraph, startTestCluster, type TestCluster } from './harness';

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, match?: RegExp): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, code, e.message);
    if (match !== undefined) assert.match(e.message, match);
    return true;
  });
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('cluster contexts (real Temporal + NATS, a client with no local cluster)', () => {
  let t: TestCluster;
  let client: string;
  let env: Record<string, string>;
  let contextsFile: string;
  let addArgs: string[];
  before(async () => {
    t = await startTestCluster('contexts', { workers: 1 });
    client = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-remote-client-'));
    contextsFile = path.join(client, 'config', 'contexts.json');
    // The client's own local-cluster directory is empty: only a context can reach a cluster.
    env = { GRAMFLEET_CONTEXTS_FILE: contextsFile, GRAMFLEET_HOME: path.join(client, 'no-local-cluster') };
    addArgs = contextAddFlags(t);
  });
  after(async () => {
    await t?.stop();
    if (client !== undefined) fs.rmSync(client, { recursive: true, force: true });
  });

  it('without a context the client has no cluster: CLUSTER_NOT_RUNNING says how to start one or pick a context', async () => {
    const r = await runGramfleet(['jobs', 'list'], { cwd: client, env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /CLUSTER_NOT_RUNNING.*gramfleet up.*--context/);
  });

  it('context add/use/list, then a GRF job through the context from another directory: Φ equals the reference byte for byte', async () => {
    const add = await runGramfleet(['context', 'add', 'lab', ...addArgs], { cwd: client, env });
    assert.equal(add.code, 0, add.stderr);
    assert.equal(fs.statSync(contextsFile).mode & 0o777, 0o600);
    const list = await runGramfleet(['context', 'list'], { cwd: client, env });
    assert.match(list.stdout, /^\* local/m);
    assert.match(list.stdout, new RegExp(`^  lab\\s+${t.cluster.state.temporalAddress.replace(/\./g, '\\.')}`, 'm'));
    const spec = { graph: sharedGraph('karate.adjlist'), kernel: 'reg-laplacian', scale: 0.25, walks: 16, pHalt: 0.5, seed: 7 };
    const run = await runGramfleet(
      ['grf', '--context', 'lab', '--graph', spec.graph, '--scale', '0.25', '--walks', '16', '--p-halt', '0.5', '--seed', '7', '--out', 'phi.npz', '--json'],
      { cwd: client, env },
    );
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout.trim().split('\n').pop() as string) as { jobId: string; out: string[] };
    assert.equal(summary.out[0], path.join(fs.realpathSync(client), 'phi.npz'));
    const phi = await readCsrNpz(path.join(client, 'phi.npz'));
    const { phi: ref } = await grfReference(spec);
    assert.deepEqual(phi.indptr, ref[0]!.data);
    assert.deepEqual(phi.indices, ref[1]!.data);
    assert.deepEqual(phi.data, ref[2]!.data);
    // `context use` makes it current: no flag needed any more.
    assert.equal((await runGramfleet(['context', 'use', 'lab'], { cwd: client, env })).code, 0);
    const jobs = await runGramfleet(['jobs', 'status', summary.jobId, '--json'], { cwd: client, env });
    assert.equal(jobs.code, 0, jobs.stderr);
    assert.equal((JSON.parse(jobs.stdout) as { state: string; kind: string }).kind, 'grf');
    const status = await runGramfleet(['status'], { cwd: client, env });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /context lab \(remote\)[\s\S]*registered workers: 1/);
    // `up` manages the local cluster only.
    const up = await runGramfleet(['up', '--context', 'lab'], { cwd: client, env });
    assert.equal(up.code, 2);
    assert.match(up.stderr, /manages the local cluster; context lab names a remote one/);
    assert.equal((await runGramfleet(['context', 'use', 'local'], { cwd: client, env })).code, 0);
  });

  it('the SDK: connect({ context }) reaches the cluster; connect() with --data-dir / dataDir stays local', async () => {
    const fleet = await connect({ context: 'lab', contextsFile });
    try {
      assert.equal(fleet.local, undefined);
      assert.equal((await fleet.workers()).length, 1);
      const r = await (
        await fleet.submit({ kind: 'grf', graph: sharedGraph('karate.adjlist'), kernel: 'reg-laplacian', scale: 0.25, walks: 8, pHalt: 0.5 })
      ).result();
      assert.equal(r.n, 34);
    } finally {
      await fleet.close();
    }
    const local = await connect({ dataDir: t.dir, startLocal: false, contextsFile });
    try {
      assert.ok(local.local !== undefined);
    } finally {
      await local.close();
    }
  });

  it("eigenpro, kron-gp and datagen through a context from files in the client's directory: the same bytes as on the cluster's own directory", async () => {
    assert.equal((await runGramfleet(['context', 'add', 'lab-all', ...addArgs], { cwd: client, env })).code, 0);
    // Inputs exist only in the client's directory: the remote runs must upload them.
    const n = 60,
      d = 3;
    const x = Float64Array.from({ length: (n + 20) * d }, (_, i) => Math.sin(0.37 * i) * 0.5 + 0.5);
    const label = (i: number): number => ((x[i * d] as number) + (x[i * d + 1] as number) > 1 ? 1 : 0);
    await writeNpy(path.join(client, 'xtr.npy'), { dtype: 'f64', shape: [n, d], data: x.slice(0, n * d) });
    await writeNpy(path.join(client, 'ytr.npy'), { dtype: 'f64', shape: [n], data: Float64Array.from({ length: n }, (_, i) => label(i)) });
    await writeNpy(path.join(client, 'xte.npy'), { dtype: 'f64', shape: [20, d], data: x.slice(n * d) });
    await writeNpy(path.join(client, 'yte.npy'), { dtype: 'f64', shape: [20], data: Float64Array.from({ length: 20 }, (_, i) => label(n + i)) });
    await writeNpy(path.join(client, 'kron-y.npy'), {
      dtype: 'f64',
      shape: [30],
      data: Float64Array.from({ length: 30 }, (_, i) => Math.sin(i / 3) + 0.1 * Math.cos(7 * i)),
    });
    const commands: { name: string; args: string[]; out: string }[] = [
      {
        name: 'eigenpro',
        args: [
          'eigenpro',
          '--train',
          'xtr.npy',
          '--train-labels',
          'ytr.npy',
          '--test',
          'xte.npy',
          '--test-labels',
          'yte.npy',
          '--kernel',
          'laplacian',
          '--bandwidth',
          '0.7',
          '--epochs',
          '2',
          '--seed',
          '2',
          '--shards',
          '2',
        ],
        out: 'model.npz',
      },
      {
        name: 'kron-gp',
        args: ['kron-gp', 'predict', '--grid', '6,5', '--y', 'kron-y.npy', '--lengthscales', '0.3,0.4', '--noise', '0.05', '--test-grid', '4,3', '--variance'],
        out: 'kron.npz',
      },
      { name: 'datagen', args: ['datagen', '--pde', 'darcy', '--grid', '8', '--count', '3', '--seed', '4', '--chunk-size', '3'], out: 'dg' },
    ];
    for (const c of commands) {
      const remote = await runGramfleet([...c.args, '--context', 'lab-all', '--out', `remote-${c.out}`, '--json'], { cwd: client, env });
      assert.equal(remote.code, 0, `${c.name} through the context: ${remote.stderr}`);
      const local = await runGramfleet([...c.args, '--data-dir', t.dir, '--out', `local-${c.out}`, '--json'], { cwd: client, env });
      assert.equal(local.code, 0, `${c.name} on the cluster's directory: ${local.stderr}`);
      const r = path.join(client, `remote-${c.out}`),
        l = path.join(client, `local-${c.out}`);
      if (fs.statSync(l).isDirectory()) {
        const files = fs.readdirSync(l).filter((f) => f !== 'manifest.json');
        assert.ok(files.length > 0);
        assert.deepEqual(
          fs
            .readdirSync(r)
            .filter((f) => f !== 'manifest.json')
            .sort(),
          files.sort(),
        );
        for (const f of files) assert.ok(fs.readFileSync(path.join(r, f)).equals(fs.readFileSync(path.join(l, f))), `${c.name}: ${f} is the same bytes`);
      } else assert.ok(fs.readFileSync(r).equals(fs.readFileSync(l)), `${c.name}: ${c.out} is the same bytes`);
    }
  });

  it('bad addresses, names and files are typed errors that say what to fix', async () => {
    const bad = await runGramfleet(['context', 'add', 'x', '--temporal', 'example.com', '--nats', 'nats://a:4222'], { cwd: client, env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /\[INPUT_INVALID\] --temporal must be the Temporal frontend as host:port/);
    // (the other checks of `context add` are unit tests: orchestrator/src/client/context.test.ts)
    const unknown = await runGramfleet(['jobs', 'list', '--context', 'lb'], { cwd: client, env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /\[INPUT_INVALID\] context names context "lb", which .* does not hold; did you mean lab\?/);
    // An address nothing answers on: the code, and which flag of which context to fix.
    const dead = await closedPort();
    const natsArgs = addArgs.map((a) => (a === t.cluster.state.natsUrl ? `nats://127.0.0.1:${dead}` : a));
    assert.equal((await runGramfleet(['context', 'add', 'dead-nats', ...natsArgs], { cwd: client, env })).code, 0);
    const r1 = await runGramfleet(['jobs', 'list', '--context', 'dead-nats'], { cwd: client, env });
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, new RegExp(`\\[CLUSTER_UNAVAILABLE\\] cannot connect to NATS at nats://127\\.0\\.0\\.1:${dead}.*check context dead-nats's --nats`));
    const temporalArgs = addArgs.map((a) => (a === t.cluster.state.temporalAddress ? `127.0.0.1:${dead}` : a));
    assert.equal((await runGramfleet(['context', 'add', 'dead-temporal', ...temporalArgs], { cwd: client, env })).code, 0);
    await rejectsWith(connect({ context: 'dead-temporal', contextsFile }), 'CLUSTER_UNAVAILABLE', /check context dead-temporal's --temporal/);
    // A namespace the server does not have.
    await rejectsWith(connect({ context: 'lab', contextsFile, namespace: 'no-such-namespace' }), 'INPUT_INVALID', /has no namespace no-such-namespace/);
    // A variable overrides the context's field, and is named when it is the one that is wrong.
    const r2 = await runGramfleet(['jobs', 'list', '--context', 'lab'], { cwd: client, env: { ...env, GRAMFLEET_NATS_URL: `nats://127.0.0.1:${dead}` } });
    assert.match(r2.stderr, /check GRAMFLEET_NATS_URL/);
    // One address variable alone, with the local context, is refused: a remote cluster needs both.
    const r3 = await runGramfleet(['jobs', 'list'], { cwd: client, env: { ...env, GRAMFLEET_TEMPORAL_ADDRESS: t.cluster.state.temporalAddress } });
    assert.match(r3.stderr, /\[INPUT_INVALID\] GRAMFLEET_TEMPORAL_ADDRESS is set but GRAMFLEET_NATS_URL is not/);
    await rejectsWith(connect({ temporalAddress: t.cluster.state.temporalAddress }), 'INPUT_INVALID', /natsUrl is missing/);
  });
});
