/**
 * wasm kernel for `eig-small`: Hessenberg + Francis double-shift QR (+ LU reduction of the
 * generalised problem) (`gf_eig_small`).
 */
import {
  eigSmallNoConvergence,
  eigSmallOp,
  eigSmallShape,
  orderEigenpairs,
  singularB,
  type EigSmallAttrs,
  type KernelImpl,
  type KernelRegistry,
  type NdArray,
} from '@gramfleet/core';
import { LA_STATUS, allocF64, putF64, readF64, readI32, unexpectedStatus, type ArenaSource } from './linalg-host';

/** Builds the wasm `eig-small` kernel over arenas from `arenaOf`. */
export function createEigSmallKernel(arenaOf: ArenaSource): KernelImpl<EigSmallAttrs> {
  return (attrs: EigSmallAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const { n, generalised } = eigSmallShape(inputs);
    const arena = arenaOf();
    const pa = putF64(arena, (inputs[0] as NdArray<'f64'>).data);
    const pb = generalised ? putF64(arena, (inputs[1] as NdArray<'f64'>).data) : 0;
    const pwr = allocF64(arena, n);
    const pwi = allocF64(arena, n);
    const pv = allocF64(arena, n * n);
    const work = arena.alloc(arena.call('gf_eig_small_work_bytes', n), 64);
    const info = allocF64(arena, 1);
    const s = arena.call('gf_eig_small', n, pa, pb, pwr, pwi, pv, work, info);
    if (s === LA_STATUS.SINGULAR) throw singularB(readI32(arena, info));
    if (s === LA_STATUS.NO_CONVERGENCE) throw eigSmallNoConvergence();
    if (s !== LA_STATUS.OK) throw unexpectedStatus(eigSmallOp.id, 'gf_eig_small', s);
    const o = orderEigenpairs(attrs.order, n, readF64(arena, pwr, n), readF64(arena, pwi, n), readF64(arena, pv, n * n));
    return [
      { dtype: 'f64', shape: [n], data: o.wr },
      { dtype: 'f64', shape: [n], data: o.wi },
      { dtype: 'f64', shape: [n, n], data: o.v },
    ];
  };
}

/** Registers the wasm `eig-small` kernel. */
export function registerEigSmallWasm(registry: KernelRegistry, arenaOf: ArenaSource): void {
  registry.register('wasm', eigSmallOp, createEigSmallKernel(arenaOf));
}
