/**
 * EigenPro 2 on the cluster: the whole loop of `trainEigenPro2` runs in the training activity,
 * with the kernel products fanned out to the workers over NATS (centers sharded, model
 * parallel): per batch one `kernel-block-matmul` task per center shard (K(X_B, Z_j)·a_j) and one
 * per part of the preconditioner block (K(X_B, X_S_j)·E_j, the subsample split like the
 * centers), partials summed in shard order, the update applied here. The setup's s × s
 * eigensolve runs on a worker (`eigh-topk` to a 1e-4 Ritz residual, or the full `eigh` when
 * r ≥ s/4). Arrays travel by digest (workers cache the center shards). The activity heartbeats
 * every batch, checkpoints every N batches to the object store, publishes one progress event
 * per epoch, and a retried attempt resumes from the checkpoint.
 *
 * In steps: {@link trainEigenPro2Cluster} opens the job, starts the center upload
 * ({@link uploadCenters}), builds the rounds ({@link Ep2Rounds}: the kernel products and the
 * state they keep between rounds) and runs the loop with its checkpoint and progress hooks.
 */
import {
  GramfleetError,
  KERNEL_ROWS_MATMUL_OP_ID,
  batchTagId,
  isGramfleetError,
  trainEigenPro2,
  type ArrayRef,
  type EigenProCompute,
  type EigenProJobInput,
  type EigenProJobResult,
  type TaskResult,
} from '@gramfleet/core';
import type { ActivityDeps } from '../host/activities';
import { createDispatcher, createPinner, type Dispatcher, type Pinner, type RoundTask } from '../host/dispatch';
import { centerLayout, rowsOf, type CenterLayout } from './rows';
import { beating } from './job-data';
import { createProfiler, type EigenProProfiler } from './profile';
import { openTrainingJob, shardRanges, summariseSetup, symmetrise, topEigenpairsOnWorker, trainingProgress, type OpenedTrainingJob } from './training';

/** The rows of a round: the batch rows themselves, or their indices into the resident row blocks. */
type XSource = { readonly kind: 'x' | 'rows'; readonly ref: ArrayRef };

/** One part of the preconditioner block: subsample rows X_S_j and E_j. */
interface PhiPart {
  readonly xs: ArrayRef;
  readonly e: ArrayRef;
}

/** The centers (the training rows) in shards, in epoch 1's visiting order, and their upload. */
interface Centers {
  readonly layout: CenterLayout;
  /** The shards' refs, filled as they upload. */
  readonly zRefs: ArrayRef[];
  /** Resolves when every shard is uploaded (the first round waits for it). */
  readonly ready: Promise<void>;
}

/** Runs an EigenPro 2 job (input.centers unset) inside the training activity. */
export async function trainEigenPro2Cluster(deps: ActivityDeps, input: EigenProJobInput): Promise<EigenProJobResult> {
  const { store } = deps;
  const { params, shape, jobId } = input;
  const { n, p, c } = shape;
  const prof = createProfiler(deps.log, deps.eigenproProfile);
  const job = await openTrainingJob(deps, input);
  const centers = uploadCenters(deps, job, prof);
  prof.add('setup.load', Date.now() - job.t0);
  const rounds = new Ep2Rounds(deps, job, prof, centers);
  const progress = trainingProgress(deps, job);
  const resume = await progress.resume();
  let batches = 0;
  try {
    const r = await trainEigenPro2({
      compute: rounds.compute(),
      params,
      shape,
      resume: resume ?? undefined,
      targets: job.targets,
      onSetup: async (setup) => {
        prof.flush({ jobId, epoch: 0, phase: 'setup', n, p, shards: params.shards, batch: setup.batch, q: setup.q });
        await progress.publish({ kind: 'setup', jobId, setup: summariseSetup(setup), batchesPerEpoch: Math.ceil(n / setup.batch) }, 'setup');
      },
      onBatch: async (take) => {
        batches++;
        if (batches % params.checkpointEvery === 0) await progress.checkpoint(take);
      },
      onEpoch: async (m) => {
        prof.flush({ jobId, epoch: m.epoch, n, p, shards: params.shards, featureDtype: params.featureDtype });
        await progress.epochDone(m, params.epochs);
      },
    });
    const coefficients = await store.put({ dtype: 'f64', shape: [p, c], data: r.a });
    return {
      jobId,
      coefficients,
      centers: input.x,
      ...(input.featureScale !== undefined ? { centersScale: input.featureScale } : {}),
      kernel: params.kernel,
      bandwidth: params.bandwidth,
      task: params.task,
      shape,
      setup: summariseSetup(r.setup),
      history: r.history,
      attempt: job.attempt,
      checkpoints: progress.checkpoints,
      workers: { ...rounds.dispatcher.workers },
      kernelRows: { ...rounds.dispatcher.kernelRows },
      trainMs: Date.now() - job.t0,
      ...(r.resumedFrom !== undefined ? { resumedFrom: r.resumedFrom } : {}),
    };
  } finally {
    rounds.dispatcher.close();
  }
}

/**
 * Starts uploading the center shards in epoch 1's visiting order (rows.ts: centerLayout),
 * once (content-addressed: a retried attempt re-puts nothing); tasks name rows by position. The
 * upload runs while the setup's subsample kernel and eigensolve do (they do not use it).
 */
function uploadCenters(deps: ActivityDeps, job: OpenedTrainingJob, prof: EigenProProfiler): Centers {
  const { params, shape } = job.input;
  const layout = centerLayout(shape.p, params.seed, params.shards);
  const zRefs: ArrayRef[] = [];
  const loading = <T>(f: () => Promise<T>): Promise<T> => beating(job.ctx, { phase: 'load' }, f);
  const ready = (async () => {
    for (const r of layout.ranges)
      zRefs.push(
        job.pin(
          await prof.time('setup.zPut', () => loading(() => deps.store.put(rowsOf(job.x, shape.d, layout.perm.subarray(r.start, r.end), params.featureDtype)))),
        ),
      );
  })();
  ready.catch(() => undefined); // a failure is thrown where it is awaited
  return { layout, zRefs, ready };
}

/**
 * EigenPro 2's kernel products on the workers ({@link EigenProCompute}) and the state they keep
 * between rounds: the coefficient slice each shard was last sent (the next goes as a patch of
 * it), the preconditioner's parts, and the heartbeat details.
 */
class Ep2Rounds {
  readonly dispatcher: Dispatcher;
  private readonly pinner: Pinner;
  /** Kernel-block attributes (setup) and the matmul ops' (training and scoring). */
  private readonly kattrs: Readonly<Record<string, unknown>>;
  private readonly mattrs: Readonly<Record<string, unknown>>;
  /**
   * Where a round's rows come from: the batch rows themselves (`x`), or their indices into the
   * center shards, which are the row blocks of X and stay in the workers' caches (`rows`, op
   * kernel-rows-matmul, wasm workers). The rows path sends m indices per batch instead of m×d values.
   */
  private readonly residentRows: boolean;
  private readonly xTestSource: XSource | undefined;
  /** What a heartbeat reports (the dispatcher beats it while a round waits). */
  private beat: Record<string, unknown> = { phase: 'setup' };
  /**
   * The preconditioner block K(X_B, X_S)·E is split like the centers, Σ_j K(X_B, X_S_j)·E_j, so
   * its tasks balance over the workers with the center shards (one s-wide task would not).
   */
  private phiParts: PhiPart[] = [];
  private q1 = 0;
  /**
   * The coefficient slice each shard was last sent: the next one goes as a patch of it
   * (ArrayRef.patch: only the rows an update changed, ~3.7k of 60k, are stored), rebuilt from
   * the worker's cache. A worker that does not hold it (restarted, replaced) fails the round
   * with STORE_PATCH_BASE_MISSING, and the round is sent again with every slice whole.
   */
  private sentA: (ArrayRef | undefined)[];
  /** When the last batch ended (the coordinator's share is the time until the next starts). */
  private lastBatchEnd: number | undefined;

  constructor(
    private readonly deps: ActivityDeps,
    private readonly job: OpenedTrainingJob,
    private readonly prof: EigenProProfiler,
    private readonly centers: Centers,
  ) {
    const { input, ctx } = job;
    const { params } = input;
    // Shard j's tasks (its centers, its preconditioner part, its test rows) go to the same worker
    // every round, whose caches then hold the shard and, with f32 products, its kernel rows.
    this.pinner = createPinner({ tasks: deps.tasks, cls: input.cls });
    this.dispatcher = createDispatcher({
      tasks: deps.tasks,
      jobId: input.jobId,
      cls: input.cls,
      deadline: job.t0 + input.timeoutMs,
      log: deps.log,
      signal: ctx.cancellationSignal,
      onWait: () => ctx.heartbeat(this.beat),
    });
    this.kattrs = { kernel: params.kernel, bandwidth: params.bandwidth };
    // Training and scoring products (the matmul ops) take the job's accumulation precision; f32
    // products on wasm workers keep their kernel rows (workers/src/kernel-cache.ts).
    this.mattrs = { ...this.kattrs, accumulate: params.accumulate, ...(params.accumulate === 'f32' && input.cls === 'wasm' ? { cache: true } : {}) };
    this.residentRows = input.cls === 'wasm';
    this.xTestSource = job.xTestRef !== undefined ? { kind: 'x', ref: job.xTestRef } : undefined;
    this.sentA = centers.layout.ranges.map(() => undefined);
  }

  /** The products as trainEigenPro2 calls them (the setup's timed by the profiler). */
  compute(): EigenProCompute {
    const prof = this.prof;
    return {
      subsampleKernel: (rows) => prof.time('setup.subsampleKernel', () => this.subsampleKernel(rows)),
      topEigenpairs: (a, s, r, seed) => prof.time('setup.topEigenpairs', () => this.topEigenpairs(a, s, r, seed)),
      preconditioner: (rows, e, q) => prof.time('setup.preconditioner', () => this.preconditioner(rows, e, q)),
      batch: (rows, a, tag) => this.batch(rows, a, tag),
      predict: (set, a, tag, rows) => this.predict(set, a, tag, rows),
    };
  }

  /** K(X_S, X_S) of the subsample, symmetrised. */
  private async subsampleKernel(rows: Int32Array): Promise<Float64Array> {
    const { job, deps } = this;
    const xs = job.pin(await deps.store.put(rowsOf(job.x, job.input.shape.d, rows, job.input.params.featureDtype)));
    const [r] = await this.dispatcher.run([{ shardId: 'setup-kss', op: 'kernel-block', attrs: this.kattrs, inputs: [xs, xs] }]);
    return symmetrise(Float64Array.from(await this.output(r as TaskResult)), rows.length);
  }

  private topEigenpairs(a: Float64Array, s: number, r: number, seed: number): Promise<{ w: Float64Array; v: Float64Array }> {
    return topEigenpairsOnWorker(
      {
        dispatcher: this.dispatcher,
        ids: { eigh: 'setup-eigh', topk: 'setup-eig' },
        put: (m, n) => this.deps.store.put({ dtype: 'f64', shape: [n, n], data: m }),
        output: (res, i) => this.output(res as TaskResult, i),
      },
      a,
      s,
      r,
      seed,
    );
  }

  /** Installs the preconditioner: E (s × q) over the subsample rows, in parts split like the centers. */
  private async preconditioner(rows: Int32Array, e: Float64Array, q: number): Promise<void> {
    const { job, deps } = this;
    const { d } = job.input.shape;
    const { shards, featureDtype } = job.input.params;
    this.q1 = q;
    this.phiParts = [];
    for (const r of shardRanges(rows.length, Math.min(shards, rows.length))) {
      this.phiParts.push({
        xs: job.pin(await deps.store.put(rowsOf(job.x, d, rows.subarray(r.start, r.end), featureDtype))),
        e: job.pin(await deps.store.put({ dtype: 'f64', shape: [r.end - r.start, q], data: e.slice(r.start * q, r.end * q) })),
      });
    }
  }

  /** One training batch: pred = K(X_B, Z)·a and phi = K(X_B, X_S)·E, in one round. */
  private async batch(rows: Int32Array, a: Float64Array, tag: { epoch: number; batch: number }): Promise<{ pred: Float64Array; phi: Float64Array }> {
    const prof = this.prof;
    const tb = performance.now();
    if (this.lastBatchEnd !== undefined) prof.add('train.coordinator', tb - this.lastBatchEnd);
    this.beat = { phase: 'train', epoch: tag.epoch, batch: tag.batch };
    this.job.ctx.heartbeat(this.beat);
    const { sum, extra, refs } = await this.shardSum(this.putRows(rows, 'train'), a, batchTagId(tag), rows.length, 'train');
    // Parts summed in part order (fixed by the shard count, never by the workers).
    const phi = new Float64Array(rows.length * this.q1);
    for (const part of extra) {
      if (part.length !== phi.length) throw new GramfleetError('JOB_FAILED', `preconditioner block part has ${part.length} entries, expected ${phi.length}`);
      for (let i = 0; i < phi.length; i++) phi[i] = (phi[i] as number) + (part[i] as number);
    }
    await prof.time('train.delete', () => this.forget(refs));
    this.lastBatchEnd = performance.now();
    prof.add('train.batch', this.lastBatchEnd - tb);
    return { pred: sum, phi };
  }

  /** K(X_set, Z)·a for the test set or the training evaluation rows. */
  private async predict(set: 'test' | 'train', a: Float64Array, tag: { epoch: number }, rows?: Int32Array): Promise<Float64Array> {
    if (this.lastBatchEnd !== undefined) this.prof.add('train.coordinator', performance.now() - this.lastBatchEnd);
    this.lastBatchEnd = undefined;
    this.beat = { phase: 'evaluate', epoch: tag.epoch, set };
    this.job.ctx.heartbeat(this.beat);
    const src = set === 'test' ? (this.xTestSource as XSource) : this.putRows(rows ?? [], 'eval');
    const m = set === 'test' ? this.job.input.shape.nTest : (rows ?? []).length;
    const { sum, refs } = await this.shardSum(src, a, `v${String(tag.epoch).padStart(4, '0')}${set}`, m, 'eval');
    await this.forget(refs);
    return sum;
  }

  /**
   * Σ_j K(X_src, Z_j)·a_j in shard order, the preconditioner parts (batches), and the per-round
   * objects to delete later. The rows (or batch) and every coefficient slice are put at once; a
   * worker missing a patch's base gets the round again with every slice whole.
   */
  private async shardSum(
    src: Promise<XSource> | XSource,
    a: Float64Array,
    prefix: string,
    rows: number,
    phase: string,
  ): Promise<{ sum: Float64Array; extra: Float64Array[]; refs: ArrayRef[] }> {
    const { ranges } = this.centers.layout;
    const [xs, first] = await Promise.all([src, this.putA(a, phase), this.centers.ready]);
    const stored = [...first.stored];
    const results = await this.round(xs, first.refs, prefix, '', phase).catch(async (e: unknown) => {
      if (!isGramfleetError(e) || e.code !== 'STORE_PATCH_BASE_MISSING') throw e;
      this.deps.log.warn('a worker lacks the coefficients a patch was made against; sending them whole', { jobId: this.job.input.jobId, round: prefix });
      this.sentA = ranges.map(() => undefined);
      const whole = await this.putA(a, phase);
      stored.push(...whole.stored);
      return this.round(xs, whole.refs, prefix, 'w', phase);
    });
    this.prof.tasks(phase, results);
    const parts = await Promise.all(results.map((r) => this.output(r, 0, phase)));
    const c = this.job.input.shape.c;
    const sum = new Float64Array(rows * c);
    // Fixed order: shard 0, 1, …, so the sum depends on the shard count only, never on the workers.
    for (let j = 0; j < ranges.length; j++) {
      const part = parts[j] as Float64Array;
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (part[i] as number);
    }
    return { sum, extra: parts.slice(ranges.length), refs: [...(xs === this.xTestSource ? [] : [xs.ref]), ...stored] };
  }

  /** One round: a task per center shard (and per preconditioner part in a batch), each pinned to its shard's worker. */
  private async round(xs: XSource, refs: readonly ArrayRef[], prefix: string, tag: string, phase: string): Promise<TaskResult[]> {
    const { ranges } = this.centers.layout;
    const pins = await this.pinner.pins(ranges.length);
    const tasks = ranges.map((_, j) =>
      this.blockTask(`${prefix}${tag}s${String(j).padStart(4, '0')}`, xs, this.centers.zRefs[j] as ArrayRef, refs[j] as ArrayRef, pins[j]),
    );
    const withPhi = prefix.startsWith('e') && this.phiParts.length > 0;
    if (withPhi)
      this.phiParts.forEach((ph, j) => tasks.push(this.blockTask(`${prefix}${tag}phi${String(j).padStart(4, '0')}`, xs, ph.xs, ph.e, pins[j % pins.length])));
    return this.prof.time(`${phase}.round`, () => this.dispatcher.run(tasks));
  }

  private blockTask(shardId: string, src: XSource, z: ArrayRef, a: ArrayRef, pin: string | undefined): RoundTask {
    return src.kind === 'rows'
      ? { shardId, op: KERNEL_ROWS_MATMUL_OP_ID, attrs: this.mattrs, inputs: [src.ref, z, a, ...this.centers.zRefs], pin }
      : { shardId, op: 'kernel-block-matmul', attrs: this.mattrs, inputs: [src.ref, z, a], pin };
  }

  /** A round's rows: their positions in the center shards (resident rows), or the rows themselves. */
  private putRows(rows: ArrayLike<number>, phase: string): Promise<XSource> {
    const { job, deps, prof } = this;
    const { pos } = this.centers.layout;
    return this.residentRows
      ? prof.time(`${phase}.rowsPut`, async () => ({
          kind: 'rows',
          ref: await deps.store.put({ dtype: 'i32', shape: [rows.length], data: Int32Array.from(rows, (i) => pos[i] as number) }),
        }))
      : prof.time(`${phase}.xPut`, async () => ({
          kind: 'x',
          ref: await deps.store.put(rowsOf(job.x, job.input.shape.d, rows, job.input.params.featureDtype)),
        }));
  }

  /** Puts each shard's slice of the coefficients (a patch of the slice it was last sent, where there is one). */
  private async putA(a: Float64Array, phase: string): Promise<{ refs: ArrayRef[]; stored: ArrayRef[] }> {
    const { store } = this.deps;
    const c = this.job.input.shape.c;
    const refs = await Promise.all(
      this.centers.layout.ranges.map((r, j) =>
        this.prof.time(`${phase}.aPut`, () => {
          const arr = { dtype: 'f64' as const, shape: [r.end - r.start, c], data: this.slice(a, r) };
          const prev = this.sentA[j];
          return prev !== undefined ? store.putPatched(arr, prev) : store.put(arr);
        }),
      ),
    );
    this.sentA = refs;
    return { refs, stored: refs.map((r) => r.patch?.rows ?? r) };
  }

  /** Rows [start, end) of the shard order of the coefficients (c columns). */
  private slice(a: Float64Array, r: { start: number; end: number }): Float64Array {
    const { perm } = this.centers.layout;
    const c = this.job.input.shape.c;
    const out = new Float64Array((r.end - r.start) * c);
    for (let q = r.start; q < r.end; q++) out.set(a.subarray((perm[q] as number) * c, ((perm[q] as number) + 1) * c), (q - r.start) * c);
    return out;
  }

  /** Output `i` of a task's result. */
  private async output(r: TaskResult, i = 0, phase = 'setup'): Promise<Float64Array> {
    const ref = r.outputs[i];
    if (ref === undefined) throw new GramfleetError('JOB_FAILED', `task ${r.shardId} returned no output ${i}`);
    return this.prof.time(`${phase}.outGet`, async () => (await this.deps.store.get(ref)).data as Float64Array);
  }

  /**
   * Ends a round's cycle: its objects are deleted two cycles later (every task using them has
   * answered), unless pinned or named again by a newer round (content addressing: transient.ts).
   */
  private forget(refs: ArrayRef[]): Promise<void> {
    return this.job.transient.endCycle(refs);
  }
}
