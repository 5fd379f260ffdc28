/**
 * Backend routing through the real cluster (Temporal dev server + nats-server + a WASM
 * worker), on a machine without a GPU: `auto` goes to WASM and says so in progress and result;
 * `gpu` is refused up front with CLUSTER_NO_GPU_WORKER and publishes nothing; a bad backend
 * is INPUT_INVALID; a GPU worker process started against the cluster finds no device, exits
 * with status 3 and never appears in the worker registry. No registry entry is ever faked.
 * With a GPU present, gpu-cluster.test.ts runs the GPU end to end instead.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { isGramfleetError, resourceNames, type ErrorCode } from '@gramfleet/core';
import { connectNats, natsAuthEnv, openDataPlane } from '@gramfleet/workers';
import { openDriver } from '@gramfleet/gpu-workers/internal';
import { csrDigest, scheduledWork, sharedGraph, startTestCluster, type TestCluster } from './harness';

let deviceNote: string | false = false;
try {
  const d = openDriver();
  deviceNote = `a CUDA device is present (${d.info.name}): the no-GPU routing checks do not apply; see gpu-cluster.test`;
  console.log(`skipping no-GPU routing tests: ${deviceNote}`);
} catch {
  /* no device: the expected case here */
}

async function expectCode(p: Promise<unknown>, code: ErrorCode, field: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(isGramfleetError(e), `expected a GramfleetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(field), `message should name ${field}: ${e.message}`);
    return;
  }
  assert.fail(`expected ${code}`);
}

describe('backend routing without a GPU (real Temporal + NATS)', { skip: deviceNote }, () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('gpu-routing', { workers: 1 });
  });
  after(async () => {
    await t?.stop();
  });
  const spec = {
    kind: 'grf' as const,
    graph: sharedGraph('karate.adjlist'),
    kernel: 'reg-laplacian',
    scale: 0.25,
    walks: 8,
    pHalt: 0.5,
    seed: 5,
    shardNodes: 10,
  };

  it('a GPU worker started against the cluster finds no device, exits with status 3 and never registers', async () => {
    const child = spawn(process.execPath, [path.join(require.resolve('@gramfleet/gpu-workers'), '..', 'main.js')], {
      env: {
        ...process.env,
        GRAMFLEET_NATS_URL: t.cluster.state.natsUrl,
        ...natsAuthEnv(t.cluster.natsAuth('gpu-worker')),
        GRAMFLEET_PREFIX: t.cluster.state.prefix,
        GRAMFLEET_WORKER_ID: 'gpu-probe',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const status = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    assert.equal(status, 3, stderr);
    assert.match(stderr, /"code":"WORKER_NO_DEVICE"/);
    const workers = await t.fleet.workers();
    assert.ok(workers.length >= 1);
    assert.deepEqual(
      workers.filter((w) => w.cls === 'gpu'),
      [],
    );
  });

  it('LocalCluster.addGpuWorker rejects with WORKER_NO_DEVICE and forgets the process', async () => {
    await assert.rejects(
      t.cluster.addGpuWorker(0),
      (e: unknown) => isGramfleetError(e) && e.code === 'WORKER_NO_DEVICE' && /found no CUDA device/.test(e.message),
    );
    assert.deepEqual(
      t.cluster.status().filter((p) => p.name.startsWith('worker-gpu-')),
      [],
    );
    assert.deepEqual(
      (await t.fleet.workers()).filter((w) => w.cls === 'gpu'),
      [],
    );
  });

  it("backend 'auto' with no GPU worker runs on wasm and says so in progress and result; Φ equals the 'wasm' run", async () => {
    const h = await t.fleet.submit({ ...spec, backend: 'auto' });
    const r = await h.result();
    assert.equal(r.route?.requested, 'auto');
    assert.equal(r.route?.cls, 'wasm');
    assert.match(r.route?.reason ?? '', /no GPU worker registered with op grf-walks; using wasm/);
    assert.deepEqual(Object.keys(r.backends), ['wasm']);
    const p = await h.progress();
    assert.equal(p.route?.cls, 'wasm');
    const w = await (await t.fleet.submit({ ...spec, backend: 'wasm' })).result();
    assert.equal(w.route?.reason, 'wasm requested');
    assert.deepEqual(w.phi.map(csrDigest), r.phi.map(csrDigest));
  });

  it("backend 'gpu' with no GPU worker is CLUSTER_NO_GPU_WORKER before anything is published", async () => {
    const before = await scheduledWork(t);
    await expectCode(t.fleet.submit({ ...spec, backend: 'gpu' }), 'CLUSTER_NO_GPU_WORKER', 'backend');
    assert.deepEqual(await scheduledWork(t), before);
  });

  it('an unknown backend is INPUT_INVALID naming backend', async () => {
    await expectCode(t.fleet.submit({ ...spec, backend: 'cuda' as 'gpu' }), 'INPUT_INVALID', 'backend');
  });
});
