/**
 * EigenPro survives faults (real servers): a worker killed with SIGKILL mid-epoch and then
 * the orchestrator killed and restarted mid-epoch. The training activity is retried and
 * resumes from its last checkpoint (not epoch 0), and the model is the uninterrupted one:
 * test accuracy within 0.2 pt (and, since the resume is exact, the same coefficient bytes).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EigenProJobResult, EigenProProgressEvent } from '@gramfleet/core';
import type { EigenProJobSpec } from '@gramfleet/orchestrator';
import { startTestCluster, until, type TestCluster } from './harness';
import { mnistDigits } from '../eigenpro/mnist-data';

describe('EigenPro survives a killed worker and a restarted orchestrator (real servers)', () => {
  let t: TestCluster;
  let baseline: EigenProJobResult;
  const data = mnistDigits(2500);
  // 2500 rows in batches of 250: 10 batches per epoch, a checkpoint every 2 batches.
  const spec: EigenProJobSpec = {
    kind: 'eigenpro',
    train: data.train,
    trainLabels: data.trainLabels,
    test: { ...data.test, rows: 1000, data: data.test.data.slice(0, 1000 * 784) },
    testLabels: { ...data.testLabels, rows: 1000, data: data.testLabels.data.slice(0, 1000) },
    kernel: 'laplacian',
    bandwidth: 10,
    epochs: 2,
    batchSize: 250,
    seed: 5,
    shards: 2,
    checkpointEvery: 2,
    trainEvalRows: 500,
    featureDtype: 'f32',
    heartbeatTimeoutMs: 5000,
    subsampleSize: 500,
    eigenpairs: 60,
  };

  before(async () => {
    t = await startTestCluster('eigenpro-faults', { workers: 2, dataPlane: { ackWaitMs: 2000, maxDeliver: 5 } });
    baseline = await (await t.fleet.submit(spec)).result();
    assert.equal(baseline.resumedFrom, undefined);
  });
  after(async () => {
    await t?.stop();
  });

  it('kill a worker mid-epoch, then restart the orchestrator mid-epoch: resumes from the checkpoint', async () => {
    const h = await t.fleet.submit(spec);
    const events: EigenProProgressEvent[] = [];
    const done = h.watch((e) => events.push(e));
    done.catch(() => undefined); // awaited below; keeps a failed wait from leaving it unhandled
    const checkpoints = (): { epoch: number; batch: number }[] => events.flatMap((e) => (e.kind === 'checkpoint' ? [{ epoch: e.epoch, batch: e.batch }] : []));
    await until(async () => checkpoints().length >= 1, 300_000, 'first checkpoint');
    const victim = t.cluster.state.processes.find((p) => p.name.startsWith('worker-'))?.name ?? 'worker-0';
    await t.cluster.kill(victim, 'SIGKILL');
    await t.cluster.addWorker();
    const atKill = checkpoints().length;
    await until(async () => checkpoints().length >= atKill + 1, 300_000, 'a checkpoint after the worker kill');
    const before = checkpoints()[checkpoints().length - 1] as { epoch: number; batch: number };
    await t.cluster.restartOrchestrator('SIGKILL');
    const r = await done;
    const last = r.history[r.history.length - 1];
    const base = baseline.history[baseline.history.length - 1];
    assert.ok(before.epoch === 0 && before.batch < 10, `faults landed mid-epoch 0 (checkpoint ${JSON.stringify(before)})`);
    assert.ok(r.attempt >= 2, `the training activity was retried (attempt ${r.attempt})`);
    assert.ok(
      r.resumedFrom !== undefined && (r.resumedFrom.epoch > 0 || r.resumedFrom.batch > 0),
      `resumed from a checkpoint, not epoch 0: ${JSON.stringify(r.resumedFrom)}`,
    );
    assert.ok(
      events.some((e) => e.kind === 'resumed'),
      'a resumed event was published',
    );
    assert.ok(last?.testAccuracy !== undefined && base?.testAccuracy !== undefined);
    assert.ok(Math.abs(last.testAccuracy - base.testAccuracy) <= 0.002, `accuracy ${last.testAccuracy} vs uninterrupted ${base.testAccuracy}`);
    assert.equal(r.coefficients.digest, baseline.coefficients.digest, 'the resumed run reproduces the uninterrupted coefficients exactly');
    // Coefficients travel as patches of the slice each worker last received (ArrayRef.patch); the
    // shard whose worker was killed reached a worker without that slice, which refused the patch
    // (STORE_PATCH_BASE_MISSING) and got the slice whole.
    const orchestratorLog = fs.readFileSync(path.join(t.dir, 'logs', 'orchestrator.log'), 'utf8');
    assert.match(orchestratorLog, /lacks the coefficients a patch was made against; sending them whole/);
    assert.equal(r.history.length, 2);
  });
});
