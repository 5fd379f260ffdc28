'use strict';
/**
 * bench/gpu — gramfleet's GPU backend side by side with the same work done natively, on the
 * same GPU, in the same run (needs an NVIDIA GPU; run `bash bench/setup.sh && bash bench/gpu/setup.sh`
 * first):
 *   1. GEMM throughput: cublasDgemm (and TF32 Sgemm) on device-resident operands issued from
 *      Node through koffi, vs the same call from C (bench/.venv/gemm_ref) — the FFI's share;
 *      and the `gemm` op end to end (host arrays in and out) vs the C call.
 *   2. Kernel-block throughput: Gram GEMM + NVRTC epilogue, device-resident, vs the bare
 *      cuBLAS GEMM of the same shape from C (a fused epilogue should cost little); and the
 *      `kernel-block-matmul` op end to end.
 *   3. One EigenPro 2 epoch (Laplacian kernel, Nyström preconditioner from `eigh`) with the
 *      GPU ops vs the same iteration in PyTorch (bench/gpu/eigenpro_torch.py) on the same data.
 * Prints the environment (device, driver, CUDA, NVRTC, cuBLAS, torch) and JSON figure lines
 * (bench/lib/common.js conventions). Without a GPU it prints the figures as null with the reason.
 * env: GEMM_SIZES=1024,2048,4096 KB_N=16384 KB_D=64 EP_N=20000 EP_D=64 EP_S=2000 EP_Q=100 EP_BATCH=2000
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { BENCH_DIR, VENV_PY, emit, machineNote, runPython } = require('../lib/common');
const core = require('@gramfleet/core');
const { createKernelRegistry } = core;
const { registerReferenceKernels } = require('@gramfleet/workers');
const { openGpuDevice, registerGpuKernels } = require('@gramfleet/gpu-workers');
const { BUNDLED_CUDA_LIB_DIR, BLAS, arg } = require('@gramfleet/gpu-workers/internal');

const env = process.env;
const GEMM_SIZES = (env.GEMM_SIZES ?? '1024,2048,4096').split(',').map(Number);
const KB_N = Number(env.KB_N ?? 16384),
  KB_D = Number(env.KB_D ?? 64);
const EP = {
  n: Number(env.EP_N ?? 20000),
  d: Number(env.EP_D ?? 64),
  s: Number(env.EP_S ?? 2000),
  q: Number(env.EP_Q ?? 100),
  batch: Number(env.EP_BATCH ?? 2000),
  classes: 10,
  bandwidth: 5,
};
const GEMM_REF = path.join(BENCH_DIR, '.venv', 'gemm_ref');

function randomF64(n, seed) {
  let s = seed >>> 0 || 1;
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

function cRef(kind, m, n, k, reps) {
  if (!fs.existsSync(GEMM_REF)) {
    const f = path.join(BENCH_DIR, '.venv', 'unavailable', 'gemm_ref.txt');
    return { error: fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() : 'bench/.venv/gemm_ref missing: run bash bench/gpu/setup.sh' };
  }
  const r = spawnSync(GEMM_REF, [kind, String(m), String(n), String(k), String(reps)], { encoding: 'utf8' });
  try {
    return JSON.parse(r.stdout.trim());
  } catch {
    return { error: `gemm_ref failed: ${(r.stderr || '').trim()}` };
  }
}

async function timeIt(dev, reps, f) {
  f();
  f();
  await dev.sync();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) f();
  await dev.sync();
  return (performance.now() - t0) / reps;
}

async function main() {
  process.stderr.write(`bench/gpu: ${machineNote()}\n`);
  const libDirs = [
    ...(fs.existsSync(path.join(BENCH_DIR, '.venv', 'gpu-libdirs.txt'))
      ? fs
          .readFileSync(path.join(BENCH_DIR, '.venv', 'gpu-libdirs.txt'), 'utf8')
          .trim()
          .split(':')
      : []),
    ...(env.GRAMFLEET_CUDA_LIB_DIRS ?? '').split(':'),
    BUNDLED_CUDA_LIB_DIR,
  ].filter((d) => d !== '');
  let dev;
  try {
    dev = openGpuDevice({ libDirs });
  } catch (e) {
    const note = `no GPU: ${e.message}`;
    for (const f of ['gemm f64 device-resident GFLOP/s', 'kernel-block device-resident GFLOP/s', 'EigenPro 2 epoch s'])
      emit('gpu', f, null, null, '', { note });
    return;
  }
  const torchInfo = spawnSync(
    VENV_PY,
    [
      '-c',
      'import json,torch; print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}))',
    ],
    { encoding: 'utf8' },
  );
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total,clocks.max.sm', '--format=csv,noheader'], { encoding: 'utf8' });
  process.stdout.write(
    JSON.stringify({
      bench: 'gpu',
      figure: 'environment',
      device: dev.description,
      torch: (torchInfo.stdout || '').trim() || null,
      nvidiaSmi: (smi.stdout || '').trim() || null,
      host: os.hostname(),
      load: os.loadavg(),
    }) + '\n',
  );
  const blas = dev.cublas;
  if (blas === undefined) {
    emit('gpu', 'gemm f64 device-resident GFLOP/s', null, null, 'GFLOP/s', { note: `cuBLAS absent: ${dev.missing.cublas}` });
    return;
  }
  const reg = createKernelRegistry();
  registerReferenceKernels(reg);
  registerGpuKernels(reg, dev);
  const op = (id, attrs, inputs) => {
    const o = core.OPS.get(id);
    const a = o.parseAttrs(attrs);
    o.checkInputs(a, inputs);
    return reg.get('gpu', id)(a, inputs, {});
  };

  // 1. GEMM
  for (const N of GEMM_SIZES) {
    const reps = N <= 2048 ? 20 : 5;
    const flops = 2 * N * N * N;
    await dev.scoped(async (s) => {
      const A = s.upload(randomF64(N * N, 1), 'a'),
        B = s.upload(randomF64(N * N, 2), 'b'),
        C = s.alloc(N * N * 8, 'c');
      const one = new Float64Array([1]),
        zero = new Float64Array([0]);
      const ms = await timeIt(dev, reps, () =>
        blas.check(blas.api.cublasDgemm(blas.handle, BLAS.OP_N, BLAS.OP_N, N, N, N, one, B.ptr, N, A.ptr, N, zero, C.ptr, N), 'cublasDgemm'),
      );
      const ref = cRef('d', N, N, N, reps);
      emit('gpu', `gemm f64 ${N}³ device-resident (koffi → cuBLAS) vs the same call from C`, flops / (ms * 1e6), ref.gflops ?? null, 'GFLOP/s', {
        higherIsBetter: true,
        ...(ref.error ? { note: ref.error } : {}),
      });
      const A32 = s.upload(Float32Array.from(randomF64(N * N, 3)), 'a32'),
        B32 = s.upload(Float32Array.from(randomF64(N * N, 4)), 'b32'),
        C32 = s.alloc(N * N * 4, 'c32');
      blas.setTf32(true);
      const ms32 = await timeIt(dev, reps, () =>
        blas.check(
          blas.api.cublasSgemm(blas.handle, BLAS.OP_N, BLAS.OP_N, N, N, N, new Float32Array([1]), B32.ptr, N, A32.ptr, N, new Float32Array([0]), C32.ptr, N),
          'cublasSgemm',
        ),
      );
      blas.setTf32(false);
      const ref32 = cRef('tf32', N, N, N, reps);
      emit('gpu', `gemm tf32 ${N}³ device-resident vs the same call from C`, flops / (ms32 * 1e6), ref32.gflops ?? null, 'GFLOP/s', {
        higherIsBetter: true,
        ...(ref32.error ? { note: ref32.error } : {}),
      });
    });
    const a = { dtype: 'f64', shape: [N, N], data: randomF64(N * N, 5) },
      b = { dtype: 'f64', shape: [N, N], data: randomF64(N * N, 6) };
    await op('gemm', {}, [a, b]);
    const t0 = performance.now();
    await op('gemm', {}, [a, b]);
    const e2e = performance.now() - t0;
    const ref = cRef('d', N, N, N, 5);
    emit(
      'gpu',
      `gemm op f64 ${N}³ end to end (host arrays in/out, copies included) vs the C call on device-resident data`,
      flops / (e2e * 1e6),
      ref.gflops ?? null,
      'GFLOP/s',
      { higherIsBetter: true, note: 'copies included on our side only: shows the transfer cost of one-shot ops' },
    );
  }

  // 2. kernel block (Laplacian), n = m = KB_N, d = KB_D
  {
    const n = KB_N,
      d = KB_D,
      reps = 5;
    const flops = 2 * n * n * d;
    await dev.scoped(async (s) => {
      const X = s.upload(randomF64(n * d, 7), 'x'),
        xn = s.alloc(n * 8, 'xn'),
        G = s.alloc(n * n * 8, 'g');
      dev.launch('gf_row_sqnorm', n, [arg.ptr(X), arg.i64(0), arg.i32(n), arg.i32(d), arg.i32(d), arg.ptr(xn)]);
      const one = new Float64Array([1]),
        zero = new Float64Array([0]);
      const ms = await timeIt(dev, reps, () => {
        blas.check(blas.api.cublasDgemm(blas.handle, BLAS.OP_T, BLAS.OP_N, n, n, d, one, X.ptr, d, X.ptr, d, zero, G.ptr, n), 'cublasDgemm');
        dev.launch('gf_kernel_epilogue_laplacian', n * n, [arg.ptr(G), arg.ptr(xn), arg.ptr(xn), arg.i32(n), arg.i32(n), arg.f64(1)]);
      });
      const ref = cRef('d', n, n, d, reps);
      emit(
        'gpu',
        `kernel-block laplacian ${n}×${n}, d=${d}, device-resident (Gram GEMM + NVRTC epilogue) vs the bare cuBLAS GEMM from C`,
        flops / (ms * 1e6),
        ref.gflops ?? null,
        'GFLOP/s',
        { higherIsBetter: true, ...(ref.error ? { note: ref.error } : {}) },
      );
    });
    const x = { dtype: 'f64', shape: [n, d], data: randomF64(n * d, 8) },
      av = { dtype: 'f64', shape: [n, 10], data: randomF64(n * 10, 9) };
    await op('kernel-block-matmul', { kernel: 'laplacian', bandwidth: 1 }, [x, x, av]);
    const t0 = performance.now();
    await op('kernel-block-matmul', { kernel: 'laplacian', bandwidth: 1 }, [x, x, av]);
    const e2e = performance.now() - t0;
    const ref = cRef('d', n, n, d, 5);
    emit(
      'gpu',
      `kernel-block-matmul op ${n}×${n}·A(${n}×10), d=${d}, end to end vs the bare Gram GEMM from C`,
      (flops + 2 * n * n * 10) / (e2e * 1e6),
      ref.gflops ?? null,
      'GFLOP/s',
      { higherIsBetter: true, note: 'ours includes copies and the K·A GEMM' },
    );
  }

  // 3. EigenPro 2 epoch vs PyTorch on the same data
  await eigenproEpoch(dev, op);
  dev.close();
}

async function eigenproEpoch(dev, op) {
  const { n, d, s, q, batch, classes, bandwidth } = EP;
  const X = randomF64(n * d, 21);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = Math.floor((X[i * d] + 0.5) * classes) % classes; // learnable from feature 0
  const Y = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) Y[i * classes + labels[i]] = 1;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-ep-'));
  fs.writeFileSync(path.join(dir, 'x.npy'), core.encodeNpy({ dtype: 'f64', shape: [n, d], data: X }));
  fs.writeFileSync(path.join(dir, 'y.npy'), core.encodeNpy({ dtype: 'f64', shape: [n, classes], data: Y }));
  const f64 = (shape, data) => ({ dtype: 'f64', shape, data });
  const kb = { kernel: 'laplacian', bandwidth };
  const t0 = performance.now();
  // preconditioner: top-q eigensystem of K(X_S, X_S)/s, S = the first s points
  const xs = f64([s, d], X.slice(0, s * d));
  const [ks] = await op('kernel-block', kb, [xs, xs]);
  for (let i = 0; i < ks.data.length; i++) ks.data[i] /= s;
  const [w, v] = await op('eigh', {}, [ks]);
  const lam = (i) => w.data[s - 1 - i]; // descending
  const lq1 = lam(q);
  const E = new Float64Array(s * q),
    D = new Float64Array(q);
  for (let j = 0; j < q; j++) {
    D[j] = (1 - lq1 / lam(j)) / (s * lam(j));
    for (let i = 0; i < s; i++) E[i * q + j] = v.data[i * s + (s - 1 - j)];
  }
  const eta = batch / (1 + (batch - 1) * lq1);
  const alpha = new Float64Array(n * classes);
  for (let b0 = 0; b0 < n; b0 += batch) {
    const m = Math.min(batch, n - b0);
    const xb = f64([m, d], X.subarray(b0 * d, (b0 + m) * d));
    const [kba] = await op('kernel-block-matmul', kb, [xb, f64([n, d], X), f64([n, classes], alpha)]);
    const g = kba.data;
    for (let i = 0; i < m * classes; i++) g[i] -= Y[b0 * classes + i];
    const [h] = await op('kernel-block-matmul', kb, [xs, xb, f64([m, classes], g)]); // s × c
    const [eth] = await op('gemm', { transA: true }, [f64([s, q], E), h]); // q × c
    for (let j = 0; j < q; j++) for (let c = 0; c < classes; c++) eth.data[j * classes + c] *= D[j];
    const [corr] = await op('gemm', {}, [f64([s, q], E), eth]); // s × c
    for (let i = 0; i < m * classes; i++) alpha[b0 * classes + i] -= (eta / m) * g[i];
    for (let i = 0; i < s * classes; i++) alpha[i] += (eta / m) * corr.data[i];
  }
  const ours = (performance.now() - t0) / 1000;
  // training MSE after the epoch, on the first 2000 points (same on both sides)
  const ev = Math.min(2000, n);
  const [pred] = await op('kernel-block-matmul', kb, [f64([ev, d], X.subarray(0, ev * d)), f64([n, d], X), f64([n, classes], alpha)]);
  let mse = 0;
  for (let i = 0; i < ev * classes; i++) mse += (pred.data[i] - Y[i]) ** 2;
  mse /= ev;
  const ref = runPython(path.join(__dirname, 'eigenpro_torch.py'), [dir, String(s), String(q), String(batch), String(bandwidth)], 1_800_000);
  fs.rmSync(dir, { recursive: true, force: true });
  emit('gpu', `EigenPro 2 epoch n=${n} d=${d} s=${s} q=${q} batch=${batch} (GPU ops) vs PyTorch on the same GPU`, ours, ref.epoch_s ?? null, 's', {
    note: `train MSE after the epoch: ours ${mse.toPrecision(4)}, torch ${ref.mse ?? ref.error}`,
  });
}

main().catch((e) => {
  process.stderr.write(`bench/gpu failed: ${e.stack || e}\n`);
  process.exit(1);
});
