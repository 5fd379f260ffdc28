/**
 * Op `grf-walks`: graph random features Φ (one CSR row per origin node) from modulated
 * random walks — docs/workloads.md §1, Reid et al. "General Graph Random Features" (ICLR 2024),
 * with antithetic termination and repelling walks for variance reduction.
 *
 * inputs: `[indptr i32 (n+1), indices i32 (nnz), weights f64 (nnz)]`, the CSR of
 * W = c·D^{-1/2} A D^{-1/2} (see `normalisedWeights`). outputs: for each stream id in
 * `attrs.streams`, in order, `[indptr i32 (rows+1), indices i32, data f64]` — the CSR rows of
 * Φ for origins nodeStart..nodeEnd−1 (n columns), column indices ascending, zeros dropped.
 *
 * ## The walk (identical in every backend)
 * Let L = (index of the last non-zero of f) (steps after it add nothing), q = 1/(1 − pHalt).
 * Walker w of origin i on stream s starts at v = i with load 1. At step t = 0, 1, …:
 * 1. `acc[v] += load * (f[t] / m)`;
 * 2. stop if t = L or v has no neighbours;
 * 3. B = Philox4x32-10(key = seed, counter = (i, w, t, s)); the halting uniform is
 *    u = u53(B0, B1) and the move uniform r = u53(B2, B3) (`u53` in rng/philox.ts);
 *    with `antithetic`, the odd walker 2j+1 instead uses (u' + ½) mod 1 where u' is the
 *    halting uniform of walker 2j (counter (i, 2j, t, s)); an odd last walker is unpaired;
 * 4. halt if u < pHalt;
 * 5. otherwise k = min(⌊r·deg(v)⌋, deg(v) − 1) (deg = count degree), p = indptr[v] + k,
 *    `load = load * ((deg(v) * W[p]) * q)`, v = indices[p].
 * Accumulation order: `none`/`antithetic` run walker 0 to completion, then walker 1, …
 * (walker-major); `repelling` runs the walkers of an origin in lock step, and at each step
 * adds the contributions of the live walkers in ascending walker order (step-major).
 *
 * ## Repelling walks
 * At step t every live walker first draws its halting uniform as above. The survivors are
 * grouped by current node v (each group in ascending walker order) and take distinct
 * neighbours by a partial Fisher–Yates shuffle of v's neighbour slots 0..d−1: the j-th walker
 * x of a block swaps slot j with slot j + min(⌊r_x·(d−j)⌋, d−j−1) and takes the neighbour now
 * in slot j. After d walkers a fresh block (a new identity permutation) starts. Every walker's
 * neighbour is marginally uniform, so the estimator stays unbiased.
 *
 * Φ therefore depends only on (seed, origin, walker, step, stream): origin ranges (shards)
 * and worker counts cannot change a bit.
 */
import type { NdArray } from '../array';
import { ndarray } from '../array';
import { GramfleetError, invalidField, outOfRange } from '../errors';
import { MAX_WALK_STEPS } from '../grf/kernels';
import { philox4x32, seedKey, u53 } from '../rng/philox';
import { int, num, obj, oneOf } from '../validate';
import type { OpDef } from './types';

/** Variance-reduction schemes of `grf-walks`. */
export const GRF_VARIANCE_MODES = ['none', 'antithetic', 'repelling'] as const;

/** A variance-reduction scheme: independent walkers, antithetic termination, or repelling walks. */
export type GrfVariance = (typeof GRF_VARIANCE_MODES)[number];

/** Largest number of walkers per origin. */
export const GRF_MAX_WALKS = 65536;

/** Validated attributes of `grf-walks`. */
export interface GrfWalksAttrs {
  /** Philox key: an integer in [0, 2^53). */
  readonly seed: number;
  /** Walkers per origin m, 1..65536. */
  readonly walks: number;
  /** Halting probability before each step, in (0, 1). */
  readonly pHalt: number;
  /** Modulation function f(0..L); walks take at most f.length − 1 steps. */
  readonly f: readonly number[];
  /** One or two distinct u32 stream ids; each gives an independent Φ. */
  readonly streams: readonly number[];
  /** Variance-reduction scheme. */
  readonly variance: GrfVariance;
  /** First origin node (inclusive). */
  readonly nodeStart: number;
  /** Last origin node (exclusive). */
  readonly nodeEnd: number;
}

/**
 * Why a `grf-walks` shard's outputs (their dtypes and shapes, as references give them) are not
 * what the op returns for these attributes, or undefined when they are: per stream, indptr i32
 * [rows + 1], indices i32 [k] and data f64 [k], rows = nodeEnd − nodeStart. Checked by the owner
 * before a result counts (RunOptions.checkOutputs), so a worker answering with another shard's
 * or a malformed Φ is refused and the shard runs again.
 */
export function grfWalksOutputsProblem(
  attrs: Pick<GrfWalksAttrs, 'nodeStart' | 'nodeEnd' | 'streams'>,
  outputs: readonly { readonly dtype: string; readonly shape: readonly number[] }[],
): string | undefined {
  const rows = attrs.nodeEnd - attrs.nodeStart;
  if (outputs.length !== 3 * attrs.streams.length) return `${outputs.length} outputs, not 3 per stream (${3 * attrs.streams.length})`;
  const show = (o: { readonly dtype: string; readonly shape: readonly number[] }): string => `${o.dtype} [${o.shape.join(', ')}]`;
  for (let s = 0; s < attrs.streams.length; s++) {
    const [ip, ix, d] = outputs.slice(3 * s, 3 * s + 3) as [(typeof outputs)[number], (typeof outputs)[number], (typeof outputs)[number]];
    if (ip.dtype !== 'i32' || ip.shape.length !== 1 || ip.shape[0] !== rows + 1) return `stream ${s} indptr is ${show(ip)}, not i32 [${rows + 1}]`;
    if (ix.dtype !== 'i32' || ix.shape.length !== 1) return `stream ${s} indices is ${show(ix)}, not i32 [k]`;
    if (d.dtype !== 'f64' || d.shape.length !== 1 || d.shape[0] !== ix.shape[0]) return `stream ${s} data is ${show(d)}, not f64 [${String(ix.shape[0])}]`;
  }
  return undefined;
}

/** Parses raw `grf-walks` attributes; errors name the field and its bound. */
export function parseGrfWalksAttrs(raw: unknown): GrfWalksAttrs {
  const o = obj('attrs', raw);
  const seed = int('seed', o['seed'], 0, Number.MAX_SAFE_INTEGER);
  const walks = int('walks', o['walks'], 1, GRF_MAX_WALKS);
  const pHalt = num('pHalt', o['pHalt'], { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  const fr = o['f'];
  if (!Array.isArray(fr) || fr.length === 0) throw invalidField('f', 'a non-empty array of numbers', fr);
  if (fr.length > MAX_WALK_STEPS + 1) throw outOfRange('f.length', `<= ${MAX_WALK_STEPS + 1}`, fr.length);
  const f = fr.map((x: unknown, i: number) => num(`f[${i}]`, x));
  const sr = o['streams'];
  if (!Array.isArray(sr) || sr.length < 1 || sr.length > 2) throw invalidField('streams', 'an array of 1 or 2 stream ids', sr);
  const streams = sr.map((x: unknown, i: number) => int(`streams[${i}]`, x, 0, 0xffffffff));
  if (streams.length === 2 && streams[0] === streams[1]) throw invalidField('streams', 'distinct stream ids', JSON.stringify(streams));
  const variance = oneOf('variance', o['variance'] ?? 'none', GRF_VARIANCE_MODES);
  const nodeStart = int('nodeStart', o['nodeStart'], 0, 2147483646);
  const nodeEnd = int('nodeEnd', o['nodeEnd'], nodeStart, 2147483647);
  return Object.freeze({ seed, walks, pHalt, f: Object.freeze(f), streams: Object.freeze(streams), variance, nodeStart, nodeEnd });
}

/** Checks the graph inputs of `grf-walks` (dtypes, lengths, index ranges, the origin range). */
export function checkGrfWalksInputs(attrs: GrfWalksAttrs, inputs: readonly NdArray[], o: { readonly verified?: boolean } = {}): void {
  if (inputs.length !== 3)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `grf-walks takes 3 inputs (indptr, indices, weights), got ${inputs.length}`, { got: inputs.length });
  const [ip, ix, wt] = inputs as [NdArray, NdArray, NdArray];
  if (ip.dtype !== 'i32') throw invalidField('inputs[0] (indptr).dtype', 'i32', ip.dtype);
  if (ix.dtype !== 'i32') throw invalidField('inputs[1] (indices).dtype', 'i32', ix.dtype);
  if (wt.dtype !== 'f64') throw invalidField('inputs[2] (weights).dtype', 'f64', wt.dtype);
  const indptr = ip.data as Int32Array;
  const indices = ix.data as Int32Array;
  const n = indptr.length - 1;
  if (n < 1) throw outOfRange('inputs[0] (indptr).length', '>= 2', indptr.length);
  const nnz = indptr[n] ?? 0;
  if (indptr[0] !== 0 || nnz !== indices.length || wt.data.length !== nnz) {
    throw new GramfleetError(
      'INPUT_SHAPE_MISMATCH',
      `CSR arrays disagree: indptr[0]=${indptr[0]}, indptr[n]=${nnz}, indices ${indices.length}, weights ${wt.data.length}`,
      { nnz, indices: indices.length, weights: wt.data.length },
    );
  }
  if (attrs.nodeEnd > n) throw outOfRange('nodeEnd', `<= n = ${n}`, attrs.nodeEnd);
  if (o.verified === true) return;
  for (let i = 0; i < n; i++) if ((indptr[i + 1] ?? 0) < (indptr[i] ?? 0)) throw outOfRange(`inputs[0] (indptr)[${i + 1}]`, `>= indptr[${i}]`, indptr[i + 1]);
  for (let p = 0; p < nnz; p++) {
    const j = indices[p] ?? -1;
    if (j < 0 || j >= n) throw outOfRange(`inputs[1] (indices)[${p}]`, `in [0, ${n})`, j);
  }
  for (let p = 0; p < nnz; p++) {
    if (!Number.isFinite(wt.data[p])) throw new GramfleetError('INPUT_NOT_FINITE', `inputs[2] (weights)[${p}] must be finite`, { field: 'weights', index: p });
  }
}

/** Number of steps actually walked: the index of the last non-zero of f (0 if none). */
export function effectiveSteps(f: ArrayLike<number>): number {
  let l = f.length - 1;
  while (l > 0 && f[l] === 0) l--;
  return l;
}

/** The graph a walk kernel reads. */
export interface GrfGraph {
  readonly n: number;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly weights: Float64Array;
}

/** Rows of Φ for one stream, as plain arrays. */
export interface GrfRows {
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly data: Float64Array;
}

/** Reusable per-call scratch of the reference walker. */
class Scratch {
  readonly acc: Float64Array;
  readonly mark: Uint8Array;
  readonly touched: Int32Array;
  nt = 0;
  constructor(n: number) {
    this.acc = new Float64Array(n);
    this.mark = new Uint8Array(n);
    this.touched = new Int32Array(n);
  }
  add(v: number, x: number): void {
    if (this.mark[v] === 0) {
      this.mark[v] = 1;
      this.touched[this.nt++] = v;
    }
    this.acc[v] = (this.acc[v] ?? 0) + x;
  }
  /** Appends the row (ascending columns, zeros dropped) and resets the scratch. */
  flush(outIdx: number[], outVal: number[]): void {
    const t = this.touched.subarray(0, this.nt).sort();
    for (let q = 0; q < t.length; q++) {
      const v = t[q] ?? 0;
      const x = this.acc[v] ?? 0;
      if (x !== 0) {
        outIdx.push(v);
        outVal.push(x);
      }
      this.acc[v] = 0;
      this.mark[v] = 0;
    }
    this.nt = 0;
  }
}

/** Flips a uniform for the antithetic partner: (u + ½) mod 1, exact on the 2^-53 grid. */
function antitheticFlip(u: number): number {
  return u < 0.5 ? u + 0.5 : u - 0.5;
}

/**
 * The float64 reference walker: Φ rows for origins [nodeStart, nodeEnd) on one stream.
 * This is the oracle every backend must match bit for bit.
 */
export function grfWalkRowsReference(g: GrfGraph, attrs: GrfWalksAttrs, stream: number): GrfRows {
  const { indptr, indices, weights } = g;
  const [k0, k1] = seedKey(attrs.seed);
  const m = attrs.walks;
  const L = effectiveSteps(attrs.f);
  const f = Float64Array.from(attrs.f);
  const pHalt = attrs.pHalt;
  const q = 1 / (1 - pHalt);
  const antithetic = attrs.variance === 'antithetic';
  const sc = new Scratch(g.n);
  const b = new Uint32Array(4);
  const bp = new Uint32Array(4);
  const rows = attrs.nodeEnd - attrs.nodeStart;
  const outPtr = new Int32Array(rows + 1);
  const outIdx: number[] = [];
  const outVal: number[] = [];
  const rep = attrs.variance === 'repelling' ? new RepelScratch(g, m) : undefined;
  for (let i = attrs.nodeStart; i < attrs.nodeEnd; i++) {
    if (rep !== undefined) {
      rep.walkOrigin(sc, f, L, m, pHalt, q, i, stream, k0, k1);
    } else {
      for (let w = 0; w < m; w++) {
        const odd = antithetic && (w & 1) === 1;
        let v = i;
        let load = 1;
        for (let t = 0; ; t++) {
          sc.add(v, load * ((f[t] ?? 0) / m));
          if (t === L) break;
          const s = indptr[v] ?? 0;
          const deg = (indptr[v + 1] ?? 0) - s;
          if (deg === 0) break;
          philox4x32(i, w, t, stream, k0, k1, b);
          let u: number;
          if (odd) {
            philox4x32(i, w - 1, t, stream, k0, k1, bp);
            u = antitheticFlip(u53(bp[0] ?? 0, bp[1] ?? 0));
          } else u = u53(b[0] ?? 0, b[1] ?? 0);
          if (u < pHalt) break;
          let k = Math.floor(u53(b[2] ?? 0, b[3] ?? 0) * deg);
          if (k >= deg) k = deg - 1;
          const p = s + k;
          load = load * (deg * (weights[p] ?? 0) * q);
          v = indices[p] ?? 0;
        }
      }
    }
    sc.flush(outIdx, outVal);
    outPtr[i - attrs.nodeStart + 1] = outIdx.length;
  }
  return { indptr: outPtr, indices: Int32Array.from(outIdx), data: Float64Array.from(outVal) };
}

/** Per-origin state of repelling walks. */
class RepelScratch {
  readonly pos: Int32Array;
  readonly load: Float64Array;
  readonly um: Float64Array;
  readonly alive: Int32Array;
  readonly nxt: Int32Array;
  readonly newPos: Int32Array;
  readonly head: Int32Array;
  readonly perm: Int32Array;
  readonly permTouched: Int32Array;
  private readonly b = new Uint32Array(4);
  constructor(
    private readonly g: GrfGraph,
    m: number,
  ) {
    this.pos = new Int32Array(m);
    this.load = new Float64Array(m);
    this.um = new Float64Array(m);
    this.alive = new Int32Array(m);
    this.nxt = new Int32Array(m);
    this.newPos = new Int32Array(m);
    this.head = new Int32Array(g.n).fill(-1);
    let maxDeg = 1;
    for (let v = 0; v < g.n; v++) maxDeg = Math.max(maxDeg, (g.indptr[v + 1] ?? 0) - (g.indptr[v] ?? 0));
    this.perm = new Int32Array(maxDeg).fill(-1);
    this.permTouched = new Int32Array(2 * maxDeg);
  }

  walkOrigin(sc: Scratch, f: Float64Array, L: number, m: number, pHalt: number, q: number, i: number, stream: number, k0: number, k1: number): void {
    const { indptr, indices, weights } = this.g;
    const { pos, load, um, alive, nxt, newPos, head, perm, permTouched, b } = this;
    for (let w = 0; w < m; w++) {
      pos[w] = i;
      load[w] = 1;
      alive[w] = w;
    }
    let na = m;
    for (let t = 0; ; t++) {
      const ft = (f[t] ?? 0) / m;
      for (let a = 0; a < na; a++) {
        const w = alive[a] ?? 0;
        sc.add(pos[w] ?? 0, (load[w] ?? 0) * ft);
      }
      if (t === L) break;
      // Halting (and the move uniform) for every live walker, in ascending order.
      let nn = 0;
      for (let a = 0; a < na; a++) {
        const w = alive[a] ?? 0;
        const v = pos[w] ?? 0;
        if ((indptr[v + 1] ?? 0) - (indptr[v] ?? 0) === 0) continue;
        philox4x32(i, w, t, stream, k0, k1, b);
        if (u53(b[0] ?? 0, b[1] ?? 0) < pHalt) continue;
        um[w] = u53(b[2] ?? 0, b[3] ?? 0);
        alive[nn++] = w;
      }
      na = nn;
      if (na === 0) break;
      // Group survivors by node: lists in ascending walker order.
      for (let a = na - 1; a >= 0; a--) {
        const w = alive[a] ?? 0;
        const v = pos[w] ?? 0;
        nxt[w] = head[v] ?? -1;
        head[v] = w;
      }
      for (let a = 0; a < na; a++) {
        const v = pos[alive[a] ?? 0] ?? 0;
        let x = head[v] ?? -1;
        if (x < 0) continue;
        head[v] = -1;
        const s = indptr[v] ?? 0;
        const d = (indptr[v + 1] ?? 0) - s;
        let j = 0;
        let npt = 0;
        while (x >= 0) {
          if (j === d) {
            for (let z = 0; z < npt; z++) perm[permTouched[z] ?? 0] = -1;
            npt = 0;
            j = 0;
          }
          let r = Math.floor((um[x] ?? 0) * (d - j));
          if (r > d - j - 1) r = d - j - 1;
          r += j;
          const pjr = perm[j] ?? -1;
          const pj = pjr < 0 ? j : pjr;
          const prr = perm[r] ?? -1;
          const pr = prr < 0 ? r : prr;
          perm[j] = pr;
          perm[r] = pj;
          permTouched[npt++] = j;
          permTouched[npt++] = r;
          const p = s + pr;
          newPos[x] = indices[p] ?? 0;
          load[x] = (load[x] ?? 0) * (d * (weights[p] ?? 0) * q);
          x = nxt[x] ?? -1;
          j++;
        }
        for (let z = 0; z < npt; z++) perm[permTouched[z] ?? 0] = -1;
      }
      for (let a = 0; a < na; a++) {
        const w = alive[a] ?? 0;
        pos[w] = newPos[w] ?? 0;
      }
    }
  }
}

/** The op definition of `grf-walks` (see the module documentation for the algorithm). */
export const grfWalksOp: OpDef<GrfWalksAttrs> = {
  id: 'grf-walks',
  summary: 'graph random features: sparse Φ rows from modulated (antithetic / repelling) random walks',
  parseAttrs: parseGrfWalksAttrs,
  checkInputs: checkGrfWalksInputs,
  reference(attrs: GrfWalksAttrs, inputs: readonly NdArray[]): NdArray[] {
    checkGrfWalksInputs(attrs, inputs);
    const [ip, ix, wt] = inputs as [NdArray, NdArray, NdArray];
    const g: GrfGraph = { n: ip.data.length - 1, indptr: ip.data as Int32Array, indices: ix.data as Int32Array, weights: wt.data as Float64Array };
    const out: NdArray[] = [];
    for (const s of attrs.streams) {
      const r = grfWalkRowsReference(g, attrs, s);
      out.push(ndarray('i32', [r.indptr.length], r.indptr), ndarray('i32', [r.indices.length], r.indices), ndarray('f64', [r.data.length], r.data));
    }
    return out;
  },
};
