/**
 * Graph random features as a workload: its definition in the registry (core/src/registry.ts).
 * The job contract is `./job.ts`; the workflow `workflows/src/grf.ts`; the orchestrator side
 * `orchestrator/src/grf/`.
 */
import { invalidField } from '../errors';
import { str } from '../validate';
import { checkParamNames, withFieldPrefix, type WorkloadDef } from '../workload';
import { VERIFY_PARAM } from '../results';
import { GRAPH_KERNEL_KINDS } from './kernels';
import { GRF_ESTIMATORS, GRF_VARIANCE, compileGrfParams, type GrfParams } from './job';

/** Parameters of a GRF run in a campaign: the GRF job parameters plus its graph file. */
export interface GrfRunParams extends GrfParams {
  /** Path of the graph file (`.npz`, `.adjlist`, `.mtx`) as seen by the orchestrator. */
  readonly graph: string;
  /** Label spreading on the features with this fraction of nodes labelled. */
  readonly labelSpreading?: { readonly trainFraction?: number; readonly seed?: number };
  /** @default 'wasm' */
  readonly backend?: 'wasm' | 'gpu';
  /** Also measure ‖K − Φ₁Φ₂ᵀ‖F/‖K‖F against the exact kernel (graphs up to 4096 nodes). @default false */
  readonly exactError?: boolean;
}

/** The `grf` workload. */
export const GRF_WORKLOAD: WorkloadDef<'grf'> = {
  kind: 'grf',
  title: 'graph random features: Φ with ΦΦᵀ ≈ a graph kernel, optional label spreading',
  workflowType: 'grfWorkflow',
  progressQuery: 'progress',
  activities: ['runGrfBatch', 'assembleGrfBatches', 'cancelJobShards'],
  params: {
    graph: {
      type: 'any',
      required: true,
      file: 'read',
      description: 'graph file (.npz scipy CSR, .adjlist, .mtx) as the orchestrator sees it; the SDK also takes an in-memory symmetric CSR',
    },
    kernel: { type: 'any', required: true, description: `kernel kind (${GRAPH_KERNEL_KINDS.join('|')}) or a full kernel spec object` },
    scale: { type: 'number', required: true, description: 'c in W = c·D^-1/2 A D^-1/2' },
    walks: { type: 'integer', required: true, description: 'walkers per node, >= 1' },
    pHalt: { type: 'number', required: true, description: 'halting probability in (0, 1)' },
    seed: { type: 'integer', description: 'random seed (default 0)' },
    variance: { type: 'string', enum: GRF_VARIANCE, description: 'variance reduction (default none)' },
    estimator: { type: 'string', enum: GRF_ESTIMATORS, description: 'same-walk (ΦΦᵀ) or independent (Φ₁Φ₂ᵀ)' },
    shardNodes: { type: 'integer', description: 'origins per shard (default chosen from n)' },
    batchShards: { type: 'integer', description: 'shards per Temporal activity (default: the shards over ~8 activities, at least 64 each)' },
    window: { type: 'integer', description: 'activities in flight at once (default 4)' },
    verify: VERIFY_PARAM,
    labelSpreading: { type: 'object', description: 'label spreading on the features: { trainFraction, seed }' },
    labels: { type: 'any', only: 'sdk', description: 'node labels (Int32Array); taken from the .npz when it has them' },
    backend: { type: 'string', enum: ['auto', 'wasm', 'gpu'], description: 'worker class (SDK default auto; a campaign run takes wasm|gpu, default wasm)' },
    exactError: { type: 'boolean', only: 'campaign', description: 'also measure the error against the exact kernel (graphs up to 4096 nodes)' },
    jobId: { type: 'string', only: 'sdk', description: 'job id (letters, digits, - and _)' },
    timeoutMs: { type: 'integer', only: 'sdk', description: 'whole-job time limit, ms (default 6 h)' },
  },
  compileRun(params, where) {
    checkParamNames(GRF_WORKLOAD, params, 'campaign', where);
    str(`${where}.graph`, params['graph']);
    if (params['backend'] !== undefined && params['backend'] !== 'wasm' && params['backend'] !== 'gpu')
      throw invalidField(`${where}.backend`, 'wasm|gpu', params['backend']);
    if (params['exactError'] !== undefined && typeof params['exactError'] !== 'boolean')
      throw invalidField(`${where}.exactError`, 'true|false', params['exactError']);
    withFieldPrefix(where, () => compileGrfParams(params as unknown as GrfParams));
  },
};
