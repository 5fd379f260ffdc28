/**
 * Multi-core kernels: one op uses every core through worker_threads that share one
 * `WebAssembly.Memory`. Each thread instantiates the same kernel module over the shared
 * memory; the host copies inputs in once, splits the work by rows (GEMM row panels, kernel
 * block rows, SpMV row ranges balanced by non-zeros), runs one kernel call per thread and
 * waits for all. Kernels still never allocate: every thread gets its own workspace.
 *
 * The kernel module is built importing a non-shared memory (asconfig `sharedMemory: false`,
 * so the single-thread arena path and every other user stay unchanged); {@link sharedVariant}
 * rewrites the memory import's limits to `shared` with a maximum, which is all a module that
 * uses no atomics needs to run over a `SharedArrayBuffer`.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  GramfleetError,
  KERNEL_FUNCTIONS,
  csrSpmvOp,
  csrSpmvProblem,
  gemmOp,
  gemmOutput,
  gemmProblem,
  kernelBlockOp,
  kernelBlockProblem,
  type CsrSpmvAttrs,
  type GemmAttrs,
  type KernelBlockAttrs,
  type KernelRegistry,
  type NdArray,
} from '@gramfleet/core';
import type { ParallelCall, ParallelReply, ParallelThreadData } from './parallel-thread';

const PAGE = 65536;

function readLeb(b: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = b[pos++] as number;
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [result, pos];
  }
}

function leb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/**
 * Returns a copy of a module binary whose imported memory is declared `shared` with maximum
 * `maxPages`. Throws `KERNEL_NOT_REGISTERED` when the module imports no memory.
 */
export function sharedVariant(wasm: Uint8Array, maxPages: number): Uint8Array<ArrayBuffer> {
  let pos = 8;
  while (pos < wasm.length) {
    const id = wasm[pos] as number;
    const [size, body] = readLeb(wasm, pos + 1);
    const end = body + size;
    if (id === 2) {
      const [count, p0] = readLeb(wasm, body);
      let p = p0;
      for (let i = 0; i < count; i++) {
        const [ml, a] = readLeb(wasm, p);
        p = a + ml;
        const [fl, b] = readLeb(wasm, p);
        p = b + fl;
        const kind = wasm[p++] as number;
        if (kind === 0x02) {
          const limStart = p;
          const flag = wasm[p++] as number;
          let min: number;
          [min, p] = readLeb(wasm, p);
          if ((flag & 1) === 1) [, p] = readLeb(wasm, p);
          const limits = [0x03, ...leb(min), ...leb(maxPages)];
          const newBody = [...wasm.subarray(body, limStart), ...limits, ...wasm.subarray(p, end)];
          return Uint8Array.from([...wasm.subarray(0, pos), 2, ...leb(newBody.length), ...newBody, ...wasm.subarray(end)]);
        }
        if (kind === 0x00) [, p] = readLeb(wasm, p);
        else if (kind === 0x01) {
          p++;
          const f = wasm[p++] as number;
          [, p] = readLeb(wasm, p);
          if ((f & 1) === 1) [, p] = readLeb(wasm, p);
        } else if (kind === 0x03) p += 2;
        else p++;
      }
    }
    pos = end;
  }
  throw new GramfleetError('KERNEL_NOT_REGISTERED', 'kernel module imports no memory; cannot share it between threads', {});
}

/** Options of {@link createParallelKernels}. */
export interface ParallelKernelsOptions {
  /** Worker threads (one per core the worker owns). @default 2 */
  readonly threads?: number;
  /** Upper bound on the shared memory, in bytes. @default 2 GiB */
  readonly maxBytes?: number;
}

/** A pool of threads running the kernel module over one shared memory. */
export interface ParallelKernels {
  readonly threads: number;
  readonly memory: WebAssembly.Memory;
  /** Allocates `bytes` (zeroed, 64-byte aligned) in the shared memory. */
  alloc(bytes: number): number;
  /** Copies a typed array into the shared memory. */
  put(a: Float64Array | Float32Array | Int32Array): number;
  /** Frees every allocation. */
  reset(): void;
  /** A live f64 view. */
  f64(ptr: number, n: number): Float64Array;
  /** Calls `fn(args[t])` on thread t for every entry and resolves with the statuses. */
  runAll(fn: string, argsPerThread: ReadonlyArray<readonly number[]>): Promise<number[]>;
  /** Calls an export on the host's own instance (cheap queries such as workspace sizes). */
  local(fn: string, ...args: number[]): number;
  /** Stops the threads. */
  close(): Promise<void>;
}

/** Starts `threads` worker threads over one shared memory running the kernel module `wasm`. */
export async function createParallelKernels(wasm: Uint8Array, opts: ParallelKernelsOptions = {}): Promise<ParallelKernels> {
  const threads = Math.max(1, opts.threads ?? 2);
  const maxPages = Math.floor((opts.maxBytes ?? 2 ** 31) / PAGE);
  const module = new WebAssembly.Module(sharedVariant(wasm, maxPages));
  const memory = new WebAssembly.Memory({ initial: 16, maximum: maxPages, shared: true });
  const host = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: (): never => {
        throw new Error('kernel aborted');
      },
    },
  });
  const hostExports = host.exports as Record<string, unknown>;
  const local = (fn: string, ...args: number[]): number => {
    const f = hostExports[fn];
    if (typeof f !== 'function') throw new GramfleetError('KERNEL_NOT_REGISTERED', `kernel module has no export ${fn}`, { export: fn });
    return (f as (...a: number[]) => number)(...args);
  };
  const base = Math.ceil(local('gf_heap_base') / 64) * 64;
  let top = base;
  const file = path.join(__dirname, 'parallel-thread.js');
  const workers: Worker[] = [];
  const pending = new Map<number, { resolve: (s: number) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(file, { workerData: { module, memory } satisfies ParallelThreadData });
          workers.push(w);
          w.on('error', (e) => {
            for (const p of pending.values()) p.reject(e);
            pending.clear();
            reject(e);
          });
          w.on('message', (r: ParallelReply) => {
            if (r.id === -1) {
              resolve();
              return;
            }
            const p = pending.get(r.id);
            if (p === undefined) return;
            pending.delete(r.id);
            if (r.error !== undefined) p.reject(new GramfleetError('KERNEL_TRAP', `parallel kernel trapped: ${r.error}`, {}));
            else p.resolve(r.status ?? -1);
          });
        }),
    ),
  );
  const call = (w: Worker, fn: string, args: readonly number[]): Promise<number> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      w.postMessage({ id, fn, args } satisfies ParallelCall);
    });
  const alloc = (bytes: number): number => {
    const p = Math.ceil(top / 64) * 64;
    const end = p + Math.max(bytes, 8);
    const have = memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      if (have / PAGE + pages > maxPages)
        throw new GramfleetError('INPUT_TOO_LARGE', `parallel arena needs ${end} bytes, above its budget of ${maxPages * PAGE}`, {
          needBytes: end,
          budgetBytes: maxPages * PAGE,
        });
      memory.grow(pages);
    }
    new Uint8Array(memory.buffer, p, end - p).fill(0);
    top = end;
    return p;
  };
  return {
    threads,
    memory,
    alloc,
    put(a: Float64Array | Float32Array | Int32Array): number {
      const p = alloc(a.byteLength);
      new Uint8Array(memory.buffer, p, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      return p;
    },
    reset(): void {
      top = base;
    },
    f64: (ptr: number, n: number): Float64Array => new Float64Array(memory.buffer, ptr, n),
    runAll(fn: string, argsPerThread: ReadonlyArray<readonly number[]>): Promise<number[]> {
      if (argsPerThread.length > workers.length)
        throw new GramfleetError('KERNEL_STATUS', `runAll: ${argsPerThread.length} calls for ${workers.length} threads`, {});
      return Promise.all(argsPerThread.map((args, t) => call(workers[t] as Worker, fn, args)));
    },
    local,
    async close(): Promise<void> {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/** Splits [0, n) into `parts` contiguous ranges, each a multiple of `align` except the last. */
export function splitRows(n: number, parts: number, align = 4): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const step = Math.ceil(n / parts / align) * align;
  for (let r = 0; r < n; r += step) out.push([r, Math.min(n, r + step)]);
  return out;
}

/** Splits CSR rows into `parts` ranges holding about equal numbers of non-zeros. */
export function splitCsrRows(indptr: Int32Array, parts: number): Array<[number, number]> {
  const m = indptr.length - 1;
  const nnz = indptr[m] as number;
  const out: Array<[number, number]> = [];
  let r0 = 0;
  for (let t = 1; t <= parts && r0 < m; t++) {
    let r1 = m;
    if (t < parts) {
      const target = (nnz * t) / parts;
      let lo = r0,
        hi = m;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((indptr[mid] as number) < target) lo = mid + 1;
        else hi = mid;
      }
      r1 = Math.max(r0 + 1, lo);
    }
    out.push([r0, r1]);
    r0 = r1;
  }
  return out;
}

/** One GEMM over shared-memory pointers (offsets and leading dimensions in elements; C f64). */
export interface ParallelGemm {
  readonly transA: boolean;
  readonly transB: boolean;
  readonly f32: boolean;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly alpha: number;
  readonly a: number;
  readonly offA: number;
  readonly lda: number;
  readonly b: number;
  readonly offB: number;
  readonly ldb: number;
  readonly beta: number;
  readonly c: number;
  readonly offC: number;
  readonly ldc: number;
  /** f32 A, B and C summed in f32 (`gf_gemm_f32`, gemm's `accumulate: 'f32'`); otherwise C is f64. @default false */
  readonly accumulateF32?: boolean;
}

function statusCheck(op: string, fn: string, statuses: readonly number[]): void {
  const bad = statuses.find((s) => s !== 0);
  if (bad !== undefined) throw new GramfleetError('KERNEL_STATUS', `${op}: kernel ${fn} returned status ${bad}`, { op, export: fn, status: bad });
}

/** C = alpha·op(A)·op(B) + beta·C with the rows of C split over the threads. */
export async function parallelGemm(pk: ParallelKernels, g: ParallelGemm): Promise<void> {
  const acc32 = g.accumulateF32 === true;
  const fn = acc32 ? 'gf_gemm_f32' : 'gf_gemm';
  const wsBytes = pk.local(acc32 ? 'gf_gemm_f32_workspace_bytes' : 'gf_gemm_workspace_bytes');
  const ranges = splitRows(g.m, pk.threads);
  const args = ranges.map(([r0, r1]) => [
    g.transA ? 1 : 0,
    g.transB ? 1 : 0,
    ...(acc32 ? [] : [g.f32 ? 1 : 0]),
    r1 - r0,
    g.n,
    g.k,
    g.alpha,
    g.a,
    g.offA + (g.transA ? r0 : r0 * g.lda),
    g.lda,
    g.b,
    g.offB,
    g.ldb,
    g.beta,
    g.c,
    g.offC + r0 * g.ldc,
    g.ldc,
    pk.alloc(wsBytes),
  ]);
  statusCheck('gemm', fn, await pk.runAll(fn, args));
}

/** One kernel block over shared-memory pointers. */
export interface ParallelKernelBlock {
  /** Kernel id (index in KERNEL_FUNCTIONS). */
  readonly kind: number;
  readonly f32: boolean;
  readonly n: number;
  readonly m: number;
  readonly d: number;
  readonly x: number;
  readonly offX: number;
  readonly ldx: number;
  readonly z: number;
  readonly offZ: number;
  readonly ldz: number;
  readonly bandwidth: number;
  readonly out: number;
  readonly offOut: number;
  readonly ldOut: number;
}

/** out = K(X, Z) with the rows of X split over the threads. */
export async function parallelKernelBlock(pk: ParallelKernels, k: ParallelKernelBlock): Promise<void> {
  const ranges = splitRows(k.n, pk.threads);
  const args = ranges.map(([r0, r1]) => [
    k.kind,
    k.f32 ? 1 : 0,
    r1 - r0,
    k.m,
    k.d,
    k.x,
    k.offX + r0 * k.ldx,
    k.ldx,
    k.z,
    k.offZ,
    k.ldz,
    k.bandwidth,
    k.out,
    k.offOut + r0 * k.ldOut,
    k.ldOut,
    pk.alloc(pk.local('gf_kernel_block_workspace_bytes', r1 - r0, k.m, 0)),
  ]);
  statusCheck('kernel-block', 'gf_kernel_block', await pk.runAll('gf_kernel_block', args));
}

/** y = alpha·A·x + beta·y over validated CSR arrays, rows split by non-zeros over the threads. */
export async function parallelCsrSpmv(
  pk: ParallelKernels,
  indptrHost: Int32Array,
  n: number,
  indptr: number,
  indices: number,
  data: number,
  alpha: number,
  x: number,
  beta: number,
  y: number,
): Promise<void> {
  const ranges = splitCsrRows(indptrHost, pk.threads);
  const args = ranges.map(([r0, r1]) => [r0, r1, n, indptr, indices, data, alpha, x, 0, 1, beta, y, 0, 1]);
  statusCheck('csr-spmv', 'gf_csr_spmv_rows', await pk.runAll('gf_csr_spmv_rows', args));
}

/** Runs async sections one at a time (the shared memory's bump allocator is not re-entrant). */
function createLock(): <T>(f: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(f: () => Promise<T>): Promise<T> => {
    const run = tail.then(f, f);
    tail = run.catch(() => undefined);
    return run;
  };
}

/**
 * Registers multi-core kernels for `gemm`, `kernel-block` and `csr-spmv` under `backend`
 * (default `'wasm-mt'`): the same validation and results as the single-thread wasm kernels,
 * with the work split over `pk`'s threads. Calls are serialised on `pk`.
 */
export function registerParallelWasm(registry: KernelRegistry, pk: ParallelKernels, backend = 'wasm-mt'): void {
  const lock = createLock();
  registry.register(backend, gemmOp, (attrs: GemmAttrs, inputs: readonly NdArray[]) =>
    lock(async () => {
      const p = gemmProblem(gemmOp.id, attrs, inputs);
      const out = gemmOutput(p, inputs[2]);
      pk.reset();
      const a = pk.put((inputs[0] as NdArray).data as Float64Array | Float32Array);
      const b = pk.put((inputs[1] as NdArray).data as Float64Array | Float32Array);
      const beta = p.hasC ? attrs.beta : 0;
      const f32 = p.dtype === 'f32';
      const view = {
        transA: attrs.transA,
        transB: attrs.transB,
        f32,
        m: p.m,
        n: p.n,
        k: p.k,
        alpha: attrs.alpha,
        a,
        offA: p.a.offset,
        lda: p.a.ld,
        b,
        offB: p.b.offset,
        ldb: p.b.ld,
        beta,
      };
      if (f32 && attrs.accumulate === 'f32') {
        // f32 C summed in place by gf_gemm_f32 (the bound is in core/src/ops/gemm.ts).
        const c32 = pk.put(out.data as Float32Array);
        await parallelGemm(pk, { ...view, c: c32, offC: p.c.offset, ldc: p.c.ld, accumulateF32: true });
        (out.data as Float32Array).set(new Float32Array(pk.memory.buffer, c32, out.data.length));
        return [out];
      }
      const c = f32 ? pk.alloc(p.m * p.n * 8) : pk.put(out.data as Float64Array);
      const offC = f32 ? 0 : p.c.offset;
      const ldc = f32 ? Math.max(1, p.n) : p.c.ld;
      if (f32 && beta !== 0) {
        const cv = pk.f64(c, p.m * p.n);
        for (let i = 0; i < p.m; i++) for (let j = 0; j < p.n; j++) cv[i * p.n + j] = out.data[p.c.offset + i * p.c.ld + j] as number;
      }
      await parallelGemm(pk, { ...view, c, offC, ldc });
      if (!f32) (out.data as Float64Array).set(pk.f64(c, out.data.length));
      else {
        const cv = pk.f64(c, p.m * p.n);
        for (let i = 0; i < p.m && p.n > 0; i++) (out.data as Float32Array).set(cv.subarray(i * p.n, (i + 1) * p.n), p.c.offset + i * p.c.ld);
      }
      return [out];
    }),
  );
  registry.register(backend, kernelBlockOp, (attrs: KernelBlockAttrs, inputs: readonly NdArray[]) =>
    lock(async () => {
      const p = kernelBlockProblem(kernelBlockOp.id, attrs, inputs, false);
      pk.reset();
      const x = pk.put((inputs[0] as NdArray).data as Float64Array | Float32Array);
      const z = pk.put((inputs[1] as NdArray).data as Float64Array | Float32Array);
      const out = pk.alloc(p.n * p.m * 8);
      await parallelKernelBlock(pk, {
        kind: KERNEL_FUNCTIONS.indexOf(attrs.kernel),
        f32: p.dtype === 'f32',
        n: p.n,
        m: p.m,
        d: p.d,
        x,
        offX: p.x.offset,
        ldx: p.x.ld,
        z,
        offZ: p.z.offset,
        ldz: p.z.ld,
        bandwidth: attrs.bandwidth,
        out,
        offOut: 0,
        ldOut: Math.max(1, p.m),
      });
      return [{ dtype: 'f64', shape: [p.n, p.m], data: pk.f64(out, p.n * p.m).slice() }];
    }),
  );
  registry.register(backend, csrSpmvOp, (attrs: CsrSpmvAttrs, inputs: readonly NdArray[]) =>
    lock(async () => {
      const p = csrSpmvProblem(attrs, inputs);
      pk.reset();
      const ipHost = (inputs[0] as NdArray).data as Int32Array;
      const ip = pk.put(ipHost);
      const ix = pk.put((inputs[1] as NdArray).data as Int32Array);
      const dv = pk.put((inputs[2] as NdArray).data as Float64Array);
      const x = pk.put((inputs[3] as NdArray).data as Float64Array);
      const yIn = inputs[4];
      const y = yIn !== undefined ? pk.put(yIn.data as Float64Array) : pk.alloc(p.m * 8);
      await parallelCsrSpmv(pk, ipHost, p.n, ip, ix, dv, attrs.alpha, x, p.hasY ? attrs.beta : 0, y);
      return [{ dtype: 'f64', shape: [p.m], data: pk.f64(y, p.m).slice() }];
    }),
  );
}
