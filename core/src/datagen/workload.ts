/**
 * Krylov-recycled PDE data generation as a workload: its definition in the registry
 * (core/src/registry.ts). The job contract is `./params.ts` and `./paging.ts`; the workflow
 * `workflows/src/datagen.ts`; the orchestrator side `orchestrator/src/datagen/`.
 */
import { invalidField } from '../errors';
import { str } from '../validate';
import { checkParamNames, withFieldPrefix, type WorkloadDef } from '../workload';
import { DATAGEN_SOLVERS, compileDatagenParams, type DatagenParams } from './params';
import { checkDatagenBounds } from './paging';
import { PDE_KINDS } from './pde';
import { PRECONDITIONERS } from './precond';
import { SORT_KINDS } from './sort';

/** Parameters of a datagen run in a campaign: the datagen job parameters, its worker class and where to write its dataset. */
export interface DatagenRunParams extends DatagenParams {
  /** Worker class. @default 'wasm' */
  readonly backend?: 'wasm' | 'gpu';
  /** Directory under which the run's dataset is written (`<out>/<child id>/`, `.npy` shards + manifest). @default none: the row keeps the page references only */
  readonly out?: string;
}

/** The `datagen` workload. */
export const DATAGEN_WORKLOAD: WorkloadDef<'datagen'> = {
  kind: 'datagen',
  title: 'PDE datasets solved by Krylov-recycled chains (GCRO-DR) over the workers',
  workflowType: 'datagenWorkflow',
  progressQuery: 'datagenProgress',
  activities: ['runShardBatch', 'cancelJobShards', 'putDatagenPage', 'releaseDatagenPages'],
  params: {
    pde: { type: 'string', required: true, enum: PDE_KINDS, description: 'the PDE family' },
    grid: { type: 'integer', required: true, description: 'interior points per side, 3..2048 (2-D), 3..160 (-3d families)' },
    count: { type: 'integer', required: true, description: 'number of PDE instances' },
    seed: { type: 'integer', description: 'seed of the instances (default 0)' },
    fieldAlpha: { type: 'number', description: 'random field covariance exponent α (default 2)' },
    fieldTau: { type: 'number', description: 'random field covariance τ (default 3)' },
    wavenumber: { type: 'array', description: 'Helmholtz k₀ range [lo, hi] (default [5, 15] in 2-D, [4, 8] in 3-D)' },
    velocity: { type: 'array', description: 'advection speed range [lo, hi] (default [0, 20])' },
    rtol: { type: 'number', description: 'relative residual to stop at, in (0, 1) (default 1e-8)' },
    solver: { type: 'string', enum: DATAGEN_SOLVERS, description: 'Krylov solver (default gcrodr)' },
    restart: { type: 'integer', description: 'restart length m (default 40)' },
    recycle: { type: 'integer', description: 'recycled dimension k < m (default 20)' },
    recycleEvery: { type: 'integer', description: 'update the recycled space after cycles 1, 1+e, 1+2e, … of each system only (default 1: every cycle)' },
    precond: { type: 'string', enum: PRECONDITIONERS, description: 'preconditioner (default none)' },
    sort: { type: 'string', enum: SORT_KINDS, description: 'order of the chain (default greedy up to 2000 instances)' },
    chunkSize: { type: 'integer', description: 'systems per chunk, solved in order' },
    maxMatvecs: { type: 'integer', description: 'per-system mat-vec budget' },
    window: { type: 'integer', description: 'chunks solved at once (default 8)' },
    backend: { type: 'string', enum: ['wasm', 'gpu'], description: 'worker class (default wasm)' },
    out: { type: 'string', only: 'campaign', file: 'write', description: 'directory the run writes its dataset under (<out>/<child id>/)' },
    jobId: { type: 'string', only: 'sdk', description: 'job id (default derived from parameters and chunking: a rerun resumes)' },
    timeoutMs: { type: 'integer', only: 'sdk', description: 'whole-job time limit, ms (default 24 h)' },
  },
  compileRun(params, where) {
    checkParamNames(DATAGEN_WORKLOAD, params, 'campaign', where);
    if (params['backend'] !== undefined && params['backend'] !== 'wasm' && params['backend'] !== 'gpu')
      throw invalidField(`${where}.backend`, 'wasm|gpu', params['backend']);
    if (params['out'] !== undefined) str(`${where}.out`, params['out']);
    withFieldPrefix(where, () => checkDatagenBounds(compileDatagenParams(params as unknown as DatagenParams)));
  },
};
