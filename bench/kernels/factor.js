'use strict';
/**
 * Factorisation / eigensolver benchmarks: ours (wasm kernels, one thread) against
 * numpy/SciPy (OpenBLAS + LAPACK) with the same thread count, on the same matrices.
 *
 *   node --experimental-wasm-relaxed-simd bench/kernels/factor.js   (FMA build; without the
 *   flag on Node 20 the plain SIMD build runs; figure names end in [fma] or [simd])
 *   env: EIGH_N=2000 CHOL_N=4000 TOPK_N=4000 TOPK_K=200 REPS=3 THREADS=1
 *        BASELINE_WASM=<kernels.wasm of another build>: eigh timed with it too, same matrix, same run
 *        (the full top-k figure is TOPK_N=12000 TOPK_K=500; set TOPK_N=0 to skip)
 *
 * Ours always runs on one thread (the factorisation and eigen kernels are single-threaded;
 * THREADS sets the reference's OpenBLAS threads only).
 * Figures (one JSON line each, ratio = reference / ours, > 1 means gramfleet is faster):
 *   eigh-<n>           all eigenpairs, numpy.linalg.eigh (LAPACK syevd)
 *   cholesky-<n>       numpy.linalg.cholesky (LAPACK potrf)
 *   eigh-topk-<k>-of-<n>  ours: subspace iteration to 1e-10 residual; reference:
 *                      scipy.linalg.eigh(subset_by_index, driver='evr')
 * Matrices: Laplacian kernel exp(−‖x−z‖/σ) on seeded points in 10-D (plus 1e-3·I for
 * Cholesky). Timings are the median of REPS wall-clock runs (top-k: one run), on a shared
 * machine: noisy.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const core = require('@gramfleet/core');
const { WasmArena, loadKernelModuleBytes } = require('@gramfleet/workers');
const { createCholeskyKernel, createEighKernel, createEighTopkKernel } = require('@gramfleet/workers/internal');
const { unavailable, runPython, emit, machineNote, BENCH_DIR } = require('../lib/common');

const env = (k, d) => (process.env[k] === undefined ? d : Number(process.env[k]));
const EIGH_N = env('EIGH_N', 2000);
const CHOL_N = env('CHOL_N', 4000);
const TOPK_N = env('TOPK_N', 4000);
const TOPK_K = env('TOPK_K', 200);
const REPS = env('REPS', 3);
const THREADS = env('THREADS', 1);

function laplacianKernel(n, d, sigma, seed, jitter) {
  const rng = new core.Philox(seed);
  const x = new Float64Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(i, 0, 0, 0);
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) {
        const t = x[i * d + c] - x[j * d + c];
        s += t * t;
      }
      const v = Math.exp(-Math.sqrt(s) / sigma) + (i === j ? jitter : 0);
      k[i * n + j] = v;
      k[j * n + i] = v;
    }
  }
  return core.ndarray('f64', [n, n], k);
}

/** Median of `reps` wall-clock runs (all of them in `all`, seconds). */
function timed(fn, reps) {
  const all = [];
  let out;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    out = fn();
    all.push((performance.now() - t0) / 1000);
  }
  const s = [...all].sort((x, y) => x - y);
  return { t: s[Math.floor((s.length - 1) / 2)], all, out };
}

function main() {
  process.stderr.write(`${machineNote()}\n`);
  const dir = path.join(BENCH_DIR, 'out', 'factor');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
  const chosen = loadKernelModuleBytes(process.env.VARIANT !== 'plain');
  const tag = chosen.fma ? ' [fma]' : ' [simd]';
  process.stderr.write(`kernel build: ${chosen.path}\n`);
  const module = new WebAssembly.Module(chosen.bytes);
  let arena;
  const arenaOf = () => {
    if (arena === undefined || arena.poisoned) arena = new WasmArena(module);
    arena.reset();
    return arena;
  };
  const ours = {};
  if (EIGH_N > 0) {
    const a = laplacianKernel(EIGH_N, 10, 1.0, 1, 0);
    fs.writeFileSync(path.join(dir, 'eigh.npy'), core.encodeNpy(a));
    const k = createEighKernel(arenaOf);
    const attrs = core.eighOp.parseAttrs({});
    process.stderr.write(`eigh ${EIGH_N}: ours ...\n`);
    const r = timed(() => k(attrs, [a], {}), REPS);
    const w = r.out[0].data;
    ours.eigh = { t: r.t, all: r.all, w: [w[0], w[w.length - 1], w.reduce((p, q) => p + q, 0)] };
    if (process.env.BASELINE_WASM) {
      // Another kernel build (e.g. the previous commit's) timed on the same matrix in the same run.
      const bm = new WebAssembly.Module(fs.readFileSync(process.env.BASELINE_WASM));
      let ba;
      const kb = createEighKernel(() => {
        if (ba === undefined || ba.poisoned) ba = new WasmArena(bm);
        ba.reset();
        return ba;
      });
      process.stderr.write(`eigh ${EIGH_N}: baseline ${process.env.BASELINE_WASM} ...\n`);
      const rb = timed(() => kb(attrs, [a], {}), REPS);
      ours.eighBase = { t: rb.t, all: rb.all };
      ba = undefined;
    }
  }
  if (CHOL_N > 0) {
    const a = laplacianKernel(CHOL_N, 10, 1.0, 2, 1e-3);
    fs.writeFileSync(path.join(dir, 'chol.npy'), core.encodeNpy(a));
    const k = createCholeskyKernel(arenaOf);
    const attrs = core.choleskyOp.parseAttrs({});
    process.stderr.write(`cholesky ${CHOL_N}: ours ...\n`);
    const r = timed(() => k(attrs, [a], {}), REPS);
    let tr = 0;
    for (let i = 0; i < CHOL_N; i++) tr += r.out[0].data[i * CHOL_N + i];
    ours.chol = { t: r.t, tr };
  }
  if (TOPK_N > 0) {
    const a = laplacianKernel(TOPK_N, 10, 1.0, 3, 0);
    fs.writeFileSync(path.join(dir, 'topk.npy'), core.encodeNpy(a));
    fs.writeFileSync(path.join(dir, 'topk_k.txt'), String(TOPK_K));
    const k = createEighTopkKernel(arenaOf);
    const attrs = core.eighTopkOp.parseAttrs({ k: TOPK_K });
    process.stderr.write(`eigh-topk ${TOPK_K} of ${TOPK_N}: ours ...\n`);
    const r = timed(() => k(attrs, [a], {}), 1);
    process.stderr.write(`eigh-topk ${TOPK_K} of ${TOPK_N}: ours ${r.t.toFixed(2)} s\n`);
    ours.topk = { t: r.t, w: [r.out[0].data[0], r.out[0].data[TOPK_K - 1]] };
  }
  arena = undefined;
  const why = unavailable('numpy', 'numpy') ?? unavailable('scipy', 'scipy');
  let ref = { error: why };
  if (why === null) {
    process.stderr.write(`numpy/scipy reference (OPENBLAS_NUM_THREADS=${THREADS}) ...\n`);
    process.env.OPENBLAS_NUM_THREADS = String(THREADS);
    process.env.OMP_NUM_THREADS = String(THREADS);
    process.env.REPS = String(REPS);
    ref = runPython(path.join(__dirname, 'factor_ref.py'), [dir], 3600 * 1000);
  }
  const note = (extra) =>
    ref.error
      ? ref.error
      : `ours 1 thread (the factorisation kernels are single-threaded), reference ${THREADS} thread(s); ${extra}; ${os.loadavg()[0].toFixed(2)} load; shared machine, noisy`;
  const rel = (x, y) => Math.abs(x - y) / Math.max(Math.abs(y), 1e-300);
  if (ours.eigh) {
    const agree = ref.eigh_w
      ? `max/min/sum eigenvalue rel. diff vs numpy ${Math.max(rel(ours.eigh.w[1], ref.eigh_w[1]), rel(ours.eigh.w[2], ref.eigh_w[2])).toExponential(1)}`
      : '';
    const runs = (xs) => (xs ? xs.map((x) => x.toFixed(2)).join(', ') : 'n/a');
    const med = `median of ${REPS}: ours ${runs(ours.eigh.all)} s, numpy ${runs(ref.eigh_all)} s`;
    emit('kernels', `eigh-${EIGH_N}${tag}`, ours.eigh.t, ref.eigh_s, 's', { note: note(`numpy.linalg.eigh; ${agree}; ${med}`) });
    if (ours.eighBase)
      emit('kernels', `eigh-${EIGH_N}${tag} baseline build`, ours.eighBase.t, ref.eigh_s, 's', {
        note: note(`${process.env.BASELINE_WASM}, same matrix, same run; runs ${runs(ours.eighBase.all)} s`),
      });
  }
  if (ours.chol) {
    const agree = ref.chol_diag_sum ? `trace(L) rel. diff vs numpy ${rel(ours.chol.tr, ref.chol_diag_sum).toExponential(1)}` : '';
    emit('kernels', `cholesky-${CHOL_N}${tag}`, ours.chol.t, ref.chol_s, 's', { note: note(`numpy.linalg.cholesky; ${agree}`) });
  }
  if (ours.topk) {
    const agree = ref.topk_w
      ? `λ1, λk rel. diff vs LAPACK ${Math.max(rel(ours.topk.w[0], ref.topk_w[0]), rel(ours.topk.w[1], ref.topk_w[1])).toExponential(1)}`
      : '';
    emit('kernels', `eigh-topk-${TOPK_K}-of-${TOPK_N}${tag}`, ours.topk.t, ref.topk_s, 's', {
      note: note(`scipy.linalg.eigh(subset_by_index, driver=evr); ${agree}`),
    });
  }
}

main();
