/**
 * cuBLAS and cuSOLVER (dense) through koffi. Device matrices are passed as 64-bit device
 * addresses (`uint64_t`, the same register class as a pointer on x86-64 and arm64); scalars
 * are host pointers (the default `CUBLAS_POINTER_MODE_HOST`). Both libraries are optional: a
 * GPU worker without them advertises only the ops that need neither.
 */
import { GramfleetError } from '@gramfleet/core';
import { bindAll, loadLibrary, outSlot, type CFunction } from './ffi';

/** cuBLAS entry points (v2 API). */
export const CUBLAS_PROTOTYPES = {
  cublasCreate: 'int cublasCreate_v2(_Out_ void **handle)',
  cublasDestroy: 'int cublasDestroy_v2(void *handle)',
  cublasGetVersion: 'int cublasGetVersion_v2(void *handle, _Out_ int *version)',
  cublasSetStream: 'int cublasSetStream_v2(void *handle, void *stream)',
  cublasSetMathMode: 'int cublasSetMathMode(void *handle, int mode)',
  cublasDgemm:
    'int cublasDgemm_v2(void *handle, int transa, int transb, int m, int n, int k, const double *alpha, uint64_t A, int lda, uint64_t B, int ldb, const double *beta, uint64_t C, int ldc)',
  cublasSgemm:
    'int cublasSgemm_v2(void *handle, int transa, int transb, int m, int n, int k, const float *alpha, uint64_t A, int lda, uint64_t B, int ldb, const float *beta, uint64_t C, int ldc)',
  cublasDgemv:
    'int cublasDgemv_v2(void *handle, int trans, int m, int n, const double *alpha, uint64_t A, int lda, uint64_t x, int incx, const double *beta, uint64_t y, int incy)',
} as const;

/** cuSOLVER dense entry points. */
export const CUSOLVER_PROTOTYPES = {
  cusolverDnCreate: 'int cusolverDnCreate(_Out_ void **handle)',
  cusolverDnDestroy: 'int cusolverDnDestroy(void *handle)',
  cusolverDnSetStream: 'int cusolverDnSetStream(void *handle, void *stream)',
  cusolverDnDpotrfBufferSize: 'int cusolverDnDpotrf_bufferSize(void *handle, int uplo, int n, uint64_t A, int lda, _Out_ int *lwork)',
  cusolverDnDpotrf: 'int cusolverDnDpotrf(void *handle, int uplo, int n, uint64_t A, int lda, uint64_t work, int lwork, uint64_t devInfo)',
  cusolverDnDsyevdBufferSize: 'int cusolverDnDsyevd_bufferSize(void *handle, int jobz, int uplo, int n, uint64_t A, int lda, uint64_t W, _Out_ int *lwork)',
  cusolverDnDsyevd:
    'int cusolverDnDsyevd(void *handle, int jobz, int uplo, int n, uint64_t A, int lda, uint64_t W, uint64_t work, int lwork, uint64_t devInfo)',
} as const;

/** cuBLAS / cuSOLVER enum values used here. */
export const BLAS = {
  OP_N: 0,
  OP_T: 1,
  FILL_LOWER: 0,
  FILL_UPPER: 1,
  EIG_MODE_VECTOR: 1,
  /** cublasMath_t: CUBLAS_DEFAULT_MATH, CUBLAS_PEDANTIC_MATH, CUBLAS_TF32_TENSOR_OP_MATH. */
  MATH_DEFAULT: 0,
  MATH_PEDANTIC: 2,
  MATH_TF32: 3,
} as const;

/** A cuBLAS handle bound to a stream. */
export interface Cublas {
  readonly api: Record<keyof typeof CUBLAS_PROTOTYPES, CFunction>;
  readonly handle: unknown;
  readonly version: number;
  readonly path: string;
  /** Throws `GPU_CUDA_ERROR` naming the call when status ≠ CUBLAS_STATUS_SUCCESS. */
  check(status: number, call: string): void;
  /** TF32 tensor-core math for single-precision GEMMs (`true`) or the default (`false`). */
  setTf32(on: boolean): void;
  destroy(): void;
}

/** A cuSOLVER dense handle bound to a stream. */
export interface Cusolver {
  readonly api: Record<keyof typeof CUSOLVER_PROTOTYPES, CFunction>;
  readonly handle: unknown;
  readonly path: string;
  check(status: number, call: string): void;
  destroy(): void;
}

/** Opens cuBLAS on `stream`; throws `GPU_LIBRARY_MISSING` when the library is absent. */
export function openCublas(stream: unknown, libDirs: readonly string[] = []): Cublas {
  const loaded = loadLibrary({ what: 'cuBLAS', names: ['libcublas.so.12', 'libcublas.so.13', 'libcublas.so'], dirs: libDirs, code: 'GPU_LIBRARY_MISSING' });
  const api = bindAll(loaded, 'cuBLAS', CUBLAS_PROTOTYPES);
  const check = statusChecker('cuBLAS');
  const h = outSlot();
  check(api.cublasCreate(h), 'cublasCreate');
  const handle = h[0];
  check(api.cublasSetStream(handle, stream), 'cublasSetStream');
  const v = outSlot();
  check(api.cublasGetVersion(handle, v), 'cublasGetVersion');
  return {
    api,
    handle,
    version: Number(v[0]),
    path: loaded.path,
    check,
    setTf32(on: boolean): void {
      check(api.cublasSetMathMode(handle, on ? BLAS.MATH_TF32 : BLAS.MATH_DEFAULT), 'cublasSetMathMode');
    },
    destroy(): void {
      api.cublasDestroy(handle);
    },
  };
}

/** Opens cuSOLVER (dense) on `stream`; throws `GPU_LIBRARY_MISSING` when absent. */
export function openCusolver(stream: unknown, libDirs: readonly string[] = []): Cusolver {
  const loaded = loadLibrary({
    what: 'cuSOLVER',
    names: ['libcusolver.so.11', 'libcusolver.so.12', 'libcusolver.so'],
    dirs: libDirs,
    code: 'GPU_LIBRARY_MISSING',
  });
  const api = bindAll(loaded, 'cuSOLVER', CUSOLVER_PROTOTYPES);
  const check = statusChecker('cuSOLVER');
  const h = outSlot();
  check(api.cusolverDnCreate(h), 'cusolverDnCreate');
  const handle = h[0];
  check(api.cusolverDnSetStream(handle, stream), 'cusolverDnSetStream');
  return { api, handle, path: loaded.path, check, destroy: () => void api.cusolverDnDestroy(handle) };
}

function statusChecker(lib: string): (status: number, call: string) => void {
  return (status: number, call: string): void => {
    if (status === 0) return;
    // CUBLAS_STATUS_ALLOC_FAILED = 3, CUSOLVER_STATUS_ALLOC_FAILED = 2
    const oom = (lib === 'cuBLAS' && status === 3) || (lib === 'cuSOLVER' && status === 2);
    throw new GramfleetError(oom ? 'GPU_OUT_OF_MEMORY' : 'GPU_CUDA_ERROR', `${call} failed with ${lib} status ${status}`, { call, status, library: lib });
  };
}
