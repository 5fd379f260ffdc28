/**
 * Campaigns of datagen runs on real servers: bad datagen parameters in a campaign spec are
 * typed errors naming the run's field before anything starts; a grid over PDE and seed
 * writes one row (metrics, page references, a dataset directory whose residuals were
 * recomputed) per run; and the same campaign with the orchestrator and a worker killed
 * mid-way finishes with every run done exactly once (one child execution each, first
 * attempt) and byte-identical solutions to the uninterrupted campaign.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DATAGEN_WORKLOAD, isGramfleetError, type CampaignRow, type CampaignSpec } from '@gramfleet/core';
import type { DatasetManifest } from '@gramfleet/orchestrator';
import { startTestCluster, until, type TestCluster } from './harness';

const rid = (): string => randomBytes(3).toString('hex');

async function childExecutions(client: Client, campaignId: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const w of client.workflow.list({ query: `WorkflowType = '${DATAGEN_WORKLOAD.workflowType}'` })) {
    if (w.workflowId.startsWith(`${campaignId}-r`)) out.set(w.workflowId, (out.get(w.workflowId) ?? 0) + 1);
  }
  return out;
}

/** The row's dataset: every (chunk, position) once, every recomputed residual ≤ rtol. */
function checkDataset(r: CampaignRow, count: number): void {
  const dir = r.metrics['dataset'];
  assert.equal(typeof dir, 'string', `run ${r.index} wrote a dataset`);
  const m = JSON.parse(fs.readFileSync(path.join(String(dir), 'manifest.json'), 'utf8')) as DatasetManifest;
  assert.equal(m.jobId, r.childId);
  assert.equal(m.systems.length, count);
  assert.equal(new Set(m.systems.map((s) => `${s.chunk}/${s.position}`)).size, count, 'each system once');
  for (const s of m.systems) assert.ok(s.relres <= 1e-8, `run ${r.index} system ${s.index}: relres ${s.relres}`);
  for (const c of m.chunks) assert.ok(fs.existsSync(path.join(String(dir), c.solutions)));
}

describe('datagen campaigns (real Temporal + NATS)', () => {
  let t: TestCluster;
  let conn: Connection;
  let client: Client;
  before(async () => {
    t = await startTestCluster('dgcampaign', { workers: 2, dataPlane: { ackWaitMs: 2000, maxDeliver: 5 } });
    conn = await Connection.connect({ address: t.cluster.state.temporalAddress });
    client = new Client({ connection: conn });
  });
  after(async () => {
    await conn?.close().catch(() => undefined);
    await t?.stop();
  });

  it('bad datagen parameters are typed errors naming the run field, before anything starts', async () => {
    const base = { pde: 'darcy', grid: 12, count: 4 };
    const bad = async (spec: CampaignSpec, code: string, where: string): Promise<void> => {
      await assert.rejects(t.fleet.campaigns.start(spec), (e: unknown) => {
        assert.ok(isGramfleetError(e), String(e));
        assert.equal(e.code, code, e.message);
        assert.ok(e.message.includes(where), `${e.message} names ${where}`);
        return true;
      });
    };
    await bad({ grid: { kind: 'datagen', base, axes: { grid: [12, 2] } } }, 'INPUT_OUT_OF_RANGE', 'grid.axes.grid[1]');
    await bad({ grid: { kind: 'datagen', base: { ...base, restart: 12 }, axes: { recycle: [4, 12] } } }, 'INPUT_OUT_OF_RANGE', 'restart');
    await bad({ runs: [{ kind: 'datagen', ...base, pde: 'maxwell' }] }, 'INPUT_INVALID', 'runs[0].pde');
    await bad({ runs: [{ kind: 'datagen', ...base, walks: 3 }] }, 'INPUT_INVALID', 'runs[0].walks');
    await bad({ runs: [{ kind: 'datagen', ...base, count: 20_001 }] }, 'INPUT_TOO_LARGE', 'runs[0].count');
    await bad({ runs: [{ kind: 'datagen', ...base, rtol: 1 }] }, 'INPUT_OUT_OF_RANGE', 'runs[0].rtol');
  });

  it('a grid of datagen runs survives killing the orchestrator and a worker: each run done once, same solutions as uninterrupted', async () => {
    const count = 8;
    const out = path.join(t.dir, 'datasets');
    const grid = {
      kind: 'datagen',
      base: { grid: 12, count, chunkSize: 4, restart: 20, recycle: 8, rtol: 1e-8, out },
      axes: { pde: ['darcy', 'helmholtz'], seed: [1, 2, 3, 4] },
    };
    const ref = await t.fleet.campaigns.start({ id: `dgref-${rid()}`, concurrency: 2, grid }, { historyLimit: 200 });
    const refSummary = await ref.result();
    const refRows = await ref.rows();
    const errors = (rs: CampaignRow[]): string => JSON.stringify(rs.filter((r) => r.status !== 'done').map((r) => [r.index, r.error]));
    assert.deepEqual([refSummary.runsTotal, refSummary.runsDone, refSummary.runsFailed], [8, 8, 0], errors(refRows));
    for (const r of refRows) {
      assert.equal(r.status, 'done');
      assert.equal(r.metrics['systems'], count);
      assert.equal(r.metrics['chunks'], 2);
      assert.ok(Number(r.metrics['matvecs']) > 0 && Number(r.metrics['maxSolverRelres']) <= 1e-8);
      assert.ok(Number(r.metrics['maxRelres']) <= 1e-8);
      assert.deepEqual(Object.keys(r.artifacts).sort(), ['page0', 'page1']);
      checkDataset(r, count);
    }
    // Different seeds give different data; the same run parameters give the same solutions.
    assert.equal(new Set(refRows.map((r) => r.metrics['solutionsDigest'])).size, 8);

    const id = `dgdur-${rid()}`;
    const h = await t.fleet.campaigns.start({ id, concurrency: 2, grid }, { historyLimit: 200 });
    await until(async () => (await h.progress()).runsDone >= 2, 120_000, '2 runs done');
    const mid = await h.progress();
    await t.cluster.kill('orchestrator', 'SIGKILL');
    await t.cluster.kill('worker-0', 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    await t.cluster.resume(1);
    const s = await h.result();
    assert.ok(mid.runsDone + mid.runsFailed < 8, `stopped mid-campaign (${mid.runsDone}/8)`);
    const rows = await h.rows();
    assert.deepEqual([s.runsTotal, s.runsDone, s.runsFailed], [8, 8, 0], errors(rows));
    assert.equal(rows.length, 8, 'one row per run, none lost, none twice');
    const execs = await childExecutions(client, id);
    assert.equal(execs.size, 8, `child workflows: ${[...execs.keys()].join(',')}`);
    for (const [wid, n] of execs) {
      assert.equal(n, 1, `${wid} executed ${n} times`);
      assert.ok(wid.endsWith('-a1'), wid);
    }
    for (const r of rows) {
      assert.equal(r.attempts, 1);
      checkDataset(r, count);
      // No finished system is published again: at most the systems in flight at the kill
      // (one per chunk lane, 2 lanes) go out a second time. `publishedTasks` counts the
      // publishes the server took as new: a system published before the kill and re-published
      // by the retried activity is deduplicated (same Nats-Msg-Id) and not counted again, so
      // a run in flight at the kill may count up to 2 fewer than its systems. Every system's
      // solution is in the dataset either way (checkDataset, and the digests above).
      const published = Number(r.metrics['publishedTasks']);
      assert.ok(published >= count - 2 && published <= count + 2, `run ${r.index}: ${published} tasks published for ${count} systems`);
    }
    process.stdout.write(`# killed after ${mid.runsDone}/8 runs; published tasks per run: ${rows.map((r) => r.metrics['publishedTasks']).join(',')}\n`);
    const key = (r: CampaignRow): unknown[] => [r.index, r.params, r.metrics['solutionsDigest'], r.metrics['matvecs'], r.metrics['systems']];
    assert.deepEqual(rows.map(key), refRows.map(key));
  });
});
