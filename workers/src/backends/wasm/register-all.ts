/**
 * The one explicit list of kernels per backend.
 *
 * - {@link registerWasmKernels}`(registry, arena)`: every wasm kernel under backend `'wasm'`;
 *   `arena()` returns the thread's live {@link WasmArena} (reset; a fresh one after a trap).
 *   Adding a wasm kernel: import its `registerXWasm(registry, arena)` and add one line here.
 * - {@link registerReferenceKernels}`(registry)`: the float64 reference of every op in the
 *   catalogue `OPS` under backend `'reference'` (the oracle, and the fallback when a backend
 *   lacks a kernel). It walks the catalogue, so a new op needs no line here — registering a
 *   reference by hand as well would throw `KERNEL_DUPLICATE`.
 */
import { OPS, type KernelRegistry } from '@gramfleet/core';
import type { WasmArena } from './arena';
import { registerDenseSparseWasm } from './dense-register';
import { registerGrfWalksWasm } from './grf-walks';
import { registerFactorisationWasm } from './linalg-register';
import { registerKronGpWasm } from './kron-linalg';
import { registerDatagenSolveWasm } from './datagen-solve';
import { registerKernelRowsMatmulWasm } from './kernel-rows-matmul';

/** Registers every wasm kernel under backend `'wasm'`. */
export function registerWasmKernels(registry: KernelRegistry, arena: () => WasmArena): void {
  registerGrfWalksWasm(registry, arena);
  registerDenseSparseWasm(registry, arena); // kernel library: dense and sparse kernels
  registerFactorisationWasm(registry, arena); // kernel library: factorisations, eigensolvers, mode product
  registerKronGpWasm(registry, arena); // Kronecker GP shard ops
  registerDatagenSolveWasm(registry, arena); // datagen: GCRO-DR with the Krylov basis in wasm memory
  registerKernelRowsMatmulWasm(registry, arena); // EigenPro: kernel products on resident row blocks
}

/** Registers the float64 reference of every catalogued op under backend `'reference'`. */
export function registerReferenceKernels(registry: KernelRegistry): void {
  for (const id of OPS.ids()) {
    const op = OPS.get(id);
    registry.register('reference', op, (attrs, inputs) => op.reference(attrs, inputs));
  }
}
