/**
 * The Kronecker GP workflow (see core/src/kron/job.ts for the two routes). Direct:
 * one `kron-gp-solve` shard per hyperparameter candidate. Slab: `kron-factor` shards in
 * parallel, then three stages of `kron-slab` shards (one per slab, in parallel) with an
 * all-to-all transpose through the object store between them, then `kronFinish`.
 */
import { defineQuery, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import {
  ERROR_CODES, fitKronSteps, shardId, slabRanges,
  type ArrayRef, type JobProgress, type KronActivities, type KronCandidateResult, type KronJobInput, type KronHyper, type KronJobResult, type KronLoopActivities, type KronProgress, type KronSafeguards, type KronSlabStep, type ShardOutcome, type ShardSpec,
} from '@gramfleet/core';
import { clusterActivities, runSharded, cleanupShards, type ShardedCounters } from './sharded';

/** Query answering a Kronecker GP job's progress (same name as every job's `progress`). */
export const kronProgressQuery = defineQuery<KronProgress>('progress');

const PERMANENT = Object.entries(ERROR_CODES).filter(([, v]) => !v.retryable).map(([k]) => k);

/** Solves the grid GP of `input` for every candidate. */
export async function kronGpWorkflow(input: KronJobInput): Promise<KronJobResult> {
  const acts = clusterActivities(input.timeoutMs);
  const kacts = proxyActivities<KronActivities>({
    startToCloseTimeout: Math.max(60_000, input.timeoutMs),
    heartbeatTimeout: 60_000,
    retry: { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 10_000, nonRetryableErrorTypes: PERMANENT },
  });
  const lacts = proxyActivities<KronLoopActivities>({
    startToCloseTimeout: Math.max(60_000, input.timeoutMs),
    heartbeatTimeout: input.heartbeatTimeoutMs ?? 30_000,
    retry: { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 10_000, maximumAttempts: 20, nonRetryableErrorTypes: PERMANENT },
  });
  const deadline = Date.now() + input.timeoutMs;
  const counters: ShardedCounters = { shardsDone: 0, batchesRunning: 0, published: 0, duplicates: 0 };
  let phase: KronProgress['stage'] = input.route === 'direct' ? 'solving' : 'factors';
  let total = input.route === 'direct' ? input.candidates.length : input.shape.length + 3 * input.slabs;
  let bytesMoved = 0;
  setHandler(kronProgressQuery, () => ({
    phase: phase === 'done' ? 'done' : phase === 'failed' ? 'failed' : phase === 'finishing' ? 'aggregating' : 'running',
    stage: phase, shardsDone: counters.shardsDone, shardsTotal: total, batchesRunning: counters.batchesRunning, generation: 0, bytesMoved,
  }));
  const backends: Record<string, number> = {};
  const workers: Record<string, number> = {};
  const count = (o: ShardOutcome): void => {
    backends[o.stats.backend] = (backends[o.stats.backend] ?? 0) + 1;
    workers[o.stats.workerId] = (workers[o.stats.workerId] ?? 0) + 1;
  };
  const sharded = async (op: string, inputs: readonly ArrayRef[], shards: ShardSpec[]): Promise<ShardOutcome[]> => {
    const done: Record<string, ShardOutcome> = {};
    for (;;) {
      const st = await runSharded({ jobId: input.jobId, op, cls: input.cls, inputs, shards, batchShards: 4, window: 4, deadline, done, counters, acts });
      if (st === 'complete') break;
    }
    return shards.map((s) => {
      const o = done[s.shardId];
      if (o === undefined) throw new Error(`internal: shard ${s.shardId} has no outcome`);
      count(o);
      return o;
    });
  };
  const D = input.shape.length;
  try {
    if ((input.fit !== undefined && input.route === 'direct') || input.mask !== undefined || input.noiseVector !== undefined) {
      // Long loops (DESIGN §1 rule 4): one activity drives the worker rounds.
      phase = input.fit !== undefined ? 'fitting' : 'pcg';
      total = 1;
      const out = input.fit !== undefined && input.mask === undefined && input.noiseVector === undefined ? await lacts.kronFit(input) : await lacts.kronCgSolve(input);
      counters.shardsDone = out.shards;
      total = out.shards;
      bytesMoved = out.bytesMoved;
      Object.assign(workers, out.workers);
      backends[input.cls] = out.shards;
      phase = 'done';
      return {
        jobId: input.jobId, n: input.shape.reduce((a, b) => a * b, 1), route: input.route, candidates: [out.candidate], best: 0, shards: out.shards, bytesMoved, backends, workers,
        ...(out.safeguards !== undefined ? { safeguards: out.safeguards } : {}), ...(out.cg !== undefined ? { cg: out.cg } : {}), ...(out.fit !== undefined ? { fit: out.fit } : {}),
      };
    }
    if (input.route === 'direct') {
      const shards = input.candidates.map((h, i) => ({
        shardId: shardId(i),
        attrs: { kernels: input.kernels.map((k, d) => ({ ...k, lengthscale: h.lengthscales[d] })), outputscale: h.outputscale, noise: h.noise, jitter: input.jitter, eigFloor: input.eigFloor, gradient: input.gradient },
      }));
      const outs = await sharded('kron-gp-solve', [input.y, ...input.axes], shards);
      phase = 'finishing';
      const stats = await kacts.kronReadSmall({ refs: outs.map((o) => o.outputs[1] as ArrayRef) });
      const candidates: KronCandidateResult[] = outs.map((o, i) => {
        const s = stats[i] as number[];
        const h = input.candidates[i] as KronJobInput['candidates'][number];
        return {
          hyper: h, lml: s[0] as number, logdet: s[1] as number, alpha: o.outputs[0] as ArrayRef,
          ...(input.gradient ? { gradient: { lengthscales: s.slice(3, 3 + D), outputscale: s[3 + D] as number, noise: s[4 + D] as number } } : {}),
        };
      });
      phase = 'done';
      return { jobId: input.jobId, n: input.shape.reduce((a, b) => a * b, 1), route: 'direct', candidates, best: argmax(candidates.map((c) => c.lml)), shards: outs.length, bytesMoved: 0, backends, workers };
    }
    // slab route: one solve (factors, stages a/b/c with transposes, finish) per hyperparameter set
    const slabSolve = async (h: KronHyper, prefix: string): Promise<{ candidate: KronCandidateResult; safeguards: KronSafeguards }> => {
      // (patched: a slab-route run started before the gradient existed replays without it)
      const grad = input.gradient && patched('kron-slab-gradient');
      const fshards = input.kernels.map((k, d) => ({ shardId: `${prefix}f${String(d).padStart(6, '0')}`, attrs: { axis: d, kernel: { ...k, lengthscale: h.lengthscales[d] }, jitter: input.jitter, eigFloor: input.eigFloor, ...(grad ? { gradient: true } : {}) } }));
      const factors = (await sharded('kron-factor', input.axes, fshards)).map((o) => o.outputs);
      const v = factors.map((f) => f[1] as ArrayRef);
      const w = factors.map((f) => f[0] as ArrayRef);
      const r0 = slabRanges(input.shape[0] as number, input.slabs);
      const r1 = slabRanges(input.shape[1] as number, input.slabs);
      if (prefix === '') total = D + r0.length * 2 + r1.length;
      const slabShape = (axis: number, len: number): number[] => input.shape.map((s, i) => (i === axis ? len : s));
      const stage = async (tag: string, parts: readonly ArrayRef[], ranges: { start: number; end: number }[], axis: number, mats: ArrayRef[], steps: (r: { start: number }) => KronSlabStep[], extra: (i: number) => ArrayRef[] = () => []): Promise<(readonly ArrayRef[])[]> => {
        const outs = await Promise.all(parts.map((p, i) => acts.runShardBatch({
          jobId: input.jobId, op: 'kron-slab', cls: input.cls, inputs: [p, ...mats, ...extra(i)], deadline,
          shards: [{ shardId: `${prefix}${tag}${String(i).padStart(6, '0')}`, attrs: { shape: slabShape(axis, (ranges[i] as { end: number }).end - (ranges[i] as { start: number }).start), steps: steps(ranges[i] as { start: number }) } }],
        })));
        return outs.map((o) => {
          const oc = o.outcomes[0];
          if (oc === undefined) throw new Error(`internal: slab shard ${tag} has no outcome`);
          counters.shardsDone++;
          count(oc);
          return oc.outputs;
        });
      };
      const first = (xs: (readonly ArrayRef[])[]): ArrayRef[] => xs.map((x) => x[0] as ArrayRef);
      const rest = Array.from({ length: D - 1 }, (_, i) => i + 1);
      phase = 'stage-a';
      const a = first(await stage('a', input.ySlabs ?? [], r0, 0, rest.map((d) => v[d] as ArrayRef), () => rest.map((d, i) => ({ kind: 'mode', mode: d, input: i + 1, transpose: true }))));
      phase = 'transpose';
      const t1 = await kacts.kronTranspose({ jobId: input.jobId, shape: input.shape, parts: a, from: 0, to: 1, count: r1.length });
      bytesMoved += t1.bytesMoved;
      phase = 'stage-b';
      // Gradient (WORKLOADS §3): α̃ = (Λ+σ²)⁻¹Qᵀy exists in stage b (slabs along axis 1). Stage b sums
      // Σα̃², Σλα̃² and the B_d quadratic forms for every d ≠ 1 (axis d whole there); α̃ goes through
      // one more transpose so stage c (slabs along axis 0) adds the one for d = 1.
      const eigIdx = w.map((_, d) => d + 2);
      const bIdx = (d: number): number => 2 + D + (d === 0 ? 0 : d - 1);
      const bMats = grad ? input.shape.map((_, d) => d).filter((d) => d !== 1).map((d) => (factors[d] as readonly ArrayRef[])[3] as ArrayRef) : [];
      const b = await stage('b', t1.parts, r1, 1, [v[0] as ArrayRef, ...w, ...bMats], (r) => [
        { kind: 'mode', mode: 0, input: 1, transpose: true },
        { kind: 'scale', slabAxis: 1, start: r.start, outputscale: h.outputscale, noise: h.noise, eigInputs: eigIdx },
        ...(grad ? [
          { kind: 'keep' } as const,
          { kind: 'moments', slabAxis: 1, start: r.start, outputscale: h.outputscale, eigInputs: eigIdx } as const,
          ...input.shape.map((_, d) => d).filter((d) => d !== 1).map((d) => ({ kind: 'quad', mode: d, input: bIdx(d), slabAxis: 1, start: r.start, outputscale: h.outputscale, eigInputs: eigIdx } as const)),
        ] : []),
        { kind: 'mode', mode: 0, input: 1, transpose: false },
      ]);
      phase = 'transpose';
      const t2 = await kacts.kronTranspose({ jobId: input.jobId, shape: input.shape, parts: first(b), from: 1, to: 0, count: r0.length });
      bytesMoved += t2.bytesMoved;
      let tAlpha: readonly ArrayRef[] = [];
      if (grad) {
        const t3 = await kacts.kronTranspose({ jobId: input.jobId, shape: input.shape, parts: b.map((o) => o[1] as ArrayRef), from: 1, to: 0, count: r0.length });
        bytesMoved += t3.bytesMoved;
        tAlpha = t3.parts;
      }
      phase = 'stage-c';
      // stage c inputs: [u, V_1 … V_{D−1}, (α̃ slab, B_1, W_0 … W_{D−1})]
      const cGrad = (r: { start: number }): KronSlabStep[] => (grad ? [{ kind: 'quad', mode: 1, input: D + 1, src: D, slabAxis: 0, start: r.start, outputscale: h.outputscale, eigInputs: w.map((_, d) => D + 2 + d) }] : []);
      const c = await stage('c', t2.parts, r0, 0, rest.map((d) => v[d] as ArrayRef), (r) => [...rest.map((d, i): KronSlabStep => ({ kind: 'mode', mode: d, input: i + 1, transpose: false })), ...cGrad(r)],
        (i) => (grad ? [tAlpha[i] as ArrayRef, (factors[1] as readonly ArrayRef[])[3] as ArrayRef, ...w] : []));
      phase = 'finishing';
      const fin = await kacts.kronFinish({
        job: { ...input, candidates: [h] }, alphaParts: first(c), factors,
        ...(grad ? { gradStats: { b: b.map((o) => o[2] as ArrayRef), c: c.map((o) => o[1] as ArrayRef) } } : {}),
      });
      return fin;
    };
    if (input.fit !== undefined) {
      // Fit on the slab route: the optimiser (pure, deterministic) runs here and each LML + gradient
      // is a whole slab solve (minutes at large N), so a restarted orchestrator or worker replays to
      // exactly where it was. Evaluation k's shards are prefixed e<k>.
      phase = 'fitting';
      const h0 = input.candidates[0] as KronHyper;
      const m0 = { axes: input.shape.map(() => new Float64Array(0)), kernels: input.kernels.map((k, d) => ({ ...k, lengthscale: h0.lengthscales[d] as number })), outputscale: h0.outputscale, noise: h0.noise, jitter: input.jitter, eigFloor: input.eigFloor };
      const history: number[] = [];
      const steps = fitKronSteps(m0, input.shape.reduce((a, b) => a * b, 1), { optimizer: input.fit.optimizer, iters: input.fit.iters, fixNoise: input.fit.fixNoise, onIteration: (_it, lml) => { history.push(lml); } });
      const hyperOf = (m: { kernels: readonly { lengthscale: number }[]; outputscale: number; noise: number }): KronHyper => ({ lengthscales: m.kernels.map((k) => k.lengthscale), outputscale: m.outputscale, noise: m.noise });
      const seen = new Map<string, { candidate: KronCandidateResult; safeguards: KronSafeguards }>();
      let evals = 0;
      let st = steps.next();
      while (st.done !== true) {
        const hy = hyperOf(st.value);
        const r = await slabSolve(hy, `e${evals++}`);
        seen.set(JSON.stringify(hy), r);
        const g = r.candidate.gradient;
        if (g === undefined) throw new Error('internal: slab solve returned no gradient');
        st = steps.next({ lml: r.candidate.lml, gradient: g });
      }
      const hy = hyperOf(st.value.model);
      const fin = seen.get(JSON.stringify(hy)) ?? await slabSolve(hy, `e${evals++}`);
      phase = 'done';
      return {
        jobId: input.jobId, n: input.shape.reduce((x, y) => x * y, 1), route: 'slab', candidates: [fin.candidate], best: 0, shards: counters.shardsDone, bytesMoved, backends, workers, safeguards: fin.safeguards,
        fit: { optimizer: input.fit.optimizer, iterations: history.length, evaluations: evals, history, restartedFrom: 0 },
      };
    }
    const fin = await slabSolve(input.candidates[0] as KronHyper, '');
    phase = 'done';
    return { jobId: input.jobId, n: input.shape.reduce((x, y) => x * y, 1), route: 'slab', candidates: [fin.candidate], best: 0, shards: counters.shardsDone, bytesMoved, backends, workers, safeguards: fin.safeguards };
  } catch (e) {
    phase = 'failed';
    await cleanupShards(acts, input.jobId);
    throw e;
  }
}

function argmax(xs: readonly number[]): number {
  let b = 0;
  xs.forEach((x, i) => { if (x > (xs[b] as number)) b = i; });
  return b;
}
