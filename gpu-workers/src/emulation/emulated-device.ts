/**
 * A CPU emulation of the GPU device for tests on machines without one. It plugs into the real
 * `assembleGpuDevice` (so the real host code runs: copy planning and staged copies, the
 * allocator, kernel argument packing, every GPU op's host side) with:
 * - a fake driver whose "device memory" is host memory (koffi.alloc; device addresses are
 *   real host addresses), whose copies are memcpy and whose `cuLaunchKernel` calls the C++
 *   build of the CUDA sources (see cpu-kernels.ts) with the packed `kernelParams`;
 * - cuBLAS `Dgemm`/`Sgemm`/`Dgemv` written from the BLAS specification (column-major, `op`,
 *   leading dimensions checked as cuBLAS checks them, beta = 0 not reading C);
 * - cuSOLVER `potrf`/`syevd` with LAPACK's storage conventions (upper triangle of a
 *   column-major matrix; `info` > 0 on failure), the numbers from core's references.
 * The emulation shows that the host code drives the libraries as their specifications say; it
 * is not evidence that anything works on a GPU. It is never registered as a worker.
 */
import { GramfleetError, eighReference } from '@gramfleet/core';
import { koffi, type CFunction } from '../cuda/ffi';
import { DRIVER_PROTOTYPES, type DriverApi } from '../cuda/driver';
import { BLAS, CUBLAS_PROTOTYPES, CUSOLVER_PROTOTYPES, type Cublas, type Cusolver } from '../cuda/blas';
import { assembleGpuDevice, type GpuDevice } from '../device';
import { DeviceAllocator } from '../memory/allocator';
import type { CopyPlanOptions } from '../memory/copy-plan';
import { buildCpuKernels } from './cpu-kernels';

/** Options of {@link openEmulatedGpuDevice}. */
export interface EmulatedGpuOptions {
  /** @default 256 MiB */
  readonly budgetBytes?: number;
  readonly copy?: CopyPlanOptions;
  /** Leave out cuBLAS / cuSOLVER (to test the worker without them). */
  readonly withoutCublas?: boolean;
  readonly withoutCusolver?: boolean;
}

interface Region {
  readonly ext: unknown;
  readonly base: bigint;
  readonly bytes: number;
}

/** Opens the CPU-emulated device (needs a host C++ compiler; throws GPU_COMPILE_FAILED without one). */
export function openEmulatedGpuDevice(o: EmulatedGpuOptions = {}): GpuDevice {
  const kernels = buildCpuKernels();
  const regions = new Map<bigint, Region>();
  const find = (addr: bigint, bytes: number): Region => {
    for (const r of regions.values()) if (addr >= r.base && addr + BigInt(bytes) <= r.base + BigInt(r.bytes)) return r;
    throw new GramfleetError('GPU_CUDA_ERROR', `emulated device: [0x${addr.toString(16)}, +${bytes}) is outside every allocation (CUDA_ERROR_ILLEGAL_ADDRESS)`);
  };
  const bytesAt = (addr: bigint, bytes: number): Uint8Array => {
    const r = find(addr, bytes);
    return new Uint8Array(koffi.view(r.ext, r.bytes), Number(addr - r.base), bytes);
  };
  /** Float64Array / Float32Array view from `addr` to the end of its allocation. */
  const f64At = (addr: bigint): Float64Array => {
    const r = find(addr, 0);
    return new Float64Array(koffi.view(r.ext, r.bytes), Number(addr - r.base), Math.floor((r.bytes - Number(addr - r.base)) / 8));
  };
  const f32At = (addr: bigint): Float32Array => {
    const r = find(addr, 0);
    return new Float32Array(koffi.view(r.ext, r.bytes), Number(addr - r.base), Math.floor((r.bytes - Number(addr - r.base)) / 4));
  };
  const hostBytes = (ext: unknown, bytes: number): Uint8Array => new Uint8Array(koffi.view(ext, bytes));
  const ok = 0;
  const notEmulated =
    (name: string): CFunction =>
    () => {
      throw new Error(`emulated driver: ${name} is not emulated`);
    };
  const api = Object.fromEntries(Object.keys(DRIVER_PROTOTYPES).map((k) => [k, notEmulated(k)])) as DriverApi;
  Object.assign(api, {
    cuMemcpyHtoD: (dst: bigint, src: Uint8Array, n: number) => {
      bytesAt(dst, n).set(src.subarray(0, n));
      return ok;
    },
    cuMemcpyDtoH: (dst: Uint8Array, src: bigint, n: number) => {
      dst.set(bytesAt(src, n));
      return ok;
    },
    cuMemcpyHtoDAsync: (dst: bigint, src: unknown, n: number) => {
      bytesAt(dst, n).set(hostBytes(src, n));
      return ok;
    },
    cuMemcpyDtoHAsync: (dst: unknown, src: bigint, n: number) => {
      hostBytes(dst, n).set(bytesAt(src, n));
      return ok;
    },
    cuMemsetD8Async: (dst: bigint, v: number, n: number) => {
      bytesAt(dst, n).fill(v);
      return ok;
    },
    cuMemHostAlloc: (out: unknown[], n: number) => {
      out[0] = koffi.alloc('uint8_t', n);
      return ok;
    },
    cuMemFreeHost: (p: unknown) => {
      koffi.free(p);
      return ok;
    },
    cuEventCreate: (out: unknown[]) => {
      out[0] = { event: true };
      return ok;
    },
    cuEventRecord: () => ok,
    cuEventSynchronize: () => ok,
    cuEventDestroy: () => ok,
    cuStreamQuery: () => ok,
    cuLaunchKernel: (
      fn: unknown,
      gx: number,
      gy: number,
      gz: number,
      bx: number,
      by: number,
      bz: number,
      _shared: number,
      _stream: unknown,
      params: unknown[],
    ) => {
      if (gy !== 1 || gz !== 1 || by !== 1 || bz !== 1) throw new Error('emulated driver: only 1-D launches');
      (fn as CFunction)(gx, bx, params);
      return ok;
    },
  });
  const check = (s: number, call: string): void => {
    if (s !== 0) throw new GramfleetError('GPU_CUDA_ERROR', `${call} failed with ${s}`, { call, status: s });
  };
  const allocator = new DeviceAllocator(
    {
      alloc(bytes: number): bigint {
        const ext = koffi.alloc('uint8_t', bytes);
        const base = koffi.address(ext);
        regions.set(base, { ext, base, bytes });
        return base;
      },
      free(ptr: bigint): void {
        const r = regions.get(ptr);
        if (r === undefined) throw new Error(`emulated cuMemFree of unknown 0x${ptr.toString(16)}`);
        regions.delete(ptr);
        koffi.free(r.ext);
      },
    },
    { budgetBytes: o.budgetBytes ?? 256 << 20 },
  );
  const cublas = o.withoutCublas === true ? undefined : emulatedCublas(f64At, f32At);
  const cusolver =
    o.withoutCusolver === true
      ? undefined
      : emulatedCusolver(f64At, (addr, v) => {
          new Int32Array(bytesAt(addr, 4).buffer, bytesAt(addr, 4).byteOffset, 1)[0] = v;
        });
  const missing: Record<string, string> = {};
  if (cublas === undefined) missing['cublas'] = 'left out of the emulation';
  if (cusolver === undefined) missing['cusolver'] = 'left out of the emulation';
  return assembleGpuDevice({
    api,
    check,
    stream: { stream: 'emulated' },
    functions: new Map(kernels.launchers),
    allocator,
    description: {
      ordinal: 0,
      name: 'CPU emulation (not a GPU)',
      totalMemBytes: o.budgetBytes ?? 256 << 20,
      computeCapability: '0.0',
      multiprocessors: 1,
      driverVersion: 0,
      driverPath: kernels.path,
      nvrtcVersion: 'none',
      cublasVersion: cublas === undefined ? null : 0,
      cusolver: cusolver !== undefined,
      memoryBudgetBytes: allocator.budgetBytes,
      tf32: false,
    },
    cublas,
    cusolver,
    missing,
    copy: o.copy ?? {},
    cleanup: [() => allocator.close()],
  });
}

function blasApi<K extends string>(protos: Readonly<Record<K, string>>, impl: Partial<Record<K, CFunction>>): Record<K, CFunction> {
  const api = {} as Record<K, CFunction>;
  for (const k of Object.keys(protos) as K[])
    api[k] =
      impl[k] ??
      ((() => {
        throw new Error(`emulated ${k} is not implemented`);
      }) as CFunction);
  return api;
}

const INVALID = 7; // CUBLAS_STATUS_INVALID_VALUE

function emulatedCublas(f64At: (a: bigint) => Float64Array, f32At: (a: bigint) => Float32Array): Cublas {
  const gemm =
    (at: (a: bigint) => Float64Array | Float32Array) =>
    (
      _h: unknown,
      ta: number,
      tb: number,
      m: number,
      n: number,
      k: number,
      alpha: ArrayLike<number>,
      A: bigint,
      lda: number,
      B: bigint,
      ldb: number,
      beta: ArrayLike<number>,
      C: bigint,
      ldc: number,
    ): number => {
      if (m < 0 || n < 0 || k < 0 || lda < Math.max(1, ta === BLAS.OP_N ? m : k) || ldb < Math.max(1, tb === BLAS.OP_N ? k : n) || ldc < Math.max(1, m))
        return INVALID;
      if (m === 0 || n === 0) return 0;
      const a = k > 0 ? at(A) : new Float64Array(0),
        b = k > 0 ? at(B) : new Float64Array(0),
        c = at(C);
      const al = alpha[0] as number,
        be = beta[0] as number;
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < m; i++) {
          let s = 0;
          for (let p = 0; p < k; p++) {
            const x = ta === BLAS.OP_N ? (a[i + p * lda] as number) : (a[p + i * lda] as number);
            const y = tb === BLAS.OP_N ? (b[p + j * ldb] as number) : (b[j + p * ldb] as number);
            s += x * y;
          }
          c[i + j * ldc] = be === 0 ? al * s : al * s + be * (c[i + j * ldc] as number);
        }
      }
      return 0;
    };
  const api = blasApi(CUBLAS_PROTOTYPES, {
    cublasDgemm: gemm(f64At) as CFunction,
    cublasSgemm: gemm(f32At) as CFunction,
    cublasDgemv: ((
      _h: unknown,
      tr: number,
      m: number,
      n: number,
      alpha: ArrayLike<number>,
      A: bigint,
      lda: number,
      X: bigint,
      incx: number,
      beta: ArrayLike<number>,
      Y: bigint,
      incy: number,
    ): number => {
      if (m < 0 || n < 0 || lda < Math.max(1, m) || incx === 0 || incy === 0) return INVALID;
      if (m === 0 || n === 0) return 0; // BLAS quick return: y is not scaled
      const a = f64At(A),
        x = f64At(X),
        y = f64At(Y);
      const lenY = tr === BLAS.OP_N ? m : n,
        lenX = tr === BLAS.OP_N ? n : m;
      for (let i = 0; i < lenY; i++) {
        let s = 0;
        for (let j = 0; j < lenX; j++) s += (tr === BLAS.OP_N ? (a[i + j * lda] as number) : (a[j + i * lda] as number)) * (x[j * incx] as number);
        const q = i * incy;
        y[q] = (beta[0] as number) === 0 ? (alpha[0] as number) * s : (alpha[0] as number) * s + (beta[0] as number) * (y[q] as number);
      }
      return 0;
    }) as CFunction,
    cublasSetMathMode: (() => 0) as CFunction,
  });
  return {
    api,
    handle: { cublas: 'emulated' },
    version: 0,
    path: 'emulated',
    check: (s, call) => {
      if (s !== 0) throw new GramfleetError('GPU_CUDA_ERROR', `${call} failed with cuBLAS status ${s}`, { call, status: s });
    },
    setTf32: () => undefined,
    destroy: () => undefined,
  };
}

function emulatedCusolver(f64At: (a: bigint) => Float64Array, writeInfo: (addr: bigint, v: number) => void): Cusolver {
  const api = blasApi(CUSOLVER_PROTOTYPES, {
    cusolverDnDpotrfBufferSize: ((_h: unknown, _u: number, _n: number, _a: bigint, _l: number, lw: unknown[]) => {
      lw[0] = 1;
      return 0;
    }) as CFunction,
    cusolverDnDpotrf: ((_h: unknown, uplo: number, n: number, A: bigint, lda: number, _w: bigint, _lw: number, info: bigint): number => {
      if (uplo !== BLAS.FILL_UPPER || lda < Math.max(1, n)) return 3; // only what the backend uses
      const a = f64At(A);
      // LAPACK dpotrf, UPLO = 'U': A = UᵀU; U overwrites the upper triangle (column-major), the strictly lower part is not referenced
      for (let j = 0; j < n; j++) {
        let d = a[j + j * lda] as number;
        for (let p = 0; p < j; p++) d -= (a[p + j * lda] as number) ** 2;
        if (!(d > 0)) {
          writeInfo(info, j + 1);
          return 0;
        }
        const ujj = Math.sqrt(d);
        a[j + j * lda] = ujj;
        for (let i = j + 1; i < n; i++) {
          let s = a[j + i * lda] as number;
          for (let p = 0; p < j; p++) s -= (a[p + j * lda] as number) * (a[p + i * lda] as number);
          a[j + i * lda] = s / ujj;
        }
      }
      writeInfo(info, 0);
      return 0;
    }) as CFunction,
    cusolverDnDsyevdBufferSize: ((_h: unknown, _j: number, _u: number, _n: number, _a: bigint, _l: number, _w: bigint, lw: unknown[]) => {
      lw[0] = 1;
      return 0;
    }) as CFunction,
    cusolverDnDsyevd: ((
      _h: unknown,
      jobz: number,
      uplo: number,
      n: number,
      A: bigint,
      lda: number,
      W: bigint,
      _wk: bigint,
      _lw: number,
      info: bigint,
    ): number => {
      if (jobz !== BLAS.EIG_MODE_VECTOR || uplo !== BLAS.FILL_UPPER || lda < Math.max(1, n)) return 3;
      const a = f64At(A);
      const full = new Float64Array(n * n); // from the upper triangle (column-major) only
      for (let j = 0; j < n; j++) for (let i = 0; i <= j; i++) full[i * n + j] = full[j * n + i] = a[i + j * lda] as number;
      const { w, v } = eighReference(n, full);
      f64At(W).set(w);
      for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) a[i + j * lda] = v[i * n + j] as number; // column j = eigenvector j
      writeInfo(info, 0);
      return 0;
    }) as CFunction,
  });
  return {
    api,
    handle: { cusolver: 'emulated' },
    path: 'emulated',
    check: (s, call) => {
      if (s !== 0) throw new GramfleetError('GPU_CUDA_ERROR', `${call} failed with cuSOLVER status ${s}`, { call, status: s });
    },
    destroy: () => undefined,
  };
}
