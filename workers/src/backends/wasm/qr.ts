/**
 * wasm kernel for `qr`: Householder QR on the transposed copy, explicit Q (`gf_qr`).
 */
import { qrOp, type KernelImpl, type KernelRegistry, type NdArray, type QrAttrs } from '@gramfleet/core';
import { LA_STATUS, allocF64, putF64, readF64, unexpectedStatus, type ArenaSource } from './linalg-host';

/** Builds the wasm `qr` kernel over arenas from `arenaOf`. */
export function createQrKernel(arenaOf: ArenaSource): KernelImpl<QrAttrs> {
  return (attrs: QrAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const a = inputs[0] as NdArray<'f64'>;
    const m = a.shape[0] as number;
    const n = a.shape[1] as number;
    const complete = attrs.mode === 'complete';
    const k = Math.min(m, n);
    const qcols = complete ? m : k;
    const rrows = complete ? m : k;
    const arena = arenaOf();
    const pa = putF64(arena, a.data);
    const pq = allocF64(arena, m * qcols);
    const pr = allocF64(arena, rrows * n);
    const work = arena.alloc(arena.call('gf_qr_work_bytes', m, n), 64);
    const s = arena.call('gf_qr', m, n, pa, Math.max(n, 1), complete ? 1 : 0, pq, Math.max(qcols, 1), pr, Math.max(n, 1), work);
    if (s !== LA_STATUS.OK) throw unexpectedStatus(qrOp.id, 'gf_qr', s);
    return [
      { dtype: 'f64', shape: [m, qcols], data: readF64(arena, pq, m * qcols) },
      { dtype: 'f64', shape: [rrows, n], data: readF64(arena, pr, rrows * n) },
    ];
  };
}

/** Registers the wasm `qr` kernel. */
export function registerQrWasm(registry: KernelRegistry, arenaOf: ArenaSource): void {
  registry.register('wasm', qrOp, createQrKernel(arenaOf));
}
