/**
 * Fixtures for the dense and sparse kernel conformance suites (gemm, gemv, gemm-batched,
 * kernel-block, csr-*): a registry with both backends, typed-error assertions that also check
 * the message names the argument, tolerance comparisons and random CSR matrices.
 */
import * as assert from 'node:assert/strict';
import {
  csrFromTripletsOp,
  csrSpmmOp,
  csrSpmvOp,
  csrTransposeOp,
  gemmBatchedOp,
  gemmOp,
  gemvOp,
  isGramfleetError,
  kernelBlockMatmulOp,
  kernelBlockOp,
  type GramfleetError,
  type KernelRegistry,
  type NdArray,
} from '@gramfleet/core';
import { registerDenseSparseWasm } from '@gramfleet/workers/internal';
import { linalgRegistry, rng } from './linalg-fixtures';

export { BACKENDS, runOp, rng } from './linalg-fixtures';

/** A registry with the reference and wasm kernels of every dense/sparse op. */
export function denseRegistry(): KernelRegistry {
  return linalgRegistry(
    [gemmOp, gemvOp, gemmBatchedOp, kernelBlockOp, kernelBlockMatmulOp, csrSpmvOp, csrSpmmOp, csrTransposeOp, csrFromTripletsOp],
    registerDenseSparseWasm,
  );
}

/** Asserts `p` rejects with a gramfleet error of `code` whose message names `argument`. */
export async function rejectsNaming(p: Promise<unknown> | (() => unknown), code: string, argument: string): Promise<GramfleetError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(isGramfleetError(e), `expected a GramfleetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(argument), `message should name ${argument}: ${e.message}`);
    return e;
  }
  assert.fail(`expected an error with code ${code}`);
}

/** Asserts |actual − expected| ≤ atol + rtol·|expected| element-wise. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const tol = atol + rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= tol)) assert.fail(`${what}: element ${i} is ${a}, expected ${e} (tolerance ${tol})`);
  }
}

/** Random array with entries uniform in [−½, ½). */
export function rand(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = r();
  return a;
}

/** Random f32 array with entries uniform in [−½, ½). */
export function rand32(n: number, seed: number): Float32Array {
  return Float32Array.from(rand(n, seed));
}

/** An NdArray of the given dtype. */
export function arr(dtype: 'f64' | 'f32' | 'i32', shape: number[], data: Float64Array | Float32Array | Int32Array): NdArray {
  return { dtype, shape, data } as NdArray;
}

/** A random CSR matrix (m×n, about `perRow` entries per row, sorted, no duplicates) as [indptr, indices, data]. */
export function randomCsr(m: number, n: number, perRow: number, seed: number): [NdArray, NdArray, NdArray] {
  const r = rng(seed);
  const ip = new Int32Array(m + 1);
  const ix: number[] = [];
  const dv: number[] = [];
  for (let i = 0; i < m; i++) {
    const cols = new Set<number>();
    const want = n === 0 ? 0 : Math.min(n, Math.floor((r() + 0.5) * 2 * perRow));
    while (cols.size < want) cols.add(Math.floor((r() + 0.5) * n) % n);
    for (const j of [...cols].sort((a, b) => a - b)) {
      ix.push(j);
      dv.push(r());
    }
    ip[i + 1] = ix.length;
  }
  return [arr('i32', [m + 1], ip), arr('i32', [ix.length], Int32Array.from(ix)), arr('f64', [dv.length], Float64Array.from(dv))];
}
