/**
 * The jobs service (orchestrator/src/jobs/service.ts) on a real local cluster, through the SDK
 * (`fleet.jobs`, `fleet.job(id)`) and the real CLI (`gramfleet jobs list|status|cancel`): jobs
 * of any kind are listed (filtered by kind and state) whoever submitted them, described,
 * cancelled; bad filters and unknown ids are typed errors naming the field.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError, type ErrorCode } from '@gramfleet/core';
import type { JobSummary } from '@gramfleet/orchestrator';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { readNpz, writeNpy } from '@gramfleet/orchestrator';
import { CLI_ENTRY_SCRIPT, runGramfleet, sharedGraph, startTestCluster, until, type TestCluster } from './harness';

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, field?: string): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.details['field'], field, e.message);
    return true;
  });
}

const karate = {
  kind: 'grf' as const,
  graph: sharedGraph('karate.adjlist'),
  kernel: 'reg-laplacian',
  scale: 0.25,
  walks: 16,
  pHalt: 0.5,
  seed: 7,
  shardNodes: 5,
};

describe('jobs service: list, describe, cancel (real Temporal + NATS)', () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('jobs', { workers: 1 });
  });
  after(async () => {
    await t?.stop();
  });

  it('a finished job is listed (kind, state, who submitted it), described and found by id alone', async () => {
    const h = await t.fleet.submit(karate);
    await h.result();
    let listed: JobSummary | undefined;
    await until(
      async () => {
        listed = (await t.fleet.jobs.list({ kind: 'grf', state: 'completed' })).find((j) => j.jobId === h.jobId);
        return listed !== undefined;
      },
      30_000,
      'the job in the listing',
    );
    assert.equal(listed?.kind, 'grf');
    assert.equal(listed?.state, 'completed');
    assert.match(listed?.submittedBy ?? '', /.+@.+/);
    assert.ok(listed?.closedAt !== undefined);
    // Other filters leave it out.
    assert.equal(
      (await t.fleet.jobs.list({ kind: 'eigenpro' })).find((j) => j.jobId === h.jobId),
      undefined,
    );
    assert.equal(
      (await t.fleet.jobs.list({ state: 'running' })).find((j) => j.jobId === h.jobId),
      undefined,
    );
    const d = await t.fleet.jobs.describe(h.jobId);
    assert.equal(d.state, 'completed');
    assert.equal(d.error, undefined);
    const byId = await t.fleet.job(h.jobId);
    assert.equal(byId.kind, 'grf');
    assert.equal((await byId.status()).state, 'completed');
    const r = await byId.result();
    assert.equal((r as { n: number }).n, 34);
  });

  it('cancel: a running job is cancelled (JOB_CANCELLED), a second cancel changes nothing', async () => {
    const h = await t.fleet.submit({ ...karate, graph: sharedGraph('cora.npz'), walks: 4096, shardNodes: 10, batchShards: 16, window: 4 });
    await until(async () => (await h.progress().catch(() => undefined))?.phase === 'running', 30_000, 'job running');
    const running = await t.fleet.jobs.describe(h.jobId);
    assert.equal(running.state, 'running');
    assert.ok(running.progress !== undefined, 'progress while it runs');
    const c = await t.fleet.jobs.cancel(h.jobId);
    assert.equal(c.cancelRequested, true);
    await rejectsWith(h.result(), 'JOB_CANCELLED');
    const d = await t.fleet.jobs.describe(h.jobId);
    assert.equal(d.state, 'cancelled');
    assert.equal(d.error?.code, 'JOB_CANCELLED');
    const again = await t.fleet.jobs.cancel(h.jobId);
    assert.equal(again.cancelRequested, false);
    assert.equal(again.state, 'cancelled');
  });

  it('bad filters and unknown ids are typed errors naming the field', async () => {
    await rejectsWith(t.fleet.jobs.list({ kind: 'grff' }), 'INPUT_INVALID', 'kind');
    await rejectsWith(t.fleet.jobs.list({ state: 'done' }), 'INPUT_INVALID', 'state');
    await rejectsWith(t.fleet.jobs.list({ limit: 0 }), 'INPUT_OUT_OF_RANGE', 'limit');
    await rejectsWith(t.fleet.jobs.describe('no-such-job'), 'JOB_NOT_FOUND', 'jobId');
    await rejectsWith(t.fleet.job('no-such-job'), 'JOB_NOT_FOUND', 'jobId');
    await rejectsWith(t.fleet.jobs.cancel('no-such-job'), 'JOB_NOT_FOUND', 'jobId');
  });

  it('gramfleet jobs list|status|cancel (the real CLI) show the same jobs', async () => {
    const h = await t.fleet.submit(karate);
    await h.result();
    await until(
      async () => (await runGramfleet(['jobs', 'list', '--data-dir', t.dir, '--json'])).stdout.includes(h.jobId),
      30_000,
      'the job in the CLI listing',
    );
    const list = await runGramfleet(['jobs', 'list', '--data-dir', t.dir, '--kind', 'grf', '--state', 'completed']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /JOB ID\s+KIND\s+STATE/);
    assert.match(list.stdout, new RegExp(`${h.jobId}\\s+grf\\s+completed`));
    const st = await runGramfleet(['jobs', 'status', h.jobId, '--data-dir', t.dir, '--json']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal((JSON.parse(st.stdout) as { state: string }).state, 'completed');
    const c = await runGramfleet(['jobs', 'cancel', h.jobId, '--data-dir', t.dir]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /already completed; nothing to cancel/);
    const bad = await runGramfleet(['jobs', 'list', '--data-dir', t.dir, '--state', 'runing']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /state must be one of .*did you mean running/);
    const missing = await runGramfleet(['jobs', 'status', 'no-such-job', '--data-dir', t.dir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no job no-such-job in this cluster/);
  });

  it('--detach, kill the watching client, re-attach with jobs watch, jobs result writes byte-identical files', async () => {
    const grf = ['grf', '--data-dir', t.dir, '--graph', sharedGraph('cora.npz'), '--scale', '0.25', '--walks', '64', '--p-halt', '0.5', '--seed', '5'];
    const a = path.join(t.dir, 'fg.npz');
    const fg = await runGramfleet([...grf, '--out', a, '--json']);
    assert.equal(fg.code, 0, fg.stderr);
    const b = path.join(t.dir, 'detached.npz');
    const det = await runGramfleet([...grf, '--out', b, '--detach', '--json']);
    assert.equal(det.code, 0, det.stderr);
    const { jobId, detached } = JSON.parse(det.stdout) as { jobId: string; detached: boolean };
    assert.equal(detached, true);
    assert.equal(fs.existsSync(b), false, 'a detached command writes nothing');
    // A client watching the job is killed (SIGKILL) as soon as it shows anything; the job goes on.
    const watcher = spawn(process.execPath, [CLI_ENTRY_SCRIPT, 'jobs', 'watch', jobId, '--data-dir', t.dir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve) => {
      watcher.stdout.once('data', () => resolve());
      watcher.once('close', () => resolve());
    });
    watcher.kill('SIGKILL');
    // Re-attached, it shows the progress until the end.
    const w = await runGramfleet(['jobs', 'watch', jobId, '--data-dir', t.dir]);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stdout, new RegExp(`${jobId} \\(grf\\) completed`));
    // The recorded --out, then another place: the same bytes as the foreground run.
    const r1 = await runGramfleet(['jobs', 'result', jobId, '--data-dir', t.dir]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.ok(fs.readFileSync(b).equals(fs.readFileSync(a)), 'jobs result writes the file the command would have written');
    const c = path.join(t.dir, 'moved.npz');
    const r2 = await runGramfleet(['jobs', 'result', jobId, '--data-dir', t.dir, '--out', c, '--json']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual((JSON.parse(r2.stdout) as { out: string[] }).out, [c]);
    assert.ok(fs.readFileSync(c).equals(fs.readFileSync(a)));
  });

  it('--detach on kron-gp and datagen, and the same jobs submitted from the SDK: jobs result writes the files the foreground command writes', async () => {
    // kron-gp predict on a 6×5 grid with the posterior mean and variance on a 4×3 test grid.
    const yFile = path.join(t.dir, 'kron-y.npy');
    await writeNpy(yFile, { dtype: 'f64', shape: [30], data: Float64Array.from({ length: 30 }, (_, i) => Math.sin(i / 3) + 0.1 * Math.cos(7 * i)) });
    const kron = [
      'kron-gp',
      'predict',
      '--data-dir',
      t.dir,
      '--grid',
      '6,5',
      '--y',
      yFile,
      '--lengthscales',
      '0.3,0.4',
      '--noise',
      '0.05',
      '--test-grid',
      '4,3',
      '--variance',
    ];
    const kfg = path.join(t.dir, 'kron-fg.npz');
    const f1 = await runGramfleet([...kron, '--out', kfg, '--json']);
    assert.equal(f1.code, 0, f1.stderr);
    const kdet = path.join(t.dir, 'kron-detached.npz');
    const d1 = await runGramfleet([...kron, '--out', kdet, '--detach', '--json']);
    assert.equal(d1.code, 0, d1.stderr);
    const kronJob = JSON.parse(d1.stdout) as { jobId: string; kind: string; detached: boolean };
    assert.deepEqual([kronJob.kind, kronJob.detached], ['kron-gp', true]);
    assert.equal(fs.existsSync(kdet), false, 'a detached command writes nothing');
    const kw = await runGramfleet(['jobs', 'watch', kronJob.jobId, '--data-dir', t.dir]);
    assert.equal(kw.code, 0, kw.stderr);
    const kr = await runGramfleet(['jobs', 'result', kronJob.jobId, '--data-dir', t.dir, '--json']);
    assert.equal(kr.code, 0, kr.stderr);
    assert.equal((JSON.parse(kr.stdout) as { out: string }).out, kdet);
    const zf = await readNpz(kfg);
    assert.ok(zf['mean'] !== undefined && zf['variance'] !== undefined, 'the foreground file has the posterior');
    assert.ok(fs.readFileSync(kdet).equals(fs.readFileSync(kfg)), 'kron-gp: jobs result writes the .npz the command writes');

    // datagen: the same parameters under two job ids, one in the foreground, one detached.
    const dg = ['datagen', '--data-dir', t.dir, '--pde', 'darcy', '--grid', '8', '--count', '3', '--seed', '4', '--chunk-size', '3'];
    const dfg = path.join(t.dir, 'dg-fg');
    const f2 = await runGramfleet([...dg, '--job-id', `dg-fg-${process.pid}`, '--out', dfg, '--json']);
    assert.equal(f2.code, 0, f2.stderr);
    const ddet = path.join(t.dir, 'dg-detached');
    const d2 = await runGramfleet([...dg, '--job-id', `dg-det-${process.pid}`, '--out', ddet, '--detach', '--json']);
    assert.equal(d2.code, 0, d2.stderr);
    const dgJob = JSON.parse(d2.stdout) as { jobId: string; kind: string };
    assert.equal(dgJob.kind, 'datagen');
    assert.equal(fs.existsSync(ddet), false, 'a detached command writes nothing');
    const dr = await runGramfleet(['jobs', 'result', dgJob.jobId, '--data-dir', t.dir, '--json']);
    assert.equal(dr.code, 0, dr.stderr);
    const summary = JSON.parse(dr.stdout) as { out: string; systems: number; pagesReleased: number };
    assert.deepEqual([summary.out, summary.systems], [ddet, 3]);
    assert.ok(summary.pagesReleased > 0, 'the pages are released once the dataset is written, as the command does');
    const files = fs.readdirSync(dfg).sort();
    assert.deepEqual(fs.readdirSync(ddet).sort(), files);
    for (const f of files) {
      if (f === 'manifest.json') continue;
      assert.ok(fs.readFileSync(path.join(ddet, f)).equals(fs.readFileSync(path.join(dfg, f))), `datagen: ${f} is the same bytes`);
    }
    const manifest = (dir: string): unknown => {
      const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
        jobId?: string;
        totals: { timeMs?: number };
        systems: { timeMs?: number }[];
      };
      delete m.jobId;
      delete m.totals.timeMs;
      for (const x of m.systems) delete x.timeMs;
      return m;
    };
    assert.deepEqual(manifest(ddet), manifest(dfg), 'the same manifest but for the job id and solve times');

    // The same datagen job submitted from the SDK records its recipe too: jobs result --out writes the same dataset.
    const sdkDg = await t.fleet.submit({ kind: 'datagen', pde: 'darcy', grid: 8, count: 3, seed: 4, chunkSize: 3, jobId: `dg-sdk-${process.pid}` });
    assert.equal((await sdkDg.status()).output?.command, 'datagen');
    const dsdk = path.join(t.dir, 'dg-sdk');
    const sr = await runGramfleet(['jobs', 'result', sdkDg.jobId, '--data-dir', t.dir, '--out', dsdk, '--json']);
    assert.equal(sr.code, 0, sr.stderr);
    assert.deepEqual(fs.readdirSync(dsdk).sort(), files);
    for (const f of files)
      if (f !== 'manifest.json') assert.ok(fs.readFileSync(path.join(dsdk, f)).equals(fs.readFileSync(path.join(dfg, f))), `datagen from the SDK: ${f}`);
    assert.deepEqual(manifest(dsdk), manifest(dfg));

    // kron-gp from the SDK: jobs result writes the .npz `kron-gp solve` writes for the same grid and data.
    const axes = [
      [0, 0.2, 0.4, 0.6, 0.8, 1],
      [0, 0.25, 0.5, 0.75, 1],
    ];
    const axesFile = path.join(t.dir, 'kron-axes.json');
    fs.writeFileSync(axesFile, JSON.stringify(axes));
    const ksolve = path.join(t.dir, 'kron-solve.npz');
    const ks = await runGramfleet([
      'kron-gp',
      'solve',
      '--data-dir',
      t.dir,
      '--axes',
      axesFile,
      '--y',
      yFile,
      '--lengthscales',
      '0.3,0.4',
      '--noise',
      '0.05',
      '--out',
      ksolve,
      '--json',
    ]);
    assert.equal(ks.code, 0, ks.stderr);
    const sdkKron = await t.fleet.submit({ kind: 'kron-gp', axes, y: yFile, kernel: 'rbf', lengthscales: [0.3, 0.4], noise: 0.05 });
    await sdkKron.result();
    assert.equal((await sdkKron.status()).output?.command, 'kron-gp');
    const ksdk = path.join(t.dir, 'kron-sdk.npz');
    const kr2 = await runGramfleet(['jobs', 'result', sdkKron.jobId, '--data-dir', t.dir, '--out', ksdk, '--json']);
    assert.equal(kr2.code, 0, kr2.stderr);
    assert.ok(fs.readFileSync(ksdk).equals(fs.readFileSync(ksolve)), 'kron-gp from the SDK: jobs result writes the .npz the command writes');
  });
});
