/**
 * NVRTC through koffi: CUDA C source → PTX at start-up, with no GPU needed. Compiled PTX is
 * cached by the SHA-256 of (NVRTC version, options, source) in memory and, optionally, in a
 * directory, so a worker restart does not recompile. A failed compile throws
 * `GPU_COMPILE_FAILED` carrying NVRTC's log; a missing libnvrtc throws `GPU_LIBRARY_MISSING`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { GramfleetError } from '@gramfleet/core';
import { bindAll, loadLibrary, outSlot, type CFunction } from './ffi';

/** NVRTC entry points. */
export const NVRTC_PROTOTYPES = {
  nvrtcVersion: 'int nvrtcVersion(_Out_ int *major, _Out_ int *minor)',
  nvrtcGetErrorString: 'const char *nvrtcGetErrorString(int result)',
  nvrtcGetNumSupportedArchs: 'int nvrtcGetNumSupportedArchs(_Out_ int *count)',
  nvrtcGetSupportedArchs: 'int nvrtcGetSupportedArchs(_Out_ int *archs)',
  nvrtcCreateProgram:
    'int nvrtcCreateProgram(_Out_ void **prog, const char *src, const char *name, int numHeaders, const char **headers, const char **includeNames)',
  nvrtcCompileProgram: 'int nvrtcCompileProgram(void *prog, int numOptions, const char **options)',
  nvrtcGetPTXSize: 'int nvrtcGetPTXSize(void *prog, _Out_ size_t *size)',
  nvrtcGetPTX: 'int nvrtcGetPTX(void *prog, _Out_ uint8_t *ptx)',
  nvrtcGetProgramLogSize: 'int nvrtcGetProgramLogSize(void *prog, _Out_ size_t *size)',
  nvrtcGetProgramLog: 'int nvrtcGetProgramLog(void *prog, _Out_ uint8_t *log)',
  nvrtcDestroyProgram: 'int nvrtcDestroyProgram(_Inout_ void **prog)',
} as const;

/** Options of {@link openNvrtc}. */
export interface NvrtcOptions {
  /** Directories searched for libnvrtc before the system's default (the setup script puts it in `.gramfleet/cuda/lib`). */
  readonly libDirs?: readonly string[];
  /** Directory of the on-disk PTX cache. @default none (memory only) */
  readonly cacheDir?: string;
}

/** One compile request. */
export interface CompileRequest {
  /** CUDA C source (self-contained: no #include). */
  readonly source: string;
  /** Program name shown in the log, e.g. `kernel-block.cu`. */
  readonly name: string;
  /** Compute capability to target, e.g. `'8.0'` → `--gpu-architecture=compute_80`. */
  readonly computeCapability: string;
  /** Extra NVRTC options. @default ['--fmad=false', '-default-device'] */
  readonly options?: readonly string[];
}

/** A compiled program. */
export interface CompiledPtx {
  readonly ptx: string;
  /** SHA-256 cache key. */
  readonly key: string;
  /** Where it came from. */
  readonly from: 'compiled' | 'memory' | 'disk';
  readonly log: string;
}

/** Cache counters. */
export interface NvrtcStats {
  compiled: number;
  memoryHits: number;
  diskHits: number;
}

/** An opened NVRTC. */
export interface Nvrtc {
  /** e.g. `'12.9'`. */
  readonly version: string;
  readonly path: string;
  /** Virtual architectures this NVRTC can target, e.g. [50, …, 90, 100, 120]. */
  readonly supportedArchs: readonly number[];
  /** Compiles (or finds in the cache) a program. */
  compile(req: CompileRequest): CompiledPtx;
  readonly stats: Readonly<NvrtcStats>;
}

/**
 * Default options: no FMA contraction (`--fmad=false`) so element-wise kernels round exactly
 * as the float64 references do, and `-default-device` so helpers need no `__device__`.
 */
export const DEFAULT_NVRTC_OPTIONS: readonly string[] = ['--fmad=false', '-default-device'];

/** Loads NVRTC; throws `GPU_LIBRARY_MISSING` when absent. */
export function openNvrtc(o: NvrtcOptions = {}): Nvrtc {
  const loaded = loadLibrary({ what: 'NVRTC', names: ['libnvrtc.so.12', 'libnvrtc.so.13', 'libnvrtc.so'], dirs: o.libDirs ?? [], code: 'GPU_LIBRARY_MISSING' });
  const api = bindAll(loaded, 'NVRTC', NVRTC_PROTOTYPES);
  const ma = outSlot(),
    mi = outSlot();
  api.nvrtcVersion(ma, mi);
  const version = `${String(ma[0])}.${String(mi[0])}`;
  const na = outSlot();
  api.nvrtcGetNumSupportedArchs(na);
  const archs = new Int32Array(Number(na[0] ?? 0));
  if (archs.length > 0) api.nvrtcGetSupportedArchs(archs);
  const memory = new Map<string, string>();
  const stats: NvrtcStats = { compiled: 0, memoryHits: 0, diskHits: 0 };
  const errText = (s: number): string => String((api.nvrtcGetErrorString as unknown as (r: number) => string)(s));

  function compile(req: CompileRequest): CompiledPtx {
    const arch = archFor(req.computeCapability, [...archs]);
    const options = [`--gpu-architecture=compute_${arch}`, ...(req.options ?? DEFAULT_NVRTC_OPTIONS)];
    const key = ptxCacheKey(version, options, req.source);
    const hit = memory.get(key);
    if (hit !== undefined) {
      stats.memoryHits++;
      return { ptx: hit, key, from: 'memory', log: '' };
    }
    const file = o.cacheDir !== undefined ? path.join(o.cacheDir, `${key}.ptx`) : undefined;
    if (file !== undefined && fs.existsSync(file)) {
      const ptx = fs.readFileSync(file, 'utf8');
      memory.set(key, ptx);
      stats.diskHits++;
      return { ptx, key, from: 'disk', log: '' };
    }
    const prog = outSlot();
    const cs = api.nvrtcCreateProgram(prog, req.source, req.name, 0, null, null);
    if (cs !== 0) throw new GramfleetError('GPU_COMPILE_FAILED', `nvrtcCreateProgram(${req.name}) failed: ${errText(cs)}`, { program: req.name, status: cs });
    try {
      const status = api.nvrtcCompileProgram(prog[0], options.length, options);
      const log = programLog(api, prog[0]);
      if (status !== 0)
        throw new GramfleetError('GPU_COMPILE_FAILED', `NVRTC could not compile ${req.name} (${errText(status)}):\n${log}`, {
          program: req.name,
          status,
          log,
          options,
        });
      const size = outSlot();
      api.nvrtcGetPTXSize(prog[0], size);
      const buf = new Uint8Array(Number(size[0]));
      api.nvrtcGetPTX(prog[0], buf);
      const ptx = Buffer.from(buf.subarray(0, Math.max(0, buf.length - 1))).toString('utf8');
      memory.set(key, ptx);
      if (file !== undefined) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file + `.${process.pid}.tmp`, ptx);
        fs.renameSync(file + `.${process.pid}.tmp`, file);
      }
      stats.compiled++;
      return { ptx, key, from: 'compiled', log };
    } finally {
      api.nvrtcDestroyProgram(prog);
    }
  }
  return { version, path: loaded.path, supportedArchs: [...archs], compile, stats };
}

/** The cache key of a program: SHA-256 over NVRTC version, options and source. */
export function ptxCacheKey(version: string, options: readonly string[], source: string): string {
  return createHash('sha256')
    .update(`nvrtc ${version}\0${options.join('\0')}\0${source}`)
    .digest('hex');
}

/**
 * The virtual architecture to compile for: the device's compute capability when NVRTC
 * supports it, else the highest supported one below it (the driver JIT-compiles PTX forward).
 * Throws `GPU_COMPILE_FAILED` when NVRTC supports nothing at or below it.
 */
export function archFor(computeCapability: string, supported: readonly number[]): number {
  const m = /^(\d+)\.(\d+)$/.exec(computeCapability);
  if (m === null)
    throw new GramfleetError('INPUT_INVALID', `computeCapability must look like '8.0', got ${JSON.stringify(computeCapability)}`, {
      field: 'computeCapability',
    });
  const want = Number(m[1]) * 10 + Number(m[2]);
  if (supported.length === 0) return want;
  const ok = supported.filter((a) => a <= want);
  if (ok.length === 0)
    throw new GramfleetError('GPU_COMPILE_FAILED', `NVRTC supports compute_${Math.min(...supported)} and above; the device is compute ${computeCapability}`, {
      computeCapability,
      supported,
    });
  return Math.max(...ok);
}

function programLog(api: Record<keyof typeof NVRTC_PROTOTYPES, CFunction>, prog: unknown): string {
  const size = outSlot();
  api.nvrtcGetProgramLogSize(prog, size);
  const buf = new Uint8Array(Math.max(1, Number(size[0])));
  api.nvrtcGetProgramLog(prog, buf);
  const end = buf.indexOf(0);
  return Buffer.from(buf.subarray(0, end < 0 ? buf.length : end))
    .toString('utf8')
    .trim();
}
