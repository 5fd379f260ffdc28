/**
 * EigenPro 2 and 3/4, orchestrator side: the registry entry (orchestrator/src/registry.ts).
 * Submit loads and checks the data and uploads it (`./submit.ts`); the workflow runs the whole
 * training loop in the `trainEigenPro` activity (`./activity.ts`), which publishes a progress
 * event per epoch that `watch` streams; a campaign row carries the final epoch's metrics.
 */
import { DeliverPolicy } from '@nats-io/jetstream';
import {
  EIGENPRO_WORKLOAD,
  resultSubject,
  type ArrayRef,
  type EigenProJobInput,
  type EigenProJobResult,
  type EigenProProgressEvent,
  type JobProgress,
} from '@gramfleet/core';
import type { DataPlane } from '@gramfleet/workers';
import type { Workload } from '../workload';
import { EIGENPRO_COMMAND, PREDICT_COMMAND } from './cli';
import { createEigenProActivities } from './activity';
import { prepareEigenPro, type EigenProJobSpec, type EigenProTypes } from './submit';

/** Workers in the registry: a job without `shards` gets one model shard per worker. */
async function workerCount(dp: DataPlane): Promise<number> {
  let n = 0;
  for await (const k of await dp.workers.keys()) {
    void k;
    n++;
  }
  return n;
}

/** The `eigenpro` workload. */
export const eigenProWorkload: Workload<EigenProTypes> = {
  def: EIGENPRO_WORKLOAD,
  prepare: async (spec, ctx) => prepareEigenPro(spec, ctx.store, ctx.memoryBudgetBytes, (await workerCount(ctx.dp)) || 1),
  summary: (input) => ({ n: input.shape.n, shards: input.params.shards }),
  activities: (deps) => createEigenProActivities(deps),
  async watch(ctx, jobId, onEvent, result) {
    const { dp } = ctx;
    const consumer = await dp.js.consumers.get(dp.names.resultsStream, {
      // One filter as a string: the consumer is created on a subject naming it, which a client's
      // identity may ask for (its permissions allow only progress subjects on the results stream).
      filter_subjects: resultSubject(dp.names.prefix, jobId, 'progress'),
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume({ max_messages: 64 });
    const pump = (async () => {
      for await (const m of messages) {
        try {
          onEvent(m.json<EigenProProgressEvent>());
        } catch {
          /* a throwing listener must not stop the job */
        }
      }
    })();
    try {
      const r = await result();
      // Let the final epoch event arrive before closing.
      await new Promise((res) => setTimeout(res, 300));
      return r;
    } finally {
      await messages.close();
      await pump;
    }
  },
  campaign: {
    async prepare(params, childId, timeoutMs, ctx) {
      const spec = { ...params, kind: 'eigenpro', backend: params['backend'] ?? 'wasm', jobId: childId, timeoutMs } as unknown as EigenProJobSpec;
      return eigenProWorkload.prepare(spec, ctx);
    },
    extract(result) {
      const r = result as EigenProJobResult;
      const last = r.history[r.history.length - 1];
      const metrics: Record<string, number | string> = {
        epochs: r.history.length,
        n: r.shape.n,
        d: r.shape.d,
        centers: r.shape.p,
        s: r.setup.s,
        q: r.setup.q,
        batch: r.setup.batch,
        step: r.setup.step,
        trainMs: r.trainMs,
        attempt: r.attempt,
        workers: Object.keys(r.workers).length,
        coefficientsDigest: r.coefficients.digest.slice(0, 16),
      };
      if (last !== undefined) {
        metrics['trainMse'] = last.trainMse;
        if (last.trainAccuracy !== undefined) metrics['trainAccuracy'] = last.trainAccuracy;
        if (last.testAccuracy !== undefined) metrics['testAccuracy'] = last.testAccuracy;
        if (last.testMse !== undefined) metrics['testMse'] = last.testMse;
      }
      if (r.projection !== undefined) metrics['projection'] = r.projection.projection;
      const artifacts: Record<string, ArrayRef> = { coefficients: r.coefficients, centers: r.centers };
      return Promise.resolve({ metrics, artifacts });
    },
  },
  commands: [EIGENPRO_COMMAND, PREDICT_COMMAND],
};
