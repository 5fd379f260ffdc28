/**
 * wasm kernel for `gemv` (`gf_gemv`: f64x2 row dot products, or row axpys for Aᵀx).
 */
import { gemvOp, gemvProblem, type GemvAttrs, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import { allocBytes, callDense, putArray, type DenseArenaSource } from './dense-host';

/** Builds the wasm `gemv` kernel over arenas from `arenaOf`. */
export function createGemvKernel(arenaOf: DenseArenaSource): KernelImpl<GemvAttrs> {
  return (attrs: GemvAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const p = gemvProblem(attrs, inputs);
    const arena = arenaOf();
    const a = putArray(arena, (inputs[0] as NdArray).data as Float64Array);
    const x = putArray(arena, (inputs[1] as NdArray).data as Float64Array);
    const yIn = inputs[2];
    const y = yIn !== undefined ? putArray(arena, yIn.data as Float64Array) : allocBytes(arena, p.outLength * 8);
    callDense(arena, gemvOp.id, 'gf_gemv', [
      attrs.trans ? 1 : 0,
      p.m,
      p.n,
      attrs.alpha,
      a,
      p.a.offset,
      p.a.ld,
      x,
      attrs.offsetX,
      attrs.incx,
      p.hasY ? attrs.beta : 0,
      y,
      attrs.offsetY,
      attrs.incy,
    ]);
    return [{ dtype: 'f64', shape: yIn !== undefined ? [...yIn.shape] : [p.lenY], data: arena.f64(y, p.outLength).slice() }];
  };
}

/** Registers the wasm `gemv` kernel. */
export function registerGemvWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registry.register('wasm', gemvOp, createGemvKernel(arenaOf));
}
