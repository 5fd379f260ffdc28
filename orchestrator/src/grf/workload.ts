/**
 * Graph random features, orchestrator side: the registry entry (orchestrator/src/registry.ts).
 * Submit validates and uploads the graph (`./submit.ts`); the workflow runs batches of shards and
 * assembles Φ through this workload's activities (`./batches.ts`); a
 * campaign row carries Φ's statistics, its digest and, on request, its error against the
 * exact kernel.
 */
import {
  GRF_WORKLOAD,
  compileGrfParams,
  csrWithValues,
  exactKernelDense,
  normalisedWeights,
  outOfRange,
  relFrobError,
  type CsrRef,
  type GrfJobInput,
  type GrfJobResult,
  type GrfRunParams,
  type JobProgress,
} from '@gramfleet/core';
import type { Workload } from '../workload';
import { GRF_COMMAND } from './cli';
import { loadGraph } from '../io/graph-files';
import { loadCsr } from './assemble';
import { prepareGrf, type GrfTypes } from './submit';
import { createGrfActivities } from './batches';

/** Largest graph for which a GRF campaign run may ask for `exactError`. */
export const GRF_EXACT_MAX_NODES = 4096;

/** The `grf` workload. */
export const grfWorkload: Workload<GrfTypes> = {
  def: GRF_WORKLOAD,
  prepare: (spec, ctx) =>
    prepareGrf(spec, { dp: ctx.dp, store: ctx.store, maxBytes: ctx.memoryBudgetBytes, ...(ctx.workers !== undefined ? { workers: ctx.workers } : {}) }),
  summary: (input) => ({ n: input.n, shardNodes: input.shardNodes }),
  activities: (deps) => createGrfActivities({ store: deps.store, tasks: deps.tasks, log: deps.log }),
  campaign: {
    prepare(raw, childId, timeoutMs, ctx) {
      const spec = raw as unknown as GrfRunParams;
      const { exactError: _exactError, ...params } = spec;
      return prepareGrf(
        { ...params, kind: 'grf', backend: spec.backend ?? 'wasm', jobId: childId, timeoutMs },
        {
          dp: ctx.dp,
          store: ctx.store,
          maxBytes: ctx.memoryBudgetBytes,
          checkGraph: ({ csr }) => {
            if (spec.exactError === true && csr.shape[0] > GRF_EXACT_MAX_NODES)
              throw outOfRange('exactError', `used only for graphs of at most ${GRF_EXACT_MAX_NODES} nodes`, csr.shape[0]);
          },
        },
      );
    },
    async extract(result, raw, ctx) {
      const r = result as GrfJobResult;
      const spec = raw as unknown as GrfRunParams;
      const metrics: Record<string, number | string> = {
        n: r.n,
        shards: r.shards,
        phiNnz: r.nnz.reduce((a, b) => a + b, 0),
        computeMs: Math.round(r.computeMs * 1000) / 1000,
        publishedTasks: r.publishedTasks,
        duplicateResults: r.duplicateResults,
        phiDigest: r.phi.map((p) => p.data.digest.slice(0, 16)).join('+'),
      };
      if (r.labelSpreading !== undefined) metrics['labelSpreadingAccuracy'] = r.labelSpreading.accuracy;
      if (spec.exactError === true) {
        // Against the exact kernel of the same normalised graph (float64, dense).
        const params = compileGrfParams(spec);
        const g = await loadGraph(spec.graph, { maxBytes: ctx.memoryBudgetBytes });
        const w = normalisedWeights(g.csr, params.scale);
        const exact = exactKernelDense(csrWithValues(g.csr, w), params.kernel, { radius: params.scale });
        const phi1 = await loadCsr(ctx.store, r.phi[0]!);
        const phi2 = r.phi[1] === undefined ? phi1 : await loadCsr(ctx.store, r.phi[1]);
        metrics['kernelRelError'] = relFrobError(exact, phi1, phi2);
      }
      const artifacts: Record<string, CsrRef> = {};
      r.phi.forEach((p, i) => {
        artifacts[r.phi.length === 1 ? 'phi' : `phi${i + 1}`] = p;
      });
      return { metrics, artifacts };
    },
  },
  commands: [GRF_COMMAND],
};
