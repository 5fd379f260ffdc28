#!/usr/bin/env node
// Records the Temporal histories that test/src/replay/workflows.test.ts replays: one small job of
// every workflow and route, run on a real local cluster (Temporal dev server, nats-server, the
// orchestrator, 2 WASM workers) in a throwaway directory on free ports, each history written as
// JSON to test/fixtures/histories/<name>.json.
//
// Run it after `npm run build` when a workflow changes on purpose (a change that would make old
// histories fail to replay must be guarded with `patched()` for runs already started; the
// recorded histories are then re-recorded so the test follows the new code):
//
//   node scripts/record-histories.js              every scenario
//   node scripts/record-histories.js kron-slab    only the scenarios whose names contain a filter
//   node scripts/record-histories.js --list       the scenario names
//
// Each scenario states what its history must contain (activity types, child workflows), so a
// scenario that silently took another route fails here instead of recording the wrong thing.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');
const { Client, Connection } = require('@temporalio/client');
const { historyToJSON } = require('@temporalio/common/lib/proto-utils');
const { LocalCluster, connect, writeNpy } = require('@gramfleet/orchestrator');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'fixtures', 'histories');

// ---------------------------------------------------------------------------------------------
// Small inputs (deterministic, no files outside the throwaway directory)

/** A 40-node ring with chords, as an adjacency list file (GRF). */
function writeGraph(dir) {
  const n = 40;
  const lines = [];
  for (let i = 0; i < n; i++) lines.push(`${i + 1} ${((i + 1) % n) + 1} ${((i + 7) % n) + 1}`); // ids from 1
  const file = path.join(dir, 'ring40.adjlist');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Points in [0, 1)^d from a fixed linear congruential sequence. */
function points(n, d, seed) {
  let s = seed >>> 0;
  return Float64Array.from({ length: n * d }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  });
}

/** A 2-class problem of n points in d dimensions (EigenPro). */
function classes(n, d, seed) {
  const x = points(n, d, seed);
  const labels = Float64Array.from({ length: n }, (_, i) => (x[i * d] + x[i * d + 1] > 1 ? 1 : 0));
  return { train: { rows: n, cols: d, data: x }, trainLabels: { rows: n, cols: 1, data: labels } };
}

function linspace(a, b, n) {
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

const kronBase = () => {
  const axes = [linspace(0, 1, 8), linspace(0, 2, 6), linspace(-1, 1, 5)];
  const n = 8 * 6 * 5;
  const y = Array.from({ length: n }, (_, i) => Math.sin(0.37 * i) + 0.1 * Math.cos(1.3 * i));
  return { axes, y, kernel: ['matern32', 'rbf', 'periodic'], lengthscales: [0.3, 0.5, 0.7], outputscale: 1.2, noise: 0.03 };
};

// ---------------------------------------------------------------------------------------------
// Scenarios: name → { what, run(ctx) → workflow id, expect: activity types / child workflow types }

const SCENARIOS = [
  {
    name: 'grf-one-batch',
    what: 'GRF, 4 shards in one batch: one local activity',
    expect: ['(local activity)'],
    async run({ fleet, graph }) {
      return await done(fleet.submit({ kind: 'grf', graph, kernel: 'reg-laplacian', scale: 0.25, walks: 8, pHalt: 0.5, seed: 7, shardNodes: 10 }));
    },
  },
  {
    name: 'grf-multi-batch',
    what: 'GRF, 8 shards in 4 batches of 2, 2 at a time, then the assembly',
    expect: ['runGrfBatch', 'assembleGrfBatches'],
    async run({ fleet, graph }) {
      return await done(
        fleet.submit({ kind: 'grf', graph, kernel: 'reg-laplacian', scale: 0.25, walks: 8, pHalt: 0.5, seed: 7, shardNodes: 5, batchShards: 2, window: 2 }),
      );
    },
  },
  {
    name: 'eigenpro2',
    what: 'EigenPro 2 (2 shards, 2 epochs): one training activity',
    expect: ['trainEigenPro'],
    async run({ fleet }) {
      return done(fleet.submit({ kind: 'eigenpro', ...classes(120, 3, 1), kernel: 'laplacian', bandwidth: 0.5, epochs: 2, seed: 3, shards: 2 }));
    },
  },
  {
    name: 'eigenpro3',
    what: 'EigenPro 3 (60 centers, exact projection, 2 epochs): one training activity',
    expect: ['trainEigenPro'],
    async run({ fleet }) {
      return done(fleet.submit({ kind: 'eigenpro', ...classes(120, 3, 2), kernel: 'laplacian', bandwidth: 0.5, centers: 60, epochs: 2, seed: 3, shards: 2 }));
    },
  },
  {
    name: 'kron-direct',
    what: 'Kronecker GP, direct route: 3 candidates fanned out as shards',
    expect: ['runShardBatch', 'kronReadSmall'],
    async run({ fleet }) {
      const b = kronBase();
      return done(
        fleet.submit({
          kind: 'kron-gp',
          ...b,
          candidates: [
            { lengthscales: [0.3, 0.5, 0.7], outputscale: 1.2, noise: 0.03 },
            { lengthscales: [0.1, 0.2, 0.3], outputscale: 1, noise: 0.1 },
            { lengthscales: [0.6, 1, 1.4], outputscale: 2, noise: 0.01 },
          ],
        }),
      );
    },
  },
  {
    name: 'kron-slab',
    what: 'Kronecker GP, slab route (3 slabs, gradient): factors, stages a/b/c, transposes, finish',
    expect: ['runShardBatch', 'kronTranspose', 'kronFinish'],
    async run({ fleet }) {
      return done(fleet.submit({ kind: 'kron-gp', ...kronBase(), slabs: 3 }));
    },
  },
  {
    name: 'kron-slab-fit',
    what: 'Kronecker GP, fit on the slab route (L-BFGS, 2 iterations): a slab solve per evaluation',
    expect: ['runShardBatch', 'kronTranspose', 'kronFinish'],
    async run({ fleet }) {
      return done(fleet.submit({ kind: 'kron-gp', ...kronBase(), slabs: 2, fit: { optimizer: 'lbfgs', iters: 2 } }));
    },
  },
  {
    name: 'kron-fit',
    what: 'Kronecker GP, fit on the direct route: one long activity (kronFit)',
    expect: ['kronFit'],
    async run({ fleet }) {
      return done(fleet.submit({ kind: 'kron-gp', ...kronBase(), fit: { optimizer: 'lbfgs', iters: 2 } }));
    },
  },
  {
    name: 'kron-masked',
    what: 'Kronecker GP with missing cells: one long activity (kronCgSolve)',
    expect: ['kronCgSolve'],
    async run({ fleet }) {
      const b = kronBase();
      const mask = b.y.map((_, i) => (i % 7 === 3 ? 0 : 1));
      return done(fleet.submit({ kind: 'kron-gp', ...b, mask, cgTol: 1e-10 }));
    },
  },
  {
    name: 'datagen',
    what: 'datagen: 6 Poisson instances in 2 chunks',
    expect: ['runShardBatch', 'putDatagenPage'],
    async run({ fleet, suffix }) {
      return done(fleet.submit({ kind: 'datagen', pde: 'poisson-rhs', grid: 8, count: 6, seed: 2, chunkSize: 3, jobId: `dg-${suffix}` }));
    },
  },
  {
    name: 'campaign',
    what: 'a campaign mixing kinds: GRF, Kronecker GP, datagen runs and an EigenPro bandwidth grid (child workflows)',
    children: ['grfWorkflow', 'kronGpWorkflow', 'datagenWorkflow', 'eigenProWorkflow'],
    async run({ fleet, graph, dir, suffix }) {
      const files = {};
      const ep = classes(120, 3, 4);
      for (const [name, m] of [
        ['xtr', ep.train],
        ['ytr', ep.trainLabels],
      ]) {
        files[name] = path.join(dir, `${name}.npy`);
        await writeNpy(files[name], { dtype: 'f64', shape: [m.rows, m.cols], data: m.data });
      }
      const kron = {
        axes: [
          [0, 0.25, 0.5, 0.75, 1],
          [0, 0.5, 1],
        ],
        y: [0.1, 0.4, 0.2, 0.5, 0.3, 0.6, 0.2, 0.1, 0.4, 0.3, 0.5, 0.2, 0.1, 0.2, 0.3],
        kernel: 'rbf',
        lengthscales: [0.3, 0.5],
        noise: 0.05,
      };
      const h = await fleet.campaigns.start({
        id: `campaign-${suffix}`,
        concurrency: 2,
        runs: [
          { kind: 'grf', graph, kernel: 'reg-laplacian', scale: 0.25, walks: 8, pHalt: 0.5, seed: 3 },
          { kind: 'kron-gp', ...kron },
          { kind: 'datagen', pde: 'poisson-rhs', grid: 8, count: 3, seed: 2, chunkSize: 3 },
        ],
        grid: {
          kind: 'eigenpro',
          base: { train: files.xtr, trainLabels: files.ytr, kernel: 'laplacian', epochs: 1, shards: 2, seed: 1 },
          axes: { bandwidth: [0.5, 1] },
        },
      });
      const s = await h.result();
      if (s.runsFailed !== 0 || s.runsDone !== 5)
        throw new Error(`campaign: ${JSON.stringify(s)}: ${JSON.stringify((await h.rows()).filter((r) => r.status === 'failed').map((r) => r.error))}`);
      return h.workflowId;
    },
  },
];

/** Waits for a submitted job's result and returns its workflow id (the job id). */
async function done(submitted) {
  const h = await submitted;
  await h.result();
  return h.jobId;
}

// ---------------------------------------------------------------------------------------------

/** Activity types scheduled and child workflow types started in a history. */
function contents(history) {
  const activities = new Set();
  const children = new Set();
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (a) activities.add(a);
    const c = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name;
    if (c) children.add(c);
    const l = e.markerRecordedEventAttributes?.markerName;
    if (l === 'core_local_activity') activities.add('(local activity)');
  }
  return { activities, children };
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--list')) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(16)} ${s.what}\n`);
    return 0;
  }
  const chosen = SCENARIOS.filter((s) => args.length === 0 || args.some((a) => s.name.includes(a)));
  if (chosen.length === 0) throw new Error(`no scenario matches ${args.join(' ')} (--list names them)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-record-'));
  const suffix = randomBytes(3).toString('hex');
  const cluster = await LocalCluster.start({ dataDir: dir, workers: 2, taskQueue: `record-${suffix}`, logLevel: 'warn' });
  let fleet;
  let connection;
  try {
    fleet = await connect({ dataDir: dir, startLocal: false });
    connection = await Connection.connect({ address: cluster.state.temporalAddress });
    const client = new Client({ connection, namespace: cluster.state.namespace });
    const graph = writeGraph(dir);
    fs.mkdirSync(OUT, { recursive: true });
    for (const s of chosen) {
      const t0 = Date.now();
      const workflowId = await s.run({ fleet, graph, dir, suffix });
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const { activities, children } = contents(history);
      for (const a of s.expect ?? []) if (!activities.has(a)) throw new Error(`${s.name}: the history schedules no ${a} (has ${[...activities].join(', ')})`);
      for (const c of s.children ?? []) if (!children.has(c)) throw new Error(`${s.name}: the history starts no ${c} child (has ${[...children].join(', ')})`);
      fs.writeFileSync(path.join(OUT, `${s.name}.json`), historyToJSON(history) + '\n');
      process.stdout.write(
        `${s.name}: ${history.events.length} events, activities ${[...activities].join(' ') || '-'}${children.size > 0 ? `, children ${[...children].join(' ')}` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
      );
    }
  } finally {
    await connection?.close().catch(() => undefined);
    await fleet?.close().catch(() => undefined);
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

main().then(
  (c) => {
    process.exitCode = c;
  },
  (e) => {
    process.stderr.write(`record-histories: ${e.stack ?? e}\n`);
    process.exitCode = 1;
  },
);
