/**
 * wasm kernel for `triangular-solve`: forward/back substitution with many right-hand sides
 * (`gf_triangular_solve`).
 */
import { singularTriangle, triangularSolveOp, type KernelImpl, type KernelRegistry, type NdArray, type TriangularSolveAttrs } from '@gramfleet/core';
import { LA_STATUS, allocF64, putF64, readF64, readI32, unexpectedStatus, type ArenaSource } from './linalg-host';

/** Builds the wasm `triangular-solve` kernel over arenas from `arenaOf`. */
export function createTriangularSolveKernel(arenaOf: ArenaSource): KernelImpl<TriangularSolveAttrs> {
  return (attrs: TriangularSolveAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const t = inputs[0] as NdArray<'f64'>;
    const b = inputs[1] as NdArray<'f64'>;
    const n = t.shape[0] as number;
    const k = b.shape.length === 1 ? 1 : (b.shape[1] as number);
    const arena = arenaOf();
    const pt = putF64(arena, t.data);
    const pb = putF64(arena, b.data);
    const info = allocF64(arena, 1);
    const s = arena.call(
      'gf_triangular_solve',
      n,
      k,
      pt,
      Math.max(n, 1),
      pb,
      Math.max(k, 1),
      attrs.lower ? 1 : 0,
      attrs.transpose ? 1 : 0,
      attrs.unitDiagonal ? 1 : 0,
      info,
    );
    if (s === LA_STATUS.SINGULAR) throw singularTriangle(triangularSolveOp.id, 't', readI32(arena, info));
    if (s !== LA_STATUS.OK) throw unexpectedStatus(triangularSolveOp.id, 'gf_triangular_solve', s);
    return [{ dtype: 'f64', shape: [...b.shape], data: readF64(arena, pb, n * k) }];
  };
}

/** Registers the wasm `triangular-solve` kernel. */
export function registerTriangularSolveWasm(registry: KernelRegistry, arenaOf: ArenaSource): void {
  registry.register('wasm', triangularSolveOp, createTriangularSolveKernel(arenaOf));
}
