import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { eighOp, eighTopkOp, type NdArray } from '@gramfleet/core';
import { registerEighTopkWasm, registerEighWasm } from '@gramfleet/workers/internal';
import {
  BACKENDS,
  f64,
  fro,
  gaussianKernel,
  laplacianKernel,
  linalgRegistry,
  matmul,
  randomMatrix,
  randomSpd,
  rejectsWithCode,
  runOp,
  transposed,
} from './linalg-fixtures';

const reg = linalgRegistry([eighOp, eighTopkOp], (r, a) => {
  registerEighWasm(r, a);
  registerEighTopkWasm(r, a);
});

function symmetricRandom(n: number, seed: number): Float64Array {
  const g = randomMatrix(n, n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = (g[i * n + j] as number) + (g[j * n + i] as number);
  return a;
}

/** H·diag(vals)·H with H = I − 2·u·uᵀ/uᵀu for a random u: dense, with the eigenvalues given. */
function withSpectrum(vals: readonly number[], seed: number): Float64Array {
  const n = vals.length;
  const u = randomMatrix(1, n, seed);
  let uu = 0;
  for (let i = 0; i < n; i++) uu += (u[i] as number) ** 2;
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) h[i * n + j] = (i === j ? 1 : 0) - (2 * (u[i] as number) * (u[j] as number)) / uu;
  const hd = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) hd[i * n + j] = (h[i * n + j] as number) * (vals[j] as number);
  const a = matmul(n, n, n, hd, h);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j] as number; // exactly symmetric
  return a;
}

/** The symmetric tridiagonal matrix with diagonal `d` and off-diagonal `e` (e[i] couples i and i+1). */
function tridiagonal(d: readonly number[], e: readonly number[]): Float64Array {
  const n = d.length;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    a[i * n + i] = d[i] as number;
    if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = e[i] as number;
  }
  return a;
}

/** ‖A·V − V·diag(w)‖_F / ‖A‖_F and ‖VᵀV − I‖_F for V n×k. */
function eigenErrors(n: number, k: number, a: Float64Array, w: ArrayLike<number>, v: Float64Array): { residual: number; orth: number } {
  const av = matmul(n, n, k, a, v);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) av[i * k + j] = (av[i * k + j] as number) - (w[j] as number) * (v[i * k + j] as number);
  const vtv = matmul(k, n, k, transposed(n, k, v), v);
  for (let j = 0; j < k; j++) vtv[j * k + j] = (vtv[j * k + j] as number) - 1;
  return { residual: fro(av) / Math.max(fro(a), Number.MIN_VALUE), orth: fro(vtv) };
}

/** `wasmOnly`: a case aimed at the wasm kernel's divide and conquer; the reference backend (Jacobi) is still the float64 reference it is compared with. */
const cases: Array<{ name: string; n: number; make: () => Float64Array; wasmOnly?: boolean }> = [
  { name: 'empty', n: 0, make: () => new Float64Array(0) },
  { name: '1×1', n: 1, make: () => new Float64Array([-3.5]) },
  { name: '2×2', n: 2, make: () => symmetricRandom(2, 2) },
  { name: 'random symmetric 7', n: 7, make: () => symmetricRandom(7, 7) },
  { name: 'random SPD 31', n: 31, make: () => randomSpd(31, 31) },
  { name: 'random SPD 97 (prime)', n: 97, make: () => randomSpd(97, 97) },
  {
    name: 'diagonal with repeats 12',
    n: 12,
    make: () => {
      const a = new Float64Array(144);
      for (let i = 0; i < 12; i++) a[i * 12 + i] = i % 3;
      return a;
    },
  },
  { name: 'Laplacian kernel 101', n: 101, make: () => laplacianKernel(101, 0.3, 5) },
  { name: 'Gaussian kernel 127 (eigenvalues to 1e-16)', n: 127, make: () => gaussianKernel(127, 0.6, 9) },
  // Past the wasm kernel's unblocked size (128): blocked panels of 32 + GEMM updates, blocked back-transform.
  { name: 'random symmetric 161 (one blocked panel)', n: 161, make: () => symmetricRandom(161, 16) },
  { name: 'Laplacian kernel 263 (blocked)', n: 263, make: () => laplacianKernel(263, 0.3, 11) },
  { name: 'Gaussian kernel 200 (blocked, eigenvalues to 1e-16)', n: 200, make: () => gaussianKernel(200, 0.6, 13) },
  // Divide and conquer (blocks of more than 32 rows are split): deflation by small z
  // components and by close or equal eigenvalues, several levels of recursion.
  {
    name: 'identity 150 (everything deflates)',
    n: 150,
    make: () =>
      withSpectrum(
        Array.from({ length: 150 }, () => 1),
        21,
      ),
    wasmOnly: true,
  },
  {
    name: 'three repeated eigenvalues 170',
    n: 170,
    make: () =>
      withSpectrum(
        Array.from({ length: 170 }, (_, i) => [-2, 0.5, 3][i % 3] as number),
        22,
      ),
    wasmOnly: true,
  },
  {
    name: 'I + u·uᵀ 140 (one eigenvalue apart)',
    n: 140,
    make: () =>
      withSpectrum(
        Array.from({ length: 140 }, (_, i) => (i === 0 ? 7 : 1)),
        23,
      ),
    wasmOnly: true,
  },
  {
    name: 'rank 2, 130 (zero eigenvalues)',
    n: 130,
    make: () =>
      withSpectrum(
        Array.from({ length: 130 }, (_, i) => (i === 5 ? 4 : i === 77 ? -1 : 0)),
        24,
      ),
    wasmOnly: true,
  },
  {
    name: 'clusters 1e-13 apart 150',
    n: 150,
    make: () =>
      withSpectrum(
        Array.from({ length: 150 }, (_, i) => Math.floor(i / 5) + (i % 5) * 1e-13),
        25,
      ),
    wasmOnly: true,
  },
  {
    name: 'graded 120 (entries 10^-(i+j)/10)',
    n: 120,
    make: () => symmetricRandom(120, 26).map((x, k) => x * 10 ** (-(Math.floor(k / 120) + (k % 120)) / 10)),
    wasmOnly: true,
  },
  {
    name: 'tridiagonal 150 with zero and tiny off-diagonals',
    n: 150,
    make: () => {
      const g = randomMatrix(2, 150, 27);
      const e = Array.from({ length: 149 }, (_, i) => (i % 37 === 36 ? 0 : i % 23 === 22 ? 1e-300 : i % 17 === 16 ? 1e-17 : (g[i] as number)));
      return tridiagonal(
        Array.from({ length: 150 }, (_, i) => g[150 + i] as number),
        e,
      );
    },
    wasmOnly: true,
  },
  {
    name: 'two equal halves 128 (eigenvalue pairs deflate by rotation)',
    n: 128,
    make: () => {
      const g = randomMatrix(2, 64, 30);
      const d = Array.from({ length: 128 }, (_, i) => g[i % 64] as number);
      const e = Array.from({ length: 127 }, (_, i) => (i === 63 ? 0.5 : (g[64 + (i % 64)] as number)));
      return tridiagonal(d, e);
    },
    wasmOnly: true,
  },
  {
    name: 'Wilkinson W+ 161 (pairs equal to 1e-15 and closer)',
    n: 161,
    make: () =>
      tridiagonal(
        Array.from({ length: 161 }, (_, i) => Math.abs(i - 80)),
        Array.from({ length: 160 }, () => 1),
      ),
    wasmOnly: true,
  },
  { name: 'random symmetric 270 (four levels)', n: 270, make: () => symmetricRandom(270, 28), wasmOnly: true },
  { name: 'Gaussian kernel 280 (eigenvalues to 1e-16, four levels)', n: 280, make: () => gaussianKernel(280, 0.6, 29), wasmOnly: true },
];

describe('eigh conformance', () => {
  for (const backend of BACKENDS) {
    for (const c of cases.filter((x) => backend === 'wasm' || !x.wasmOnly)) {
      it(`${backend}: ${c.name}: ‖AV − VΛ‖ ≤ 1e-12‖A‖, ‖VᵀV − I‖ ≤ 1e-12, ascending, equals the reference`, async () => {
        const a = c.make();
        const n = c.n;
        const [w, v] = (await runOp(reg, backend, eighOp, {}, [f64([n, n], a)])) as [NdArray, NdArray];
        assert.deepEqual(w.shape, [n]);
        assert.deepEqual(v.shape, [n, n]);
        for (let i = 1; i < n; i++) assert.ok((w.data[i] as number) >= (w.data[i - 1] as number), 'ascending');
        const e = eigenErrors(n, n, a, w.data as ArrayLike<number>, v.data as Float64Array);
        assert.ok(e.residual <= 1e-12, `residual ${e.residual}`);
        assert.ok(e.orth <= 1e-12, `orthogonality ${e.orth}`);
        const [rw] = eighOp.reference(eighOp.parseAttrs({}), [f64([n, n], a)]) as [NdArray, NdArray];
        for (let i = 0; i < n; i++) assert.ok(Math.abs((rw.data[i] as number) - (w.data[i] as number)) <= 1e-12 * Math.max(fro(a), 1e-300), `eigenvalue ${i}`);
      });
    }
    it(`${backend}: bad input is typed (not square, asymmetric, NaN)`, async () => {
      const d1 = await rejectsWithCode(runOp(reg, backend, eighOp, {}, [f64([2, 3], new Float64Array(6))]), 'INPUT_NOT_SQUARE');
      assert.equal(d1['argument'], 'a');
      const d2 = await rejectsWithCode(runOp(reg, backend, eighOp, {}, [f64([2, 2], new Float64Array([1, 2, 3, 4]))]), 'INPUT_ASYMMETRIC');
      assert.equal(d2['argument'], 'a');
      const d3 = await rejectsWithCode(runOp(reg, backend, eighOp, {}, [f64([2, 2], new Float64Array([1, Number.NaN, Number.NaN, 4]))]), 'INPUT_NOT_FINITE');
      assert.equal(d3['argument'], 'a');
    });
  }
});

describe('eigh-topk conformance', () => {
  for (const backend of BACKENDS) {
    for (const [name, n, k, make] of [
      ['Laplacian kernel 150, k=10', 150, 10, () => laplacianKernel(150, 0.5, 3)],
      ['Gaussian kernel 131, k=7', 131, 7, () => gaussianKernel(131, 0.5, 4)],
      ['Laplacian kernel 61, k=61 (all)', 61, 61, () => laplacianKernel(61, 0.5, 6)],
      ['random symmetric indefinite 120, k=6', 120, 6, () => symmetricRandom(120, 12)],
      ['1×1, k=1', 1, 1, () => new Float64Array([2])],
      ['k=0', 5, 0, () => randomSpd(5, 1)],
    ] as Array<[string, number, number, () => Float64Array]>) {
      for (const method of ['subspace', 'full'] as const) {
        it(`${backend}: ${name}, method ${method}: agrees with the full solver`, async () => {
          const a = make();
          const [w, v] = (await runOp(reg, backend, eighTopkOp, { k, method }, [f64([n, n], a)])) as [NdArray, NdArray];
          assert.deepEqual(w.shape, [k]);
          assert.deepEqual(v.shape, [n, k]);
          const [fw] = (await runOp(reg, 'wasm', eighOp, {}, [f64([n, n], a)])) as [NdArray, NdArray];
          const scale = Math.abs(fw.data[n - 1] as number);
          for (let t = 0; t < k; t++) {
            assert.ok(
              Math.abs((w.data[t] as number) - (fw.data[n - 1 - t] as number)) <= 1e-12 * scale,
              `eigenvalue ${t}: ${w.data[t]} vs ${fw.data[n - 1 - t]}`,
            );
          }
          const e = eigenErrors(n, k, a, w.data as ArrayLike<number>, v.data as Float64Array);
          assert.ok(e.orth <= 1e-12, `orthogonality ${e.orth}`);
          assert.ok(e.residual <= 1e-9, `residual ${e.residual}`);
        });
      }
    }
    it(`${backend}: k > n and bad attrs are typed`, async () => {
      const a = f64([3, 3], randomSpd(3, 2));
      const d = await rejectsWithCode(runOp(reg, backend, eighTopkOp, { k: 4 }, [a]), 'INPUT_OUT_OF_RANGE');
      assert.equal(d['field'], 'attrs.k');
      await rejectsWithCode(runOp(reg, backend, eighTopkOp, {}, [a]), 'INPUT_INVALID');
      await rejectsWithCode(runOp(reg, backend, eighTopkOp, { k: 1, tol: 0 }, [a]), 'INPUT_OUT_OF_RANGE');
      const dm = await rejectsWithCode(runOp(reg, backend, eighTopkOp, { k: 1, method: 'lanczos' }, [a]), 'INPUT_INVALID');
      assert.equal(dm['field'], 'attrs.method');
    });
  }
  it('wasm: a budget too small is KERNEL_STATUS no-convergence', async () => {
    const n = 80;
    const d = await rejectsWithCode(
      runOp(reg, 'wasm', eighTopkOp, { k: 20, oversample: 0, maxIter: 1, tol: 1e-14, method: 'subspace' }, [f64([n, n], randomSpd(n, 8))]),
      'KERNEL_STATUS',
    );
    assert.equal(d['reason'], 'no-convergence');
  });
  it('wasm: reproducible bit for bit for a fixed seed', async () => {
    const n = 90;
    const a = f64([n, n], laplacianKernel(n, 0.4, 1));
    const [w1, v1] = (await runOp(reg, 'wasm', eighTopkOp, { k: 5, seed: 42, method: 'subspace' }, [a])) as [NdArray, NdArray];
    const [w2, v2] = (await runOp(reg, 'wasm', eighTopkOp, { k: 5, seed: 42, method: 'subspace' }, [a])) as [NdArray, NdArray];
    assert.deepEqual([...w1.data], [...w2.data]);
    assert.deepEqual([...v1.data], [...v2.data]);
  });
});
