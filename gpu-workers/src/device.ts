/**
 * One GPU as the kernels see it: a context and a stream on the device, the NVRTC-compiled
 * modules of the backend, cuBLAS and cuSOLVER handles on that stream (when the libraries are
 * present), the byte-budgeted allocator, and host↔device copies (direct for small arrays,
 * staged through pinned buffers for large ones). Waiting for the stream polls
 * `cuStreamQuery`, so the worker's event loop (NATS heartbeats, in-progress acks) keeps
 * running while the GPU computes.
 */
import { GramfleetError, type AnyTypedArray } from '@gramfleet/core';
import { koffi, outSlot, toAddress } from './cuda/ffi';
import { CU, openDriver, type DriverApi, type GpuDeviceInfo, type OpenedDriver } from './cuda/driver';
import { openNvrtc, type Nvrtc } from './cuda/nvrtc';
import { openCublas, openCusolver, type Cublas, type Cusolver } from './cuda/blas';
import { DeviceAllocator, type DeviceBlock } from './memory/allocator';
import { planCopy, type CopyPlanOptions } from './memory/copy-plan';
import { CUDA_MODULES, type CudaModule } from './kernels/sources';

/** Options of {@link openGpuDevice}. */
export interface GpuDeviceOptions {
  /** Device ordinal. @default 0 */
  readonly ordinal?: number;
  /** Directories searched for libcuda, libnvrtc, libcublas, libcusolver before the system's. */
  readonly libDirs?: readonly string[];
  /** Byte budget of the allocator. @default 80 % of the free device memory at start */
  readonly memoryBudgetBytes?: number;
  /** On-disk PTX cache. @default none */
  readonly ptxCacheDir?: string;
  /** Host↔device copy tunables. */
  readonly copy?: CopyPlanOptions;
  /** Allow TF32 tensor-core math for single-precision GEMMs. @default false */
  readonly tf32?: boolean;
  /** Modules to compile. @default every module of the backend */
  readonly modules?: readonly CudaModule[];
}

/** A kernel argument. */
export type KernelArg =
  | { readonly t: 'ptr'; readonly v: bigint }
  | { readonly t: 'i32' | 'u32'; readonly v: number }
  | { readonly t: 'i64'; readonly v: number }
  | { readonly t: 'f64'; readonly v: number };

/** Argument helpers. */
export const arg = {
  ptr: (b: DeviceBlock | bigint, byteOffset = 0): KernelArg => ({ t: 'ptr', v: (typeof b === 'bigint' ? b : b.ptr) + BigInt(byteOffset) }),
  i32: (v: number): KernelArg => ({ t: 'i32', v }),
  u32: (v: number): KernelArg => ({ t: 'u32', v }),
  i64: (v: number): KernelArg => ({ t: 'i64', v }),
  f64: (v: number): KernelArg => ({ t: 'f64', v }),
};

/** Everything a GPU worker advertises about its device and its CUDA stack. */
export interface GpuDescription extends GpuDeviceInfo {
  readonly nvrtcVersion: string;
  readonly cublasVersion: number | null;
  readonly cusolver: boolean;
  readonly memoryBudgetBytes: number;
  readonly tf32: boolean;
}

/** An opened GPU. */
export interface GpuDevice {
  readonly description: GpuDescription;
  readonly allocator: DeviceAllocator;
  /** cuBLAS on the device's stream, or undefined (with the reason in `missing`). */
  readonly cublas: Cublas | undefined;
  readonly cusolver: Cusolver | undefined;
  /** Libraries that could not be opened, with the reason. */
  readonly missing: Readonly<Record<string, string>>;
  readonly tf32: boolean;
  /** Allocates device memory within the budget. */
  alloc(bytes: number, what: string): DeviceBlock;
  /** Copies a host array to fresh device memory. */
  upload(data: AnyTypedArray, what: string): DeviceBlock;
  /** Waits for the stream, then copies `out.byteLength` bytes from `src` into `out`. */
  download<T extends AnyTypedArray>(src: DeviceBlock, out: T, byteOffset?: number): Promise<T>;
  /** Sets `bytes` bytes of a block to zero (stream-ordered). */
  zero(b: DeviceBlock, bytes?: number): void;
  /** Launches `entry` over `threads` threads (1-D grid, `block` threads per block). */
  launch(entry: string, threads: number, args: readonly KernelArg[], block?: number): void;
  /** Waits until the stream is idle without blocking the event loop. */
  sync(): Promise<void>;
  /** Runs `f` with a scope whose blocks are all released when it ends. */
  scoped<R>(f: (s: BufferScope) => Promise<R>): Promise<R>;
  close(): void;
}

/** Blocks allocated in a scope, released together. */
export interface BufferScope {
  alloc(bytes: number, what: string): DeviceBlock;
  upload(data: AnyTypedArray, what: string): DeviceBlock;
}

/**
 * Opens a GPU: driver (throws `WORKER_NO_DEVICE` without one), context, stream, NVRTC
 * compile of every module (throws `GPU_LIBRARY_MISSING` / `GPU_COMPILE_FAILED`), and cuBLAS /
 * cuSOLVER when present.
 */
export function openGpuDevice(o: GpuDeviceOptions = {}): GpuDevice {
  const drv: OpenedDriver = openDriver({
    ...(o.libDirs !== undefined ? { libDirs: o.libDirs } : {}),
    ...(o.ordinal !== undefined ? { ordinal: o.ordinal } : {}),
  });
  const { api, check } = drv;
  const ctxOut = outSlot();
  check(api.cuCtxCreate(ctxOut, 0, drv.device), 'cuCtxCreate');
  const ctx = ctxOut[0];
  const cleanup: (() => void)[] = [() => void api.cuCtxDestroy(ctx)];
  try {
    const sOut = outSlot();
    check(api.cuStreamCreate(sOut, 0), 'cuStreamCreate');
    const stream = sOut[0];
    cleanup.push(() => void api.cuStreamDestroy(stream));
    const nvrtc: Nvrtc = openNvrtc({
      ...(o.libDirs !== undefined ? { libDirs: o.libDirs } : {}),
      ...(o.ptxCacheDir !== undefined ? { cacheDir: o.ptxCacheDir } : {}),
    });
    const functions = new Map<string, unknown>();
    for (const mod of o.modules ?? CUDA_MODULES) {
      const { ptx } = nvrtc.compile({ source: mod.source, name: mod.name, computeCapability: drv.info.computeCapability });
      const mOut = outSlot();
      check(api.cuModuleLoadData(mOut, Buffer.from(ptx + '\0', 'utf8')), `cuModuleLoadData(${mod.name})`);
      const module = mOut[0];
      cleanup.push(() => void api.cuModuleUnload(module));
      for (const e of mod.entries) {
        const fOut = outSlot();
        check(api.cuModuleGetFunction(fOut, module, e), `cuModuleGetFunction(${e})`);
        functions.set(e, fOut[0]);
      }
    }
    const missing: Record<string, string> = {};
    let cublas: Cublas | undefined;
    let cusolver: Cusolver | undefined;
    try {
      cublas = openCublas(stream, o.libDirs ?? []);
      cleanup.push(() => cublas?.destroy());
    } catch (e) {
      missing['cublas'] = (e as Error).message;
    }
    try {
      cusolver = openCusolver(stream, o.libDirs ?? []);
      cleanup.push(() => cusolver?.destroy());
    } catch (e) {
      missing['cusolver'] = (e as Error).message;
    }
    const fr = outSlot(),
      tot = outSlot();
    check(api.cuMemGetInfo(fr, tot), 'cuMemGetInfo');
    const budget = o.memoryBudgetBytes ?? Math.floor(Number(toAddress(fr[0])) * 0.8);
    const allocator = new DeviceAllocator(
      {
        alloc(bytes: number): bigint {
          const p = outSlot();
          check(api.cuMemAlloc(p, bytes), 'cuMemAlloc');
          return toAddress(p[0]);
        },
        free(ptr: bigint): void {
          api.cuMemFree(ptr);
        },
      },
      { budgetBytes: budget },
    );
    cleanup.push(() => allocator.close());
    const tf32 = o.tf32 === true && cublas !== undefined;
    const description: GpuDescription = {
      ...drv.info,
      nvrtcVersion: nvrtc.version,
      cublasVersion: cublas?.version ?? null,
      cusolver: cusolver !== undefined,
      memoryBudgetBytes: budget,
      tf32,
    };
    return makeDevice(api, check, stream, functions, allocator, description, cublas, cusolver, missing, o.copy ?? {}, cleanup);
  } catch (e) {
    for (const c of cleanup.reverse()) {
      try {
        c();
      } catch {
        /* best effort */
      }
    }
    throw e;
  }
}

/** What {@link assembleGpuDevice} puts together (openGpuDevice, or a CPU emulation in tests). */
export interface GpuDeviceParts {
  readonly api: DriverApi;
  readonly check: (status: number, call: string) => void;
  readonly stream: unknown;
  /** Kernel entry name → CUfunction. */
  readonly functions: Map<string, unknown>;
  readonly allocator: DeviceAllocator;
  readonly description: GpuDescription;
  readonly cublas: Cublas | undefined;
  readonly cusolver: Cusolver | undefined;
  readonly missing: Record<string, string>;
  readonly copy: CopyPlanOptions;
  /** Run in reverse order by `close()`. */
  readonly cleanup: (() => void)[];
}

/** Builds a {@link GpuDevice} from opened parts. */
export function assembleGpuDevice(p: GpuDeviceParts): GpuDevice {
  return makeDevice(p.api, p.check, p.stream, p.functions, p.allocator, p.description, p.cublas, p.cusolver, p.missing, p.copy, p.cleanup);
}

function makeDevice(
  api: DriverApi,
  check: (s: number, call: string) => void,
  stream: unknown,
  functions: Map<string, unknown>,
  allocator: DeviceAllocator,
  description: GpuDescription,
  cublas: Cublas | undefined,
  cusolver: Cusolver | undefined,
  missing: Record<string, string>,
  copy: CopyPlanOptions,
  cleanup: (() => void)[],
): GpuDevice {
  // Pinned staging ring for large copies, created on first use.
  let stages: { host: unknown; view: Uint8Array; event: unknown }[] | undefined;
  const staging = (n: number, bytes: number): { host: unknown; view: Uint8Array; event: unknown }[] => {
    if (stages === undefined) {
      stages = [];
      for (let i = 0; i < n; i++) {
        const h = outSlot();
        check(api.cuMemHostAlloc(h, bytes, CU.HOSTALLOC_PORTABLE), 'cuMemHostAlloc');
        const ev = outSlot();
        check(api.cuEventCreate(ev, CU.EVENT_DISABLE_TIMING), 'cuEventCreate');
        stages.push({ host: h[0], view: new Uint8Array(koffi.view(h[0], bytes)), event: ev[0] });
      }
      cleanup.push(() => {
        for (const s of stages ?? []) {
          api.cuEventDestroy(s.event);
          api.cuMemFreeHost(s.host);
        }
      });
    }
    return stages;
  };
  const bytesOf = (a: AnyTypedArray): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

  const dev: GpuDevice = {
    description,
    allocator,
    cublas,
    cusolver,
    missing,
    tf32: description.tf32,
    alloc: (bytes, what) => allocator.alloc(bytes, what),
    upload(data: AnyTypedArray, what: string): DeviceBlock {
      const b = allocator.alloc(data.byteLength, what);
      if (data.byteLength === 0) return b;
      const plan = planCopy(data.byteLength, copy);
      const src = bytesOf(data);
      if (plan.mode === 'direct') {
        check(api.cuMemcpyHtoD(b.ptr, src, data.byteLength), 'cuMemcpyHtoD');
        return b;
      }
      const ring = staging(plan.stages, plan.stagingBytes);
      for (const c of plan.chunks) {
        const s = ring[c.stage] as (typeof ring)[number];
        if (c.waitForStage) check(api.cuEventSynchronize(s.event), 'cuEventSynchronize');
        s.view.set(src.subarray(c.offset, c.offset + c.bytes));
        check(api.cuMemcpyHtoDAsync(b.ptr + BigInt(c.offset), s.host, c.bytes, stream), 'cuMemcpyHtoDAsync');
        check(api.cuEventRecord(s.event, stream), 'cuEventRecord');
      }
      return b;
    },
    async download<T extends AnyTypedArray>(src: DeviceBlock, out: T, byteOffset = 0): Promise<T> {
      await dev.sync();
      if (out.byteLength === 0) return out;
      const dst = bytesOf(out);
      const plan = planCopy(out.byteLength, copy);
      if (plan.mode === 'direct') {
        check(api.cuMemcpyDtoH(dst, src.ptr + BigInt(byteOffset), out.byteLength), 'cuMemcpyDtoH');
        return out;
      }
      const ring = staging(plan.stages, plan.stagingBytes);
      const drain = (i: number): void => {
        const c = plan.chunks[i];
        if (c === undefined) return;
        const s = ring[c.stage] as (typeof ring)[number];
        check(api.cuEventSynchronize(s.event), 'cuEventSynchronize');
        dst.set(s.view.subarray(0, c.bytes), c.offset);
      };
      plan.chunks.forEach((c, i) => {
        // the stage's previous chunk (i − stages) must be copied out before it is refilled
        if (c.waitForStage) drain(i - plan.stages);
        const s = ring[c.stage] as (typeof ring)[number];
        check(api.cuMemcpyDtoHAsync(s.host, src.ptr + BigInt(byteOffset + c.offset), c.bytes, stream), 'cuMemcpyDtoHAsync');
        check(api.cuEventRecord(s.event, stream), 'cuEventRecord');
      });
      for (let i = Math.max(0, plan.chunks.length - plan.stages); i < plan.chunks.length; i++) drain(i);
      return out;
    },
    zero(b: DeviceBlock, bytes = b.bytes): void {
      if (bytes > 0) check(api.cuMemsetD8Async(b.ptr, 0, bytes, stream), 'cuMemsetD8Async');
    },
    launch(entry: string, threads: number, args: readonly KernelArg[], block = 256): void {
      if (threads <= 0) return;
      const fn = functions.get(entry);
      if (fn === undefined) throw new GramfleetError('GPU_CUDA_ERROR', `no compiled kernel named ${entry}`, { entry });
      const grid = Math.ceil(threads / block);
      if (grid > 0x7fffffff) throw new GramfleetError('INPUT_TOO_LARGE', `${entry}: ${threads} threads exceed one 1-D grid`, { entry, threads });
      const params = args.map(packArg);
      check(api.cuLaunchKernel(fn, grid, 1, 1, block, 1, 1, 0, stream, params, null), `cuLaunchKernel(${entry})`);
    },
    async sync(): Promise<void> {
      for (let wait = 0; ; wait = Math.min(2, wait + 0.25)) {
        const s = api.cuStreamQuery(stream);
        if (s === CU.SUCCESS) return;
        if (s !== CU.ERROR_NOT_READY) check(s, 'cuStreamQuery');
        await new Promise((r) => (wait === 0 ? setImmediate(r) : setTimeout(r, wait)));
      }
    },
    async scoped<R>(f: (s: BufferScope) => Promise<R>): Promise<R> {
      const blocks: DeviceBlock[] = [];
      const scope: BufferScope = {
        alloc: (bytes, what) => {
          const b = allocator.alloc(bytes, what);
          blocks.push(b);
          return b;
        },
        upload: (data, what) => {
          const b = dev.upload(data, what);
          blocks.push(b);
          return b;
        },
      };
      try {
        return await f(scope);
      } finally {
        // kernels may still read these blocks: wait before they go back to the free list
        await dev.sync().catch(() => undefined);
        for (const b of blocks) allocator.release(b);
      }
    },
    close(): void {
      for (const c of cleanup.reverse()) {
        try {
          c();
        } catch {
          /* best effort */
        }
      }
      cleanup.length = 0;
    },
  };
  return dev;
}

/** Packs a kernel argument into the bytes cuLaunchKernel reads through `kernelParams`. */
export function packArg(a: KernelArg): Buffer {
  switch (a.t) {
    case 'ptr': {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(a.v);
      return b;
    }
    case 'i64': {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(a.v));
      return b;
    }
    case 'f64': {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(a.v);
      return b;
    }
    case 'i32': {
      const b = Buffer.alloc(4);
      b.writeInt32LE(a.v);
      return b;
    }
    case 'u32': {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(a.v >>> 0);
      return b;
    }
  }
}
