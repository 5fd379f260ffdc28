/**
 * Activities of the Kronecker GP workflow: the all-to-all slab transpose through the object
 * store, the slab route's LML, and reading shard stats. Built from their dependencies.
 *
 * The transpose never holds the whole tensor: phase 1 reads each old slab once and stores
 * its P pieces (one per new slab); phase 2 reads the P pieces of each new slab, assembles it
 * and stores it, then deletes the pieces. Bytes moved = everything read from and written to the
 * object store.
 */
import { Context } from '@temporalio/activity';
import {
  GramfleetError,
  KRON_FACTOR_INFO,
  KRON_FACTOR_OUT,
  forEachRow,
  kronGradientFromSums,
  kronSlabLayout,
  slabRanges,
  type ArrayRef,
  type KronActivities,
  type KronFinishInput,
  type KronHyper,
  type KronTransposeInput,
  type KronTransposeOutput,
  type Logger,
  type NdArray,
} from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';
import { missingObjectFinal, toFailure } from '../host/activities';

/** Dependencies of the Kronecker GP activities. */
export interface KronActivityDeps {
  readonly store: ArrayStore;
  readonly log: Logger;
}

/** Copies the block of `src` (shape `srcShape`) starting at `at` with shape `shape` into a new array. */
export function takeBlock(src: Float64Array, srcShape: readonly number[], at: readonly number[], shape: readonly number[]): Float64Array {
  const out = new Float64Array(shape.reduce((a, b) => a * b, 1));
  const D = shape.length;
  const strides = srcShape.map((_, i) => srcShape.slice(i + 1).reduce((a, b) => a * b, 1));
  const last = shape[D - 1] as number;
  forEachRow(shape, (off, idx) => {
    let o = (at[D - 1] as number) * (strides[D - 1] as number);
    for (let e = 0; e < D - 1; e++) o += ((idx[e] as number) + (at[e] as number)) * (strides[e] as number);
    out.set(src.subarray(o, o + last), off);
  });
  return out;
}

/** Writes `block` (shape `shape`) into `dst` (shape `dstShape`) at offset `at`. */
export function putBlock(dst: Float64Array, dstShape: readonly number[], at: readonly number[], block: Float64Array, shape: readonly number[]): void {
  const D = shape.length;
  const strides = dstShape.map((_, i) => dstShape.slice(i + 1).reduce((a, b) => a * b, 1));
  const last = shape[D - 1] as number;
  forEachRow(shape, (off, idx) => {
    let o = (at[D - 1] as number) * (strides[D - 1] as number);
    for (let e = 0; e < D - 1; e++) o += ((idx[e] as number) + (at[e] as number)) * (strides[e] as number);
    dst.set(block.subarray(off, off + last), o);
  });
}

/** The all-to-all transpose (exported for tests). */
export async function kronTransposeWith(store: ArrayStore, input: KronTransposeInput, beat: () => void = () => undefined): Promise<KronTransposeOutput> {
  const { shape, from, to } = input;
  const oldR = slabRanges(shape[from] as number, input.parts.length);
  const newR = slabRanges(shape[to] as number, input.count);
  if (oldR.length !== input.parts.length)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `kronTranspose: ${input.parts.length} parts for an axis of ${shape[from]}`, { field: 'parts' });
  let bytes = 0;
  const pieces: ArrayRef[][] = newR.map(() => []);
  for (let i = 0; i < oldR.length; i++) {
    const part = await store.get(input.parts[i] as ArrayRef);
    bytes += part.data.byteLength;
    const pShape = shape.map((s, d) => (d === from ? (oldR[i] as { end: number }).end - (oldR[i] as { start: number }).start : s));
    for (let j = 0; j < newR.length; j++) {
      const r = newR[j] as { start: number; end: number };
      const at = shape.map((_, d) => (d === to ? r.start : 0));
      const bShape = pShape.map((s, d) => (d === to ? r.end - r.start : s));
      const block = takeBlock(part.data as Float64Array, pShape, at, bShape);
      bytes += block.byteLength;
      (pieces[j] as ArrayRef[]).push(await store.put({ dtype: 'f64', shape: bShape, data: block }));
    }
    beat();
  }
  const parts: ArrayRef[] = [];
  for (let j = 0; j < newR.length; j++) {
    const r = newR[j] as { start: number; end: number };
    const nShape = shape.map((s, d) => (d === to ? r.end - r.start : s));
    const out = new Float64Array(nShape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < oldR.length; i++) {
      const pc = await store.get((pieces[j] as ArrayRef[])[i] as ArrayRef);
      bytes += pc.data.byteLength;
      const at = shape.map((_, d) => (d === from ? (oldR[i] as { start: number }).start : 0));
      putBlock(out, nShape, at, pc.data as Float64Array, pc.shape);
    }
    bytes += out.byteLength;
    parts.push(await store.put({ dtype: 'f64', shape: nShape, data: out }));
    beat();
  }
  // The pieces were only the way between the two phases: delete them, except a digest that is
  // also an input or output slab (content addressing: with one old or one new slab a piece is a
  // whole slab). A retried transpose puts them again.
  const keep = new Set([...input.parts, ...parts].map((r) => r.digest));
  const gone = new Set<string>();
  for (const r of pieces.flat()) {
    if (keep.has(r.digest) || gone.has(r.digest)) continue;
    gone.add(r.digest);
    await store.delete(r.digest);
  }
  return { parts, bytesMoved: bytes };
}

/**
 * Builds the Kronecker GP activities. Their errors go to Temporal typed (the code as the failure
 * type); a slab, factor or piece still missing on the third attempt fails the job with
 * STORE_MISSING_OBJECT naming it instead of being retried without end ({@link missingObjectFinal}).
 */
export function createKronActivities(deps: KronActivityDeps): KronActivities {
  const acts = kronActivities(deps);
  const typed =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await f(...a);
      } catch (e) {
        throw toFailure(missingObjectFinal(e));
      }
    };
  return { kronTranspose: typed(acts.kronTranspose), kronFinish: typed(acts.kronFinish), kronReadSmall: typed(acts.kronReadSmall) };
}

function kronActivities(deps: KronActivityDeps): KronActivities {
  const { store, log } = deps;
  const heartbeat = (): void => {
    try {
      Context.current().heartbeat();
    } catch {
      /* outside an activity (tests) */
    }
  };
  return {
    async kronTranspose(input: KronTransposeInput): Promise<KronTransposeOutput> {
      const out = await kronTransposeWith(store, input, heartbeat);
      log.info('kron transpose', { jobId: input.jobId, from: input.from, to: input.to, bytesMoved: out.bytesMoved });
      return out;
    },
    async kronFinish(input: KronFinishInput) {
      const job = input.job;
      const h = job.candidates[0] as KronFinishInput['job']['candidates'][number];
      const y = (await store.get(job.y)).data as Float64Array;
      const n = y.length;
      const alpha = new Float64Array(n);
      let off = 0;
      for (const p of input.alphaParts) {
        const a = (await store.get(p)).data as Float64Array;
        alpha.set(a, off);
        off += a.length;
      }
      if (off !== n) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `kronFinish: α parts hold ${off} values, the grid ${n}`, { field: 'alphaParts' });
      const facs: NdArray[][] = [];
      for (const f of input.factors) facs.push(await Promise.all(f.map((r) => store.get(r))));
      const w = facs.map((f) => (f[KRON_FACTOR_OUT.eigenvalues] as NdArray).data as Float64Array);
      let logdet = 0;
      forEachRow(job.shape, (_off, idx) => {
        let p = h.outputscale;
        for (let e = 0; e < w.length - 1; e++) p *= (w[e] as Float64Array)[idx[e] as number] as number;
        const wl = w[w.length - 1] as Float64Array;
        for (let j = 0; j < wl.length; j++) logdet += Math.log(p * (wl[j] as number) + h.noise);
      });
      let fit = 0;
      for (let i = 0; i < n; i++) fit += (y[i] as number) * (alpha[i] as number);
      const lml = -0.5 * fit - 0.5 * logdet - 0.5 * n * Math.log(2 * Math.PI);
      const alphaRef = await store.put({ dtype: 'f64', shape: [n], data: alpha });
      const info = facs.map((f) => (f[KRON_FACTOR_OUT.info] as NdArray).data as Float64Array);
      let gradient: KronHyper | undefined;
      if (input.gradStats !== undefined) {
        // stage b per slab: [Σα̃², Σλα̃², quad_d for d ≠ 1]; stage c per slab: [quad_1] (kronSlabLayout)
        const D = w.length;
        const L = kronSlabLayout(D);
        const quad = new Array<number>(D).fill(0);
        let alphaSq = 0;
        let alphaLam = 0;
        for (const ref of input.gradStats.b) {
          const st = (await store.get(ref)).data as Float64Array;
          alphaSq += st[L.b.stats.alphaSq] as number;
          alphaLam += st[L.b.stats.alphaLam] as number;
          for (let d = 0; d < D; d++) if (d !== 1) quad[d] = (quad[d] as number) + (st[L.b.stats.quad(d)] as number);
        }
        for (const ref of input.gradStats.c) quad[1] = (quad[1] as number) + (((await store.get(ref)).data as Float64Array)[L.c.stats.quad1] as number);
        const bdiag = facs.map((f) => {
          const b = f[KRON_FACTOR_OUT.derivativeBasis];
          if (b === undefined)
            throw new GramfleetError('INPUT_SHAPE_MISMATCH', 'kronFinish: a factor has no B = Qᵀ∂KQ output (kron-factor without gradient)', {
              field: 'factors',
            });
          const nd = b.shape[0] as number;
          return Float64Array.from({ length: nd }, (_, i) => (b.data as Float64Array)[i * nd + i] as number);
        });
        const g = kronGradientFromSums(w, bdiag, h.outputscale, h.noise, { quad, alphaSq, alphaLam });
        gradient = { lengthscales: g.lengthscales, outputscale: g.outputscale, noise: g.noise };
      }
      return {
        candidate: { hyper: h, lml, logdet, alpha: alphaRef, ...(gradient !== undefined ? { gradient } : {}) },
        safeguards: {
          jitter: job.jitter,
          eigFloor: job.eigFloor,
          clamped: info.map((x) => x[KRON_FACTOR_INFO.clamped] as number),
          minEig: info.map((x) => x[KRON_FACTOR_INFO.minEig] as number),
        },
      };
    },
    async kronReadSmall({ refs }: { refs: readonly ArrayRef[] }): Promise<number[][]> {
      const out: number[][] = [];
      for (const r of refs) out.push(Array.from((await store.get(r)).data as Float64Array));
      return out;
    },
  };
}
