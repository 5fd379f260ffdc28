/**
 * The one explicit list of kernels per backend. Adding an op: import its registration here
 * and add one line to each function below (see CONTRIBUTING.md).
 *
 * - {@link registerWasmKernels}`(registry, arena)`: every wasm kernel under backend `'wasm'`;
 *   `arena()` returns the thread's live {@link WasmArena} (a fresh, reset one after a trap).
 * - {@link registerReferenceKernels}`(registry)`: every op's float64 reference under backend
 *   `'reference'` (the oracle, and the fallback when a backend lacks a kernel).
 */
import { grfWalksOp, type KernelRegistry } from '@gramfleet/core';
import type { WasmArena } from './arena';
import { registerGrfWalksWasm } from './grf-walks';

/** Registers every wasm kernel under backend `'wasm'`. */
export function registerWasmKernels(registry: KernelRegistry, arena: () => WasmArena): void {
  registerGrfWalksWasm(registry, arena);
}

/** Registers every op's float64 reference under backend `'reference'`. */
export function registerReferenceKernels(registry: KernelRegistry): void {
  registry.register('reference', grfWalksOp, (attrs, inputs) => grfWalksOp.reference(attrs, inputs));
}
