/**
 * wasm kernel for `mode-product`: one GEMM per slab (or one over all slabs for the last
 * mode) through the internal register-blocked products (`gf_mode_product`).
 */
import { modeProductOp, modeProductShape, type KernelImpl, type KernelRegistry, type ModeProductAttrs, type NdArray } from '@gramfleet/core';
import { LA_STATUS, allocF64, putF64, readF64, unexpectedStatus, type ArenaSource } from './linalg-host';

/** Builds the wasm `mode-product` kernel over arenas from `arenaOf`. */
export function createModeProductKernel(arenaOf: ArenaSource): KernelImpl<ModeProductAttrs> {
  return (attrs: ModeProductAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const s = modeProductShape(attrs, inputs);
    const x = inputs[0] as NdArray<'f64'>;
    const m = inputs[1] as NdArray<'f64'>;
    const arena = arenaOf();
    const px = putF64(arena, x.data);
    const pm = putF64(arena, m.data);
    const size = s.l * s.p * s.r;
    const py = allocF64(arena, size);
    const work = arena.alloc(arena.call('gf_mode_product_work_bytes', s.nd, s.p), 64);
    const ldm = Math.max(attrs.transpose ? s.p : s.nd, 1);
    const st = arena.call('gf_mode_product', s.l, s.nd, s.r, px, s.p, pm, ldm, attrs.transpose ? 1 : 0, py, work);
    if (st !== LA_STATUS.OK) throw unexpectedStatus(modeProductOp.id, 'gf_mode_product', st);
    return [{ dtype: 'f64', shape: [...s.outShape], data: readF64(arena, py, size) }];
  };
}

/** Registers the wasm `mode-product` kernel. */
export function registerModeProductWasm(registry: KernelRegistry, arenaOf: ArenaSource): void {
  registry.register('wasm', modeProductOp, createModeProductKernel(arenaOf));
}
