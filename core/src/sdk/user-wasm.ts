/**
 * User WebAssembly kernels (the Ray-like `map` path): the task attributes, the calling
 * convention, and a small reader of a module's imports and memory limits, so a module is
 * checked when it is registered — before any task is scheduled — and again by the worker.
 *
 * Calling convention (f64 in, f64 out): the module exports `fn(inPtr, inLen, outPtr, outCap)
 * → i32` returning the number of outputs written (≥ 0) or a negative status, and either
 * `alloc(bytes) → ptr` or a `__heap_base` global telling where the host may place the arrays.
 * Memory: imported as `env.memory` (AssemblyScript: `--importMemory`), capped by the host, or
 * defined by the module with a maximum within the cap. Imports allowed: `env.memory`,
 * `env.abort`, and WASI preview1 (`wasi_snapshot_preview1.*`, run with no preopened
 * directories, no environment and no sockets).
 */
import { GramfleetError } from '../errors';
import { int, str } from '../validate';

/** Wire name of the user-kernel op (task subject `gf.task.wasm.user-wasm.<jobId>`). */
export const USER_WASM_OP = 'user-wasm';
/** WebAssembly page size. */
export const WASM_PAGE = 65536;
/** Largest memory cap a task may ask for, MiB (a 32-bit memory's 4 GiB; workers advertise their own, lower, bound). */
export const USER_WASM_MAX_MEMORY_MB = 4096;
/** Longest time limit a task may ask for, ms (24 h; workers advertise their own, lower, bound). */
export const USER_WASM_MAX_TIMEOUT_MS = 24 * 3_600_000;
/** Largest module any worker accepts, bytes (256 MiB; workers advertise their own, lower, bound). */
export const USER_WASM_MAX_MODULE_BYTES = 256 * 1024 * 1024;

/**
 * What a WASM worker's sandbox accepts, advertised in its registry entry
 * ({@link WorkerRecord.sandbox}): the lower of the worker's own limits (its memory limit shared
 * over its sandbox threads) and its policy (configured maxima). The SDK refuses a request above
 * the bound of any live worker before scheduling anything; the worker refuses it again.
 */
export interface UserWasmLimits {
  /** Largest memory cap of one task, MiB. */
  readonly maxMemoryMB: number;
  /** Longest time limit of one task, ms. */
  readonly maxTimeoutMs: number;
  /** Largest module, bytes. */
  readonly maxModuleBytes: number;
  /** WASI stdout + stderr kept per task (the rest is counted, not kept), bytes. */
  readonly outputBytes: number;
  /** Where each bound comes from, e.g. `{ maxMemoryMB: 'memory limit 4096 MiB over 1 thread' }` (for error messages). */
  readonly why?: Readonly<Partial<Record<'maxMemoryMB' | 'maxTimeoutMs' | 'maxModuleBytes', string>>>;
}

/** The limits of a worker that advertises none (older workers): the absolute bounds. */
export const USER_WASM_ABSOLUTE_LIMITS: UserWasmLimits = {
  maxMemoryMB: USER_WASM_MAX_MEMORY_MB,
  maxTimeoutMs: USER_WASM_MAX_TIMEOUT_MS,
  maxModuleBytes: USER_WASM_MAX_MODULE_BYTES,
  outputBytes: 64 * 1024,
};

/** What a task asks of the sandbox (any field may be left out). */
export interface UserWasmRequest {
  readonly memoryMB?: number;
  readonly timeoutMs?: number;
  readonly moduleBytes?: number;
}

/**
 * Throws KERNEL_USER_OVER_LIMIT, naming the field, the bound and where the bound comes from,
 * when `req` asks for more than `limits` allow. `where` names who holds the limits (a worker
 * id, "the live workers").
 */
export function checkUserWasmLimits(req: UserWasmRequest, limits: UserWasmLimits, where: string): void {
  const over = (
    field: 'memoryMB' | 'timeoutMs' | 'moduleBytes',
    value: number,
    bound: number,
    key: keyof NonNullable<UserWasmLimits['why']>,
    unit: string,
  ): void => {
    if (value <= bound) return;
    const why = limits.why?.[key];
    throw new GramfleetError(
      'KERNEL_USER_OVER_LIMIT',
      `${field} ${value} ${unit} is above the bound of ${bound} ${unit} of ${where}${why !== undefined ? ` (${why})` : ''}`,
      { field, bound, value, where, ...(why !== undefined ? { limitedBy: why } : {}) },
    );
  };
  if (req.memoryMB !== undefined) over('memoryMB', req.memoryMB, limits.maxMemoryMB, 'maxMemoryMB', 'MiB');
  if (req.timeoutMs !== undefined) over('timeoutMs', req.timeoutMs, limits.maxTimeoutMs, 'maxTimeoutMs', 'ms');
  if (req.moduleBytes !== undefined) over('moduleBytes', req.moduleBytes, limits.maxModuleBytes, 'maxModuleBytes', 'bytes');
}

/** The tightest of several workers' limits (each bound the lowest; `why` from the worker that set it). */
export function tightestUserWasmLimits(all: readonly UserWasmLimits[]): UserWasmLimits | undefined {
  if (all.length === 0) return undefined;
  const pick = (k: 'maxMemoryMB' | 'maxTimeoutMs' | 'maxModuleBytes'): { v: number; why?: string } => {
    let best = all[0]!;
    for (const l of all) if (l[k] < best[k]) best = l;
    const why = best.why?.[k];
    return why !== undefined ? { v: best[k], why } : { v: best[k] };
  };
  const m = pick('maxMemoryMB');
  const t = pick('maxTimeoutMs');
  const b = pick('maxModuleBytes');
  const why: Partial<Record<'maxMemoryMB' | 'maxTimeoutMs' | 'maxModuleBytes', string>> = {};
  if (m.why !== undefined) why.maxMemoryMB = m.why;
  if (t.why !== undefined) why.maxTimeoutMs = t.why;
  if (b.why !== undefined) why.maxModuleBytes = b.why;
  return {
    maxMemoryMB: m.v,
    maxTimeoutMs: t.v,
    maxModuleBytes: b.v,
    outputBytes: Math.min(...all.map((l) => l.outputBytes)),
    why,
  };
}

/** Attributes of a user-kernel task. Inputs: [module bytes (u8)] or [module, f64 input]. */
export interface UserWasmAttrs {
  /** Export to call. */
  readonly fn: string;
  /** Memory cap in 64 KiB pages. */
  readonly memoryPages: number;
  readonly timeoutMs: number;
  /** Output capacity in f64s. */
  readonly outLen: number;
  /** Input given inline (small values) instead of as the second input array. */
  readonly inline?: readonly number[];
}

/** Validates task attributes (names the field and the bound). */
export function parseUserWasmAttrs(raw: Readonly<Record<string, unknown>>): UserWasmAttrs {
  const inline = raw['inline'];
  if (inline !== undefined && (!Array.isArray(inline) || inline.some((x) => typeof x !== 'number'))) {
    throw new GramfleetError('INPUT_INVALID', 'inline must be a list of numbers', { field: 'inline' });
  }
  return {
    fn: str('fn', raw['fn']),
    memoryPages: int('memoryPages', raw['memoryPages'], 1, (USER_WASM_MAX_MEMORY_MB * 1024 * 1024) / WASM_PAGE),
    timeoutMs: int('timeoutMs', raw['timeoutMs'], 1, USER_WASM_MAX_TIMEOUT_MS),
    outLen: int('outLen', raw['outLen'], 0, 1 << 27),
    ...(inline !== undefined ? { inline: inline as number[] } : {}),
  };
}

/** Limits of a memory (pages). */
export interface WasmLimits {
  readonly min: number;
  readonly max?: number;
}

/** What {@link inspectWasm} finds. */
export interface WasmModuleInfo {
  readonly imports: readonly {
    readonly module: string;
    readonly name: string;
    readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
    readonly limits?: WasmLimits;
  }[];
  readonly exports: readonly { readonly name: string; readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag' }[];
  /** Memories the module defines itself. */
  readonly memories: readonly WasmLimits[];
}

const KINDS = ['function', 'table', 'memory', 'global', 'tag'] as const;

/** Reads imports, exports and memory limits from a module's bytes; a typed error if they are not a module. */
export function inspectWasm(bytes: Uint8Array): WasmModuleInfo {
  let p = 0;
  const bad = (why: string): GramfleetError => new GramfleetError('KERNEL_BAD_MODULE', `not a WebAssembly module: ${why}`, { field: 'module', offset: p });
  const u8 = (): number => {
    if (p >= bytes.length) throw bad('truncated');
    return bytes[p++]!;
  };
  const leb = (): number => {
    let r = 0;
    let shift = 0;
    for (;;) {
      const b = u8();
      r += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return r;
      shift += 7;
      if (shift > 63) throw bad('bad LEB128');
    }
  };
  const name = (): string => {
    const n = leb();
    if (p + n > bytes.length) throw bad('truncated name');
    const s = new TextDecoder().decode(bytes.subarray(p, p + n));
    p += n;
    return s;
  };
  const limits = (): WasmLimits => {
    const flag = u8();
    const min = leb();
    return (flag & 1) === 1 ? { min, max: leb() } : { min };
  };
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw bad('no \\0asm header');
  p = 8;
  const imports: { module: string; name: string; kind: (typeof KINDS)[number]; limits?: WasmLimits }[] = [];
  const exports: { name: string; kind: (typeof KINDS)[number] }[] = [];
  const memories: WasmLimits[] = [];
  while (p < bytes.length) {
    const id = u8();
    const size = leb();
    const end = p + size;
    if (end > bytes.length) throw bad('section past the end');
    if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        const module = name();
        const field = name();
        const kind = KINDS[u8()];
        if (kind === undefined) throw bad('unknown import kind');
        if (kind === 'function') leb();
        else if (kind === 'table') {
          u8();
          limits();
        } else if (kind === 'global') {
          u8();
          u8();
        } else if (kind === 'tag') {
          u8();
          leb();
        }
        if (kind === 'memory') imports.push({ module, name: field, kind, limits: limits() });
        else imports.push({ module, name: field, kind });
      }
    } else if (id === 5) {
      for (let n = leb(); n > 0; n--) memories.push(limits());
    } else if (id === 7) {
      for (let n = leb(); n > 0; n--) {
        const nm = name();
        const kind = KINDS[u8()];
        leb();
        if (kind === undefined) throw bad('unknown export kind');
        exports.push({ name: nm, kind });
      }
    }
    p = end;
  }
  return { imports, exports, memories };
}

/**
 * Checks a module against the sandbox policy and a memory cap (pages): allowed imports,
 * the named functions exported, a memory that can be capped. Throws the typed error.
 */
export function checkUserModule(info: WasmModuleInfo, fns: readonly string[], capPages: number): void {
  for (const im of info.imports) {
    const ok =
      im.module === 'wasi_snapshot_preview1'
        ? im.kind === 'function'
        : im.module === 'env' && ((im.name === 'memory' && im.kind === 'memory') || (im.name === 'abort' && im.kind === 'function'));
    if (!ok)
      throw new GramfleetError(
        'KERNEL_SANDBOX_DENIED',
        `module imports ${im.module}.${im.name} (${im.kind}), which the sandbox does not provide (allowed: env.memory, env.abort, wasi_snapshot_preview1.*)`,
        { field: 'module', import: `${im.module}.${im.name}` },
      );
  }
  for (const fn of fns) {
    if (!info.exports.some((e) => e.name === fn && e.kind === 'function'))
      throw new GramfleetError('KERNEL_BAD_MODULE', `module has no exported function ${JSON.stringify(fn)}`, { field: 'exports', fn });
  }
  const mems = [...info.imports.filter((i) => i.kind === 'memory').map((i) => i.limits!), ...info.memories];
  if (mems.length !== 1)
    throw new GramfleetError('KERNEL_BAD_MODULE', `module must have exactly one memory (imported as env.memory or its own), has ${mems.length}`, {
      field: 'module',
    });
  const m = mems[0]!;
  if (m.min > capPages)
    throw new GramfleetError('KERNEL_USER_MEMORY_LIMIT', `module needs ${m.min} pages of memory at start, above the cap of ${capPages} pages (memoryMB)`, {
      field: 'memoryMB',
      needPages: m.min,
      capPages,
    });
  if (info.memories.length === 1 && (m.max === undefined || m.max > capPages)) {
    throw new GramfleetError(
      'KERNEL_USER_MEMORY_LIMIT',
      `module defines its own memory with maximum ${m.max ?? 'none'} pages, above the cap of ${capPages} pages; import env.memory (AssemblyScript: --importMemory) or declare a maximum`,
      { field: 'memoryMB', maxPages: m.max ?? null, capPages },
    );
  }
  if (!info.exports.some((e) => e.name === 'alloc' && e.kind === 'function') && !info.exports.some((e) => e.name === '__heap_base' && e.kind === 'global')) {
    throw new GramfleetError('KERNEL_BAD_MODULE', 'module must export alloc(bytes) -> ptr or a __heap_base global (where the host places arrays)', {
      field: 'exports',
    });
  }
}
