/**
 * wasm kernels for `kernel-block` (`gf_kernel_block`: packed GEMM of −2·X·Zᵀ with the kernel
 * epilogue applied to each finished register tile) and `kernel-block-matmul`
 * (`gf_kernel_block_matmul`: the same, panel by panel, multiplied into A; with
 * `accumulate: 'f32'`, `gf_kernel_block_matmul_f32`: f32x4 dot products and f32 epilogue).
 */
import {
  KERNEL_FUNCTIONS,
  kernelBlockMatmulOp,
  kernelBlockOp,
  kernelBlockProblem,
  type KernelBlockAttrs,
  type KernelImpl,
  type KernelRegistry,
  type NdArray,
} from '@gramfleet/core';
import { allocBytes, callDense, putArray, type DenseArenaSource } from './dense-host';

/** The wasm kernel id of a kernel function name. */
export function kernelFunctionId(name: KernelBlockAttrs['kernel']): number {
  return KERNEL_FUNCTIONS.indexOf(name);
}

/** Builds the wasm `kernel-block` kernel over arenas from `arenaOf`. */
export function createKernelBlockKernel(arenaOf: DenseArenaSource): KernelImpl<KernelBlockAttrs> {
  return (attrs: KernelBlockAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const p = kernelBlockProblem(kernelBlockOp.id, attrs, inputs, false);
    const arena = arenaOf();
    const x = putArray(arena, (inputs[0] as NdArray).data as Float64Array | Float32Array);
    const z = putArray(arena, (inputs[1] as NdArray).data as Float64Array | Float32Array);
    if (attrs.accumulate === 'f32') {
      // The f32 block of kernel-block-f32.ts: the values the f32 matmul multiplies into A.
      const out32 = allocBytes(arena, p.n * p.m * 4);
      const ws32 = allocBytes(arena, arena.fn('gf_kernel_block_matmul_f32_workspace_bytes')(p.n, p.m, p.d));
      callDense(arena, kernelBlockOp.id, 'gf_kernel_block_f32', [
        kernelFunctionId(attrs.kernel),
        p.n,
        p.m,
        p.d,
        x,
        p.x.offset,
        p.x.ld,
        z,
        p.z.offset,
        p.z.ld,
        attrs.bandwidth,
        out32,
        0,
        Math.max(1, p.m),
        ws32,
      ]);
      return [{ dtype: 'f32', shape: [p.n, p.m], data: arena.f32(out32, p.n * p.m).slice() }];
    }
    const out = allocBytes(arena, p.n * p.m * 8);
    const ws = allocBytes(arena, arena.fn('gf_kernel_block_workspace_bytes')(p.n, p.m, 0));
    callDense(arena, kernelBlockOp.id, 'gf_kernel_block', [
      kernelFunctionId(attrs.kernel),
      p.dtype === 'f32' ? 1 : 0,
      p.n,
      p.m,
      p.d,
      x,
      p.x.offset,
      p.x.ld,
      z,
      p.z.offset,
      p.z.ld,
      attrs.bandwidth,
      out,
      0,
      Math.max(1, p.m),
      ws,
    ]);
    return [{ dtype: 'f64', shape: [p.n, p.m], data: arena.f64(out, p.n * p.m).slice() }];
  };
}

/** Builds the wasm `kernel-block-matmul` kernel over arenas from `arenaOf`. */
export function createKernelBlockMatmulKernel(arenaOf: DenseArenaSource): KernelImpl<KernelBlockAttrs> {
  return (attrs: KernelBlockAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const p = kernelBlockProblem(kernelBlockMatmulOp.id, attrs, inputs, true);
    const arena = arenaOf();
    const x = putArray(arena, (inputs[0] as NdArray).data as Float64Array | Float32Array);
    const z = putArray(arena, (inputs[1] as NdArray).data as Float64Array | Float32Array);
    const a = putArray(arena, (inputs[2] as NdArray).data as Float64Array);
    const o0 = inputs[3];
    const out = o0 !== undefined ? putArray(arena, o0.data as Float64Array) : allocBytes(arena, p.n * p.c * 8);
    if (attrs.accumulate === 'f32') {
      // f32 dot products and kernel values (kernel-block-f32.ts); inputs are f32 (checked above).
      const ws32 = allocBytes(arena, arena.fn('gf_kernel_block_matmul_f32_workspace_bytes')(p.n, p.m, p.d));
      callDense(arena, kernelBlockMatmulOp.id, 'gf_kernel_block_matmul_f32', [
        kernelFunctionId(attrs.kernel),
        p.n,
        p.m,
        p.d,
        p.c,
        x,
        p.x.offset,
        p.x.ld,
        z,
        p.z.offset,
        p.z.ld,
        attrs.bandwidth,
        a,
        0,
        Math.max(1, p.c),
        o0 !== undefined ? attrs.beta : 0,
        out,
        0,
        Math.max(1, p.c),
        ws32,
      ]);
      return [{ dtype: 'f64', shape: [p.n, p.c], data: arena.f64(out, p.n * p.c).slice() }];
    }
    const ws = allocBytes(arena, arena.fn('gf_kernel_block_workspace_bytes')(p.n, p.m, 1));
    callDense(arena, kernelBlockMatmulOp.id, 'gf_kernel_block_matmul', [
      kernelFunctionId(attrs.kernel),
      p.dtype === 'f32' ? 1 : 0,
      p.n,
      p.m,
      p.d,
      p.c,
      x,
      p.x.offset,
      p.x.ld,
      z,
      p.z.offset,
      p.z.ld,
      attrs.bandwidth,
      a,
      0,
      Math.max(1, p.c),
      o0 !== undefined ? attrs.beta : 0,
      out,
      0,
      Math.max(1, p.c),
      ws,
    ]);
    return [{ dtype: 'f64', shape: [p.n, p.c], data: arena.f64(out, p.n * p.c).slice() }];
  };
}

/** Registers the wasm `kernel-block` and `kernel-block-matmul` kernels. */
export function registerKernelBlockWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registry.register('wasm', kernelBlockOp, createKernelBlockKernel(arenaOf));
  registry.register('wasm', kernelBlockMatmulOp, createKernelBlockMatmulKernel(arenaOf));
}
