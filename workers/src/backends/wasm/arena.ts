/**
 * One instance of the compiled AssemblyScript kernel module with a JS-owned bump arena over
 * its linear memory. Kernels take raw pointers and return an i32 status; they never allocate.
 * A trap leaves the instance unusable: the owner replaces it (see {@link WasmArena.poisoned}).
 */
import { GramfleetError } from '@gramfleet/core';

type KernelExport = (...args: number[]) => number;

/** Options of {@link WasmArena}. */
export interface WasmArenaOptions {
  /** Upper bound on linear memory, in bytes. @default 2 GiB */
  readonly maxBytes?: number;
}

const PAGE = 65536;

/** A kernel module instance plus a bump allocator over its memory. */
export class WasmArena {
  readonly memory: WebAssembly.Memory;
  private readonly exports: Record<string, unknown>;
  private readonly base: number;
  private top: number;
  private readonly maxPages: number;
  /** Set when a call trapped; the arena must then be thrown away. */
  poisoned = false;

  constructor(module: WebAssembly.Module, opts: WasmArenaOptions = {}) {
    this.maxPages = Math.floor((opts.maxBytes ?? 2 ** 31) / PAGE);
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: this.maxPages });
    const instance = new WebAssembly.Instance(module, {
      env: {
        memory: this.memory,
        abort: (_msg: number, _file: number, line: number, col: number): never => {
          throw new GramfleetError('KERNEL_TRAP', `kernel aborted at ${line}:${col}`, { line, col });
        },
      },
    });
    this.exports = instance.exports as Record<string, unknown>;
    const hb = this.fn('gf_heap_base')();
    this.base = align(hb, 64);
    this.top = this.base;
  }

  /** Frees everything allocated since construction. */
  reset(): void {
    this.top = this.base;
  }

  /** Current allocation mark, for {@link release}. */
  mark(): number {
    return this.top;
  }

  /** Frees everything allocated after `mark`. */
  release(mark: number): void {
    this.top = mark;
  }

  /**
   * Allocates `bytes` aligned to `alignment`, zeroed unless `zero` is false (for buffers the
   * caller overwrites whole: a copy in, or a kernel's full output); grows memory when needed.
   */
  alloc(bytes: number, alignment = 64, zero = true): number {
    const p = align(this.top, alignment);
    const end = p + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      if (have / PAGE + pages > this.maxPages) {
        throw new GramfleetError('INPUT_TOO_LARGE', `kernel arena needs ${end} bytes, above its budget of ${this.maxPages * PAGE}`, { needBytes: end, budgetBytes: this.maxPages * PAGE });
      }
      this.memory.grow(pages);
    }
    if (zero) new Uint8Array(this.memory.buffer, p, bytes).fill(0);
    this.top = end;
    return p;
  }

  /** Copies a typed array into the arena and returns its pointer. */
  put(a: Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array): number {
    const p = this.alloc(a.byteLength, 64, false);
    new Uint8Array(this.memory.buffer, p, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return p;
  }

  /** A live f64 view (invalidated by the next grow). */
  f64(ptr: number, n: number): Float64Array {
    return new Float64Array(this.memory.buffer, ptr, n);
  }
  /** A live f32 view. */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
  /** A live i32 view. */
  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }
  /** A live u32 view. */
  u32(ptr: number, n: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, ptr, n);
  }

  /** An exported function by name, or throws `KERNEL_NOT_REGISTERED`. */
  fn(name: string): KernelExport {
    const f = this.exports[name];
    if (typeof f !== 'function') throw new GramfleetError('KERNEL_NOT_REGISTERED', `kernel module has no export ${name}`, { export: name });
    return f as KernelExport;
  }

  /**
   * Calls a kernel export and returns its status (0 = ok). A trap poisons the arena and
   * surfaces as `KERNEL_TRAP`.
   */
  call(name: string, ...args: number[]): number {
    const f = this.fn(name);
    try {
      return f(...args);
    } catch (e) {
      this.poisoned = true;
      if (e instanceof GramfleetError) throw e;
      throw new GramfleetError('KERNEL_TRAP', `kernel ${name} trapped: ${(e as Error).message}`, { export: name });
    }
  }

  /** Calls a kernel and throws `KERNEL_STATUS` on a non-zero status. */
  check(name: string, ...args: number[]): void {
    const s = this.call(name, ...args);
    if (s !== 0) throw new GramfleetError('KERNEL_STATUS', `kernel ${name} returned status ${s}`, { export: name, status: s });
  }
}

function align(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}
