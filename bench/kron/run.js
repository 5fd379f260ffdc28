'use strict';
/**
 * bench/kron: solve + log marginal likelihood + its gradient of an exact grid GP (RBF per
 * axis on [0,1]^D, noise 0.01), gramfleet's Kronecker GP on the wasm kernel library (one
 * thread, in-process) against GPyTorch/linear_operator's KroneckerProductAddedDiagLinearOperator
 * (CPU torch, float64, same thread count) and dense numpy Cholesky where it fits. Ratio =
 * reference time / ours (> 1: gramfleet faster). Setup: bash bench/kron/setup.sh.
 * Usage: node bench/kron/run.js [--threads 1] [--sizes 22x22x22,100x100x100,200x200x200] [--huge] [--no-ref] [--plain] [--repeat R]
 * (--repeat R times each system R times and compares medians: ours R solves in this process,
 * the first cold and the rest warm, GPyTorch R fresh processes; with R > 1 our cold first run
 * is compared too, as its own line; the default 1 is a single cold run of each)
 * (--huge adds 464³ = 10⁸ points: ~7 GB for ours; --no-ref skips the reference systems)
 */
const path = require('node:path');
const { compileKronGp } = require('@gramfleet/core');
const { solveKron } = require('@gramfleet/core/internal');
const { spawnSync } = require('node:child_process');
const { createWasmKronLinalg, loadKernelModuleBytes } = require('@gramfleet/workers');
const { relaxedSimdAvailable, RELAXED_SIMD_NODE_FLAG } = require('@gramfleet/workers/internal');
const { emit, machineNote, runPython, unavailable } = require('../lib/common');

const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const threads = Number(opt('--threads', '1'));
const repeat = Math.max(1, Number(opt('--repeat', '1')));
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : 0.5 * (s[m - 1] + s[m]);
};
let sizes = opt('--sizes', '22x22x22,100x100x100,200x200x200')
  .split(',')
  .map((s) => s.split('x').map(Number));
if (args.includes('--huge')) sizes = [...sizes, [464, 464, 464]];
// The FMA kernel build needs relaxed SIMD: on Node 20 re-run this script under the V8 flag
// (the workers do the same, workers/src/backends/wasm/kernel-module.ts); --plain keeps the plain build.
if (!relaxedSimdAvailable() && !args.includes('--plain') && !process.execArgv.includes(RELAXED_SIMD_NODE_FLAG)) {
  const r = spawnSync(process.execPath, [RELAXED_SIMD_NODE_FLAG, __filename, ...args], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const mod = loadKernelModuleBytes(!args.includes('--plain'));
const lin = createWasmKronLinalg(new WebAssembly.Module(mod.bytes));
process.stderr.write(`${machineNote()}\n`);
const missing = unavailable('linear_operator', 'linear_operator') ?? unavailable('torch', 'torch');

for (const shape of sizes) {
  const N = shape.reduce((a, b) => a * b, 1);
  const label = `solve+LML+grad N=${N} (${shape.join('x')})`;
  const axes = shape.map((n) => Array.from({ length: n }, (_, i) => i / (n - 1)));
  const y = new Float64Array(N);
  for (let i = 0; i < N; i++) y[i] = Math.sin(i * 0.37) + 0.1 * Math.cos(i * 1.3);
  const oursRuns = [];
  let lml = NaN;
  for (let rep = 0; rep < repeat; rep++) {
    try {
      const t0 = process.hrtime.bigint();
      const p = compileKronGp(
        { axes, y, kernel: 'rbf', lengthscales: shape.map((_, d) => 0.2 + 0.1 * d), outputscale: 1, noise: 0.01 },
        { memoryBudgetBytes: 20e9 },
      );
      const r = solveKron(lin, p.model, p.y, { gradient: true });
      const t = Number(process.hrtime.bigint() - t0) / 1e9;
      oursRuns.push(t);
      lml = r.lml;
      process.stderr.write(`ours ${label}: ${t.toFixed(3)} s, LML ${lml}, grad ℓ ${r.gradient.lengthscales.map((g) => g.toPrecision(6)).join(',')}\n`);
    } catch (e) {
      process.stderr.write(`ours ${label}: failed: ${e.message}\n`);
      break;
    }
  }
  const ours = oursRuns.length > 0 ? median(oursRuns) : NaN;
  let ref = { error: missing };
  const refRuns = [];
  if (args.includes('--no-ref')) ref = { error: 'skipped (--no-ref)' };
  else if (missing === null) {
    for (let rep = 0; rep < repeat; rep++) {
      ref = runPython(path.join(__dirname, 'gpytorch_ref.py'), [shape.join(','), String(threads), ...(N <= 11000 ? ['dense'] : [])], 900_000);
      if (ref.error !== undefined) break;
      refRuns.push(ref.gpytorch_s);
    }
    if (ref.error === undefined) ref = { ...ref, gpytorch_s: median(refRuns) };
  }
  if (ref.error === undefined)
    process.stderr.write(
      `gpytorch ${label}: ${refRuns.map((t) => t.toFixed(3)).join(' / ')} s, LML ${ref.lml}, grad ℓ ${ref.grad_ls}${ref.dense_s ? `; dense numpy ${ref.dense_s.toFixed(3)} s, LML ${ref.dense_lml}` : ''}\n`,
    );
  const note = `threads=${threads}; ${repeat > 1 ? `median of ${repeat} runs (ours ${oursRuns.map((t) => t.toFixed(3)).join('/')}, GPyTorch ${refRuns.map((t) => t.toFixed(3)).join('/')}); ` : ''}${mod.fma ? 'FMA' : 'plain SIMD'} kernels; load ${require('node:os').loadavg()[0].toFixed(2)}; LML ours ${lml} vs ${ref.lml ?? ref.error}`;
  emit('kron', `${label} vs GPyTorch KroneckerProductAddedDiag`, ours, ref.gpytorch_s ?? NaN, 's', { note });
  if (oursRuns.length > 1) emit('kron', `${label}, our cold first run vs GPyTorch median`, oursRuns[0], ref.gpytorch_s ?? NaN, 's', { note });
  if (ref.dense_s !== undefined)
    emit('kron', `${label} vs dense numpy Cholesky (solve+LML, no grad)`, ours, ref.dense_s, 's', { note: `LML dense ${ref.dense_lml}` });
}
