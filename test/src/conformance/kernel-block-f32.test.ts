import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { KERNEL_FUNCTIONS, kernelBlockMatmulOp, kernelRowsMatmulOp, type KernelFunction, type NdArray } from '@gramfleet/core';
import { createKernelPool } from '@gramfleet/workers';
import { registerWasmKernels, withHostGather } from '@gramfleet/workers/internal';
import { kernelModule, linalgRegistry } from './linalg-fixtures';
import { BACKENDS, arr, rand, rand32, rejectsNaming, runOp } from './dense-fixtures';
import { f32KernelBounds as bounds } from './kernel-f32-fixtures';

// `accumulate: 'f32'` (kernel-block-matmul, kernel-rows-matmul): x·z accumulated in f32 and the
// kernel evaluated in f32, against the f64 reference (the reference backend ignores the attr).
// Bound per entry, from the f32 rounding of the distance: |Δd²| ≤ γ·(‖x‖² + ‖z‖²) with
// γ = (d + 4)·2⁻²⁴ (dot product and norms); then |Δr| ≤ min(√|Δd²|, |Δd²|/r) and every kernel
// here has |dk/dr| ≤ 1/σ, plus the f32 epilogue (exp/sqrt/div) at 1e-6 relative. The test
// checks each output entry against Σ_j bound_ij·|a_jq|, and the observed error is also
// reported small in absolute terms (≤ 1e-4 of Σ_j |a_jq|).
const reg = linalgRegistry([kernelBlockMatmulOp, kernelRowsMatmulOp], registerWasmKernels);

function check(
  out: NdArray,
  x: Float32Array,
  z: Float32Array,
  a: Float64Array,
  n: number,
  m: number,
  d: number,
  c: number,
  sigma: number,
  kernel: KernelFunction,
  base?: Float64Array,
  beta = 0,
): void {
  const { k, tol } = bounds(x, z, n, m, d, sigma, kernel);
  for (let i = 0; i < n; i++) {
    for (let q = 0; q < c; q++) {
      let want = base !== undefined ? beta * (base[i * c + q] as number) : 0;
      let bound = 1e-12 * (1 + Math.abs(want));
      let scale = 0;
      for (let j = 0; j < m; j++) {
        const aj = a[j * c + q] as number;
        want += (k[i * m + j] as number) * aj;
        bound += (tol[i * m + j] as number) * Math.abs(aj);
        scale += Math.abs(aj);
      }
      const got = out.data[i * c + q] as number;
      const err = Math.abs(got - want);
      assert.ok(err <= bound, `out[${i},${q}] = ${got}, f64 reference ${want}: |Δ| ${err} > bound ${bound}`);
      assert.ok(err <= 1e-4 * Math.max(scale, 1e-300) + 1e-12, `out[${i},${q}]: |Δ| ${err} > 1e-4·Σ|a| = ${1e-4 * scale}`);
    }
  }
}

describe("kernel-block-matmul accumulate: 'f32'", () => {
  for (const backend of BACKENDS) {
    for (const kernel of KERNEL_FUNCTIONS) {
      // Edges: rows not a multiple of the 4-row tile, columns not a multiple of 8, d past one
      // 256-wide slice (300, 784), panels past 192 rows and 1024 columns, d = 0 and 1, d past the
      // 4096 up to which a Z panel is packed whole (4100: packed slice by slice).
      for (const [n, m, d, c] of [
        [1, 1, 1, 1],
        [4, 8, 0, 2],
        [13, 7, 3, 3],
        [37, 45, 300, 3],
        [5, 1030, 64, 11],
        [197, 9, 784, 10],
        [200, 1100, 20, 1],
        [3, 9, 4100, 2],
      ] as const) {
        it(`${backend} ${kernel}: ${n}×${m}·[${m},${c}], d=${d}`, async () => {
          const x = rand32(n * d, n + d);
          const z = rand32(m * d, m + 1);
          const a = rand(m * c, c + 2).map((v) => v - 0.5);
          const sigma = 0.4 * Math.sqrt(Math.max(d, 1));
          const [out] = await runOp(reg, backend, kernelBlockMatmulOp, { kernel, bandwidth: sigma, accumulate: 'f32' }, [
            arr('f32', [n, d], x),
            arr('f32', [m, d], z),
            arr('f64', [m, c], a),
          ]);
          assert.ok(out !== undefined);
          assert.deepEqual(out.shape, [n, c]);
          check(out, x, z, a, n, m, d, c, sigma, kernel);
        });
      }
    }
    it(`${backend}: X = Z (coincident points), beta·out0 and strided views`, async () => {
      const n = 23,
        d = 17,
        c = 4,
        ldx = 20;
      const xs = rand32(n * d, 5);
      const flat = new Float32Array(2 + n * ldx);
      for (let i = 0; i < n; i++) flat.set(xs.subarray(i * d, (i + 1) * d), 2 + i * ldx);
      const a = rand(n * c, 6);
      const o0 = rand(n * c, 7);
      for (const kernel of KERNEL_FUNCTIONS) {
        const attrs = { kernel, bandwidth: 1.3, accumulate: 'f32', beta: 0.25, n, m: n, d, offsetX: 2, ldx, offsetZ: 2, ldz: ldx };
        const [out] = await runOp(reg, backend, kernelBlockMatmulOp, attrs, [
          arr('f32', [flat.length], flat),
          arr('f32', [flat.length], flat),
          arr('f64', [n, c], a),
          arr('f64', [n, c], o0),
        ]);
        assert.ok(out !== undefined);
        check(out, xs, xs, a, n, n, d, c, 1.3, kernel, o0, 0.25);
      }
    });
  }
  it('wasm: K(X, X) through A = I has k(0) = 1 exactly on the diagonal (d² below its rounding bound is 0)', async () => {
    const n = 21,
      d = 784;
    const x = rand32(n * d, 8).map((v) => 255 * v); // pixel-scale features: ‖x‖² ≈ 2·10⁷
    const eye = new Float64Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    for (const kernel of KERNEL_FUNCTIONS) {
      const [out] = await runOp(reg, 'wasm', kernelBlockMatmulOp, { kernel, bandwidth: 1000, accumulate: 'f32' }, [
        arr('f32', [n, d], x),
        arr('f32', [n, d], x),
        arr('f64', [n, n], eye),
      ]);
      assert.ok(out !== undefined);
      for (let i = 0; i < n; i++) assert.equal(out.data[i * n + i], 1, `${kernel}: K[${i},${i}]`);
      check(out, x, x, eye, n, n, d, n, 1000, kernel);
    }
  });
  it('kernel-rows-matmul with accumulate f32 equals kernel-block-matmul f32 on the gathered rows, in a worker pool too', async () => {
    const d = 29,
      c = 3;
    const blocks = [arr('f32', [40, d], rand32(40 * d, 1)), arr('f32', [25, d], rand32(25 * d, 2))];
    const all = new Float32Array(65 * d);
    all.set(blocks[0]?.data as Float32Array, 0);
    all.set(blocks[1]?.data as Float32Array, 40 * d);
    const rows = Int32Array.from([64, 3, 3, 41, 0, 39, 40, 17, 60]);
    const gathered = new Float32Array(rows.length * d);
    rows.forEach((r, i) => gathered.set(all.subarray(r * d, (r + 1) * d), i * d));
    const z = arr('f32', [33, d], rand32(33 * d, 3));
    const a = arr('f64', [33, c], rand(33 * c, 4));
    const attrs = { kernel: 'laplacian', bandwidth: 2, accumulate: 'f32' };
    const [viaRows] = await runOp(reg, 'wasm', kernelRowsMatmulOp, attrs, [arr('i32', [rows.length], rows), z, a, ...blocks]);
    const [viaBlock] = await runOp(reg, 'wasm', kernelBlockMatmulOp, attrs, [arr('f32', [rows.length, d], gathered), z, a]);
    const [viaF64] = await runOp(reg, 'wasm', kernelBlockMatmulOp, { kernel: 'laplacian', bandwidth: 2 }, [arr('f32', [rows.length, d], gathered), z, a]);
    assert.ok(viaRows !== undefined && viaBlock !== undefined && viaF64 !== undefined);
    assert.deepEqual(Array.from(viaRows.data), Array.from(viaBlock.data));
    assert.notDeepEqual(Array.from(viaBlock.data), Array.from(viaF64.data), 'the f32 path is a different computation from the f64 one');
    const pool = withHostGather(createKernelPool({ module: kernelModule(), threads: 1 }));
    try {
      const r = await pool.run(kernelRowsMatmulOp.id, attrs, [arr('i32', [rows.length], rows), z, a, ...blocks]);
      assert.deepEqual(Array.from((r.outputs[0] as NdArray).data), Array.from(viaBlock.data), 'the host-gather path keeps accumulate');
    } finally {
      await pool.close();
    }
  });
  it('rejects accumulate f32 with f64 inputs and unknown precisions, naming the attribute', async () => {
    const x = arr('f64', [2, 3], rand(6, 1));
    const a = arr('f64', [2, 1], rand(2, 2));
    await rejectsNaming(
      runOp(reg, 'wasm', kernelBlockMatmulOp, { kernel: 'gaussian', bandwidth: 1, accumulate: 'f32' }, [x, x, a]),
      'INPUT_INVALID',
      'accumulate',
    );
    const x32 = arr('f32', [2, 3], rand32(6, 1));
    await rejectsNaming(
      runOp(reg, 'wasm', kernelBlockMatmulOp, { kernel: 'gaussian', bandwidth: 1, accumulate: 'f16' }, [x32, x32, a]),
      'INPUT_INVALID',
      'accumulate',
    );
    await rejectsNaming(
      runOp(reg, 'wasm', kernelRowsMatmulOp, { kernel: 'gaussian', bandwidth: 1, accumulate: 'bf16' }, [arr('i32', [1], Int32Array.from([0])), x32, a, x32]),
      'INPUT_INVALID',
      'accumulate',
    );
  });
});
