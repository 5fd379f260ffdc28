/**
 * Campaign inputs by object reference, on real servers: a graph uploaded to the cluster's object
 * store (`gf:file:…`) named by a campaign run (in `runs` and in a grid axis) or by `fleet.submit`
 * gives the same Φ, byte for byte, as the run naming its path; a reference the cluster does not hold is
 * `STORE_MISSING_OBJECT` naming the field, and a malformed one `INPUT_INVALID`, before anything is
 * scheduled; a remote client's CLI (a context, its own working directory, a spec naming a path
 * relative to it that the orchestrator cannot see) uploads the file by content digest — a second
 * campaign sends nothing — and its runs read it by reference.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isGramfleetError, type CampaignRow, type CampaignSpec, type CsrRef, type ErrorCode } from '@gramfleet/core';
import { contextAddFlags, csrDigest, runGramfleet, scheduledWork, sharedGraph, startTestCluster, type TestCluster } from './harness';

const cora = sharedGraph('cora.npz');
const params = { kernel: 'diffusion', scale: 0.5, walks: 8, pHalt: 0.5, seed: 3 };
const rid = (): string => randomBytes(3).toString('hex');
const phiOf = (r: CampaignRow): string => csrDigest(r.artifacts['phi'] as CsrRef);

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, field: string): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.details['field'], field, e.message);
    assert.ok(e.message.includes(field), e.message);
    return true;
  });
}

describe('campaign inputs by object reference (real Temporal + NATS)', () => {
  let t: TestCluster;
  let ref: string;
  before(async () => {
    t = await startTestCluster('campaign-files', { workers: 1 });
    ref = (await t.fleet.objects.putFile(cora)).ref;
  });
  after(async () => {
    await t?.stop();
  });

  it('a run naming an uploaded graph by reference (in runs and in a grid axis) gives the Φ of the run naming its path', async () => {
    const spec: CampaignSpec = {
      id: `ref-${rid()}`,
      runs: [
        { kind: 'grf', graph: cora, ...params },
        { kind: 'grf', graph: ref, ...params },
      ],
      grid: { kind: 'grf', base: params, axes: { graph: [ref] } },
    };
    const h = await t.fleet.campaigns.start(spec);
    const s = await h.result();
    const rows = await h.rows();
    assert.deepEqual([s.runsTotal, s.runsDone, s.runsFailed], [3, 3, 0], JSON.stringify(rows.map((r) => r.error)));
    assert.deepEqual(
      rows.map((r) => r.params['graph']),
      [cora, ref, ref],
      'a row keeps the reference its run named',
    );
    assert.ok(Number(rows[0]!.metrics['n']) > 0);
    assert.ok(rows.every((r) => r.metrics['n'] === rows[0]!.metrics['n']));
    assert.equal(phiOf(rows[1]!), phiOf(rows[0]!), 'the same Φ bytes by reference as by path (runs)');
    assert.equal(phiOf(rows[2]!), phiOf(rows[0]!), 'the same Φ bytes by reference as by path (grid axis)');
    // The SDK takes a reference too (fetched into its file cache, then read as the path is).
    const direct = await (await t.fleet.submit({ kind: 'grf', graph: ref, ...params })).result();
    assert.equal(csrDigest(direct.phi[0]!), phiOf(rows[0]!), 'fleet.submit by reference: the same Φ bytes');
  });

  it('a reference the cluster does not hold, or a malformed one, is a typed error naming the field before anything is scheduled', async () => {
    const missing = `gf:file:${'0'.repeat(64)}:123`;
    const before = await scheduledWork(t);
    const id = `bad-${rid()}`;
    await rejectsWith(
      t.fleet.campaigns.start({
        id,
        runs: [
          { kind: 'grf', graph: ref, ...params },
          { kind: 'grf', graph: missing, ...params },
        ],
      }),
      'STORE_MISSING_OBJECT',
      'runs[1].graph',
    );
    await rejectsWith(
      t.fleet.campaigns.start({ id, grid: { kind: 'grf', base: params, axes: { graph: [ref, missing] } } }),
      'STORE_MISSING_OBJECT',
      'grid.axes.graph[1]',
    );
    await rejectsWith(
      t.fleet.campaigns.start({
        id,
        grid: { kind: 'eigenpro', base: { train: missing, trainLabels: ref, kernel: 'laplacian', bandwidth: 1 }, axes: { epochs: [1] } },
      }),
      'STORE_MISSING_OBJECT',
      'grid.base.train',
    );
    await rejectsWith(t.fleet.campaigns.start({ id, runs: [{ kind: 'grf', graph: 'gf:file:xyz', ...params }] }), 'INPUT_INVALID', 'runs[0].graph');
    assert.deepEqual(await scheduledWork(t), before, 'no workflow started, no task queued');
    assert.ok(!(await t.fleet.campaigns.list()).some((c) => c.campaignId === id), 'no campaign recorded');
  });

  it("a remote client's CLI uploads the graph its spec names (relative to its directory) by digest, once; the runs read it by reference", async () => {
    const client = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-campaign-files-client-'));
    try {
      // Its own copy, at a relative path the orchestrator (another working directory) cannot see.
      const rel = path.join(`graphs-${rid()}`, 'my-cora.npz');
      fs.mkdirSync(path.join(client, path.dirname(rel)));
      fs.copyFileSync(cora, path.join(client, rel));
      assert.ok(!fs.existsSync(path.resolve(rel)), `${rel} is not in the test's (the orchestrator's) working directory`);
      const env = { GRAMFLEET_CONTEXTS_FILE: path.join(client, 'contexts.json'), GRAMFLEET_HOME: path.join(client, 'no-local-cluster') };
      const add = await runGramfleet(['context', 'add', 'lab', ...contextAddFlags(t)], { cwd: client, env });
      assert.equal(add.code, 0, add.stderr);
      const start = async (id: string): Promise<{ uploads: { file: string; ref: string; bytesUploaded: number; partsFound: number; parts: number }[] }> => {
        fs.writeFileSync(path.join(client, `${id}.json`), JSON.stringify({ id, runs: [{ kind: 'grf', graph: rel, ...params }] }));
        const r = await runGramfleet(['campaign', 'start', `${id}.json`, '--context', 'lab', '--wait', '--json'], { cwd: client, env });
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout.trim().split('\n')[0] as string) as never;
      };
      const id1 = `remote-${rid()}`;
      const first = await start(id1);
      assert.equal(first.uploads.length, 1, JSON.stringify(first));
      assert.equal(first.uploads[0]!.file, rel);
      assert.equal(first.uploads[0]!.ref, ref, 'the same bytes give the same reference as gramfleet put');
      const rows = await (await t.fleet.campaigns.get(id1)).rows();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.status, 'done', JSON.stringify(rows[0]!.error));
      assert.equal(rows[0]!.params['graph'], ref, 'the run named the reference, not the client path');
      const byPath = await (await t.fleet.submit({ kind: 'grf', graph: cora, ...params })).result();
      assert.equal(phiOf(rows[0]!), csrDigest(byPath.phi[0]!), 'the same Φ as the graph by path');
      // A second campaign naming the same file sends nothing: every part is already stored.
      const second = await start(`remote-${rid()}`);
      assert.equal(second.uploads[0]!.bytesUploaded, 0);
      assert.equal(second.uploads[0]!.partsFound, second.uploads[0]!.parts);
      // --no-upload: the path is one on the orchestrator's disk again, where it is not: the run fails naming it.
      const id3 = `local-${rid()}`;
      fs.writeFileSync(path.join(client, `${id3}.json`), JSON.stringify({ id: id3, runs: [{ kind: 'grf', graph: rel, ...params }] }));
      const r3 = await runGramfleet(['campaign', 'start', `${id3}.json`, '--context', 'lab', '--no-upload', '--wait', '--json'], { cwd: client, env });
      assert.equal(r3.code, 0, r3.stderr);
      const rows3 = await (await t.fleet.campaigns.get(id3)).rows();
      assert.equal(rows3[0]!.status, 'failed');
      assert.equal(rows3[0]!.error?.code, 'INPUT_FILE_UNREADABLE', rows3[0]!.error?.message);
    } finally {
      fs.rmSync(client, { recursive: true, force: true });
    }
  });
});
