/**
 * GPU kernels of the dense ops: `gemm` and `gemv` on cuBLAS, `kernel-block` (cuBLAS Gram
 * matrix X·Zᵀ, then the NVRTC epilogue in place) and `kernel-block-matmul` (the same per
 * row tile, then a second cuBLAS GEMM with A, so the block never leaves the device and
 * never exists whole). Row-major arrays are handed to column-major cuBLAS as their
 * transposes: C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ. f32 inputs are widened to
 * f64 on the device, so the f32 contract (f64 accumulation, one final rounding) holds; with
 * `tf32` the worker instead runs single-precision GEMM on TF32 tensor cores (and says so).
 */
import {
  GEMM_OP_ID,
  GramfleetError,
  KERNEL_BLOCK_MATMUL_OP_ID,
  KERNEL_BLOCK_OP_ID,
  gemmOutput,
  gemmProblem,
  gemvProblem,
  kernelBlockProblem,
  type GemmAttrs,
  type GemvAttrs,
  type KernelBlockAttrs,
  type NdArray,
} from '@gramfleet/core';
import type { Cublas } from '../cuda/blas';
import { BLAS } from '../cuda/blas';
import { arg, type BufferScope, type GpuDevice } from '../device';
import type { DeviceBlock } from '../memory/allocator';

const F64 = 8;

/** cuBLAS of the device, or `GPU_LIBRARY_MISSING`. */
export function requireCublas(dev: GpuDevice, op: string): Cublas {
  if (dev.cublas === undefined) throw new GramfleetError('GPU_LIBRARY_MISSING', `${op} needs cuBLAS: ${dev.missing['cublas'] ?? 'not loaded'}`, { op });
  return dev.cublas;
}

/** Uploads an f64 or f32 array as f64 device memory (f32 widened on the device). */
export function uploadAsF64(dev: GpuDevice, s: BufferScope, a: NdArray, what: string): DeviceBlock {
  if (a.dtype === 'f64') return s.upload(a.data, what);
  const raw = s.upload(a.data, `${what} (f32)`);
  const wide = s.alloc(a.data.length * F64, what);
  dev.launch('gf_f32_to_f64', a.data.length, [arg.ptr(raw), arg.ptr(wide), arg.i64(a.data.length)]);
  return wide;
}

const ld = (x: number): number => Math.max(1, x);
const one = new Float64Array([1]);
const zero = new Float64Array([0]);

/** GPU `gemm`. */
export async function gemmGpu(dev: GpuDevice, attrs: GemmAttrs, inputs: readonly NdArray[]): Promise<NdArray[]> {
  const p = gemmProblem(GEMM_OP_ID, attrs, inputs);
  const [a, b, c] = inputs as [NdArray, NdArray, NdArray | undefined];
  const out = gemmOutput(p, c);
  if (p.m === 0 || p.n === 0) return [out];
  const blas = requireCublas(dev, GEMM_OP_ID);
  const beta = new Float64Array([p.hasC ? attrs.beta : 0]);
  const opA = attrs.transA ? BLAS.OP_T : BLAS.OP_N;
  const opB = attrs.transB ? BLAS.OP_T : BLAS.OP_N;
  return dev.scoped(async (s) => {
    if (p.dtype === 'f32' && dev.tf32) {
      const A = s.upload(a.data, 'a'),
        B = s.upload(b.data, 'b'),
        C = s.upload(out.data, 'c');
      blas.setTf32(true);
      try {
        blas.check(
          blas.api.cublasSgemm(
            blas.handle,
            opB,
            opA,
            p.n,
            p.m,
            p.k,
            new Float32Array([attrs.alpha]),
            B.ptr + BigInt(p.b.offset * 4),
            ld(p.b.ld),
            A.ptr + BigInt(p.a.offset * 4),
            ld(p.a.ld),
            new Float32Array([beta[0] as number]),
            C.ptr + BigInt(p.c.offset * 4),
            ld(p.c.ld),
          ),
          'cublasSgemm',
        );
      } finally {
        blas.setTf32(false);
      }
      await dev.download(C, out.data);
      return [out];
    }
    const A = uploadAsF64(dev, s, a, 'a'),
      B = uploadAsF64(dev, s, b, 'b');
    const C = uploadAsF64(dev, s, out, 'c');
    blas.check(
      blas.api.cublasDgemm(
        blas.handle,
        opB,
        opA,
        p.n,
        p.m,
        p.k,
        new Float64Array([attrs.alpha]),
        B.ptr + BigInt(p.b.offset * F64),
        ld(p.b.ld),
        A.ptr + BigInt(p.a.offset * F64),
        ld(p.a.ld),
        beta,
        C.ptr + BigInt(p.c.offset * F64),
        ld(p.c.ld),
      ),
      'cublasDgemm',
    );
    if (p.dtype === 'f64') {
      await dev.download(C, out.data);
    } else {
      const narrow = s.alloc(out.data.length * 4, 'c (f32)');
      dev.launch('gf_f64_to_f32', out.data.length, [arg.ptr(C), arg.ptr(narrow), arg.i64(out.data.length)]);
      await dev.download(narrow, out.data);
    }
    return [out];
  });
}

/** GPU `gemv`. */
export async function gemvGpu(dev: GpuDevice, attrs: GemvAttrs, inputs: readonly NdArray[]): Promise<NdArray[]> {
  const p = gemvProblem(attrs, inputs);
  const [a, x, y] = inputs as [NdArray, NdArray, NdArray | undefined];
  const out = new Float64Array(p.outLength);
  if (y !== undefined) out.set(y.data as Float64Array);
  const shape = y !== undefined ? [...y.shape] : [p.lenY];
  const beta = p.hasY ? attrs.beta : 0;
  if (p.lenY === 0) return [{ dtype: 'f64', shape, data: out }];
  if (p.lenX === 0) {
    // BLAS returns early without scaling y when a dimension is 0; the op's contract scales it.
    for (let i = 0; i < p.lenY; i++) {
      const q = attrs.offsetY + i * attrs.incy;
      out[q] = beta === 0 ? attrs.alpha * 0 : beta * (out[q] as number) + attrs.alpha * 0;
    }
    return [{ dtype: 'f64', shape, data: out }];
  }
  const blas = requireCublas(dev, 'gemv');
  return dev.scoped(async (s) => {
    const A = s.upload(a.data, 'a'),
      X = s.upload(x.data, 'x'),
      Y = s.upload(out, 'y');
    blas.check(
      blas.api.cublasDgemv(
        blas.handle,
        attrs.trans ? BLAS.OP_N : BLAS.OP_T,
        p.n,
        p.m,
        new Float64Array([attrs.alpha]),
        A.ptr + BigInt(p.a.offset * F64),
        ld(p.a.ld),
        X.ptr + BigInt(attrs.offsetX * F64),
        attrs.incx,
        new Float64Array([beta]),
        Y.ptr + BigInt(attrs.offsetY * F64),
        attrs.incy,
      ),
      'cublasDgemv',
    );
    await dev.download(Y, out);
    return [{ dtype: 'f64', shape, data: out }];
  });
}

/** Bytes of one kernel-block row tile on the device. @default 256 MiB or a quarter of the budget */
function tileRows(dev: GpuDevice, n: number, m: number): number {
  const bytes = Math.min(256 << 20, Math.floor(dev.allocator.budgetBytes / 4));
  return Math.max(1, Math.min(n, Math.floor(bytes / Math.max(1, m * F64))));
}

async function kernelBlockGpu(dev: GpuDevice, attrs: KernelBlockAttrs, inputs: readonly NdArray[], matmul: boolean): Promise<NdArray[]> {
  const res = await kernelBlockGpuF64(dev, attrs, inputs, matmul);
  // `kernel-block` with `accumulate: 'f32'` returns an f32 block: the f64 values rounded.
  if (matmul || attrs.accumulate !== 'f32') return res;
  const k = res[0] as NdArray;
  return [{ dtype: 'f32', shape: k.shape, data: Float32Array.from(k.data as Float64Array) }];
}

async function kernelBlockGpuF64(dev: GpuDevice, attrs: KernelBlockAttrs, inputs: readonly NdArray[], matmul: boolean): Promise<NdArray[]> {
  const op = matmul ? KERNEL_BLOCK_MATMUL_OP_ID : KERNEL_BLOCK_OP_ID;
  const p = kernelBlockProblem(op, attrs, inputs, matmul);
  const cols = matmul ? p.c : p.m;
  const out = new Float64Array(p.n * cols);
  if (p.n === 0 || cols === 0) return [{ dtype: 'f64', shape: [p.n, cols], data: out }];
  if (p.m === 0) {
    // K·A over an empty sum is 0 (+ beta·out0), as in the reference
    const o0 = inputs[3];
    if (matmul && o0 !== undefined && attrs.beta !== 0) for (let i = 0; i < out.length; i++) out[i] = attrs.beta * (o0.data[i] as number);
    return [{ dtype: 'f64', shape: [p.n, cols], data: out }];
  }
  const blas = requireCublas(dev, op);
  return dev.scoped(async (s) => {
    const X = uploadAsF64(dev, s, inputs[0] as NdArray, 'x');
    const Z = uploadAsF64(dev, s, inputs[1] as NdArray, 'z');
    const xn = s.alloc(p.n * F64, 'x norms'),
      zn = s.alloc(p.m * F64, 'z norms');
    dev.launch('gf_row_sqnorm', p.n, [arg.ptr(X), arg.i64(p.x.offset), arg.i32(p.n), arg.i32(p.d), arg.i32(p.x.ld), arg.ptr(xn)]);
    dev.launch('gf_row_sqnorm', p.m, [arg.ptr(Z), arg.i64(p.z.offset), arg.i32(p.m), arg.i32(p.d), arg.i32(p.z.ld), arg.ptr(zn)]);
    const epilogue = `gf_kernel_epilogue_${attrs.kernel}`;
    const gramTile = (G: DeviceBlock, r0: number, rows: number): void => {
      // Gᵀ (m × rows, column-major) = Z · X_tileᵀ
      blas.check(
        blas.api.cublasDgemm(
          blas.handle,
          BLAS.OP_T,
          BLAS.OP_N,
          p.m,
          rows,
          p.d,
          one,
          Z.ptr + BigInt(p.z.offset * F64),
          ld(p.z.ld),
          X.ptr + BigInt((p.x.offset + r0 * p.x.ld) * F64),
          ld(p.x.ld),
          zero,
          G.ptr,
          p.m,
        ),
        'cublasDgemm',
      );
      dev.launch(epilogue, rows * p.m, [arg.ptr(G), arg.ptr(xn, r0 * F64), arg.ptr(zn), arg.i32(rows), arg.i32(p.m), arg.f64(attrs.bandwidth)]);
    };
    if (!matmul) {
      const G = s.alloc(p.n * p.m * F64, 'kernel block');
      gramTile(G, 0, p.n);
      await dev.download(G, out);
      return [{ dtype: 'f64', shape: [p.n, p.m], data: out }];
    }
    const A = s.upload((inputs[2] as NdArray).data, 'a');
    const o0 = inputs[3];
    const beta = o0 !== undefined && attrs.beta !== 0 ? attrs.beta : 0;
    const O = beta !== 0 ? s.upload(o0?.data as Float64Array, 'out0') : s.alloc(out.byteLength, 'out');
    const T = tileRows(dev, p.n, p.m);
    const G = s.alloc(T * p.m * F64, 'kernel tile');
    for (let r0 = 0; r0 < p.n; r0 += T) {
      const rows = Math.min(T, p.n - r0);
      gramTile(G, r0, rows);
      // Oᵀ[:, r0:r0+rows] (c × rows) = Aᵀ (c × m) · K_tileᵀ (m × rows) + beta·Oᵀ
      blas.check(
        blas.api.cublasDgemm(
          blas.handle,
          BLAS.OP_N,
          BLAS.OP_N,
          p.c,
          rows,
          p.m,
          one,
          A.ptr,
          ld(p.c),
          G.ptr,
          p.m,
          new Float64Array([beta]),
          O.ptr + BigInt(r0 * p.c * F64),
          ld(p.c),
        ),
        'cublasDgemm',
      );
    }
    await dev.download(O, out);
    return [{ dtype: 'f64', shape: [p.n, p.c], data: out }];
  });
}

/** GPU `kernel-block`. */
export const kernelBlockGpuImpl = (dev: GpuDevice, attrs: KernelBlockAttrs, inputs: readonly NdArray[]): Promise<NdArray[]> =>
  kernelBlockGpu(dev, attrs, inputs, false);
/** GPU `kernel-block-matmul`. */
export const kernelBlockMatmulGpuImpl = (dev: GpuDevice, attrs: KernelBlockAttrs, inputs: readonly NdArray[]): Promise<NdArray[]> =>
  kernelBlockGpu(dev, attrs, inputs, true);
