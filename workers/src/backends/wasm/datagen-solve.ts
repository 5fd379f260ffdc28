/**
 * wasm kernel for `datagen-solve`: the same instance generation, preconditioner and GCRO-DR
 * code path as the reference, with the Krylov basis and its dense products in the kernel
 * module ({@link createWasmKrylovDense}). Sparse mat-vec and preconditioner stay in JS on
 * views of the basis rows.
 */
import { datagenSolve, datagenSolveOp, recycleRows, type DatagenSolveAttrs, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import type { DenseArenaSource } from './dense-host';
import { createWasmKrylovDense } from './krylov-dense';

/** Builds the wasm `datagen-solve` kernel over arenas from `arenaOf`. */
export function createDatagenSolveKernel(arenaOf: DenseArenaSource): KernelImpl<DatagenSolveAttrs> {
  return (attrs: DatagenSolveAttrs, inputs: readonly NdArray[]): NdArray[] => datagenSolve(attrs, recycleRows(inputs[0]), createWasmKrylovDense(arenaOf()));
}

/** Registers the wasm `datagen-solve` kernel. */
export function registerDatagenSolveWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registry.register('wasm', datagenSolveOp, createDatagenSolveKernel(arenaOf));
}
