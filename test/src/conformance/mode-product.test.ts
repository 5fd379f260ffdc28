import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { kronMatvec, modeProductOp, type NdArray } from '@gramfleet/core';
import { referenceKronLinalg, type KronFactorMatrix } from '@gramfleet/core/internal';
import { createWasmKronLinalg } from '@gramfleet/workers';
import { registerModeProductWasm } from '@gramfleet/workers/internal';
import { BACKENDS, f64, fro, linalgRegistry, maxAbsDiff, randomMatrix, rejectsWithCode, runOp, transposed } from './linalg-fixtures';

const reg = linalgRegistry([modeProductOp], registerModeProductWasm);

/** Kronecker product of row-major a (p×q) and b (r×s). */
function kron(p: number, q: number, a: Float64Array, r: number, s: number, b: Float64Array): Float64Array {
  const out = new Float64Array(p * r * q * s);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < q; j++)
      for (let k = 0; k < r; k++) for (let l = 0; l < s; l++) out[(i * r + k) * (q * s) + j * s + l] = (a[i * q + j] as number) * (b[k * s + l] as number);
  return out;
}

describe('mode-product conformance', () => {
  for (const backend of BACKENDS) {
    for (const shape of [[7], [5, 3], [3, 11, 2], [2, 3, 5, 7], [4, 0, 3], [1, 1, 1], [13, 17, 1]]) {
      for (let mode = 0; mode < shape.length; mode++) {
        for (const transpose of [false, true]) {
          it(`${backend}: shape [${shape.join(',')}] mode ${mode} transpose=${transpose}`, async () => {
            const size = shape.reduce((x, y) => x * y, 1);
            const nd = shape[mode] as number;
            const p = (nd % 4) + 3;
            const x = randomMatrix(size, 1, size + mode);
            const m = randomMatrix(transpose ? nd : p, transpose ? p : nd, 17 + nd);
            const [y] = (await runOp(reg, backend, modeProductOp, { mode, transpose }, [f64(shape, x), f64(transpose ? [nd, p] : [p, nd], m)])) as [NdArray];
            const want = shape.map((s, i) => (i === mode ? p : s));
            assert.deepEqual(y.shape, want);
            const [ref] = modeProductOp.reference(modeProductOp.parseAttrs({ mode, transpose }), [f64(shape, x), f64(transpose ? [nd, p] : [p, nd], m)]) as [
              NdArray,
            ];
            assert.ok(maxAbsDiff(ref.data, y.data) <= 1e-13 * Math.max(1, fro(ref.data)));
          });
        }
      }
    }
    it(`${backend}: two mode products equal the Kronecker mat-vec (A⊗B)·vec(X)`, async () => {
      const [p, q, r, s] = [5, 4, 3, 6];
      const a = randomMatrix(p, q, 1);
      const b = randomMatrix(r, s, 2);
      const x = randomMatrix(q, s, 3); // vec(X) row-major, length q·s
      const [y1] = (await runOp(reg, backend, modeProductOp, { mode: 0 }, [f64([q, s], x), f64([p, q], a)])) as [NdArray];
      const [y2] = (await runOp(reg, backend, modeProductOp, { mode: 1 }, [f64([p, s], y1.data as Float64Array), f64([r, s], b)])) as [NdArray];
      const k = kron(p, q, a, r, s, b);
      const want = new Float64Array(p * r);
      for (let i = 0; i < p * r; i++) for (let j = 0; j < q * s; j++) want[i] = (want[i] as number) + (k[i * q * s + j] as number) * (x[j] as number);
      assert.ok(maxAbsDiff(want, y2.data) <= 1e-13 * fro(want));
      // transpose flag: Mᵀ given as M
      const [y3] = (await runOp(reg, backend, modeProductOp, { mode: 0, transpose: true }, [f64([q, s], x), f64([q, p], transposed(p, q, a))])) as [NdArray];
      assert.ok(maxAbsDiff(y1.data, y3.data) <= 1e-14);
    });
  }
  it('wasm fused Kronecker mat-vec (tensor kept in wasm memory) equals the reference: growing, shrinking, transposed and identity factors', () => {
    const lin = createWasmKronLinalg();
    const shape = [7, 5, 6];
    const x = randomMatrix(7, 30, 9);
    const cases: (KronFactorMatrix | null)[][] = [
      [{ m: randomMatrix(11, 7, 1), p: 11, transpose: false }, null, { m: randomMatrix(13, 6, 2), p: 13, transpose: false }],
      [
        { m: randomMatrix(7, 3, 3), p: 3, transpose: true },
        { m: randomMatrix(2, 5, 4), p: 2, transpose: false },
        { m: randomMatrix(6, 9, 5), p: 9, transpose: true },
      ],
    ];
    for (const fs of cases) {
      const want = kronMatvec(referenceKronLinalg, shape, fs, x);
      const got = kronMatvec(lin, shape, fs, x);
      assert.deepEqual(got.shape, want.shape);
      assert.ok(maxAbsDiff(got.y, want.y) <= 1e-13 * fro(want.y), `max diff ${maxAbsDiff(got.y, want.y)}`);
    }
  });
  it('bad input is typed: mode out of range, shape mismatch, NaN', async () => {
    const x = f64([2, 3], randomMatrix(2, 3, 1));
    const d = await rejectsWithCode(runOp(reg, 'wasm', modeProductOp, { mode: 2 }, [x, f64([2, 3], new Float64Array(6))]), 'INPUT_OUT_OF_RANGE');
    assert.equal(d['field'], 'attrs.mode');
    const d2 = await rejectsWithCode(runOp(reg, 'wasm', modeProductOp, { mode: 1 }, [x, f64([2, 2], new Float64Array(4))]), 'INPUT_SHAPE_MISMATCH');
    assert.equal(d2['argument'], 'm');
    const d3 = await rejectsWithCode(
      runOp(reg, 'wasm', modeProductOp, { mode: 0 }, [f64([2, 3], new Float64Array([1, 2, 3, Number.NaN, 5, 6])), f64([2, 2], new Float64Array(4))]),
      'INPUT_NOT_FINITE',
    );
    assert.equal(d3['argument'], 'x');
    await rejectsWithCode(runOp(reg, 'wasm', modeProductOp, {}, [x, f64([2, 2], new Float64Array(4))]), 'INPUT_INVALID');
  });
});
