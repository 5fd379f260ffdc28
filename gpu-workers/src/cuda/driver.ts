/**
 * The CUDA driver API through koffi: initialisation and device discovery, contexts, device
 * and pinned host memory, synchronous and asynchronous copies, streams and events, PTX
 * modules and kernel launches. Without `libcuda.so.1`, or when `cuInit` finds no device,
 * {@link openDriver} throws `WORKER_NO_DEVICE` with the reason — never a crash.
 */
import { GramfleetError } from '@gramfleet/core';
import { bindAll, loadLibrary, outSlot, toAddress, type CFunction } from './ffi';

/** Driver entry points (the `_v2` symbols are what `cuda.h` maps the plain names to). */
export const DRIVER_PROTOTYPES = {
  cuInit: 'int cuInit(unsigned int flags)',
  cuDriverGetVersion: 'int cuDriverGetVersion(_Out_ int *version)',
  cuGetErrorName: 'int cuGetErrorName(int error, _Out_ const char **name)',
  cuDeviceGetCount: 'int cuDeviceGetCount(_Out_ int *count)',
  cuDeviceGet: 'int cuDeviceGet(_Out_ int *device, int ordinal)',
  cuDeviceGetName: 'int cuDeviceGetName(_Out_ uint8_t *name, int len, int device)',
  cuDeviceTotalMem: 'int cuDeviceTotalMem_v2(_Out_ size_t *bytes, int device)',
  cuDeviceGetAttribute: 'int cuDeviceGetAttribute(_Out_ int *value, int attribute, int device)',
  cuCtxCreate: 'int cuCtxCreate_v2(_Out_ void **ctx, unsigned int flags, int device)',
  cuCtxDestroy: 'int cuCtxDestroy_v2(void *ctx)',
  cuCtxSetCurrent: 'int cuCtxSetCurrent(void *ctx)',
  cuCtxSynchronize: 'int cuCtxSynchronize()',
  cuMemGetInfo: 'int cuMemGetInfo_v2(_Out_ size_t *free, _Out_ size_t *total)',
  cuMemAlloc: 'int cuMemAlloc_v2(_Out_ uint64_t *dptr, size_t bytes)',
  cuMemFree: 'int cuMemFree_v2(uint64_t dptr)',
  cuMemHostAlloc: 'int cuMemHostAlloc(_Out_ void **host, size_t bytes, unsigned int flags)',
  cuMemFreeHost: 'int cuMemFreeHost(void *host)',
  cuMemcpyHtoD: 'int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes)',
  cuMemcpyDtoH: 'int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes)',
  cuMemcpyHtoDAsync: 'int cuMemcpyHtoDAsync_v2(uint64_t dst, void *src, size_t bytes, void *stream)',
  cuMemcpyDtoHAsync: 'int cuMemcpyDtoHAsync_v2(void *dst, uint64_t src, size_t bytes, void *stream)',
  cuMemsetD8Async: 'int cuMemsetD8Async(uint64_t dst, uint8_t value, size_t count, void *stream)',
  cuStreamCreate: 'int cuStreamCreate(_Out_ void **stream, unsigned int flags)',
  cuStreamDestroy: 'int cuStreamDestroy_v2(void *stream)',
  cuStreamQuery: 'int cuStreamQuery(void *stream)',
  cuStreamSynchronize: 'int cuStreamSynchronize(void *stream)',
  cuStreamWaitEvent: 'int cuStreamWaitEvent(void *stream, void *event, unsigned int flags)',
  cuEventCreate: 'int cuEventCreate(_Out_ void **event, unsigned int flags)',
  cuEventRecord: 'int cuEventRecord(void *event, void *stream)',
  cuEventQuery: 'int cuEventQuery(void *event)',
  cuEventSynchronize: 'int cuEventSynchronize(void *event)',
  cuEventElapsedTime: 'int cuEventElapsedTime(_Out_ float *ms, void *start, void *end)',
  cuEventDestroy: 'int cuEventDestroy_v2(void *event)',
  cuModuleLoadData: 'int cuModuleLoadData(_Out_ void **module, const void *image)',
  cuModuleGetFunction: 'int cuModuleGetFunction(_Out_ void **fn, void *module, const char *name)',
  cuModuleUnload: 'int cuModuleUnload(void *module)',
  cuLaunchKernel:
    'int cuLaunchKernel(void *fn, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int sharedBytes, void *stream, void **params, void **extra)',
} as const;

/** CUresult values this code branches on. */
export const CU = {
  SUCCESS: 0,
  ERROR_OUT_OF_MEMORY: 2,
  ERROR_NOT_INITIALIZED: 3,
  ERROR_NO_DEVICE: 100,
  ERROR_INVALID_DEVICE: 101,
  ERROR_NOT_READY: 600,
  /** CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / MINOR, MULTIPROCESSOR_COUNT. */
  ATTR_CC_MAJOR: 75,
  ATTR_CC_MINOR: 76,
  ATTR_SM_COUNT: 16,
  /** CU_MEMHOSTALLOC_PORTABLE. */
  HOSTALLOC_PORTABLE: 1,
  /** CU_STREAM_NON_BLOCKING. */
  STREAM_NON_BLOCKING: 1,
  /** CU_EVENT_DISABLE_TIMING. */
  EVENT_DISABLE_TIMING: 2,
} as const;

/** The bound driver. */
export type DriverApi = Record<keyof typeof DRIVER_PROTOTYPES, CFunction>;

/** What a GPU worker advertises in the worker registry. */
export interface GpuDeviceInfo {
  readonly ordinal: number;
  readonly name: string;
  readonly totalMemBytes: number;
  /** e.g. `'8.0'` (A100), `'9.0'` (H100). */
  readonly computeCapability: string;
  readonly multiprocessors: number;
  /** `cuDriverGetVersion`, e.g. 12040 for CUDA 12.4. */
  readonly driverVersion: number;
  /** Where libcuda was loaded from. */
  readonly driverPath: string;
}

/** Options of {@link openDriver}. */
export interface DriverOptions {
  /** Directories searched for `libcuda.so.1` before the system's default. @default [] */
  readonly libDirs?: readonly string[];
  /** Device ordinal. @default 0 */
  readonly ordinal?: number;
}

/** A driver with one device selected (no context yet). */
export interface OpenedDriver {
  readonly api: DriverApi;
  readonly device: number;
  readonly info: GpuDeviceInfo;
  /** Throws a typed error when `status` is not CUDA_SUCCESS. */
  check(status: number, call: string): void;
}

/**
 * Loads libcuda, initialises it and selects a device. Throws `WORKER_NO_DEVICE` when the
 * library is absent, `cuInit` fails (no driver, no device) or the ordinal does not exist.
 */
export function openDriver(o: DriverOptions = {}): OpenedDriver {
  const loaded = loadLibrary({ what: 'CUDA driver', names: ['libcuda.so.1', 'libcuda.so'], dirs: o.libDirs ?? [], code: 'WORKER_NO_DEVICE' });
  let api: DriverApi;
  try {
    api = bindAll(loaded, 'CUDA driver', DRIVER_PROTOTYPES);
  } catch (e) {
    throw new GramfleetError('WORKER_NO_DEVICE', `the CUDA driver at ${loaded.path} is unusable: ${(e as Error).message}`, { path: loaded.path });
  }
  const name = (s: number): string => errorName(api, s);
  const init = api.cuInit(0);
  if (init !== CU.SUCCESS)
    throw new GramfleetError('WORKER_NO_DEVICE', `cuInit failed with ${name(init)} (${init}): no usable CUDA device`, { status: init, path: loaded.path });
  const count = outSlot();
  const cs = api.cuDeviceGetCount(count);
  const n = Number(count[0] ?? 0);
  const ordinal = o.ordinal ?? 0;
  if (cs !== CU.SUCCESS || n === 0)
    throw new GramfleetError('WORKER_NO_DEVICE', `no CUDA device (cuDeviceGetCount: ${name(cs)}, count ${n})`, { status: cs, count: n });
  if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= n)
    throw new GramfleetError('WORKER_NO_DEVICE', `device ordinal must be in [0, ${n}), got ${ordinal}`, {
      field: 'ordinal',
      bound: `[0, ${n})`,
      value: ordinal,
    });
  const check = (status: number, call: string): void => {
    if (status !== CU.SUCCESS) {
      const code = status === CU.ERROR_OUT_OF_MEMORY ? 'GPU_OUT_OF_MEMORY' : 'GPU_CUDA_ERROR';
      throw new GramfleetError(code, `${call} failed with ${name(status)} (${status})`, { call, status });
    }
  };
  const dev = outSlot();
  check(api.cuDeviceGet(dev, ordinal), 'cuDeviceGet');
  const device = Number(dev[0]);
  const nameBuf = new Uint8Array(256);
  check(api.cuDeviceGetName(nameBuf, nameBuf.length, device), 'cuDeviceGetName');
  const mem = outSlot();
  check(api.cuDeviceTotalMem(mem, device), 'cuDeviceTotalMem');
  const attr = (a: number): number => {
    const v = outSlot();
    check(api.cuDeviceGetAttribute(v, a, device), 'cuDeviceGetAttribute');
    return Number(v[0]);
  };
  const ver = outSlot();
  check(api.cuDriverGetVersion(ver), 'cuDriverGetVersion');
  const info: GpuDeviceInfo = {
    ordinal,
    name: cString(nameBuf),
    totalMemBytes: Number(toAddress(mem[0])),
    computeCapability: `${attr(CU.ATTR_CC_MAJOR)}.${attr(CU.ATTR_CC_MINOR)}`,
    multiprocessors: attr(CU.ATTR_SM_COUNT),
    driverVersion: Number(ver[0]),
    driverPath: loaded.path,
  };
  return { api, device, info, check };
}

/** The CUresult's name (`CUDA_ERROR_…`), or its number. */
export function errorName(api: DriverApi, status: number): string {
  const out = outSlot();
  try {
    if (api.cuGetErrorName(status, out) === CU.SUCCESS && typeof out[0] === 'string') return out[0];
  } catch {
    /* fall through */
  }
  return `CUresult ${status}`;
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString('utf8');
}
