import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kernelsWasmPath } from '@gramfleet/wasm';
import { loadKernelModuleBytes } from '@gramfleet/workers';
import { relaxedSimdAvailable } from '@gramfleet/workers/internal';

// The relaxed-SIMD FMA build (`asc … --use GF_FMA=1`) must instantiate where relaxed SIMD is on
// and give the plain build's results (gemm: |Δ| ≤ 1e-14·(k+1), the fused rounding differs;
// kernel block: |Δ| ≤ 1e-13), and the loader must fall back to the plain build where it is off.
const ROOT = path.resolve(__dirname, '..', '..', '..');
const ASC = path.join(ROOT, 'node_modules', '.bin', 'asc');

/** Script run in a process with relaxed SIMD: compares both builds on one gemm and one kernel block. */
const CHECK = `
const fs = require('node:fs');
const [plainPath, fmaPath] = process.argv.slice(1);
function inst(p) {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 4096 });
  const ex = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(p)), { env: { memory, abort() { throw new Error('abort'); } } }).exports;
  return { ex, memory, top: Math.ceil(ex.gf_heap_base() / 64) * 64 };
}
function run(p) {
  const I = inst(p);
  const al = (b) => { const q = I.top; I.top = Math.ceil((I.top + b) / 64) * 64; return q; };
  const m = 67, n = 53, k = 301;
  let s = 7;
  const r = () => { s = (s * 1103515245 + 12345) >>> 0; return s / 4294967296 - 0.5; };
  const a = al(m * k * 8), b = al(k * n * 8), c = al(m * n * 8), o = al(m * n * 8);
  new Float64Array(I.memory.buffer, a, m * k).forEach((_, i, t) => { t[i] = r(); });
  new Float64Array(I.memory.buffer, b, k * n).forEach((_, i, t) => { t[i] = r(); });
  const ws = al(Number(I.ex.gf_kernel_block_workspace_bytes(m, n, 0)) + Number(I.ex.gf_gemm_workspace_bytes()));
  const s1 = I.ex.gf_gemm(0, 0, 0, m, n, k, 1, a, 0, k, b, 0, n, 0, c, 0, n, ws);
  // laplacian block of X = A (m×k) and Z = B's buffer read as n×k, σ = 5
  const s2 = I.ex.gf_kernel_block(0, 0, m, n, k, a, 0, k, b, 0, k, 5, o, 0, n, ws);
  return { fma: I.ex.gf_fma_build(), status: [s1, s2], c: Array.from(new Float64Array(I.memory.buffer, c, m * n)), o: Array.from(new Float64Array(I.memory.buffer, o, m * n)) };
}
const P = run(plainPath), F = run(fmaPath);
let dc = 0, dk = 0;
for (let i = 0; i < P.c.length; i++) dc = Math.max(dc, Math.abs(P.c[i] - F.c[i]));
for (let i = 0; i < P.o.length; i++) dk = Math.max(dk, Math.abs(P.o[i] - F.o[i]));
console.log(JSON.stringify({ plainFma: P.fma, fmaFma: F.fma, status: [...P.status, ...F.status], dc, dk }));
`;

describe('relaxed-SIMD FMA build', () => {
  let fmaPath = '';
  before(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-fma-'));
    fmaPath = path.join(dir, 'kernels-fma.wasm');
    const r = spawnSync(
      ASC,
      ['assembly/index.ts', '--config', 'asconfig.json', '--target', 'release', '--use', 'GF_FMA=1', '-o', fmaPath, '-t', path.join(dir, 'k.wat')],
      { cwd: path.join(ROOT, 'wasm'), encoding: 'utf8' },
    );
    assert.equal(r.status, 0, `asc --use GF_FMA=1 failed: ${r.stderr}`);
  });

  it('validates exactly where relaxed SIMD is available, and the loader falls back otherwise', () => {
    const bytes = fs.readFileSync(fmaPath);
    assert.equal(WebAssembly.validate(bytes), relaxedSimdAvailable());
    assert.ok(WebAssembly.validate(fs.readFileSync(kernelsWasmPath)), 'the plain build validates everywhere');
    const chosen = loadKernelModuleBytes();
    if (!relaxedSimdAvailable()) assert.equal(chosen.fma, false);
    assert.ok(WebAssembly.validate(chosen.bytes));
  });

  it('instantiates under relaxed SIMD and matches the plain build', () => {
    const args = relaxedSimdAvailable() ? ['-e', CHECK, kernelsWasmPath, fmaPath] : ['--experimental-wasm-relaxed-simd', '-e', CHECK, kernelsWasmPath, fmaPath];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { plainFma: number; fmaFma: number; status: number[]; dc: number; dk: number };
    assert.equal(out.plainFma, 0);
    assert.equal(out.fmaFma, 1);
    assert.deepEqual(out.status, [0, 0, 0, 0]);
    assert.ok(out.dc <= 1e-14 * 302, `gemm differs by ${out.dc}`);
    assert.ok(out.dk <= 1e-13, `kernel block differs by ${out.dk}`);
  });
});
