/**
 * The campaign workload registry (orchestrator side): kind → how a run's parameters become
 * its child workflow's input (`prepare`, which may read files and upload arrays by digest —
 * idempotent), and how the child's result becomes a row's metrics and artifact references
 * (`extract`). The pure side (workflow type, parameter validation) is
 * `core/src/campaign/workloads.ts`. Adding a workload: one entry here, one there.
 */
import {
  GramfleetError, workloadDef, compileGrfParams, csrWithValues, exactKernelDense, normalisedWeights, outOfRange, relFrobError,
  type ArrayRef, type CsrRef, type GrfJobResult, type GrfRunParams,
  type DatagenRunParams, type DatagenWorkflowResult,
} from '@gramfleet/core';
import type { ArrayStore, DataPlane } from '@gramfleet/workers';
import { loadCsr } from '../grf/assemble';
import { loadGraph } from '../io/graph-files';
import { prepareGrf } from '../grf/submit';
import { prepareDatagen, writeDataset } from '../datagen/submit';
import { expandDatagenResult } from '../datagen/pages';
import { createHash } from 'node:crypto';
import * as path from 'node:path';

/** Largest graph for which a GRF run may ask for `exactError`. */
export const GRF_EXACT_MAX_NODES = 4096;

/** What `prepare` may use. */
export interface WorkloadDeps {
  readonly dp: DataPlane;
  readonly store: ArrayStore;
  /** Memory budget a run must fit, bytes. */
  readonly memoryBudgetBytes: number;
}

/** Metrics and artifact references of a finished run. */
export interface RunExtract {
  readonly metrics: Record<string, number | string>;
  readonly artifacts: Record<string, ArrayRef | CsrRef>;
}

/** The orchestrator side of one workload. */
export interface WorkloadRunner {
  /** The child workflow's arguments for one attempt, whose child (and job) id is `childId`. */
  prepare(params: Readonly<Record<string, unknown>>, childId: string, timeoutMs: number, deps: WorkloadDeps): Promise<readonly unknown[]>;
  /** Scalar metrics and artifact references from the child's result. */
  extract(result: unknown, params: Readonly<Record<string, unknown>>, deps: WorkloadDeps): Promise<RunExtract>;
}

const RUNNERS: Readonly<Record<string, WorkloadRunner>> = {
  datagen: {
    // The child's job id is the run's child id, so a retried prepare (or a restarted
    // orchestrator) starts or attaches to the same datagen workflow, which re-solves nothing finished.
    prepare(raw, childId, timeoutMs): Promise<readonly unknown[]> {
      const spec = raw as unknown as DatagenRunParams;
      const { out: _out, backend, ...params } = spec;
      return Promise.resolve([prepareDatagen({ ...params, kind: 'datagen', backend: backend ?? 'wasm', jobId: childId, timeoutMs })]);
    },
    async extract(result, raw, deps): Promise<RunExtract> {
      const r = result as DatagenWorkflowResult;
      const spec = raw as unknown as DatagenRunParams;
      const job = await expandDatagenResult(deps.store, r);
      let matvecs = 0;
      let iterations = 0;
      let maxRelres = 0;
      let saved = 0;
      const first = new Map<number, number>();
      const per: { chunk: number; position: number; m: number }[] = [];
      for (const sys of job.systems) {
        const st = await deps.store.get(sys.outputs[4]!);
        const m = st.data[1] as number;
        iterations += st.data[0] as number;
        matvecs += m;
        maxRelres = Math.max(maxRelres, st.data[3] as number);
        per.push({ chunk: sys.chunk, position: sys.position, m });
        if (sys.position === 0) first.set(sys.chunk, m);
      }
      for (const p of per) if (p.position > 0) saved += (first.get(p.chunk) ?? p.m) - p.m;
      const metrics: Record<string, number | string> = {
        systems: job.systems.length, chunks: r.pages.length, matvecs, iterations, matvecsSaved: saved, maxSolverRelres: maxRelres,
        publishedTasks: r.publishedTasks, duplicateResults: r.duplicateResults,
        // One digest over every solution's content digest, in chain order: equal = byte-identical solutions.
        solutionsDigest: createHash('sha256').update(job.systems.map((x) => x.outputs[0]!.digest).join(',')).digest('hex').slice(0, 32),
      };
      if (spec.out !== undefined) {
        const m = await writeDataset(deps.store, prepareDatagen({ ...spec, kind: 'datagen', jobId: r.jobId }), job, path.join(spec.out, r.jobId));
        metrics['maxRelres'] = m.totals.maxRelres;
        metrics['dataset'] = path.join(spec.out, r.jobId);
      }
      const artifacts: Record<string, ArrayRef> = {};
      r.pages.forEach((p, i) => { artifacts[`page${i}`] = p; });
      return { metrics, artifacts };
    },
  },
  grf: {
    async prepare(raw, childId, timeoutMs, deps): Promise<readonly unknown[]> {
      const spec = raw as unknown as GrfRunParams;
      const input = await prepareGrf({ ...spec, kind: 'grf', backend: spec.backend ?? 'wasm', jobId: childId, timeoutMs }, {
        dp: deps.dp, store: deps.store, maxBytes: deps.memoryBudgetBytes,
        checkGraph: ({ csr }) => {
          if (spec.exactError === true && csr.shape[0] > GRF_EXACT_MAX_NODES) throw outOfRange('exactError', `used only for graphs of at most ${GRF_EXACT_MAX_NODES} nodes`, csr.shape[0]);
        },
      });
      return [input];
    },
    async extract(result, raw, deps): Promise<RunExtract> {
      const r = result as GrfJobResult;
      const spec = raw as unknown as GrfRunParams;
      const metrics: Record<string, number | string> = {
        n: r.n, shards: r.shards, phiNnz: r.nnz.reduce((a, b) => a + b, 0), computeMs: Math.round(r.computeMs * 1000) / 1000,
        publishedTasks: r.publishedTasks, duplicateResults: r.duplicateResults, phiDigest: r.phi.map((p) => p.data.digest.slice(0, 16)).join('+'),
      };
      if (r.labelSpreading !== undefined) metrics['labelSpreadingAccuracy'] = r.labelSpreading.accuracy;
      if (spec.exactError === true) {
        // Against the exact kernel of the same normalised graph (float64, dense).
        const params = compileGrfParams(spec);
        const g = await loadGraph(spec.graph, { maxBytes: deps.memoryBudgetBytes });
        const w = normalisedWeights(g.csr, params.scale);
        const exact = exactKernelDense(csrWithValues(g.csr, w), params.kernel, { radius: params.scale });
        const phi1 = await loadCsr(deps.store, r.phi[0]!);
        const phi2 = r.phi[1] === undefined ? phi1 : await loadCsr(deps.store, r.phi[1]);
        metrics['kernelRelError'] = relFrobError(exact, phi1, phi2);
      }
      const artifacts: Record<string, CsrRef> = {};
      r.phi.forEach((p, i) => { artifacts[r.phi.length === 1 ? 'phi' : `phi${i + 1}`] = p; });
      return { metrics, artifacts };
    },
  },
};

/** The runner of a kind; the kind must also be in the core catalogue. */
export function workloadRunner(kind: string): WorkloadRunner {
  workloadDef(kind);
  const r = Object.prototype.hasOwnProperty.call(RUNNERS, kind) ? RUNNERS[kind] : undefined;
  if (r === undefined) throw new GramfleetError('INPUT_INVALID', `kind ${kind} has no orchestrator runner`, { field: 'kind', value: kind });
  return r;
}
