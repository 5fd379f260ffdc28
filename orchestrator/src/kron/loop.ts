/**
 * The long-running Kronecker GP activities (docs/design.md §1 rule 4): the loop runs here, every
 * Kronecker mat-vec runs on the workers as `kron-slab` shards sent straight over NATS.
 *
 * - `kronCgSolve`: PCG for an incomplete grid / heteroscedastic noise (core/src/kron/cg.ts,
 *   the same `pcgStart`/`pcgAdvance`/`pcgTurn` steps as the in-process `solveKronCg`). Each
 *   iteration is two worker rounds: K·scatter(p) (mode products with K_d) and the
 *   preconditioner Q(Λ + σ̄²I)⁻¹Qᵀ (mode products with Q_dᵀ, the eigen-scaling, Q_d). On the
 *   slab route (N above one worker's budget) each round is split in slabs along axis 0, the
 *   mode product along axis 0 runs on slabs along axis 1, with the all-to-all transposes of
 *   `kronTransposeWith` between them (bytes moved reported). It heartbeats every iteration
 *   and checkpoints (x, r, p, rᵀz) to the object store under a fixed name every few
 *   iterations; a retried attempt RESUMES from the checkpoint (shard ids carry the attempt,
 *   so no result of an earlier attempt is mistaken for this one's).
 * - `kronFit`: L-BFGS / Adam (`fitKronSteps`) with each LML + gradient evaluation a
 *   `kron-gp-solve` shard (direct route). It heartbeats the current iterate θ and the LML
 *   history after every iteration; a retried attempt RESTARTS the optimiser from that θ with
 *   an empty L-BFGS memory (cheap: the lost work is at most one iteration, and evaluations
 *   are shards whose ids are the digest of θ, so an evaluation already answered is looked up,
 *   not recomputed).
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import {
  GramfleetError,
  KRON_FACTOR_INFO,
  KRON_FACTOR_OUT,
  KRON_SOLVE_OUT,
  factorMatrix,
  kronLoopInputs,
  fitKronSteps,
  kronCgPoints,
  pcgAdvance,
  pcgStart,
  pcgTrueResidual,
  pcgTurn,
  readKronSolveStats,
  scatterObserved,
  slabRanges,
  withHyper,
  type ArrayRef,
  type KronHyper,
  type KronJobInput,
  type KronLmlEval,
  type KronLoopActivities,
  type KronLoopOutput,
  type KronModel,
  type KronProgressEvent,
  type KronSlabStep,
  type PcgState,
} from '@gramfleet/core';
import type { ObjectStore } from '@nats-io/obj';
import { missingObjectFinal, toFailure, type ActivityDeps } from '../host/activities';
import { readBlob } from '../io/blobs';
import { createDispatcher, type Dispatcher } from '../host/dispatch';
import { progressPublisher } from '../eigenpro/job-data';
import { kronTransposeWith } from './activities';

/** Iterations between two PCG checkpoints. */
export const KRON_CG_CHECKPOINT_EVERY = 10;

/** One phase of a distributed Kronecker apply: steps on slabs cut along `axis` (0 or 1). */
interface Phase {
  readonly axis: 0 | 1;
  readonly steps: (r: { start: number }) => KronSlabStep[];
}

/** Object name of a job's PCG checkpoint. */
export function kronCgCheckpointName(jobId: string): string {
  return `kron-cg-checkpoint.${jobId}`;
}

export interface CgCheckpoint {
  readonly rounds: number;
  readonly state: PcgState;
}

export function encodeCg(cp: CgCheckpoint): Uint8Array {
  const s = cp.state;
  const head = new TextEncoder().encode(JSON.stringify({ v: 1, it: s.it, rz: s.rz, res: s.res, bn: s.bn, rounds: cp.rounds, n: s.x.length }));
  const pad = (8 - ((4 + head.length) % 8)) % 8;
  const out = new Uint8Array(4 + head.length + pad + 3 * 8 * s.x.length);
  new DataView(out.buffer).setUint32(0, head.length + pad, true);
  out.set(head, 4);
  out.fill(0x20, 4 + head.length, 4 + head.length + pad);
  let off = 4 + head.length + pad;
  for (const a of [s.x, s.r, s.p]) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), off);
    off += a.byteLength;
  }
  return out;
}

export function decodeCg(b: Uint8Array, n: number): CgCheckpoint | null {
  const hl = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
  const h = JSON.parse(new TextDecoder().decode(b.subarray(4, 4 + hl))) as {
    v: number;
    it: number;
    rz: number;
    res: number;
    bn: number;
    rounds: number;
    n: number;
  };
  if (h.v !== 1 || h.n !== n || b.length !== 4 + hl + 24 * n) return null;
  // copy (a Buffer's slice is a view into a shared pool, not its own ArrayBuffer)
  const take = (i: number): Float64Array => {
    const out = new Float64Array(n);
    new Uint8Array(out.buffer).set(b.subarray(4 + hl + i * 8 * n, 4 + hl + (i + 1) * 8 * n));
    return out;
  };
  return { rounds: h.rounds, state: { it: h.it, rz: h.rz, res: h.res, bn: h.bn, x: take(0), r: take(1), p: take(2) } };
}

async function loadCg(os: ObjectStore, jobId: string, n: number): Promise<CgCheckpoint | null> {
  const b = await readBlob(os, kronCgCheckpointName(jobId));
  return b === null ? null : decodeCg(b, n);
}

/** The model of candidate 0 of a job, from the stored axes. */
async function modelOf(deps: ActivityDeps, input: KronJobInput, h: KronHyper): Promise<KronModel> {
  const axes: Float64Array[] = [];
  for (const a of input.axes) axes.push(Float64Array.from((await deps.store.get(a)).data as ArrayLike<number>));
  const base: KronModel = { axes, kernels: input.kernels, outputscale: h.outputscale, noise: h.noise, jitter: input.jitter, eigFloor: input.eigFloor };
  return withHyper(base, h);
}

/** Shared machinery of one loop activity: the dispatcher, rounds and bytes counters, transient objects. */
interface LoopContext {
  readonly ctx: Context;
  readonly dispatcher: Dispatcher;
  /** The heartbeat's details (phase, iteration, …), sent with every heartbeat. */
  readonly beat: Record<string, unknown>;
  readonly counters: { shards: number; bytes: number; rounds: number };
  /** Marks a round's objects for deletion; they are deleted two rounds later (every shard reading them has answered). */
  readonly forget: (refs: ArrayRef[]) => Promise<void>;
}

function loopContext(deps: ActivityDeps, input: KronJobInput): LoopContext {
  const ctx = Context.current();
  const beat: Record<string, unknown> = { phase: 'setup' };
  const dispatcher = createDispatcher({
    tasks: deps.tasks,
    jobId: input.jobId,
    cls: input.cls,
    deadline: Date.now() + input.timeoutMs,
    log: deps.log,
    signal: ctx.cancellationSignal,
    onWait: () => ctx.heartbeat(beat),
  });
  // Round objects are deleted two rounds later (every shard reading them has answered).
  const transient: ArrayRef[][] = [];
  const forget = async (refs: ArrayRef[]): Promise<void> => {
    transient.push(refs);
    while (transient.length > 2) for (const r of transient.shift() ?? []) await deps.dp.arrays.delete(r.digest).catch(() => undefined);
  };
  return { ctx, dispatcher, beat, counters: { shards: 0, bytes: 0, rounds: 0 }, forget };
}

/** The factors of a CG solve: the mat-vec shards' inputs after x, and each axis's factor info. */
interface CgFactors {
  /** [K_0 … K_{D−1}, V_0 … V_{D−1}, W_0 … W_{D−1}] (core: kronLoopInputs, after x). */
  readonly mats: ArrayRef[];
  readonly info: Float64Array[];
}

/**
 * Step 1 of a CG solve: each axis's eigendecomposition in parallel `kron-factor` shards, and
 * K_d (from the same jittered kernel matrices) uploaded.
 */
async function factorAxes(deps: ActivityDeps, input: KronJobInput, m: KronModel, loop: LoopContext): Promise<CgFactors> {
  const { store } = deps;
  const shape = input.shape;
  const D = shape.length;
  const attempt = loop.ctx.info.attempt;
  const fres = await loop.dispatcher.run(
    input.kernels.map((_, d) => ({
      shardId: `a${attempt}f${d}`,
      op: 'kron-factor',
      inputs: input.axes,
      attrs: { axis: d, kernel: m.kernels[d], jitter: input.jitter, eigFloor: input.eigFloor },
    })),
  );
  loop.counters.shards += D;
  const kRefs: ArrayRef[] = [];
  for (let d = 0; d < D; d++) kRefs.push(await store.put({ dtype: 'f64', shape: [shape[d] as number, shape[d] as number], data: factorMatrix(m, d) }));
  const vRefs = fres.map((r) => r.outputs[KRON_FACTOR_OUT.eigenvectors] as ArrayRef);
  const wRefs = fres.map((r) => r.outputs[KRON_FACTOR_OUT.eigenvalues] as ArrayRef);
  const info = await Promise.all(fres.map(async (r) => (await store.get(r.outputs[KRON_FACTOR_OUT.info] as ArrayRef)).data as Float64Array));
  return { mats: [...kRefs, ...vRefs, ...wRefs], info };
}

/**
 * The two Kronecker applies of a CG iteration as phases of slab steps: K·v (mode products with
 * K_d) and the preconditioner Q(Λ + σ̄²I)⁻¹Qᵀ (mode products with Q_dᵀ, the eigen-scaling, Q_d).
 */
function cgPhases(D: number, h: KronHyper, noiseMean: number): { readonly applyK: Phase[]; readonly precond: Phase[] } {
  const at = kronLoopInputs(D);
  const K = at.k;
  const V = at.v;
  const eig = Array.from({ length: D }, (_, d) => at.w(d));
  const rest = Array.from({ length: D - 1 }, (_, i) => i + 1);
  const modes = (ds: readonly number[], idx: (d: number) => number, transpose: boolean): KronSlabStep[] =>
    ds.map((d) => ({ kind: 'mode', mode: d, input: idx(d), transpose }));
  return {
    applyK: [
      { axis: 0, steps: () => modes(rest, K, false) },
      { axis: 1, steps: () => modes([0], K, false) },
    ],
    precond: [
      { axis: 0, steps: () => modes(rest, V, true) },
      {
        axis: 1,
        steps: (r) => [
          ...modes([0], V, true),
          { kind: 'scale', slabAxis: 1, start: r.start, outputscale: h.outputscale, noise: noiseMean, eigInputs: eig },
          ...modes([0], V, false),
        ],
      },
      { axis: 0, steps: () => modes(rest, V, false) },
    ],
  };
}

/** Where a slab apply stands between phases: the axis its slabs are cut along, the slabs, and every object it made. */
interface SlabState {
  axis: 0 | 1;
  parts: ArrayRef[];
  readonly mine: ArrayRef[];
}

/**
 * (⊗ phases)·v on the workers, v on the full grid: in one `kron-slab` shard on the direct route,
 * or (slab route) in slabs along axis 0 or 1, with all-to-all transposes between phases whose
 * axes differ. Each apply is one round; its objects are forgotten two rounds later.
 */
class KronApplier {
  private readonly n: number;
  private readonly slabs: number;

  constructor(
    private readonly deps: ActivityDeps,
    private readonly input: KronJobInput,
    private readonly loop: LoopContext,
    private readonly mats: readonly ArrayRef[],
  ) {
    this.n = input.shape.reduce((a, b) => a * b, 1);
    this.slabs = input.route === 'slab' ? input.slabs : 1;
  }

  async apply(tag: string, v: Float64Array, phases: readonly Phase[]): Promise<Float64Array> {
    this.loop.counters.rounds++;
    return this.slabs === 1 || this.input.shape.length < 2 ? this.whole(tag, v, phases) : this.inSlabs(tag, v, phases);
  }

  /** Every phase in one shard over the whole grid. */
  private async whole(tag: string, v: Float64Array, phases: readonly Phase[]): Promise<Float64Array> {
    const { store } = this.deps;
    const shape = this.input.shape;
    const x = await store.put({ dtype: 'f64', shape: [...shape], data: v });
    const [r] = await this.loop.dispatcher.run([
      { shardId: tag, op: 'kron-slab', attrs: { shape, steps: phases.flatMap((p) => p.steps({ start: 0 })) }, inputs: [x, ...this.mats] },
    ]);
    this.loop.counters.shards++;
    const out = r?.outputs[0] as ArrayRef;
    const y = (await store.get(out)).data as Float64Array;
    await this.loop.forget([x, out]);
    return y;
  }

  /** Slabs along axis 0, one shard round per phase, transposed to each phase's axis and back. */
  private async inSlabs(tag: string, v: Float64Array, phases: readonly Phase[]): Promise<Float64Array> {
    const { store } = this.deps;
    const shape = this.input.shape;
    const row = this.n / (shape[0] as number);
    const st: SlabState = { axis: 0, parts: [], mine: [] };
    for (const r of slabRanges(shape[0] as number, this.slabs))
      st.parts.push(
        await store.put({ dtype: 'f64', shape: shape.map((s, d) => (d === 0 ? r.end - r.start : s)), data: v.subarray(r.start * row, r.end * row) }),
      );
    st.mine.push(...st.parts);
    for (const [k, ph] of phases.entries()) {
      if (ph.axis !== st.axis) await this.transpose(st, ph.axis);
      const rs = slabRanges(shape[st.axis] as number, this.slabs);
      const res = await this.loop.dispatcher.run(
        st.parts.map((p, i) => {
          const r = rs[i] as { start: number; end: number };
          return {
            shardId: `${tag}p${k}s${i}`,
            op: 'kron-slab',
            attrs: { shape: shape.map((s, d) => (d === st.axis ? r.end - r.start : s)), steps: ph.steps(r) },
            inputs: [p, ...this.mats],
          };
        }),
      );
      this.loop.counters.shards += res.length;
      st.parts = res.map((r) => r.outputs[0] as ArrayRef);
      st.mine.push(...st.parts);
    }
    if (st.axis !== 0) await this.transpose(st, 0);
    const out = new Float64Array(this.n);
    let off = 0;
    for (const p of st.parts) {
      const a = (await store.get(p)).data as Float64Array;
      out.set(a, off);
      off += a.length;
    }
    await this.loop.forget(st.mine);
    return out;
  }

  /** Re-cuts the slabs along axis `to` (bytes moved counted). */
  private async transpose(st: SlabState, to: 0 | 1): Promise<void> {
    const shape = this.input.shape;
    const t = await kronTransposeWith(
      this.deps.store,
      { jobId: this.input.jobId, shape, parts: st.parts, from: st.axis, to, count: slabRanges(shape[to] as number, this.slabs).length },
      () => this.loop.ctx.heartbeat(this.loop.beat),
    );
    this.loop.counters.bytes += t.bytesMoved;
    st.parts = [...t.parts];
    st.mine.push(...st.parts);
    st.axis = to;
  }
}

/** The PCG system's two operators on the observed points: A·v = σ_f²·K·v + noise∘v, and the preconditioner. */
interface CgOperators {
  apply(tag: string, v: Float64Array): Promise<Float64Array>;
  prec(tag: string, r: Float64Array): Promise<Float64Array>;
}

/**
 * Step 2 of a CG solve: PCG from the job's checkpoint when an earlier attempt left one, else
 * from the start; heartbeats every iteration and checkpoints every
 * {@link KRON_CG_CHECKPOINT_EVERY} iterations. Returns the final state.
 */
async function runPcg(
  deps: ActivityDeps,
  input: KronJobInput,
  loop: LoopContext,
  ops: CgOperators,
  b: Float64Array,
  tag: (it: number, k: string) => string,
): Promise<{ s: PcgState; resumedFrom: number }> {
  const { ctx, beat, counters } = loop;
  const tol = input.cg?.tol ?? 1e-10;
  const maxIter = input.cg?.maxIter ?? 2000;
  const resume = await loadCg(deps.dp.arrays, input.jobId, b.length);
  let s: PcgState;
  let resumedFrom = 0;
  if (resume !== null) {
    s = resume.state;
    counters.rounds = resume.rounds;
    resumedFrom = s.it;
    deps.log.info('kron pcg resuming from checkpoint', { jobId: input.jobId, iteration: s.it, attempt: ctx.info.attempt });
  } else {
    s = pcgStart(b, await ops.prec(tag(0, 'm'), b));
  }
  let lastCk = s.it;
  const attempt = ctx.info.attempt;
  const publish = progressPublisher<KronProgressEvent>(deps.dp, input.jobId, deps.log);
  while (s.res > tol && s.it < maxIter) {
    pcgAdvance(s, await ops.apply(tag(s.it + 1, 'k'), s.p));
    beat['phase'] = 'pcg';
    beat['iteration'] = s.it;
    beat['residual'] = s.res;
    ctx.heartbeat(beat);
    // The residual per iteration, for the dashboard (resumed iterations are published again).
    await publish({ kind: 'pcg', jobId: input.jobId, attempt, iteration: s.it, residual: s.res }, `pcg-a${attempt}-${s.it}`);
    if (s.res <= tol) break;
    pcgTurn(s, await ops.prec(tag(s.it, 'm'), s.r));
    if (s.it - lastCk >= KRON_CG_CHECKPOINT_EVERY) {
      await deps.dp.arrays.putBlob({ name: kronCgCheckpointName(input.jobId) }, encodeCg({ rounds: counters.rounds, state: s }));
      lastCk = s.it;
    }
  }
  return { s, resumedFrom };
}

/** `kronCgSolve`: factor the axes, then PCG on the observed points with every Kronecker apply on the workers. */
async function cgSolve(deps: ActivityDeps, input: KronJobInput): Promise<KronLoopOutput> {
  const { store, log } = deps;
  const h = input.candidates[0] as KronHyper;
  const m = await modelOf(deps, input, h);
  const n = input.shape.reduce((a, b) => a * b, 1);
  const loop = loopContext(deps, input);
  const { ctx, dispatcher, counters } = loop;
  const attempt = ctx.info.attempt;
  const y = Float64Array.from((await store.get(input.y)).data as ArrayLike<number>);
  const mask = input.mask === undefined ? undefined : Uint8Array.from((await store.get(input.mask)).data as ArrayLike<number>);
  const nv = input.noiseVector === undefined ? undefined : Float64Array.from((await store.get(input.noiseVector)).data as ArrayLike<number>);
  const pts = kronCgPoints(m, y, mask, nv);
  const no = pts.idx.length;
  try {
    const { mats, info } = await factorAxes(deps, input, m, loop);
    const { applyK, precond } = cgPhases(input.shape.length, h, pts.noiseMean);
    const kron = new KronApplier(deps, input, loop, mats);
    const grid = new Float64Array(n);
    const ops: CgOperators = {
      async apply(tag, v) {
        const kz = await kron.apply(tag, scatterObserved(pts.idx, v, grid), applyK);
        const out = new Float64Array(no);
        for (let t = 0; t < no; t++) out[t] = h.outputscale * (kz[pts.idx[t] as number] as number) + (pts.noise[t] as number) * (v[t] as number);
        return out;
      },
      async prec(tag, r) {
        const z = await kron.apply(tag, scatterObserved(pts.idx, r, grid), precond);
        const out = new Float64Array(no);
        for (let t = 0; t < no; t++) out[t] = z[pts.idx[t] as number] as number;
        return out;
      },
    };
    const tol = input.cg?.tol ?? 1e-10;
    const tag = (it: number, k: string): string => `a${attempt}i${String(it).padStart(6, '0')}${k}`;
    const { s, resumedFrom } = await runPcg(deps, input, loop, ops, pts.b, tag);
    const residual = pcgTrueResidual(pts.b, await ops.apply(tag(s.it, 'r'), s.x), s.bn);
    const alpha = new Float64Array(n);
    for (let t = 0; t < no; t++) alpha[pts.idx[t] as number] = s.x[t] as number;
    const alphaRef = await store.put({ dtype: 'f64', shape: [n], data: alpha });
    await deps.dp.arrays.delete(kronCgCheckpointName(input.jobId)).catch(() => undefined);
    log.info('kron pcg done', { jobId: input.jobId, iterations: s.it, residual, attempt });
    return {
      candidate: { hyper: h, lml: NaN, logdet: NaN, alpha: alphaRef },
      cg: { iterations: s.it, residual, converged: residual <= tol * 10, observed: no, rounds: counters.rounds, resumedFrom },
      shards: counters.shards,
      bytesMoved: counters.bytes,
      workers: { ...dispatcher.workers },
      safeguards: {
        jitter: input.jitter,
        eigFloor: input.eigFloor,
        clamped: info.map((x) => x[KRON_FACTOR_INFO.clamped] as number),
        minEig: info.map((x) => x[KRON_FACTOR_INFO.minEig] as number),
      },
    };
  } finally {
    dispatcher.close();
  }
}

async function fit(deps: ActivityDeps, input: KronJobInput): Promise<KronLoopOutput> {
  const { store, log } = deps;
  const f = input.fit;
  if (f === undefined) throw new GramfleetError('INPUT_INVALID', 'kronFit: the job has no fit options', { field: 'fit' });
  if (input.route !== 'direct')
    throw new GramfleetError('INPUT_OUT_OF_RANGE', 'fit: the hyperparameter fit runs on the direct route (slabs = 1)', { field: 'slabs', bound: '1 for fit' });
  const { ctx, dispatcher, beat, counters } = loopContext(deps, input);
  const D = input.shape.length;
  const n = input.shape.reduce((a, b) => a * b, 1);
  // A retried attempt restarts from the last iterate it heartbeated.
  const prev = (ctx.info.heartbeatDetails as { hyper?: KronHyper; history?: number[]; gradNorms?: number[]; iterations?: number } | undefined) ?? {};
  const h0 = prev.hyper ?? (input.candidates[0] as KronHyper);
  const restartedFrom = prev.iterations ?? 0;
  const history: number[] = [...(prev.history ?? [])];
  const gradNorms: number[] = [...(prev.gradNorms ?? [])];
  const attempt = ctx.info.attempt;
  const publish = progressPublisher<KronProgressEvent>(deps.dp, input.jobId, log);
  const published: Promise<void>[] = [];
  if (restartedFrom > 0) log.info('kron fit restarting from the last iterate', { jobId: input.jobId, iteration: restartedFrom, attempt: ctx.info.attempt });
  try {
    const m0 = await modelOf(deps, input, h0);
    const hyperOf = (m: KronModel): KronHyper => ({ lengthscales: m.kernels.map((k) => k.lengthscale), outputscale: m.outputscale, noise: m.noise });
    const last = new Map<string, { alpha: ArrayRef; lml: number; logdet: number; gradient: KronHyper }>();
    const evaluate = async (m: KronModel): Promise<KronLmlEval> => {
      const hy = hyperOf(m);
      const attrs = { kernels: m.kernels, outputscale: m.outputscale, noise: m.noise, jitter: input.jitter, eigFloor: input.eigFloor, gradient: true };
      const id = `ev${createHash('sha256').update(JSON.stringify(attrs)).digest('hex').slice(0, 24)}`;
      const [r] = await dispatcher.run([{ shardId: id, op: 'kron-gp-solve', attrs, inputs: [input.y, ...input.axes] }]);
      counters.shards++;
      const st = readKronSolveStats((await store.get(r?.outputs[KRON_SOLVE_OUT.stats] as ArrayRef)).data as Float64Array, D);
      last.set(JSON.stringify(hy), { alpha: r?.outputs[KRON_SOLVE_OUT.alpha] as ArrayRef, lml: st.lml, logdet: st.logdet, gradient: st.gradient });
      return { lml: st.lml, gradient: st.gradient };
    };
    let current = h0;
    const steps = fitKronSteps(m0, n, {
      optimizer: f.optimizer,
      iters: Math.max(0, f.iters - restartedFrom),
      fixNoise: f.fixNoise,
      onIteration: (_it, lml, gradNorm) => {
        history.push(lml);
        gradNorms.push(gradNorm);
        // Each accepted step, for the dashboard (awaited before the activity returns).
        const iteration = history.length;
        published.push(publish({ kind: 'fit-step', jobId: input.jobId, attempt, iteration, lml, gradNorm }, `fit-a${attempt}-${iteration}`));
      },
    });
    let s = steps.next();
    let seen = history.length;
    while (s.done !== true) {
      const model = s.value;
      s = steps.next(await evaluate(model));
      // an accepted iteration is the model just evaluated: heartbeat it as the restart point
      if (history.length > seen) {
        current = hyperOf(model);
        seen = history.length;
      }
      beat['phase'] = 'fit';
      beat['iterations'] = history.length;
      beat['hyper'] = current;
      beat['history'] = history;
      beat['gradNorms'] = gradNorms;
      ctx.heartbeat(beat);
    }
    await Promise.all(published);
    const res = s.value;
    const hy = hyperOf(res.model);
    let fin = last.get(JSON.stringify(hy));
    if (fin === undefined) {
      await evaluate(res.model);
      fin = last.get(JSON.stringify(hy));
    }
    const e = fin as { alpha: ArrayRef; lml: number; logdet: number; gradient: KronHyper };
    log.info('kron fit done', { jobId: input.jobId, iterations: history.length, evaluations: res.evaluations, lml: e.lml });
    return {
      candidate: { hyper: hy, lml: e.lml, logdet: e.logdet, alpha: e.alpha, gradient: e.gradient },
      fit: { optimizer: f.optimizer, iterations: history.length, evaluations: counters.shards, history, gradNorms, restartedFrom },
      shards: counters.shards,
      bytesMoved: 0,
      workers: { ...dispatcher.workers },
    };
  } finally {
    dispatcher.close();
  }
}

/** Builds the long-running Kronecker GP activities over the cluster activities' dependencies. */
export function createKronLoopActivities(deps: ActivityDeps): KronLoopActivities {
  return {
    async kronCgSolve(input: KronJobInput): Promise<KronLoopOutput> {
      try {
        return await cgSolve(deps, input);
      } catch (e) {
        throw toFailure(missingObjectFinal(e));
      }
    },
    async kronFit(input: KronJobInput): Promise<KronLoopOutput> {
      try {
        return await fit(deps, input);
      } catch (e) {
        throw toFailure(missingObjectFinal(e));
      }
    },
  };
}
