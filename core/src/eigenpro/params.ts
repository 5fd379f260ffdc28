/**
 * EigenPro job parameters: what a user gives ({@link EigenProParams}), the validated form
 * ({@link CompiledEigenProParams}), the data checks that run before anything is scheduled
 * ({@link checkEigenProData}) and the memory plan that refuses a job that cannot fit
 * ({@link planEigenProMemory}). Every error names the field and the bound it broke.
 */
import { GramfleetError } from '../errors';
import { int, num, oneOf } from '../validate';
import { KERNEL_FUNCTIONS, type KernelFunction } from '../ops/kernel-block';

/** Kernel names accepted by EigenPro (`matern` means Matérn ν = 1/2, the Laplacian). */
export const EIGENPRO_KERNELS = ['laplacian', 'gaussian', 'matern', 'matern12', 'matern32', 'matern52', 'cauchy'] as const;
/** Projection of EigenPro 3 onto the span of the centers. */
export const EIGENPRO_PROJECTIONS = ['exact', 'eigenpro', 'delayed'] as const;
/** Learning task: regression on real targets or classification with one-hot targets. */
export const EIGENPRO_TASKS = ['classification', 'regression'] as const;

/** The numerical parameters of an EigenPro job, as a user gives them. */
export interface EigenProParams {
  /** Kernel function. */
  readonly kernel: (typeof EIGENPRO_KERNELS)[number];
  /** Bandwidth σ > 0. */
  readonly bandwidth: number;
  /** Passes over the training data. @default 3 */
  readonly epochs?: number;
  /** Batch size m; chosen from the spectrum when absent. */
  readonly batchSize?: number;
  /** Step size η (per batch); chosen from the spectrum when absent. */
  readonly stepSize?: number;
  /** Preconditioner level q; chosen from the spectrum when absent. */
  readonly q?: number;
  /** Nyström subsample size s. @default min(n, 2000) for n < 1e5, else 12 000 */
  readonly subsampleSize?: number;
  /** Eigenpairs computed of the subsample kernel (q ≤ r − 1). @default min(s − 1, 160) */
  readonly eigenpairs?: number;
  /** Preconditioner exponent α ∈ (0, 1]. @default 0.95 */
  readonly alpha?: number;
  /** Largest batch the workers handle at once (m_G). @default 2048 */
  readonly maxBatch?: number;
  /** Seed of the subsample and the batch order. @default 0 */
  readonly seed?: number;
  /** Model shards (centers split over this many tasks per batch). @default 1 */
  readonly shards?: number;
  /** Checkpoint every N batches. @default 10 */
  readonly checkpointEvery?: number;
  /** Evaluate train metrics on at most this many training rows. @default 2000 */
  readonly trainEvalRows?: number;
  /** @default 'classification' */
  readonly task?: (typeof EIGENPRO_TASKS)[number];
  /**
   * EigenPro 3 projection when centers differ from the training points: `exact` (Cholesky of
   * K(Z, Z) every batch), `eigenpro` (EigenPro 2 iterations on the centers, inexact) or
   * `delayed` (EigenPro 4: project every `projectionInterval` batches).
   * @default 'exact' when the Cholesky of K(Z, Z) fits the memory plan, else 'eigenpro'
   */
  readonly projection?: (typeof EIGENPRO_PROJECTIONS)[number];
  /** Feature dtype on the workers (f32 halves traffic and cache; distances stay f64 unless `accumulate` is `f32`). @default 'f32' when accumulate is 'f32', else 'f64' */
  readonly featureDtype?: 'f64' | 'f32';
  /**
   * Accumulation of the training and scoring kernel products on the workers: `f64`, or `f32`
   * (f32 features; x·z and the kernel evaluated in f32 — twice the wasm arithmetic rate, at
   * ~1e-6 relative error in K; see the `accumulate` attr of `kernel-block-matmul`). The
   * setup's subsample kernel and eigensolve stay f64 either way. @default 'f64'
   */
  readonly accumulate?: 'f64' | 'f32';
  /** EigenPro 3: train on this many centers sampled (seeded, without replacement) from the training rows. */
  readonly centers?: number;
  /** EigenPro 4 (`delayed`): batches between projections T. @default max(1, round(p / m)) */
  readonly projectionInterval?: number;
  /** `eigenpro` projection (and `delayed` when it cannot factor): EigenPro 2 passes over the centers per projection. @default 2 */
  readonly projectionEpochs?: number;
}

/** Validated EigenPro parameters. */
export interface CompiledEigenProParams {
  readonly kernel: KernelFunction;
  readonly bandwidth: number;
  readonly epochs: number;
  readonly batchSize: number | undefined;
  readonly stepSize: number | undefined;
  readonly q: number | undefined;
  readonly subsampleSize: number | undefined;
  readonly eigenpairs: number | undefined;
  readonly alpha: number;
  readonly maxBatch: number;
  readonly seed: number;
  readonly shards: number;
  readonly checkpointEvery: number;
  readonly trainEvalRows: number;
  readonly task: (typeof EIGENPRO_TASKS)[number];
  /** The projection asked for; undefined = picked by the memory plan (see {@link EigenProParams.projection}). */
  readonly projection: (typeof EIGENPRO_PROJECTIONS)[number] | undefined;
  readonly featureDtype: 'f64' | 'f32';
  readonly accumulate: 'f64' | 'f32';
  readonly centers: number | undefined;
  readonly projectionInterval: number | undefined;
  readonly projectionEpochs: number;
}

/** Validates parameters; throws a typed error naming the field and its bound. */
export function compileEigenProParams(p: EigenProParams): CompiledEigenProParams {
  const k = oneOf('kernel', p.kernel, EIGENPRO_KERNELS);
  const kernel: KernelFunction = k === 'matern' ? 'matern12' : k;
  if (!(KERNEL_FUNCTIONS as readonly string[]).includes(kernel)) throw new GramfleetError('INPUT_INVALID', `kernel ${k} is not supported`, { field: 'kernel' });
  const opt = <T>(v: T | undefined, f: (v: T) => number): number | undefined => (v === undefined ? undefined : f(v));
  const opt2 = <T, U>(v: T | undefined, f: (v: T) => U): U | undefined => (v === undefined ? undefined : f(v));
  const accumulate = oneOf('accumulate', p.accumulate ?? 'f64', ['f64', 'f32'] as const);
  const featureDtype = oneOf('featureDtype', p.featureDtype ?? (accumulate === 'f32' ? 'f32' : 'f64'), ['f64', 'f32'] as const);
  if (accumulate === 'f32' && featureDtype !== 'f32')
    throw new GramfleetError('INPUT_INVALID', "accumulate 'f32' needs featureDtype 'f32' (got 'f64')", { field: 'accumulate', featureDtype });
  return Object.freeze({
    kernel,
    bandwidth: num('bandwidth', p.bandwidth, { min: 0, minExclusive: true }),
    epochs: int('epochs', p.epochs ?? 3, 1, 100_000),
    batchSize: opt(p.batchSize, (v) => int('batchSize', v, 1, 1 << 20)),
    stepSize: opt(p.stepSize, (v) => num('stepSize', v, { min: 0, minExclusive: true })),
    q: opt(p.q, (v) => int('q', v, 1, 100_000)),
    subsampleSize: opt(p.subsampleSize, (v) => int('subsampleSize', v, 2, 50_000)),
    eigenpairs: opt(p.eigenpairs, (v) => int('eigenpairs', v, 2, 1000)),
    alpha: num('alpha', p.alpha ?? 0.95, { min: 0, max: 1, minExclusive: true }),
    maxBatch: int('maxBatch', p.maxBatch ?? 2048, 1, 1 << 20),
    seed: int('seed', p.seed ?? 0, 0, Number.MAX_SAFE_INTEGER),
    shards: int('shards', p.shards ?? 1, 1, 1024),
    checkpointEvery: int('checkpointEvery', p.checkpointEvery ?? 10, 1, 1 << 30),
    trainEvalRows: int('trainEvalRows', p.trainEvalRows ?? 2000, 0, 1 << 30),
    task: oneOf('task', p.task ?? 'classification', EIGENPRO_TASKS),
    projection: opt2(p.projection, (v) => oneOf('projection', v, EIGENPRO_PROJECTIONS)),
    featureDtype,
    accumulate,
    centers: opt(p.centers, (v) => int('centers', v, 1, 1 << 30)),
    projectionInterval: opt(p.projectionInterval, (v) => int('projectionInterval', v, 1, 1 << 30)),
    projectionEpochs: int('projectionEpochs', p.projectionEpochs ?? 2, 1, 1000),
  });
}

/** Shape-only description of the data of a job (arrays are checked by {@link checkEigenProData}). */
export interface EigenProDataShape {
  readonly n: number;
  readonly d: number;
  /** Columns of the targets (classes for classification). */
  readonly c: number;
  /** Centers: n when the centers are the training points. */
  readonly p: number;
  readonly nTest: number;
}

/** A dense row-major matrix handed to the checks. */
export interface DenseRows {
  readonly rows: number;
  readonly cols: number;
  readonly data: ArrayLike<number>;
}

/** Arrays of an EigenPro job, as loaded (labels are class ids or a target matrix). */
export interface EigenProData {
  readonly x: DenseRows;
  /** Class ids (classification) or targets with `cols` outputs (regression). */
  readonly y: DenseRows;
  readonly xTest?: DenseRows;
  readonly yTest?: DenseRows;
  readonly centers?: DenseRows;
}

function requireFiniteRows(field: string, a: DenseRows): void {
  const { data } = a;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!Number.isFinite(v)) {
      const row = Math.floor(i / Math.max(1, a.cols));
      throw new GramfleetError('INPUT_NOT_FINITE', `${field} holds ${String(v)} at row ${row}, column ${i - row * a.cols}; features must be finite`, {
        field,
        row,
        column: i - row * a.cols,
      });
    }
  }
}

function requireLabels(field: string, y: DenseRows, rows: number, rowsField: string, task: CompiledEigenProParams['task']): void {
  if (y.rows !== rows)
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${field} has ${y.rows} rows, ${rowsField} has ${rows}; they must be equal`, {
      field,
      expected: rows,
      got: y.rows,
    });
  requireFiniteRows(field, y);
  if (task === 'classification') {
    if (y.cols !== 1)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `${field} must be one class id per row for classification, got ${y.cols} columns`, { field });
    for (let i = 0; i < y.data.length; i++) {
      const v = y.data[i] as number;
      if (!Number.isInteger(v) || v < 0 || v > 65535)
        throw new GramfleetError('INPUT_OUT_OF_RANGE', `${field}[${i}] must be a class id in [0, 65535], got ${v}`, { field, index: i, value: v });
    }
  }
}

/**
 * Checks the arrays before anything is scheduled: label count equals row count, features
 * finite, centers and test rows with the training dimension. Returns the shape summary.
 */
export function checkEigenProData(data: EigenProData, params: CompiledEigenProParams): EigenProDataShape {
  const { x, y } = data;
  if (x.rows < 2 || x.cols < 1)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `train must have at least 2 rows and 1 column, got ${x.rows}×${x.cols}`, { field: 'train' });
  requireFiniteRows('train', x);
  requireLabels('trainLabels', y, x.rows, 'train', params.task);
  let c = y.cols;
  if (params.task === 'classification') {
    let mx = 0;
    for (let i = 0; i < y.data.length; i++) mx = Math.max(mx, y.data[i] as number);
    if (data.yTest !== undefined) for (let i = 0; i < data.yTest.data.length; i++) mx = Math.max(mx, data.yTest.data[i] as number);
    c = mx + 1;
    if (c < 2) throw new GramfleetError('INPUT_OUT_OF_RANGE', 'trainLabels must hold at least 2 classes (ids 0 and 1)', { field: 'trainLabels' });
  }
  let nTest = 0;
  if (data.xTest !== undefined) {
    const t = data.xTest;
    if (t.cols !== x.cols)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `test has ${t.cols} columns (d), train has ${x.cols}; they must be equal`, {
        field: 'test',
        expected: x.cols,
        got: t.cols,
      });
    requireFiniteRows('test', t);
    if (data.yTest === undefined) throw new GramfleetError('INPUT_INVALID', 'testLabels are required with test', { field: 'testLabels' });
    requireLabels('testLabels', data.yTest, t.rows, 'test', params.task);
    if (params.task === 'regression' && data.yTest.cols !== y.cols)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `testLabels has ${data.yTest.cols} columns, trainLabels has ${y.cols}`, { field: 'testLabels' });
    nTest = t.rows;
  } else if (data.yTest !== undefined) {
    throw new GramfleetError('INPUT_INVALID', 'testLabels were given without test', { field: 'test' });
  }
  let p = x.rows;
  if (data.centers !== undefined) {
    const z = data.centers;
    if (z.cols !== x.cols)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `centers have ${z.cols} columns (d), train has ${x.cols}; they must be equal`, {
        field: 'centers',
        expected: x.cols,
        got: z.cols,
      });
    if (z.rows < 1) throw new GramfleetError('INPUT_OUT_OF_RANGE', 'centers must have at least 1 row', { field: 'centers' });
    requireFiniteRows('centers', z);
    p = z.rows;
  }
  if (params.shards > p)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `shards must be <= the number of centers (${p}), got ${params.shards}`, { field: 'shards', bound: p });
  return { n: x.rows, d: x.cols, c, p, nTest };
}

/** Subsample size for n rows: s = min(n, 2000) below 10^5 rows, else 12 000 (docs/workloads.md §2). */
export function defaultSubsampleSize(n: number): number {
  return n < 100_000 ? Math.min(n, 2000) : Math.min(n, 12_000);
}

/** The memory plan of a job (bytes), as checked against the budget. */
export interface EigenProMemoryPlan {
  /** Orchestrator: coefficients, targets, eigensystem, subsample kernel, batch buffers. */
  readonly orchestratorBytes: number;
  /** One worker: its centers shard, a batch, the per-batch kernel panel and cache of X. */
  readonly workerBytes: number;
  readonly budgetBytes: number;
  readonly batch: number;
}

/**
 * Plans memory for (n, d, p, batch, shards) and refuses a job that cannot fit with
 * `INPUT_TOO_LARGE`, saying which smaller batch or how many shards would fit.
 */
export function planEigenProMemory(shape: EigenProDataShape, params: CompiledEigenProParams, budgetBytes: number): EigenProMemoryPlan {
  const { n, d, c, p, nTest } = shape;
  const fb = params.featureDtype === 'f32' ? 4 : 8;
  const s = params.subsampleSize ?? defaultSubsampleSize(n);
  const r = params.eigenpairs ?? Math.min(s - 1, 160);
  const batch = params.batchSize ?? params.maxBatch;
  const orch = (m: number): number => 8 * (p * c * 2 + n * c + s * s + s * r * 2 + m * (d + c + r) + nTest * c) + fb * (n + nTest + (p === n ? 0 : p)) * d;
  // A worker holds (cached) the shards it was sent, a copy of one shard in its kernel thread
  // and in the wasm arena, and a batch of rows; with dynamic assignment any worker may see every shard.
  const worker = (m: number, sh: number): number =>
    fb * (p * d + 2 * Math.ceil(p / sh) * d + 3 * m * d) + 8 * (3 * Math.ceil(p / sh) * c + 3 * m * c + 3 * m * r);
  const need = Math.max(orch(batch), worker(batch, params.shards));
  if (need > budgetBytes) {
    let fitBatch = 0;
    for (let m = batch; m >= 1; m = Math.floor(m / 2))
      if (Math.max(orch(m), worker(m, params.shards)) <= budgetBytes) {
        fitBatch = m;
        break;
      }
    let fitShards = 0;
    for (let sh = params.shards; sh <= Math.min(1024, p); sh *= 2)
      if (Math.max(orch(batch), worker(batch, sh)) <= budgetBytes) {
        fitShards = sh;
        break;
      }
    const maxN = Math.floor(budgetBytes / Math.max(1, need / n));
    const hint = [fitBatch > 0 ? `batchSize ${fitBatch}` : '', fitShards > 0 ? `shards ${fitShards}` : '', `about ${maxN} training rows at this d=${d}`]
      .filter((x) => x !== '')
      .join(', or ');
    throw new GramfleetError(
      'INPUT_TOO_LARGE',
      `EigenPro job (n=${n}, d=${d}, p=${p}, c=${c}, batch=${batch}, shards=${params.shards}) needs about ${need} bytes, above the memory budget of ${budgetBytes} bytes; would fit: ${hint}`,
      {
        field: 'train',
        needBytes: need,
        budgetBytes,
        ...(fitBatch > 0 ? { fitBatch } : {}),
        ...(fitShards > 0 ? { fitShards } : {}),
        fitRows: maxN,
      },
    );
  }
  return { orchestratorBytes: orch(batch), workerBytes: worker(batch, params.shards), budgetBytes, batch };
}
