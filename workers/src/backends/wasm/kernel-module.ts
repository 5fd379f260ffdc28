/**
 * Chooses the kernel module binary: `kernels-fma.wasm` (built with `asc … --use GF_FMA=1`:
 * relaxed-SIMD fused multiply-add in the GEMM micro-kernel and the kernel-block exp) where
 * this Node accepts relaxed SIMD — Node ≥ 22, or Node 20 under
 * `--experimental-wasm-relaxed-simd` — and the plain `kernels.wasm` otherwise. Both export
 * the same kernels with the same signatures; `gf_fma_build()` tells which one is loaded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { kernelsWasmPath } from '@gramfleet/wasm';

/** A module exporting f(a, b, c) = f64x2.relaxed_madd(a, b, c): valid only where relaxed SIMD is on. */
const RELAXED_PROBE = Uint8Array.from([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 135, 2, 11,
]);

/** Whether this process's WebAssembly accepts relaxed-SIMD instructions. */
export function relaxedSimdAvailable(): boolean {
  return WebAssembly.validate(RELAXED_PROBE);
}

/** Path of the FMA build (beside `kernels.wasm`; may not exist). */
export const kernelsFmaWasmPath: string = path.join(path.dirname(kernelsWasmPath), 'kernels-fma.wasm');

/** The chosen kernel module bytes and whether they are the FMA build. */
export interface KernelModuleBytes {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly fma: boolean;
  readonly path: string;
}

/**
 * Reads the FMA build when `preferFma` (default true), it exists and it validates here;
 * otherwise the plain build. Never fails over a missing or rejected FMA build.
 */
export function loadKernelModuleBytes(preferFma = true): KernelModuleBytes {
  if (preferFma && relaxedSimdAvailable() && fs.existsSync(kernelsFmaWasmPath)) {
    const bytes = new Uint8Array(fs.readFileSync(kernelsFmaWasmPath));
    if (WebAssembly.validate(bytes)) return { bytes, fma: true, path: kernelsFmaWasmPath };
  }
  return { bytes: new Uint8Array(fs.readFileSync(kernelsWasmPath)), fma: false, path: kernelsWasmPath };
}

/** Node's V8 flag that turns relaxed SIMD on where it is not on by default (Node 20). */
export const RELAXED_SIMD_NODE_FLAG = '--experimental-wasm-relaxed-simd';

let cachedNodeArgs: string[] | undefined;

/**
 * The extra `node` arguments a child process needs so that it accepts relaxed SIMD (and so
 * loads the FMA build): none where this Node accepts it already (Node ≥ 22), the V8 flag
 * where a child started with it validates a relaxed-SIMD probe (Node 20), else none (the
 * child falls back to the plain SIMD build). Probed once per process.
 */
export function relaxedSimdNodeArgs(execPath: string = process.execPath): string[] {
  if (cachedNodeArgs !== undefined) return [...cachedNodeArgs];
  if (relaxedSimdAvailable()) cachedNodeArgs = [];
  else {
    const probe = `process.exit(WebAssembly.validate(Uint8Array.from(${JSON.stringify([...RELAXED_PROBE])})) ? 0 : 3)`;
    const r = spawnSync(execPath, [RELAXED_SIMD_NODE_FLAG, '-e', probe], { stdio: 'ignore', timeout: 20_000 });
    cachedNodeArgs = r.status === 0 ? [RELAXED_SIMD_NODE_FLAG] : [];
  }
  return [...cachedNodeArgs];
}

/** Which kernel build a worker runs: `fma` (relaxed-SIMD FMA) or `simd` (plain SIMD). */
export type KernelBuild = 'fma' | 'simd';
