'use strict';
/**
 * bench/grf — graph random features Φ: walks per second per core and time to Φ on Cora,
 * Pubmed and a generated Barabási–Albert graph, against PyPI fast-graph-gp's GRFSampler.
 *
 *   node bench/grf/run.js        (env: GRAPHS=cora,pubmed,ba  BA_N=1000000  BA_M=3  WORKERS=1,2
 *                                 REPS=3  CORA_JOBS=20  FGGP_TIMEOUT_S=150  SKIP_CLUSTER=1  SKIP_REF=1)
 *
 * Job: kernel reg-laplacian (d = 1), c = 0.25, m = 16 walkers per node, p_halt = 0.5, seed 1,
 * variance none, same-walk estimator; f has 61 terms (walks are cut at 60 steps).
 * The BA graph is core's barabasiAlbert(BA_N, BA_M, seed 7) (BA_M edges per new node).
 *
 * Figures per graph (walks = n·m; "per core" divides by the cores the run used):
 *   wasm in-process: the `grf-walks` wasm kernel (workers' createGrfWalksWasmKernel over one
 *     WasmArena on this thread) on all origins in one call; timed: the kernel call only
 *     (graph already normalised in memory), 1 core.
 *   cluster: fleet.submit(...).result() on a warm LocalCluster of W WASM workers with T kernel
 *     threads each (WORKERS entries `WxT`, or `W` for cores / W threads each; default 1x1 — one
 *     worker on one core —, 1x2 and 2) started in a temp dir; timed: submit
 *     (validation, normalisation, upload by digest) to result (Φ assembled and stored durably in
 *     the object store); the median of REPS jobs after a warm-up job on the same graph; per core
 *     = / cores. Cora also as the median of CORA_JOBS jobs (the per-job overhead).
 *   fast-graph-gp: bench/grf/fggp_ref.py, GRFSampler(n_processes = 2) on the same W,
 *     walks_per_node 16, p_halt 0.5, max_walk_length 61; timed: sampler construction +
 *     sample_random_walk_matrices(); per core = / 2. Killed after FGGP_TIMEOUT_S.
 * Ratios: for times reference/ours, for rates ours/reference: > 1 means gramfleet is faster.
 * The reference is compared with the cluster figure; the in-process wasm figure is printed
 * against the same reference for the kernel-only comparison.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const core = require('@gramfleet/core');
const { WasmArena } = require('@gramfleet/workers');
const { createGrfWalksWasmKernel } = require('@gramfleet/workers/internal');
const { LocalCluster, connect, loadGraph } = require('@gramfleet/orchestrator');
const { emit, runPython, unavailable, machineNote } = require('../lib/common');

const ROOT = path.resolve(__dirname, '..', '..');
const DATA = process.env.GRAPH_DIR ?? path.resolve(ROOT, '..', 'shared', 'data', 'graphs');
const GRAPHS = (process.env.GRAPHS ?? 'cora,pubmed,ba').split(',').filter(Boolean);
const BA_N = Number(process.env.BA_N ?? 1_000_000);
const BA_M = Number(process.env.BA_M ?? 3);
const FGGP_TIMEOUT_S = Number(process.env.FGGP_TIMEOUT_S ?? 150);
// Entries `W` (W workers sharing the cores: cores / W kernel threads each) or `WxT` (T threads each).
const WORKER_COUNTS = (process.env.WORKERS ?? '1x1,1x2,2').split(',').filter(Boolean);
const configOf = (w) => {
  const [W, T] = w.split('x').map(Number);
  return { workers: W, threads: T ?? Math.max(1, Math.floor(os.cpus().length / W)) };
};
const REPS = Number(process.env.REPS ?? 3);
const CORA_JOBS = Number(process.env.CORA_JOBS ?? 20);
const CORES = os.cpus().length;
const REF_PROCS = 2;
const PARAMS = { kernel: 'reg-laplacian', scale: 0.25, walks: 16, pHalt: 0.5, seed: 1 };
const B = 'grf';
const log = (...a) => process.stderr.write(`[bench/grf] ${a.join(' ')}\n`);
const secs = (t) => Number(process.hrtime.bigint() - t) / 1e9;

async function loadNamed(name) {
  if (name === 'ba') {
    const t = process.hrtime.bigint();
    const csr = core.barabasiAlbert(BA_N, BA_M, 7);
    log(`generated BA(n=${BA_N}, m=${BA_M}) in ${secs(t).toFixed(1)} s: nnz ${csr.indices.length}`);
    return { label: BA_N === 1_000_000 ? `BA 1e6 (m=${BA_M})` : `BA ${BA_N} (m=${BA_M})`, csr };
  }
  const g = await loadGraph(path.join(DATA, `${name}.npz`));
  return { label: name, csr: g.csr };
}

function bareWasm(csr, params) {
  const module = new WebAssembly.Module(fs.readFileSync(path.join(ROOT, 'wasm', 'build', 'kernels.wasm')));
  const arena = new WasmArena(module);
  const kernel = createGrfWalksWasmKernel(() => {
    arena.reset();
    return arena;
  });
  const n = csr.shape[0];
  const w = core.normalisedWeights(csr, params.scale);
  const inputs = [
    core.ndarray('i32', [n + 1], Int32Array.from(csr.indptr)),
    core.ndarray('i32', [csr.indices.length], Int32Array.from(csr.indices)),
    core.ndarray('f64', [w.length], w),
  ];
  const attrs = { seed: params.seed, walks: params.walks, pHalt: params.pHalt, f: params.f, streams: [0], variance: 'none', nodeStart: 0, nodeEnd: n };
  const t = process.hrtime.bigint();
  const out = kernel(attrs, inputs, {});
  const s = secs(t);
  return { seconds: s, nnz: out[1].data.length, inputs };
}

function writeNpy(dir, name, arr) {
  fs.writeFileSync(path.join(dir, `${name}.npy`), core.encodeNpy(arr));
}

const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length === 0 ? undefined : v.length % 2 === 1 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/** Times REPS jobs on one graph (after a warm-up job): the median and every run. */
async function timeJobs(fleet, csr, reps) {
  await (await fleet.submit({ kind: 'grf', graph: csr, ...PARAMS })).result();
  const runs = [];
  let last;
  for (let k = 0; k < reps; k++) {
    const t = process.hrtime.bigint();
    last = await (await fleet.submit({ kind: 'grf', graph: csr, ...PARAMS })).result();
    runs.push(secs(t));
  }
  return { median: median(runs), runs, last };
}

async function main() {
  log(machineNote());
  const compiled = core.compileGrfParams(PARAMS);
  const refWhy = process.env.SKIP_REF ? 'skipped (SKIP_REF)' : unavailable('fast-graph-gp', 'grf_gp');
  const clusterWhy = process.env.SKIP_CLUSTER ? 'skipped (SKIP_CLUSTER)' : null;
  const graphs = [];
  for (const name of GRAPHS) graphs.push({ name, ...(await loadNamed(name)) });
  const lines = [];
  for (const g of graphs) {
    const n = g.csr.shape[0];
    const r = { label: g.label, n, cluster: {} };
    try {
      const b = bareWasm(g.csr, compiled);
      r.wasm = b.seconds;
      r.nnz = b.nnz;
      log(`${g.label}: wasm in-process ${b.seconds.toFixed(2)} s, Φ nnz ${b.nnz}`);
      if (!refWhy) {
        r.npyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-grf-npy-'));
        writeNpy(r.npyDir, 'indptr', b.inputs[0]);
        writeNpy(r.npyDir, 'indices', b.inputs[1]);
        writeNpy(r.npyDir, 'weights', b.inputs[2]);
      }
    } catch (e) {
      r.wasmWhy = e.message;
      log(`${g.label}: wasm in-process failed: ${e.message}`);
    }
    lines.push({ r, walks: n * PARAMS.walks, g });
  }
  // The cluster figures, one warm cluster per worker count.
  for (const W of clusterWhy === null ? WORKER_COUNTS : []) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-grf-'));
    let fleet;
    let cluster;
    try {
      const t = process.hrtime.bigint();
      const c = configOf(W);
      cluster = await LocalCluster.start({ dataDir, workers: c.workers, threadsPerWorker: c.threads });
      fleet = await connect({ dataDir, startLocal: false });
      log(`local cluster up in ${secs(t).toFixed(1)} s (${c.workers} workers x ${c.threads} threads) in ${dataDir}; ${machineNote()}`);
      await (await fleet.submit({ kind: 'grf', graph: core.barabasiAlbert(500, 2, 3), ...PARAMS })).result();
      for (const { r, g } of lines) {
        try {
          const reps = g.name === 'cora' ? Math.max(REPS, CORA_JOBS) : REPS;
          const j = await timeJobs(fleet, g.csr, reps);
          r.cluster[W] = j;
          log(
            `${g.label}: cluster ${W} workers median ${j.median.toFixed(3)} s of ${j.runs.map((x) => x.toFixed(3)).join(' ')} (${j.last.shards} shards, computeMs ${Math.round(j.last.computeMs)}, workers ${Object.keys(j.last.workers).length})`,
          );
        } catch (e) {
          r.cluster[W] = { error: e.message };
          log(`${g.label}: cluster ${W} workers failed: ${e.message}`);
        }
      }
    } catch (e) {
      log(`cluster of ${W} workers did not start: ${e.message}`);
    } finally {
      if (fleet !== undefined) await fleet.close().catch((e) => log(`close failed: ${e.message}`));
      if (cluster !== undefined) await cluster.stop().catch((e) => log(`stop failed: ${e.message}`));
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }
  for (const { r, g } of lines) {
    if (refWhy || !r.npyDir) continue;
    log(`${g.label}: running fast-graph-gp (timeout ${FGGP_TIMEOUT_S} s)`);
    const ref = runPython(
      path.join(__dirname, 'fggp_ref.py'),
      [r.npyDir, String(PARAMS.walks), String(PARAMS.pHalt), String(compiled.f.length), String(REF_PROCS)],
      FGGP_TIMEOUT_S * 1000,
    );
    if (ref.error) r.refWhy = ref.timedOut ? `fast-graph-gp did not finish within ${FGGP_TIMEOUT_S} s (pure-Python walk loop; killed)` : ref.error;
    else {
      r.ref = ref.seconds;
      log(`${g.label}: fast-graph-gp ${ref.seconds.toFixed(2)} s`);
    }
    fs.rmSync(r.npyDir, { recursive: true, force: true });
  }
  log(machineNote());
  for (const { r, walks } of lines) {
    const refNote = refWhy ? `fast-graph-gp unavailable: ${refWhy}` : r.refWhy;
    const notes = (...a) => a.filter(Boolean).join('; ') || undefined;
    const rate = (s, cores) => (s === undefined ? undefined : walks / s / cores);
    for (const W of WORKER_COUNTS) {
      const c = r.cluster[W] ?? {};
      const cores = Math.min(CORES, configOf(W).workers * configOf(W).threads);
      const runs = c.runs !== undefined ? `median of ${c.runs.length}: ${c.runs.map((x) => x.toFixed(3)).join(' / ')} s` : undefined;
      emit(B, `${r.label}: time to Φ, cluster (${W} workers, warm)`, c.median, r.ref, 's', { note: notes(clusterWhy, c.error, runs, refNote) });
      emit(B, `${r.label}: walks/s/core, cluster (${W} workers)`, rate(c.median, cores), rate(r.ref, REF_PROCS), 'walks/s/core', {
        higherIsBetter: true,
        note: notes(clusterWhy, c.error, refNote),
      });
      // Against the same kernel in one process on one thread (ratio > 1: the cluster is faster).
      emit(B, `${r.label}: time to Φ, cluster (${W} workers) vs wasm kernel in-process (1 thread)`, c.median, r.wasm, 's', {
        note: notes(clusterWhy, c.error, r.wasmWhy, 'reference = the in-process kernel call alone (no graph loading, normalisation or Φ storage)'),
      });
    }
    const one = r.cluster['1x1']?.median,
      two = r.cluster['2']?.median;
    if (one !== undefined && two !== undefined)
      emit(B, `${r.label}: time to Φ, 2 workers vs 1 worker on one core (same warm cluster setup)`, two, one, 's', {
        note: 'ratio = 1-worker time / 2-worker time; > 1: two workers are faster',
      });
    emit(B, `${r.label}: walks/s/core, wasm kernel in-process (1 thread)`, rate(r.wasm, 1), rate(r.ref, REF_PROCS), 'walks/s/core', {
      higherIsBetter: true,
      note: notes(r.wasmWhy, refNote),
    });
    emit(B, `${r.label}: time to Φ, wasm kernel in-process (1 thread)`, r.wasm, r.ref, 's', { note: notes(r.wasmWhy, refNote) });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
