/**
 * wasm kernel for `eigh-topk`: randomised subspace iteration with Rayleigh–Ritz
 * (`gf_eigh_topk`), or the full `gf_eigh` with the top k taken (`method: 'full'`, or `auto`
 * where {@link topkMethod} picks it).
 */
import {
  eighTopkOp,
  noConvergence,
  normaliseEigenvectorSigns,
  topkBlockSize,
  topkMethod,
  type EighTopkAttrs,
  type KernelImpl,
  type KernelRegistry,
  type NdArray,
} from '@gramfleet/core';
import { eighInArena } from './eigh';
import { LA_STATUS, allocF64, putF64, readF64, readF64At, readI32, unexpectedStatus, type ArenaSource } from './linalg-host';

/** Builds the wasm `eigh-topk` kernel over arenas from `arenaOf`. */
export function createEighTopkKernel(arenaOf: ArenaSource): KernelImpl<EighTopkAttrs> {
  return (attrs: EighTopkAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const a = inputs[0] as NdArray<'f64'>;
    const n = a.shape[0] as number;
    const k = attrs.k;
    const method = attrs.method === 'auto' ? topkMethod(n, k) : attrs.method;
    if (method === 'full') return topFromFull(n, k, eighInArena(arenaOf(), n, a.data));
    const b = topkBlockSize(attrs, n);
    const arena = arenaOf();
    const pa = putF64(arena, a.data);
    const pw = allocF64(arena, k);
    const pv = allocF64(arena, n * k);
    const work = arena.alloc(arena.call('gf_eigh_topk_work_bytes', n, b), 64);
    const info = allocF64(arena, 2);
    const s = arena.call('gf_eigh_topk', n, pa, Math.max(n, 1), k, b, attrs.maxIter, attrs.tol, attrs.seed, pw, pv, Math.max(k, 1), work, info);
    if (s === LA_STATUS.NO_CONVERGENCE) {
      const residual = readF64At(arena, info + 8);
      throw noConvergence(eighTopkOp.id, `relative residual ${residual} > tol ${attrs.tol} after ${readI32(arena, info)} iterations`, {
        iterations: readI32(arena, info),
        residual,
        tol: attrs.tol,
      });
    }
    if (s !== LA_STATUS.OK) throw unexpectedStatus(eighTopkOp.id, 'gf_eigh_topk', s);
    const v = readF64(arena, pv, n * k);
    normaliseEigenvectorSigns(n, k, v);
    return [
      { dtype: 'f64', shape: [k], data: readF64(arena, pw, k) },
      { dtype: 'f64', shape: [n, k], data: v },
    ];
  };
}

/** The k largest pairs of a full ascending decomposition (signs already normalised), descending. */
function topFromFull(n: number, k: number, full: { w: Float64Array; v: Float64Array }): NdArray[] {
  const w = new Float64Array(k);
  const v = new Float64Array(n * k);
  for (let t = 0; t < k; t++) {
    const src = n - 1 - t;
    w[t] = full.w[src] as number;
    for (let i = 0; i < n; i++) v[i * k + t] = full.v[i * n + src] as number;
  }
  return [
    { dtype: 'f64', shape: [k], data: w },
    { dtype: 'f64', shape: [n, k], data: v },
  ];
}

/** Registers the wasm `eigh-topk` kernel. */
export function registerEighTopkWasm(registry: KernelRegistry, arenaOf: ArenaSource): void {
  registry.register('wasm', eighTopkOp, createEighTopkKernel(arenaOf));
}
