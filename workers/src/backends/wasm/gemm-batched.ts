/**
 * wasm kernel for `gemm-batched` (`gf_gemm_batched`: the packed GEMM driver per matrix).
 */
import { allocTyped, gemmBatchedOp, gemmBatchedProblem, type GemmBatchedAttrs, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import { allocBytes, callDense, putArray, type DenseArenaSource } from './dense-host';

/** Builds the wasm `gemm-batched` kernel over arenas from `arenaOf`. */
export function createGemmBatchedKernel(arenaOf: DenseArenaSource): KernelImpl<GemmBatchedAttrs> {
  return (attrs: GemmBatchedAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const p = gemmBatchedProblem(attrs, inputs);
    const arena = arenaOf();
    const f32 = p.dtype === 'f32';
    const a = putArray(arena, (inputs[0] as NdArray).data as Float64Array | Float32Array);
    const b = putArray(arena, (inputs[1] as NdArray).data as Float64Array | Float32Array);
    const size = p.batch * p.m * p.n;
    const c = allocBytes(arena, size * 8);
    const cIn = inputs[2];
    if (cIn !== undefined) arena.f64(c, size).set(cIn.data as Float64Array | Float32Array);
    const ws = allocBytes(arena, arena.fn('gf_gemm_workspace_bytes')());
    const ac = attrs.transA ? p.m : p.k;
    const bc = attrs.transB ? p.k : p.n;
    callDense(arena, gemmBatchedOp.id, 'gf_gemm_batched', [
      attrs.transA ? 1 : 0,
      attrs.transB ? 1 : 0,
      f32 ? 1 : 0,
      p.batch,
      p.m,
      p.n,
      p.k,
      attrs.alpha,
      a,
      0,
      Math.max(1, ac),
      p.m * p.k,
      b,
      0,
      Math.max(1, bc),
      p.k * p.n,
      cIn !== undefined ? attrs.beta : 0,
      c,
      0,
      Math.max(1, p.n),
      p.m * p.n,
      ws,
    ]);
    const out = allocTyped(p.dtype, size);
    out.set(arena.f64(c, size));
    return [{ dtype: p.dtype, shape: [p.batch, p.m, p.n], data: out }];
  };
}

/** Registers the wasm `gemm-batched` kernel. */
export function registerGemmBatchedWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registry.register('wasm', gemmBatchedOp, createGemmBatchedKernel(arenaOf));
}
