'use strict';
/**
 * bench/campaign — a campaign of many tiny runs on a local cluster (scale check of issue 8).
 *
 *   node bench/campaign/run.js            (env: RUNS=10000 CONCURRENCY=32 WORKERS=2)
 *
 * Each run is a real GRF job (its own child workflow `grfWorkflow`, one shard batch over
 * NATS, the assembly activity, a row in the result table) on the Karate graph with m = 1..100
 * walks and 100 seeds (a walks × seed grid), p_halt 0.5. Prints the makespan, runs/s, the
 * campaign's continue-as-new generations and the Temporal history size of each generation
 * and of one child, as JSON lines. There is no reference system for this figure (Ray has no
 * durable campaign); it is reported as a scale figure only.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client, Connection } = require('@temporalio/client');
const { LocalCluster, connect } = require('@gramfleet/orchestrator');
const { machineNote, round } = require('../lib/common');

const RUNS = Number(process.env.RUNS ?? 10000);
const CONC = Number(process.env.CONCURRENCY ?? 32);
const WORKERS = Number(process.env.WORKERS ?? os.cpus().length);
const log = (...a) => process.stderr.write(`[bench/campaign] ${new Date().toISOString().slice(11, 19)} ${a.join(' ')}\n`);
const line = (o) => process.stdout.write(JSON.stringify({ bench: 'campaign', ...o }) + '\n');

async function main() {
  log(machineNote());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-campaign-'));
  const cluster = await LocalCluster.start({ dataDir, workers: WORKERS, logLevel: 'warn' });
  const fleet = await connect({ dataDir, startLocal: false });
  const conn = await Connection.connect({ address: cluster.state.temporalAddress });
  const client = new Client({ connection: conn });
  try {
    const seeds = Math.max(1, Math.ceil(RUNS / 100));
    const walks = Math.min(100, RUNS);
    const karate = path.resolve(__dirname, '..', '..', '..', 'shared', 'data', 'graphs', 'karate.adjlist');
    const id = `bench-${Date.now().toString(36)}`;
    const spec = {
      id,
      concurrency: CONC,
      grid: {
        kind: 'grf',
        base: { graph: karate, kernel: 'reg-laplacian', scale: 0.25, pHalt: 0.5, shardNodes: 34 },
        axes: { seed: Array.from({ length: seeds }, (_, i) => i), walks: Array.from({ length: walks }, (_, i) => i + 1) },
      },
    };
    const t0 = Date.now();
    const h = await fleet.campaigns.start(spec);
    const timer = setInterval(() => {
      h.progress().then(
        (p) =>
          log(
            `${p.runsDone + p.runsFailed}/${p.runsTotal} done, ${p.runsRunning} running, generation ${p.generation}, ${((Date.now() - t0) / 1000).toFixed(0)} s`,
          ),
        () => undefined,
      );
    }, 30_000);
    const s = await h.result();
    clearInterval(timer);
    const makespan = (Date.now() - t0) / 1000;
    const rows = await h.rows();
    log(`done: ${s.runsDone} ok, ${s.runsFailed} failed of ${s.runsTotal} in ${makespan.toFixed(1)} s; ${rows.length} rows`);
    line({
      figure: `makespan of a ${s.runsTotal}-run campaign (GRF on Karate per run, concurrency ${CONC}, ${WORKERS} workers)`,
      ours: round(makespan),
      unit: 's',
      runsDone: s.runsDone,
      runsFailed: s.runsFailed,
      rows: rows.length,
      load: os.loadavg().map((x) => round(x)),
    });
    line({ figure: 'runs per second', ours: round(s.runsTotal / makespan), unit: 'runs/s' });
    const gens = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = '${id}'` }))
      gens.push({ runId: w.runId, historyLength: w.historyLength, historySizeBytes: w.historySize, status: w.status.name });
    line({ figure: 'campaign workflow generations (continue-as-new)', ours: gens.length, unit: 'executions', generations: s.generations });
    const lens = gens.map((g) => g.historyLength);
    const sizes = gens.map((g) => g.historySizeBytes);
    line({
      figure: 'campaign history per generation: max events / max bytes',
      ours: Math.max(...lens),
      unit: 'events',
      maxBytes: Math.max(...sizes),
      totalEvents: lens.reduce((a, b) => a + b, 0),
      totalBytes: sizes.reduce((a, b) => a + b, 0),
    });
    const child = await client.workflow.getHandle(rows[0].childId).describe();
    line({ figure: 'one run (child grfWorkflow) history', ours: child.historyLength, unit: 'events', bytes: child.historySize });
  } finally {
    await conn.close().catch(() => undefined);
    await fleet.close().catch(() => undefined);
    await cluster.stop().catch((e) => log(`stop failed: ${e.message}`));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
