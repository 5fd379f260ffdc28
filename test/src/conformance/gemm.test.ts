import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { gemmOp, type NdArray } from '@gramfleet/core';
import { BACKENDS, arr, assertClose, denseRegistry, rand, rand32, rejectsNaming, runOp } from './dense-fixtures';

// Tolerances. f64: |Δ| ≤ 1e-14·(k+1) (entries in [−½, ½), so |c| ≤ k/4; the reference and the
// kernel sum in different orders). f32 inputs (f64 accumulation, one final rounding): the
// reference rounds the same f64 value, so they differ by at most one f32 ulp: |Δ| ≤ 2⁻²³·|c| + 1e-30.
// f32 inputs with `accumulate: 'f32'` (one f32 sum over k): entry for entry
// |Δ| ≤ (k + 4)·2⁻²⁴·(|alpha|·(|op(A)|·|op(B)|) + |beta·c|) + 1e-30 — the op's stated bound
// (k + 2)·2⁻²⁴·(…) plus the reference's own rounding to f32 (core/src/ops/gemm.ts).
const reg = denseRegistry();
const SIZES: Array<[number, number, number]> = [
  [0, 3, 4],
  [3, 0, 4],
  [3, 4, 0],
  [1, 1, 1],
  [2, 3, 5],
  [7, 13, 5],
  [97, 31, 101],
  [131, 67, 263],
  [5, 257, 3],
];

describe('gemm conformance', () => {
  for (const backend of BACKENDS) {
    for (const dtype of ['f64', 'f32'] as const) {
      for (const [m, n, k] of SIZES) {
        for (const [transA, transB] of [
          [false, false],
          [true, false],
          [false, true],
          [true, true],
        ] as const) {
          it(`${backend} ${dtype}: ${m}×${n}×${k} transA=${transA} transB=${transB}, alpha/beta, matches the f64 reference`, async () => {
            const mk = dtype === 'f64' ? rand : rand32;
            const a = arr(dtype, transA ? [k, m] : [m, k], mk(m * k, 1 + m));
            const b = arr(dtype, transB ? [n, k] : [k, n], mk(k * n, 2 + n));
            const c = arr(dtype, [m, n], mk(m * n, 3 + k));
            const attrs = { transA, transB, alpha: 0.75, beta: -1.5 };
            const [out] = await runOp(reg, backend, gemmOp, attrs, [a, b, c]);
            const [ref] = gemmOp.reference(gemmOp.parseAttrs(attrs), [a, b, c]);
            assert.ok(out !== undefined && ref !== undefined);
            assert.equal(out.dtype, dtype);
            assert.deepEqual(out.shape, [m, n]);
            if (dtype === 'f64') assertClose(out.data, ref.data, 1e-14 * (k + 1), 0, 'C');
            else assertClose(out.data, ref.data, 1e-30, 2 ** -23, 'C');
          });
        }
      }
    }
    it(`${backend}: no C input gives alpha·A·B; beta = 0 overwrites NaN in C`, async () => {
      const a = arr('f64', [3, 2], new Float64Array([1, 2, 3, 4, 5, 6]));
      const b = arr('f64', [2, 2], new Float64Array([1, 0, 0, 1]));
      const [o1] = await runOp(reg, backend, gemmOp, { alpha: 2 }, [a, b]);
      assert.deepEqual([...(o1 as NdArray).data], [2, 4, 6, 8, 10, 12]);
      const [o2] = await runOp(reg, backend, gemmOp, { beta: 0 }, [a, b, arr('f64', [3, 2], new Float64Array(6).fill(Number.NaN))]);
      assert.deepEqual([...(o2 as NdArray).data], [1, 2, 3, 4, 5, 6]);
    });
    for (const dtype of ['f64', 'f32'] as const) {
      it(`${backend} ${dtype}: strided views (offsets, leading dimensions) update only the C view`, async () => {
        const mk = dtype === 'f64' ? rand : rand32;
        const m = 11,
          n = 7,
          k = 13;
        const lda = m + 3,
          ldb = k + 2,
          ldc = n + 5; // transA: A view is k×m; transB: B view is n×k
        const attrs = { m, n, k, transA: true, transB: true, alpha: 1.25, beta: 0.5, offsetA: 5, lda, offsetB: 3, ldb, offsetC: 9, ldc };
        const a = arr(dtype, [5 + k * lda], mk(5 + k * lda, 7));
        const b = arr(dtype, [3 + n * ldb], mk(3 + n * ldb, 8));
        const c = arr(dtype, [9 + m * ldc + 4], mk(9 + m * ldc + 4, 9));
        const [out] = await runOp(reg, backend, gemmOp, attrs, [a, b, c]);
        const [ref] = gemmOp.reference(gemmOp.parseAttrs(attrs), [a, b, c]);
        assert.ok(out !== undefined && ref !== undefined);
        if (dtype === 'f64') assertClose(out.data, ref.data, 1e-14 * (k + 1), 0, 'C');
        else assertClose(out.data, ref.data, 1e-30, 2 ** -23, 'C');
        // outside the view C is untouched
        for (let i = 0; i < 9; i++) assert.equal(out.data[i], c.data[i]);
        for (let j = n; j < ldc; j++) assert.equal(out.data[9 + 2 * ldc + j], c.data[9 + 2 * ldc + j]);
      });
    }
  }
  describe("accumulate: 'f32'", () => {
    const F32_SIZES: Array<[number, number, number]> = [...SIZES, [37, 19, 800], [6, 2061, 3]];
    for (const backend of BACKENDS) {
      for (const [m, n, k] of F32_SIZES) {
        for (const [transA, transB] of [
          [false, false],
          [true, false],
          [false, true],
          [true, true],
        ] as const) {
          it(`${backend}: ${m}×${n}×${k} transA=${transA} transB=${transB} within (k+4)·2⁻²⁴·(|alpha|·|A|·|B| + |beta·c|) of the f64 reference`, async () => {
            const a = arr('f32', transA ? [k, m] : [m, k], rand32(m * k, 11 + m));
            const b = arr('f32', transB ? [n, k] : [k, n], rand32(k * n, 12 + n));
            const c = arr('f32', [m, n], rand32(m * n, 13 + k));
            const attrs = { transA, transB, alpha: 0.7, beta: -1.3, accumulate: 'f32' };
            const [out] = await runOp(reg, backend, gemmOp, attrs, [a, b, c]);
            const [ref] = gemmOp.reference(gemmOp.parseAttrs(attrs), [a, b, c]);
            assert.ok(out !== undefined && ref !== undefined);
            assert.equal(out.dtype, 'f32');
            assert.deepEqual(out.shape, [m, n]);
            const at = (i: number, p: number): number => Math.abs(transA ? (a.data[p * m + i] as number) : (a.data[i * k + p] as number));
            const bt = (p: number, j: number): number => Math.abs(transB ? (b.data[j * k + p] as number) : (b.data[p * n + j] as number));
            for (let i = 0; i < m; i++) {
              for (let j = 0; j < n; j++) {
                let s = 0;
                for (let p = 0; p < k; p++) s += at(i, p) * bt(p, j);
                const bound = (k + 4) * 2 ** -24 * (0.7 * s + 1.3 * Math.abs(c.data[i * n + j] as number)) + 1e-30;
                const d = Math.abs((out.data[i * n + j] as number) - (ref.data[i * n + j] as number));
                if (!(d <= bound)) assert.fail(`C[${i},${j}]: |Δ| = ${d} > ${bound}`);
              }
            }
          });
        }
      }
      it(`${backend}: strided views, no C input, and beta = 0 overwriting NaN`, async () => {
        const m = 9,
          n = 11,
          k = 13;
        const attrs = { m, n, k, transA: true, alpha: 1.5, beta: 0, offsetA: 2, lda: m + 1, offsetB: 3, ldb: n + 2, offsetC: 4, ldc: n + 3, accumulate: 'f32' };
        const a = arr('f32', [2 + k * (m + 1)], rand32(2 + k * (m + 1), 21));
        const b = arr('f32', [3 + k * (n + 2)], rand32(3 + k * (n + 2), 22));
        const c = arr('f32', [4 + m * (n + 3)], new Float32Array(4 + m * (n + 3)).fill(Number.NaN));
        const [out] = await runOp(reg, backend, gemmOp, attrs, [a, b, c]);
        const [ref] = gemmOp.reference(gemmOp.parseAttrs(attrs), [a, b, c]);
        assert.ok(out !== undefined && ref !== undefined);
        // entries in [−½, ½): |alpha|·Σ|a||b| ≤ 1.5·k/4
        const bound = (k + 4) * 2 ** -24 * 1.5 * (k / 4);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            const q = 4 + i * (n + 3) + j;
            const d = Math.abs((out.data[q] as number) - (ref.data[q] as number));
            if (!(d <= bound)) assert.fail(`C[${i},${j}]: |Δ| = ${d} > ${bound}`);
          }
        }
        assert.ok(Number.isNaN(out.data[0]) && Number.isNaN(out.data[4 + n]), 'outside the view C is untouched');
        const [o2] = await runOp(reg, backend, gemmOp, { accumulate: 'f32' }, [
          arr('f32', [2, 2], new Float32Array([1, 2, 3, 4])),
          arr('f32', [2, 1], new Float32Array([1, 1])),
        ]);
        assert.deepEqual([...(o2 as NdArray).data], [3, 7]);
      });
    }
    it("f64 inputs with accumulate: 'f32', or an unknown accumulate, are INPUT_INVALID naming accumulate", async () => {
      const a = arr('f64', [3, 4], rand(12, 1));
      const b = arr('f64', [4, 2], rand(8, 2));
      await rejectsNaming(runOp(reg, 'wasm', gemmOp, { accumulate: 'f32' }, [a, b]), 'INPUT_INVALID', 'accumulate');
      await rejectsNaming(runOp(reg, 'wasm', gemmOp, { accumulate: 'f16' }, [a, b]), 'INPUT_INVALID', 'accumulate');
    });
  });
  it('bad input: typed errors naming the argument', async () => {
    const a = arr('f64', [3, 4], rand(12, 1));
    await rejectsNaming(runOp(reg, 'wasm', gemmOp, {}, [a, arr('f64', [5, 2], rand(10, 2))]), 'INPUT_SHAPE_MISMATCH', 'b');
    await rejectsNaming(runOp(reg, 'wasm', gemmOp, {}, [a, arr('f64', [4, 2], rand(8, 2)), arr('f64', [2, 2], rand(4, 3))]), 'INPUT_SHAPE_MISMATCH', 'c');
    await rejectsNaming(runOp(reg, 'wasm', gemmOp, {}, [a, arr('f32', [4, 2], rand32(8, 2))]), 'INPUT_INVALID', 'b');
    await rejectsNaming(runOp(reg, 'wasm', gemmOp, { alpha: Number.NaN }, [a, arr('f64', [4, 2], rand(8, 2))]), 'INPUT_NOT_FINITE', 'alpha');
    await rejectsNaming(runOp(reg, 'wasm', gemmOp, { m: 3, n: 2, k: 4, lda: 3 }, [a, arr('f64', [4, 2], rand(8, 2))]), 'INPUT_OUT_OF_RANGE', 'a');
    await rejectsNaming(runOp(reg, 'wasm', gemmOp, { m: 3, n: 2, k: 5 }, [a, arr('f64', [4, 2], rand(8, 2))]), 'INPUT_OUT_OF_RANGE', 'a');
    await rejectsNaming(runOp(reg, 'wasm', gemmOp, { lda: 4 }, [a, arr('f64', [4, 2], rand(8, 2))]), 'INPUT_INVALID', 'lda');
    await rejectsNaming(runOp(reg, 'wasm', gemmOp, { transA: 'yes' }, [a, arr('f64', [4, 2], rand(8, 2))]), 'INPUT_INVALID', 'transA');
  });
});
