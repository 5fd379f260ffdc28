/**
 * Loading CUDA libraries through koffi and binding their C functions from prototype strings.
 * A library that is absent, or that lacks a symbol, becomes a typed {@link GramfleetError}
 * (never a crash): `WORKER_NO_DEVICE` for the driver (`libcuda`), `GPU_LIBRARY_MISSING` for
 * NVRTC, cuBLAS and cuSOLVER.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as koffi from 'koffi';
import { GramfleetError, type ErrorCode } from '@gramfleet/core';

/** A bound C function; every CUDA entry point used here returns an integer status. */
export type CFunction = (...args: unknown[]) => number;

/** A loaded shared library. */
export type NativeLibrary = ReturnType<typeof koffi.load>;

/** Where to look for a library. */
export interface LibrarySearch {
  /** What it is, for messages ("CUDA driver", "NVRTC", …). */
  readonly what: string;
  /** File names to try, in order (e.g. `libnvrtc.so.12`, `libnvrtc.so`). */
  readonly names: readonly string[];
  /** Directories to try first; then the system's default search (`dlopen` by bare name). */
  readonly dirs: readonly string[];
  /** Code of the error when nothing loads. */
  readonly code: ErrorCode;
}

/** A library and the path it was loaded from. */
export interface LoadedLibrary {
  readonly lib: NativeLibrary;
  readonly path: string;
}

/** Loads the first library found; throws `search.code` listing everything tried. */
export function loadLibrary(search: LibrarySearch): LoadedLibrary {
  const tried: string[] = [];
  const candidates: string[] = [];
  for (const d of search.dirs) for (const n of search.names) candidates.push(path.join(d, n));
  candidates.push(...search.names);
  for (const c of candidates) {
    if (c.includes('/') && !fs.existsSync(c)) {
      tried.push(`${c} (absent)`);
      continue;
    }
    try {
      return { lib: koffi.load(c), path: c };
    } catch (e) {
      tried.push(`${c} (${firstLine((e as Error).message)})`);
    }
  }
  throw new GramfleetError(search.code, `${search.what} library not found; tried ${tried.join('; ')}`, { library: search.what, tried });
}

/**
 * Binds every prototype of `protos` (key: the name used in TypeScript, value: a C prototype
 * in koffi's syntax). A missing symbol throws `GPU_LIBRARY_MISSING` naming it.
 */
export function bindAll<K extends string>(loaded: LoadedLibrary, what: string, protos: Readonly<Record<K, string>>): Record<K, CFunction> {
  const out = {} as Record<K, CFunction>;
  for (const key of Object.keys(protos) as K[]) {
    const proto = protos[key];
    try {
      out[key] = loaded.lib.func(proto) as CFunction;
    } catch (e) {
      throw new GramfleetError('GPU_LIBRARY_MISSING', `${what} (${loaded.path}) lacks ${key}: ${firstLine((e as Error).message)}`, {
        library: what,
        path: loaded.path,
        symbol: key,
      });
    }
  }
  return out;
}

/** Parses prototypes without any library (a check that every declaration is valid koffi syntax). */
export function parsePrototypes(protos: Readonly<Record<string, string>>): string[] {
  const bad: string[] = [];
  for (const [k, p] of Object.entries(protos)) {
    try {
      koffi.proto(p);
    } catch (e) {
      bad.push(`${k}: ${firstLine((e as Error).message)}`);
    }
  }
  return bad;
}

/** A device address as a bigint (koffi returns 64-bit integers as number or bigint). */
export function toAddress(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  throw new GramfleetError('GPU_CUDA_ERROR', `expected a device address, got ${typeof v}`);
}

/** One out-parameter slot (koffi writes `_Out_` pointer results into element 0). */
export function outSlot(): [unknown] {
  return [null];
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

export { koffi };
