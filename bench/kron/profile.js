'use strict';
/**
 * bench/kron/profile.js: where the time of one solve + LML + gradient goes at N = 10⁶
 * (100×100×100, the bench/kron problem), in-process on the wasm kernels: validation, factor
 * eigendecompositions, mode products (kernel call vs the copies into and out of wasm memory),
 * and the JS passes over the grid (everything else). Prints one JSON line per repetition.
 * Usage: node [--experimental-wasm-relaxed-simd] bench/kron/profile.js [n=100] [reps=3] [plain|fma] [unfused]
 */
const { compileKronGp, modeSplit } = require('@gramfleet/core');
const { solveKron } = require('@gramfleet/core/internal');
const { createWasmKronLinalg, loadKernelModuleBytes } = require('@gramfleet/workers');

const nAxis = Number(process.argv[2] ?? 100);
const reps = Number(process.argv[3] ?? 3);
const mb = loadKernelModuleBytes(process.argv[4] !== 'plain');
const inner = createWasmKronLinalg(new WebAssembly.Module(mb.bytes));
const t = { eigh: 0, mode: 0, nmode: 0, flops: 0 };
const lin = {
  eigh(n, a) {
    const t0 = performance.now();
    const r = inner.eigh(n, a);
    t.eigh += performance.now() - t0;
    return r;
  },
  modeProduct(x, shape, mode, m, p, tr) {
    const t0 = performance.now();
    const r = inner.modeProduct(x, shape, mode, m, p, tr);
    t.mode += performance.now() - t0;
    t.nmode++;
    t.flops += 2 * x.length * p;
    return r;
  },
  // the fused Kronecker mat-vec (tensor kept in wasm memory between its mode products)
  kronMatvec(shape, factors, x) {
    const t0 = performance.now();
    const r = inner.kronMatvec(shape, factors, x);
    t.mode += performance.now() - t0;
    let len = x.length;
    factors.forEach((f, d) => {
      if (f !== null) {
        t.nmode++;
        t.flops += 2 * len * f.p;
        len = (len / shape[d]) * f.p;
      }
    });
    return r;
  },
};
if (process.argv[5] === 'unfused') delete lin.kronMatvec;
const shape = [nAxis, nAxis, nAxis];
const N = nAxis ** 3;
const axes = shape.map((n) => Array.from({ length: n }, (_, i) => i / (n - 1)));
const y = new Float64Array(N);
for (let i = 0; i < N; i++) y[i] = Math.sin(i * 0.37) + 0.1 * Math.cos(i * 1.3);
// the copy cost alone: one N-vector in and out of wasm memory, as each mode product does
const copy = () => {
  const a = new Float64Array(N);
  const b = new Float64Array(N);
  const t0 = performance.now();
  for (let k = 0; k < 5; k++) {
    a.set(y);
    b.set(a);
  }
  return (performance.now() - t0) / 5;
};
for (let rep = 0; rep < reps; rep++) {
  Object.assign(t, { eigh: 0, mode: 0, nmode: 0, flops: 0 });
  const t0 = performance.now();
  const p = compileKronGp({ axes, y, kernel: 'rbf', lengthscales: [0.2, 0.3, 0.4], outputscale: 1, noise: 0.01 }, { memoryBudgetBytes: 20e9 });
  const t1 = performance.now();
  const r = solveKron(lin, p.model, p.y, { gradient: true });
  const t2 = performance.now();
  const cp = copy();
  process.stdout.write(
    JSON.stringify({
      n: N,
      fma: mb.fma,
      load: require('node:os').loadavg()[0],
      validateMs: +(t1 - t0).toFixed(1),
      solveMs: +(t2 - t1).toFixed(1),
      eighMs: +t.eigh.toFixed(1),
      modeProducts: t.nmode,
      modeMs: +t.mode.toFixed(1),
      modeGflops: +(t.flops / t.mode / 1e6).toFixed(2),
      copyInOutMsPerModeProduct: +cp.toFixed(2),
      otherMs: +(t2 - t1 - t.mode - t.eigh).toFixed(1),
      lml: r.lml,
    }) + '\n',
  );
}
