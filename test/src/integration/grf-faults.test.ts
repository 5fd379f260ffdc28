/**
 * Faults during a GRF job: a worker killed with SIGKILL, a restarted nats-server, a
 * restarted Temporal dev server and a killed orchestrator each leave the job finishing with
 * the same Φ (byte-identical, by content digest) as an uninterrupted run, and every shard is
 * accounted for exactly once.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { GrfJobResult } from '@gramfleet/core';
import type { GrfJobSpec, JobHandle } from '@gramfleet/orchestrator';
import { csrDigest, sharedGraph, startTestCluster, until, type TestCluster } from './harness';

describe('GRF survives faults (real servers)', () => {
  let t: TestCluster;
  let baseline: GrfJobResult;
  // Enough work (≈ 25 M walk steps in 100 shards) that faults land mid-job.
  const spec: GrfJobSpec = {
    kind: 'grf',
    graph: sharedGraph('cora.npz'),
    kernel: 'reg-laplacian',
    scale: 0.25,
    walks: 2048,
    pHalt: 0.2,
    seed: 11,
    shardNodes: 25,
    batchShards: 4,
    window: 4,
  };

  before(async () => {
    t = await startTestCluster('faults', { workers: 2, dataPlane: { ackWaitMs: 2000, maxDeliver: 5 } });
    baseline = await (await t.fleet.submit(spec)).result();
    assert.equal(baseline.shards, 100);
  });
  after(async () => {
    await t?.stop();
  });

  /** Submits the job, waits until some but not all shards are done, injects the fault, checks the result. */
  async function withFault(fault: () => Promise<void>): Promise<GrfJobResult> {
    const h: JobHandle<'grf'> = await t.fleet.submit(spec);
    await until(async () => ((await h.progress().catch(() => undefined))?.shardsDone ?? 0) >= 4, 60_000, 'first shards done');
    const mid = await h.progress();
    await fault();
    const r = await h.result();
    assert.ok(mid.shardsDone < mid.shardsTotal, `fault was injected mid-job (${mid.shardsDone}/${mid.shardsTotal})`);
    assert.equal(r.shards, baseline.shards);
    // Each shard counted once: per-worker shard counts add up to the shard count exactly.
    assert.equal(
      Object.values(r.workers).reduce((a, b) => a + b, 0),
      r.shards,
    );
    assert.deepEqual(r.phi.map(csrDigest), baseline.phi.map(csrDigest), 'Φ must be byte-identical to the uninterrupted run');
    return r;
  }

  it('a worker killed with SIGKILL mid-job', async () => {
    const victim = t.cluster.state.processes.find((p) => p.name.startsWith('worker-'))?.name ?? 'worker-0';
    await withFault(async () => {
      await t.cluster.kill(victim, 'SIGKILL');
      await t.cluster.addWorker();
    });
  });

  it('nats-server restarted mid-job', async () => {
    await withFault(() => t.cluster.restartNats(500));
  });

  it('Temporal dev server restarted mid-job', async () => {
    await withFault(() => t.cluster.restartTemporal(500));
  });

  it('orchestrator killed with SIGKILL mid-job and restarted', async () => {
    await withFault(() => t.cluster.restartOrchestrator('SIGKILL'));
  });
});
