import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { qrOp, type NdArray } from '@gramfleet/core';
import { registerQrWasm } from '@gramfleet/workers/internal';
import { BACKENDS, f64, fro, linalgRegistry, matmul, maxAbsDiff, randomMatrix, rejectsWithCode, runOp, transposed } from './linalg-fixtures';

const reg = linalgRegistry([qrOp], registerQrWasm);

describe('qr conformance', () => {
  for (const backend of BACKENDS) {
    for (const mode of ['reduced', 'complete'] as const) {
      for (const [m, n] of [
        [0, 0],
        [0, 3],
        [3, 0],
        [1, 1],
        [7, 7],
        [31, 13],
        [13, 31],
        [101, 53],
        [97, 97],
      ] as const) {
        it(`${backend}: ${mode} ${m}×${n}: ‖A − QR‖ ≤ 1e-13‖A‖, QᵀQ = I, R upper, equals the reference`, async () => {
          const a = randomMatrix(m, n, 3 * m + n);
          const [q, r] = (await runOp(reg, backend, qrOp, { mode }, [f64([m, n], a)])) as [NdArray, NdArray];
          const k = Math.min(m, n);
          const qc = mode === 'complete' ? m : k;
          assert.deepEqual(q.shape, [m, qc]);
          assert.deepEqual(r.shape, [qc, n]);
          const rd = r.data as Float64Array;
          for (let i = 0; i < qc; i++) for (let j = 0; j < Math.min(i, n); j++) assert.equal(rd[i * n + j], 0, 'R is upper triangular');
          const qr = matmul(m, qc, n, q.data as Float64Array, rd);
          if (m * n > 0) assert.ok(fro(qr, a) <= 1e-13 * fro(a), `backward error ${fro(qr, a) / fro(a)}`);
          const qtq = matmul(qc, m, qc, transposed(m, qc, q.data as Float64Array), q.data as Float64Array);
          for (let i = 0; i < qc; i++) qtq[i * qc + i] = (qtq[i * qc + i] as number) - 1;
          assert.ok(fro(qtq) <= 1e-13 * Math.max(1, Math.sqrt(qc)), `orthogonality ${fro(qtq)}`);
          const [rq, rr] = qrOp.reference(qrOp.parseAttrs({ mode }), [f64([m, n], a)]) as [NdArray, NdArray];
          assert.ok(maxAbsDiff(rq.data, q.data) <= 1e-12);
          assert.ok(maxAbsDiff(rr.data, rd) <= 1e-12 * Math.max(1, fro(a)));
        });
      }
    }
    it(`${backend}: rank-deficient input still gives an orthonormal Q`, async () => {
      const m = 20;
      const col = randomMatrix(m, 1, 9);
      const a = new Float64Array(m * 4);
      for (let i = 0; i < m; i++) for (let j = 0; j < 4; j++) a[i * 4 + j] = (col[i] as number) * (j + 1);
      const [q, r] = (await runOp(reg, backend, qrOp, {}, [f64([m, 4], a)])) as [NdArray, NdArray];
      assert.ok(fro(matmul(m, 4, 4, q.data as Float64Array, r.data as Float64Array), a) <= 1e-13 * fro(a));
    });
  }
  it('bad input is typed (rank, NaN, mode)', async () => {
    const d = await rejectsWithCode(runOp(reg, 'wasm', qrOp, {}, [f64([4], new Float64Array(4))]), 'INPUT_SHAPE_MISMATCH');
    assert.equal(d['argument'], 'a');
    const d2 = await rejectsWithCode(runOp(reg, 'wasm', qrOp, {}, [f64([2, 2], new Float64Array([1, 2, Number.POSITIVE_INFINITY, 4]))]), 'INPUT_NOT_FINITE');
    assert.equal(d2['argument'], 'a');
    await rejectsWithCode(runOp(reg, 'wasm', qrOp, { mode: 'economic' }, [f64([1, 1], new Float64Array([1]))]), 'INPUT_INVALID');
  });
});
