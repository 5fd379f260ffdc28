import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { csrSpmvOp, kernelBlockOp, type NdArray } from '@gramfleet/core';
import { createKernelRegistry, gemmOp as gemmOpDef } from '@gramfleet/core';
import {
  createParallelKernels,
  parallelCsrSpmv,
  parallelGemm,
  parallelKernelBlock,
  registerParallelWasm,
  splitCsrRows,
  splitRows,
  type ParallelKernels,
} from '@gramfleet/workers/internal';
import { arr, assertClose, rand, rand32, randomCsr, rejectsNaming, runOp } from './dense-fixtures';
import { kernelBytes } from './linalg-fixtures';

// Multi-core kernels (worker threads over one shared WebAssembly.Memory) against the f64
// reference, with 3 threads so the row splits are uneven. Tolerances as in the single-thread
// suites: gemm 1e-14·(k+1), kernel block 1e-12, spmv 1e-13.
describe('multi-core kernels over shared memory', () => {
  let pk: ParallelKernels;
  before(async () => {
    pk = await createParallelKernels(kernelBytes(), { threads: 3, maxBytes: 256 << 20 });
  });
  after(async () => {
    await pk.close();
  });

  it('splits cover every row exactly once', () => {
    assert.deepEqual(splitRows(10, 3), [
      [0, 4],
      [4, 8],
      [8, 10],
    ]);
    assert.deepEqual(splitRows(0, 3), []);
    const ip = Int32Array.from([0, 5, 5, 6, 20, 21]);
    const parts = splitCsrRows(ip, 3);
    assert.equal(parts[0]?.[0], 0);
    assert.equal(parts[parts.length - 1]?.[1], 5);
    for (let i = 1; i < parts.length; i++) assert.equal(parts[i]?.[0], parts[i - 1]?.[1]);
  });

  for (const dtype of ['f64', 'f32'] as const) {
    for (const [m, n, k, transA] of [
      [1, 1, 1, false],
      [37, 29, 41, false],
      [131, 67, 263, true],
    ] as const) {
      it(`gemm ${dtype} ${m}×${n}×${k} transA=${transA} on 3 threads matches the reference`, async () => {
        pk.reset();
        const mk = dtype === 'f64' ? rand : rand32;
        const a = mk(m * k, 1),
          b = mk(k * n, 2),
          c = rand(m * n, 3);
        const pa = pk.put(a),
          pb = pk.put(b),
          pc = pk.put(c);
        await parallelGemm(pk, {
          transA,
          transB: false,
          f32: dtype === 'f32',
          m,
          n,
          k,
          alpha: 0.5,
          a: pa,
          offA: 0,
          lda: transA ? m : k,
          b: pb,
          offB: 0,
          ldb: n,
          beta: 2,
          c: pc,
          offC: 0,
          ldc: n,
        });
        // f64 reference (for f32 inputs the values are widened exactly; C stays f64 here)
        const ref64 = new Float64Array(m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
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
    const n = 53,
      m = 47,
      d = 19;
    const x = rand(n * d, 4),
      z = rand(m * d, 5);
    const px = pk.put(x),
      pz = pk.put(z),
      po = pk.alloc(n * m * 8);
    await parallelKernelBlock(pk, {
      kind: 0,
      f32: false,
      n,
      m,
      d,
      x: px,
      offX: 0,
      ldx: d,
      z: pz,
      offZ: 0,
      ldz: d,
      bandwidth: 0.8,
      out: po,
      offOut: 0,
      ldOut: m,
    });
    const [ref] = kernelBlockOp.reference(kernelBlockOp.parseAttrs({ kernel: 'laplacian', bandwidth: 0.8 }), [arr('f64', [n, d], x), arr('f64', [m, d], z)]);
    assertClose(pk.f64(po, n * m), (ref as NdArray).data, 1e-12, 0, 'K');
  });

  it('csr spmv on 3 threads (rows split by non-zeros) matches the reference', async () => {
    pk.reset();
    const m = 1001,
      n = 997;
    const [ip, ix, dv] = randomCsr(m, n, 6, 9);
    const x = rand(n, 6);
    const pip = pk.put(ip.data as Int32Array),
      pix = pk.put(ix.data as Int32Array),
      pdv = pk.put(dv.data as Float64Array),
      px = pk.put(x),
      py = pk.alloc(m * 8);
    await parallelCsrSpmv(pk, ip.data as Int32Array, n, pip, pix, pdv, 1, px, 0, py);
    const [ref] = csrSpmvOp.reference(csrSpmvOp.parseAttrs({}), [ip, ix, dv, arr('f64', [n], x)]);
    assertClose(pk.f64(py, m), (ref as NdArray).data, 1e-13, 0, 'y');
  });
});

// The multi-core kernels registered as backend 'wasm-mt', run the way a worker runs an op.
describe('wasm-mt backend (registerParallelWasm) against the reference', () => {
  let pk: ParallelKernels;
  const reg = createKernelRegistry();
  before(async () => {
    pk = await createParallelKernels(kernelBytes(), { threads: 2, maxBytes: 256 << 20 });
    reg.register('reference', gemmOpDef, (a, i) => gemmOpDef.reference(a, i));
    reg.register('reference', kernelBlockOp, (a, i) => kernelBlockOp.reference(a, i));
    reg.register('reference', csrSpmvOp, (a, i) => csrSpmvOp.reference(a, i));
    registerParallelWasm(reg, pk);
  });
  after(async () => {
    await pk.close();
  });
  for (const dtype of ['f64', 'f32'] as const) {
    for (const [m, n, k] of [
      [0, 3, 2],
      [1, 1, 1],
      [3, 0, 2],
      [97, 31, 101],
      [13, 7, 0],
    ] as const) {
      it(`gemm ${dtype} ${m}×${n}×${k} transB, alpha/beta`, async () => {
        const mk = dtype === 'f64' ? rand : rand32;
        const inputs = [arr(dtype, [m, k], mk(m * k, 1)), arr(dtype, [n, k], mk(n * k, 2)), arr(dtype, [m, n], mk(m * n, 3))];
        const attrs = { transB: true, alpha: 1.5, beta: -0.5 };
        const [out] = await runOp(reg, 'wasm-mt', gemmOpDef, attrs, inputs);
        const [ref] = await runOp(reg, 'reference', gemmOpDef, attrs, inputs);
        assert.ok(out !== undefined && ref !== undefined);
        if (dtype === 'f64') assertClose(out.data, ref.data, 1e-14 * (k + 1), 0, 'C');
        else assertClose(out.data, ref.data, 1e-30, 2 ** -23, 'C');
      });
    }
  }
  for (const [m, n, k] of [
    [0, 3, 2],
    [1, 1, 1],
    [97, 31, 101],
    [13, 7, 0],
    [41, 2061, 5],
  ] as const) {
    it(`gemm f32 ${m}×${n}×${k} transB, alpha/beta, accumulate: 'f32' within (k+4)·2⁻²⁴·(|alpha|·|A|·|B| + |beta·c|)`, async () => {
      const inputs = [arr('f32', [m, k], rand32(m * k, 4)), arr('f32', [n, k], rand32(n * k, 5)), arr('f32', [m, n], rand32(m * n, 6))];
      const attrs = { transB: true, alpha: 1.5, beta: -0.5, accumulate: 'f32' };
      const [out] = await runOp(reg, 'wasm-mt', gemmOpDef, attrs, inputs);
      const [ref] = await runOp(reg, 'reference', gemmOpDef, attrs, inputs);
      assert.ok(out !== undefined && ref !== undefined);
      // entries in [−½, ½): |alpha|·Σ|a||b| + |beta·c| ≤ 1.5·k/4 + 0.25
      assertClose(out.data, ref.data, (k + 4) * 2 ** -24 * (1.5 * (k / 4) + 0.25) + 1e-30, 0, 'C');
    });
  }
  it('kernel-block gaussian 61×37, d=23, and csr-spmv 501×499 with y', async () => {
    const kb = [arr('f64', [61, 23], rand(61 * 23, 1)), arr('f64', [37, 23], rand(37 * 23, 2))];
    const [o1] = await runOp(reg, 'wasm-mt', kernelBlockOp, { kernel: 'gaussian', bandwidth: 1.1 }, kb);
    const [r1] = await runOp(reg, 'reference', kernelBlockOp, { kernel: 'gaussian', bandwidth: 1.1 }, kb);
    assertClose((o1 as NdArray).data, (r1 as NdArray).data, 1e-12, 0, 'K');
    const [ip, ix, dv] = randomCsr(501, 499, 5, 3);
    const sp = [ip, ix, dv, arr('f64', [499], rand(499, 4)), arr('f64', [501], rand(501, 5))];
    const [o2] = await runOp(reg, 'wasm-mt', csrSpmvOp, { alpha: 2, beta: 0.5 }, sp);
    const [r2] = await runOp(reg, 'reference', csrSpmvOp, { alpha: 2, beta: 0.5 }, sp);
    assertClose((o2 as NdArray).data, (r2 as NdArray).data, 1e-13, 0, 'y');
  });
  for (const dtype of ['f64', 'f32'] as const) {
    it(`${dtype}: strided views (offsets, leading dimensions) of gemm 29×13×17 transA and kernel-block 23×11, d=7`, async () => {
      const mk = dtype === 'f64' ? rand : rand32;
      const [m, n, k] = [29, 13, 17];
      // A stored transposed (k×m) inside a wider buffer; B k×n with ldb > n; C m×n with ldc > n.
      const g = { m, n, k, transA: true, alpha: -1.25, beta: 0.75, offsetA: 5, lda: m + 3, offsetB: 2, ldb: n + 1, offsetC: 7, ldc: n + 4 };
      const gin = [
        arr(dtype, [5 + k * (m + 3)], mk(5 + k * (m + 3), 1)),
        arr(dtype, [2 + k * (n + 1)], mk(2 + k * (n + 1), 2)),
        arr(dtype, [7 + m * (n + 4)], mk(7 + m * (n + 4), 3)),
      ];
      const [o1] = await runOp(reg, 'wasm-mt', gemmOpDef, g, gin);
      const [r1] = await runOp(reg, 'reference', gemmOpDef, g, gin);
      if (dtype === 'f64') assertClose((o1 as NdArray).data, (r1 as NdArray).data, 1e-14 * (k + 1), 0, 'C');
      else assertClose((o1 as NdArray).data, (r1 as NdArray).data, 1e-30, 2 ** -23, 'C');
      const kb = { kernel: 'matern32', bandwidth: 0.9, n: 23, m: 11, d: 7, offsetX: 3, ldx: 9, offsetZ: 1, ldz: 8 };
      const kin = [arr(dtype, [3 + 23 * 9], mk(3 + 23 * 9, 4)), arr(dtype, [1 + 11 * 8], mk(1 + 11 * 8, 5))];
      const [o2] = await runOp(reg, 'wasm-mt', kernelBlockOp, kb, kin);
      const [r2] = await runOp(reg, 'reference', kernelBlockOp, kb, kin);
      assertClose((o2 as NdArray).data, (r2 as NdArray).data, 1e-12, 0, 'K');
    });
  }
  it('csr-spmv: empty matrix, 1×1, and prime sizes on wasm-mt', async () => {
    for (const [m, n] of [
      [0, 3],
      [1, 1],
      [13, 1],
      [211, 199],
    ] as const) {
      const [ip, ix, dv] = randomCsr(m, n, 3, m + n);
      const sp = [ip, ix, dv, arr('f64', [n], rand(n, 4))];
      const [o] = await runOp(reg, 'wasm-mt', csrSpmvOp, {}, sp);
      const [r] = await runOp(reg, 'reference', csrSpmvOp, {}, sp);
      assertClose((o as NdArray).data, (r as NdArray).data, 1e-13, 0, `y ${m}×${n}`);
    }
  });
  it('bad input is rejected with the same typed errors', async () => {
    await rejectsNaming(
      runOp(reg, 'wasm-mt', kernelBlockOp, { kernel: 'laplacian', bandwidth: -2 }, [arr('f64', [2, 2], rand(4, 1)), arr('f64', [2, 2], rand(4, 2))]),
      'INPUT_OUT_OF_RANGE',
      'bandwidth',
    );
    await rejectsNaming(runOp(reg, 'wasm-mt', gemmOpDef, {}, [arr('f64', [2, 3], rand(6, 1)), arr('f64', [2, 2], rand(4, 2))]), 'INPUT_SHAPE_MISMATCH', 'b');
    await rejectsNaming(
      runOp(reg, 'wasm-mt', kernelBlockOp, { kernel: 'gaussian', bandwidth: 1 }, [
        arr('f64', [2, 2], Float64Array.from([1, NaN, 0, 0])),
        arr('f64', [2, 2], rand(4, 2)),
      ]),
      'INPUT_NOT_FINITE',
      'x',
    );
    await rejectsNaming(
      runOp(reg, 'wasm-mt', csrSpmvOp, {}, [
        arr('i32', [3], Int32Array.from([0, 1, 2])),
        arr('i32', [2], Int32Array.from([0, 5])),
        arr('f64', [2], rand(2, 1)),
        arr('f64', [3], rand(3, 2)),
      ]),
      'INPUT_OUT_OF_RANGE',
      'indices',
    );
  });
});
