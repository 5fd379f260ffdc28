/**
 * Campaigns on real servers: a grid + list campaign writes one row per run (a failed run
 * with its typed error, the others unaffected), its Φ equal to a direct submit byte for byte,
 * its GRF error against the exact kernel shrinking with the walk count; results export to
 * CSV / JSON / Parquet; cancel stops it; and a 50-run campaign survives stopping Temporal, the
 * orchestrator and every worker mid-way — every run done exactly once, with the same results
 * as an uninterrupted campaign.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { GRF_WORKLOAD, isGramfleetError, type CampaignRow, type CampaignSpec } from '@gramfleet/core';
import { campaignCommand } from '@gramfleet/orchestrator/internal';
import { csrDigest, sharedGraph, startTestCluster, until, type TestCluster } from './harness';

const karate = sharedGraph('karate.adjlist');
const base = { graph: karate, kernel: 'reg-laplacian', scale: 0.25, pHalt: 0.5 };
const rid = (): string => randomBytes(3).toString('hex');

/** Every child workflow execution of a campaign, by workflow id (from Temporal's visibility). */
async function childExecutions(client: Client, campaignId: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const w of client.workflow.list({ query: `WorkflowType = '${GRF_WORKLOAD.workflowType}'` })) {
    if (w.workflowId.startsWith(`${campaignId}-r`)) out.set(w.workflowId, (out.get(w.workflowId) ?? 0) + 1);
  }
  return out;
}

describe('campaigns (real Temporal + NATS)', () => {
  let t: TestCluster;
  let conn: Connection;
  let client: Client;
  before(async () => {
    t = await startTestCluster('campaign', { workers: 2 });
    conn = await Connection.connect({ address: t.cluster.state.temporalAddress });
    client = new Client({ connection: conn });
  });
  after(async () => {
    await conn?.close().catch(() => undefined);
    await t?.stop();
  });

  it('grid + list: one row per run, a failed run keeps its typed error, Φ equals a direct submit, exports', async () => {
    const id = `grid-${rid()}`;
    const spec: CampaignSpec = {
      id,
      concurrency: 3,
      runs: [{ kind: 'grf', ...base, graph: path.join(t.dir, 'no-such-graph.npz'), walks: 4 }],
      grid: { kind: 'grf', base: { ...base, exactError: true }, axes: { walks: [4, 64], seed: [1, 2] } },
    };
    const h = await t.fleet.campaigns.start(spec);
    const s = await h.result();
    assert.deepEqual([s.runsTotal, s.runsDone, s.runsFailed], [5, 4, 1]);
    const rows = await h.rows();
    assert.deepEqual(
      rows.map((r) => r.index),
      [0, 1, 2, 3, 4],
    );
    const failed = rows[0]!;
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'INPUT_FILE_UNREADABLE', failed.error?.message);
    assert.equal(failed.attempts, 1, 'a permanent error is not retried');
    for (const r of rows.slice(1)) {
      assert.equal(r.status, 'done');
      assert.equal(r.metrics['n'], 34);
      assert.ok(typeof r.metrics['kernelRelError'] === 'number');
    }
    // ‖K − ΦΦᵀ‖/‖K‖ against the exact (I−W)^-1 falls with m (≈ 0.25/√m).
    const err = (m: number): number =>
      rows.filter((r) => r.status === 'done' && r.params['walks'] === m).reduce((a, r) => a + Number(r.metrics['kernelRelError']), 0) / 2;
    assert.ok(err(64) < err(4) && err(64) < 0.06, `errors ${err(4)} (m=4) vs ${err(64)} (m=64)`);
    // The same run submitted directly gives byte-identical Φ.
    const direct = await (await t.fleet.submit({ kind: 'grf', ...base, walks: 64, seed: 2 })).result();
    const row = rows.find((r) => r.params['walks'] === 64 && r.params['seed'] === 2)!;
    assert.equal(csrDigest(row.artifacts['phi'] as never), csrDigest(direct.phi[0]!));

    // CLI: list, status, results in three formats.
    const text = async (args: string[]): Promise<string> => {
      let buf = '';
      const out = {
        write: (s: string) => {
          buf += s;
          return true;
        },
      } as unknown as NodeJS.WritableStream;
      assert.equal(await campaignCommand(t.fleet, args, out), 0);
      return buf;
    };
    assert.match(await text(['list']), new RegExp(id));
    assert.match(await text(['status', id]), /done .* 5\/5 \(4 ok, 1 failed/);
    const csv = path.join(t.dir, 'r.csv');
    await text(['results', id, '--out', csv]);
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(lines.length, 6);
    assert.ok(lines[0]!.includes('metric.kernelRelError') && lines[0]!.includes('error.code'));
    assert.ok(lines[1]!.includes('INPUT_FILE_UNREADABLE'));
    await text(['results', id, '--out', path.join(t.dir, 'r.json')]);
    const json = JSON.parse(fs.readFileSync(path.join(t.dir, 'r.json'), 'utf8')) as CampaignRow[];
    assert.deepEqual(json, rows);
    await text(['results', id, '--out', path.join(t.dir, 'r.parquet')]);
    const { parquetReadObjects } = await import('hyparquet');
    const pq = fs.readFileSync(path.join(t.dir, 'r.parquet'));
    const objs = await parquetReadObjects({ file: pq.buffer.slice(pq.byteOffset, pq.byteOffset + pq.byteLength) });
    assert.equal(objs.length, 5);
    assert.deepEqual(
      objs.map((o) => o['metric.kernelRelError']),
      rows.map((r) => r.metrics['kernelRelError'] ?? null),
    );
    assert.deepEqual(
      objs.map((o) => o['status']),
      rows.map((r) => r.status),
    );
    // `campaign start FILE.yaml --wait` from a YAML spec.
    const yml = path.join(t.dir, 'c.yaml');
    const yid = `yaml-${rid()}`;
    fs.writeFileSync(
      yml,
      `id: ${yid}\nconcurrency: 2\ngrid:\n  kind: grf\n  base: { graph: ${karate}, kernel: reg-laplacian, scale: 0.25, pHalt: 0.5 }\n  axes:\n    walks: [2, 4]\n`,
    );
    assert.match(await text(['start', yml, '--wait']), /done: 2 ok, 0 failed of 2/);
    assert.deepEqual(
      (await (await t.fleet.campaigns.get(yid)).rows()).map((r) => r.params['walks']),
      [2, 4],
    );
    // A bad file is a typed error before anything starts.
    fs.writeFileSync(yml, 'grid: { kind: grf, base: { graph: x, kernel: reg-laplacian, scale: 0.25, pHalt: 0.5 }, axes: { walks: [2, 0] } }\n');
    await assert.rejects(
      campaignCommand(t.fleet, ['start', yml]),
      (e) => isGramfleetError(e) && e.code === 'INPUT_OUT_OF_RANGE' && e.message.includes('grid.axes.walks[1]'),
    );
    // Starting the same id again is a typed error.
    await assert.rejects(t.fleet.campaigns.start(spec), (e) => isGramfleetError(e) && e.code === 'INPUT_INVALID');
  });

  it("files outside the orchestrator's data roots are refused: '..', a symlink out, /dev/zero, an output elsewhere", async () => {
    // The test cluster's orchestrator runs with the default roots: its working directory, ../shared/data, the OS temp dir.
    const link = path.join(t.dir, 'escape.adjlist');
    fs.symlinkSync('/etc/passwd', link);
    const id = `roots-${rid()}`;
    const h = await t.fleet.campaigns.start({
      id,
      concurrency: 2,
      runs: [
        { kind: 'grf', ...base, graph: `${t.dir}/../../etc/passwd`, walks: 4 },
        { kind: 'grf', ...base, graph: link, walks: 4 },
        { kind: 'grf', ...base, graph: '/dev/zero', walks: 4 },
        { kind: 'datagen', pde: 'poisson-rhs', grid: 8, count: 2, seed: 1, out: '/etc/gramfleet-out' },
        { kind: 'grf', ...base, walks: 4 },
      ],
    });
    const s = await h.result();
    assert.deepEqual([s.runsTotal, s.runsDone, s.runsFailed], [5, 1, 4]);
    const rows = await h.rows();
    for (const r of rows.slice(0, 4)) {
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, 'INPUT_PATH_OUTSIDE_ROOTS', r.error?.message);
      assert.equal(r.attempts, 1, 'a permanent error is not retried');
      assert.ok(Array.isArray(r.error?.details?.['roots']), 'the error names the allowed roots');
    }
    assert.match(rows[0]!.error!.message, /graph .* leaves the data roots through '\.\.'/);
    assert.match(rows[1]!.error!.message, /symlink to \/etc\/passwd/);
    assert.equal(rows[3]!.error?.details?.['field'], 'out');
    assert.equal(rows[4]!.status, 'done', 'a file inside the roots (../shared/data) is read as before');
  });

  it('cancel: running children are cancelled, the campaign ends cancelled, no further rows', async () => {
    const id = `cancel-${rid()}`;
    const h = await t.fleet.campaigns.start({
      id,
      concurrency: 2,
      grid: { kind: 'grf', base: { ...base, pHalt: 0.1 }, axes: { walks: [4096], seed: Array.from({ length: 40 }, (_, i) => i) } },
    });
    await until(async () => (await h.progress()).runsDone >= 1, 120_000, 'a first run done');
    const running = await h.running();
    await h.cancel();
    await assert.rejects(h.result(), (e) => isGramfleetError(e) && e.code === 'JOB_CANCELLED');
    const p = await h.progress();
    assert.equal(p.phase, 'cancelled');
    const rows = await h.rows();
    assert.ok(rows.length < 40 && rows.length >= 1, `${rows.length} rows`);
    for (const r of running) {
      // A run still preparing when the cancel came has no child at all.
      const d = await client.workflow
        .getHandle(r.childId)
        .describe()
        .catch(() => undefined);
      if (d !== undefined) assert.ok(['CANCELLED', 'COMPLETED'].includes(d.status.name), `${r.childId} ${d.status.name}`);
    }
  });

  it('a 50-run campaign survives stopping Temporal, the orchestrator and every worker: each run done exactly once, same results', async () => {
    const grid = {
      kind: 'grf',
      base: { ...base, pHalt: 0.2, shardNodes: 12 },
      axes: { walks: [64, 128, 256, 512, 1024], seed: Array.from({ length: 10 }, (_, i) => i) },
    };
    // historyLimit 200 makes the campaign continue as new several times, across the restart too.
    const ref = await t.fleet.campaigns.start({ id: `ref-${rid()}`, concurrency: 4, grid }, { historyLimit: 200 });
    const refSummary = await ref.result();
    assert.equal(refSummary.runsDone, 50);
    assert.ok(refSummary.generations > 1, `continued as new (${refSummary.generations} generations)`);
    const refRows = await ref.rows();

    const id = `dur-${rid()}`;
    const h = await t.fleet.campaigns.start({ id, concurrency: 4, grid }, { historyLimit: 200 });
    await until(async () => (await h.progress()).runsDone >= 8, 120_000, '8 runs done');
    const mid = await h.progress();
    // Everything but NATS goes down at once: workers, orchestrator, Temporal.
    for (const p of t.cluster.state.processes.filter((q) => q.name.startsWith('worker-'))) await t.cluster.kill(p.name, 'SIGKILL');
    await t.cluster.kill('orchestrator', 'SIGKILL');
    await t.cluster.kill('temporal', 'SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    await t.cluster.resume(2);
    const s = await h.result();
    assert.ok(mid.runsDone + mid.runsFailed < 50, `stopped mid-campaign (${mid.runsDone}/50)`);
    assert.deepEqual([s.runsTotal, s.runsDone, s.runsFailed], [50, 50, 0]);
    const rows = await h.rows();
    assert.equal(rows.length, 50, 'one row per run, none lost, none twice');
    // Exactly once: one child execution per run, all first attempts, none started again.
    const execs = await childExecutions(client, id);
    assert.equal(execs.size, 50, `child workflows: ${[...execs.keys()].filter((k) => !k.endsWith('-a1')).join(',')}`);
    for (const [wid, n] of execs) {
      assert.equal(n, 1, `${wid} executed ${n} times`);
      assert.ok(wid.endsWith('-a1'), wid);
    }
    for (const r of rows) assert.equal(r.attempts, 1);
    // Same results as the uninterrupted campaign: Φ byte-identical per run.
    assert.deepEqual(
      rows.map((r) => [r.index, r.params, csrDigest(r.artifacts['phi'] as never), r.metrics['phiNnz']]),
      refRows.map((r) => [r.index, r.params, csrDigest(r.artifacts['phi'] as never), r.metrics['phiNnz']]),
    );
  });
  // Last: its timed-out attempts leave shards for the workers to finish.
  it('per-run retry: a run past its time limit is started again, then recorded failed with JOB_TIMEOUT after its attempts', async () => {
    const id = `retry-${rid()}`;
    // Several seconds of walks however fast a batch runs (2048 walks finished inside the
    // second on an idle machine once GRF batches became local activities); each attempt is cut
    // off at runTimeoutMs, so the test takes no longer.
    const heavy = { kind: 'grf', graph: sharedGraph('cora.npz'), kernel: 'reg-laplacian', scale: 0.25, walks: 16384, pHalt: 0.05, seed: 1 };
    const h = await t.fleet.campaigns.start({ id, concurrency: 1, runTimeoutMs: 1000, retry: { maxAttempts: 2, backoffMs: 100 }, runs: [heavy] });
    const s = await h.result();
    assert.deepEqual([s.runsDone, s.runsFailed], [0, 1]);
    const [row] = await h.rows();
    assert.equal(row!.status, 'failed');
    assert.equal(row!.error?.code, 'JOB_TIMEOUT', row!.error?.message);
    assert.equal(row!.attempts, 2);
    assert.equal(row!.childId, `${id}-r000000-a2`);
    const execs = await childExecutions(client, id);
    assert.deepEqual([...execs.keys()].sort(), [`${id}-r000000-a1`, `${id}-r000000-a2`]);
  });
});
