/**
 * Verification (`verify` in a job spec, `gramfleet grf --verify FRACTION`) through the real
 * local cluster: Temporal, NATS, the orchestrator and WASM worker processes. On honest workers
 * every chosen shard runs again on a second worker and Φ is byte-identical to a run without
 * verification; with a worker made to return wrong bytes (LocalCluster.addWorker's test-only
 * hook), the job fails with VERIFY_MISMATCH naming the shard and both workers.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { isGramfleetError, type ErrorCode, type GramfleetError } from '@gramfleet/core';
import { readCsrNpz } from '@gramfleet/orchestrator';
import { WAT_DOUBLE, assembleWat } from '@gramfleet/workers/testing';
import { runCli } from '@gramfleet/orchestrator/internal';
import { csrDigest, sharedGraph, startTestCluster, type TestCluster } from './harness';

async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<GramfleetError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isGramfleetError(e), `expected a GramfleetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('--verify through the cluster (real Temporal + NATS + worker processes)', () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('verify', { workers: 2 });
  });
  after(async () => {
    await t?.stop();
  });

  const spec = {
    kind: 'grf' as const,
    graph: sharedGraph('karate.adjlist'),
    kernel: 'reg-laplacian',
    scale: 0.25,
    walks: 16,
    pHalt: 0.5,
    seed: 7,
    shardNodes: 5,
    backend: 'wasm' as const,
  };

  it('a fraction outside [0, 1] is refused before anything runs (INPUT_OUT_OF_RANGE naming verify)', async () => {
    const e = await expectCode(t.fleet.submit({ ...spec, verify: 1.5 }), 'INPUT_OUT_OF_RANGE');
    assert.equal(e.details['field'], 'verify');
  });

  it('honest workers: every shard is run again on the other worker, and Φ is the same bytes as without --verify', async () => {
    const plain = await (await t.fleet.submit(spec)).result();
    assert.equal(plain.verifiedShards, undefined);
    const checked = await (await t.fleet.submit({ ...spec, verify: 1 })).result();
    assert.equal(checked.shards, 7);
    assert.equal(checked.verifiedShards, 7);
    assert.deepEqual(checked.phi.map(csrDigest), plain.phi.map(csrDigest));
    // The CLI's flag, the same way.
    const out = path.join(t.dir, 'phi-verified.npz');
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (c: Buffer) => chunks.push(c));
    const code = await runCli(
      [
        'grf',
        '--graph',
        spec.graph,
        '--scale',
        '0.25',
        '--walks',
        '16',
        '--p-halt',
        '0.5',
        '--seed',
        '7',
        '--shard-nodes',
        '5',
        '--verify',
        '0.5',
        '--out',
        out,
        '--json',
        '--data-dir',
        t.dir,
      ],
      {
        out: stdout,
        err: process.stderr,
        withFleet: (_o, f) => f(t.fleet),
      },
    );
    assert.equal(code, 0);
    const summary = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { shards: number; verifiedShards?: number };
    assert.ok(summary.verifiedShards !== undefined && summary.verifiedShards >= 0 && summary.verifiedShards <= summary.shards, JSON.stringify(summary));
    const phi = await t.fleet.getCsr(plain.phi[0]!);
    assert.deepEqual((await readCsrNpz(out)).data, phi.data);
    // The SDK's map takes it too.
    const k = await t.fleet.registerWasm(await assembleWat(WAT_DOUBLE), { exports: ['double'] });
    const [ref] = t.fleet.map(k, 'double', [Float64Array.of(1, 2, 3)], { memoryMB: 1, timeoutMs: 10_000, verify: 1 });
    assert.deepEqual(Array.from(await t.fleet.get(ref!)), [2, 4, 6]);
  });

  it('a worker that returns wrong bytes fails the job with VERIFY_MISMATCH naming the shard and both workers', async () => {
    // One honest worker and one corrupting one: each shard's two runs are on one of each.
    await t.cluster.kill('worker-1', 'SIGTERM');
    const bad = await t.cluster.addWorker({ testOnlyCorruptOutputs: true });
    await t.cluster.waitForWorkers(2);
    const e = await expectCode((await t.fleet.submit({ ...spec, verify: 1 })).result(), 'VERIFY_MISMATCH');
    const workers = e.details['workers'] as string[];
    assert.equal(workers.length, 2);
    assert.notEqual(workers[0], workers[1]);
    assert.ok(
      workers.some((w) => w.startsWith(`${bad}-`)),
      `${bad} is one of ${workers.join(', ')}`,
    );
    assert.match(String(e.details['shardId']), /^s\d+$/);
    assert.match(e.message, new RegExp(`shard ${String(e.details['shardId'])} of job `));
    // The SDK's map, the same way: each checked task's get rejects with VERIFY_MISMATCH.
    const k = await t.fleet.registerWasm(await assembleWat(WAT_DOUBLE), { exports: ['double'] });
    const refs = t.fleet.map(k, 'double', [Float64Array.of(1, 2, 3), Float64Array.of(4)], { memoryMB: 1, timeoutMs: 10_000, verify: 1 });
    for (const ref of refs) {
      const m = await expectCode(t.fleet.get(ref), 'VERIFY_MISMATCH');
      assert.equal((m.details['workers'] as string[]).length, 2);
    }
    assert.throws(
      () => t.fleet.map(k, 'double', [Float64Array.of(1)], { verify: -1 }),
      (x: unknown) => isGramfleetError(x) && x.code === 'INPUT_OUT_OF_RANGE' && x.details['field'] === 'verify',
    );
  });
});
