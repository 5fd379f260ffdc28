/**
 * EigenPro 3/4 training on the cluster: the loop of `trainEigenPro3` in the training activity,
 * its kernel products fanned out to the workers over NATS exactly as EigenPro 2's (centers
 * sharded, model parallel, `kernel-block-matmul` per shard, partials summed in shard order):
 *
 * - prediction K(X_B, Z)·a: one task per center shard, [X_B, Z_j, a_j], summed in shard order;
 *   K(X_B, X_S)·E split like the centers (EigenPro 2's preconditioner parts);
 * - the gradient in the centers' space K(Z, X_B)·G: one task per shard, [Z_j, X_B, G],
 *   stacked in shard order (each row comes from one task, so no sum at all);
 * - delayed projection's temporary centers K(X_B, X_Bk)·b_k: one task per pending batch,
 *   summed in batch order;
 * - exact projection: K(Z, Z) as row blocks [Z_j, Z] (`kernel-block`), then one `cholesky`
 *   task on a worker with the jitter ladder of {@link EIGENPRO_JITTERS}; the per-batch solves
 *   with the factor (2p²c flops) run here, in f64;
 * - `eigenpro` projection: EigenPro 2 on (Z, h), its batches K(Z_B, Z)·θ sharded the same way.
 *
 * Heartbeats every batch, checkpoints (coefficients + setup + position; the RNG state is
 * (seed, epoch, batch)) every N batches where no temporary centers are pending, one progress
 * event per epoch, and a retried attempt resumes from the checkpoint.
 *
 * In steps: {@link trainEigenPro3Cluster} opens the job, uploads the centers
 * ({@link uploadCenters3}), builds the rounds ({@link Ep3Rounds}: the products and the objects
 * and preconditioners they keep between rounds) and runs the loop with its hooks.
 */
import {
  GramfleetError,
  batchTagId,
  trainEigenPro3,
  type ArrayRef,
  type EigenPro3Compute,
  type EigenPro3Plan,
  type EigenProJobInput,
  type EigenProJobResult,
  type NdArray,
  type TaskResult,
} from '@gramfleet/core';
import type { ActivityDeps } from '../host/activities';
import { createDispatcher, type Dispatcher, type RoundTask } from '../host/dispatch';
import { rangeRows, rowsOf } from './rows';
import { beating } from './job-data';
import { openTrainingJob, shardRanges, summariseSetup, symmetrise, topEigenpairsOnWorker, trainingProgress, type OpenedTrainingJob } from './training';
import { WasmArena, loadKernelModuleBytes } from '@gramfleet/workers';

let solveModule: WebAssembly.Module | undefined;

/**
 * The per-batch projection solve (L·Lᵀ)θ = h in this process's own instance of the kernel
 * module (plain build: `gf_cholesky_solve_rows` uses no FMA, so every build gives the same
 * bits): L is copied into the instance once (8p² bytes), each call copies h in and θ out.
 * About 6× the JS loop of `choleskySolveInPlace` at p = 10⁴, c = 10.
 */
export function choleskyWasmSolver(l: Float64Array, p: number): (h: Float64Array, c: number) => void {
  solveModule ??= new WebAssembly.Module(loadKernelModuleBytes(false).bytes);
  const arena = new WasmArena(solveModule, { maxBytes: Math.min(2 ** 32 - 2 ** 16, 8 * p * p + 2 ** 28) });
  const lp = arena.put(l);
  const mark = arena.mark();
  return (h, c) => {
    arena.release(mark);
    const hp = arena.put(h);
    arena.check('gf_cholesky_solve_rows', p, c, lp, Math.max(1, p), hp);
    h.set(arena.f64(hp, h.length));
  };
}

function pad(j: number): string {
  return String(j).padStart(4, '0');
}

/** A term K(A, b)·coef of a sum: the other side b and the coefficients. */
interface Term {
  readonly b: ArrayRef;
  readonly coef: ArrayRef;
}

/** Terms summed into one output ({@link Ep3Rounds.sums}): `cols` columns, named in shard ids. */
interface SumGroup {
  readonly name: string;
  readonly cols: number;
  readonly terms: readonly Term[];
}

/** The centers Z (p × d, f64) and their shards in the store. */
interface Centers3 {
  readonly z: Float64Array;
  readonly ranges: { start: number; end: number }[];
  readonly zRefs: ArrayRef[];
}

/** Runs an EigenPro 3/4 job (input.centers set) inside the training activity. */
export async function trainEigenPro3Cluster(deps: ActivityDeps, input: EigenProJobInput): Promise<EigenProJobResult> {
  const { log } = deps;
  const { params, shape, jobId } = input;
  const { n, p, c } = shape;
  const plan: EigenPro3Plan | undefined = input.projection;
  if (input.centers === undefined || plan === undefined)
    throw new GramfleetError('INPUT_INVALID', 'EigenPro 3 needs centers and a projection plan', { field: 'centers' });
  const job = await openTrainingJob(deps, input);
  const centers = await uploadCenters3(deps, job, input.centers);
  const rounds = new Ep3Rounds(deps, job, centers);
  const progress = trainingProgress(deps, job);
  const resume = await progress.resume();
  let sinceCheckpoint = 0;
  try {
    const r = await trainEigenPro3({
      compute: rounds.compute(),
      params,
      shape,
      plan,
      resume: resume ?? undefined,
      targets: job.targets,
      onSetup: async (setup, projection, resumed) => {
        log.info('eigenpro 3 setup', { jobId, ...projection });
        if (!resumed)
          await progress.publish({ kind: 'setup', jobId, setup: summariseSetup(setup), batchesPerEpoch: Math.ceil(n / setup.batch), projection }, 'setup');
      },
      onBatch: async (take, _tag, _perEpoch, clean) => {
        sinceCheckpoint++;
        if (sinceCheckpoint >= params.checkpointEvery && clean) {
          sinceCheckpoint = 0;
          await progress.checkpoint(take);
        }
      },
      onEpoch: (m) => progress.epochDone(m, params.epochs),
    });
    const coefficients = await rounds.beatWhile(() => deps.store.put({ dtype: 'f64', shape: [p, c], data: r.a }));
    return {
      jobId,
      coefficients,
      centers: input.centers,
      kernel: params.kernel,
      bandwidth: params.bandwidth,
      task: params.task,
      shape,
      setup: summariseSetup(r.setup),
      history: r.history,
      attempt: job.attempt,
      checkpoints: progress.checkpoints,
      workers: { ...rounds.dispatcher.workers },
      trainMs: Date.now() - job.t0,
      projection: r.projection,
      ...(r.resumedFrom !== undefined ? { resumedFrom: r.resumedFrom } : {}),
    };
  } finally {
    rounds.dispatcher.close();
  }
}

/** Reads the centers (p × d) and puts their shards, pinned for the whole job (heartbeating: the transfers can be long). */
async function uploadCenters3(deps: ActivityDeps, job: OpenedTrainingJob, centersRef: ArrayRef): Promise<Centers3> {
  const { params, shape } = job.input;
  const { d, p } = shape;
  const beatWhile = <T>(f: () => Promise<T>): Promise<T> => beating(job.ctx, { phase: 'setup' }, f);
  const z = Float64Array.from((await beatWhile(() => deps.store.get(centersRef))).data as ArrayLike<number>);
  if (z.length !== p * d) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `centers hold ${z.length} values, expected ${p}×${d}`, { field: 'centers' });
  const ranges = shardRanges(p, params.shards);
  const zRefs: ArrayRef[] = [];
  for (const r of ranges) zRefs.push(job.pin(await beatWhile(() => deps.store.put(rangeRows(z, d, r.start, r.end, params.featureDtype)))));
  return { z, ranges, zRefs };
}

/**
 * EigenPro 3/4's kernel products on the workers ({@link EigenPro3Compute}) and what they keep
 * between rounds: the objects of the current cycle (a batch, or a delayed projection's
 * batches: deleted two cycles later), the uploaded rows of the batch and of the pending
 * temporary centers, the two preconditioners' parts, and K(Z, Z) between factor attempts.
 */
class Ep3Rounds {
  readonly dispatcher: Dispatcher;
  private readonly kattrs: Readonly<Record<string, unknown>>;
  /** Training, projection and scoring products (the matmul ops) take the job's accumulation precision. */
  private readonly mattrs: Readonly<Record<string, unknown>>;
  /** What a heartbeat reports (while a round waits, and while a long store transfer runs). */
  private beat: Record<string, unknown> = { phase: 'setup' };
  /** Objects of the current cycle. */
  private live: ArrayRef[] = [];
  /** Uploaded training rows of the current batch and of the pending temporary centers, by identity of the rows array. */
  private readonly rowRefs = new Map<Int32Array, ArrayRef>();
  /** The preconditioner's parts over the training subsample (E, q1 columns) and over the centers' subsample (`eigenpro` projection). */
  private xParts: Term[] = [];
  private q1 = 0;
  private zParts: Term[] = [];
  private qz = 0;
  /** K(Z, Z), kept between attempts of the jitter ladder. */
  private kzz: Float64Array | undefined;

  constructor(
    private readonly deps: ActivityDeps,
    private readonly job: OpenedTrainingJob,
    private readonly centers: Centers3,
  ) {
    const { params } = job.input;
    this.kattrs = { kernel: params.kernel, bandwidth: params.bandwidth };
    this.mattrs = { ...this.kattrs, accumulate: params.accumulate };
    const { input, ctx } = job;
    this.dispatcher = createDispatcher({
      tasks: deps.tasks,
      jobId: input.jobId,
      cls: input.cls,
      deadline: job.t0 + input.timeoutMs,
      log: deps.log,
      signal: ctx.cancellationSignal,
      onWait: () => ctx.heartbeat(this.beat),
    });
  }

  /**
   * Runs `f` while heartbeating. Store transfers of the p × p objects (800 MB at p = 10⁴) and of
   * the centers outlast the heartbeat timeout (a missed heartbeat retries the activity while the
   * old attempt still runs, and both then fight over NATS).
   */
  beatWhile<T>(f: () => Promise<T>): Promise<T> {
    return beating(this.job.ctx, this.beat, f);
  }

  /** The products as trainEigenPro3 calls them. */
  compute(): EigenPro3Compute {
    const { x } = this.job;
    const { z } = this.centers;
    return {
      subsampleKernel: (rows) => this.kernelSquare('setup-kss', x, rows),
      topEigenpairs: (a, s, r, seed) =>
        topEigenpairsOnWorker(
          {
            dispatcher: this.dispatcher,
            ids: { eigh: `setup-eigh${s}-${seed}`, topk: `setup-eig${s}-${seed}` },
            put: (m, k) => this.beatWhile(() => this.deps.store.put({ dtype: 'f64', shape: [k, k], data: m })),
            output: (res, i) => this.output(res, i),
          },
          a,
          s,
          r,
          seed,
        ),
      preconditioner: async (rows, e, q) => {
        this.q1 = q;
        this.xParts = await this.precondParts(x, rows, e, q);
      },
      batch: (rows, a, tag) => this.batch(rows, a, tag),
      predict: (set, a, tag, rows) => this.predict(set, a, tag, rows),
      centersMatmul: (rows, coef, cols, id) => this.centersMatmul(rows, coef, cols, id),
      auxPredict: (rows, aux, id) => this.auxPredict(rows, aux, id),
      centersFactor: (jitter, id) => this.centersFactor(jitter, id),
      choleskySolver: (l, pp) => choleskyWasmSolver(l, pp),
      centersSubsampleKernel: (zRows) => this.kernelSquare('setup-kzs', z, zRows),
      centersPreconditioner: async (zRows, e, q) => {
        this.qz = q;
        this.zParts = await this.precondParts(z, zRows, e, q);
      },
      centersBatch: (zRows, theta, id) => this.centersBatch(zRows, theta, id),
    };
  }

  /** A training batch: pred = Σ_j K(X_B, Z_j)·a_j and phi = Σ_j K(X_B, X_S_j)·E_j, in one round. */
  private async batch(rows: Int32Array, a: Float64Array, tag: { epoch: number; batch: number }): Promise<{ pred: Float64Array; phi: Float64Array }> {
    this.beat = { phase: 'train', epoch: tag.epoch, batch: tag.batch };
    this.job.ctx.heartbeat(this.beat);
    const c = this.job.input.shape.c;
    const xb = await this.rowsRef(rows);
    const [pred, phi] = await this.sums(batchTagId(tag), xb, rows.length, [
      { name: 's', cols: c, terms: await this.coefShards(a, c) },
      { name: 'phi', cols: this.q1, terms: this.xParts },
    ]);
    return { pred: pred as Float64Array, phi: phi as Float64Array };
  }

  /** K(X_set, Z)·a for the test set or the training evaluation rows; ends the cycle. */
  private async predict(set: 'test' | 'train', a: Float64Array, tag: { epoch: number }, rows?: Int32Array): Promise<Float64Array> {
    this.beat = { phase: 'evaluate', epoch: tag.epoch, set };
    this.job.ctx.heartbeat(this.beat);
    const { input, x } = this.job;
    const { d, c } = input.shape;
    const xe = set === 'test' ? (this.job.xTestRef as ArrayRef) : await this.put(rowsOf(x, d, rows ?? [], input.params.featureDtype));
    const m = set === 'test' ? input.shape.nTest : (rows ?? []).length;
    const [sum] = await this.sums(`v${String(tag.epoch).padStart(4, '0')}${set}`, xe, m, [{ name: 's', cols: c, terms: await this.coefShards(a, c) }]);
    await this.endCycle();
    return sum as Float64Array;
  }

  /** K(Z, X[rows])·coef (p × cols), one task per center shard, stacked in shard order; a projection's end ends the cycle. */
  private async centersMatmul(rows: Int32Array, coef: Float64Array, cols: number, id: string): Promise<Float64Array> {
    const { input, x } = this.job;
    const { ranges, zRefs } = this.centers;
    const xr =
      id === 'setup-f'
        ? this.job.pin(await this.beatWhile(() => this.deps.store.put(rowsOf(x, input.shape.d, rows, input.params.featureDtype))))
        : await this.rowsRef(rows);
    const g = await this.put({ dtype: 'f64', shape: [rows.length, cols], data: coef });
    const results = await this.dispatcher.run(
      ranges.map((_, j) => ({ shardId: `${id}z${pad(j)}`, op: 'kernel-block-matmul', attrs: this.mattrs, inputs: [zRefs[j] as ArrayRef, xr, g] })),
    );
    const h = new Float64Array(input.shape.p * cols);
    for (let j = 0; j < ranges.length; j++) h.set(await this.output(results[j]), (ranges[j] as { start: number }).start * cols);
    if (id !== 'setup-f') {
      // The end of a projection: the batch (or the delayed cycle) is done.
      this.rowRefs.clear();
      await this.endCycle();
    }
    return h;
  }

  /** Σ_k K(X[rows], X[aux_k.rows])·aux_k.coef: the pending temporary centers. */
  private async auxPredict(rows: Int32Array, aux: readonly { rows: Int32Array; coef: Float64Array }[], id: string): Promise<Float64Array> {
    const c = this.job.input.shape.c;
    const xb = await this.rowsRef(rows);
    const terms: Term[] = [];
    for (const part of aux)
      terms.push({ b: await this.rowsRef(part.rows), coef: await this.put({ dtype: 'f64', shape: [part.rows.length, c], data: part.coef }) });
    const [sum] = await this.sums(id, xb, rows.length, [{ name: 'k', cols: c, terms }]);
    return sum as Float64Array;
  }

  /**
   * The Cholesky factor of K(Z, Z) + jitter·I on a worker (K(Z, Z) as row blocks [Z_j, Z], kept
   * for the next jitter until a factor succeeds). These p × p objects are deleted once read, so
   * their task ids carry the attempt: a resumed attempt recomputes them (same bytes) instead of
   * finding a deleted result.
   */
  private async centersFactor(jitter: number, id: string): Promise<Float64Array> {
    this.beat = { phase: 'setup', step: 'factor', jitter };
    const { input, attempt, transient } = this.job;
    const { d, p } = input.shape;
    const fdt = input.params.featureDtype;
    const { z, ranges, zRefs } = this.centers;
    const dropOutputs = async (rs: readonly (TaskResult | undefined)[]): Promise<void> => {
      for (const r of rs) for (const o of r?.outputs ?? []) await transient.drop(o.digest);
    };
    if (this.kzz === undefined) {
      const zAll = this.job.pin(
        await this.beatWhile(() => this.deps.store.put({ dtype: fdt, shape: [p, d], data: fdt === 'f32' ? Float32Array.from(z) : z } as NdArray)),
      );
      const results = await this.dispatcher.run(
        ranges.map((_, j) => ({ shardId: `setup-a${attempt}-kzz${pad(j)}`, op: 'kernel-block', attrs: this.kattrs, inputs: [zRefs[j] as ArrayRef, zAll] })),
      );
      const k = new Float64Array(p * p);
      for (let j = 0; j < ranges.length; j++) k.set(await this.output(results[j]), (ranges[j] as { start: number }).start * p);
      await dropOutputs(results);
      this.kzz = symmetrise(k, p);
    }
    const a = Float64Array.from(this.kzz);
    for (let i = 0; i < p; i++) a[i * p + i] = (a[i * p + i] as number) + jitter;
    const ar = await this.beatWhile(() => this.deps.store.put({ dtype: 'f64', shape: [p, p], data: a }));
    const [r] = await this.dispatcher.run([{ shardId: `setup-a${attempt}-${id}`, op: 'cholesky', attrs: {}, inputs: [ar] }]);
    const l = Float64Array.from(await this.output(r));
    await transient.drop(ar.digest);
    await dropOutputs([r]);
    this.kzz = undefined;
    return l;
  }

  /** A batch of the `eigenpro` projection: pred = K(Z[zRows], Z)·θ and phi = K(Z[zRows], Z_S)·E. */
  private async centersBatch(zRows: Int32Array, theta: Float64Array, id: string): Promise<{ pred: Float64Array; phi: Float64Array }> {
    this.job.ctx.heartbeat(this.beat);
    const { input } = this.job;
    const c = input.shape.c;
    const zb = await this.put(rowsOf(this.centers.z, input.shape.d, zRows, input.params.featureDtype));
    const [pred, phi] = await this.sums(id, zb, zRows.length, [
      { name: 's', cols: c, terms: await this.coefShards(theta, c) },
      { name: 'phi', cols: this.qz, terms: this.zParts },
    ]);
    return { pred: pred as Float64Array, phi: phi as Float64Array };
  }

  /** Σ_k K(A, B_k)·C_k per group, every group's tasks in one round, sums in task order. */
  private async sums(prefix: string, a: ArrayRef, rows: number, groups: readonly SumGroup[]): Promise<Float64Array[]> {
    const tasks: RoundTask[] = [];
    for (const g of groups)
      g.terms.forEach((t, j) =>
        tasks.push({ shardId: `${prefix}${g.name}${pad(j)}`, op: 'kernel-block-matmul', attrs: this.mattrs, inputs: [a, t.b, t.coef] }),
      );
    const results = await this.dispatcher.run(tasks);
    const out: Float64Array[] = [];
    let k = 0;
    for (const g of groups) {
      const sum = new Float64Array(rows * g.cols);
      for (let j = 0; j < g.terms.length; j++, k++) {
        const part = await this.output(results[k]);
        if (part.length !== sum.length)
          throw new GramfleetError('JOB_FAILED', `task ${prefix}${g.name}${pad(j)} returned ${part.length} values, expected ${sum.length}`);
        for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (part[i] as number);
      }
      out.push(sum);
    }
    return out;
  }

  /** The coefficients' shard slices, one term per center shard. */
  private async coefShards(a: Float64Array, cols: number): Promise<Term[]> {
    const { ranges, zRefs } = this.centers;
    const terms: Term[] = [];
    for (let j = 0; j < ranges.length; j++) {
      const r = ranges[j] as { start: number; end: number };
      terms.push({
        b: zRefs[j] as ArrayRef,
        coef: await this.put({ dtype: 'f64', shape: [r.end - r.start, cols], data: a.slice(r.start * cols, r.end * cols) }),
      });
    }
    return terms;
  }

  /** A preconditioner in parts split like the centers: subsample rows of `src` and E's rows, pinned. */
  private async precondParts(src: Float64Array, rows: Int32Array, e: Float64Array, q: number): Promise<Term[]> {
    const { input } = this.job;
    const parts: Term[] = [];
    for (const r of shardRanges(rows.length, Math.min(input.params.shards, rows.length))) {
      parts.push({
        b: this.job.pin(await this.beatWhile(() => this.deps.store.put(rowsOf(src, input.shape.d, rows.subarray(r.start, r.end), input.params.featureDtype)))),
        coef: this.job.pin(
          await this.beatWhile(() => this.deps.store.put({ dtype: 'f64', shape: [r.end - r.start, q], data: e.slice(r.start * q, r.end * q) })),
        ),
      });
    }
    return parts;
  }

  /** K(src[rows], src[rows]) on a worker, symmetrised. */
  private async kernelSquare(id: string, src: Float64Array, rows: Int32Array): Promise<Float64Array> {
    const { input } = this.job;
    const ref = this.job.pin(await this.beatWhile(() => this.deps.store.put(rowsOf(src, input.shape.d, rows, input.params.featureDtype))));
    const [r] = await this.dispatcher.run([{ shardId: id, op: 'kernel-block', attrs: this.kattrs, inputs: [ref, ref] }]);
    return symmetrise(Float64Array.from(await this.output(r)), rows.length);
  }

  /** Uploads training rows once per cycle (by identity of the rows array). */
  private async rowsRef(rows: Int32Array): Promise<ArrayRef> {
    const got = this.rowRefs.get(rows);
    if (got !== undefined) {
      this.live.push(got);
      return got;
    }
    const { input, x } = this.job;
    const ref = await this.put(rowsOf(x, input.shape.d, rows, input.params.featureDtype));
    this.rowRefs.set(rows, ref);
    return ref;
  }

  /** Puts an object of the current cycle. */
  private async put(a: NdArray): Promise<ArrayRef> {
    const ref = await this.beatWhile(() => this.deps.store.put(a));
    this.live.push(ref);
    return ref;
  }

  /** Ends a cycle: its objects are deleted two cycles later, when every task using them has answered. */
  private async endCycle(): Promise<void> {
    const refs = this.live;
    this.live = [];
    await this.job.transient.endCycle(refs);
  }

  /** Output `i` of a task's result. */
  private async output(r: TaskResult | undefined, i = 0): Promise<Float64Array> {
    const ref = r?.outputs[i];
    if (r === undefined || ref === undefined) throw new GramfleetError('JOB_FAILED', `task ${r?.shardId ?? '?'} returned no output ${i}`);
    return (await this.beatWhile(() => this.deps.store.get(ref))).data as Float64Array;
  }
}
