/**
 * One sandbox thread: compiles a user's module here (never on the worker's main thread; the
 * parent's time limit covers the compile) or takes the compiled module the parent already holds,
 * instantiates it afresh for every task (fresh memory, no state between tasks), with WASI
 * preview1 through `node:wasi` (no preopened directories, no environment, no arguments; file and
 * socket calls denied with a typed error; stdin, stdout and stderr are /dev/null), a capped
 * memory, and calls the named export under the f64 calling convention of
 * `core/src/sdk/user-wasm.ts`. What the module writes to stdout and stderr is captured here, up
 * to a cap per task, and handed to the parent, which logs it as JSON fields: it never reaches the
 * process's own stdout. The parent enforces the time limit by terminating the thread.
 */
import * as fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { WASI } from 'node:wasi';
import { ModuleLru } from './module-cache';
import { GramfleetError, WASM_PAGE, checkUserModule, inspectWasm, isGramfleetError, type ErrorPayload, type WasmModuleInfo } from '@gramfleet/core';

/** A task for the thread. */
export interface SandboxRequest {
  readonly id: number;
  /** Content digest of the module (sha256-based; the compiled-module caches are keyed by it). */
  readonly digest: string;
  /** The module, compiled by another thread of this sandbox; absent: this thread compiles `bytes`. */
  readonly module?: WebAssembly.Module;
  /** The module's bytes (compiled here when neither held nor sent compiled). */
  readonly bytes: Uint8Array;
  readonly fn: string;
  readonly input: Float64Array;
  readonly outLen: number;
  readonly memoryPages: number;
  /** stdout + stderr kept, bytes. */
  readonly outputBytes: number;
}

/** What a task wrote to stdout and stderr: the first `outputBytes` in all, and the count of everything. */
export interface CapturedOutput {
  readonly stdout: string;
  readonly stderr: string;
  /** Bytes written to both streams (kept or not). */
  readonly bytes: number;
  /** Bytes dropped past the cap. */
  readonly dropped: number;
}

/** The thread's answer. `compiled`: a module this thread compiled (the parent shares it with its other threads). */
export type SandboxReply =
  | {
      readonly id: number;
      readonly ok: true;
      readonly output: Float64Array;
      readonly computeMs: number;
      readonly compileMs: number;
      readonly stdio?: CapturedOutput;
      readonly compiled?: WebAssembly.Module;
    }
  | { readonly id: number; readonly ok: false; readonly error: ErrorPayload; readonly stdio?: CapturedOutput; readonly compiled?: WebAssembly.Module };

/** WASI calls that would reach the host's files or network: denied outright. */
const DENIED = new Set([
  'path_open',
  'path_create_directory',
  'path_filestat_get',
  'path_filestat_set_times',
  'path_link',
  'path_readlink',
  'path_remove_directory',
  'path_rename',
  'path_symlink',
  'path_unlink_file',
  'sock_accept',
  'sock_recv',
  'sock_send',
  'sock_shutdown',
]);

/** WASI errno values used here. */
const ERRNO_SUCCESS = 0;
const ERRNO_FAULT = 21;

class Denied extends Error {
  constructor(readonly call: string) {
    super(call);
  }
}

/** proc_exit called by the module (a kernel answers by returning; exiting ends the task). */
class Exited extends Error {
  constructor(readonly exitCode: number) {
    super(`proc_exit(${exitCode})`);
  }
}

/** The standard streams the WASI instance sees: /dev/null (writes to fds 1 and 2 are captured before they get there). */
const devNull = fs.openSync('/dev/null', 'r+');

/** Modules this thread holds, by digest (a few; the parent holds more and sends them). */
const held = new ModuleLru<{ readonly module: WebAssembly.Module; readonly info: WasmModuleInfo }>(16, 32 * 2 ** 20);

/** (digest, fn, memory cap) whose module passed checkUserModule. */
const checked = new Set<string>();

/** Collects stdout/stderr bytes up to a cap. */
class Capture {
  private readonly chunks: { fd: number; b: Uint8Array }[] = [];
  kept = 0;
  bytes = 0;
  constructor(private readonly cap: number) {}
  add(fd: number, src: Uint8Array): void {
    this.bytes += src.byteLength;
    const room = this.cap - this.kept;
    if (room <= 0) return;
    const b = src.slice(0, Math.min(room, src.byteLength));
    this.kept += b.byteLength;
    this.chunks.push({ fd, b });
  }
  result(): CapturedOutput | undefined {
    if (this.bytes === 0) return undefined;
    const dec = (fd: number): string => {
      const parts = this.chunks.filter((c) => c.fd === fd);
      return new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(parts.map((c) => c.b)));
    };
    return { stdout: dec(1), stderr: dec(2), bytes: this.bytes, dropped: this.bytes - this.kept };
  }
}

/** The module under `req.digest`: held here, sent compiled by the parent, or compiled here now. */
function moduleOf(req: SandboxRequest): { module: WebAssembly.Module; info: WasmModuleInfo; compiled: boolean; compileMs: number } {
  const h = held.get(req.digest);
  if (h !== undefined) {
    return { ...h, compiled: false, compileMs: 0 };
  }
  const info = inspectWasm(req.bytes);
  let module = req.module;
  let compileMs = 0;
  if (module === undefined) {
    const t0 = performance.now();
    try {
      module = new WebAssembly.Module(req.bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new GramfleetError('KERNEL_BAD_MODULE', `module ${req.digest.slice(0, 12)} does not compile: ${(e as Error).message}`, { digest: req.digest });
    }
    compileMs = performance.now() - t0;
  }
  held.set(req.digest, { module, info }, req.bytes.byteLength);
  return { module, info, compiled: req.module === undefined, compileMs };
}

function run(req: SandboxRequest, got: { module: WebAssembly.Module; info: WasmModuleInfo }, capture: Capture): { output: Float64Array; computeMs: number } {
  const info = got.info;
  const check = `${req.digest}|${req.fn}|${req.memoryPages}`;
  if (!checked.has(check)) {
    checkUserModule(info, [req.fn], req.memoryPages);
    if (checked.size >= 1024) checked.clear();
    checked.add(check);
  }
  let memory: WebAssembly.Memory | undefined;
  const wasi = new WASI({ version: 'preview1', args: [], env: {}, preopens: {}, returnOnExit: true, stdin: devNull, stdout: devNull, stderr: devNull });
  const wasiImports = (wasi.getImportObject() as Record<string, Record<string, (...a: unknown[]) => unknown>>)['wasi_snapshot_preview1'] ?? {};
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const im of info.imports) {
    const ns = (imports[im.module] ??= {});
    if (im.module === 'wasi_snapshot_preview1') {
      const f = wasiImports[im.name];
      ns[im.name] =
        im.name === 'fd_write' && f !== undefined
          ? captureWrites(f, () => memory, capture)
          : im.name === 'proc_exit'
            ? (code: unknown) => {
                throw new Exited(Number(code));
              }
            : DENIED.has(im.name) || f === undefined
              ? () => {
                  throw new Denied(`${im.module}.${im.name}`);
                }
              : f;
    } else if (im.module === 'env' && im.name === 'memory' && im.limits !== undefined) {
      if (im.limits.min > req.memoryPages)
        throw new GramfleetError('KERNEL_USER_MEMORY_LIMIT', `module needs ${im.limits.min} pages at start, above the cap of ${req.memoryPages}`, {
          needPages: im.limits.min,
          capPages: req.memoryPages,
        });
      memory = new WebAssembly.Memory({ initial: im.limits.min, maximum: Math.min(req.memoryPages, im.limits.max ?? req.memoryPages) });
      ns[im.name] = memory;
    } else if (im.module === 'env' && im.name === 'abort') {
      ns[im.name] = () => {
        throw new WebAssembly.RuntimeError('abort() called by the module');
      };
    } else {
      throw new GramfleetError('KERNEL_SANDBOX_DENIED', `module imports ${im.module}.${im.name}, which the sandbox does not provide`, {
        import: `${im.module}.${im.name}`,
      });
    }
  }
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(got.module, imports);
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) throw trap(e, memory, req.memoryPages);
    throw new GramfleetError('KERNEL_BAD_MODULE', `module did not instantiate: ${(e as Error).message}`, {});
  }
  const ex = instance.exports;
  memory ??= ex['memory'] instanceof WebAssembly.Memory ? ex['memory'] : undefined;
  if (memory === undefined) throw new GramfleetError('KERNEL_BAD_MODULE', 'module has no memory', {});
  const mem = memory;
  // Bind WASI to the memory only (never `_start`/`_initialize`: the host calls named exports).
  if (info.imports.some((i) => i.module === 'wasi_snapshot_preview1')) wasi.initialize({ exports: { memory: mem } } as unknown as WebAssembly.Instance);
  const fn = ex[req.fn];
  if (typeof fn !== 'function') throw new GramfleetError('KERNEL_BAD_MODULE', `module has no exported function ${req.fn}`, { fn: req.fn });
  const t0 = performance.now();
  try {
    const inBytes = req.input.length * 8;
    const outBytes = req.outLen * 8;
    let inPtr: number;
    let outPtr: number;
    const alloc = ex['alloc'];
    if (typeof alloc === 'function') {
      inPtr = Number(alloc(inBytes + 8));
      outPtr = Number(alloc(outBytes + 8));
    } else {
      const hb = ex['__heap_base'];
      const base = hb instanceof WebAssembly.Global ? Number(hb.value) : 0;
      inPtr = align8(base);
      outPtr = align8(inPtr + inBytes);
      const need = Math.ceil((outPtr + outBytes) / WASM_PAGE);
      const have = mem.buffer.byteLength / WASM_PAGE;
      if (need > have) {
        // Memory.grow throws (RangeError) past the maximum: the cap, or the module's own lower one.
        let grown = true;
        try {
          mem.grow(need - have);
        } catch {
          grown = false;
        }
        if (!grown)
          throw new GramfleetError('KERNEL_USER_MEMORY_LIMIT', `input and output need ${need} pages, above the cap of ${req.memoryPages} pages (memoryMB)`, {
            field: 'memoryMB',
            needPages: need,
            capPages: req.memoryPages,
          });
      }
    }
    inPtr = align8(inPtr);
    outPtr = align8(outPtr);
    if (outPtr + outBytes > mem.buffer.byteLength || inPtr + inBytes > mem.buffer.byteLength)
      throw new GramfleetError('KERNEL_BAD_MODULE', 'alloc returned memory outside the module memory', {});
    new Float64Array(mem.buffer, inPtr, req.input.length).set(req.input);
    const r = Number((fn as (...a: number[]) => unknown)(inPtr, req.input.length, outPtr, req.outLen));
    if (!Number.isInteger(r) || r < 0) throw new GramfleetError('KERNEL_STATUS', `${req.fn} returned status ${r}`, { status: r, fn: req.fn });
    if (r > req.outLen)
      throw new GramfleetError('KERNEL_BAD_MODULE', `${req.fn} claims ${r} outputs, above its output capacity outLen = ${req.outLen}`, {
        fn: req.fn,
        field: 'outLen',
        bound: req.outLen,
        value: r,
      });
    const output = new Float64Array(r);
    output.set(new Float64Array(mem.buffer, outPtr, r));
    return { output, computeMs: performance.now() - t0 };
  } catch (e) {
    if (e instanceof Denied)
      throw new GramfleetError('KERNEL_SANDBOX_DENIED', `the module called ${e.call}: no files, sockets or environment in the sandbox`, { call: e.call });
    if (e instanceof Exited)
      throw new GramfleetError('KERNEL_USER_TRAP', `the module called proc_exit(${e.exitCode}) instead of returning from ${req.fn}`, {
        call: 'wasi_snapshot_preview1.proc_exit',
        exitCode: e.exitCode,
      });
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) throw trap(e, mem, req.memoryPages);
    throw e;
  }
}

/**
 * fd_write with fds 1 and 2 captured (up to the cap; every byte counted) and reported as written;
 * other fds go to WASI (only /dev/null exists: no preopens). Iovecs outside the memory: EFAULT.
 */
function captureWrites(
  wasiWrite: (...a: unknown[]) => unknown,
  memory: () => WebAssembly.Memory | undefined,
  capture: Capture,
): (fd: number, iovs: number, iovsLen: number, nwritten: number) => unknown {
  return (fd, iovs, iovsLen, nwritten) => {
    if (fd !== 1 && fd !== 2) return wasiWrite(fd, iovs, iovsLen, nwritten);
    const mem = memory();
    if (mem === undefined) return ERRNO_FAULT;
    const buf = mem.buffer;
    const size = buf.byteLength;
    const view = new DataView(buf);
    if (iovs < 0 || iovsLen < 0 || iovs + iovsLen * 8 > size || nwritten < 0 || nwritten + 4 > size) return ERRNO_FAULT;
    let total = 0;
    for (let i = 0; i < iovsLen; i++) {
      const ptr = view.getUint32(iovs + i * 8, true);
      const len = view.getUint32(iovs + i * 8 + 4, true);
      if (ptr + len > size) return ERRNO_FAULT;
      capture.add(fd, new Uint8Array(buf, ptr, len));
      total += len;
    }
    view.setUint32(nwritten, total >>> 0, true);
    return ERRNO_SUCCESS;
  };
}

function align8(p: number): number {
  return Math.ceil(p / 8) * 8;
}

/**
 * A trap. When the memory had grown past half its cap (so the next doubling, as allocators
 * do, was refused) it is reported as the memory limit; any other trap as a user trap.
 */
function trap(e: Error, mem: WebAssembly.Memory | undefined, capPages: number): GramfleetError {
  const pages = mem === undefined ? 0 : mem.buffer.byteLength / WASM_PAGE;
  if (pages * 2 > capPages) {
    return new GramfleetError(
      'KERNEL_USER_MEMORY_LIMIT',
      `the module trapped (${e.message}) with its memory at ${pages} of ${capPages} pages: a grow past the cap was refused`,
      { pages, capPages },
    );
  }
  return new GramfleetError('KERNEL_USER_TRAP', `the module trapped: ${e.message}`, { trap: e.message });
}

parentPort?.on('message', (req: SandboxRequest) => {
  let reply: SandboxReply;
  const capture = new Capture(req.outputBytes);
  let compiled: WebAssembly.Module | undefined;
  try {
    const got = moduleOf(req);
    if (got.compiled) compiled = got.module;
    const r = run(req, got, capture);
    const stdio = capture.result();
    reply = {
      id: req.id,
      ok: true,
      output: r.output,
      computeMs: r.computeMs,
      compileMs: got.compileMs,
      ...(stdio !== undefined ? { stdio } : {}),
      ...(compiled !== undefined ? { compiled } : {}),
    };
  } catch (e) {
    const err = isGramfleetError(e) ? e : new GramfleetError('KERNEL_USER_TRAP', `the module failed: ${(e as Error).message}`, {});
    const stdio = capture.result();
    reply = { id: req.id, ok: false, error: err.toPayload(), ...(stdio !== undefined ? { stdio } : {}), ...(compiled !== undefined ? { compiled } : {}) };
  }
  parentPort?.postMessage(reply, reply.ok ? [reply.output.buffer as ArrayBuffer] : []);
});
