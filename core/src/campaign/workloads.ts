/**
 * The campaign workload catalogue (pure side): kind name → the child workflow that runs one
 * run, and the compile step that validates a run's parameters before anything is scheduled.
 * The orchestrator side (preparing a child's input, extracting metrics from its result) lives
 * in `orchestrator/src/campaign/workloads.ts`, keyed by the same kind names.
 *
 * Adding a workload: append one entry here and one there. Kind names are wire names: add,
 * never rename.
 */
import { GramfleetError, invalidField } from '../errors';
import { compileGrfParams, type GrfParams } from '../grf/job';
import { compileDatagenParams, type DatagenParams } from '../datagen/params';
import { checkDatagenBounds } from '../datagen/paging';
import { str } from '../validate';

/** One workload as campaigns see it. */
export interface CampaignWorkload {
  /** Temporal workflow type of a run's child workflow. */
  readonly workflowType: string;
  /**
   * Validates a run's parameters (everything but `kind`); throws a typed error naming the
   * field. `where` prefixes the field (e.g. `runs[3]`).
   */
  compile(params: Readonly<Record<string, unknown>>, where: string): void;
}

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

const GRF_FIELDS = new Set(['graph', 'kernel', 'scale', 'walks', 'pHalt', 'seed', 'variance', 'estimator', 'shardNodes', 'batchShards', 'window', 'labelSpreading', 'backend', 'exactError']);

/** Parameters of a datagen run in a campaign: the datagen job parameters, its worker class and where to write its dataset. */
export interface DatagenRunParams extends DatagenParams {
  /** Worker class. @default 'wasm' */
  readonly backend?: 'wasm' | 'gpu';
  /** Directory under which the run's dataset is written (`<out>/<child id>/`, `.npy` shards + manifest). @default none: the row keeps the page references only */
  readonly out?: string;
}

const DATAGEN_FIELDS = new Set([
  'pde', 'grid', 'count', 'seed', 'fieldAlpha', 'fieldTau', 'wavenumber', 'velocity', 'rtol', 'solver', 'restart', 'recycle',
  'precond', 'sort', 'chunkSize', 'maxMatvecs', 'window', 'backend', 'out',
]);

const WORKLOADS: Readonly<Record<string, CampaignWorkload>> = {
  datagen: {
    workflowType: 'datagenWorkflow',
    compile(params, where) {
      for (const k of Object.keys(params)) if (!DATAGEN_FIELDS.has(k)) throw invalidField(`${where}.${k}`, `a datagen parameter (${[...DATAGEN_FIELDS].join('|')})`, k);
      if (params['backend'] !== undefined && params['backend'] !== 'wasm' && params['backend'] !== 'gpu') throw invalidField(`${where}.backend`, 'wasm|gpu', params['backend']);
      if (params['out'] !== undefined) str(`${where}.out`, params['out']);
      try {
        checkDatagenBounds(compileDatagenParams(params as unknown as DatagenParams));
      } catch (e) {
        throw prefixed(e, where);
      }
    },
  },
  grf: {
    workflowType: 'grfWorkflow',
    compile(params, where) {
      for (const k of Object.keys(params)) if (!GRF_FIELDS.has(k)) throw invalidField(`${where}.${k}`, `a GRF parameter (${[...GRF_FIELDS].join('|')})`, k);
      str(`${where}.graph`, params['graph']);
      if (params['backend'] !== undefined && params['backend'] !== 'wasm' && params['backend'] !== 'gpu') throw invalidField(`${where}.backend`, 'wasm|gpu', params['backend']);
      if (params['exactError'] !== undefined && typeof params['exactError'] !== 'boolean') throw invalidField(`${where}.exactError`, 'true|false', params['exactError']);
      try {
        compileGrfParams(params as unknown as GrfParams);
      } catch (e) {
        throw prefixed(e, where);
      }
    },
  },
};

/** Workload kinds a campaign accepts. */
export function workloadKinds(): string[] {
  return Object.keys(WORKLOADS).sort();
}

/** The workload of a kind; a typed error naming `field` when there is none. */
export function campaignWorkload(kind: string, field = 'kind'): CampaignWorkload {
  const w = Object.prototype.hasOwnProperty.call(WORKLOADS, kind) ? WORKLOADS[kind] : undefined;
  if (w === undefined) throw invalidField(field, `one of ${workloadKinds().join('|')}`, kind);
  return w;
}

/** Validates one run's parameters with its workload's compile step. */
export function compileWorkloadParams(kind: string, params: Readonly<Record<string, unknown>>, where: string): void {
  campaignWorkload(kind, `${where}.kind`).compile(params, where);
}

function prefixed(e: unknown, where: string): unknown {
  if (!(e instanceof GramfleetError)) return e;
  const f = typeof e.details['field'] === 'string' ? `${where}.${e.details['field']}` : where;
  return new GramfleetError(e.code, `${where}.${e.message.replace(/^\[[A-Z_]+\] /, '')}`, { ...e.details, field: f });
}
