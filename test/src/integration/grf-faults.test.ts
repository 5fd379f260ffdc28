/**
 * Faults during a GRF job: a worker killed with SIGKILL, a restarted nats-server, a
 * restarted Temporal dev server and a killed orchestrator each leave the job finishing with
 * the same Φ (byte-identical, by content digest) as an uninterrupted run, and every shard is
 * counted once — by the counts the workers, the task owners and the GRF activities record where
 * it happens (GRAMFLEET_COUNTS_DIR, test/src/chaos/counted-once.ts), not the workflow's own tally.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { shardId } from '@gramfleet/core';
import { readCounts } from '@gramfleet/workers';
import { checkCountedOnce } from '../chaos/counted-once';
import type { GrfJobResult } from '@gramfleet/core';
import type { GrfJobSpec, JobHandle } from '@gramfleet/orchestrator';
import { csrDigest, sharedGraph, startTestCluster, until, type TestCluster } from './harness';

/** One line of the run's report (counts, ledger, timings) in the test output. */
const say = (s: string): void => void process.stdout.write(`# ${s}\n`);

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

  // Every process of the cluster records its counts here (it inherits this environment).
  const countsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-faults-counts-'));
  const saved = process.env['GRAMFLEET_COUNTS_DIR'];
  const shards = Array.from({ length: 100 }, (_, i) => shardId(i));

  before(async () => {
    process.env['GRAMFLEET_COUNTS_DIR'] = countsDir;
    t = await startTestCluster('faults', { workers: 2, dataPlane: { ackWaitMs: 2000, maxDeliver: 5 } });
    const h = await t.fleet.submit(spec);
    baseline = await h.result();
    assert.equal(baseline.shards, 100);
    checkCountedOnce(readCounts(countsDir), h.jobId, shards);
  });
  after(async () => {
    await t?.stop();
    if (saved === undefined) delete process.env['GRAMFLEET_COUNTS_DIR'];
    else process.env['GRAMFLEET_COUNTS_DIR'] = saved;
    fs.rmSync(countsDir, { recursive: true, force: true });
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
    // Each shard counted once, by the counts recorded where runs, takes and assemblies happened.
    const counts = checkCountedOnce(readCounts(countsDir), h.jobId, shards);
    say(`counts after the fault: ${JSON.stringify(counts)}`);
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
