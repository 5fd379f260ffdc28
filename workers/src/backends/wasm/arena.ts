/**
 * One instance of the compiled AssemblyScript kernel module with a JS-owned bump arena over
 * its linear memory. Kernels take raw pointers and return an i32 status; they never allocate.
 * A trap leaves the instance unusable: the owner replaces it (see {@link WasmArena.poisoned}).
 *
 * Read-only inputs can stay resident between calls, keyed by content digest ({@link input}):
 * a graph that every shard of a GRF job reads is copied in once per thread, not once per shard.
 * Resident copies sit at the bottom of the arena; `reset` and `release` never go below them.
 */
import { GramfleetError } from '@gramfleet/core';

type KernelExport = (...args: number[]) => number;
/** The typed arrays an arena copies in. */
export type ArenaArray = Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array;

/** Options of {@link WasmArena}. */
export interface WasmArenaOptions {
  /** Upper bound on linear memory, in bytes. @default 2 GiB */
  readonly maxBytes?: number;
  /** Bytes of resident inputs kept between calls. @default a quarter of `maxBytes` */
  readonly residentBytes?: number;
}

/** Inputs smaller than this are copied per call (not worth a resident slot). */
const RESIDENT_MIN_BYTES = 64 * 1024;

const PAGE = 65536;

/** A kernel module instance plus a bump allocator over its memory. */
export class WasmArena {
  readonly memory: WebAssembly.Memory;
  private readonly exports: Record<string, unknown>;
  private readonly base: number;
  private top: number;
  private readonly maxPages: number;
  /** End of the resident inputs: the floor of every allocation. */
  private residentTop: number;
  private readonly residentBudget: number;
  private readonly residents = new Map<string, { readonly ptr: number; readonly bytes: number }>();
  /** Views handed out for resident inputs, so that {@link input} finds them without a copy. */
  private readonly residentViews = new WeakMap<object, number>();
  /** Set when a call trapped; the arena must then be thrown away. */
  poisoned = false;

  constructor(module: WebAssembly.Module, opts: WasmArenaOptions = {}) {
    this.maxPages = Math.floor((opts.maxBytes ?? 2 ** 31) / PAGE);
    this.residentBudget = opts.residentBytes ?? Math.floor((opts.maxBytes ?? 2 ** 31) / 4);
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
    this.residentTop = this.base;
  }

  /** Frees everything allocated since construction, except resident inputs. */
  reset(): void {
    this.top = this.residentTop;
  }

  /**
   * The pointer of a read-only input. With a content `key`, the input is kept resident: the
   * first call copies it in (if it fits the resident budget and no scratch is allocated yet,
   * i.e. a kernel's inputs come first), later calls with the same key read that copy. A view
   * from {@link residentView} is found without a copy. The kernel must not write to it.
   */
  input(a: ArenaArray, key?: string): number {
    const viewed = this.residentViews.get(a);
    if (viewed !== undefined) return viewed;
    if (key === undefined || a.byteLength < RESIDENT_MIN_BYTES) return this.put(a);
    const r = this.residents.get(key);
    if (r !== undefined && r.bytes === a.byteLength) return r.ptr;
    if (this.top !== this.residentTop || this.residentTop - this.base + a.byteLength > this.residentBudget) return this.put(a);
    const p = this.put(a);
    this.residentTop = this.top;
    this.residents.set(key, { ptr: p, bytes: a.byteLength });
    return p;
  }

  /**
   * The pointer of `bytes` of zeroed scratch kept between calls under `key` (resident like an
   * input), for kernels that leave their scratch zero again on return (GRF's accumulators); a
   * fresh zeroed allocation when it cannot be kept (scratch already allocated in this call, or
   * no room). A kernel that traps poisons the arena, so dirty scratch is never reused.
   */
  zeroedScratch(key: string, bytes: number): number {
    const r = this.residents.get(key);
    if (r !== undefined && r.bytes === bytes) return r.ptr;
    if (this.top !== this.residentTop || !this.residentRoom(bytes)) return this.alloc(bytes);
    const p = this.alloc(bytes);
    this.residentTop = this.top;
    this.residents.set(key, { ptr: p, bytes });
    return p;
  }

  /** Whether an input is resident, by key. */
  hasResident(key: string): boolean {
    return this.residents.has(key);
  }

  /** Keys of the resident inputs. */
  residentKeys(): string[] {
    return [...this.residents.keys()];
  }

  /** A view of a resident input (for {@link input}); undefined when `key` is not resident with that size. */
  residentView(key: string, dtype: 'f64' | 'f32' | 'i32' | 'u32' | 'u8', length: number): ArenaArray | undefined {
    const r = this.residents.get(key);
    const size = dtype === 'f64' ? 8 : dtype === 'u8' ? 1 : 4;
    if (r === undefined || r.bytes !== length * size) return undefined;
    const b = this.memory.buffer;
    const v =
      dtype === 'f64'
        ? new Float64Array(b, r.ptr, length)
        : dtype === 'f32'
          ? new Float32Array(b, r.ptr, length)
          : dtype === 'i32'
            ? new Int32Array(b, r.ptr, length)
            : dtype === 'u32'
              ? new Uint32Array(b, r.ptr, length)
              : new Uint8Array(b, r.ptr, length);
    this.residentViews.set(v, r.ptr);
    return v;
  }

  /** Drops every resident input (call between kernel calls only). */
  dropResidents(): void {
    this.residents.clear();
    this.residentTop = this.base;
    this.top = this.base;
  }

  /** Whether `bytes` more of resident inputs fit the budget. */
  residentRoom(bytes: number): boolean {
    return this.residentTop - this.base + bytes <= this.residentBudget;
  }

  /** Current allocation mark, for {@link release}. */
  mark(): number {
    return this.top;
  }

  /** Frees everything allocated after `mark` (never resident inputs). */
  release(mark: number): void {
    this.top = Math.max(mark, this.residentTop);
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
        throw new GramfleetError('INPUT_TOO_LARGE', `kernel arena needs ${end} bytes, above its budget of ${this.maxPages * PAGE}`, {
          needBytes: end,
          budgetBytes: this.maxPages * PAGE,
        });
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
