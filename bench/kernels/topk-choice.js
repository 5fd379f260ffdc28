'use strict';
/**
 * Top-k of a symmetric matrix two ways, alternating in one process on the same matrix:
 * `gf_eigh_topk` (`method: 'subspace'`, to the op's default 1e-10 residual) and the full `gf_eigh`
 * (divide and conquer) followed by taking the k largest. Prints one JSON line per (n, k) with
 * both medians and ratio = topk / full (> 1: the full solver is faster).
 *
 *   node --experimental-wasm-relaxed-simd bench/kernels/topk-choice.js
 *   env: SIZES=1000,2000 FRACS=0.025,0.1,0.25 REPS=3
 *
 * Matrix: the Laplacian kernel exp(−‖x−z‖) on seeded points in 10-D, as bench/kernels/factor.js.
 */
const os = require('node:os');
const core = require('@gramfleet/core');
const { WasmArena, loadKernelModuleBytes } = require('@gramfleet/workers');
const { createEighKernel, createEighTopkKernel } = require('@gramfleet/workers/internal');
const { emit, machineNote } = require('../lib/common');

const SIZES = (process.env.SIZES ?? '1000,2000').split(',').map(Number);
const FRACS = (process.env.FRACS ?? '0.025,0.1,0.25').split(',').map(Number);
const REPS = Number(process.env.REPS ?? 3);

function laplacianKernel(n, d, seed) {
  const rng = new core.Philox(seed);
  const x = new Float64Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(i, 0, 0, 0);
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += (x[i * d + c] - x[j * d + c]) ** 2;
      k[i * n + j] = k[j * n + i] = Math.exp(-Math.sqrt(s));
    }
  }
  return core.ndarray('f64', [n, n], k);
}

const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor((xs.length - 1) / 2)];

function main() {
  process.stderr.write(`${machineNote()}\n`);
  const chosen = loadKernelModuleBytes(true);
  const module = new WebAssembly.Module(chosen.bytes);
  let arena;
  const arenaOf = () => {
    if (arena === undefined || arena.poisoned) arena = new WasmArena(module);
    arena.reset();
    return arena;
  };
  const full = createEighKernel(arenaOf);
  const topk = createEighTopkKernel(arenaOf);
  for (const n of SIZES) {
    const a = laplacianKernel(n, 10, 3);
    for (const f of FRACS) {
      const k = Math.max(1, Math.round(f * n));
      const tt = [];
      const tf = [];
      let diff = 0;
      for (let r = 0; r < REPS; r++) {
        let t0 = performance.now();
        const [wt] = topk(core.eighTopkOp.parseAttrs({ k, method: 'subspace' }), [a], {});
        tt.push((performance.now() - t0) / 1000);
        t0 = performance.now();
        const [wf] = full(core.eighOp.parseAttrs({}), [a], {});
        tf.push((performance.now() - t0) / 1000);
        for (let t = 0; t < k; t++) diff = Math.max(diff, Math.abs(wt.data[t] - wf.data[n - 1 - t]) / Math.abs(wf.data[n - 1]));
      }
      process.stderr.write(`n ${n} k ${k}: topk ${tt.map((x) => x.toFixed(2))} s, full ${tf.map((x) => x.toFixed(2))} s\n`);
      emit('kernels', `top-${k} of ${n}: eigh-topk vs full eigh + select${chosen.fma ? ' [fma]' : ' [simd]'}`, median(tf), median(tt), 's', {
        note: `ours = full gf_eigh (D&C), reference = gf_eigh_topk (tol 1e-10), median of ${REPS}, alternating; max eigenvalue diff / λmax ${diff.toExponential(1)}; ${os.loadavg()[0].toFixed(2)} load`,
      });
    }
  }
}

main();
