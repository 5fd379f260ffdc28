/**
 * The Kronecker GP workflow (see core/src/kron/job.ts for the two routes). Direct:
 * one `kron-gp-solve` shard per hyperparameter candidate. Slab: `kron-factor` shards in
 * parallel, then three stages of `kron-slab` shards (one per slab, in parallel) with an
 * all-to-all transpose through the object store between them, then `kronFinish`. A fit on the
 * direct route and a masked or heteroscedastic solve are long loops: one activity each.
 *
 * The workflow is split into one function per route over a {@link KronRun} (the job, its
 * activities and the state the progress query reads); the order in which they schedule
 * activities is the recorded histories' (test/src/replay).
 */
import { continueAsNew, defineQuery, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  KRON_FACTOR_OUT,
  KRON_SOLVE_OUT,
  fitKronSteps,
  kronSlabLayout,
  readKronSolveStats,
  shardId,
  slabRanges,
  type ArrayRef,
  type ClusterActivities,
  type JobProgress,
  type KronActivities,
  type KronCandidateResult,
  type KronFitStep,
  type KronJobInput,
  type KronHyper,
  type KronJobResult,
  type KronLmlEval,
  type KronLoopActivities,
  type KronProgress,
  type KronSafeguards,
  type KronSlabLayout,
  type KronSlabStep,
  type ShardOutcome,
  type ShardSpec,
} from '@gramfleet/core';
import { clusterActivities, continuesAsNew, runSharded, cleanupShards, type ShardedCounters } from './sharded';
import { activityRetry, longLoopActivityOptions } from './policies';

/** Query answering a Kronecker GP job's progress (same name as every job's `progress`). */
export const kronProgressQuery = defineQuery<KronProgress>('progress');

/** The activities a Kronecker job calls: the cluster's shard batches, the job's own steps, and its long loops. */
interface KronActs {
  readonly cluster: ClusterActivities;
  readonly steps: KronActivities;
  readonly loops: KronLoopActivities;
}

/** One job's run: its input and activities, and what the progress query and the result report. */
interface KronRun {
  readonly input: KronJobInput;
  readonly acts: KronActs;
  readonly deadline: number;
  /** Runs before this one that continued as new. */
  readonly generation: number;
  readonly counters: ShardedCounters;
  stage: KronProgress['stage'];
  /** Shards the progress query reports as the total. */
  total: number;
  bytesMoved: number;
  /** Shards run per backend and per worker. */
  readonly backends: Record<string, number>;
  readonly workers: Record<string, number>;
  /** A slab-route fit's accepted steps so far (LML and gradient norm; the progress query answers them). */
  readonly fitSteps: KronFitStep[];
}

/**
 * State a slab-route fit carries over `continueAsNew`: the evaluations so far (the optimiser is
 * deterministic, so the next run replays them into it instead of solving again) and the totals
 * the result reports. A few hundred bytes an evaluation.
 */
export interface KronCarry {
  readonly evals: readonly KronLmlEval[];
  readonly generation: number;
  readonly startedAt: number;
  readonly counters: ShardedCounters;
  readonly bytesMoved: number;
  readonly backends: Readonly<Record<string, number>>;
  readonly workers: Readonly<Record<string, number>>;
}

/** A slab solve's answer for one hyperparameter set. */
type SlabSolution = { candidate: KronCandidateResult; safeguards: KronSafeguards };

/** Solves the grid GP of `input` for every candidate. */
export async function kronGpWorkflow(input: KronJobInput, carry?: KronCarry): Promise<KronJobResult> {
  const run: KronRun = {
    input,
    acts: kronActivities(input),
    deadline: (carry?.startedAt ?? Date.now()) + input.timeoutMs,
    generation: carry?.generation ?? 0,
    counters: { ...(carry?.counters ?? { shardsDone: 0, batchesRunning: 0, published: 0, duplicates: 0 }), batchesRunning: 0 },
    stage: input.route === 'direct' ? 'solving' : 'factors',
    total: input.route === 'direct' ? input.candidates.length : input.shape.length + 3 * input.slabs,
    bytesMoved: carry?.bytesMoved ?? 0,
    backends: { ...(carry?.backends ?? {}) },
    workers: { ...(carry?.workers ?? {}) },
    fitSteps: [],
  };
  setHandler(kronProgressQuery, () => progressOf(run));
  try {
    if (isLongLoop(input)) return await solveInOneActivity(run);
    if (input.route === 'direct') return await solveDirect(run);
    if (input.fit !== undefined) return await fitOnSlabs(run, input.fit, carry?.evals ?? []);
    const fin = await solveOnSlabs(run, input.candidates[0] as KronHyper, '');
    run.stage = 'done';
    return {
      jobId: input.jobId,
      n: gridSize(input),
      route: 'slab',
      candidates: [fin.candidate],
      best: 0,
      shards: run.counters.shardsDone,
      bytesMoved: run.bytesMoved,
      backends: run.backends,
      workers: run.workers,
      safeguards: fin.safeguards,
    };
  } catch (e) {
    if (continuesAsNew(e)) throw e;
    run.stage = 'failed';
    await cleanupShards(run.acts.cluster, input.jobId);
    throw e;
  }
}

function kronActivities(input: KronJobInput): KronActs {
  return {
    cluster: clusterActivities(input.timeoutMs),
    steps: proxyActivities<KronActivities>({ startToCloseTimeout: Math.max(60_000, input.timeoutMs), heartbeatTimeout: 60_000, retry: activityRetry() }),
    loops: proxyActivities<KronLoopActivities>(longLoopActivityOptions(input.timeoutMs, input.heartbeatTimeoutMs ?? 30_000)),
  };
}

function progressOf(run: KronRun): KronProgress {
  const s = run.stage;
  const phase: JobProgress['phase'] = s === 'done' ? 'done' : s === 'failed' ? 'failed' : s === 'finishing' ? 'aggregating' : 'running';
  return {
    phase,
    stage: s,
    shardsDone: run.counters.shardsDone,
    shardsTotal: run.total,
    batchesRunning: run.counters.batchesRunning,
    generation: run.generation,
    bytesMoved: run.bytesMoved,
    ...(run.fitSteps.length > 0 ? { fitSteps: run.fitSteps } : {}),
  };
}

function gridSize(input: KronJobInput): number {
  return input.shape.reduce((a, b) => a * b, 1);
}

/** A fit on the direct route, or a solve with missing cells or per-cell noise: long loops (docs/design.md §1 rule 4). */
function isLongLoop(input: KronJobInput): boolean {
  return (input.fit !== undefined && input.route === 'direct') || input.mask !== undefined || input.noiseVector !== undefined;
}

/** Counts a shard's backend and worker. */
function count(run: KronRun, o: ShardOutcome): void {
  run.backends[o.stats.backend] = (run.backends[o.stats.backend] ?? 0) + 1;
  run.workers[o.stats.workerId] = (run.workers[o.stats.workerId] ?? 0) + 1;
}

/** Runs `shards` of `op` in batches (4 shards a batch, 4 batches at once) and returns their outcomes in shard order. */
async function runShards(run: KronRun, op: string, inputs: readonly ArrayRef[], shards: ShardSpec[]): Promise<ShardOutcome[]> {
  const done: Record<string, ShardOutcome> = {};
  await runSharded({
    jobId: run.input.jobId,
    op,
    cls: run.input.cls,
    inputs,
    shards,
    batchShards: 4,
    window: 4,
    deadline: run.deadline,
    done,
    counters: run.counters,
    acts: run.acts.cluster,
  });
  return shards.map((s) => {
    const o = done[s.shardId];
    if (o === undefined) throw new Error(`internal: shard ${s.shardId} has no outcome`);
    count(run, o);
    return o;
  });
}

/** The long loops: one activity drives the worker rounds (kronFit, or kronCgSolve with a mask or noise vector). */
async function solveInOneActivity(run: KronRun): Promise<KronJobResult> {
  const { input } = run;
  run.stage = input.fit !== undefined ? 'fitting' : 'pcg';
  run.total = 1;
  const out =
    input.fit !== undefined && input.mask === undefined && input.noiseVector === undefined
      ? await run.acts.loops.kronFit(input)
      : await run.acts.loops.kronCgSolve(input);
  run.counters.shardsDone = out.shards;
  run.total = out.shards;
  run.bytesMoved = out.bytesMoved;
  Object.assign(run.workers, out.workers);
  run.backends[input.cls] = out.shards;
  run.stage = 'done';
  return {
    jobId: input.jobId,
    n: gridSize(input),
    route: input.route,
    candidates: [out.candidate],
    best: 0,
    shards: out.shards,
    bytesMoved: run.bytesMoved,
    backends: run.backends,
    workers: run.workers,
    ...(out.safeguards !== undefined ? { safeguards: out.safeguards } : {}),
    ...(out.cg !== undefined ? { cg: out.cg } : {}),
    ...(out.fit !== undefined ? { fit: out.fit } : {}),
  };
}

/** The direct route: one `kron-gp-solve` shard per candidate, then their stats read back in one activity. */
async function solveDirect(run: KronRun): Promise<KronJobResult> {
  const { input } = run;
  const D = input.shape.length;
  const shards = input.candidates.map((h, i) => ({
    shardId: shardId(i),
    attrs: {
      kernels: input.kernels.map((k, d) => ({ ...k, lengthscale: h.lengthscales[d] })),
      outputscale: h.outputscale,
      noise: h.noise,
      jitter: input.jitter,
      eigFloor: input.eigFloor,
      gradient: input.gradient,
    },
  }));
  const outs = await runShards(run, 'kron-gp-solve', [input.y, ...input.axes], shards);
  run.stage = 'finishing';
  const stats = await run.acts.steps.kronReadSmall({ refs: outs.map((o) => o.outputs[KRON_SOLVE_OUT.stats] as ArrayRef) });
  const candidates: KronCandidateResult[] = outs.map((o, i) => {
    const s = readKronSolveStats(stats[i] as number[], D);
    const h = input.candidates[i] as KronJobInput['candidates'][number];
    return { hyper: h, lml: s.lml, logdet: s.logdet, alpha: o.outputs[KRON_SOLVE_OUT.alpha] as ArrayRef, ...(input.gradient ? { gradient: s.gradient } : {}) };
  });
  run.stage = 'done';
  return {
    jobId: input.jobId,
    n: gridSize(input),
    route: 'direct',
    candidates,
    best: argmax(candidates.map((c) => c.lml)),
    shards: outs.length,
    bytesMoved: 0,
    backends: run.backends,
    workers: run.workers,
  };
}

/**
 * Fit on the slab route: the optimiser (pure, deterministic) runs here and each LML + gradient
 * is a whole slab solve (minutes at large N), so a restarted orchestrator or worker replays to
 * exactly where it was. Evaluation k's shards are prefixed e<k>. When Temporal suggests it, the
 * workflow continues as new between evaluations, carrying them (`replay`): the next run feeds
 * them to the optimiser again and solves only what comes after.
 */
async function fitOnSlabs(run: KronRun, fit: NonNullable<KronJobInput['fit']>, replay: readonly KronLmlEval[]): Promise<KronJobResult> {
  const { input } = run;
  run.stage = 'fitting';
  const h0 = input.candidates[0] as KronHyper;
  const m0 = {
    axes: input.shape.map(() => new Float64Array(0)),
    kernels: input.kernels.map((k, d) => ({ ...k, lengthscale: h0.lengthscales[d] as number })),
    outputscale: h0.outputscale,
    noise: h0.noise,
    jitter: input.jitter,
    eigFloor: input.eigFloor,
  };
  const history: number[] = [];
  const steps = fitKronSteps(m0, gridSize(input), {
    optimizer: fit.optimizer,
    iters: fit.iters,
    fixNoise: fit.fixNoise,
    onIteration: (_it, lml, gradNorm) => {
      history.push(lml);
      run.fitSteps.push({ iteration: history.length, lml, gradNorm });
    },
  });
  const hyperOf = (m: { kernels: readonly { lengthscale: number }[]; outputscale: number; noise: number }): KronHyper => ({
    lengthscales: m.kernels.map((k) => k.lengthscale),
    outputscale: m.outputscale,
    noise: m.noise,
  });
  const seen = new Map<string, SlabSolution>();
  const evalsDone: KronLmlEval[] = [];
  let evals = 0;
  let solvedHere = 0;
  let st = steps.next();
  while (st.done !== true) {
    const replayed = replay[evals];
    if (replayed !== undefined) {
      evals++;
      evalsDone.push(replayed);
      st = steps.next(replayed);
      continue;
    }
    // Between evaluations the state is whole: continue as new here when Temporal asks (after at
    // least one evaluation in this run, so every run makes progress).
    if (solvedHere > 0 && workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof kronGpWorkflow>(run.input, {
        evals: evalsDone,
        generation: run.generation + 1,
        startedAt: run.deadline - run.input.timeoutMs,
        counters: run.counters,
        bytesMoved: run.bytesMoved,
        backends: run.backends,
        workers: run.workers,
      });
    }
    solvedHere++;
    const hy = hyperOf(st.value);
    const r = await solveOnSlabs(run, hy, `e${evals++}`);
    seen.set(JSON.stringify(hy), r);
    const g = r.candidate.gradient;
    if (g === undefined) throw new Error('internal: slab solve returned no gradient');
    const ev: KronLmlEval = { lml: r.candidate.lml, gradient: g };
    evalsDone.push(ev);
    st = steps.next(ev);
  }
  const hy = hyperOf(st.value.model);
  // The fitted model was evaluated, in this run (seen) or in one before it (solved again, not counted).
  const fin =
    seen.get(JSON.stringify(hy)) ?? (replay.length > 0 ? await solveOnSlabs(run, hy, `f${run.generation}`) : await solveOnSlabs(run, hy, `e${evals++}`));
  run.stage = 'done';
  return {
    jobId: input.jobId,
    n: gridSize(input),
    route: 'slab',
    candidates: [fin.candidate],
    best: 0,
    shards: run.counters.shardsDone,
    bytesMoved: run.bytesMoved,
    backends: run.backends,
    workers: run.workers,
    safeguards: fin.safeguards,
    fit: {
      optimizer: fit.optimizer,
      iterations: history.length,
      evaluations: evals,
      history,
      gradNorms: run.fitSteps.map((x) => x.gradNorm),
      restartedFrom: 0,
    },
  };
}

/** Per-factor outputs of the `kron-factor` shards: eigenvectors V_d, eigenvalues W_d, all outputs. */
interface Factors {
  readonly all: (readonly ArrayRef[])[];
  readonly v: ArrayRef[];
  readonly w: ArrayRef[];
  /** B_d = Qᵀ(∂K/∂ℓ)Q (gradient only). */
  b(d: number): ArrayRef;
}

/** The slab stages' shared context: one hyperparameter set's solve. */
interface SlabSolve {
  readonly run: KronRun;
  readonly h: KronHyper;
  /** Shard id prefix ('' for a plain solve, e<k> for a fit's evaluation k). */
  readonly prefix: string;
  readonly grad: boolean;
  readonly layout: KronSlabLayout;
  readonly factors: Factors;
  /** Slabs along axis 0 and along axis 1. */
  readonly r0: { start: number; end: number }[];
  readonly r1: { start: number; end: number }[];
}

/**
 * One slab solve (factors, stages a/b/c with transposes, finish) of the hyperparameters `h`.
 * With the gradient (docs/workloads.md §3): α̃ = (Λ+σ²)⁻¹Qᵀy exists in stage b (slabs along axis 1). Stage b
 * sums Σα̃², Σλα̃² and the B_d quadratic forms for every d ≠ 1 (axis d whole there); α̃ goes through
 * one more transpose so stage c (slabs along axis 0) adds the one for d = 1.
 */
async function solveOnSlabs(run: KronRun, h: KronHyper, prefix: string): Promise<SlabSolution> {
  const { input } = run;
  const D = input.shape.length;
  // (patched: a slab-route run started before the gradient existed replays without it)
  const grad = input.gradient && patched('kron-slab-gradient');
  const factors = await factorAxes(run, h, prefix, grad);
  const s: SlabSolve = {
    run,
    h,
    prefix,
    grad,
    layout: kronSlabLayout(D),
    factors,
    r0: slabRanges(input.shape[0] as number, input.slabs),
    r1: slabRanges(input.shape[1] as number, input.slabs),
  };
  if (prefix === '') run.total = D + s.r0.length * 2 + s.r1.length;
  run.stage = 'stage-a';
  const a = await stageA(s);
  run.stage = 'transpose';
  const t1 = await transpose(run, a, 1, s.r1.length);
  run.stage = 'stage-b';
  const b = await stageB(s, t1);
  run.stage = 'transpose';
  const t2 = await transpose(
    run,
    b.map((o) => o[s.layout.b.out.u] as ArrayRef),
    0,
    s.r0.length,
  );
  const tAlpha = grad
    ? await transpose(
        run,
        b.map((o) => o[s.layout.b.out.alphaTilde] as ArrayRef),
        0,
        s.r0.length,
      )
    : [];
  run.stage = 'stage-c';
  const c = await stageC(s, t2, tAlpha);
  run.stage = 'finishing';
  return run.acts.steps.kronFinish({
    job: { ...input, candidates: [h] },
    alphaParts: c.map((o) => o[s.layout.c.out.alpha] as ArrayRef),
    factors: factors.all,
    ...(grad ? { gradStats: { b: b.map((o) => o[s.layout.b.out.stats] as ArrayRef), c: c.map((o) => o[s.layout.c.out.stats] as ArrayRef) } } : {}),
  });
}

/** The `kron-factor` shards, one per axis, with the derivative bases B_d when the gradient is asked for. */
async function factorAxes(run: KronRun, h: KronHyper, prefix: string, grad: boolean): Promise<Factors> {
  const { input } = run;
  const shards = input.kernels.map((k, d) => ({
    shardId: `${prefix}f${String(d).padStart(6, '0')}`,
    attrs: { axis: d, kernel: { ...k, lengthscale: h.lengthscales[d] }, jitter: input.jitter, eigFloor: input.eigFloor, ...(grad ? { gradient: true } : {}) },
  }));
  const all = (await runShards(run, 'kron-factor', input.axes, shards)).map((o) => o.outputs);
  return {
    all,
    v: all.map((f) => f[KRON_FACTOR_OUT.eigenvectors] as ArrayRef),
    w: all.map((f) => f[KRON_FACTOR_OUT.eigenvalues] as ArrayRef),
    b: (d) => (all[d] as readonly ArrayRef[])[KRON_FACTOR_OUT.derivativeBasis] as ArrayRef,
  };
}

/** Axes 1 … D−1 (the ones a slab along axis 0 holds whole). */
function restAxes(D: number): number[] {
  return Array.from({ length: D - 1 }, (_, i) => i + 1);
}

/** Stage a (slabs of y along axis 0): u = y ×_d V_dᵀ for d ≥ 1. */
async function stageA(s: SlabSolve): Promise<ArrayRef[]> {
  const { input } = s.run;
  const L = s.layout.a;
  const rest = restAxes(input.shape.length);
  const outs = await runSlabStage(
    s,
    'a',
    input.ySlabs ?? [],
    s.r0,
    0,
    rest.map((d) => s.factors.v[d] as ArrayRef),
    () => rest.map((d) => ({ kind: 'mode', mode: d, input: L.in.v(d), transpose: true })),
  );
  return outs.map((o) => o[L.out.u] as ArrayRef);
}

/** Stage b (slabs along axis 1): ×_0 V_0ᵀ, the eigen-scaling, (the gradient's sums), ×_0 V_0. */
async function stageB(s: SlabSolve, parts: readonly ArrayRef[]): Promise<(readonly ArrayRef[])[]> {
  const { input } = s.run;
  const { h, grad, factors } = s;
  const L = s.layout.b;
  const quadAxes = input.shape.map((_, d) => d).filter((d) => d !== 1);
  const eig = factors.w.map((_, d) => L.in.w(d));
  const bMats = grad ? quadAxes.map((d) => factors.b(d)) : [];
  return runSlabStage(s, 'b', parts, s.r1, 1, [factors.v[0] as ArrayRef, ...factors.w, ...bMats], (r) => [
    { kind: 'mode', mode: 0, input: L.in.v0, transpose: true },
    { kind: 'scale', slabAxis: 1, start: r.start, outputscale: h.outputscale, noise: h.noise, eigInputs: eig },
    ...(grad
      ? [
          { kind: 'keep' } as const,
          { kind: 'moments', slabAxis: 1, start: r.start, outputscale: h.outputscale, eigInputs: eig } as const,
          ...quadAxes.map(
            (d) => ({ kind: 'quad', mode: d, input: L.in.b(d), slabAxis: 1, start: r.start, outputscale: h.outputscale, eigInputs: eig }) as const,
          ),
        ]
      : []),
    { kind: 'mode', mode: 0, input: L.in.v0, transpose: false },
  ]);
}

/** Stage c (slabs along axis 0): α = u ×_d V_d for d ≥ 1, (and the gradient's quadratic form for d = 1 on α̃). */
async function stageC(s: SlabSolve, parts: readonly ArrayRef[], tAlpha: readonly ArrayRef[]): Promise<(readonly ArrayRef[])[]> {
  const { input } = s.run;
  const { h, grad, factors } = s;
  const L = s.layout.c;
  const rest = restAxes(input.shape.length);
  const gradSteps = (r: { start: number }): KronSlabStep[] =>
    grad
      ? [
          {
            kind: 'quad',
            mode: 1,
            input: L.in.b1,
            src: L.in.alphaTilde,
            slabAxis: 0,
            start: r.start,
            outputscale: h.outputscale,
            eigInputs: factors.w.map((_, d) => L.in.w(d)),
          },
        ]
      : [];
  return runSlabStage(
    s,
    'c',
    parts,
    s.r0,
    0,
    rest.map((d) => factors.v[d] as ArrayRef),
    (r) => [...rest.map((d): KronSlabStep => ({ kind: 'mode', mode: d, input: L.in.v(d), transpose: false })), ...gradSteps(r)],
    (i) => (grad ? [tAlpha[i] as ArrayRef, factors.b(1), ...factors.w] : []),
  );
}

/**
 * One stage: a `kron-slab` shard per slab, each its own batch, all at once; inputs
 * [slab, ...mats, ...extra(i)]. Returns each shard's outputs in slab order.
 */
async function runSlabStage(
  s: SlabSolve,
  tag: string,
  parts: readonly ArrayRef[],
  ranges: { start: number; end: number }[],
  axis: number,
  mats: ArrayRef[],
  steps: (r: { start: number }) => KronSlabStep[],
  extra: (i: number) => ArrayRef[] = () => [],
): Promise<(readonly ArrayRef[])[]> {
  const { run, prefix } = s;
  const { input } = run;
  const slabShape = (len: number): number[] => input.shape.map((n, i) => (i === axis ? len : n));
  const outs = await Promise.all(
    parts.map((p, i) => {
      const r = ranges[i] as { start: number; end: number };
      return run.acts.cluster.runShardBatch({
        jobId: input.jobId,
        op: 'kron-slab',
        cls: input.cls,
        inputs: [p, ...mats, ...extra(i)],
        deadline: run.deadline,
        shards: [{ shardId: `${prefix}${tag}${String(i).padStart(6, '0')}`, attrs: { shape: slabShape(r.end - r.start), steps: steps(r) } }],
      });
    }),
  );
  return outs.map((o) => {
    const oc = o.outcomes[0];
    if (oc === undefined) throw new Error(`internal: slab shard ${tag} has no outcome`);
    run.counters.shardsDone++;
    count(run, oc);
    return oc.outputs;
  });
}

/** The all-to-all transpose of the slabs `parts` (along the other axis) into `count` slabs along `to`, through the object store. */
async function transpose(run: KronRun, parts: readonly ArrayRef[], to: 0 | 1, count: number): Promise<readonly ArrayRef[]> {
  const t = await run.acts.steps.kronTranspose({ jobId: run.input.jobId, shape: run.input.shape, parts, from: to === 1 ? 0 : 1, to, count });
  run.bytesMoved += t.bytesMoved;
  return t.parts;
}

function argmax(xs: readonly number[]): number {
  let b = 0;
  xs.forEach((x, i) => {
    if (x > (xs[b] as number)) b = i;
  });
  return b;
}
