/**
 * wasm kernel for `gemm` (`gf_gemm`: packed panels, 4×4 f64x2 register tiles). f32 inputs are
 * widened while packing; C is accumulated in an f64 buffer and rounded once for f32 output.
 * With `accumulate: 'f32'` f32 inputs go to `gf_gemm_f32` instead (4×8 f32x4 tiles, C summed
 * in f32 in place; the bound is in core/src/ops/gemm.ts).
 */
import { gemmOp, gemmOutput, gemmProblem, type GemmAttrs, type GemmProblem, type KernelImpl, type KernelRegistry, type NdArray } from '@gramfleet/core';
import type { WasmArena } from './arena';
import { allocBytes, callDense, putArray, type DenseArenaSource } from './dense-host';

/** Arguments of {@link wasmGemmF64Out}: one GEMM over arrays already in the arena. */
export interface GemmCall {
  readonly transA: boolean;
  readonly transB: boolean;
  readonly f32: boolean;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly alpha: number;
  readonly a: number;
  readonly offA: number;
  readonly lda: number;
  readonly b: number;
  readonly offB: number;
  readonly ldb: number;
  readonly beta: number;
  /** f64 C. */
  readonly c: number;
  readonly offC: number;
  readonly ldc: number;
}

/** Runs `gf_gemm` on arena pointers (allocates its workspace from the arena). */
export function wasmGemmF64Out(arena: WasmArena, op: string, g: GemmCall): void {
  const ws = allocBytes(arena, arena.fn('gf_gemm_workspace_bytes')());
  callDense(arena, op, 'gf_gemm', [
    g.transA ? 1 : 0,
    g.transB ? 1 : 0,
    g.f32 ? 1 : 0,
    g.m,
    g.n,
    g.k,
    g.alpha,
    g.a,
    g.offA,
    g.lda,
    g.b,
    g.offB,
    g.ldb,
    g.beta,
    g.c,
    g.offC,
    g.ldc,
    ws,
  ]);
}

/** Builds the wasm `gemm` kernel over arenas from `arenaOf`. */
export function createGemmKernel(arenaOf: DenseArenaSource): KernelImpl<GemmAttrs> {
  return (attrs: GemmAttrs, inputs: readonly NdArray[]): NdArray[] => {
    const p = gemmProblem(gemmOp.id, attrs, inputs);
    const out = gemmOutput(p, inputs[2]);
    const arena = arenaOf();
    if (p.dtype === 'f32' && attrs.accumulate === 'f32') {
      gemmF32(arena, attrs, p, inputs, out);
      return [out];
    }
    const a = putArray(arena, (inputs[0] as NdArray).data as Float64Array | Float32Array);
    const b = putArray(arena, (inputs[1] as NdArray).data as Float64Array | Float32Array);
    const beta = p.hasC ? attrs.beta : 0;
    const f32 = p.dtype === 'f32';
    let c: number;
    let offC: number;
    let ldc: number;
    if (!f32) {
      c = putArray(arena, out.data as Float64Array);
      offC = p.c.offset;
      ldc = p.c.ld;
    } else {
      // f64 accumulation buffer holding the C view densely.
      c = allocBytes(arena, p.m * p.n * 8);
      offC = 0;
      ldc = Math.max(1, p.n);
      if (beta !== 0) {
        const cv = arena.f64(c, p.m * p.n);
        for (let i = 0; i < p.m; i++) for (let j = 0; j < p.n; j++) cv[i * p.n + j] = out.data[p.c.offset + i * p.c.ld + j] as number;
      }
    }
    wasmGemmF64Out(arena, gemmOp.id, {
      transA: attrs.transA,
      transB: attrs.transB,
      f32,
      m: p.m,
      n: p.n,
      k: p.k,
      alpha: attrs.alpha,
      a,
      offA: p.a.offset,
      lda: p.a.ld,
      b,
      offB: p.b.offset,
      ldb: p.b.ld,
      beta,
      c,
      offC,
      ldc,
    });
    if (!f32) {
      (out.data as Float64Array).set(arena.f64(c, out.data.length));
    } else {
      const cv = arena.f64(c, p.m * p.n);
      const od = out.data as Float32Array;
      for (let i = 0; i < p.m && p.n > 0; i++) {
        const row = cv.subarray(i * p.n, (i + 1) * p.n);
        od.set(row, p.c.offset + i * p.c.ld);
      }
    }
    return [out];
  };
}

/** `gemm` with f32 inputs and `accumulate: 'f32'`: `gf_gemm_f32` on the output array's copy of C. */
function gemmF32(arena: WasmArena, attrs: GemmAttrs, p: GemmProblem, inputs: readonly NdArray[], out: NdArray): void {
  const a = putArray(arena, (inputs[0] as NdArray).data as Float32Array);
  const b = putArray(arena, (inputs[1] as NdArray).data as Float32Array);
  const od = out.data as Float32Array;
  const c = putArray(arena, od);
  const ws = allocBytes(arena, arena.fn('gf_gemm_f32_workspace_bytes')(), false);
  const args = [attrs.transA ? 1 : 0, attrs.transB ? 1 : 0, p.m, p.n, p.k, attrs.alpha, a, p.a.offset, p.a.ld, b, p.b.offset, p.b.ld];
  callDense(arena, gemmOp.id, 'gf_gemm_f32', [...args, p.hasC ? attrs.beta : 0, c, p.c.offset, p.c.ld, ws]);
  od.set(arena.f32(c, od.length));
}

/** Registers the wasm `gemm` kernel. */
export function registerGemmWasm(registry: KernelRegistry, arenaOf: DenseArenaSource): void {
  registry.register('wasm', gemmOp, createGemmKernel(arenaOf));
}
