/**
 * Seeing the local cluster (issue 25): a real cluster (Temporal dev server, nats-server,
 * orchestrator, 2 WASM workers) serves the Temporal Web UI at the address its state file
 * records, and `gramfleet status` (the real binary) prints that address and each process's
 * `/metrics`. A real Prometheus (Debian's package, unpacked by scripts/setup.sh --test) scrapes
 * every process; the GRF job the test ran shows up in the series: its shards in the workers'
 * task counters and latency histograms, the job in `gramfleet_jobs`, its activities in the
 * orchestrator's latencies, and the Temporal SDK's and server's own metrics are there.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { runGramfleet, sharedGraph, startTestCluster, type TestCluster } from './harness';

const PROMETHEUS = path.join(path.dirname(require.resolve('@gramfleet/orchestrator')), '..', '..', '.gramfleet', 'bin', 'prometheus');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

interface PromVector {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** An instant query against Prometheus's HTTP API. */
async function query(base: string, q: string): Promise<PromVector[]> {
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await r.json()) as { status: string; data?: { result: PromVector[] }; error?: string };
  if (body.status !== 'success') throw new Error(`query ${q}: ${body.error ?? r.status}`);
  return body.data?.result ?? [];
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe('observability of the local cluster', () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('observability', { workers: 2 });
  });
  after(async () => {
    await t?.stop();
  });

  it('serves the Temporal Web UI at the address in its state, and `status` prints it', async () => {
    const ui = t.cluster.state.temporalUi;
    assert.ok(ui !== undefined && /^http:\/\/127\.0\.0\.1:\d+$/.test(ui), `temporalUi recorded: ${String(ui)}`);
    // The UI server may come up a moment after the frontend: ask until it answers (the test's own timeout bounds it).
    let res: Response | undefined;
    for (;;) {
      res = await fetch(ui).catch(() => undefined);
      if (res !== undefined) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<html/i, 'the UI answers with its page');
    const st = await runGramfleet(['status', '--data-dir', t.dir]);
    assert.equal(st.code, 0, st.stderr);
    assert.ok(st.stdout.includes(`temporal-ui ${ui}`), st.stdout);
    const js = await runGramfleet(['status', '--data-dir', t.dir, '--json']);
    assert.equal((JSON.parse(js.stdout) as { temporalUi?: string }).temporalUi, ui);
  });

  it('every process but nats-server serves /metrics, and `status` lists the endpoints', async () => {
    const procs = t.cluster.status();
    const withMetrics = procs.filter((p) => p.metrics !== undefined).map((p) => p.name);
    assert.deepEqual(withMetrics.sort(), ['orchestrator', 'temporal', 'worker-0', 'worker-1']);
    const st = await runGramfleet(['status', '--data-dir', t.dir]);
    for (const p of procs) if (p.metrics !== undefined) assert.ok(st.stdout.includes(`metrics ${p.metrics}`), st.stdout);
    for (const p of procs.filter((q) => q.name !== 'temporal' && q.metrics !== undefined)) {
      const r = await fetch(p.metrics!);
      assert.equal(r.status, 200, p.name);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.match(await r.text(), /^gramfleet_process_cpu_user_seconds_total\{proc="/m, `${p.name}: Node's process metrics`);
    }
  });

  it("a real Prometheus scrapes every process and finds the job's shards, the job, its activities and Temporal's metrics", async (ctx) => {
    // Run a job first: 7 shards of karate (34 nodes, 5 per shard).
    const r = await (
      await t.fleet.submit({
        kind: 'grf',
        graph: sharedGraph('karate.adjlist'),
        kernel: 'reg-laplacian',
        scale: 0.25,
        walks: 8,
        pHalt: 0.5,
        seed: 5,
        shardNodes: 5,
      })
    ).result();
    assert.equal(r.shards, 7);
    if (!fs.existsSync(PROMETHEUS)) {
      ctx.skip(`no Prometheus at ${PROMETHEUS} (scripts/setup.sh --test unpacks Debian's package)`);
      return;
    }
    const targets = t.cluster.status().filter((p) => p.metrics !== undefined);
    const dir = fs.mkdtempSync(path.join(t.dir, 'prometheus-'));
    const cfg = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      ...targets.flatMap((p) => [
        `  - job_name: ${JSON.stringify(p.name)}`,
        '    static_configs:',
        `      - targets: [${JSON.stringify(new URL(p.metrics!).host)}]`,
      ]),
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), cfg + '\n');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const log = fs.openSync(path.join(dir, 'prometheus.log'), 'w');
    const prom = spawn(
      PROMETHEUS,
      [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', log, log] },
    );
    try {
      // Wait until every target has been scraped at least twice, healthy (the test's own timeout bounds it).
      for (;;) {
        const ups = await query(base, 'count_over_time(up[1m])').catch(() => []);
        const healthy = await query(base, 'up == 1').catch(() => []);
        if (ups.length === targets.length && ups.every((v) => Number(v.value[1]) >= 2) && healthy.length === targets.length) break;
        if (prom.exitCode !== null) throw new Error(`prometheus exited: ${fs.readFileSync(path.join(dir, 'prometheus.log'), 'utf8').slice(-2000)}`);
        await sleep(500);
      }
      // The job's 7 shards ran once each, on the two workers together.
      const ok = await query(base, 'sum(gramfleet_worker_tasks_total{op="grf-walks",outcome="ok"})');
      assert.equal(Number(ok[0]?.value[1]), 7, JSON.stringify(ok));
      const hist = await query(base, 'sum(gramfleet_worker_task_seconds_count{op="grf-walks"})');
      assert.equal(Number(hist[0]?.value[1]), 7);
      const le = await query(base, 'sum(gramfleet_worker_task_seconds_bucket{op="grf-walks",le="+Inf"})');
      assert.equal(Number(le[0]?.value[1]), 7);
      const bytes = await query(base, 'sum(gramfleet_worker_task_input_bytes_total{op="grf-walks"})');
      assert.ok(Number(bytes[0]?.value[1]) > 0, 'input bytes counted');
      const perWorker = await query(base, 'gramfleet_worker_tasks_total{op="grf-walks",outcome="ok"}');
      assert.deepEqual(
        perWorker.map((v) => v.metric['proc']),
        perWorker.map(() => 'wasm-worker'),
      );
      // The job, by kind and state, from Temporal's visibility (eventually consistent, and counted
      // at most every 5 s: asked until it shows; the test's own timeout bounds it).
      let jobs = await query(base, 'gramfleet_jobs{kind="grf",state="completed"}');
      while (Number(jobs[0]?.value[1] ?? 0) < 1) {
        await sleep(500);
        jobs = await query(base, 'gramfleet_jobs{kind="grf",state="completed"}');
      }
      assert.equal(Number(jobs[0]?.value[1]), 1, JSON.stringify(jobs));
      assert.deepEqual(await query(base, 'gramfleet_jobs{kind="grf",state="running"} > 0'), [], 'no grf job running');
      // Its activities, timed by the orchestrator.
      const acts = await query(base, 'sum(gramfleet_activity_seconds_count{outcome="ok"})');
      assert.ok(Number(acts[0]?.value[1]) >= 1, JSON.stringify(acts));
      const inFlight = await query(base, 'gramfleet_shards_in_flight');
      assert.equal(Number(inFlight[0]?.value[1]), 0);
      // The Temporal SDK's own metrics (appended to the orchestrator's) and the dev server's.
      const sdk = await query(base, '{job="orchestrator",__name__=~"temporal_.+"}');
      assert.ok(sdk.length > 0, 'Temporal SDK series');
      const server = await query(base, '{job="temporal",__name__=~".+"}');
      assert.ok(server.length > 0, 'Temporal server series');
    } finally {
      if (prom.exitCode === null) {
        const exited = new Promise((r) => prom.once('exit', r));
        prom.kill('SIGTERM');
        await exited;
      }
      fs.closeSync(log);
    }
  });
});
