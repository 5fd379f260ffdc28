/**
 * The EigenPro 3 / EigenPro 4 training loop over an abstract {@link EigenPro3Compute} (the
 * kernel products; f64 reference here for the tests, NATS workers in the cluster). Centers Z
 * (p of them) differ from the training rows X. The preconditioner is EigenPro 2's, from the
 * Nyström subsample X_S of X (E, D, γ); F = K(Z, X_S)·E·diag(D) is formed once.
 *
 * EigenPro 3 (Abedsoltan, Belkin & Pandit, arXiv 2302.02605), per batch B:
 *   G = K(X_B, Z)·a − Y_B,  t = (K(X_B, X_S)·E)ᵀ·G,  h = K(Z, X_B)·G − F·t,  a −= γ·θ
 * with θ solving K(Z, Z)θ = h: exactly with the Cholesky factor of K(Z, Z) + εI (`cholesky`
 * solver), or approximately by `projectionEpochs` EigenPro 2 passes over (Z, h) with a
 * preconditioner from a subsample of Z (`eigenpro` solver).
 *
 * EigenPro 4 (delayed projection, arXiv 2411.16658): the preconditioned gradient steps stay in
 * the auxiliary space — temporary centers X_B with coefficients −γG, and the subsample part
 * γ·E·diag(D)·Σt — for T batches, each batch's prediction including them
 * (K(X_B, X_aux)·b_aux + γ·K(X_B, X_S)·E·diag(D)·Σt); every T batches (and at the end of an
 * epoch) the accumulated step is projected at once, h = K(Z, X_aux)·G_aux − F·Σt, a −= γθ.
 * With T = 1 this is EigenPro 3.
 *
 * Checkpoints are taken only where no temporary centers are pending, so a checkpoint is the
 * coefficients, the setup and the position, as for EigenPro 2; the factor and F are recomputed
 * on resume (deterministically).
 */
import { GramfleetError, isGramfleetError } from '../errors';
import { choleskyReference } from '../ops/cholesky';
import { eighTopkReference } from '../ops/eigh-topk';
import type { KernelFunction } from '../ops/kernel-block';
import { EIGENPRO_JITTERS, type EigenPro3Plan } from './ep3-plan';
import { type CompiledEigenProParams, type EigenProDataShape } from './params';
import { kernelMatmulReference } from './reference';
import { epochOrder, subsampleRows, type EigenProSetup } from './setup';
import {
  applyEigenPro2Update,
  batchTagId as tagId,
  eigenProSetup,
  evaluateEpoch,
  type BatchTag,
  type EigenProCheckpoint,
  type EigenProCompute,
  type EigenProTargets,
  type EpochMetrics,
} from './train';

/** The kernel products EigenPro 3/4 needs beyond EigenPro 2's (whose `batch`/`predict` use the centers Z). */
export interface EigenPro3Compute extends EigenProCompute {
  /** K(Z, X[rows])·coef (p × cols); `rows` index the training set. `id` names the round (unique per job). */
  centersMatmul(rows: Int32Array, coef: Float64Array, cols: number, id: string): Promise<Float64Array>;
  /** Σ_k K(X[rows], X[aux_k.rows])·aux_k.coef (m × c), summed in k order: the temporary centers. */
  auxPredict(rows: Int32Array, aux: readonly AuxPart[], id: string): Promise<Float64Array>;
  /** Lower Cholesky factor of K(Z, Z) + jitter·I (p × p); throws KERNEL_STATUS when not positive definite. */
  centersFactor(jitter: number, id: string): Promise<Float64Array>;
  /**
   * Optional: a solver of (L·Lᵀ)θ = h in place (h p × c) bound to the factor L, used for the
   * per-batch projections instead of {@link choleskySolveInPlace} (the cluster binds a wasm
   * kernel; same arithmetic up to rounding order).
   */
  choleskySolver?(l: Float64Array, p: number): (h: Float64Array, c: number) => void;
  /** K(Z[zRows], Z[zRows]) (s × s). */
  centersSubsampleKernel(zRows: Int32Array): Promise<Float64Array>;
  /** Installs the preconditioner of the `eigenpro` solver: E (s × q1) over center rows `zRows`. */
  centersPreconditioner(zRows: Int32Array, e: Float64Array, q1: number): Promise<void>;
  /** pred = K(Z[zRows], Z)·θ (m × c) and phi = K(Z[zRows], Z_S)·E (m × q1). */
  centersBatch(zRows: Int32Array, theta: Float64Array, id: string): Promise<{ pred: Float64Array; phi: Float64Array }>;
}

/** Temporary centers of a delayed projection: training rows and their coefficients. */
export interface AuxPart {
  readonly rows: Int32Array;
  /** rows × c. */
  readonly coef: Float64Array;
}

/** What the projection set up (reported with the setup). */
export interface EigenPro3ProjectionSummary {
  readonly projection: EigenPro3Plan['projection'];
  readonly solver: EigenPro3Plan['solver'];
  readonly reason: string;
  /** Batches per projection (1 unless delayed). */
  readonly interval: number;
  /** Jitter ε added to K(Z, Z) before the Cholesky (cholesky solver). */
  readonly jitter?: number;
  /** EigenPro 2 setup on the centers (eigenpro solver): s, q, batch, passes. */
  readonly centersSetup?: { readonly s: number; readonly q: number; readonly batch: number; readonly passes: number };
  readonly centers: number;
}

/** Options of {@link trainEigenPro3}. */
export interface Train3Options {
  readonly compute: EigenPro3Compute;
  readonly params: CompiledEigenProParams;
  readonly shape: EigenProDataShape;
  readonly targets: EigenProTargets;
  readonly plan: EigenPro3Plan;
  readonly resume?: EigenProCheckpoint | undefined;
  /** Called after every batch; `clean` is true where a checkpoint may be taken (no temporary centers pending). */
  readonly onBatch?: (cp: () => EigenProCheckpoint, tag: BatchTag, batchesPerEpoch: number, clean: boolean) => Promise<void> | void;
  /** Called after the setup and the projection setup (also on resume, with the projection summary). */
  readonly onSetup?: (setup: EigenProSetup, projection: EigenPro3ProjectionSummary, resumed: boolean) => Promise<void> | void;
  readonly onEpoch?: (m: EpochMetrics) => Promise<void> | void;
  /** Clock for elapsed times. @default Date.now */
  readonly now?: () => number;
}

/** Result of {@link trainEigenPro3}. */
export interface Train3Result {
  readonly a: Float64Array;
  readonly setup: EigenProSetup;
  readonly projection: EigenPro3ProjectionSummary;
  readonly history: readonly EpochMetrics[];
  readonly resumedFrom?: { readonly epoch: number; readonly batch: number };
}

/**
 * Solves (L·Lᵀ)θ = h in place (h p × c row-major), both sweeps reading rows of L (row-major,
 * lower): forward θ_i = (h_i − Σ_{t<i} L_it θ_t)/L_ii, then backward θ_i /= L_ii and
 * θ_t −= L_it θ_i for t < i.
 */
export function choleskySolveInPlace(l: Float64Array, p: number, h: Float64Array, c: number): void {
  for (let i = 0; i < p; i++) {
    const ri = i * p;
    const hi = i * c;
    for (let t = 0; t < i; t++) {
      const v = l[ri + t] as number;
      if (v === 0) continue;
      const ht = t * c;
      for (let j = 0; j < c; j++) h[hi + j] = (h[hi + j] as number) - v * (h[ht + j] as number);
    }
    const dii = l[ri + i] as number;
    for (let j = 0; j < c; j++) h[hi + j] = (h[hi + j] as number) / dii;
  }
  for (let i = p - 1; i >= 0; i--) {
    const ri = i * p;
    const hi = i * c;
    const dii = l[ri + i] as number;
    for (let j = 0; j < c; j++) h[hi + j] = (h[hi + j] as number) / dii;
    for (let t = 0; t < i; t++) {
      const v = l[ri + t] as number;
      if (v === 0) continue;
      const ht = t * c;
      for (let j = 0; j < c; j++) h[ht + j] = (h[ht + j] as number) - v * (h[hi + j] as number);
    }
  }
}

/** The factor of K(Z, Z) + εI with the first ε of {@link EIGENPRO_JITTERS} that factors. */
async function factorWithJitter(compute: EigenPro3Compute): Promise<{ l: Float64Array; jitter: number }> {
  let last: unknown;
  for (let k = 0; k < EIGENPRO_JITTERS.length; k++) {
    const jitter = EIGENPRO_JITTERS[k] as number;
    try {
      return { l: await compute.centersFactor(jitter, `factor${k}`), jitter };
    } catch (e) {
      if (!(isGramfleetError(e) && e.code === 'KERNEL_STATUS' && e.details['reason'] === 'not-positive-definite')) throw e;
      last = e;
    }
  }
  throw new GramfleetError(
    'INPUT_INVALID',
    `K(Z, Z) is not positive definite even with jitter ${EIGENPRO_JITTERS[EIGENPRO_JITTERS.length - 1]} (duplicate centers, or a bandwidth too large for these centers); use projection eigenpro or fewer centers`,
    { field: 'centers', cause: last instanceof Error ? last.message : String(last) },
  );
}

/** Where training starts: a fresh setup and zero coefficients, or a checkpoint's. */
interface TrainingStart {
  readonly setup: EigenProSetup;
  readonly a: Float64Array;
  readonly epoch: number;
  readonly batch: number;
  readonly history: EpochMetrics[];
  /** Training time before this run, ms. */
  readonly before: number;
}

/** Step 1: the EigenPro setup on the training data, or the checkpoint `o.resume` (checked against p × c). */
async function startOrResume(o: Train3Options): Promise<TrainingStart> {
  const { n, p, c } = o.shape;
  const r = o.resume;
  if (r !== undefined) {
    if (r.a.length !== p * c) throw new GramfleetError('JOB_FAILED', `checkpoint holds ${r.a.length} coefficients, expected ${p}×${c}`);
    return { setup: r.setup, a: Float64Array.from(r.a), epoch: r.epoch, batch: r.batch, history: [...r.history], before: r.elapsedMs };
  }
  const setup = await eigenProSetup(o.compute, o.params, { ...o.shape, p: n });
  return { setup, a: new Float64Array(p * c), epoch: 0, batch: 0, history: [], before: 0 };
}

/** F = K(Z, X_S)·E·diag(D) (p × q1): the setup's part of every projection's right-hand side. */
async function setupF(compute: EigenPro3Compute, setup: EigenProSetup, p: number, q1: number): Promise<Float64Array> {
  const f = await compute.centersMatmul(setup.subsample, setup.e, q1, 'setup-f');
  for (let i = 0; i < p; i++) for (let k = 0; k < q1; k++) f[i * q1 + k] = (f[i * q1 + k] as number) * (setup.d[k] as number);
  return f;
}

/** How a projection solves K(Z, Z)·θ = h (h p × c), and what the job reports about it. */
interface ProjectionSolver {
  readonly solve: (h: Float64Array, id: string) => Promise<Float64Array>;
  readonly summary: EigenPro3ProjectionSummary;
}

/**
 * Step 2: the projection's solver, by the plan: a Cholesky factor of K(Z, Z) + jitter·I (the
 * smallest jitter that factors), or EigenPro 2 on (Z, h) with its own Nyström preconditioner
 * from a subsample of the centers, `params.projectionEpochs` passes.
 */
async function projectionSolver(o: Train3Options, interval: number): Promise<ProjectionSolver> {
  const { compute, params, shape, plan } = o;
  const { p, c } = shape;
  if (plan.solver === 'cholesky') {
    const { l, jitter } = await factorWithJitter(compute);
    const fast = compute.choleskySolver?.(l, p);
    const solve = (h: Float64Array): Promise<Float64Array> => {
      if (fast !== undefined) fast(h, c);
      else choleskySolveInPlace(l, p, h, c);
      return Promise.resolve(h);
    };
    return { solve, summary: { projection: plan.projection, solver: plan.solver, reason: plan.reason, interval, jitter, centers: p } };
  }
  const zParams: CompiledEigenProParams = {
    ...params,
    batchSize: undefined,
    stepSize: undefined,
    q: undefined,
    subsampleSize: undefined,
    seed: params.seed + 7,
  };
  const zCompute: EigenProCompute = { ...compute, subsampleKernel: (rows) => compute.centersSubsampleKernel(rows) };
  const zSetup = await eigenProSetup(zCompute, zParams, { n: p, d: shape.d, c, p, nTest: 0 });
  await compute.centersPreconditioner(zSetup.subsample, zSetup.e, zSetup.q - 1);
  const passes = params.projectionEpochs;
  const solve = async (h: Float64Array, id: string): Promise<Float64Array> => {
    const theta = new Float64Array(p * c);
    for (let pass = 0; pass < passes; pass++) {
      const order = epochOrder(p, zParams.seed, pass);
      for (let b = 0; b * zSetup.batch < p; b++) {
        const rows = order.slice(b * zSetup.batch, Math.min(p, (b + 1) * zSetup.batch));
        const { pred, phi } = await compute.centersBatch(rows, theta, `${id}z${pass}b${b}`);
        applyEigenPro2Update(theta, rows, pred, phi, h, zSetup, c);
      }
    }
    return theta;
  };
  return {
    solve,
    summary: {
      projection: plan.projection,
      solver: plan.solver,
      reason: plan.reason,
      interval,
      centers: p,
      centersSetup: { s: zSetup.s, q: zSetup.q, batch: zSetup.batch, passes },
    },
  };
}

/**
 * Temporary centers waiting for a delayed projection (EigenPro 4): each batch's rows with
 * coefficients −γ·G, and Σt over them (q1 × c).
 */
class PendingCenters {
  aux: AuxPart[] = [];
  tSum: Float64Array;

  constructor(
    private readonly q1: number,
    private readonly c: number,
    private readonly gam: number,
  ) {
    this.tSum = new Float64Array(q1 * c);
  }

  add(rows: Int32Array, g: Float64Array, t: Float64Array): void {
    this.aux.push({ rows, coef: g.map((v) => -this.gam * v) });
    for (let i = 0; i < t.length; i++) this.tSum[i] = (this.tSum[i] as number) + (t[i] as number);
  }

  /** Every pending row and its G (= −coef/γ), in the order they came. */
  concat(): { rows: Int32Array; g: Float64Array } {
    const c = this.c;
    const rows = new Int32Array(this.aux.reduce((s, x) => s + x.rows.length, 0));
    const g = new Float64Array(rows.length * c);
    let off = 0;
    for (const x of this.aux) {
      rows.set(x.rows, off);
      for (let i = 0; i < x.coef.length; i++) g[off * c + i] = -(x.coef[i] as number) / this.gam;
      off += x.rows.length;
    }
    return { rows, g };
  }

  clear(): void {
    this.aux = [];
    this.tSum = new Float64Array(this.q1 * this.c);
  }
}

/** pred += K(X_B, X_aux)·coef_aux (`extra`) + γ·Φ·diag(D)·Σt: the pending centers' part of a batch's predictions (m × c). */
function addPending(
  pred: Float64Array,
  phi: Float64Array,
  extra: Float64Array,
  m: number,
  setup: EigenProSetup,
  tSum: Float64Array,
  q1: number,
  c: number,
): void {
  const gam = setup.gamma;
  const u = new Float64Array(q1 * c);
  for (let k = 0; k < q1; k++) for (let j = 0; j < c; j++) u[k * c + j] = gam * (setup.d[k] as number) * (tSum[k * c + j] as number);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < c; j++) {
      let acc = extra[i * c + j] as number;
      for (let k = 0; k < q1; k++) acc += (phi[i * q1 + k] as number) * (u[k * c + j] as number);
      pred[i * c + j] = (pred[i * c + j] as number) + acc;
    }
}

/** G = pred − Y[rows] (in place in `pred`, which it returns). */
function batchResidual(pred: Float64Array, rows: Int32Array, y: Float64Array, c: number): Float64Array {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as number;
    for (let j = 0; j < c; j++) pred[i * c + j] = (pred[i * c + j] as number) - (y[r * c + j] as number);
  }
  return pred;
}

/** t = Φᵀ·G (q1 × c) for a batch of m rows. */
function phiTransposeTimes(phi: Float64Array, g: Float64Array, m: number, q1: number, c: number): Float64Array {
  const t = new Float64Array(q1 * c);
  for (let i = 0; i < m; i++)
    for (let k = 0; k < q1; k++) {
      const pk = phi[i * q1 + k] as number;
      for (let j = 0; j < c; j++) t[k * c + j] = (t[k * c + j] as number) + pk * (g[i * c + j] as number);
    }
  return t;
}

/** h = K(Z, X_rows)·G − F·t (p × c): a projection's right-hand side. */
async function projectionRhs(
  compute: EigenPro3Compute,
  f: Float64Array,
  rows: Int32Array,
  g: Float64Array,
  t: Float64Array,
  shape: { p: number; q1: number; c: number },
  id: string,
): Promise<Float64Array> {
  const { p, q1, c } = shape;
  const h = await compute.centersMatmul(rows, g, c, id);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < c; j++) {
      let acc = 0;
      for (let k = 0; k < q1; k++) acc += (f[i * q1 + k] as number) * (t[k * c + j] as number);
      h[i * c + j] = (h[i * c + j] as number) - acc;
    }
  return h;
}

/** Runs EigenPro 3 (or 4, delayed) for `params.epochs` epochs, or resumes a checkpoint. */
export async function trainEigenPro3(o: Train3Options): Promise<Train3Result> {
  const { compute, params, shape, targets, plan } = o;
  const now = o.now ?? Date.now;
  const { n, p, c } = shape;
  if (targets.y.length !== n * c) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `targets must be ${n}×${c}`, { field: 'trainLabels' });
  const t0 = now();
  const start = await startOrResume(o);
  const { setup, a, before, history } = start;
  let { epoch, batch } = start;
  const q1 = setup.q - 1;
  await compute.preconditioner(setup.subsample, setup.e, q1);
  const f = await setupF(compute, setup, p, q1);
  const m = setup.batch;
  const interval = plan.projection === 'delayed' ? (params.projectionInterval ?? Math.max(1, Math.round(p / m))) : 1;
  const { solve, summary } = await projectionSolver(o, interval);
  await o.onSetup?.(setup, summary, o.resume !== undefined);
  const gam = setup.gamma;
  const perEpoch = Math.ceil(n / m);
  const elapsed = (): number => before + (now() - t0);
  const evalRows = params.trainEvalRows > 0 ? subsampleRows(n, Math.min(n, params.trainEvalRows), params.seed + 1) : new Int32Array(0);
  const pending = new PendingCenters(q1, c, gam);
  /** a ← a − γ·θ with K(Z, Z)·θ = h. */
  const project = async (h: Float64Array, id: string): Promise<void> => {
    const theta = await solve(h, id);
    for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) - gam * (theta[i] as number);
  };
  for (; epoch < params.epochs; epoch++, batch = 0) {
    const order = epochOrder(n, params.seed, epoch);
    for (; batch < perEpoch; batch++) {
      const rows = order.slice(batch * m, Math.min(n, (batch + 1) * m));
      const tag = { epoch, batch };
      const id = tagId(tag);
      const { pred, phi } = await compute.batch(rows, a, tag);
      if (pending.aux.length > 0) addPending(pred, phi, await compute.auxPredict(rows, pending.aux, `${id}aux`), rows.length, setup, pending.tSum, q1, c);
      const g = batchResidual(pred, rows, targets.y, c);
      const t = phiTransposeTimes(phi, g, rows.length, q1, c);
      if (interval === 1) {
        await project(await projectionRhs(compute, f, rows, g, t, { p, q1, c }, `${id}h`), `${id}p`);
      } else {
        pending.add(rows, g, t);
        if (pending.aux.length >= interval || batch === perEpoch - 1) {
          const all = pending.concat();
          await project(await projectionRhs(compute, f, all.rows, all.g, pending.tSum, { p, q1, c }, `${id}h`), `${id}p`);
          pending.clear();
        }
      }
      if (o.onBatch !== undefined) {
        const e = epoch,
          b = batch + 1,
          hs = history,
          el = elapsed();
        await o.onBatch(
          () => ({ epoch: e, batch: b, a: Float64Array.from(a), setup, history: [...hs], elapsedMs: el, seed: params.seed }),
          tag,
          perEpoch,
          pending.aux.length === 0,
        );
      }
    }
    const te = now();
    const metrics = await evaluateEpoch(compute, a, { epoch, batch: perEpoch }, targets, evalRows, c, params.task === 'classification', shape.nTest > 0);
    const em: EpochMetrics = { ...metrics, epoch: epoch + 1, elapsedMs: elapsed(), batches: perEpoch, evalMs: now() - te };
    history.push(em);
    await o.onEpoch?.(em);
  }
  return { a, setup, projection: summary, history, ...(o.resume !== undefined ? { resumedFrom: { epoch: o.resume.epoch, batch: o.resume.batch } } : {}) };
}

/** Data of {@link createReferenceCompute3}. */
export interface ReferenceCompute3Data {
  readonly kernel: KernelFunction;
  readonly bandwidth: number;
  readonly d: number;
  /** Training rows n × d. */
  readonly x: ArrayLike<number>;
  /** Centers p × d. */
  readonly z: ArrayLike<number>;
  readonly xTest?: ArrayLike<number>;
  readonly c: number;
}

function gatherRows(x: ArrayLike<number>, rows: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) for (let k = 0; k < d; k++) out[i * d + k] = x[(rows[i] as number) * d + k] as number;
  return out;
}

function identity(n: number): Float64Array {
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  return eye;
}

/** The float64 reference {@link EigenPro3Compute} over in-memory data (the oracle of the tests). */
export function createReferenceCompute3(data: ReferenceCompute3Data): EigenPro3Compute {
  const { kernel, bandwidth: sg, d, x, z, c } = data;
  const p = z.length / d;
  const km = (
    a: ArrayLike<number>,
    rows: ArrayLike<number> | null,
    na: number,
    b: ArrayLike<number>,
    nb: number,
    coef: ArrayLike<number>,
    cols: number,
  ): Float64Array => kernelMatmulReference(kernel, sg, d, a, rows, na, b, nb, coef, cols);
  let xs: Float64Array = new Float64Array(0);
  let e: Float64Array = new Float64Array(0);
  let q1 = 0;
  let zs: Float64Array = new Float64Array(0);
  let ez: Float64Array = new Float64Array(0);
  let qz = 0;
  return {
    subsampleKernel(rows) {
      const xsub = gatherRows(x, rows, d);
      return Promise.resolve(km(xsub, null, rows.length, xsub, rows.length, identity(rows.length), rows.length));
    },
    topEigenpairs(a, s, r) {
      return Promise.resolve(eighTopkReference(s, r, a));
    },
    preconditioner(rows, basis, q) {
      xs = gatherRows(x, rows, d);
      e = basis;
      q1 = q;
      return Promise.resolve();
    },
    batch(rows, a) {
      return Promise.resolve({ pred: km(x, rows, rows.length, z, p, a, c), phi: km(x, rows, rows.length, xs, xs.length / d, e, q1) });
    },
    predict(set, a, _tag, rows) {
      if (set === 'test') {
        const xt = data.xTest ?? new Float64Array(0);
        return Promise.resolve(km(xt, null, xt.length / d, z, p, a, c));
      }
      const r = rows ?? Int32Array.from({ length: x.length / d }, (_, i) => i);
      return Promise.resolve(km(x, r, r.length, z, p, a, c));
    },
    centersMatmul(rows, coef, cols) {
      return Promise.resolve(km(z, null, p, gatherRows(x, rows, d), rows.length, coef, cols));
    },
    auxPredict(rows, aux) {
      const out = new Float64Array(rows.length * c);
      for (const part of aux) {
        const v = km(x, rows, rows.length, gatherRows(x, part.rows, d), part.rows.length, part.coef, c);
        for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (v[i] as number);
      }
      return Promise.resolve(out);
    },
    centersFactor(jitter) {
      const k = km(z, null, p, z, p, identity(p), p);
      for (let i = 0; i < p; i++) k[i * p + i] = (k[i * p + i] as number) + jitter;
      return Promise.resolve(choleskyReference(p, k, 'centers'));
    },
    centersSubsampleKernel(zRows) {
      const zsub = gatherRows(z, zRows, d);
      return Promise.resolve(km(zsub, null, zRows.length, zsub, zRows.length, identity(zRows.length), zRows.length));
    },
    centersPreconditioner(zRows, basis, q) {
      zs = gatherRows(z, zRows, d);
      ez = basis;
      qz = q;
      return Promise.resolve();
    },
    centersBatch(zRows, theta) {
      return Promise.resolve({ pred: km(z, zRows, zRows.length, z, p, theta, c), phi: km(z, zRows, zRows.length, zs, zs.length / d, ez, qz) });
    },
  };
}
