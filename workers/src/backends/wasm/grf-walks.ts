/**
 * wasm kernel for `grf-walks` (exports `gf_grf_walks`, `gf_grf_walks_repelling` of
 * wasm/assembly/kernels/grf-walks.ts). Bit-identical to the float64 reference
 * `grfWalksOp.reference`: same Philox counters, same accumulation order.
 *
 * The host copies the graph and f into the arena once per call, then runs origins in chunks
 * of {@link GRF_ROWS_PER_CALL} rows per stream; a chunk whose output does not fit its buffer
 * (status 2) is rerun with a larger one — the result cannot change, the walks are counter-based.
 */
import {
  GramfleetError,
  checkGrfWalksInputs,
  effectiveSteps,
  grfWalksOp,
  ndarray,
  seedKey,
  type GrfWalksAttrs,
  type KernelContext,
  type KernelImpl,
  type KernelRegistry,
  type NdArray,
} from '@gramfleet/core';
import type { WasmArena } from './arena';

/** Status codes of the grf kernels. */
export const GRF_STATUS = { OK: 0, BAD_ARGUMENT: 1, CAPACITY: 2 } as const;

/** Origins per kernel call (bounds the output buffer and paces progress reports). */
export const GRF_ROWS_PER_CALL = 1024;

/** Builds the wasm `grf-walks` kernel over arenas from `arenaOf`. */
export function createGrfWalksWasmKernel(arenaOf: () => WasmArena): KernelImpl<GrfWalksAttrs> {
  return (attrs: GrfWalksAttrs, inputs: readonly NdArray[], ctx: KernelContext): NdArray[] => {
    checkGrfWalksInputs(attrs, inputs, { verified: ctx.verified === true });
    const arena = arenaOf();
    const base = arena.mark();
    try {
      return runGrfWalks(arena, attrs, inputs, ctx);
    } finally {
      if (!arena.poisoned) arena.release(base);
    }
  };
}

function runGrfWalks(arena: WasmArena, attrs: GrfWalksAttrs, inputs: readonly NdArray[], ctx: KernelContext): NdArray[] {
  const indptr = inputs[0]?.data as Int32Array;
  const indices = inputs[1]?.data as Int32Array;
  const weights = inputs[2]?.data as Float64Array;
  const n = indptr.length - 1;
  const m = attrs.walks;
  const [k0, k1] = seedKey(attrs.seed);
  const repelling = attrs.variance === 'repelling';
  // The largest degree sizes the repelling walks' scratch (an O(n) scan: only when they need it).
  let maxDeg = 1;
  if (repelling) for (let v = 0; v < n; v++) maxDeg = Math.max(maxDeg, (indptr[v + 1] ?? 0) - (indptr[v] ?? 0));
  const steps = effectiveSteps(attrs.f);

  // The graph is read-only here: resident by digest, so the shards of a job copy it in once per thread.
  const pIndptr = arena.input(indptr, ctx.keys?.[0]);
  const pIndices = arena.input(indices.length > 0 ? indices : new Int32Array(1), ctx.keys?.[1]);
  const pWeights = arena.input(weights.length > 0 ? weights : new Float64Array(1), ctx.keys?.[2]);
  // The accumulators are zero on entry and the kernel leaves them zero on return (even on a
  // capacity miss): kept per thread and size, not allocated and zeroed again for every shard.
  const pAcc = arena.zeroedScratch(`grf-acc:${n}`, 8 * n);
  const pMark = arena.zeroedScratch(`grf-mark:${n}`, n);
  const pTouched = arena.zeroedScratch(`grf-touched:${n}`, 4 * n);
  const pF = arena.put(Float64Array.from(attrs.f));
  let pScratch = 0;
  if (repelling) {
    const bytes = 16 * m + 16 * m + 4 * n + 12 * maxDeg;
    pScratch = arena.alloc(bytes);
    const headOff = pScratch + 32 * m;
    arena.i32(headOff, n + maxDeg).fill(-1); // head[n] and perm[maxDeg]
  }
  const rowsTotal = attrs.nodeEnd - attrs.nodeStart;
  const chunk = Math.max(1, Math.min(rowsTotal, GRF_ROWS_PER_CALL));
  const pOutIndptr = arena.alloc(4 * (chunk + 1));
  // Expected distinct nodes per row ≲ m·E[steps + 1]; start there and double on demand.
  const perRowMax = Math.min(n, m * (steps + 1));
  const perRowGuess = Math.min(perRowMax, Math.ceil(1.5 * m * Math.min(steps + 1, 1 / attrs.pHalt + 1)) + 16);
  const fixedTop = arena.mark();
  let cap = perRowGuess * chunk;

  const out: NdArray[] = [];
  const nCalls = attrs.streams.length * Math.ceil(rowsTotal / chunk);
  let done = 0;
  for (const stream of attrs.streams) {
    const rowPtr = new Int32Array(rowsTotal + 1);
    const idxParts: Int32Array[] = [];
    const valParts: Float64Array[] = [];
    let nnz = 0;
    for (let r0 = attrs.nodeStart; r0 < attrs.nodeEnd; r0 += chunk) {
      const r1 = Math.min(attrs.nodeEnd, r0 + chunk);
      for (;;) {
        arena.release(fixedTop);
        const pOutIdx = arena.alloc(4 * Math.max(1, cap));
        const pOutVal = arena.alloc(8 * Math.max(1, cap));
        const s = repelling
          ? arena.call(
              'gf_grf_walks_repelling',
              pIndptr,
              pIndices,
              pWeights,
              n,
              pF,
              attrs.f.length,
              m,
              attrs.pHalt,
              k0,
              k1,
              stream,
              maxDeg,
              r0,
              r1,
              pAcc,
              pMark,
              pTouched,
              pScratch,
              pOutIndptr,
              pOutIdx,
              pOutVal,
              cap,
            )
          : arena.call(
              'gf_grf_walks',
              pIndptr,
              pIndices,
              pWeights,
              n,
              pF,
              attrs.f.length,
              m,
              attrs.pHalt,
              k0,
              k1,
              stream,
              attrs.variance === 'antithetic' ? 1 : 0,
              r0,
              r1,
              pAcc,
              pMark,
              pTouched,
              pOutIndptr,
              pOutIdx,
              pOutVal,
              cap,
            );
        if (s === GRF_STATUS.CAPACITY && cap < perRowMax * chunk) {
          cap = Math.min(perRowMax * chunk, cap * 2);
          continue;
        }
        if (s !== GRF_STATUS.OK)
          throw new GramfleetError('KERNEL_STATUS', `kernel ${repelling ? 'gf_grf_walks_repelling' : 'gf_grf_walks'} returned status ${s}`, {
            op: grfWalksOp.id,
            status: s,
          });
        const rows = r1 - r0;
        const ptr = arena.i32(pOutIndptr, rows + 1);
        const got = ptr[rows] ?? 0;
        for (let i = 1; i <= rows; i++) rowPtr[r0 - attrs.nodeStart + i] = nnz + (ptr[i] ?? 0);
        idxParts.push(arena.i32(pOutIdx, got).slice());
        valParts.push(arena.f64(pOutVal, got).slice());
        nnz += got;
        break;
      }
      done++;
      ctx.progress?.(done / nCalls);
    }
    out.push(ndarray('i32', [rowsTotal + 1], rowPtr), ndarray('i32', [nnz], concatI32(idxParts, nnz)), ndarray('f64', [nnz], concatF64(valParts, nnz)));
  }
  return out;
}

function concatI32(parts: readonly Int32Array[], total: number): Int32Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const o = new Int32Array(total);
  let q = 0;
  for (const p of parts) {
    o.set(p, q);
    q += p.length;
  }
  return o;
}

function concatF64(parts: readonly Float64Array[], total: number): Float64Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const o = new Float64Array(total);
  let q = 0;
  for (const p of parts) {
    o.set(p, q);
    q += p.length;
  }
  return o;
}

/** Registers the wasm `grf-walks` kernel under backend `wasm`. */
export function registerGrfWalksWasm(registry: KernelRegistry, arenaOf: () => WasmArena): void {
  registry.register('wasm', grfWalksOp, createGrfWalksWasmKernel(arenaOf));
}
