/**
 * Data generation, orchestrator side: the registry entry (orchestrator/src/registry.ts).
 * Submit validates, sorts and chunks the chain (`./submit.ts`) under a job id derived from
 * them, so submitting the same job again attaches to it; the workflow pages each finished
 * chunk's outcomes into the object store through `putDatagenPage` (`./pages.ts`), and the
 * SDK's result reads the pages back. A campaign row carries mat-vec counts and a digest of
 * the solutions, and writes the dataset when the run names an `out` directory.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import {
  DATAGEN_WORKLOAD,
  type ArrayRef,
  type DatagenJobInput,
  type DatagenJobResult,
  type DatagenProgress,
  type DatagenRunParams,
  type DatagenWorkflowResult,
} from '@gramfleet/core';
import type { Workload } from '../workload';
import { DATAGEN_COMMAND } from './cli';
import { createDatagenActivities, expandDatagenResult, readDatagenPage } from './pages';
import { prepareDatagen, writeDataset, type DatagenProgressView, type DatagenTypes } from './submit';

/** The `datagen` workload. */
export const datagenWorkload: Workload<DatagenTypes> = {
  def: DATAGEN_WORKLOAD,
  prepare: (spec) => Promise.resolve(prepareDatagen(spec)),
  summary: (input) => ({ systems: input.params.count, chunks: input.chunks.length }),
  attachToRunning: true,
  activities: (deps) => createDatagenActivities(deps),
  reader(ctx, jobId) {
    // Mat-vec counts of finished systems and the stats of paged chunks, read once per handle.
    const mv = new Map<string, number>();
    const pageStats = new Map<string, DatagenProgress['finished'][number][]>();
    return {
      async progress(raw): Promise<DatagenProgressView> {
        const p = raw as DatagenProgress;
        const first = new Map<number, number>();
        const per: { chunk: number; position: number; m: number }[] = [];
        const finished = [...p.finished];
        for (const ref of p.pages ?? []) {
          let fromPage = pageStats.get(ref.digest);
          if (fromPage === undefined) {
            fromPage = (await readDatagenPage(ctx.store, ref, jobId)).systems.flatMap((s) =>
              s.outputs[4] === undefined ? [] : [{ chunk: s.chunk, position: s.position, stats: s.outputs[4] }],
            );
            pageStats.set(ref.digest, fromPage);
          }
          finished.push(...fromPage);
        }
        for (const f of finished) {
          let m = mv.get(f.stats.digest);
          if (m === undefined) {
            m = (await ctx.store.get(f.stats)).data[1] as number;
            mv.set(f.stats.digest, m);
          }
          per.push({ chunk: f.chunk, position: f.position, m });
          if (f.position === 0) first.set(f.chunk, m);
        }
        let matvecs = 0;
        let saved = 0;
        for (const s of per) {
          matvecs += s.m;
          const f0 = first.get(s.chunk);
          if (s.position > 0 && f0 !== undefined) saved += f0 - s.m;
        }
        return {
          phase: p.phase,
          systemsDone: p.systemsDone,
          systemsTotal: p.systemsTotal,
          chunksDone: p.chunksDone,
          chunksTotal: p.chunksTotal,
          matvecs,
          matvecsSaved: saved,
        };
      },
      result: (raw) => expandDatagenResult(ctx.store, raw as DatagenWorkflowResult),
    };
  },
  campaign: {
    // The child's job id is the run's child id, so a retried prepare (or a restarted
    // orchestrator) starts or attaches to the same datagen workflow, which re-solves nothing finished.
    prepare(raw, childId, timeoutMs) {
      const spec = raw as unknown as DatagenRunParams;
      const { out: _out, backend, ...params } = spec;
      return Promise.resolve(prepareDatagen({ ...params, kind: 'datagen', backend: backend ?? 'wasm', jobId: childId, timeoutMs }));
    },
    async extract(result, raw, ctx) {
      const r = result as DatagenWorkflowResult;
      const spec = raw as unknown as DatagenRunParams;
      const job = await expandDatagenResult(ctx.store, r);
      let matvecs = 0;
      let iterations = 0;
      let maxRelres = 0;
      let saved = 0;
      const first = new Map<number, number>();
      const per: { chunk: number; position: number; m: number }[] = [];
      for (const sys of job.systems) {
        const st = await ctx.store.get(sys.outputs[4]!);
        const m = st.data[1] as number;
        iterations += st.data[0] as number;
        matvecs += m;
        maxRelres = Math.max(maxRelres, st.data[3] as number);
        per.push({ chunk: sys.chunk, position: sys.position, m });
        if (sys.position === 0) first.set(sys.chunk, m);
      }
      for (const p of per) if (p.position > 0) saved += (first.get(p.chunk) ?? p.m) - p.m;
      const metrics: Record<string, number | string> = {
        systems: job.systems.length,
        chunks: r.pages.length,
        matvecs,
        iterations,
        matvecsSaved: saved,
        maxSolverRelres: maxRelres,
        publishedTasks: r.publishedTasks,
        duplicateResults: r.duplicateResults,
        // One digest over every solution's content digest, in chain order: equal = byte-identical solutions.
        solutionsDigest: createHash('sha256')
          .update(job.systems.map((x) => x.outputs[0]!.digest).join(','))
          .digest('hex')
          .slice(0, 32),
      };
      if (spec.out !== undefined) {
        const { out: _out, ...params } = spec;
        const m = await writeDataset(ctx.store, prepareDatagen({ ...params, kind: 'datagen', jobId: r.jobId }), job, path.join(spec.out, r.jobId));
        metrics['maxRelres'] = m.totals.maxRelres;
        metrics['dataset'] = path.join(spec.out, r.jobId);
      }
      const artifacts: Record<string, ArrayRef> = {};
      r.pages.forEach((p, i) => {
        artifacts[`page${i}`] = p;
      });
      return { metrics, artifacts };
    },
  },
  commands: [DATAGEN_COMMAND],
};
