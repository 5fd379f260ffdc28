/**
 * Fixtures for the factorisation / eigen / mode-product conformance suites: a registry with
 * the 'reference' and 'wasm' backends for those ops, seeded random matrices, norms.
 */
import * as fs from 'node:fs';
import { createKernelRegistry, isGramfleetError, type KernelRegistry, type NdArray } from '@gramfleet/core';
import { type AnyOpDef } from '@gramfleet/core/internal';
import { kernelsWasmPath } from '@gramfleet/wasm';
import { loadKernelModuleBytes, WasmArena } from '@gramfleet/workers';
import * as assert from 'node:assert/strict';

/** Backends every suite runs. */
export const BACKENDS = ['reference', 'wasm'] as const;

/**
 * The kernel module binary the suites test: the plain SIMD build, or — when the suite runs
 * with GF_TEST_KERNEL_BUILD=fma in a process that accepts relaxed SIMD (fma-build.test.ts
 * starts it so) — the relaxed-SIMD FMA build the workers load by default.
 */
export function kernelBytes(): Uint8Array<ArrayBuffer> {
  if (process.env['GF_TEST_KERNEL_BUILD'] === 'fma') {
    const chosen = loadKernelModuleBytes(true);
    if (!chosen.fma) throw new Error('GF_TEST_KERNEL_BUILD=fma but the FMA build cannot be loaded in this process');
    return chosen.bytes;
  }
  return new Uint8Array(fs.readFileSync(kernelsWasmPath));
}

let cachedModule: WebAssembly.Module | undefined;
/** The compiled kernel module (build it with the setup script). */
export function kernelModule(): WebAssembly.Module {
  cachedModule ??= new WebAssembly.Module(kernelBytes());
  return cachedModule;
}

/** A registry with the reference kernels of `ops` and the wasm kernels registered by `registerWasm`. */
export function linalgRegistry(ops: readonly AnyOpDef[], registerWasm: (r: KernelRegistry, arena: () => WasmArena) => void): KernelRegistry {
  const reg = createKernelRegistry();
  for (const op of ops) reg.register('reference', op, (a, i) => op.reference(a, i));
  let arena: WasmArena | undefined;
  registerWasm(reg, () => {
    if (arena === undefined || arena.poisoned) arena = new WasmArena(kernelModule());
    arena.reset();
    return arena;
  });
  return reg;
}

/** Runs op on a backend the way a worker does: parse attrs, check inputs, call the kernel. */
export async function runOp(reg: KernelRegistry, backend: string, op: AnyOpDef, rawAttrs: unknown, inputs: NdArray[]): Promise<NdArray[]> {
  const attrs = op.parseAttrs(rawAttrs);
  op.checkInputs(attrs, inputs);
  return await reg.get(backend, op.id)(attrs, inputs, {});
}

/** Asserts that `p` rejects with a gramfleet error of `code`; returns its details. */
export async function rejectsWithCode(p: Promise<unknown> | (() => unknown), code: string): Promise<Readonly<Record<string, unknown>>> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(isGramfleetError(e), `expected a GramfleetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e.details;
  }
  assert.fail(`expected an error with code ${code}`);
}

/** Small deterministic RNG (xorshift-multiply) for test data. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}

/** A row-major f64 matrix with entries uniform in [−½, ½). */
export function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const r = rng(seed);
  const a = new Float64Array(rows * cols);
  for (let i = 0; i < a.length; i++) a[i] = r();
  return a;
}

/** C = A·B for row-major A (m×k), B (k×n). */
export function matmul(m: number, k: number, n: number, a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p] as number;
      if (aip === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] = (c[i * n + j] as number) + aip * (b[p * n + j] as number);
    }
  }
  return c;
}

/** Transpose of a row-major rows×cols matrix. */
export function transposed(rows: number, cols: number, a: ArrayLike<number>): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j] as number;
  return t;
}

/** A well-conditioned SPD matrix G·Gᵀ/n + I. */
export function randomSpd(n: number, seed: number): Float64Array {
  const g = randomMatrix(n, n, seed);
  const a = matmul(n, n, n, g, transposed(n, n, g));
  for (let i = 0; i < n * n; i++) a[i] = (a[i] as number) / Math.max(n, 1);
  for (let i = 0; i < n; i++) a[i * n + i] = (a[i * n + i] as number) + 1;
  return a;
}

/**
 * A Laplacian-kernel matrix exp(−|x_i − x_j|/σ) on sorted points in [0, 1]: symmetric
 * positive semi-definite with eigenvalues decaying towards round-off (≈1e-16·n).
 */
export function laplacianKernel(n: number, sigma: number, seed: number): Float64Array {
  const r = rng(seed);
  const x = Array.from({ length: n }, () => r() + 0.5).sort((p, q) => p - q);
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) k[i * n + j] = Math.exp(-Math.abs((x[i] as number) - (x[j] as number)) / sigma);
  return k;
}

/** A Gaussian-kernel matrix on random points in 3-D: eigenvalues decay to 1e-16 and below. */
export function gaussianKernel(n: number, sigma: number, seed: number): Float64Array {
  const r = rng(seed);
  const x = Array.from({ length: n * 3 }, () => r());
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let d = 0;
      for (let c = 0; c < 3; c++) d += ((x[i * 3 + c] as number) - (x[j * 3 + c] as number)) ** 2;
      k[i * n + j] = Math.exp(-d / (2 * sigma * sigma));
    }
  }
  return k;
}

/** Frobenius norm of a − b (or of a). */
export function fro(a: ArrayLike<number>, b?: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b === undefined ? 0 : (b[i] as number));
    s += d * d;
  }
  return Math.sqrt(s);
}

/** max |a_i − b_i| */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** An f64 NdArray. */
export function f64(shape: number[], data: Float64Array): NdArray<'f64'> {
  return { dtype: 'f64', shape, data };
}
