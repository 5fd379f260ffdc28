'use strict';
/**
 * bench/cluster/cpu.js — CPU seconds each cluster process spends per job, to compare two builds on
 * a loaded machine (where wall times vary by half between runs and CPU time far less).
 *
 *   node bench/cluster/cpu.js [checkout]   (env: K=2 workflows, CORA=10 jobs, GRAPH_DIR as bench/grf; Linux /proc)
 *
 * One warm LocalCluster of 2 WASM workers (from `checkout`, default this one): K GRF jobs on a
 * 10,000-node ring with one node per shard, then CORA Cora jobs; per job, the wall time and the
 * utime + stime of every cluster process (and of this client) read from /proc/<pid>/stat before
 * and after. Prints one JSON line. No reference system: run it for two checkouts alternately
 * (e.g. main in a `git worktree`) and compare. Figures in bench/RESULTS.md (2026-12-07 evening).
 */
const repo = process.argv[2] ?? require('node:path').resolve(__dirname, '..', '..');
const fs = require('node:fs'),
  os = require('node:os'),
  path = require('node:path');
const { LocalCluster, connect, loadGraph } = require(repo + '/orchestrator');
const K = Number(process.env.K ?? 2),
  CORA = Number(process.env.CORA ?? 10);
const TCK = 100; // USER_HZ
const cpuOf = (pid) => {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / TCK;
  } catch {
    return NaN;
  }
};
(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-cpu-'));
  const cluster = await LocalCluster.start({ dataDir, workers: 2 });
  const fleet = await connect({ dataDir, startLocal: false });
  const procs = cluster.state.processes.map((p) => ({ name: p.name, pid: p.pid }));
  const snap = () =>
    Object.fromEntries([...procs.map((p) => [p.name, cpuOf(p.pid)]), ['client', process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6]]);
  const diff = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, +(b[k] - a[k]).toFixed(2)]));
  const out = { wf: [], cora: [] };
  try {
    const n = 10000;
    const indptr = Int32Array.from({ length: n + 1 }, (_, i) => 2 * i),
      indices = new Int32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const a = (i + n - 1) % n,
        b = (i + 1) % n;
      indices[2 * i] = Math.min(a, b);
      indices[2 * i + 1] = Math.max(a, b);
    }
    const graph = { shape: [n, n], indptr, indices, data: new Float64Array(2 * n).fill(1) };
    const spec = { kind: 'grf', graph, kernel: 'reg-laplacian', scale: 0.25, walks: 1, pHalt: 0.5, seed: 1, shardNodes: 1 };
    await (await fleet.submit({ ...spec, shardNodes: 50 })).result();
    for (let i = 0; i < K; i++) {
      const c0 = snap(),
        t = process.hrtime.bigint();
      await (await fleet.submit(spec)).result();
      out.wf.push({ s: +(Number(process.hrtime.bigint() - t) / 1e9).toFixed(3), cpu: diff(c0, snap()) });
    }
    const csr = (await loadGraph(path.join(process.env.GRAPH_DIR ?? path.resolve(repo, '..', 'shared', 'data', 'graphs'), 'cora.npz'))).csr;
    const P = { kind: 'grf', graph: csr, kernel: 'reg-laplacian', scale: 0.25, walks: 16, pHalt: 0.5, seed: 1 };
    for (let i = 0; i < 3; i++) await (await fleet.submit(P)).result();
    const c0 = snap();
    const ts = [];
    for (let i = 0; i < CORA; i++) {
      const t = process.hrtime.bigint();
      await (await fleet.submit(P)).result();
      ts.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const c1 = snap();
    ts.sort((a, b) => a - b);
    out.cora = {
      medianMs: +ts[ts.length >> 1].toFixed(1),
      cpuPerJobMs: Object.fromEntries(Object.entries(diff(c0, c1)).map(([k, v]) => [k, +((v * 1000) / CORA).toFixed(1)])),
    };
  } finally {
    await fleet.close();
    await cluster.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ ...out, load: os.loadavg().map((x) => +x.toFixed(2)) }));
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
