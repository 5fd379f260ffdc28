/**
 * The EigenPro 2 training loop over an abstract {@link EigenProCompute} (the kernel products;
 * a reference in plain TS for tests, NATS workers in the cluster). The loop owns the state —
 * coefficients, epoch and batch position; the batch order comes from (seed, epoch) — so a
 * {@link EigenProCheckpoint} resumes exactly where it was taken.
 *
 * Iteration on batch B (centers = training rows): G = K(X_B, X)·a − Y_B; a_B −= γG;
 * a_S += γ·E·diag(D)·(K(X_B, X_S)·E)ᵀ·G. K(X_B, X_S)·E does not depend on a, so the compute
 * returns it with the batch prediction in one round.
 */
import { GramfleetError } from '../errors';
import { eigenProSetupFromSpectrum, epochOrder, subsampleRows, type EigenProSetup } from './setup';
import { defaultSubsampleSize, type CompiledEigenProParams, type EigenProDataShape } from './params';

/** Where a batch is in the run (ids of its tasks derive from it). */
export interface BatchTag {
  readonly epoch: number;
  readonly batch: number;
}

/** The kernel products the loop needs. All matrices are f64 row-major. */
export interface EigenProCompute {
  /** K(X_S, X_S) for the rows S of the training set (s × s). */
  subsampleKernel(rows: Int32Array): Promise<Float64Array>;
  /** The top r eigenpairs of a symmetric s × s matrix, eigenvalues descending, vectors s × r. */
  topEigenpairs(a: Float64Array, s: number, r: number, seed: number): Promise<{ w: Float64Array; v: Float64Array }>;
  /** Installs the preconditioner basis: E (s × q1) over training rows `rows`. */
  preconditioner(rows: Int32Array, e: Float64Array, q1: number): Promise<void>;
  /** For training rows `rows`: pred = K(X_B, Z)·a (m × c) and phi = K(X_B, X_S)·E (m × q1). */
  batch(rows: Int32Array, a: Float64Array, tag: BatchTag): Promise<{ pred: Float64Array; phi: Float64Array }>;
  /** K(X_eval, Z)·a for the test set or the training rows `rows`. */
  predict(set: 'test' | 'train', a: Float64Array, tag: BatchTag, rows?: Int32Array): Promise<Float64Array>;
}

/** Metrics of one epoch. */
export interface EpochMetrics {
  readonly epoch: number;
  /** Accuracy (classification) on the training evaluation rows, and MSE on them. */
  readonly trainAccuracy?: number;
  readonly trainMse: number;
  readonly testAccuracy?: number;
  readonly testMse?: number;
  /** Milliseconds since training started (setup included), summed over resumed attempts. */
  readonly elapsedMs: number;
  readonly batches: number;
  /** Milliseconds of this epoch spent scoring (train evaluation rows and test set), included in `elapsedMs`. */
  readonly evalMs?: number;
}

/** Resumable state, written every N batches. */
export interface EigenProCheckpoint {
  /** Next batch to run: epoch and batch index within the epoch. */
  readonly epoch: number;
  readonly batch: number;
  /** Coefficients p × c. */
  readonly a: Float64Array;
  readonly setup: EigenProSetup;
  readonly history: readonly EpochMetrics[];
  /** Training time before this checkpoint, ms. */
  readonly elapsedMs: number;
  /** Seed of the batch order (the RNG state is (seed, epoch, batch)). */
  readonly seed: number;
}

/** Targets of the run. */
export interface EigenProTargets {
  /** n × c (one-hot for classification). */
  readonly y: Float64Array;
  /** Class ids for accuracy (classification only). */
  readonly labels?: Int32Array;
  readonly yTest?: Float64Array;
  readonly labelsTest?: Int32Array;
}

/** Options of {@link trainEigenPro2}. */
export interface TrainOptions {
  readonly compute: EigenProCompute;
  readonly params: CompiledEigenProParams;
  readonly shape: EigenProDataShape;
  readonly targets: EigenProTargets;
  /** Resume from here instead of starting. */
  readonly resume?: EigenProCheckpoint | undefined;
  /** Called after every batch; the caller checkpoints when it likes. */
  readonly onBatch?: (cp: () => EigenProCheckpoint, tag: BatchTag, batchesPerEpoch: number) => Promise<void> | void;
  /** Called after the setup (not on resume). */
  readonly onSetup?: (setup: EigenProSetup) => Promise<void> | void;
  readonly onEpoch?: (m: EpochMetrics) => Promise<void> | void;
  /** Clock for elapsed times. @default Date.now */
  readonly now?: () => number;
}

/** Result of a run. */
export interface TrainResult {
  readonly a: Float64Array;
  readonly setup: EigenProSetup;
  readonly history: readonly EpochMetrics[];
  readonly resumedFrom?: { readonly epoch: number; readonly batch: number };
}

/** One-hot n × c targets of class ids. */
export function oneHot(labels: ArrayLike<number>, c: number): Float64Array {
  const out = new Float64Array(labels.length * c);
  for (let i = 0; i < labels.length; i++) out[i * c + (labels[i] as number)] = 1;
  return out;
}

/** Fraction of rows whose argmax equals the label. */
export function accuracy(pred: ArrayLike<number>, labels: ArrayLike<number>, c: number): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if ((pred[i * c + j] as number) > (pred[i * c + best] as number)) best = j;
    if (best === labels[i]) ok++;
  }
  return labels.length === 0 ? 0 : ok / labels.length;
}

/** Mean squared error per entry. */
export function mse(pred: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += ((pred[i] as number) - (y[i] as number)) ** 2;
  return y.length === 0 ? 0 : s / y.length;
}

/** Computes the EigenPro 2 setup: subsample, f64 eigensystem, q, batch and step. */
export async function eigenProSetup(compute: EigenProCompute, params: CompiledEigenProParams, shape: EigenProDataShape): Promise<EigenProSetup> {
  const s = Math.min(shape.n, params.subsampleSize ?? defaultSubsampleSize(shape.n));
  const r = Math.min(s - 1, params.eigenpairs ?? 160);
  const rows = subsampleRows(shape.n, s, params.seed);
  const k = await compute.subsampleKernel(rows);
  for (let i = 0; i < k.length; i++) k[i] = (k[i] as number) / s;
  const { w, v } = await compute.topEigenpairs(k, s, r, params.seed);
  // β = max k(x, x): every supported kernel has k(x, x) = k(0) = 1.
  return eigenProSetupFromSpectrum({
    subsample: rows,
    w,
    v,
    alpha: params.alpha,
    maxBatch: params.maxBatch,
    beta: 1,
    n: shape.n,
    batchSize: params.batchSize,
    stepSize: params.stepSize,
    q: params.q,
  });
}

/** Applies one EigenPro 2 update in place. `g` is overwritten with the residual G. */
export function applyEigenPro2Update(
  a: Float64Array,
  rows: Int32Array,
  pred: Float64Array,
  phi: Float64Array,
  y: Float64Array,
  setup: EigenProSetup,
  c: number,
): void {
  const m = rows.length;
  const q1 = setup.q - 1;
  const g = pred;
  for (let i = 0; i < m; i++) {
    const r = rows[i] as number;
    for (let j = 0; j < c; j++) g[i * c + j] = (g[i * c + j] as number) - (y[r * c + j] as number);
  }
  // t = diag(D)·phiᵀ·G  (q1 × c)
  const t = new Float64Array(q1 * c);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < q1; k++) {
      const pk = phi[i * q1 + k] as number;
      for (let j = 0; j < c; j++) t[k * c + j] = (t[k * c + j] as number) + pk * (g[i * c + j] as number);
    }
  }
  for (let k = 0; k < q1; k++) for (let j = 0; j < c; j++) t[k * c + j] = (t[k * c + j] as number) * (setup.d[k] as number);
  const gam = setup.gamma;
  for (let i = 0; i < m; i++) {
    const r = rows[i] as number;
    for (let j = 0; j < c; j++) a[r * c + j] = (a[r * c + j] as number) - gam * (g[i * c + j] as number);
  }
  const sIdx = setup.subsample;
  for (let i = 0; i < setup.s; i++) {
    const r = sIdx[i] as number;
    for (let j = 0; j < c; j++) {
      let acc = 0;
      for (let k = 0; k < q1; k++) acc += (setup.e[i * q1 + k] as number) * (t[k * c + j] as number);
      a[r * c + j] = (a[r * c + j] as number) + gam * acc;
    }
  }
}

/** Runs EigenPro 2 (centers = training rows) for `params.epochs` epochs, or resumes a checkpoint. */
export async function trainEigenPro2(o: TrainOptions): Promise<TrainResult> {
  const { compute, params, shape, targets } = o;
  const now = o.now ?? Date.now;
  const c = shape.c;
  if (shape.p !== shape.n)
    throw new GramfleetError('INPUT_INVALID', 'EigenPro 2 trains on centers = training rows; use EigenPro 3 for other centers', { field: 'centers' });
  if (targets.y.length !== shape.n * c) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `targets must be ${shape.n}×${c}`, { field: 'trainLabels' });
  const t0 = now();
  let setup: EigenProSetup;
  let a: Float64Array;
  let epoch = 0;
  let batch = 0;
  let history: EpochMetrics[] = [];
  let before = 0;
  if (o.resume !== undefined) {
    ({ setup } = o.resume);
    a = Float64Array.from(o.resume.a);
    epoch = o.resume.epoch;
    batch = o.resume.batch;
    history = [...o.resume.history];
    before = o.resume.elapsedMs;
  } else {
    setup = await eigenProSetup(compute, params, shape);
    a = new Float64Array(shape.p * c);
    await o.onSetup?.(setup);
  }
  await compute.preconditioner(setup.subsample, setup.e, setup.q - 1);
  const m = setup.batch;
  const perEpoch = Math.ceil(shape.n / m);
  const elapsed = (): number => before + (now() - t0);
  const evalRows = params.trainEvalRows > 0 ? subsampleRows(shape.n, Math.min(shape.n, params.trainEvalRows), params.seed + 1) : new Int32Array(0);
  for (; epoch < params.epochs; epoch++, batch = 0) {
    const order = epochOrder(shape.n, params.seed, epoch);
    for (; batch < perEpoch; batch++) {
      const rows = order.slice(batch * m, Math.min(shape.n, (batch + 1) * m));
      const tag = { epoch, batch };
      const { pred, phi } = await compute.batch(rows, a, tag);
      applyEigenPro2Update(a, rows, pred, phi, targets.y, setup, c);
      if (o.onBatch !== undefined) {
        const e = epoch,
          b = batch + 1,
          h = history,
          el = elapsed();
        // After an epoch's last batch the checkpoint says (epoch, perEpoch): a resume evaluates it.
        await o.onBatch(
          () => ({
            epoch: e,
            batch: b,
            a: Float64Array.from(a),
            setup,
            history: [...h],
            elapsedMs: el,
            seed: params.seed,
          }),
          tag,
          perEpoch,
        );
      }
    }
    const te = now();
    const metrics = await evaluateEpoch(compute, a, { epoch, batch: perEpoch }, targets, evalRows, c, params.task === 'classification', shape.nTest > 0);
    const em: EpochMetrics = { ...metrics, epoch: epoch + 1, elapsedMs: elapsed(), batches: perEpoch, evalMs: now() - te };
    history.push(em);
    await o.onEpoch?.(em);
  }
  return { a, setup, history, ...(o.resume !== undefined ? { resumedFrom: { epoch: o.resume.epoch, batch: o.resume.batch } } : {}) };
}

/** Shard-id prefix of a batch: `e<epoch>b<batch>`, zero-padded so ids sort. */
export function batchTagId(t: BatchTag): string {
  return `e${String(t.epoch).padStart(4, '0')}b${String(t.batch).padStart(6, '0')}`;
}

/**
 * The end-of-epoch scores of EigenPro 2 and 3/4: MSE (and accuracy, for classification) on the
 * training evaluation rows `evalRows`, then on the test set when `test`, each from one
 * `compute.predict` round with the coefficients `a` (centers: the loop's).
 */
export async function evaluateEpoch(
  compute: EigenProCompute,
  a: Float64Array,
  tag: BatchTag,
  t: EigenProTargets,
  evalRows: Int32Array,
  c: number,
  cls: boolean,
  test: boolean,
): Promise<Omit<EpochMetrics, 'epoch' | 'elapsedMs' | 'batches'>> {
  let out: { trainMse: number; trainAccuracy?: number; testMse?: number; testAccuracy?: number } = { trainMse: 0 };
  // One set after the other: the two rounds put the same coefficient slices to the store, and
  // two concurrent puts of one content-addressed object can purge each other's chunks mid-read.
  if (evalRows.length > 0) {
    const pred = await compute.predict('train', a, tag, evalRows);
    const y = new Float64Array(evalRows.length * c);
    for (let i = 0; i < evalRows.length; i++) y.set(t.y.subarray((evalRows[i] as number) * c, ((evalRows[i] as number) + 1) * c), i * c);
    out.trainMse = mse(pred, y);
    if (cls && t.labels !== undefined)
      out.trainAccuracy = accuracy(
        pred,
        Array.from(evalRows, (r) => t.labels?.[r] ?? -1),
        c,
      );
  }
  if (test && t.yTest !== undefined) {
    const pred = await compute.predict('test', a, tag);
    out = { ...out, testMse: mse(pred, t.yTest) };
    if (cls && t.labelsTest !== undefined) out.testAccuracy = accuracy(pred, t.labelsTest, c);
  }
  return out;
}
