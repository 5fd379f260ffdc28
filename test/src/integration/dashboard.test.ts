/**
 * The dashboard (issue 25 item 2) on a real local cluster (Temporal dev server, nats-server,
 * orchestrator, 2 WASM workers, the dashboard process), driven in real headless Chromium
 * (Debian's `chromium`, installed by scripts/setup.sh --test) through playwright-core: the test
 * starts EigenPro jobs, opens the page, waits for the finished job's plot to show every epoch
 * and the running job's plot to show data, checks the DOM (workers, jobs, kind filter) and
 * that a screenshot is not blank (decoded by the browser: many distinct colours), and cancels
 * the running job with the page's button; Temporal then reports it cancelled. The JSON
 * endpoints are checked directly as well; without Chromium the test says why and cancels
 * through the endpoint instead.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LocalCluster, connect, type EigenProJobSpec, type Fleet } from '@gramfleet/orchestrator';
import { progressEvents } from '@gramfleet/orchestrator/internal';
import { Philox, resourceNames, type DenseRows, type KronProgressEvent } from '@gramfleet/core';
import { connectNats, openDataPlane } from '@gramfleet/workers';
import type { Page } from 'playwright-core';
import { runGramfleet, sharedGraph, until } from './harness';

/** Debian's Chromium, where scripts/setup.sh --test installs it. */
function chromiumPath(): string | undefined {
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
}

async function getJson<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const r = await fetch(url, init);
  return { status: r.status, body: (await r.json()) as T };
}

/** Distinct colours of a full-page screenshot, decoded by the browser itself (a blank page has a handful). */
async function screenshotColours(page: Page): Promise<{ png: Buffer; colours: number }> {
  const png = await page.screenshot({ fullPage: true });
  const colours = await page.evaluate(async (b64: string) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const cv = document.createElement('canvas');
    cv.width = img.width;
    cv.height = img.height;
    const g = cv.getContext('2d');
    if (g === null) return 0;
    g.drawImage(img, 0, 0);
    const px = g.getImageData(0, 0, cv.width, cv.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < px.length; i += 4) seen.add(((px[i] as number) << 16) | ((px[i + 1] as number) << 8) | (px[i + 2] as number));
    return seen.size;
  }, png.toString('base64'));
  return { png, colours };
}

interface JobRowJson {
  jobId: string;
  kind: string;
  state: string;
}

describe('dashboard of the local cluster', () => {
  let cluster: LocalCluster;
  let fleet: Fleet;
  let dir: string;
  let url: string;
  const n = 120,
    d = 3;
  const rng = new Philox(7);
  const x = new Float64Array(n * d).map((_, i) => rng.uniform(i, 0, 0, 0));
  const labels = new Float64Array(n).map((_, i) => ((x[i * d] as number) + (x[i * d + 1] as number) > 1 ? 1 : 0));
  const train: DenseRows = { rows: 90, cols: d, data: x.subarray(0, 90 * d) };
  const trainLabels: DenseRows = { rows: 90, cols: 1, data: labels.subarray(0, 90) };
  const test: DenseRows = { rows: 30, cols: d, data: x.subarray(90 * d) };
  const testLabels: DenseRows = { rows: 30, cols: 1, data: labels.subarray(90) };
  const spec = (jobId: string, epochs: number): EigenProJobSpec => ({
    kind: 'eigenpro',
    jobId,
    train,
    trainLabels,
    test,
    testLabels,
    kernel: 'laplacian',
    bandwidth: 0.5,
    epochs,
    seed: 3,
  });
  const tag = randomBytes(3).toString('hex');
  const finishedId = `dash-done-${tag}`;
  const runningId = `dash-long-${tag}`;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-dashboard-'));
    cluster = await LocalCluster.start({ dataDir: dir, workers: 2, taskQueue: `dashboard-${tag}`, logLevel: 'warn', dashboard: true });
    fleet = await connect({ dataDir: dir, startLocal: false });
    assert.ok(cluster.state.dashboard !== undefined, 'the state records the dashboard address');
    url = cluster.state.dashboard;
  });
  after(async () => {
    await fleet?.close().catch(() => undefined);
    await cluster?.stop();
    if (process.env['GRAMFLEET_KEEP_TEST_DIRS'] === undefined && dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('`status` and `gramfleet dashboard` print its address; the JSON endpoints read the cluster', async () => {
    const st = await runGramfleet(['status', '--data-dir', dir]);
    assert.equal(st.code, 0, st.stderr);
    assert.ok(st.stdout.includes(`dashboard ${url}`), st.stdout);
    const db = await runGramfleet(['dashboard', '--data-dir', dir]);
    assert.equal(db.code, 0, db.stderr);
    assert.equal(db.stdout.trim(), url);

    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /uPlot\.iife\.min\.js/);
    const lib = await fetch(new URL('vendor/uPlot.iife.min.js', url));
    assert.equal(lib.status, 200, 'uPlot is served from node_modules');
    assert.ok((await lib.text()).includes('uPlot'));

    const c = await getJson<{
      workers: { workerId: string; cls: string; threads: number }[];
      processes: { name: string; alive: boolean; stats?: Record<string, number> }[];
    }>(new URL('api/cluster', url).href);
    assert.equal(c.status, 200);
    assert.equal(c.body.workers.length, 2);
    assert.ok(c.body.workers.every((w) => w.cls === 'wasm' && w.threads >= 1));
    assert.ok(c.body.processes.some((p) => p.name === 'dashboard' && p.alive));
    // Each worker's own /metrics, read by the dashboard: tasks in flight and cache bytes.
    for (const w of c.body.processes.filter((p) => p.name.startsWith('worker-')))
      assert.ok(typeof w.stats?.['tasksInFlight'] === 'number' && typeof w.stats['cacheBytes'] === 'number', JSON.stringify(w));

    await (await fleet.submit(spec(finishedId, 4))).result();
    const jobs = await getJson<{ jobs: JobRowJson[] }>(new URL('api/jobs?kind=eigenpro', url).href);
    assert.deepEqual(
      jobs.body.jobs.map((j) => [j.jobId, j.kind, j.state]),
      [[finishedId, 'eigenpro', 'completed']],
    );
    const none = await getJson<{ jobs: JobRowJson[] }>(new URL('api/jobs?kind=grf', url).href);
    assert.deepEqual(none.body.jobs, []);
    const bad = await getJson<{ error: { code: string } }>(new URL('api/jobs?kind=nope', url).href);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INPUT_INVALID');
    const detail = await getJson<{ state: string; fraction: number; series: { epochs: { epoch: number; trainMse: number; testAccuracy?: number }[] } }>(
      new URL(`api/jobs/${finishedId}`, url).href,
    );
    assert.equal(detail.body.state, 'completed');
    assert.equal(detail.body.fraction, 1);
    assert.deepEqual(
      detail.body.series.epochs.map((e) => e.epoch),
      [1, 2, 3, 4],
    );
    assert.ok(detail.body.series.epochs.every((e) => Number.isFinite(e.trainMse) && e.testAccuracy !== undefined));
    const missing = await getJson<{ error: { code: string } }>(new URL('api/jobs/no-such-job', url).href);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'JOB_NOT_FOUND');
    const queues = await getJson<{ queues: { cls: string; pending: number; lagMs?: number }[] }>(new URL('api/cluster', url).href);
    assert.ok(
      queues.body.queues.some((q) => q.cls === 'wasm' && q.pending === 0 && q.lagMs === 0),
      JSON.stringify(queues.body.queues),
    );
  });

  it('in headless Chromium: the jobs list, the EigenPro plots (finished and live), a non-blank screenshot, cancel from the page', async (t) => {
    // A job that runs until it is cancelled (100,000 epochs).
    const long = await fleet.submit(spec(runningId, 100_000));
    const exe = chromiumPath();
    if (exe === undefined) {
      t.diagnostic(
        "Debian's chromium is not installed (scripts/setup.sh --test installs it with apt-get): the page is not driven; cancelling through the JSON endpoint instead",
      );
      const r = await getJson<{ cancelRequested: boolean }>(new URL(`api/jobs/${runningId}/cancel`, url).href, { method: 'POST' });
      assert.equal(r.status, 202);
      await assert.rejects(long.result(), (e: Error & { code?: string }) => e.code === 'JOB_CANCELLED');
      return;
    }
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      page.on('dialog', (dlg) => void dlg.accept());
      await page.goto(url);
      // Workers and both jobs listed.
      await page.waitForSelector('#workers tbody tr[data-worker-id]');
      assert.equal(await page.locator('#workers tbody tr').count(), 2);
      await page.waitForSelector(`#jobs tr[data-job-id="${runningId}"][data-state="running"]`);
      await page.waitForSelector(`#jobs tr[data-job-id="${finishedId}"][data-state="completed"]`);
      // The kind filter asks the server: no GRF job here.
      await page.selectOption('#kind-filter', 'datagen');
      await page.waitForFunction(() => document.querySelectorAll('#jobs tbody tr').length === 0);
      await page.selectOption('#kind-filter', 'eigenpro');
      await page.waitForSelector(`#jobs tr[data-job-id="${finishedId}"]`);

      // Utilisation over time: sampled from the worker registry at each poll.
      await page.waitForFunction(() => Number(document.querySelector('#utilisation')?.getAttribute('data-points') ?? 0) >= 2);
      await page.waitForSelector('#queues tr[data-class="wasm"]');
      await page.waitForFunction(() => /MB/.test(document.querySelector('#workers tbody td.cache')?.textContent ?? ''));

      // The finished job: every epoch plotted (MSE and accuracy).
      await page.click(`#jobs tr[data-job-id="${finishedId}"] a`);
      await page.waitForSelector('#job[data-state="completed"] .plot[data-plot="eigenpro-mse"][data-points="4"] canvas');
      await page.waitForSelector('.plot[data-plot="eigenpro-accuracy"][data-points="4"]');
      assert.equal(await page.textContent('#job-id'), finishedId);

      // The workers' current tasks (from their registry records) include the running job's shards.
      await page.waitForFunction(
        (id: string) => Array.from(document.querySelectorAll('#workers td.current')).some((td) => (td.textContent ?? '').includes(id)),
        runningId,
        { timeout: 30_000 },
      );
      // The running job: its plot shows data while it trains.
      await page.click(`#jobs tr[data-job-id="${runningId}"] a`);
      await page.waitForSelector(`#job[data-job-id="${runningId}"]`);
      await page.waitForFunction(() => Number(document.querySelector('.plot[data-plot="eigenpro-mse"]')?.getAttribute('data-points') ?? 0) >= 2);
      const legend = await page.textContent('.plot[data-plot="eigenpro-mse"]');
      assert.ok(legend !== null && legend.includes('train MSE') && legend.includes('test MSE'), String(legend));

      // The screenshot is not blank: decoded by the browser, it holds many colours.
      const { png, colours } = await screenshotColours(page);
      assert.ok(colours > 20, `the screenshot has ${colours} distinct colours`);
      fs.writeFileSync(path.join(dir, 'dashboard.png'), png);

      // Cancel from the page (its confirm dialog accepted): Temporal cancels the workflow.
      await page.click(`#job-actions button.cancel[data-job-id="${runningId}"]`);
      await assert.rejects(long.result(), (e: Error & { code?: string }) => e.code === 'JOB_CANCELLED');
      await page.waitForSelector(`#jobs tr[data-job-id="${runningId}"][data-state="cancelled"]`);
      await page.waitForSelector('#job[data-state="cancelled"]');
      assert.equal(await page.locator(`#jobs tr[data-job-id="${runningId}"] button.cancel`).count(), 0);
    } finally {
      await browser.close();
    }
    await until(async () => (await fleet.workers()).length === 2, 10_000, 'workers still registered');
  });

  it("a GRF job's shards over time and a campaign's table and parameter-vs-metric scatter (JSON, and the page in Chromium)", async (t) => {
    const base = { graph: sharedGraph('karate.adjlist'), kernel: 'reg-laplacian', scale: 0.25, pHalt: 0.5, seed: 7 };
    const grfId = `dash-grf-${tag}`;
    const r = await (await fleet.submit({ kind: 'grf', ...base, walks: 16, shardNodes: 5, jobId: grfId })).result();
    const g = await getJson<{ state: string; series: { shards: { t: number; done: number }[] } }>(new URL(`api/jobs/${grfId}`, url).href);
    assert.equal(g.body.state, 'completed');
    const pts = g.body.series.shards;
    assert.ok(pts.length >= 2, JSON.stringify(pts));
    assert.deepEqual([pts[0]?.done, pts[pts.length - 1]?.done], [0, r.shards], JSON.stringify(pts));
    assert.ok(pts.every((p, i) => i === 0 || (p.t >= (pts[i - 1]?.t ?? 0) && p.done > (pts[i - 1]?.done ?? 0))));

    const campaignId = `dash-camp-${tag}`;
    const h = await fleet.campaigns.start({
      id: campaignId,
      concurrency: 2,
      grid: { kind: 'grf', base: { ...base, exactError: true }, axes: { walks: [4, 16, 64] } },
    });
    await h.result();
    const c = await getJson<{ kind: string; state: string; series: { rows: { params: { walks: number }; metrics: { kernelRelError: number } }[] } }>(
      new URL(`api/jobs/${h.workflowId}`, url).href,
    );
    assert.equal(c.body.kind, 'campaign');
    assert.equal(c.body.state, 'completed');
    assert.deepEqual(
      c.body.series.rows.map((x) => x.params.walks),
      [4, 16, 64],
    );
    assert.ok(c.body.series.rows.every((x) => typeof x.metrics.kernelRelError === 'number'));
    const camps = await getJson<{ jobs: JobRowJson[] }>(new URL('api/jobs?kind=campaign', url).href);
    assert.deepEqual(
      camps.body.jobs.map((j) => j.jobId),
      [h.workflowId],
    );

    const exe = chromiumPath();
    if (exe === undefined) {
      t.diagnostic("Debian's chromium is not installed: the GRF and campaign pages are not drawn (their JSON is checked above)");
      return;
    }
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      await page.goto(`${url}#job=${grfId}`);
      await page.waitForSelector(`#job[data-job-id="${grfId}"] .plot[data-plot="grf-shards"] canvas`);
      assert.equal(await page.getAttribute('.plot[data-plot="grf-shards"]', 'data-points'), String(pts.length));
      await page.goto(`${url}#job=${h.workflowId}`);
      await page.waitForSelector('#campaign-rows tbody tr[data-index="2"]');
      assert.equal(await page.locator('#campaign-rows tbody tr[data-status="done"]').count(), 3);
      await page.waitForSelector('.plot[data-plot="campaign-scatter"][data-points="3"] canvas');
      assert.equal(await page.inputValue('#scatter-param'), 'walks');
      assert.equal(await page.inputValue('#scatter-metric'), 'kernelRelError');
      fs.writeFileSync(path.join(dir, 'dashboard-campaign.png'), await page.screenshot({ fullPage: true }));
    } finally {
      await browser.close();
    }
  });

  it("a datagen job's solves per system along the chain, a Kronecker fit's LML and gradient norm per step and a PCG solve's residual per iteration (JSON, the results stream, and the page in Chromium)", async (t) => {
    const dgId = `dash-dg-${tag}`;
    await (await fleet.submit({ kind: 'datagen', pde: 'darcy', grid: 8, count: 4, seed: 5, chunkSize: 2, rtol: 1e-8, jobId: dgId })).result();
    const dg = await getJson<{ series: { systems: { chunk: number; position: number; iterations: number; matvecs: number; relres: number; k: number }[] } }>(
      new URL(`api/jobs/${dgId}`, url).href,
    );
    const sys = dg.body.series.systems;
    assert.deepEqual(
      sys.map((x) => [x.chunk, x.position]),
      [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ],
    );
    assert.ok(
      sys.every((x) => x.iterations > 0 && x.matvecs > 0 && x.relres <= 1e-8 && x.k >= 0),
      JSON.stringify(sys),
    );

    const kronId = `dash-kron-${tag}`;
    const axes = [Array.from({ length: 8 }, (_, i) => i / 7), Array.from({ length: 6 }, (_, i) => (2 * i) / 5)];
    const y = Float64Array.from({ length: 48 }, (_, i) => Math.sin((3 * (i % 6)) / 5) * Math.cos((2 * Math.floor(i / 6)) / 11));
    const kr = await (
      await fleet.submit({
        kind: 'kron-gp',
        axes,
        kernel: 'rbf',
        lengthscales: [0.5, 0.5],
        outputscale: 1,
        noise: 0.05,
        y,
        fit: { optimizer: 'lbfgs', iters: 4 },
        jobId: kronId,
      })
    ).result();
    const kd = await getJson<{ series: { lml: number[]; gradNorm: number[] } }>(new URL(`api/jobs/${kronId}`, url).href);
    assert.deepEqual(kd.body.series.lml, kr.fit?.history);
    assert.deepEqual(kd.body.series.gradNorm, kr.fit?.gradNorms);
    const steps = kd.body.series.lml.length;
    assert.ok(steps >= 2, `${steps} optimiser steps`);
    assert.ok(kd.body.series.gradNorm.every((g) => Number.isFinite(g) && g >= 0));
    // The LML rises step by step (L-BFGS accepts only improving steps).
    assert.ok(
      kd.body.series.lml.every((l, i) => i === 0 || l >= (kd.body.series.lml[i - 1] as number)),
      JSON.stringify(kd.body.series.lml),
    );

    // A masked grid: PCG in the kronCgSolve activity, one progress event per iteration.
    const pcgId = `dash-pcg-${tag}`;
    const mask = Uint8Array.from({ length: 48 }, (_, i) => (i % 5 === 2 ? 0 : 1));
    const pr = await (
      await fleet.submit({ kind: 'kron-gp', axes, kernel: 'rbf', lengthscales: [0.5, 0.5], outputscale: 1, noise: 0.05, y, mask, jobId: pcgId })
    ).result();
    const pd = await getJson<{ series: { pcg: { iteration: number; residual: number }[]; cg: { iterations: number } } }>(
      new URL(`api/jobs/${pcgId}`, url).href,
    );
    const its = pr.cg?.iterations ?? 0;
    assert.ok(its >= 2, `${its} PCG iterations`);
    assert.deepEqual(
      pd.body.series.pcg.map((p) => p.iteration),
      Array.from({ length: its }, (_, i) => i + 1),
    );
    const res = pd.body.series.pcg.map((p) => p.residual);
    assert.ok((res[res.length - 1] as number) <= 1e-10 && (res[0] as number) > (res[res.length - 1] as number), JSON.stringify(res));

    // Both loops' progress events are on the results stream, where the dashboard reads a running job's series.
    const nc = await connectNats(cluster.state.natsUrl, 'dashboard-test', cluster.natsAuth('admin'));
    try {
      const dp = await openDataPlane(nc, resourceNames(cluster.state.prefix));
      const fitEvents = (await progressEvents<KronProgressEvent>(dp, kronId)).filter((e) => e.kind === 'fit-step');
      assert.deepEqual(
        fitEvents.map((e) => (e.kind === 'fit-step' ? [e.iteration, e.lml, e.gradNorm] : [])),
        kd.body.series.lml.map((l, i) => [i + 1, l, kd.body.series.gradNorm[i]]),
      );
      const pcgEvents = await progressEvents<KronProgressEvent>(dp, pcgId);
      assert.equal(pcgEvents.filter((e) => e.kind === 'pcg').length, its);
    } finally {
      await nc.close();
    }

    const exe = chromiumPath();
    if (exe === undefined) {
      t.diagnostic("Debian's chromium is not installed: the datagen and Kronecker pages are not drawn (their JSON is checked above)");
      return;
    }
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      await page.goto(`${url}#job=${dgId}`);
      await page.waitForSelector('.plot[data-plot="datagen-solves"][data-points="4"] canvas');
      await page.waitForSelector('.plot[data-plot="datagen-residual"][data-points="4"] canvas');
      await page.goto(`${url}#job=${kronId}`);
      await page.waitForSelector(`.plot[data-plot="kron-lml"][data-points="${steps}"] canvas`);
      await page.waitForSelector(`.plot[data-plot="kron-gradnorm"][data-points="${steps}"] canvas`);
      const fitShot = await screenshotColours(page);
      assert.ok(fitShot.colours > 20, `the fit page's screenshot has ${fitShot.colours} distinct colours`);
      fs.writeFileSync(path.join(dir, 'dashboard-kron-fit.png'), fitShot.png);
      await page.goto(`${url}#job=${pcgId}`);
      await page.waitForSelector(`#job[data-job-id="${pcgId}"] .plot[data-plot="kron-pcg"][data-points="${its}"] canvas`);
      const legend = await page.textContent('.plot[data-plot="kron-pcg"]');
      assert.ok(legend !== null && legend.includes('PCG relative residual'), String(legend));
      const pcgShot = await screenshotColours(page);
      assert.ok(pcgShot.colours > 20, `the PCG page's screenshot has ${pcgShot.colours} distinct colours`);
      fs.writeFileSync(path.join(dir, 'dashboard-kron-pcg.png'), pcgShot.png);
    } finally {
      await browser.close();
    }
  });
});
