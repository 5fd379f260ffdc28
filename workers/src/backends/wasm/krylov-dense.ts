/**
 * The wasm {@link KrylovDense}: the Krylov basis lives in the kernel module's linear memory
 * (one reservation per solve, so the JS views of its rows stay valid), and the basis products
 * run as kernels on it — `gf_krylov_mgs` (fused modified Gram–Schmidt), `gf_gemv` (V y and
 * Vᵀx), `gf_krylov_gram` / `gf_krylov_combine` (the Gram and combination products of the
 * recycle update, tiled) and `gf_eig_small` (the harmonic-Ritz eigenproblem). None of them
 * uses relaxed-SIMD FMA, so the FMA and the plain kernel builds give the same bits (a shard
 * retried on a worker with the other build writes the same bytes). Small coefficient arrays
 * are copied through a scratch region; the mat-vec and preconditioner work on the row views
 * from JS.
 */
import { GramfleetError, type CsrArrays, type EigSmallCoreResult, type KrylovBlock, type KrylovDense, type KrylovDenseFactory } from '@gramfleet/core';
import type { WasmArena } from './arena';
import { callDense } from './dense-host';

const OP = 'datagen-solve';

class WasmBlock implements KrylovBlock {
  private readonly views: Float64Array[] = [];
  constructor(
    readonly ptr: number,
    readonly rows: number,
    readonly n: number,
    memory: ArrayBuffer,
  ) {
    for (let i = 0; i < rows; i++) this.views.push(new Float64Array(memory, ptr + i * n * 8, n));
  }
  row(i: number): Float64Array {
    const r = this.views[i];
    if (r === undefined) throw new RangeError(`block row ${i} of ${this.rows}`);
    return r;
  }
  at(i: number): number {
    return this.ptr + i * this.n * 8;
  }
}

/**
 * A {@link KrylovDenseFactory} over `arena` (which must not be used for anything else while the
 * solve runs). Each call resets nothing: it reserves its room on top of the arena's mark.
 */
export function createWasmKrylovDense(arena: WasmArena): KrylovDenseFactory {
  return (n: number, vectors: number, small: number, nnz: number): KrylovDense => {
    const smallDoubles = 8 * small * small + 8 * small + 64;
    const eigWork = arena.call('gf_eig_small_work_bytes', small);
    // Everything is allocated before the first view is made: no later grow detaches them.
    const vecBase = arena.alloc(Math.max(1, vectors * n) * 8, 64);
    const scratch = arena.alloc(smallDoubles * 8, 64);
    const eigWs = arena.alloc(Math.max(8, eigWork), 64);
    const csrPtr = arena.alloc((n + 1) * 4, 64);
    const csrIdx = arena.alloc(Math.max(1, nnz) * 4, 64);
    const csrVal = arena.alloc(Math.max(1, nnz) * 8, 64);
    const spare = arena.alloc(Math.max(1, n) * 8, 64); // y of the one checked product
    const memory = arena.memory.buffer;
    let next = vecBase;
    const vecEnd = vecBase + vectors * n * 8;
    const mem = (): Float64Array => new Float64Array(memory);

    /** Byte address of a vector that must live in this arena. */
    const addr = (v: Float64Array): number => {
      if (v.buffer !== memory || v.byteOffset < vecBase || v.byteOffset + v.byteLength > vecEnd) {
        throw new GramfleetError('KERNEL_STATUS', `${OP}: a vector outside the Krylov reservation was passed to the wasm dense backend`, { op: OP });
      }
      return v.byteOffset;
    };
    /** Scratch slots (doubles) from the start of the scratch region, per call. */
    const slots = (...sizes: number[]): number[] => {
      let off = scratch;
      const out: number[] = [];
      for (const s of sizes) {
        out.push(off);
        off += Math.ceil(Math.max(1, s) / 8) * 64;
      }
      if (off > scratch + smallDoubles * 8) throw new GramfleetError('KERNEL_STATUS', `${OP}: scratch of ${smallDoubles} doubles too small`, { op: OP });
      return out;
    };
    const put = (p: number, a: Float64Array): void => mem().set(a, p / 8);
    const get = (p: number, len: number): Float64Array => new Float64Array(memory, p, len);
    const blk = (a: KrylovBlock): WasmBlock => a as WasmBlock;

    return {
      name: 'wasm',
      block(rows: number): KrylovBlock {
        const end = next + rows * n * 8;
        if (end > vecEnd) throw new GramfleetError('KERNEL_STATUS', `${OP}: Krylov reservation of ${vectors} vectors exceeded`, { op: OP });
        const b = new WasmBlock(next, rows, n, memory);
        next = end;
        return b;
      },
      mgs(a, first, count, w, h, off, stride): number {
        const [ph, pout] = slots(count, 1) as [number, number];
        callDense(arena, OP, 'gf_krylov_mgs', [blk(a).at(first), n, count, n, addr(w), ph, 1, pout]);
        const hv = get(ph, count);
        for (let i = 0; i < count; i++) h[off + i * stride] = hv[i] as number;
        return get(pout, 1)[0] as number;
      },
      dots(a, first, count, x, out, off, stride): void {
        if (count === 0) return;
        const [py] = slots(count) as [number];
        callDense(arena, OP, 'gf_gemv', [0, count, n, 1, blk(a).at(first), 0, n, addr(x), 0, 1, 0, py, 0, 1]);
        const yv = get(py, count);
        for (let i = 0; i < count; i++) out[off + i * stride] = yv[i] as number;
      },
      axpys(a, first, count, coef, y): void {
        if (count === 0) return;
        const [pc] = slots(count) as [number];
        put(pc, coef.subarray(0, count));
        callDense(arena, OP, 'gf_gemv', [1, count, n, 1, blk(a).at(first), 0, n, pc, 0, 1, 1, addr(y), 0, 1]);
      },
      combine(a, first, count, mat, ncol, out, outFirst, acc): void {
        if (ncol === 0) return;
        const dst = blk(out).at(outFirst);
        if (count === 0) {
          if (!acc) mem().fill(0, dst / 8, dst / 8 + ncol * n);
          return;
        }
        const [pm] = slots(count * ncol) as [number];
        put(pm, mat.subarray(0, count * ncol));
        callDense(arena, OP, 'gf_krylov_combine', [blk(a).at(first), count, n, n, pm, ncol, dst, acc ? 1 : 0]);
      },
      gram(a, firstA, countA, b, firstB, countB, g): void {
        if (countA === 0 || countB === 0) return;
        const [pg] = slots(countA * countB) as [number];
        callDense(arena, OP, 'gf_krylov_gram', [blk(a).at(firstA), countA, blk(b).at(firstB), countB, n, n, pg]);
        g.set(get(pg, countA * countB));
      },
      csr(a: CsrArrays): (x: Float64Array, y: Float64Array) => void {
        const len = a.data.length;
        if (a.shape[0] !== n || a.shape[1] !== n || vectors < 1 || len > nnz || a.indptr.length !== n + 1 || (a.indptr[n] as number) !== len) {
          throw new GramfleetError(
            'KERNEL_STATUS',
            `${OP}: CSR matrix (${a.shape.join('×')}, ${len} entries) does not fit the reservation (${n} rows, ${nnz} entries)`,
            { op: OP },
          );
        }
        new Int32Array(memory, csrPtr, n + 1).set(a.indptr);
        new Int32Array(memory, csrIdx, len).set(a.indices);
        new Float64Array(memory, csrVal, len).set(a.data);
        // Checks every column index once; later products skip the check (gf_csr_spmv_rows).
        callDense(arena, OP, 'gf_csr_spmv', [n, a.shape[1], len, csrPtr, csrIdx, csrVal, 1, vecBase, 0, 1, 0, spare, 0, 1], 'indices');
        return (x, y) => callDense(arena, OP, 'gf_csr_spmv_rows', [0, n, a.shape[1], csrPtr, csrIdx, csrVal, 1, addr(x), 0, 1, 0, addr(y), 0, 1]);
      },
      eig(s, ae, be): EigSmallCoreResult {
        const [pa, pb, pwr, pwi, pv, pinfo] = slots(s * s, s * s, s, s, s * s, 1) as [number, number, number, number, number, number];
        put(pa, ae.subarray(0, s * s));
        put(pb, be.subarray(0, s * s));
        const status = arena.call('gf_eig_small', s, pa, pb, pwr, pwi, pv, eigWs, pinfo);
        return {
          status,
          singularAt: new Int32Array(memory, pinfo, 1)[0] as number,
          wr: get(pwr, s).slice(),
          wi: get(pwi, s).slice(),
          v: get(pv, s * s).slice(),
        };
      },
    };
  };
}
