/**
 * EigenPro 2 and 3/4 as a workload: its definition in the registry (core/src/registry.ts).
 * The job contract is `./job.ts`; the workflow `workflows/src/eigenpro.ts`; the orchestrator
 * side `orchestrator/src/eigenpro/`.
 */
import { GramfleetError, invalidField } from '../errors';
import { num } from '../validate';
import { checkParamNames, checkRequiredParams, withFieldPrefix, type WorkloadDef } from '../workload';
import { EIGENPRO_KERNELS, EIGENPRO_PROJECTIONS, EIGENPRO_TASKS, compileEigenProParams, type CompiledEigenProParams, type EigenProParams } from './params';

/** Fields of an EigenPro job that hold a matrix: a file path (IDX, `.npy`, CSV) or rows `{ rows, cols, data }`. */
export const EIGENPRO_DATA_FIELDS = ['train', 'trainLabels', 'test', 'testLabels', 'centersFile'] as const;

/**
 * The checks on the centers of an EigenPro 3/4 job that need no data: `centers` (a count to
 * sample) and `centersFile` exclude each other, a projection needs centers, and
 * `projectionInterval` applies to `delayed`. Returns whether the job is EigenPro 3/4.
 */
export function checkEigenProCenters(params: CompiledEigenProParams, hasCentersFile: boolean): boolean {
  if (hasCentersFile && params.centers !== undefined)
    throw new GramfleetError('INPUT_INVALID', 'give centers (a count to sample) or centersFile, not both', { field: 'centers' });
  if (!hasCentersFile && params.centers === undefined) {
    if (params.projection !== undefined || params.projectionInterval !== undefined)
      throw new GramfleetError('INPUT_INVALID', 'projection applies to EigenPro 3: give centers (a count) or centersFile', { field: 'projection' });
    return false;
  }
  if (params.projectionInterval !== undefined && params.projection !== 'delayed')
    throw new GramfleetError('INPUT_INVALID', `projectionInterval applies to projection delayed, got projection ${params.projection ?? '(default)'}`, {
      field: 'projectionInterval',
    });
  return true;
}

function checkDataField(field: string, v: unknown): void {
  if (v === undefined) return;
  if (typeof v === 'string' && v.length > 0) return;
  const r = v as { rows?: unknown; cols?: unknown; data?: ArrayLike<unknown> } | null;
  if (
    typeof r === 'object' &&
    r !== null &&
    typeof r.rows === 'number' &&
    typeof r.cols === 'number' &&
    r.data !== undefined &&
    typeof r.data.length === 'number' &&
    r.data.length === r.rows * r.cols
  )
    return;
  throw invalidField(
    field,
    'a file path (IDX, .npy, CSV) or { rows, cols, data } with rows·cols values',
    typeof v === 'object' ? JSON.stringify(v)?.slice(0, 80) : v,
  );
}

/** The `eigenpro` workload. */
export const EIGENPRO_WORKLOAD: WorkloadDef<'eigenpro'> = {
  kind: 'eigenpro',
  title: 'EigenPro 2 kernel regression / classification; EigenPro 3/4 on centers',
  workflowType: 'eigenProWorkflow',
  progressQuery: 'progress',
  activities: ['trainEigenPro'],
  params: {
    train: { type: 'any', required: true, file: 'read', description: 'training features n × d: a file (IDX, .npy, CSV) or { rows, cols, data }' },
    trainLabels: { type: 'any', required: true, file: 'read', description: 'class ids (n × 1) or one-hot rows for classification, targets for regression' },
    test: { type: 'any', file: 'read', description: 'test features, like train' },
    testLabels: { type: 'any', file: 'read', description: 'test labels, like trainLabels' },
    kernel: { type: 'string', required: true, enum: EIGENPRO_KERNELS, description: 'kernel function' },
    bandwidth: { type: 'number', required: true, description: 'bandwidth σ > 0' },
    epochs: { type: 'integer', description: 'passes over the training data (default 3)' },
    batchSize: { type: 'integer', description: 'batch size m (default from the spectrum)' },
    stepSize: { type: 'number', description: 'step size η (default from the spectrum)' },
    q: { type: 'integer', description: 'preconditioner level (default from the spectrum)' },
    subsampleSize: { type: 'integer', description: 'Nyström subsample size s' },
    eigenpairs: { type: 'integer', description: 'eigenpairs of the subsample kernel' },
    alpha: { type: 'number', description: 'preconditioner exponent in (0, 1] (default 0.95)' },
    maxBatch: { type: 'integer', description: 'largest batch the workers take at once (default 2048)' },
    seed: { type: 'integer', description: 'seed of the subsample and batch order (default 0)' },
    shards: { type: 'integer', description: 'model shards (default one per registered worker)' },
    checkpointEvery: { type: 'integer', description: 'checkpoint every N batches (default 10)' },
    trainEvalRows: { type: 'integer', description: 'training rows the train metrics use (default 2000)' },
    task: { type: 'string', enum: EIGENPRO_TASKS, description: 'classification (default) or regression' },
    projection: { type: 'string', enum: EIGENPRO_PROJECTIONS, description: 'EigenPro 3/4 projection onto the centers' },
    featureDtype: { type: 'string', enum: ['f64', 'f32'], description: 'feature dtype on the workers' },
    accumulate: { type: 'string', enum: ['f64', 'f32'], description: 'accumulation of the kernel products (default f64)' },
    centers: { type: 'integer', description: 'EigenPro 3: sample this many centers from the training rows' },
    centersFile: { type: 'any', file: 'read', description: 'EigenPro 3: the centers Z (p × d), a file or { rows, cols, data }' },
    projectionInterval: { type: 'integer', description: 'EigenPro 4 (delayed): batches between projections' },
    projectionEpochs: { type: 'integer', description: 'EigenPro 2 passes over the centers per projection (default 2)' },
    backend: { type: 'string', enum: ['wasm', 'gpu'], description: 'worker class (default wasm)' },
    heartbeatTimeoutMs: { type: 'integer', description: 'heartbeat timeout of the training activity, ms (default 15000)' },
    jobId: { type: 'string', only: 'sdk', description: 'job id (letters, digits, - and _)' },
    timeoutMs: { type: 'integer', only: 'sdk', description: 'whole-job time limit, ms (default 24 h)' },
  },
  compileRun(params, where) {
    checkParamNames(EIGENPRO_WORKLOAD, params, 'campaign', where);
    checkRequiredParams(EIGENPRO_WORKLOAD, params, where);
    for (const f of EIGENPRO_DATA_FIELDS) checkDataField(`${where}.${f}`, params[f]);
    if (params['backend'] !== undefined && params['backend'] !== 'wasm' && params['backend'] !== 'gpu')
      throw invalidField(`${where}.backend`, 'wasm|gpu', params['backend']);
    withFieldPrefix(where, () => {
      if (params['heartbeatTimeoutMs'] !== undefined) num('heartbeatTimeoutMs', params['heartbeatTimeoutMs'], { min: 1000 });
      checkEigenProCenters(compileEigenProParams(params as unknown as EigenProParams), params['centersFile'] !== undefined);
    });
  },
};
