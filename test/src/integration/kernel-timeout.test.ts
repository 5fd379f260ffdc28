/**
 * A kernel that runs past its time limit, on real servers: a worker whose every kernel overruns
 * (GRAMFLEET_KERNEL_TIMEOUT_MS = 1 ms, against GRF shards of milliseconds each) fails each try
 * with the retryable KERNEL_TIMEOUT and replaces its kernel thread; the owner tries the shard on
 * the other worker, and the job ends byte-identical to a run without that worker, each shard
 * counted once. The overrunning worker stays up and registered (its threads were replaced, the
 * process was not lost).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GrfJobResult } from '@gramfleet/core';
import type { GrfJobSpec } from '@gramfleet/orchestrator';
import { csrDigest, sharedGraph, startTestCluster, type TestCluster } from './harness';

describe('kernel time limit through the cluster (real Temporal + NATS)', () => {
  let t: TestCluster;
  let baseline: GrfJobResult;
  const spec: GrfJobSpec = {
    kind: 'grf',
    graph: sharedGraph('cora.npz'),
    kernel: 'reg-laplacian',
    scale: 0.25,
    walks: 1024,
    pHalt: 0.2,
    seed: 5,
    shardNodes: 100,
    batchShards: 4,
    window: 4,
  };

  before(async () => {
    t = await startTestCluster('ktimeout', { workers: 1 });
    baseline = await (await t.fleet.submit(spec)).result();
  });
  after(async () => {
    await t?.stop();
  });

  it('shards that overrun on one worker are tried on the other: Φ byte-identical, each shard once, the overrunning worker still up', async () => {
    const slow = await t.cluster.addWorker({ kernelTimeoutMs: 1 });
    await t.cluster.waitForWorkers(2);
    const r = await (await t.fleet.submit(spec)).result();
    assert.equal(r.shards, baseline.shards);
    assert.equal(
      Object.values(r.workers).reduce((a, b) => a + b, 0),
      r.shards,
      'each shard counted once',
    );
    assert.deepEqual(r.phi.map(csrDigest), baseline.phi.map(csrDigest), 'Φ byte-identical to the run without the overrunning worker');
    const log = fs.readFileSync(path.join(t.dir, 'logs', `${slow}.log`), 'utf8');
    const timeouts = log.split('\n').filter((l) => l.includes('KERNEL_TIMEOUT')).length;
    process.stdout.write(`# ${timeouts} tries overran on ${slow} and were tried again elsewhere\n`);
    assert.ok(timeouts > 0, `${slow} overran at least once (its log has KERNEL_TIMEOUT)`);
    assert.ok(
      t.cluster.status().some((p) => p.name === slow && p.alive),
      `${slow} is still running`,
    );
    // and it still serves: a second job ends identical too
    const again = await (await t.fleet.submit(spec)).result();
    assert.deepEqual(again.phi.map(csrDigest), baseline.phi.map(csrDigest));
  });
});
