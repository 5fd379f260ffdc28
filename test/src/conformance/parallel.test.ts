import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { csrSpmvOp, kernelBlockOp, type NdArray } from '@gramfleet/core';
import { kernelsWasmPath } from '@gramfleet/wasm';
import {
  createParallelKernels, parallelCsrSpmv, parallelGemm, parallelKernelBlock, splitCsrRows, splitRows, type ParallelKernels,
} from '@gramfleet/workers/dist/backends/wasm/parallel';
import { arr, assertClose, rand, rand32, randomCsr } from './dense-fixtures';

// Multi-core kernels (worker threads over one shared WebAssembly.Memory) against the f64
// reference, with 3 threads so the row splits are uneven. Tolerances as in the single-thread
// suites: gemm 1e-14·(k+1), kernel block 1e-12, spmv 1e-13.
describe('multi-core kernels over shared memory', () => {
  let pk: ParallelKernels;
  before(async () => {
    pk = await createParallelKernels(fs.readFileSync(kernelsWasmPath), { threads: 3, maxBytes: 256 << 20 });
  });
  after(async () => {
    await pk.close();
  });

  it('splits cover every row exactly once', () => {
    assert.deepEqual(splitRows(10, 3), [[0, 4], [4, 8], [8, 10]]);
    assert.deepEqual(splitRows(0, 3), []);
    const ip = Int32Array.from([0, 5, 5, 6, 20, 21]);
    const parts = splitCsrRows(ip, 3);
    assert.equal(parts[0]?.[0], 0);
    assert.equal(parts[parts.length - 1]?.[1], 5);
    for (let i = 1; i < parts.length; i++) assert.equal(parts[i]?.[0], parts[i - 1]?.[1]);
  });

  for (const dtype of ['f64', 'f32'] as const) {
    for (const [m, n, k, transA] of [[1, 1, 1, false], [37, 29, 41, false], [131, 67, 263, true]] as const) {
      it(`gemm ${dtype} ${m}×${n}×${k} transA=${transA} on 3 threads matches the reference`, async () => {
        pk.reset();
        const mk = dtype === 'f64' ? rand : rand32;
        const a = mk(m * k, 1), b = mk(k * n, 2), c = rand(m * n, 3);
        const pa = pk.put(a), pb = pk.put(b), pc = pk.put(c);
        await parallelGemm(pk, { transA, transB: false, f32: dtype === 'f32', m, n, k, alpha: 0.5, a: pa, offA: 0, lda: transA ? m : k, b: pb, offB: 0, ldb: n, beta: 2, c: pc, offC: 0, ldc: n });
        // f64 reference (for f32 inputs the values are widened exactly; C stays f64 here)
        const ref64 = new Float64Array(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += (transA ? (a[p * m + i] as number) : (a[i * k + p] as number)) * (b[p * n + j] as number);
          ref64[i * n + j] = 0.5 * s + 2 * (c[i * n + j] as number);
        }
        assertClose(pk.f64(pc, m * n), ref64, 1e-14 * (k + 1) * 4, 0, 'C');
      });
    }
  }

  it('kernel block (laplacian) on 3 threads matches the reference', async () => {
    pk.reset();
    const n = 53, m = 47, d = 19;
    const x = rand(n * d, 4), z = rand(m * d, 5);
    const px = pk.put(x), pz = pk.put(z), po = pk.alloc(n * m * 8);
    await parallelKernelBlock(pk, { kind: 0, f32: false, n, m, d, x: px, offX: 0, ldx: d, z: pz, offZ: 0, ldz: d, bandwidth: 0.8, out: po, offOut: 0, ldOut: m });
    const [ref] = kernelBlockOp.reference(kernelBlockOp.parseAttrs({ kernel: 'laplacian', bandwidth: 0.8 }), [arr('f64', [n, d], x), arr('f64', [m, d], z)]);
    assertClose(pk.f64(po, n * m), (ref as NdArray).data, 1e-12, 0, 'K');
  });

  it('csr spmv on 3 threads (rows split by non-zeros) matches the reference', async () => {
    pk.reset();
    const m = 1001, n = 997;
    const [ip, ix, dv] = randomCsr(m, n, 6, 9);
    const x = rand(n, 6);
    const pip = pk.put(ip.data as Int32Array), pix = pk.put(ix.data as Int32Array), pdv = pk.put(dv.data as Float64Array), px = pk.put(x), py = pk.alloc(m * 8);
    await parallelCsrSpmv(pk, ip.data as Int32Array, n, pip, pix, pdv, 1, px, 0, py);
    const [ref] = csrSpmvOp.reference(csrSpmvOp.parseAttrs({}), [ip, ix, dv, arr('f64', [n], x)]);
    assertClose(pk.f64(py, m), (ref as NdArray).data, 1e-13, 0, 'y');
  });
});
