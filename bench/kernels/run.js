#!/usr/bin/env node
'use strict';
/**
 * bench/kernels: gramfleet's AssemblyScript kernels against numpy/SciPy (OpenBLAS) in the same
 * run, at 1 and 2 threads (ours: the kernel on the main thread, then split over worker
 * threads sharing one WebAssembly.Memory; numpy: OPENBLAS_NUM_THREADS=1 / 2; SciPy's CSR
 * product is single-threaded at any setting).
 *
 *   node bench/kernels/run.js   # env: THREADS=1,2  QUICK=1 (smaller sizes)  FIGURES=gemm,kernel,kmatmul,spmv  VARIANTS=plain,fma
 *
 * Two builds of our kernels are measured: `plain` (wasm/build/kernels.wasm, f64x2 mul + add,
 * what Node 20 runs by default) and `fma` (kernels-fma.wasm, built here with
 * `asc … --use GF_FMA=1`: relaxed-SIMD fused multiply-add). Node 20 accepts the latter only
 * under --experimental-wasm-relaxed-simd, so the fma figures run in a child process with
 * that flag (Node ≥ 22 accepts it as is); their figure names end in "[relaxed-simd fma]".
 *
 * Figures: f64 and f32 GEMM 1024³ and 4096×4096×784 (GFLOP/s, ratio = ours/reference; f32
 * twice: f64 accumulation, the op's default, and `accumulate: 'f32'`);
 * Laplacian kernel block 4096×4096, d = 784 (ms; numpy: GEMM + norms + sqrt + exp; ratio =
 * reference/ours); CSR SpMV on the 5-point Laplacian of a 1000×1000 grid (10⁶ unknowns, ms)
 * and on the Pubmed adjacency (../shared/data/graphs/pubmed.npz, read by loadGraph here and by
 * numpy.load + scipy.sparse.csr_matrix there; ms per product).
 * Times are best-of-R after one warm-up, inputs already in kernel memory (as in a worker,
 * whose inputs are cached) for ours and already in numpy arrays for the reference.
 * Ends with one JSON line per figure (see bench/README.md).
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { emit, machineNote } = require('../lib/common');

const ROOT = path.resolve(__dirname, '..', '..');
const VENV = path.join(ROOT, 'bench', '.venv');
const PY = path.join(VENV, 'bin', 'python');
const { kernelsWasmPath } = require(path.join(ROOT, 'wasm'));
const { WasmArena } = require('@gramfleet/workers');
const { kernelsFmaWasmPath, relaxedSimdAvailable } = require('@gramfleet/workers/internal');
const par = require('@gramfleet/workers/internal');

const QUICK = process.env.QUICK === '1';
const THREADS = (process.env.THREADS ?? '1,2').split(',').map(Number);
const WANT = new Set((process.env.FIGURES ?? 'gemm,kernel,kmatmul,spmv').split(','));
const VARIANTS = (process.env.VARIANTS ?? 'plain,fma').split(',');
const log = (s) => process.stderr.write(`${s}\n`);

/** numpy + scipy in bench/.venv; created here when missing. Returns null or why not. */
function ensureVenv() {
  const ok = () => fs.existsSync(PY) && spawnSync(PY, ['-c', 'import numpy, scipy'], { encoding: 'utf8' }).status === 0;
  if (ok()) return null;
  log('bench/kernels: creating bench/.venv with numpy and scipy ...');
  if (!fs.existsSync(PY)) {
    const r = spawnSync('python3', ['-m', 'venv', VENV], { encoding: 'utf8' });
    if (r.status !== 0) return `python3 -m venv failed: ${(r.stderr || '').trim()}`;
  }
  const r = spawnSync(PY, ['-m', 'pip', 'install', '-q', 'numpy', 'scipy'], { encoding: 'utf8' });
  if (r.status !== 0 || !ok()) return `pip install numpy scipy failed: ${(r.stderr || '').trim().split('\n').slice(-2).join(' ')}`;
  return null;
}

const big = QUICK ? { m: 1024, n: 1024, k: 392 } : { m: 4096, n: 4096, k: 784 };
const small = QUICK ? { m: 512, n: 512, k: 512 } : { m: 1024, n: 1024, k: 1024 };
const GRID = QUICK ? 300 : 1000;
const SIGMA = 10;
const FIGS = [];
if (WANT.has('gemm')) {
  for (const dtype of ['f64', 'f32']) {
    FIGS.push({ kind: 'gemm', dtype, acc: 'f64', ...small, reps: 3, name: `${dtype} gemm ${small.m}x${small.n}x${small.k}` });
    FIGS.push({ kind: 'gemm', dtype, acc: 'f64', ...big, reps: 2, name: `${dtype} gemm ${big.m}x${big.n}x${big.k}` });
  }
  // gemm with accumulate: 'f32' (gf_gemm_f32, f32x4 tiles, C in f32): the like-for-like figure
  // against sgemm.
  for (const sz of [small, big])
    FIGS.push({ kind: 'gemm', dtype: 'f32', acc: 'f32', ...sz, reps: sz === small ? 3 : 2, name: `f32 gemm ${sz.m}x${sz.n}x${sz.k} f32 accumulation` });
}
if (WANT.has('kernel'))
  FIGS.push({ kind: 'laplacian', n: big.m, m: big.n, d: big.k, sigma: SIGMA, reps: 2, name: `laplacian kernel block ${big.m}x${big.n} d=${big.k}` });
// EigenPro's batch task (60k Fashion-MNIST, 2 shards): K(X_B, Z_j)·A_j with f32 features, our
// f64- and f32-accumulated kernels against numpy's f32 block (sgemm + epilogue) times A. One
// thread only (the fused matmul kernel is not split over threads; a worker runs one per task).
const KMM = QUICK ? { n: 512, m: 4096, d: 784, c: 10 } : { n: 1710, m: 30000, d: 784, c: 10 };
if (WANT.has('kmatmul'))
  for (const acc of ['f64', 'f32'])
    FIGS.push({
      kind: 'kmatmul',
      acc,
      ...KMM,
      sigma: SIGMA,
      reps: 2,
      name: `laplacian kernel block x matrix ${KMM.n}x${KMM.m} d=${KMM.d} c=${KMM.c}, f32 inputs, ${acc} accumulation`,
    });
if (WANT.has('spmv')) FIGS.push({ kind: 'spmv', grid: GRID, reps: 20, name: `csr spmv 5-point laplacian ${GRID * GRID} unknowns` });
const PUBMED = path.resolve(process.env.GRAPH_DIR ?? path.join(ROOT, '..', 'shared', 'data', 'graphs'), 'pubmed.npz');
// Pubmed adjacency (19,717 nodes, ~88.6k stored entries): one product takes ~0.1 ms, so each
// timed rep is `inner` back-to-back products (figure: ms per product).
if (WANT.has('spmv')) FIGS.push({ kind: 'spmv-file', file: PUBMED, reps: 20, inner: 50, name: 'csr spmv pubmed adjacency' });

function rand(n, f32) {
  const a = f32 ? new Float32Array(n) : new Float64Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    a[i] = s / 4294967296;
  }
  return a;
}

/** The 5-point Laplacian of a g×g grid in CSR (sorted columns), as scipy builds it. */
function laplacian5(g) {
  const n = g * g;
  const ip = new Int32Array(n + 1),
    ix = new Int32Array(5 * n),
    dv = new Float64Array(5 * n);
  let w = 0;
  for (let r = 0; r < g; r++) {
    for (let c = 0; c < g; c++) {
      const i = r * g + c;
      const put = (j, v) => {
        ix[w] = j;
        dv[w] = v;
        w++;
      };
      if (r > 0) put(i - g, -1);
      if (c > 0) put(i - 1, -1);
      put(i, 4);
      if (c < g - 1) put(i + 1, -1);
      if (r < g - 1) put(i + g, -1);
      ip[i + 1] = w;
    }
  }
  return { n, ip, ix: ix.subarray(0, w), dv: dv.subarray(0, w) };
}

async function best(fn, reps) {
  await fn(); // warm-up (TurboFan tier-up, page faults)
  let t = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    await fn();
    t = Math.min(t, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return t;
}

/** Our side: allocates in `mem` (arena or parallel kernels), returns seconds per figure. */
async function ours(threads, wasmBytes) {
  const out = {};
  let arena = null;
  let pk = null;
  if (threads === 1) arena = new WasmArena(new WebAssembly.Module(wasmBytes));
  else pk = await par.createParallelKernels(wasmBytes, { threads });
  const mem = arena ?? pk;
  const local = (fn, ...a) => (arena ? arena.fn(fn)(...a) : pk.local(fn, ...a));
  const check = (s, what) => {
    if (s !== 0) throw new Error(`${what}: status ${s}`);
  };
  for (const f of FIGS) {
    if (arena) arena.reset();
    else pk.reset();
    log(`ours ${threads}t: ${f.name} ...`);
    if (f.kind === 'gemm' && f.acc === 'f32') {
      const a = mem.put(rand(f.m * f.k, true)),
        b = mem.put(rand(f.k * f.n, true)),
        c = mem.alloc(f.m * f.n * 4);
      const g = {
        transA: false,
        transB: false,
        f32: true,
        m: f.m,
        n: f.n,
        k: f.k,
        alpha: 1,
        a,
        offA: 0,
        lda: f.k,
        b,
        offB: 0,
        ldb: f.n,
        beta: 0,
        c,
        offC: 0,
        ldc: f.n,
      };
      const ws = arena ? arena.alloc(local('gf_gemm_f32_workspace_bytes')) : 0;
      out[f.name] = await best(async () => {
        if (arena) check(arena.call('gf_gemm_f32', 0, 0, f.m, f.n, f.k, 1, a, 0, f.k, b, 0, f.n, 0, c, 0, f.n, ws), 'gf_gemm_f32');
        else await par.parallelGemm(pk, { ...g, accumulateF32: true });
      }, f.reps);
    } else if (f.kind === 'gemm') {
      const f32 = f.dtype === 'f32';
      const a = mem.put(rand(f.m * f.k, f32)),
        b = mem.put(rand(f.k * f.n, f32)),
        c = mem.alloc(f.m * f.n * 8);
      const g = {
        transA: false,
        transB: false,
        f32,
        m: f.m,
        n: f.n,
        k: f.k,
        alpha: 1,
        a,
        offA: 0,
        lda: f.k,
        b,
        offB: 0,
        ldb: f.n,
        beta: 0,
        c,
        offC: 0,
        ldc: f.n,
      };
      let ws = 0;
      if (arena) ws = arena.alloc(local('gf_gemm_workspace_bytes'));
      out[f.name] = await best(async () => {
        if (arena) check(arena.call('gf_gemm', 0, 0, f32 ? 1 : 0, f.m, f.n, f.k, 1, a, 0, f.k, b, 0, f.n, 0, c, 0, f.n, ws), 'gf_gemm');
        else await par.parallelGemm(pk, g);
      }, f.reps);
    } else if (f.kind === 'laplacian') {
      const x = mem.put(rand(f.n * f.d, false)),
        z = mem.put(rand(f.m * f.d, false)),
        o = mem.alloc(f.n * f.m * 8);
      const k = { kind: 0, f32: false, n: f.n, m: f.m, d: f.d, x, offX: 0, ldx: f.d, z, offZ: 0, ldz: f.d, bandwidth: f.sigma, out: o, offOut: 0, ldOut: f.m };
      let ws = 0;
      if (arena) ws = arena.alloc(local('gf_kernel_block_workspace_bytes', f.n, f.m, 0));
      out[f.name] = await best(async () => {
        if (arena) check(arena.call('gf_kernel_block', 0, 0, f.n, f.m, f.d, x, 0, f.d, z, 0, f.d, f.sigma, o, 0, f.m, ws), 'gf_kernel_block');
        else await par.parallelKernelBlock(pk, k);
      }, f.reps);
    } else if (f.kind === 'kmatmul') {
      if (!arena) {
        out[`${f.name}:skip`] = 'one thread only';
        continue;
      }
      const x = mem.put(rand(f.n * f.d, true)),
        z = mem.put(rand(f.m * f.d, true)),
        a = mem.put(rand(f.m * f.c, false)),
        o = mem.alloc(f.n * f.c * 8);
      const f32 = f.acc === 'f32';
      const ws = arena.alloc(f32 ? local('gf_kernel_block_matmul_f32_workspace_bytes', f.n, f.m, f.d) : local('gf_kernel_block_workspace_bytes', f.n, f.m, 1));
      out[f.name] = await best(async () => {
        if (f32)
          check(
            arena.call('gf_kernel_block_matmul_f32', 0, f.n, f.m, f.d, f.c, x, 0, f.d, z, 0, f.d, f.sigma, a, 0, f.c, 0, o, 0, f.c, ws),
            'gf_kernel_block_matmul_f32',
          );
        else
          check(
            arena.call('gf_kernel_block_matmul', 0, 1, f.n, f.m, f.d, f.c, x, 0, f.d, z, 0, f.d, f.sigma, a, 0, f.c, 0, o, 0, f.c, ws),
            'gf_kernel_block_matmul',
          );
      }, f.reps);
    } else if (f.kind === 'spmv-file') {
      if (!fs.existsSync(f.file)) {
        out.error = `${f.file} not found`;
        continue;
      }
      const { loadGraph } = require('@gramfleet/orchestrator');
      const g = (await loadGraph(f.file)).csr;
      const n = g.shape[0];
      const ip = mem.put(g.indptr),
        ix = mem.put(g.indices),
        dv = mem.put(g.data),
        x = mem.put(rand(g.shape[1], false)),
        y = mem.alloc(n * 8);
      out[`${f.name}:nnz`] = g.indices.length;
      out[f.name] =
        (await best(async () => {
          for (let r = 0; r < f.inner; r++) {
            if (arena) check(arena.call('gf_csr_spmv_rows', 0, n, g.shape[1], ip, ix, dv, 1, x, 0, 1, 0, y, 0, 1), 'gf_csr_spmv_rows');
            else await par.parallelCsrSpmv(pk, g.indptr, g.shape[1], ip, ix, dv, 1, x, 0, y);
          }
        }, f.reps)) / f.inner;
    } else if (f.kind === 'spmv') {
      const L = laplacian5(f.grid);
      const ip = mem.put(L.ip),
        ix = mem.put(L.ix),
        dv = mem.put(L.dv),
        x = mem.put(rand(L.n, false)),
        y = mem.alloc(L.n * 8);
      out[f.name] = await best(async () => {
        if (arena) check(arena.call('gf_csr_spmv_rows', 0, L.n, L.n, ip, ix, dv, 1, x, 0, 1, 0, y, 0, 1), 'gf_csr_spmv_rows');
        else await par.parallelCsrSpmv(pk, L.ip, L.n, ip, ix, dv, 1, x, 0, y);
      }, f.reps);
    }
  }
  if (pk) await pk.close();
  return out;
}

function reference(threads) {
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  log(`numpy ${threads}t ...`);
  const r = spawnSync(PY, [path.join(__dirname, 'numpy_ref.py'), JSON.stringify(FIGS)], { encoding: 'utf8', env, maxBuffer: 16 << 20, timeout: 900_000 });
  process.stderr.write(r.stderr || '');
  const last = (r.stdout || '').trim().split('\n').pop() || '';
  try {
    return JSON.parse(last);
  } catch {
    return { error: `numpy_ref.py failed: exit ${r.status} ${(r.stderr || '').trim().split('\n').pop()}` };
  }
}

/** Builds kernels-fma.wasm when missing or older than kernels.wasm. Returns null or why not. */
function ensureFmaBuild() {
  if (fs.existsSync(kernelsFmaWasmPath) && fs.statSync(kernelsFmaWasmPath).mtimeMs >= fs.statSync(kernelsWasmPath).mtimeMs) return null;
  log('bench/kernels: building wasm/build/kernels-fma.wasm (asc --use GF_FMA=1) ...');
  const asc = path.join(ROOT, 'node_modules', '.bin', 'asc');
  const r = spawnSync(
    asc,
    [
      'assembly/index.ts',
      '--config',
      'asconfig.json',
      '--target',
      'release',
      '--use',
      'GF_FMA=1',
      '-o',
      'build/kernels-fma.wasm',
      '-t',
      'build/kernels-fma.wat',
    ],
    { cwd: path.join(ROOT, 'wasm'), encoding: 'utf8' },
  );
  return r.status === 0 ? null : `asc --use GF_FMA=1 failed: ${(r.stderr || '').trim().split('\n').pop()}`;
}

function emitAll(t, variant, o, ref) {
  for (const f of FIGS) {
    if (o[`${f.name}:skip`] !== undefined) continue;
    const fig = `${f.name}, ${t} thread${t > 1 ? 's' : ''}${variant === 'fma' ? ' [relaxed-simd fma]' : ''}`;
    const rs = ref[f.name];
    const note = ref.error ?? o.error;
    const ours = o[f.name] ?? NaN;
    if (f.kind === 'gemm') {
      const flop = 2 * f.m * f.n * f.k;
      emit('kernels', fig, flop / ours / 1e9, rs === undefined ? NaN : flop / rs / 1e9, 'GFLOP/s', { higherIsBetter: true, note });
    } else if (f.kind === 'kmatmul') {
      const gf = (sec) => ((2 * f.n * f.m * f.d) / sec / 1e9).toFixed(1);
      emit('kernels', fig, ours * 1e3, rs === undefined ? NaN : rs * 1e3, 'ms', {
        note: note ?? `GFLOP/s (2nmd) ours ${gf(ours)}, numpy ${rs === undefined ? 'n/a' : gf(rs)}`,
      });
    } else {
      const nnz =
        f.kind === 'spmv-file' ? `; nnz ours ${o[`${f.name}:nnz`]}, scipy ${ref[`${f.name}:nnz`]}; ms per product, ${f.inner} back to back per rep` : '';
      emit('kernels', fig, ours * 1e3, rs === undefined ? NaN : rs * 1e3, 'ms', {
        note: note === undefined && nnz === '' ? undefined : `${note ?? ''}${nnz}`.replace(/^; /, ''),
      });
    }
  }
}

async function main() {
  // Child mode: only our fma figures, reference results passed in by the parent.
  if (process.env.GF_BENCH_CHILD === 'fma') {
    const refs = JSON.parse(process.env.GF_BENCH_REFS ?? '{}');
    const bytes = fs.readFileSync(kernelsFmaWasmPath);
    for (const t of THREADS) emitAll(t, 'fma', await ours(t, bytes), refs[t] ?? {});
    return;
  }
  log(machineNote());
  const why = ensureVenv();
  const refs = {};
  for (const t of THREADS) {
    refs[t] = why === null ? reference(t) : { error: why };
    if (refs[t].blas) log(`reference BLAS: ${refs[t].blas}`);
  }
  if (VARIANTS.includes('plain')) {
    const bytes = fs.readFileSync(kernelsWasmPath);
    for (const t of THREADS) emitAll(t, 'plain', await ours(t, bytes), refs[t]);
  }
  if (VARIANTS.includes('fma')) {
    const err = ensureFmaBuild();
    if (err !== null) {
      for (const t of THREADS) emitAll(t, 'fma', { error: err }, refs[t]);
    } else {
      const flags = relaxedSimdAvailable() ? [] : ['--experimental-wasm-relaxed-simd'];
      const r = spawnSync(process.execPath, [...flags, __filename], {
        encoding: 'utf8',
        env: { ...process.env, GF_BENCH_CHILD: 'fma', GF_BENCH_REFS: JSON.stringify(refs) },
        maxBuffer: 16 << 20,
      });
      process.stderr.write(r.stderr || '');
      process.stdout.write(r.stdout || '');
      if (r.status !== 0) for (const t of THREADS) emitAll(t, 'fma', { error: `fma child exited ${r.status}` }, refs[t]);
    }
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
