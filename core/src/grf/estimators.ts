/**
 * Estimators built on sparse GRF features Φ: K̂·V = Φ₁(Φ₂ᵀV) without forming K̂, the relative
 * Frobenius error against an exact K, label spreading, and a one-call reference pipeline
 * from an adjacency to Φ (used by tests and small jobs; the cluster shards the same op).
 */
import type { CsrArrays, NdArray } from '../array';
import { ndarray } from '../array';
import { GramfleetError } from '../errors';
import { grfWalksOp, type GrfVariance, type GrfWalksAttrs } from '../ops/grf-walks';
import { philox4x32, seedKey, u53 } from '../rng/philox';
import { checkVarianceBound, modulation, walkLengthCap, type GraphKernelSpec } from './kernels';
import { normalisedWeights } from './normalise';
import { csrSpmm, csrTranspose } from './sparse';

/** K̂·V = Φ₁(Φ₂ᵀV) for a dense row-major block V (n × k), never forming K̂. */
export function applyKhat(phi1: CsrArrays, phi2: CsrArrays, v: Float64Array, k: number): Float64Array {
  const [rows2, cols] = phi2.shape;
  if (v.length !== rows2 * k) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `block has ${v.length} entries, expected ${rows2}×${k}`, { rows: rows2, k });
  if (phi1.shape[1] !== cols) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `Φ₁ has ${phi1.shape[1]} columns, Φ₂ has ${cols}`, {});
  const t = new Float64Array(cols * k);
  for (let i = 0; i < rows2; i++) {
    for (let p = phi2.indptr[i] ?? 0; p < (phi2.indptr[i + 1] ?? 0); p++) {
      const x = phi2.data[p] ?? 0;
      const to = (phi2.indices[p] ?? 0) * k;
      for (let c = 0; c < k; c++) t[to + c] = (t[to + c] ?? 0) + x * (v[i * k + c] ?? 0);
    }
  }
  return csrSpmm(phi1, t, k);
}

/** Dense K̂ = Φ₁Φ₂ᵀ (rows1 × rows2, row-major); for small checks only. */
export function khatDense(phi1: CsrArrays, phi2: CsrArrays): Float64Array {
  const r1 = phi1.shape[0];
  const r2 = phi2.shape[0];
  const out = new Float64Array(r1 * r2);
  const t2 = csrTranspose(phi2);
  for (let i = 0; i < r1; i++) khatRowInto(phi1, t2, i, out.subarray(i * r2, (i + 1) * r2));
  return out;
}

function khatRowInto(phi1: CsrArrays, t2: CsrArrays, i: number, row: Float64Array): void {
  row.fill(0);
  for (let p = phi1.indptr[i] ?? 0; p < (phi1.indptr[i + 1] ?? 0); p++) {
    const x = phi1.data[p] ?? 0;
    const c = phi1.indices[p] ?? 0;
    for (let q = t2.indptr[c] ?? 0; q < (t2.indptr[c + 1] ?? 0); q++) {
      const j = t2.indices[q] ?? 0;
      row[j] = (row[j] ?? 0) + x * (t2.data[q] ?? 0);
    }
  }
}

/**
 * ‖K − Φ₁Φ₂ᵀ‖_F / ‖K‖_F for a dense exact K (n × n, row-major), one K̂ row at a time
 * (memory O(n), never the dense K̂).
 */
export function relFrobError(kExact: Float64Array, phi1: CsrArrays, phi2: CsrArrays): number {
  const n = phi1.shape[0];
  if (kExact.length !== n * phi2.shape[0]) throw new GramfleetError('INPUT_SHAPE_MISMATCH', 'relFrobError: K and Φ shapes disagree', { k: kExact.length, n });
  const r2 = phi2.shape[0];
  const t2 = csrTranspose(phi2);
  const row = new Float64Array(r2);
  let err = 0;
  let nrm = 0;
  for (let i = 0; i < n; i++) {
    khatRowInto(phi1, t2, i, row);
    for (let j = 0; j < r2; j++) {
      const kv = kExact[i * r2 + j] ?? 0;
      const d = kv - (row[j] ?? 0);
      err += d * d;
      nrm += kv * kv;
    }
  }
  return Math.sqrt(err / nrm);
}

/** Options of {@link grfFeatures}. */
export interface GrfFeatureOptions {
  /** Kernel family; its modulation function is evaluated up to `walkLengthCap(pHalt)` steps. */
  readonly kernel: GraphKernelSpec;
  /** Scale c of W = c·D^{-1/2}AD^{-1/2}. */
  readonly scale: number;
  /** Halting probability. */
  readonly pHalt: number;
  /** Walkers per origin. */
  readonly walks: number;
  /** Philox seed. */
  readonly seed: number;
  /** Stream ids (1 or 2). @default [0] */
  readonly streams?: readonly number[];
  /** @default 'none' */
  readonly variance?: GrfVariance;
  /** Runs the op; defaults to the float64 reference. */
  readonly run?: (attrs: GrfWalksAttrs, inputs: readonly NdArray[]) => NdArray[] | Promise<NdArray[]>;
}

/**
 * Φ for every node of an adjacency (one CSR per stream): normalises W, checks the variance
 * bound, builds f, and runs `grf-walks` over all origins.
 */
export async function grfFeatures(adj: CsrArrays, o: GrfFeatureOptions): Promise<CsrArrays[]> {
  checkVarianceBound(o.kernel, o.scale, o.pHalt);
  const n = adj.shape[0];
  const w = normalisedWeights(adj, o.scale);
  const f = Array.from(modulation(o.kernel, walkLengthCap(o.pHalt) + 1));
  const attrs = grfWalksOp.parseAttrs({
    seed: o.seed,
    walks: o.walks,
    pHalt: o.pHalt,
    f,
    streams: [...(o.streams ?? [0])],
    variance: o.variance ?? 'none',
    nodeStart: 0,
    nodeEnd: n,
  });
  const inputs = [ndarray('i32', [n + 1], adj.indptr), ndarray('i32', [adj.indices.length], adj.indices), ndarray('f64', [w.length], w)];
  grfWalksOp.checkInputs(attrs, inputs);
  const out = await (o.run ?? grfWalksOp.reference)(attrs, inputs);
  return csrOutputs(out, n);
}

/** Groups `grf-walks` outputs (3 arrays per stream) into CSR matrices with `cols` columns. */
export function csrOutputs(out: readonly NdArray[], cols: number): CsrArrays[] {
  const res: CsrArrays[] = [];
  for (let s = 0; s + 2 < out.length; s += 3) {
    const ip = out[s]?.data as Int32Array;
    res.push({ shape: [ip.length - 1, cols], indptr: ip, indices: out[s + 1]?.data as Int32Array, data: out[s + 2]?.data as Float64Array });
  }
  return res;
}

/**
 * A seeded subset of ⌊fraction·n⌋ (at least 1) of 0..n−1, by a Philox-driven partial
 * Fisher–Yates shuffle (counter (j, 0, 0, 0xffffffff)); returns a 0/1 mask.
 */
export function seededSubset(n: number, fraction: number, seed: number): Uint8Array {
  const [k0, k1] = seedKey(seed);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const take = Math.max(1, Math.floor(fraction * n));
  const b = new Uint32Array(4);
  for (let j = 0; j < take; j++) {
    philox4x32(j, 0, 0, 0xffffffff, k0, k1, b);
    const r = j + Math.min(Math.floor(u53(b[0] ?? 0, b[1] ?? 0) * (n - j)), n - j - 1);
    const t = perm[j] ?? 0;
    perm[j] = perm[r] ?? 0;
    perm[r] = t;
  }
  const mask = new Uint8Array(n);
  for (let j = 0; j < take; j++) mask[perm[j] ?? 0] = 1;
  return mask;
}

/** One-hot targets Y (n × classes, row-major): rows of training nodes set, zeros elsewhere. */
export function oneHotTrain(labels: Int32Array, train: Uint8Array, classes: number): Float64Array {
  const y = new Float64Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) if (train[i] === 1) y[i * classes + (labels[i] ?? 0)] = 1;
  return y;
}

/** Accuracy of argmax-per-row predictions (scores n × classes) on the nodes with train = 0. */
export function heldOutAccuracy(scores: Float64Array, labels: Int32Array, train: Uint8Array, classes: number): number {
  let hit = 0;
  let tot = 0;
  for (let i = 0; i < labels.length; i++) {
    if (train[i] === 1) continue;
    let best = 0;
    let bv = -Infinity;
    for (let c = 0; c < classes; c++) {
      const s = scores[i * classes + c] ?? 0;
      if (s > bv) {
        bv = s;
        best = c;
      }
    }
    tot++;
    if (best === labels[i]) hit++;
  }
  return tot === 0 ? 0 : hit / tot;
}

/**
 * Label spreading: predictions argmax(K·Y) with Y one-hot on a seeded training subset;
 * returns the accuracy on the other nodes. `applyK` computes K·Y for an n × classes block.
 */
export function labelSpreadingAccuracy(applyK: (y: Float64Array, k: number) => Float64Array, labels: Int32Array, train: Uint8Array): number {
  let classes = 0;
  for (const l of labels) classes = Math.max(classes, l + 1);
  const y = oneHotTrain(labels, train, classes);
  return heldOutAccuracy(applyK(y, classes), labels, train, classes);
}
