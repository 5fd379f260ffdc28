/**
 * The Kronecker GP, orchestrator side: the registry entry (orchestrator/src/registry.ts).
 * Submit reads vectors given as `.npy` files, validates, picks the route and uploads the grid
 * (`./submit.ts`); the workflow's activities are the slab transpose and finish (`./activities.ts`)
 * and the long PCG and fit loops (`./loop.ts`); a campaign row carries the LML of the best
 * candidate, its hyperparameters and α.
 */
import { KRON_GP_WORKLOAD, type ArrayRef, type KronJobInput, type KronJobResult, type KronProgress } from '@gramfleet/core';
import type { Workload } from '../workload';
import { KRON_GP_COMMAND } from './cli';
import { createKronActivities } from './activities';
import { createKronLoopActivities } from './loop';
import { prepareKron, type KronGpJobSpec, type KronGpTypes } from './submit';

/** The `kron-gp` workload. */
export const kronGpWorkload: Workload<KronGpTypes> = {
  def: KRON_GP_WORKLOAD,
  prepare: (spec, ctx) => prepareKron(spec, ctx.store, ctx.memoryBudgetBytes),
  summary: (input) => ({ shape: input.shape, route: input.route, slabs: input.slabs }),
  activities: (deps) => ({ ...createKronActivities(deps), ...createKronLoopActivities(deps) }),
  campaign: {
    prepare(params, childId, timeoutMs, ctx) {
      const spec = { ...params, kind: 'kron-gp', jobId: childId, timeoutMs } as unknown as KronGpJobSpec;
      return prepareKron(spec, ctx.store, ctx.memoryBudgetBytes);
    },
    extract(result) {
      const r = result as KronJobResult;
      const best = r.candidates[r.best] ?? r.candidates[0];
      const metrics: Record<string, number | string> = {
        route: r.route,
        n: r.n,
        shards: r.shards,
        bytesMoved: r.bytesMoved,
        candidates: r.candidates.length,
        best: r.best,
      };
      const artifacts: Record<string, ArrayRef> = {};
      if (best !== undefined) {
        // A PCG solve (mask, noise vector) has no exact LML.
        if (r.cg === undefined) Object.assign(metrics, { lml: best.lml, logdet: best.logdet });
        metrics['lengthscales'] = best.hyper.lengthscales.join(',');
        metrics['outputscale'] = best.hyper.outputscale;
        metrics['noise'] = best.hyper.noise;
        artifacts['alpha'] = best.alpha;
      }
      if (r.cg !== undefined) Object.assign(metrics, { cgIterations: r.cg.iterations, cgResidual: r.cg.residual, cgConverged: String(r.cg.converged) });
      if (r.fit !== undefined) Object.assign(metrics, { fitIterations: r.fit.iterations, fitEvaluations: r.fit.evaluations });
      return Promise.resolve({ metrics, artifacts });
    },
  },
  commands: [KRON_GP_COMMAND],
};
