/**
 * The GRF workload through the real cluster: exact answers, determinism across worker
 * counts, bad input rejected before anything is scheduled, cancellation, dead-lettering.
 */
import * as os from 'node:os';
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import {
  GRF_WORKLOAD,
  type GramfleetError,
  PROTOCOL_VERSION,
  compileGrfParams,
  exactKernelDense,
  isGramfleetError,
  relFrobError,
  csrWithValues,
  resourceNames,
  taskSubject,
  type CsrArrays,
  type GrfJobInput,
  type TaskResult,
  type ErrorCode,
} from '@gramfleet/core';
import { taskMsgId } from '@gramfleet/core/internal';
import { connectNats, openDataPlane } from '@gramfleet/workers';
import { readCsrNpz } from '@gramfleet/orchestrator';
import { runCli } from '@gramfleet/orchestrator/internal';
import { csrDigest, grfReference, scheduledWork, sharedGraph, startTestCluster, until, type TestCluster } from './harness';

async function expectCode(p: Promise<unknown>, code: ErrorCode, field?: string): Promise<GramfleetError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isGramfleetError(e), `expected a GramfleetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.match(e.message, new RegExp(field.replace(/[.[\]]/g, '\\$&')), `message should name ${field}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('GRF through the cluster (real Temporal + NATS)', () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('grf', { workers: 1 });
  });
  after(async () => {
    await t?.stop();
  });

  it('Φ from the cluster equals the float64 reference byte for byte (Karate), and ΦΦᵀ is within 0.07 of (I−W)^-1', async () => {
    const spec = {
      kind: 'grf' as const,
      graph: sharedGraph('karate.adjlist'),
      kernel: 'reg-laplacian',
      scale: 0.25,
      walks: 16,
      pHalt: 0.5,
      seed: 7,
      shardNodes: 5,
    };
    const r = await (await t.fleet.submit(spec)).result();
    assert.equal(r.n, 34);
    assert.equal(r.shards, 7);
    const phi = await t.fleet.getCsr(r.phi[0]!);
    const { phi: ref, graph: g, weights: w } = await grfReference(spec);
    assert.deepEqual(phi.indptr, ref[0]!.data);
    assert.deepEqual(phi.indices, ref[1]!.data);
    assert.deepEqual(phi.data, ref[2]!.data);
    const exact = exactKernelDense(csrWithValues(g.csr, w), { kind: 'reg-laplacian', d: 1 }, { radius: 0.25 });
    const err = relFrobError(exact, phi, phi);
    assert.ok(err <= 0.07, `relative Frobenius error ${err}`);
  });

  it('a local cluster shares the cores out over its workers: one worker runs a kernel thread per core', async () => {
    const ws = await t.fleet.workers();
    assert.equal(ws.length, 1);
    assert.equal(ws[0]?.threads, Math.max(1, os.cpus().length));
  });

  it('Φ from 1 worker equals Φ from 3 workers byte for byte (Cora, 25 shards)', async () => {
    const spec = {
      kind: 'grf' as const,
      graph: sharedGraph('cora.npz'),
      kernel: 'reg-laplacian',
      scale: 0.25,
      walks: 16,
      pHalt: 0.5,
      seed: 3,
      shardNodes: 100,
      variance: 'repelling' as const,
      estimator: 'independent' as const,
    };
    const one = await (await t.fleet.submit(spec)).result();
    assert.equal(Object.keys(one.workers).length, 1);
    await t.cluster.addWorker();
    await t.cluster.addWorker();
    await t.cluster.waitForWorkers(3);
    // Run until the shards really spread over several workers (scheduling decides, not us).
    let three = await (await t.fleet.submit(spec)).result();
    for (let i = 0; i < 3 && Object.keys(three.workers).length < 2; i++) three = await (await t.fleet.submit(spec)).result();
    assert.ok(Object.keys(three.workers).length >= 2, `shards ran on ${Object.keys(three.workers).length} workers`);
    assert.equal(three.phi.length, 2);
    assert.deepEqual(three.phi.map(csrDigest), one.phi.map(csrDigest));
  });

  it('writes Φ through the CLI as a scipy-layout CSR .npz that reads back equal', async () => {
    const main = runCli;
    const out = path.join(t.dir, 'phi.npz');
    const code = await main([
      'grf',
      '--graph',
      sharedGraph('karate.adjlist'),
      '--kernel',
      'diffusion',
      '--scale',
      '0.5',
      '--walks',
      '8',
      '--p-halt',
      '0.5',
      '--seed',
      '1',
      '--out',
      out,
      '--json',
      '--data-dir',
      t.dir,
    ]);
    assert.equal(code, 0);
    const back: CsrArrays = await readCsrNpz(out);
    assert.deepEqual(back.shape, [34, 34]);
    assert.ok(back.data.length > 34);
  });

  describe('bad input is rejected with a typed error before any shard is scheduled', () => {
    const karate = (): string => sharedGraph('karate.adjlist');
    const base = { kind: 'grf' as const, kernel: 'reg-laplacian', scale: 0.25, walks: 4, pHalt: 0.5 };
    const tiny = (data: number[], indptr = [0, 1, 2], indices = [1, 0], shape: [number, number] = [2, 2]): CsrArrays => ({
      shape,
      indptr: Int32Array.from(indptr),
      indices: Int32Array.from(indices),
      data: Float64Array.from(data),
    });
    let before0: Awaited<ReturnType<typeof scheduledWork>>;
    before(async () => {
      before0 = await scheduledWork(t);
    });
    after(async () => {
      assert.deepEqual(await scheduledWork(t), before0, 'no job may have been started, no task queued, by rejected jobs');
    });

    it('missing file', async () => {
      await expectCode(t.fleet.submit({ ...base, graph: '/nonexistent/graph.npz' }), 'INPUT_FILE_UNREADABLE', '/nonexistent/graph.npz');
    });
    it('unreadable file', async () => {
      const f = path.join(t.dir, 'garbage.npz');
      fs.writeFileSync(f, 'this is not a zip');
      await expectCode(t.fleet.submit({ ...base, graph: f }), 'INPUT_FILE_UNREADABLE', 'garbage.npz');
    });
    it('non-square adjacency', async () => {
      await expectCode(t.fleet.submit({ ...base, graph: tiny([1, 1], [0, 1, 2], [1, 0], [2, 3]) }), 'INPUT_NOT_SQUARE', 'graph');
    });
    it('asymmetric adjacency', async () => {
      await expectCode(t.fleet.submit({ ...base, graph: tiny([1, 2]) }), 'INPUT_ASYMMETRIC', 'graph');
    });
    it('negative weights', async () => {
      await expectCode(t.fleet.submit({ ...base, graph: tiny([-1, -1]) }), 'INPUT_NEGATIVE_WEIGHT', 'graph');
    });
    it('NaN weights', async () => {
      await expectCode(t.fleet.submit({ ...base, graph: tiny([NaN, NaN]) }), 'INPUT_NOT_FINITE', 'graph');
    });
    it('p_halt outside (0,1)', async () => {
      for (const pHalt of [0, 1, 1.5, -0.1]) await expectCode(t.fleet.submit({ ...base, graph: karate(), pHalt }), 'INPUT_OUT_OF_RANGE', 'pHalt');
    });
    it('walks < 1', async () => {
      await expectCode(t.fleet.submit({ ...base, graph: karate(), walks: 0 }), 'INPUT_OUT_OF_RANGE', 'walks');
    });
    it('resolvent kernel with c² ≥ 1 − p_halt', async () => {
      await expectCode(t.fleet.submit({ ...base, graph: karate(), scale: 0.8, pHalt: 0.5 }), 'INPUT_OUT_OF_RANGE', 'scale');
    });
    it('graph too large for the memory budget', async () => {
      const { connect } = await import('@gramfleet/orchestrator');
      const small = await connect({ dataDir: t.dir, startLocal: false, memoryBudgetBytes: 4096 });
      try {
        await expectCode(small.submit({ ...base, graph: sharedGraph('cora.npz') }), 'INPUT_TOO_LARGE');
      } finally {
        await small.close();
      }
    });
  });

  it('cancel stops the job: JOB_CANCELLED, and its queued shards are purged', async () => {
    const h = await t.fleet.submit({
      kind: 'grf',
      graph: sharedGraph('cora.npz'),
      kernel: 'reg-laplacian',
      scale: 0.25,
      walks: 4096,
      pHalt: 0.5,
      shardNodes: 10,
      batchShards: 16,
      window: 4,
    });
    await until(async () => (await h.progress().catch(() => undefined))?.phase === 'running', 30_000, 'job running');
    await h.cancel();
    await expectCode(h.result(), 'JOB_CANCELLED');
    const dp = await dataPlane(t);
    try {
      await until(
        async () => countSubjects(await dp.jsm.streams.info(dp.names.tasksStream, { subjects_filter: `gf.task.*.*.${h.jobId}` })) === 0,
        20_000,
        'queued shards purged',
      );
    } finally {
      await dp.close();
    }
  });

  it('a shard whose input is in no store is dead-lettered after max_deliver and the job fails with STORE_MISSING_OBJECT naming it', async () => {
    // Inputs that are not in the object store: fetching fails (transient) on every delivery; after
    // max_deliver counted tries the job fails saying which input was lost (not only "too many tries").
    const bogus = { bucket: resourceNames('gf').arraysBucket, digest: 'f'.repeat(64), dtype: 'i32' as const, shape: [3], bytes: 100 };
    const params = compileGrfParams({ kernel: 'reg-laplacian', scale: 0.25, walks: 2, pHalt: 0.5 });
    const input: GrfJobInput = {
      jobId: `dead-${Date.now()}`,
      n: 2,
      nnz: 2,
      graph: { indptr: bogus, indices: bogus, weights: { ...bogus, dtype: 'f64' } },
      params,
      shardNodes: 2,
      cls: 'wasm',
      timeoutMs: 120_000,
    };
    const conn = await Connection.connect({ address: t.cluster.state.temporalAddress });
    try {
      await new Client({ connection: conn }).workflow.start(GRF_WORKLOAD.workflowType, {
        taskQueue: t.cluster.state.taskQueue,
        workflowId: input.jobId,
        args: [input],
      });
      const e = await expectCode(t.fleet.job('grf', input.jobId).result(), 'STORE_MISSING_OBJECT');
      assert.equal(e.details['shardId'], 's000000');
      assert.deepEqual(e.details['digests'], ['f'.repeat(64)]);
      assert.match(e.message, /is in no store any more \(5 counted/);
    } finally {
      await conn.close();
    }
  });

  it('the worker runtime answers an undeliverable task with exactly one dead-letter record', async () => {
    const dp = await dataPlane(t);
    try {
      const jobId = `raw-${Date.now()}`;
      const task = {
        v: PROTOCOL_VERSION,
        jobId,
        shardId: 's000000',
        op: 'grf-walks',
        attrs: {},
        inputs: [{ bucket: dp.names.arraysBucket, digest: 'e'.repeat(64), dtype: 'i32', shape: [1], bytes: 1 }],
        deadline: Date.now() + 120_000,
      };
      await dp.js.publish(taskSubject('gf', 'wasm', 'grf-walks', jobId), JSON.stringify(task), { msgID: taskMsgId(jobId, 's000000') });
      const filter = `gf.result.${jobId}.>`;
      await until(async () => countSubjects(await dp.jsm.streams.info(dp.names.resultsStream, { subjects_filter: filter })) >= 1, 60_000, 'dead-letter record');
      const m = await dp.jsm.streams.getMessage(dp.names.resultsStream, { last_by_subj: `gf.result.${jobId}.s000000` });
      const r = m!.json<TaskResult>();
      // after max_deliver counted tries, the record names the input that was lost
      assert.equal(r.error?.code, 'STORE_MISSING_OBJECT');
      assert.deepEqual(r.error?.details?.['digests'], ['e'.repeat(64)]);
      await new Promise((res) => setTimeout(res, 1000));
      assert.equal(countSubjects(await dp.jsm.streams.info(dp.names.resultsStream, { subjects_filter: filter })), 1);
    } finally {
      await dp.close();
    }
  });
});

/** Messages per subject summed, from a stream info requested with `subjects_filter`. */
function countSubjects(info: { state: { subjects?: Record<string, number> } }): number {
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
}

async function dataPlane(t: TestCluster) {
  const nc = await connectNats(t.cluster.state.natsUrl, 'test', t.cluster.natsAuth('admin'));
  return openDataPlane(nc, resourceNames(t.cluster.state.prefix), t.cluster.state.dataPlane);
}
