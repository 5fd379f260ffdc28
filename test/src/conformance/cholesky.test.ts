import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { choleskyOp, triangularSolveOp, type NdArray } from '@gramfleet/core';
import { registerCholeskyWasm, registerTriangularSolveWasm } from '@gramfleet/workers/internal';
import { BACKENDS, f64, fro, linalgRegistry, matmul, maxAbsDiff, randomMatrix, randomSpd, rejectsWithCode, runOp, transposed } from './linalg-fixtures';

const reg = linalgRegistry([choleskyOp, triangularSolveOp], (r, a) => {
  registerCholeskyWasm(r, a);
  registerTriangularSolveWasm(r, a);
});

describe('cholesky conformance', () => {
  for (const backend of BACKENDS) {
    for (const n of [0, 1, 2, 7, 31, 97, 101, 193]) {
      it(`${backend}: n=${n} backward error ≤ 1e-13 and matches the reference`, async () => {
        const a = randomSpd(n, 11 + n);
        const [l] = await runOp(reg, backend, choleskyOp, {}, [f64([n, n], a)]);
        assert.ok(l !== undefined);
        assert.deepEqual(l.shape, [n, n]);
        const ld = l.data as Float64Array;
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(ld[i * n + j], 0, 'upper triangle is zero');
        const llt = matmul(n, n, n, ld, transposed(n, n, ld));
        if (n > 0) assert.ok(fro(llt, a) <= 1e-13 * fro(a), `‖LLᵀ − A‖/‖A‖ = ${fro(llt, a) / fro(a)}`);
        const [ref] = choleskyOp.reference(choleskyOp.parseAttrs({}), [f64([n, n], a)]);
        assert.ok(maxAbsDiff((ref as NdArray).data, ld) <= 1e-12 * Math.max(1, fro(a)));
      });
    }
    it(`${backend}: non-SPD input is a typed KERNEL_STATUS naming the pivot`, async () => {
      const n = 37;
      const a = randomSpd(n, 5);
      a[20 * n + 20] = -5;
      const d = await rejectsWithCode(runOp(reg, backend, choleskyOp, {}, [f64([n, n], a)]), 'KERNEL_STATUS');
      assert.equal(d['reason'], 'not-positive-definite');
      assert.equal(d['pivot'], 20);
    });
    it(`${backend}: singular PSD (rank 1) input is KERNEL_STATUS, not NaN`, async () => {
      const n = 9;
      const v = randomMatrix(n, 1, 3);
      const a = matmul(n, 1, n, v, v);
      const d = await rejectsWithCode(runOp(reg, backend, choleskyOp, { symmetryTol: 0 }, [f64([n, n], a)]), 'KERNEL_STATUS');
      assert.equal(d['reason'], 'not-positive-definite');
    });
  }
  it('bad input: shape, NaN, asymmetry, attrs are typed errors naming the argument', async () => {
    const d1 = await rejectsWithCode(runOp(reg, 'wasm', choleskyOp, {}, [f64([2, 3], new Float64Array(6))]), 'INPUT_NOT_SQUARE');
    assert.equal(d1['argument'], 'a');
    const nan = randomSpd(4, 1);
    nan[5] = Number.NaN;
    const d2 = await rejectsWithCode(runOp(reg, 'wasm', choleskyOp, {}, [f64([4, 4], nan)]), 'INPUT_NOT_FINITE');
    assert.equal(d2['argument'], 'a');
    const asym = randomSpd(4, 1);
    asym[1] = (asym[1] as number) + 0.1;
    const d3 = await rejectsWithCode(runOp(reg, 'wasm', choleskyOp, {}, [f64([4, 4], asym)]), 'INPUT_ASYMMETRIC');
    assert.equal(d3['argument'], 'a');
    await rejectsWithCode(runOp(reg, 'wasm', choleskyOp, { symmetryTol: -1 }, [f64([1, 1], new Float64Array([1]))]), 'INPUT_OUT_OF_RANGE');
    await rejectsWithCode(runOp(reg, 'wasm', choleskyOp, { bogus: 1 }, [f64([1, 1], new Float64Array([1]))]), 'INPUT_INVALID');
    await rejectsWithCode(runOp(reg, 'wasm', choleskyOp, {}, [f64([4], new Float64Array(4))]), 'INPUT_SHAPE_MISMATCH');
  });
});

describe('triangular-solve conformance', () => {
  const variants = [
    { lower: true, transpose: false },
    { lower: true, transpose: true },
    { lower: false, transpose: false },
    { lower: false, transpose: true },
  ];
  for (const backend of BACKENDS) {
    for (const v of variants) {
      for (const [n, k] of [
        [0, 3],
        [1, 1],
        [13, 1],
        [31, 5],
        [101, 17],
        [64, 0],
      ] as const) {
        it(`${backend}: lower=${v.lower} transpose=${v.transpose} n=${n} k=${k}`, async () => {
          // a well-conditioned triangle: Cholesky factor of an SPD matrix (or its transpose)
          const lo = (choleskyOp.reference(choleskyOp.parseAttrs({}), [f64([n, n], randomSpd(n, 100 + n))])[0] as NdArray).data as Float64Array;
          const t = v.lower ? lo : transposed(n, n, lo);
          const garbage = Float64Array.from(t);
          // the other triangle must not be read
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if ((v.lower && j > i) || (!v.lower && j < i)) garbage[i * n + j] = 1e3;
          const b = randomMatrix(n, k, 7 + k);
          const bShape = k === 1 ? [n] : [n, k];
          const [x] = await runOp(reg, backend, triangularSolveOp, v, [f64([n, n], garbage), f64(bShape, b)]);
          assert.ok(x !== undefined);
          assert.deepEqual(x.shape, bShape);
          const opT = v.transpose ? transposed(n, n, t) : t;
          const r = matmul(n, n, k, opT, x.data as Float64Array);
          if (n > 0 && k > 0) assert.ok(fro(r, b) <= 1e-13 * fro(b) * Math.max(1, n / 10), `residual ${fro(r, b) / fro(b)}`);
          const [ref] = triangularSolveOp.reference(triangularSolveOp.parseAttrs(v), [f64([n, n], garbage), f64(bShape, b)]);
          assert.ok(maxAbsDiff((ref as NdArray).data, x.data) <= 1e-11 * Math.max(1, fro(x.data)));
        });
      }
    }
    it(`${backend}: zero diagonal is KERNEL_STATUS naming the row; unitDiagonal ignores it`, async () => {
      const n = 5;
      const t = new Float64Array(n * n);
      for (let i = 0; i < n; i++) t[i * n + i] = i === 3 ? 0 : 2;
      const d = await rejectsWithCode(runOp(reg, backend, triangularSolveOp, {}, [f64([n, n], t), f64([n], new Float64Array(n).fill(1))]), 'KERNEL_STATUS');
      assert.equal(d['row'], 3);
      const [x] = await runOp(reg, backend, triangularSolveOp, { unitDiagonal: true }, [f64([n, n], t), f64([n], new Float64Array(n).fill(1))]);
      assert.deepEqual([...(x as NdArray).data], [1, 1, 1, 1, 1]);
    });
  }
  it('bad input is typed: b rows mismatch, NaN in b', async () => {
    const t = f64([3, 3], new Float64Array([1, 0, 0, 1, 1, 0, 1, 1, 1]));
    const d = await rejectsWithCode(runOp(reg, 'wasm', triangularSolveOp, {}, [t, f64([4, 2], new Float64Array(8))]), 'INPUT_SHAPE_MISMATCH');
    assert.equal(d['argument'], 'b');
    const d2 = await rejectsWithCode(runOp(reg, 'wasm', triangularSolveOp, {}, [t, f64([3], new Float64Array([1, Number.NaN, 1]))]), 'INPUT_NOT_FINITE');
    assert.equal(d2['argument'], 'b');
    await rejectsWithCode(runOp(reg, 'wasm', triangularSolveOp, { lower: 'yes' }, [t, f64([3], new Float64Array(3))]), 'INPUT_INVALID');
  });
});
