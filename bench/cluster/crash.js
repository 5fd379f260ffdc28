'use strict';
/**
 * bench/cluster/crash.js — a GRF job's time with a worker SIGKILLed mid-job, against the same job
 * with no crash, on the same supervised local cluster in the same run (alternating).
 *
 *   flock /work/wt/heavy.lock node bench/cluster/crash.js   (env: RUNS=3 WALKS=2048 KILLS=1)
 *
 * The cluster is `gramfleet up --workers 2` (supervised: a killed worker is started again). Each
 * run submits the same job (cora, reg-laplacian, WALKS walks per node, 50 nodes a shard: 50
 * shards); a crash run SIGKILLs worker-0 once a quarter of the shards are done (KILLS=2: again,
 * once the restarted worker is up and a further quarter is done, so the shards lost twice become
 * suspects and run alone, workers/src/dataplane/lanes.ts). Timed: submit to result. Before each run
 * both workers are up. Printed: per-run times, medians, crash/clean, the load average.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { connect } = require('@gramfleet/orchestrator');

const RUNS = Number(process.env.RUNS ?? 3);
const WALKS = Number(process.env.WALKS ?? 2048);
const KILLS = Number(process.env.KILLS ?? 1);
const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'orchestrator', 'bin', 'gramfleet.js');
const log = (...a) => process.stderr.write(`[bench/cluster/crash] ${a.join(' ')}\n`);
const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function gramfleet(args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gramfleet ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function pidOf(dir, name) {
  const st = JSON.parse(fs.readFileSync(path.join(dir, 'cluster.json'), 'utf8'));
  return st.processes.find((p) => p.name === name)?.pid;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-crash-'));
  log(`gramfleet up --workers 2 in ${dir}; load ${load()}`);
  gramfleet(['up', '--workers', '2', '--data-dir', dir]);
  const fleet = await connect({ dataDir: dir, startLocal: false });
  const spec = {
    kind: 'grf',
    graph: path.resolve(root, '..', 'shared', 'data', 'graphs', 'cora.npz'),
    kernel: 'reg-laplacian',
    scale: 0.25,
    walks: WALKS,
    pHalt: 0.2,
    seed: 3,
    shardNodes: 50,
    batchShards: 2,
    window: 2,
  };
  if (!fs.existsSync(spec.graph)) spec.graph = '/work/shared/data/graphs/cora.npz';
  const times = { clean: [], crash: [] };
  let digest;
  const bothUp = async () => {
    for (const until = Date.now() + 120_000; Date.now() < until; await sleep(250)) {
      const w = ['worker-0', 'worker-1'].map((n) => pidOf(dir, n));
      if (w.every((p) => p !== undefined && alive(p))) return;
    }
    throw new Error('the workers are not both up 120 s after a kill');
  };
  const doneAtLeast = async (h, n) => {
    for (;;) {
      const p = await h.progress().catch(() => undefined);
      if (p?.shardsTotal !== undefined && (p.shardsDone ?? 0) >= n) return p;
      await sleep(100);
    }
  };
  try {
    await fleet.submit(spec).then((h) => h.result()); // warm-up
    for (let r = 0; r < RUNS; r++) {
      for (const kind of r % 2 === 0 ? ['clean', 'crash'] : ['crash', 'clean']) {
        await bothUp();
        const t0 = Date.now();
        const h = await fleet.submit(spec);
        let kills = 0;
        if (kind === 'crash') {
          const total = (await doneAtLeast(h, 0))?.shardsTotal ?? 50;
          for (let k = 1; k <= KILLS; k++) {
            await doneAtLeast(h, Math.ceil((total * k) / 4));
            if (k > 1) await bothUp();
            process.kill(pidOf(dir, 'worker-0'), 'SIGKILL');
            kills++;
          }
        }
        const res = await h.result();
        const ms = Date.now() - t0;
        const d = [res.phi[0].indptr.digest, res.phi[0].indices.digest, res.phi[0].data.digest].join('/');
        if (digest === undefined) digest = d;
        if (d !== digest) throw new Error(`run ${r} ${kind}: Φ differs from the first run's`);
        times[kind].push(ms);
        log(
          `run ${r} ${kind}: ${ms} ms (${kills} kill(s)), shards ${res.shards}, published ${res.publishedTasks}, duplicates ${res.duplicateResults}, load ${load()}`,
        );
      }
    }
  } finally {
    await fleet.close().catch(() => undefined);
    spawnSync(process.execPath, [cli, 'down', '--data-dir', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const c = median(times.clean);
  const k = median(times.crash);
  const out = {
    walks: WALKS,
    kills: KILLS,
    runs: RUNS,
    cleanMs: times.clean,
    crashMs: times.crash,
    medianCleanMs: c,
    medianCrashMs: k,
    ratio: +(k / c).toFixed(2),
    load: load(),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
