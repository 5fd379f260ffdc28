/**
 * A remote user on another network (issue 24 item 6): the cluster's NATS and Temporal frontend
 * listen on a bridge address (`gramfleet up --bind`, LocalClusterOptions.bindAddress), and the
 * client runs in a network namespace of its own (a veth link to the bridge, its own loopback:
 * the cluster's 127.0.0.1 ports do not exist there), from a directory with no local cluster,
 * through a context. From inside the namespace it runs GRF and EigenPro from files in its
 * directory; a GRF job is detached, the watching client SIGKILLed, the job re-attached and its
 * result fetched. Every file is byte for byte the same command's run on the host against the
 * cluster's own directory.
 * Runs only as root where `ip netns` works; elsewhere it prints why it skipped.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeNpy } from '@gramfleet/orchestrator';
import { createHostNetwork, netnsUnavailable, type HostNetwork } from '../harness/replicated-net';
import { CLI_ENTRY_SCRIPT, contextAddFlags, runGramfleet, sharedGraph, startTestCluster, type TestCluster } from './harness';

const skip = netnsUnavailable();
if (skip !== undefined) console.log(`# skipping the network-namespace client test: ${skip}`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('a client in a separate network namespace drives the cluster through a context', { skip }, () => {
  let net: HostNetwork;
  let t: TestCluster;
  let client: string;
  let env: Record<string, string>;
  let ns: string;

  /** The CLI inside the client's namespace, in its directory, with its environment. */
  const spawnInNs = (args: readonly string[]): ReturnType<typeof spawn> =>
    spawn('ip', ['netns', 'exec', ns, process.execPath, CLI_ENTRY_SCRIPT, ...args], {
      cwd: client,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const inNs = (args: readonly string[], extraEnv: Record<string, string> = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, CLI_ENTRY_SCRIPT, ...args], {
        cwd: client,
        env: { ...process.env, ...env, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  /** The same command on the host, against the cluster's own directory. */
  const onHost = (args: readonly string[]): Promise<Run> => runGramfleet([...args, '--data-dir', t.dir], { cwd: client, env });

  before(async () => {
    net = createHostNetwork(['client']);
    ns = net.host('client').netns;
    t = await startTestCluster('netns-client', { workers: 1, bindAddress: net.gateway });
    client = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-netns-client-'));
    env = { GRAMFLEET_CONTEXTS_FILE: path.join(client, 'config', 'contexts.json'), GRAMFLEET_HOME: path.join(client, 'no-local-cluster') };
  });
  after(async () => {
    await t?.stop();
    net?.destroy();
    if (client !== undefined) fs.rmSync(client, { recursive: true, force: true });
  });

  it('the cluster listens on the bridge; inside the namespace its loopback ports do not answer, a context to the bridge does', async () => {
    const st = t.cluster.state;
    assert.equal(st.natsUrl, `nats://${net.gateway}:${st.natsPort}`);
    assert.equal(st.temporalAddress, `${net.gateway}:${st.temporalPort}`);
    const add = await inNs(['context', 'add', 'lab', ...contextAddFlags(t)]);
    assert.equal(add.code, 0, add.stderr);
    assert.equal((await inNs(['context', 'use', 'lab'])).code, 0);
    // The cluster's addresses as a process on its host would use them: nothing there in this namespace.
    const loop = await inNs(['jobs', 'list'], {
      GRAMFLEET_NATS_URL: `nats://127.0.0.1:${st.natsPort}`,
      GRAMFLEET_TEMPORAL_ADDRESS: `127.0.0.1:${st.temporalPort}`,
    });
    assert.equal(loop.code, 1);
    assert.match(loop.stderr, /CLUSTER_UNAVAILABLE.*127\.0\.0\.1/);
    // An address this host does not have is refused before anything starts.
    const bad = await runGramfleet(['up', '--bind', '203.0.113.7', '--data-dir', path.join(client, 'bad-bind')], { cwd: client, env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /\[INPUT_INVALID\] bindAddress 203\.0\.113\.7 is not an address of this host/);
    const status = await inNs(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /context lab \(remote\)[\s\S]*registered workers: 1/);
    // On the host, `status` does not claim the dev server is on loopback only: it says it is reachable, unguarded.
    const local = await onHost(['status']);
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stdout, /temporal \S+ \(plaintext on every address \(0\.0\.0\.0\), no TLS and no authentication/);
  });

  it('GRF and EigenPro from local files; a detached GRF job, its watcher SIGKILLed, re-attached: the same bytes as on the host', async () => {
    fs.copyFileSync(sharedGraph('karate.adjlist'), path.join(client, 'karate.adjlist'));
    const n = 60,
      d = 3;
    const x = Float64Array.from({ length: (n + 20) * d }, (_, i) => Math.sin(0.37 * i) * 0.5 + 0.5);
    const label = (i: number): number => ((x[i * d] as number) + (x[i * d + 1] as number) > 1 ? 1 : 0);
    await writeNpy(path.join(client, 'xtr.npy'), { dtype: 'f64', shape: [n, d], data: x.slice(0, n * d) });
    await writeNpy(path.join(client, 'ytr.npy'), { dtype: 'f64', shape: [n], data: Float64Array.from({ length: n }, (_, i) => label(i)) });
    await writeNpy(path.join(client, 'xte.npy'), { dtype: 'f64', shape: [20, d], data: x.slice(n * d) });
    await writeNpy(path.join(client, 'yte.npy'), { dtype: 'f64', shape: [20], data: Float64Array.from({ length: 20 }, (_, i) => label(n + i)) });
    const grf = ['grf', '--graph', 'karate.adjlist', '--scale', '0.25', '--walks', '256', '--p-halt', '0.2', '--seed', '7', '--shard-nodes', '4'];
    const ep = [
      'eigenpro',
      ...['--train', 'xtr.npy', '--train-labels', 'ytr.npy', '--test', 'xte.npy', '--test-labels', 'yte.npy'],
      ...['--kernel', 'laplacian', '--bandwidth', '0.7', '--epochs', '2', '--seed', '2', '--shards', '1'],
    ];

    // GRF, detached from inside the namespace.
    const det = await inNs([...grf, '--out', 'phi-ns.npz', '--detach', '--json']);
    assert.equal(det.code, 0, det.stderr);
    const { jobId, detached } = JSON.parse(det.stdout) as { jobId: string; detached: boolean };
    assert.equal(detached, true);
    // A client watching it is SIGKILLed as soon as it shows anything; the job goes on.
    const watcher = spawnInNs(['jobs', 'watch', jobId, '--json']);
    await new Promise<void>((resolve) => {
      watcher.stdout?.once('data', () => resolve());
      watcher.once('close', () => resolve());
    });
    watcher.kill('SIGKILL');
    // EigenPro in the foreground meanwhile.
    const epNs = await inNs([...ep, '--out', 'model-ns.npz', '--json']);
    assert.equal(epNs.code, 0, epNs.stderr);
    // Re-attached, then its files fetched.
    const w = await inNs(['jobs', 'watch', jobId]);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stdout, new RegExp(`${jobId} \\(grf\\) completed`));
    const r = await inNs(['jobs', 'result', jobId, '--json']);
    assert.equal(r.code, 0, r.stderr);

    // The same commands on the host, against the cluster's own directory.
    const grfHost = await onHost([...grf, '--out', 'phi-host.npz', '--json']);
    assert.equal(grfHost.code, 0, grfHost.stderr);
    const epHost = await onHost([...ep, '--out', 'model-host.npz', '--json']);
    assert.equal(epHost.code, 0, epHost.stderr);
    const same = (a: string, b: string): boolean => fs.readFileSync(path.join(client, a)).equals(fs.readFileSync(path.join(client, b)));
    assert.ok(same('phi-ns.npz', 'phi-host.npz'), 'GRF: the re-attached job writes the host run bytes');
    assert.ok(same('model-ns.npz', 'model-host.npz'), 'EigenPro: the same model bytes');
  });
});
