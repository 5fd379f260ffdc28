/**
 * The GPU conformance cases, defined once and run against a device: every op the GPU registers
 * compared with the float64 reference — GEMM-shaped work (cuBLAS) within the WASM suites'
 * tolerances, CSR SpMV / mode product / GRF walks (NVRTC kernels built without FMA
 * contraction) bit for bit, and the Philox generator on the device against core's.
 * gpu.test.ts runs them on a real GPU (skipped without one, the reason printed);
 * gpu-emulated.test.ts runs them on the CPU emulation of the device (no GPU needed).
 */
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  KERNEL_FUNCTIONS,
  OPS,
  choleskyOp,
  createKernelRegistry,
  csrSpmvOp,
  eighOp,
  gemmOp,
  gemvOp,
  grfWalksOp,
  isGramfleetError,
  kernelBlockMatmulOp,
  kernelBlockOp,
  modeProductOp,
  seedKey,
  type KernelRegistry,
  type NdArray,
} from '@gramfleet/core';
import { philox4x32, type AnyOpDef } from '@gramfleet/core/internal';
import { registerReferenceKernels } from '@gramfleet/workers';
import { GPU_OP_IDS, registerGpuKernels, type GpuDevice } from '@gramfleet/gpu-workers';
import { arg } from '@gramfleet/gpu-workers/internal';
import { arr, assertClose, rand, rand32, randomCsr } from './dense-fixtures';
import { f64, randomMatrix, randomSpd, rng } from './linalg-fixtures';

/** Defines the GPU conformance suite over the device `open()` returns (or skips with `skip`). */
export function defineGpuConformance(title: string, open: () => GpuDevice): void {
  let dev: GpuDevice | undefined;
  let skip: string | false = false;
  const reg: KernelRegistry = createKernelRegistry();
  try {
    dev = open();
    registerReferenceKernels(reg);
    const ops = registerGpuKernels(reg, dev);
    process.stdout.write(
      `${title} on ${dev.description.name} (compute ${dev.description.computeCapability}, driver ${dev.description.driverVersion}, NVRTC ${dev.description.nvrtcVersion}, cuBLAS ${dev.description.cublasVersion ?? 'absent'}): ops ${ops.join(', ')}\n`,
    );
    for (const [lib, why] of Object.entries(dev.missing)) process.stdout.write(`${title}: ${lib} absent, its ops are skipped: ${why}\n`);
  } catch (e) {
    skip = `no device: ${(e as Error).message}`;
    process.stdout.write(`skipping ${title}: ${skip}\n`);
  }
  const has = (op: AnyOpDef): string | false => (skip !== false ? skip : reg.has('gpu', op.id) ? false : `gpu has no ${op.id} kernel here (library absent)`);

  async function gpu(op: AnyOpDef, rawAttrs: unknown, inputs: NdArray[]): Promise<NdArray[]> {
    const attrs = op.parseAttrs(rawAttrs);
    op.checkInputs(attrs, inputs);
    return await reg.get('gpu', op.id)(attrs, inputs, {});
  }
  const ref = (op: AnyOpDef, rawAttrs: unknown, inputs: NdArray[]): NdArray[] => op.reference(op.parseAttrs(rawAttrs), inputs);

  describe(title, { skip }, () => {
    after(() => {
      if (dev !== undefined) assert.equal(dev.allocator.stats().liveBytes, 0, 'every device block is released after each op');
      dev?.close();
    });

    it('registers every GPU op it has the libraries for, all known to the catalogue', () => {
      for (const id of reg.ops('gpu')) assert.ok(OPS.has(id) && GPU_OP_IDS.includes(id), id);
      if (dev?.cublas !== undefined && dev.cusolver !== undefined) assert.deepEqual(reg.ops('gpu'), [...GPU_OP_IDS].sort());
    });

    it('Philox4x32-10 on the device equals core/src/rng/philox.ts', async () => {
      const d = dev as GpuDevice;
      const n = 1000;
      const [k0, k1] = seedKey(123456789012);
      const out = d.alloc(n * 16, 'philox');
      try {
        d.launch('gf_philox_blocks', n, [arg.i32(n), arg.u32(7), arg.u32(3), arg.u32(0xfffffffe), arg.u32(k0), arg.u32(k1), arg.ptr(out)]);
        const got = await d.download(out, new Uint32Array(n * 4));
        for (let i = 0; i < n; i++) assert.deepEqual([...got.subarray(4 * i, 4 * i + 4)], [...philox4x32(i, 7, 3, 0xfffffffe, k0, k1)], `counter ${i}`);
      } finally {
        d.allocator.release(out);
      }
    });

    describe('gemm', { skip: has(gemmOp) }, () => {
      for (const dtype of ['f64', 'f32'] as const) {
        for (const [m, n, k] of [
          [0, 3, 4],
          [3, 4, 0],
          [1, 1, 1],
          [7, 13, 5],
          [97, 31, 101],
          [131, 67, 263],
        ] as const) {
          for (const [transA, transB] of [
            [false, false],
            [true, false],
            [false, true],
            [true, true],
          ] as const) {
            it(`${dtype} ${m}×${n}×${k} transA=${transA} transB=${transB}`, async () => {
              const mk = dtype === 'f64' ? rand : rand32;
              const inputs = [
                arr(dtype, transA ? [k, m] : [m, k], mk(m * k, 1 + m)),
                arr(dtype, transB ? [n, k] : [k, n], mk(k * n, 2 + n)),
                arr(dtype, [m, n], mk(m * n, 3 + k)),
              ];
              const attrs = { transA, transB, alpha: 0.75, beta: -1.5 };
              const [o] = await gpu(gemmOp, attrs, inputs);
              const [r] = ref(gemmOp, attrs, inputs);
              if (dtype === 'f64') assertClose(o!.data, r!.data, 1e-14 * (k + 1), 0, 'C');
              else assertClose(o!.data, r!.data, 1e-30, 2 ** -23, 'C');
            });
          }
        }
      }
      it('strided views update only the C view', async () => {
        const m = 11,
          n = 7,
          k = 13,
          lda = m + 3,
          ldb = k + 2,
          ldc = n + 5;
        const attrs = { m, n, k, transA: true, transB: true, alpha: 1.25, beta: 0.5, offsetA: 5, lda, offsetB: 3, ldb, offsetC: 9, ldc };
        const inputs = [
          arr('f64', [5 + k * lda], rand(5 + k * lda, 7)),
          arr('f64', [3 + n * ldb], rand(3 + n * ldb, 8)),
          arr('f64', [9 + m * ldc + 4], rand(9 + m * ldc + 4, 9)),
        ];
        const [o] = await gpu(gemmOp, attrs, inputs);
        assertClose(o!.data, ref(gemmOp, attrs, inputs)[0]!.data, 1e-14 * (k + 1), 0, 'C');
      });
    });

    describe('gemv', { skip: has(gemvOp) }, () => {
      for (const [m, n] of [
        [0, 3],
        [3, 0],
        [1, 1],
        [17, 5],
        [131, 263],
      ] as const) {
        for (const trans of [false, true]) {
          it(`${m}×${n} trans=${trans}, with y`, async () => {
            const inputs = [
              arr('f64', [m, n], rand(m * n, 1)),
              arr('f64', [trans ? m : n], rand(trans ? m : n, 2)),
              arr('f64', [trans ? n : m], rand(trans ? n : m, 3)),
            ];
            const attrs = { trans, alpha: 1.5, beta: -0.5 };
            const [o] = await gpu(gemvOp, attrs, inputs);
            assertClose(o!.data, ref(gemvOp, attrs, inputs)[0]!.data, 1e-14 * (Math.max(m, n) + 1), 0, 'y');
          });
        }
      }
      it('strided x and y views', async () => {
        const attrs = { m: 9, n: 6, lda: 8, offsetA: 2, offsetX: 1, incx: 3, offsetY: 2, incy: 2, alpha: 2, beta: 1 };
        const inputs = [arr('f64', [2 + 9 * 8], rand(74, 4)), arr('f64', [1 + 5 * 3 + 1], rand(17, 5)), arr('f64', [2 + 8 * 2 + 1], rand(19, 6))];
        const [o] = await gpu(gemvOp, attrs, inputs);
        assertClose(o!.data, ref(gemvOp, attrs, inputs)[0]!.data, 1e-13, 0, 'y');
      });
    });

    describe('kernel-block and kernel-block-matmul (cuBLAS Gram tile + NVRTC epilogue)', { skip: has(kernelBlockOp) }, () => {
      for (const kernel of KERNEL_FUNCTIONS) {
        for (const dtype of ['f64', 'f32'] as const) {
          for (const [n, m, d] of [
            [0, 3, 2],
            [3, 0, 2],
            [1, 1, 1],
            [4, 5, 0],
            [97, 61, 17],
            [37, 131, 263],
          ] as const) {
            it(`${dtype} ${kernel}: ${n}×${m}, d=${d}`, async () => {
              const mk = dtype === 'f64' ? rand : rand32;
              const inputs = [arr(dtype, [n, d], mk(n * d, n + 1)), arr(dtype, [m, d], mk(m * d, m + 2))];
              const attrs = { kernel, bandwidth: 0.7 };
              const [o] = await gpu(kernelBlockOp, attrs, inputs);
              assert.deepEqual(o!.shape, [n, m]);
              assertClose(o!.data, ref(kernelBlockOp, attrs, inputs)[0]!.data, 1e-12, 0, 'K');
            });
          }
          it(`${dtype} ${kernel}: K·A (+ beta·out0) with strided X, Z views`, async () => {
            const n = 53,
              m = 41,
              d = 7,
              c = 3;
            const mk = dtype === 'f64' ? rand : rand32;
            const attrs = { kernel, bandwidth: 1.3, n, m, d, offsetX: 4, ldx: d + 2, offsetZ: 1, ldz: d + 5, beta: -0.25 };
            const inputs = [
              arr(dtype, [4 + n * (d + 2)], mk(4 + n * (d + 2), 11)),
              arr(dtype, [1 + m * (d + 5)], mk(1 + m * (d + 5), 12)),
              arr('f64', [m, c], rand(m * c, 13)),
              arr('f64', [n, c], rand(n * c, 14)),
            ];
            const [o] = await gpu(kernelBlockMatmulOp, attrs, inputs);
            assertClose(o!.data, ref(kernelBlockMatmulOp, attrs, inputs)[0]!.data, 1e-11, 0, 'K·A');
          });
        }
      }
    });

    describe('csr-spmv (bit for bit)', { skip: has(csrSpmvOp) }, () => {
      for (const [m, n, per] of [
        [0, 4, 2],
        [1, 1, 1],
        [37, 53, 3],
        [1000, 700, 9],
      ] as const) {
        for (const withY of [false, true]) {
          it(`${m}×${n}, ~${per}/row, y=${withY}`, async () => {
            const [ip, ix, v] = randomCsr(m, n, per, m + n);
            const inputs = [ip, ix, v, arr('f64', [n], rand(n, 5)), ...(withY ? [arr('f64', [m], rand(m, 6))] : [])];
            const attrs = { alpha: 1.25, beta: 0.5 };
            const [o] = await gpu(csrSpmvOp, attrs, inputs);
            assert.deepEqual(o!.data, ref(csrSpmvOp, attrs, inputs)[0]!.data);
          });
        }
      }
    });

    describe('mode-product (bit for bit)', { skip: has(modeProductOp) }, () => {
      for (const [shape, mode, p, transpose] of [
        [[5, 7, 3], 1, 4, false],
        [[6, 4], 0, 9, true],
        [[3, 4, 5, 6], 3, 2, false],
        [[8], 0, 8, true],
        [[2, 0, 3], 0, 5, false],
      ] as const) {
        it(`x ${shape.join('×')} ×_${mode} M (p=${p}, transpose=${transpose})`, async () => {
          const nd = shape[mode] as number;
          const size = shape.reduce((a, b) => a * b, 1);
          const inputs = [f64([...shape], randomMatrix(1, size, 3)), f64(transpose ? [nd, p] : [p, nd], randomMatrix(p, nd, 4))];
          const [o] = await gpu(modeProductOp, { mode, transpose }, inputs);
          const [r] = ref(modeProductOp, { mode, transpose }, inputs);
          assert.deepEqual(o!.shape, r!.shape);
          assert.deepEqual(o!.data, r!.data);
        });
      }
    });

    describe('grf-walks (Φ bit for bit)', { skip: has(grfWalksOp) }, () => {
      // a random symmetric graph with isolated nodes and varied degrees
      const n = 300;
      const r = rng(17);
      const adj: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
      for (let e = 0; e < 1500; e++) {
        const i = Math.floor((r() + 0.5) * (n - 10)),
          j = Math.floor((r() + 0.5) * (n - 10));
        if (i !== j) {
          adj[i]!.add(j);
          adj[j]!.add(i);
        }
      }
      const ip = new Int32Array(n + 1);
      const ix: number[] = [];
      const w: number[] = [];
      for (let i = 0; i < n; i++) {
        for (const j of [...adj[i]!].sort((a, b) => a - b)) {
          ix.push(j);
          w.push(0.25 / Math.sqrt(adj[i]!.size * adj[j]!.size));
        }
        ip[i + 1] = ix.length;
      }
      const graph = [arr('i32', [n + 1], ip), arr('i32', [ix.length], Int32Array.from(ix)), arr('f64', [w.length], Float64Array.from(w))];
      for (const variance of ['none', 'antithetic'] as const) {
        it(`${variance}, two streams, origins 13..300`, async () => {
          const attrs = {
            seed: 2 ** 40 + 9,
            walks: 16,
            pHalt: 0.5,
            f: [1, 0.5, 0.375, 0.3125, 0.2734375, 0, 0],
            streams: [0, 1],
            variance,
            nodeStart: 13,
            nodeEnd: n,
          };
          const o = await gpu(grfWalksOp, attrs, graph);
          const e = ref(grfWalksOp, attrs, graph);
          assert.equal(o.length, 6);
          for (let q = 0; q < 6; q++) assert.deepEqual(o[q]!.data, e[q]!.data, `output ${q}`);
        });
      }
      it('repelling walks are declined by the GPU kernel (the worker runs the reference and reports it)', async () => {
        const attrs = { seed: 1, walks: 4, pHalt: 0.5, f: [1, 0.5], streams: [0], variance: 'repelling', nodeStart: 0, nodeEnd: 5 };
        await assert.rejects(gpu(grfWalksOp, attrs, graph), (e: unknown) => isGramfleetError(e) && e.code === 'KERNEL_NOT_REGISTERED');
      });
    });

    describe('cholesky and eigh (cuSOLVER)', { skip: has(choleskyOp) }, () => {
      for (const n of [0, 1, 2, 17, 130]) {
        it(`cholesky n=${n}: L within 1e-10·‖A‖ of the reference, zeros above the diagonal`, async () => {
          const a = f64([n, n], randomSpd(n, n + 3));
          const [o] = await gpu(choleskyOp, {}, [a]);
          const [r] = ref(choleskyOp, {}, [a]);
          assertClose(o!.data, r!.data, 1e-10 * Math.max(1, n), 0, 'L');
          for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(o!.data[i * n + j], 0);
        });
      }
      it('cholesky of an indefinite matrix is KERNEL_STATUS not-positive-definite', async () => {
        const a = f64([3, 3], Float64Array.from([1, 2, 0, 2, 1, 0, 0, 0, 1]));
        await assert.rejects(
          gpu(choleskyOp, {}, [a]),
          (e: unknown) => isGramfleetError(e) && e.code === 'KERNEL_STATUS' && e.details['reason'] === 'not-positive-definite' && e.details['pivot'] === 1,
        );
      });
      for (const n of [1, 2, 16, 90]) {
        it(`eigh n=${n}: eigenvalues and sign-normalised eigenvectors match the reference`, { skip: has(eighOp) }, async () => {
          const a = f64([n, n], randomSpd(n, 40 + n));
          const [w, v] = await gpu(eighOp, {}, [a]);
          const [rw, rv] = ref(eighOp, {}, [a]);
          assertClose(w!.data, rw!.data, 1e-10 * n, 1e-12, 'w');
          assertClose(v!.data, rv!.data, 1e-8, 0, 'v');
        });
      }
    });
  });
}
