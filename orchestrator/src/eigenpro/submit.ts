/**
 * SDK side of EigenPro jobs: the spec a user submits ({@link EigenProJobSpec}) and its
 * validation and upload before any work is scheduled ({@link prepareEigenPro}).
 */
import { randomBytes } from 'node:crypto';
import {
  GramfleetError,
  checkEigenProCenters,
  checkEigenProData,
  checkJobId,
  compileEigenProParams,
  featureBytes,
  num,
  planEigenPro3,
  planEigenProMemory,
  sampleCenterRows,
  type CompiledEigenProParams,
  type DenseRows,
  type EigenProJobInput,
  type EigenProJobResult,
  type EigenProParams,
  type EigenProProgressEvent,
  type JobProgress,
  type FeatureBytes,
  type NdArray,
  type WorkerClass,
} from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';
import { loadRows } from './data-files';

/** An EigenPro job as submitted through the SDK. Arrays are file paths (IDX, `.npy`, CSV) or rows in memory. */
export interface EigenProJobSpec extends EigenProParams {
  readonly kind: 'eigenpro';
  /** Training features n × d. */
  readonly train: string | DenseRows;
  /** Class ids (n × 1) or one-hot rows (n × c) for classification; targets n × c for regression. */
  readonly trainLabels: string | DenseRows;
  readonly test?: string | DenseRows;
  readonly testLabels?: string | DenseRows;
  /** @default 'wasm' */
  readonly backend?: WorkerClass;
  /** Letters, digits, `-`, `_`. @default random */
  readonly jobId?: string;
  /** Whole-job time limit, ms. @default 24 h */
  readonly timeoutMs?: number;
  /** Heartbeat timeout of the training activity, ms. @default 15000 */
  readonly heartbeatTimeoutMs?: number;
  /** EigenPro 3: the centers Z (p × d), a file path (IDX, `.npy`, CSV) or rows in memory; or give `centers: p` to sample them. */
  readonly centersFile?: string | DenseRows;
}

async function rowsOf(field: string, v: string | DenseRows): Promise<DenseRows> {
  if (typeof v === 'string') return loadRows(v);
  if (typeof v !== 'object' || v === null || typeof v.rows !== 'number' || typeof v.cols !== 'number' || v.data.length !== v.rows * v.cols) {
    throw new GramfleetError('INPUT_INVALID', `${field} must be a file path or { rows, cols, data } with rows·cols values`, { field });
  }
  return v;
}

/** One-hot rows (n × c, c > 1) become class ids; class-id columns stay. */
function classIds(field: string, y: DenseRows): DenseRows {
  if (y.cols === 1) return y;
  const out = new Float64Array(y.rows);
  for (let i = 0; i < y.rows; i++) {
    let best = 0;
    for (let j = 1; j < y.cols; j++) if ((y.data[i * y.cols + j] as number) > (y.data[i * y.cols + best] as number)) best = j;
    out[i] = best;
  }
  void field;
  return { rows: y.rows, cols: 1, data: out };
}

/**
 * EigenPro 3 centers of a spec: `centersFile` as given, or `centers: p` training rows sampled
 * without replacement from (seed); undefined for EigenPro 2. Throws before anything is scheduled.
 */
async function centersOf(spec: EigenProJobSpec, params: CompiledEigenProParams, x: DenseRows): Promise<DenseRows | undefined> {
  if (!checkEigenProCenters(params, spec.centersFile !== undefined)) return undefined;
  if (spec.centersFile !== undefined) return rowsOf('centersFile', spec.centersFile);
  const rows = sampleCenterRows(x.rows, params.centers as number, params.seed);
  const d = x.cols;
  const data = new Float64Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) for (let k = 0; k < d; k++) data[i * d + k] = x.data[(rows[i] as number) * d + k] as number;
  return { rows: rows.length, cols: d, data };
}

/** Validates a spec, plans memory and uploads the arrays; nothing is scheduled when this throws. */
export async function prepareEigenPro(spec: EigenProJobSpec, store: ArrayStore, budgetBytes: number, workers: number): Promise<EigenProJobInput> {
  const params0 = compileEigenProParams(spec);
  const jobId = checkJobId(spec.jobId ?? `eigenpro-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
  const timeoutMs = num('timeoutMs', spec.timeoutMs ?? 24 * 3600_000, { min: 1000 });
  const heartbeatTimeoutMs = num('heartbeatTimeoutMs', spec.heartbeatTimeoutMs ?? 15_000, { min: 1000 });
  if (spec.trainLabels === undefined) throw new GramfleetError('INPUT_INVALID', 'trainLabels are required', { field: 'trainLabels' });
  const x = await rowsOf('train', spec.train);
  let y = await rowsOf('trainLabels', spec.trainLabels);
  const xTest = spec.test === undefined ? undefined : await rowsOf('test', spec.test);
  let yTest = spec.testLabels === undefined ? undefined : await rowsOf('testLabels', spec.testLabels);
  if (params0.task === 'classification') {
    y = classIds('trainLabels', y);
    if (yTest !== undefined) yTest = classIds('testLabels', yTest);
  }
  const centers = await centersOf(spec, params0, x);
  // Model shards: one per registered worker unless given.
  const params = spec.shards === undefined ? compileEigenProParams({ ...spec, shards: Math.max(1, Math.min(workers, centers?.rows ?? x.rows)) }) : params0;
  const shape = checkEigenProData(
    { x, y, ...(xTest !== undefined ? { xTest } : {}), ...(yTest !== undefined ? { yTest } : {}), ...(centers !== undefined ? { centers } : {}) },
    params,
  );
  planEigenProMemory(shape, params, budgetBytes);
  const projection = centers !== undefined ? planEigenPro3(shape, params, budgetBytes) : undefined;
  const f64 = (r: DenseRows): Float64Array => (r.data instanceof Float64Array ? r.data : Float64Array.from(r.data));
  // Image features (pixel bytes / 255, or bytes) travel as their bytes: an eighth of f64.
  const xBytes = featureBytes(x.data);
  const xTestBytes = xBytes !== undefined && xTest !== undefined ? featureBytes(xTest.data) : undefined;
  const packed = xBytes !== undefined && (xTest === undefined || xTestBytes?.scale === xBytes.scale);
  const features = (r: DenseRows, b: FeatureBytes | undefined): NdArray =>
    packed && b !== undefined ? { dtype: 'u8', shape: [r.rows, r.cols], data: b.bytes } : { dtype: 'f64', shape: [r.rows, r.cols], data: f64(r) };
  const xRef = await store.put(features(x, xBytes));
  const yRef =
    params.task === 'classification'
      ? await store.put({ dtype: 'i32', shape: [y.rows], data: Int32Array.from(y.data) })
      : await store.put({ dtype: 'f64', shape: [y.rows, y.cols], data: f64(y) });
  let testRefs = {};
  if (xTest !== undefined && yTest !== undefined) {
    testRefs = {
      xTest: await store.put(features(xTest, xTestBytes)),
      yTest:
        params.task === 'classification'
          ? await store.put({ dtype: 'i32', shape: [yTest.rows], data: Int32Array.from(yTest.data) })
          : await store.put({ dtype: 'f64', shape: [yTest.rows, yTest.cols], data: f64(yTest) }),
    };
  }
  const ep3 =
    centers !== undefined && projection !== undefined
      ? { centers: await store.put({ dtype: 'f64', shape: [centers.rows, centers.cols], data: f64(centers) }), projection }
      : {};
  return {
    jobId,
    params,
    shape,
    x: xRef,
    y: yRef,
    ...testRefs,
    ...(packed ? { featureScale: (xBytes as FeatureBytes).scale } : {}),
    cls: spec.backend ?? 'wasm',
    timeoutMs,
    heartbeatTimeoutMs,
    ...ep3,
  };
}

/** The types of the `eigenpro` workload. */
export interface EigenProTypes {
  readonly kind: 'eigenpro';
  readonly spec: EigenProJobSpec;
  readonly input: EigenProJobInput;
  readonly result: EigenProJobResult;
  readonly progress: JobProgress;
  readonly event: EigenProProgressEvent;
}
