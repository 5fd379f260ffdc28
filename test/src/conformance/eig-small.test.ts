import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { eigSmallOp, type NdArray } from '@gramfleet/core';
import { registerEigSmallWasm } from '@gramfleet/workers/internal';
import { BACKENDS, f64, fro, linalgRegistry, matmul, maxAbsDiff, randomMatrix, rejectsWithCode, runOp } from './linalg-fixtures';

const reg = linalgRegistry([eigSmallOp], registerEigSmallWasm);

/**
 * Max over eigenpairs of ‖A·x − λ·B·x‖ / (‖A‖ + |λ|‖B‖) (B = I when absent) with x taken
 * from the LAPACK layout (complex pairs as real/imaginary columns); also checks ‖x‖ = 1.
 */
function worstResidual(n: number, a: Float64Array, b: Float64Array | null, wr: ArrayLike<number>, wi: ArrayLike<number>, v: Float64Array): number {
  const bm =
    b ??
    (() => {
      const e = new Float64Array(n * n);
      for (let i = 0; i < n; i++) e[i * n + i] = 1;
      return e;
    })();
  const av = matmul(n, n, n, a, v);
  const bv = matmul(n, n, n, bm, v);
  let worst = 0;
  for (let j = 0; j < n;) {
    const lr = wr[j] as number;
    const li = wi[j] as number;
    const scale = fro(a) + Math.hypot(lr, li) * fro(bm);
    if (li === 0) {
      let r = 0;
      let nx = 0;
      for (let i = 0; i < n; i++) {
        r += ((av[i * n + j] as number) - lr * (bv[i * n + j] as number)) ** 2;
        nx += (v[i * n + j] as number) ** 2;
      }
      assert.ok(Math.abs(Math.sqrt(nx) - 1) < 1e-12, 'unit norm');
      worst = Math.max(worst, Math.sqrt(r) / scale);
      j += 1;
    } else {
      assert.ok(li > 0, 'pair starts with the positive imaginary part');
      assert.equal(wr[j + 1], lr);
      assert.equal(wi[j + 1], -li);
      // A(x + iy) = (lr + i li) B (x + iy):  Ax = lr Bx − li By,  Ay = li Bx + lr By
      let r = 0;
      let nx = 0;
      for (let i = 0; i < n; i++) {
        const bx = bv[i * n + j] as number;
        const by = bv[i * n + j + 1] as number;
        r += ((av[i * n + j] as number) - lr * bx + li * by) ** 2;
        r += ((av[i * n + j + 1] as number) - li * bx - lr * by) ** 2;
        nx += (v[i * n + j] as number) ** 2 + (v[i * n + j + 1] as number) ** 2;
      }
      assert.ok(Math.abs(Math.sqrt(nx) - 1) < 1e-12, 'unit norm (complex)');
      worst = Math.max(worst, Math.sqrt(r) / scale);
      j += 2;
    }
  }
  return worst;
}

/** Upper Hessenberg + rank-one like GMRES's H_m + h²·H_m^{-T}e_m e_mᵀ: a harmonic-Ritz-shaped matrix. */
function hessenbergLike(n: number, seed: number): Float64Array {
  const a = randomMatrix(n, n, seed);
  for (let i = 0; i < n; i++) for (let j = 0; j < i - 1; j++) a[i * n + j] = 0;
  for (let i = 0; i < n; i++) a[i * n + n - 1] = (a[i * n + n - 1] as number) + 0.3 * ((i % 3) - 1);
  return a;
}

describe('eig-small conformance', () => {
  for (const backend of BACKENDS) {
    for (const [name, n, make, withB] of [
      ['empty', 0, () => new Float64Array(0), false],
      ['1×1', 1, () => new Float64Array([4]), false],
      ['rotation 2×2 (complex pair)', 2, () => new Float64Array([0, -1, 1, 0]), false],
      ['random 7', 7, () => randomMatrix(7, 7, 7), false],
      ['random 40', 40, () => randomMatrix(40, 40, 40), false],
      ['harmonic-Ritz-shaped 41', 41, () => hessenbergLike(41, 3), false],
      ['random 97 (prime)', 97, () => randomMatrix(97, 97, 97), false],
      ['generalised 23', 23, () => randomMatrix(23, 23, 5), true],
      ['generalised 60', 60, () => randomMatrix(60, 60, 6), true],
    ] as Array<[string, number, () => Float64Array, boolean]>) {
      it(`${backend}: ${name}: ‖Ax − λBx‖ ≤ 1e-12·(‖A‖ + |λ|‖B‖), matches the reference`, async () => {
        const a = make();
        const b = withB
          ? (() => {
              const m = randomMatrix(n, n, 99 + n);
              for (let i = 0; i < n; i++) m[i * n + i] = (m[i * n + i] as number) + 2;
              return m;
            })()
          : null;
        const inputs = [f64([n, n], a), ...(b ? [f64([n, n], b)] : [])];
        const [wr, wi, v] = (await runOp(reg, backend, eigSmallOp, { order: 'abs-ascending' }, inputs)) as [NdArray, NdArray, NdArray];
        assert.deepEqual(v.shape, [n, n]);
        if (n > 0)
          assert.ok(worstResidual(n, a, b, wr.data as ArrayLike<number>, wi.data as ArrayLike<number>, v.data as Float64Array) <= 1e-12 * Math.max(1, n / 10));
        for (let j = 1; j < n; j++)
          assert.ok(
            Math.hypot(wr.data[j] as number, wi.data[j] as number) >= Math.hypot(wr.data[j - 1] as number, wi.data[j - 1] as number) - 1e-15,
            'ascending |λ|',
          );
        const [rr, ri, rv] = eigSmallOp.reference(eigSmallOp.parseAttrs({ order: 'abs-ascending' }), inputs) as [NdArray, NdArray, NdArray];
        assert.ok(maxAbsDiff(rr.data, wr.data) <= 1e-12 * Math.max(1, fro(a)));
        assert.ok(maxAbsDiff(ri.data, wi.data) <= 1e-12 * Math.max(1, fro(a)));
        assert.ok(maxAbsDiff(rv.data, v.data) <= 1e-9, 'same algorithm, same vectors');
      });
    }
    it(`${backend}: singular b is KERNEL_STATUS naming b`, async () => {
      const n = 5;
      const b = randomMatrix(n, n, 1);
      for (let j = 0; j < n; j++) b[2 * n + j] = 2 * (b[1 * n + j] as number);
      const d = await rejectsWithCode(runOp(reg, backend, eigSmallOp, {}, [f64([n, n], randomMatrix(n, n, 2)), f64([n, n], b)]), 'KERNEL_STATUS');
      assert.equal(d['reason'], 'singular');
      assert.equal(d['argument'], 'b');
    });
  }
  it('bad input is typed (b shape, not square, NaN, order)', async () => {
    const a = f64([3, 3], randomMatrix(3, 3, 1));
    const d = await rejectsWithCode(runOp(reg, 'wasm', eigSmallOp, {}, [a, f64([2, 2], new Float64Array(4))]), 'INPUT_SHAPE_MISMATCH');
    assert.equal(d['argument'], 'b');
    await rejectsWithCode(runOp(reg, 'wasm', eigSmallOp, {}, [f64([3, 2], new Float64Array(6))]), 'INPUT_NOT_SQUARE');
    const d2 = await rejectsWithCode(
      runOp(reg, 'wasm', eigSmallOp, {}, [a, f64([3, 3], new Float64Array([1, 0, 0, 0, Number.NaN, 0, 0, 0, 1]))]),
      'INPUT_NOT_FINITE',
    );
    assert.equal(d2['argument'], 'b');
    await rejectsWithCode(runOp(reg, 'wasm', eigSmallOp, { order: 'magnitude' }, [a]), 'INPUT_INVALID');
  });
});
