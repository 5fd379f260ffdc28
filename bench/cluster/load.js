'use strict';
/**
 * bench/cluster/load.js — 10⁶ tiny shards through one job: does the cluster hold them in bounded
 * memory and store, and drain them all?
 *
 *   node bench/cluster/load.js   (env: SHARDS=1000000 WORKERS=<cores> SAMPLE_MS=1000)
 *
 * A local cluster (nats-server, Temporal dev server, orchestrator, WORKERS WASM workers) runs one
 * graph-random-features job on a SHARDS-node ring with `shardNodes: 1`: SHARDS shards, each one
 * node and one walk, all submitted at once. While it runs, every SAMPLE_MS the bench records the
 * resident memory (VmRSS) of every cluster process and of this client, and the JetStream store
 * bytes from the NATS monitor (`/jsz`). At the end it checks that the result counts SHARDS shards
 * and every node's features, and prints the peaks, the drain time and the shard rate.
 *
 * There is no reference system here: the figures are bounds (issue 23: orchestrator RSS < 1 GiB,
 * bounded NATS store bytes), not a race. The load average is printed with them.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { LocalCluster, connect } = require('@gramfleet/orchestrator');
const { machineNote } = require('../lib/common');

const SHARDS = Number(process.env.SHARDS ?? 1_000_000);
const WORKERS = Number(process.env.WORKERS ?? os.cpus().length);
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 1000);
const log = (...a) => process.stderr.write(`[bench/cluster/load] ${a.join(' ')}\n`);

/** Resident bytes of a process (0 when it is gone). */
function rss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** JetStream store and memory bytes from the NATS monitor. */
function jsz(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/jsz', timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        try {
          const j = JSON.parse(body);
          resolve({ store: j.storage ?? 0, memory: j.memory ?? 0 });
        } catch {
          resolve({ store: NaN, memory: NaN });
        }
      });
    });
    req.on('error', () => resolve({ store: NaN, memory: NaN }));
    req.on('timeout', () => req.destroy());
  });
}

/** A ring of n nodes as CSR (each node linked to its two neighbours, columns sorted). */
function ring(n) {
  const indptr = Int32Array.from({ length: n + 1 }, (_, i) => 2 * i);
  const indices = new Int32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const a = (i + n - 1) % n;
    const b = (i + 1) % n;
    indices[2 * i] = Math.min(a, b);
    indices[2 * i + 1] = Math.max(a, b);
  }
  return { shape: [n, n], indptr, indices, data: new Float64Array(2 * n).fill(1) };
}

const gib = (b) => (b / 1024 ** 3).toFixed(3);
const mib = (b) => (b / 1024 ** 2).toFixed(1);

async function main() {
  log(`${SHARDS} shards, ${WORKERS} wasm workers; ${machineNote()}`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-load-'));
  const cluster = await LocalCluster.start({ dataDir, workers: WORKERS });
  const peak = {};
  const series = [];
  let timer;
  try {
    const fleet = await connect({ dataDir, startLocal: false });
    try {
      const procs = cluster.status().filter((p) => p.alive);
      const sample = async () => {
        const s = { t: Date.now(), client: rss(process.pid) };
        for (const p of procs) s[p.name] = rss(p.pid);
        const j = await jsz(cluster.state.natsMonitorPort);
        s.jsStore = j.store;
        s.jsMemory = j.memory;
        for (const [k, v] of Object.entries(s)) if (k !== 't' && Number.isFinite(v)) peak[k] = Math.max(peak[k] ?? 0, v);
        series.push(s);
      };
      const graph = ring(SHARDS);
      const spec = { kind: 'grf', graph, kernel: 'reg-laplacian', scale: 0.25, walks: 1, pHalt: 0.5, seed: 1 };
      await (await fleet.submit({ ...spec, graph: ring(1000), shardNodes: 10 })).result(); // warm-up
      await sample();
      const base = { ...series[0] };
      timer = setInterval(() => void sample(), SAMPLE_MS);
      const t0 = process.hrtime.bigint();
      const job = await fleet.submit({ ...spec, shardNodes: 1 });
      const tSubmit = Number(process.hrtime.bigint() - t0) / 1e9;
      log(`submitted in ${tSubmit.toFixed(2)} s (job ${job.jobId})`);
      const r = await job.result();
      const drain = Number(process.hrtime.bigint() - t0) / 1e9;
      clearInterval(timer);
      timer = undefined;
      await sample();
      if (r.shards !== SHARDS) throw new Error(`the result counts ${r.shards} shards, expected ${SHARDS}`);
      if (r.n !== SHARDS) throw new Error(`the result has ${r.n} nodes, expected ${SHARDS}`);
      const phi = await fleet.getCsr(r.phi[0]);
      if (phi.indptr.length !== SHARDS + 1) throw new Error(`Φ has ${phi.indptr.length - 1} rows, expected ${SHARDS}`);
      if (r.workers !== undefined)
        log(`shards per worker ${JSON.stringify(r.workers)}; duplicate results ${r.duplicateResults}, published tasks ${r.publishedTasks}`);
      const out = {
        shards: SHARDS,
        workers: WORKERS,
        submit_s: tSubmit,
        drain_s: drain,
        shards_per_s: SHARDS / drain,
        peak_rss_bytes: Object.fromEntries(Object.entries(peak).filter(([k]) => !k.startsWith('js'))),
        base_rss_bytes: Object.fromEntries(Object.entries(base).filter(([k]) => k !== 't' && !k.startsWith('js'))),
        peak_jetstream_store_bytes: peak.jsStore,
        peak_jetstream_memory_bytes: peak.jsMemory,
        end_jetstream_store_bytes: series[series.length - 1].jsStore,
        load: os.loadavg(),
      };
      log(
        `drained ${SHARDS} shards in ${drain.toFixed(1)} s (${out.shards_per_s.toFixed(0)} shards/s); ` +
          `peak RSS orchestrator ${gib(peak.orchestrator ?? 0)} GiB, nats ${gib(peak.nats ?? 0)} GiB, client ${gib(peak.client)} GiB; ` +
          `JetStream store peak ${mib(peak.jsStore)} MiB, end ${mib(out.end_jetstream_store_bytes)} MiB; load ${os.loadavg()[0].toFixed(2)}`,
      );
      fs.mkdirSync(path.join(__dirname, '..', 'out'), { recursive: true });
      fs.writeFileSync(path.join(__dirname, '..', 'out', 'cluster-load.json'), JSON.stringify({ ...out, series }, null, 1));
      process.stdout.write(JSON.stringify(out) + '\n');
    } finally {
      if (timer !== undefined) clearInterval(timer);
      await fleet.close();
    }
  } finally {
    await cluster.stop().catch((e) => log(`stop failed: ${e.message}`));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  log(`failed: ${e.stack}`);
  process.exit(1);
});
