/**
 * wasm kernel for `kernel-rows-matmul`: gathers the named rows out of the resident row blocks
 * (a copy of m×d values) and runs the `kernel-block-matmul` kernel on them.
 */
import { kernelRowsMatmulInputs, kernelRowsMatmulOp, type KernelBlockAttrs, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import type { DenseArenaSource } from './dense-host';
import { createKernelBlockMatmulKernel } from './kernel-block';

/** Builds the wasm `kernel-rows-matmul` kernel over arenas from `arenaOf`. */
export function createKernelRowsMatmulKernel(arenaOf: DenseArenaSource): KernelImpl<KernelBlockAttrs> {
  const matmul = createKernelBlockMatmulKernel(arenaOf);
  return (attrs: KernelBlockAttrs, inputs: readonly NdArray[], ctx) => matmul(attrs, kernelRowsMatmulInputs(inputs), ctx);
}

/** Registers the wasm `kernel-rows-matmul` kernel. */
export function registerKernelRowsMatmulWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registry.register('wasm', kernelRowsMatmulOp, createKernelRowsMatmulKernel(arenaOf));
}
