/**
 * One sandbox thread: instantiates a user's module afresh for every task (fresh memory, no
 * state between tasks), with WASI preview1 through `node:wasi` (no preopened directories, no
 * environment, no arguments; file and socket calls denied with a typed error), a capped
 * memory, and calls the named export under the f64 calling convention of
 * `core/src/sdk/user-wasm.ts`. The parent enforces the time limit by terminating the thread.
 */
import { parentPort } from 'node:worker_threads';
import { WASI } from 'node:wasi';
import { GramfleetError, WASM_PAGE, inspectWasm, isGramfleetError, type ErrorPayload } from '@gramfleet/core';

/** A task for the thread. */
export interface SandboxRequest {
  readonly id: number;
  readonly module: WebAssembly.Module;
  readonly bytes: Uint8Array;
  readonly fn: string;
  readonly input: Float64Array;
  readonly outLen: number;
  readonly memoryPages: number;
}

/** The thread's answer. */
export type SandboxReply =
  | { readonly id: number; readonly ok: true; readonly output: Float64Array; readonly computeMs: number }
  | { readonly id: number; readonly ok: false; readonly error: ErrorPayload };

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

class Denied extends Error {
  constructor(readonly call: string) {
    super(call);
  }
}

function run(req: SandboxRequest): SandboxReply {
  const info = inspectWasm(req.bytes);
  let memory: WebAssembly.Memory | undefined;
  const wasi = new WASI({ version: 'preview1', args: [], env: {}, preopens: {}, returnOnExit: true });
  const wasiImports = (wasi.getImportObject() as Record<string, Record<string, (...a: unknown[]) => unknown>>)['wasi_snapshot_preview1'] ?? {};
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const im of info.imports) {
    const ns = (imports[im.module] ??= {});
    if (im.module === 'wasi_snapshot_preview1') {
      const f = wasiImports[im.name];
      ns[im.name] =
        DENIED.has(im.name) || f === undefined
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
    instance = new WebAssembly.Instance(req.module, imports);
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
      if (need > have && mem.grow(need - have) < 0)
        throw new GramfleetError('KERNEL_USER_MEMORY_LIMIT', `input and output need ${need} pages, above the cap of ${req.memoryPages}`, {
          needPages: need,
          capPages: req.memoryPages,
        });
    }
    inPtr = align8(inPtr);
    outPtr = align8(outPtr);
    if (outPtr + outBytes > mem.buffer.byteLength || inPtr + inBytes > mem.buffer.byteLength)
      throw new GramfleetError('KERNEL_BAD_MODULE', 'alloc returned memory outside the module memory', {});
    new Float64Array(mem.buffer, inPtr, req.input.length).set(req.input);
    const r = Number((fn as (...a: number[]) => unknown)(inPtr, req.input.length, outPtr, req.outLen));
    if (!Number.isInteger(r) || r < 0) throw new GramfleetError('KERNEL_STATUS', `${req.fn} returned status ${r}`, { status: r, fn: req.fn });
    if (r > req.outLen) throw new GramfleetError('KERNEL_BAD_MODULE', `${req.fn} claims ${r} outputs, capacity was ${req.outLen}`, { fn: req.fn });
    const output = new Float64Array(r);
    output.set(new Float64Array(mem.buffer, outPtr, r));
    return { id: req.id, ok: true, output, computeMs: performance.now() - t0 };
  } catch (e) {
    if (e instanceof Denied)
      throw new GramfleetError('KERNEL_SANDBOX_DENIED', `the module called ${e.call}: no files, sockets or environment in the sandbox`, { call: e.call });
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) throw trap(e, mem, req.memoryPages);
    throw e;
  }
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
  try {
    reply = run(req);
  } catch (e) {
    const err = isGramfleetError(e) ? e : new GramfleetError('KERNEL_USER_TRAP', `the module failed: ${(e as Error).message}`, {});
    reply = { id: req.id, ok: false, error: err.toPayload() };
  }
  parentPort?.postMessage(reply, reply.ok ? [reply.output.buffer as ArrayBuffer] : []);
});
