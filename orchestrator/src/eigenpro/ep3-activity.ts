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
 */
import { Context } from '@temporalio/activity';
import {
  EIGENPRO_EIGEN_TOL, GramfleetError, eigenSolverFor, topOfFullEigh, trainEigenPro3,
  type ArrayRef, type EigenPro3Compute, type EigenPro3Plan, type EigenProJobInput, type EigenProJobResult,
  type NdArray, type TaskResult,
} from '@gramfleet/core';
import type { ActivityDeps } from '../host/activities';
import { shardRanges, summariseSetup } from './activity';
import { saveCheckpoint } from './checkpoint';
import { createDispatcher, type Dispatcher, type RoundTask } from '../host/dispatch';
import { rangeRows, rowsOf, tagId } from './rows';
import { createTransientObjects } from './transient';
import { beating, loadTrainingData, progressPublisher, resumeCheckpoint } from './job-data';
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

/** Runs an EigenPro 3/4 job (input.centers set) inside the training activity. */
export async function trainEigenPro3Cluster(deps: ActivityDeps, input: EigenProJobInput): Promise<EigenProJobResult> {
  const { dp, store, log } = deps;
  // Objects deleted after use, and the job's long-lived objects that must never be (transient.ts).
  const transient = createTransientObjects((digest) => store.delete(digest));
  const pin = (r: ArrayRef): ArrayRef => transient.pin(r);
  for (const r of [input.x, input.y, input.xTest, input.yTest]) if (r !== undefined) pin(r);
  const ctx = Context.current();
  const attempt = ctx.info.attempt;
  const { params, shape, jobId } = input;
  const { n, d, c, p } = shape;
  const plan: EigenPro3Plan | undefined = input.projection;
  if (input.centers === undefined || plan === undefined) throw new GramfleetError('INPUT_INVALID', 'EigenPro 3 needs centers and a projection plan', { field: 'centers' });
  const fdt = params.featureDtype;
  const t0 = Date.now();
  const { x, targets, xTestRef } = await loadTrainingData(ctx, store, input, pin);
  let beat: Record<string, unknown> = { phase: 'setup' };
  // Store transfers of the p × p objects (800 MB at p = 10⁴) and of the centers outlast the
  // heartbeat timeout: beat while any of them runs (a missed heartbeat retries the activity
  // while the old attempt still runs, and both then fight over NATS).
  const beatWhile = <T>(f: () => Promise<T>): Promise<T> => beating(ctx, beat, f);
  const z = Float64Array.from((await beatWhile(() => store.get(input.centers as ArrayRef))).data as ArrayLike<number>);
  if (z.length !== p * d) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `centers hold ${z.length} values, expected ${p}×${d}`, { field: 'centers' });
  const ranges = shardRanges(p, params.shards);
  const zRefs: ArrayRef[] = [];
  for (const r of ranges) zRefs.push(pin(await beatWhile(() => store.put(rangeRows(z, d, r.start, r.end, fdt)))));
  const dispatcher: Dispatcher = createDispatcher({
    tasks: deps.tasks, jobId, cls: input.cls, deadline: t0 + input.timeoutMs, log, signal: ctx.cancellationSignal, onWait: () => ctx.heartbeat(beat),
  });
  const kattrs = { kernel: params.kernel, bandwidth: params.bandwidth };
  // Training, projection and scoring products (the matmul ops) take the job's accumulation precision.
  const mattrs = { ...kattrs, accumulate: params.accumulate };
  const output = async (r: TaskResult | undefined, i = 0): Promise<Float64Array> => {
    const ref = r?.outputs[i];
    if (r === undefined || ref === undefined) throw new GramfleetError('JOB_FAILED', `task ${r?.shardId ?? '?'} returned no output ${i}`);
    return (await beatWhile(() => store.get(ref))).data as Float64Array;
  };
  // Objects of a batch (or of a delayed cycle) are deleted two cycles later, when every task using them has answered.
  let live: ArrayRef[] = [];
  const put = async (a: NdArray): Promise<ArrayRef> => {
    const ref = await beatWhile(() => store.put(a));
    live.push(ref);
    return ref;
  };
  const endCycle = async (): Promise<void> => {
    const refs = live;
    live = [];
    await transient.endCycle(refs);
  };
  // Uploaded training rows of the current batch and of the pending temporary centers, by identity of the rows array.
  const rowRefs = new Map<Int32Array, ArrayRef>();
  const rowsRef = async (rows: Int32Array): Promise<ArrayRef> => {
    const got = rowRefs.get(rows);
    if (got !== undefined) {
      live.push(got);
      return got;
    }
    const ref = await put(rowsOf(x, d, rows, fdt));
    rowRefs.set(rows, ref);
    return ref;
  };
  /** Σ_k K(A, B_k)·C_k per group, every group's tasks in one round, sums in task order. */
  const sums = async (prefix: string, a: ArrayRef, rows: number, groups: { name: string; cols: number; terms: { b: ArrayRef; coef: ArrayRef }[] }[]): Promise<Float64Array[]> => {
    const tasks: RoundTask[] = [];
    for (const g of groups) g.terms.forEach((t, j) => tasks.push({ shardId: `${prefix}${g.name}${pad(j)}`, op: 'kernel-block-matmul', attrs: mattrs, inputs: [a, t.b, t.coef] }));
    const results = await dispatcher.run(tasks);
    const out: Float64Array[] = [];
    let k = 0;
    for (const g of groups) {
      const sum = new Float64Array(rows * g.cols);
      for (let j = 0; j < g.terms.length; j++, k++) {
        const part = await output(results[k]);
        if (part.length !== sum.length) throw new GramfleetError('JOB_FAILED', `task ${prefix}${g.name}${pad(j)} returned ${part.length} values, expected ${sum.length}`);
        for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (part[i] as number);
      }
      out.push(sum);
    }
    return out;
  };
  const coefShards = async (a: Float64Array, cols: number): Promise<{ b: ArrayRef; coef: ArrayRef }[]> => {
    const terms: { b: ArrayRef; coef: ArrayRef }[] = [];
    for (let j = 0; j < ranges.length; j++) {
      const r = ranges[j] as { start: number; end: number };
      terms.push({ b: zRefs[j] as ArrayRef, coef: await put({ dtype: 'f64', shape: [r.end - r.start, cols], data: a.slice(r.start * cols, r.end * cols) }) });
    }
    return terms;
  };
  const precondParts = async (src: Float64Array, rows: Int32Array, e: Float64Array, q: number): Promise<{ b: ArrayRef; coef: ArrayRef }[]> => {
    const parts: { b: ArrayRef; coef: ArrayRef }[] = [];
    for (const r of shardRanges(rows.length, Math.min(params.shards, rows.length))) {
      parts.push({
        b: pin(await beatWhile(() => store.put(rowsOf(src, d, rows.subarray(r.start, r.end), fdt)))),
        coef: pin(await beatWhile(() => store.put({ dtype: 'f64', shape: [r.end - r.start, q], data: e.slice(r.start * q, r.end * q) }))),
      });
    }
    return parts;
  };
  let xParts: { b: ArrayRef; coef: ArrayRef }[] = [];
  let q1 = 0;
  let zParts: { b: ArrayRef; coef: ArrayRef }[] = [];
  let qz = 0;
  let kzz: Float64Array | undefined;
  const kernelSquare = async (id: string, src: Float64Array, rows: Int32Array): Promise<Float64Array> => {
    const ref = pin(await beatWhile(() => store.put(rowsOf(src, d, rows, fdt))));
    const [r] = await dispatcher.run([{ shardId: id, op: 'kernel-block', attrs: kattrs, inputs: [ref, ref] }]);
    return symmetrise(Float64Array.from(await output(r)), rows.length);
  };
  const compute: EigenPro3Compute = {
    subsampleKernel: (rows) => kernelSquare('setup-kss', x, rows),
    async topEigenpairs(a, s, r, seed) {
      const ar = await beatWhile(() => store.put({ dtype: 'f64', shape: [s, s], data: a }));
      if (eigenSolverFor(s, r) === 'eigh') {
        const [full] = await dispatcher.run([{ shardId: `setup-eigh${s}-${seed}`, op: 'eigh', attrs: {}, inputs: [ar] }]);
        return topOfFullEigh(s, r, await output(full, 0), await output(full, 1));
      }
      const [res] = await dispatcher.run([{ shardId: `setup-eig${s}-${seed}`, op: 'eigh-topk', attrs: { k: r, seed, tol: EIGENPRO_EIGEN_TOL }, inputs: [ar] }]);
      return { w: await output(res, 0), v: await output(res, 1) };
    },
    async preconditioner(rows, e, q) {
      q1 = q;
      xParts = await precondParts(x, rows, e, q);
    },
    async batch(rows, a, tag) {
      beat = { phase: 'train', epoch: tag.epoch, batch: tag.batch };
      ctx.heartbeat(beat);
      const xb = await rowsRef(rows);
      const [pred, phi] = await sums(tagId(tag), xb, rows.length, [{ name: 's', cols: c, terms: await coefShards(a, c) }, { name: 'phi', cols: q1, terms: xParts }]);
      return { pred: pred as Float64Array, phi: phi as Float64Array };
    },
    async predict(set, a, tag, rows) {
      beat = { phase: 'evaluate', epoch: tag.epoch, set };
      ctx.heartbeat(beat);
      const xe = set === 'test' ? (xTestRef as ArrayRef) : await put(rowsOf(x, d, rows ?? [], fdt));
      const m = set === 'test' ? shape.nTest : (rows ?? []).length;
      const [sum] = await sums(`v${String(tag.epoch).padStart(4, '0')}${set}`, xe, m, [{ name: 's', cols: c, terms: await coefShards(a, c) }]);
      await endCycle();
      return sum as Float64Array;
    },
    async centersMatmul(rows, coef, cols, id) {
      const xr = id === 'setup-f' ? pin(await beatWhile(() => store.put(rowsOf(x, d, rows, fdt)))) : await rowsRef(rows);
      const g = await put({ dtype: 'f64', shape: [rows.length, cols], data: coef });
      const results = await dispatcher.run(ranges.map((_, j) => ({ shardId: `${id}z${pad(j)}`, op: 'kernel-block-matmul', attrs: mattrs, inputs: [zRefs[j] as ArrayRef, xr, g] })));
      const h = new Float64Array(p * cols);
      for (let j = 0; j < ranges.length; j++) h.set(await output(results[j]), (ranges[j] as { start: number }).start * cols);
      if (id !== 'setup-f') {
        // The end of a projection: the batch (or the delayed cycle) is done.
        rowRefs.clear();
        await endCycle();
      }
      return h;
    },
    async auxPredict(rows, aux, id) {
      const xb = await rowsRef(rows);
      const terms: { b: ArrayRef; coef: ArrayRef }[] = [];
      for (const part of aux) terms.push({ b: await rowsRef(part.rows), coef: await put({ dtype: 'f64', shape: [part.rows.length, c], data: part.coef }) });
      const [sum] = await sums(id, xb, rows.length, [{ name: 'k', cols: c, terms }]);
      return sum as Float64Array;
    },
    async centersFactor(jitter, id) {
      beat = { phase: 'setup', step: 'factor', jitter };
      // These p × p objects are deleted once read, so their task ids carry the attempt: a
      // resumed attempt recomputes them (same bytes) instead of finding a deleted result.
      const dropOutputs = async (rs: readonly (TaskResult | undefined)[]): Promise<void> => {
        for (const r of rs) for (const o of r?.outputs ?? []) await transient.drop(o.digest);
      };
      if (kzz === undefined) {
        const zAll = pin(await beatWhile(() => store.put({ dtype: fdt, shape: [p, d], data: fdt === 'f32' ? Float32Array.from(z) : z } as NdArray)));
        const results = await dispatcher.run(ranges.map((_, j) => ({ shardId: `setup-a${attempt}-kzz${pad(j)}`, op: 'kernel-block', attrs: kattrs, inputs: [zRefs[j] as ArrayRef, zAll] })));
        const k = new Float64Array(p * p);
        for (let j = 0; j < ranges.length; j++) k.set(await output(results[j]), (ranges[j] as { start: number }).start * p);
        await dropOutputs(results);
        kzz = symmetrise(k, p);
      }
      const a = Float64Array.from(kzz);
      for (let i = 0; i < p; i++) a[i * p + i] = (a[i * p + i] as number) + jitter;
      const ar = await beatWhile(() => store.put({ dtype: 'f64', shape: [p, p], data: a }));
      const [r] = await dispatcher.run([{ shardId: `setup-a${attempt}-${id}`, op: 'cholesky', attrs: {}, inputs: [ar] }]);
      const l = Float64Array.from(await output(r));
      await transient.drop(ar.digest);
      await dropOutputs([r]);
      kzz = undefined;
      return l;
    },
    choleskySolver: (l, pp) => choleskyWasmSolver(l, pp),
    centersSubsampleKernel: (zRows) => kernelSquare('setup-kzs', z, zRows),
    async centersPreconditioner(zRows, e, q) {
      qz = q;
      zParts = await precondParts(z, zRows, e, q);
    },
    async centersBatch(zRows, theta, id) {
      ctx.heartbeat(beat);
      const zb = await put(rowsOf(z, d, zRows, fdt));
      const [pred, phi] = await sums(id, zb, zRows.length, [{ name: 's', cols: c, terms: await coefShards(theta, c) }, { name: 'phi', cols: qz, terms: zParts }]);
      return { pred: pred as Float64Array, phi: phi as Float64Array };
    },
  };
  const publish = progressPublisher(dp, jobId, log);
  const resume = await resumeCheckpoint(dp, jobId, attempt, publish, log);
  let checkpoints = 0;
  let sinceCheckpoint = 0;
  try {
    const r = await trainEigenPro3({
      compute, params, shape, plan, resume: resume ?? undefined,
      targets,
      onSetup: async (setup, projection, resumed) => {
        log.info('eigenpro 3 setup', { jobId, ...projection });
        if (!resumed) await publish({ kind: 'setup', jobId, setup: summariseSetup(setup), batchesPerEpoch: Math.ceil(n / setup.batch), projection }, 'setup');
      },
      onBatch: async (take, _tag, _perEpoch, clean) => {
        sinceCheckpoint++;
        if (sinceCheckpoint >= params.checkpointEvery && clean) {
          sinceCheckpoint = 0;
          const cp = take();
          await saveCheckpoint(dp.arrays, jobId, cp);
          checkpoints++;
          await publish({ kind: 'checkpoint', jobId, epoch: cp.epoch, batch: cp.batch }, `checkpoint-${cp.epoch}-${cp.batch}`);
        }
      },
      onEpoch: async (m) => {
        log.info('epoch done', { jobId, ...m });
        await publish({ kind: 'epoch', jobId, epochs: params.epochs, ...m }, `epoch-${m.epoch}`);
      },
    });
    const coefficients = await beatWhile(() => store.put({ dtype: 'f64', shape: [p, c], data: r.a }));
    return {
      jobId, coefficients, centers: input.centers, kernel: params.kernel, bandwidth: params.bandwidth, task: params.task, shape,
      setup: summariseSetup(r.setup), history: r.history, attempt, checkpoints, workers: { ...dispatcher.workers },
      trainMs: Date.now() - t0, projection: r.projection, ...(r.resumedFrom !== undefined ? { resumedFrom: r.resumedFrom } : {}),
    };
  } finally {
    dispatcher.close();
  }
}

/** Averages K(i, j) and K(j, i): the fused kernel rounds the two through different tiles. */
function symmetrise(k: Float64Array, s: number): Float64Array {
  for (let i = 0; i < s; i++) for (let j = 0; j < i; j++) {
    const v = 0.5 * ((k[i * s + j] as number) + (k[j * s + i] as number));
    k[i * s + j] = v;
    k[j * s + i] = v;
  }
  return k;
}
