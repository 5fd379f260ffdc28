'use strict';
/**
 * bench/grf — graph random features Φ: walks per second per core and time to Φ on Cora,
 * Pubmed and a generated Barabási–Albert graph, against PyPI fast-graph-gp's GRFSampler.
 *
 *   node bench/grf/run.js        (env: GRAPHS=cora,pubmed,ba  BA_N=1000000  BA_M=3
 *                                 FGGP_TIMEOUT_S=150  SKIP_CLUSTER=1  SKIP_REF=1)
 *
 * Job: kernel reg-laplacian (d = 1), c = 0.25, m = 16 walkers per node, p_halt = 0.5, seed 1,
 * variance none, same-walk estimator; f has 61 terms (walks are cut at 60 steps).
 * The BA graph is core's barabasiAlbert(BA_N, BA_M, seed 7) (BA_M edges per new node).
 *
 * Figures per graph (walks = n·m; "per core" divides by the cores the run used):
 *   wasm in-process: the `grf-walks` wasm kernel (workers' createGrfWalksWasmKernel over one
 *     WasmArena on this thread) on all origins in one call; timed: the kernel call only
 *     (graph already normalised in memory), 1 core.
 *   cluster: fleet.submit(...).result() on a LocalCluster (2 WASM workers x 1 thread) started
 *     in a temp dir; timed: submit (validation, normalisation, upload) to result (Φ assembled
 *     and stored in the object store); per core = / 2.
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
const { WasmArena, createGrfWalksWasmKernel } = require('@gramfleet/workers');
const { connect, loadGraph } = require('@gramfleet/orchestrator');
const { emit, runPython, unavailable, machineNote } = require('../lib/common');

const ROOT = path.resolve(__dirname, '..', '..');
const DATA = process.env.GRAPH_DIR ?? path.resolve(ROOT, '..', 'shared', 'data', 'graphs');
const GRAPHS = (process.env.GRAPHS ?? 'cora,pubmed,ba').split(',').filter(Boolean);
const BA_N = Number(process.env.BA_N ?? 1_000_000);
const BA_M = Number(process.env.BA_M ?? 3);
const FGGP_TIMEOUT_S = Number(process.env.FGGP_TIMEOUT_S ?? 150);
const CLUSTER_WORKERS = 2;
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
  const kernel = createGrfWalksWasmKernel(() => { arena.reset(); return arena; });
  const n = csr.shape[0];
  const w = core.normalisedWeights(csr, params.scale);
  const inputs = [core.ndarray('i32', [n + 1], Int32Array.from(csr.indptr)), core.ndarray('i32', [csr.indices.length], Int32Array.from(csr.indices)), core.ndarray('f64', [w.length], w)];
  const attrs = { seed: params.seed, walks: params.walks, pHalt: params.pHalt, f: params.f, streams: [0], variance: 'none', nodeStart: 0, nodeEnd: n };
  const t = process.hrtime.bigint();
  const out = kernel(attrs, inputs, {});
  const s = secs(t);
  return { seconds: s, nnz: out[1].data.length, inputs };
}

function writeNpy(dir, name, arr) {
  fs.writeFileSync(path.join(dir, `${name}.npy`), core.encodeNpy(arr));
}

async function main() {
  log(machineNote());
  const compiled = core.compileGrfParams(PARAMS);
  const refWhy = process.env.SKIP_REF ? 'skipped (SKIP_REF)' : unavailable('fast-graph-gp', 'grf_gp');
  let fleet; let clusterWhy = process.env.SKIP_CLUSTER ? 'skipped (SKIP_CLUSTER)' : null;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-grf-'));
  if (clusterWhy === null) {
    try {
      const t = process.hrtime.bigint();
      fleet = await connect({ dataDir, workers: CLUSTER_WORKERS });
      log(`local cluster up in ${secs(t).toFixed(1)} s (${CLUSTER_WORKERS} workers) in ${dataDir}`);
      // warm-up job (worker JIT, Temporal workflow code), not timed
      await (await fleet.submit({ kind: 'grf', graph: core.barabasiAlbert(500, 2, 3), ...PARAMS })).result();
    } catch (e) { clusterWhy = `cluster did not start: ${e.message}`; }
  }
  const lines = [];
  try {
    for (const name of GRAPHS) {
      const { label, csr } = await loadNamed(name);
      const n = csr.shape[0];
      const walks = n * PARAMS.walks;
      const r = { label, n };
      // bare wasm kernel, in process
      try {
        const b = bareWasm(csr, compiled);
        r.wasm = b.seconds;
        log(`${label}: wasm in-process ${b.seconds.toFixed(2)} s, Φ nnz ${b.nnz}`);
        if (!refWhy) {
          r.npyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-grf-npy-'));
          writeNpy(r.npyDir, 'indptr', b.inputs[0]); writeNpy(r.npyDir, 'indices', b.inputs[1]); writeNpy(r.npyDir, 'weights', b.inputs[2]);
        }
      } catch (e) { r.wasmWhy = e.message; log(`${label}: wasm in-process failed: ${e.message}`); }
      // cluster
      if (fleet !== undefined) {
        try {
          const t = process.hrtime.bigint();
          const h = await fleet.submit({ kind: 'grf', graph: csr, ...PARAMS });
          const res = await h.result();
          r.cluster = secs(t);
          log(`${label}: cluster ${r.cluster.toFixed(2)} s (${res.shards} shards, computeMs ${Math.round(res.computeMs)}, backends ${JSON.stringify(res.backends)})`);
        } catch (e) { r.clusterWhy = e.message; log(`${label}: cluster failed: ${e.message}`); }
      }
      // fast-graph-gp
      if (!refWhy && r.npyDir) {
        log(`${label}: running fast-graph-gp (timeout ${FGGP_TIMEOUT_S} s)`);
        const ref = runPython(path.join(__dirname, 'fggp_ref.py'), [r.npyDir, String(PARAMS.walks), String(PARAMS.pHalt), String(compiled.f.length), String(REF_PROCS)], FGGP_TIMEOUT_S * 1000);
        if (ref.error) r.refWhy = ref.timedOut ? `fast-graph-gp did not finish within ${FGGP_TIMEOUT_S} s (pure-Python walk loop; killed)` : ref.error;
        else { r.ref = ref.seconds; log(`${label}: fast-graph-gp ${ref.seconds.toFixed(2)} s`); }
        fs.rmSync(r.npyDir, { recursive: true, force: true });
      }
      lines.push({ r, walks });
    }
  } finally {
    if (fleet !== undefined) await fleet.close().catch((e) => log(`close failed: ${e.message}`));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  for (const { r, walks } of lines) {
    const refNote = refWhy ? `fast-graph-gp unavailable: ${refWhy}` : r.refWhy;
    const notes = (...a) => a.filter(Boolean).join('; ') || undefined;
    const rate = (s, cores) => (s === undefined ? undefined : walks / s / cores);
    emit(B, `${r.label}: walks/s/core, cluster (${CLUSTER_WORKERS} workers)`, rate(r.cluster, CLUSTER_WORKERS), rate(r.ref, REF_PROCS), 'walks/s/core', { higherIsBetter: true, note: notes(clusterWhy, r.clusterWhy, refNote) });
    emit(B, `${r.label}: walks/s/core, wasm kernel in-process (1 thread)`, rate(r.wasm, 1), rate(r.ref, REF_PROCS), 'walks/s/core', { higherIsBetter: true, note: notes(r.wasmWhy, refNote) });
    emit(B, `${r.label}: time to Φ, cluster (${CLUSTER_WORKERS} workers)`, r.cluster, r.ref, 's', { note: notes(clusterWhy, r.clusterWhy, refNote) });
    emit(B, `${r.label}: time to Φ, wasm kernel in-process (1 thread)`, r.wasm, r.ref, 's', { note: notes(r.wasmWhy, refNote) });
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
