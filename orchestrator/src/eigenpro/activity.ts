/**
 * The EigenPro training activity: the whole loop of `trainEigenPro2` runs here, with the
 * kernel products fanned out to the workers over NATS (centers sharded, model parallel):
 * per batch one `kernel-block-matmul` task per center shard (K(X_B, Z_j)·a_j) and one per
 * part of the preconditioner block (K(X_B, X_S_j)·E_j, the subsample split like the centers),
 * partials summed in shard order, the update applied here. The setup's s × s eigensolve runs
 * on a worker (`eigh-topk` to a 1e-4 Ritz residual, or the full `eigh` when r ≥ s/4). Arrays travel by digest (workers cache the center shards). The activity heartbeats
 * every batch, checkpoints every N batches to the object store, publishes one progress event
 * per epoch, and a retried attempt resumes from the checkpoint.
 */
import { Context } from '@temporalio/activity';
import {
  EIGENPRO_EIGEN_TOL, GramfleetError, KERNEL_ROWS_MATMUL_OP_ID, eigenSolverFor, isGramfleetError, topOfFullEigh, trainEigenPro2,
  type ArrayRef, type EigenProActivities, type EigenProCompute, type EigenProJobInput, type EigenProJobResult,
  type EigenProSetup, type EigenProSetupSummary, type TaskResult,
} from '@gramfleet/core';
import type { ActivityDeps } from '../host/activities';
import { toFailure } from '../host/activities';
import { saveCheckpoint } from './checkpoint';
import { createDispatcher, createPinner, type Dispatcher, type RoundTask } from '../host/dispatch';
import { centerLayout, rowsOf, tagId } from './rows';
import { createTransientObjects } from './transient';
import { beating, loadTrainingData, progressPublisher, resumeCheckpoint } from './job-data';
import { trainEigenPro3Cluster } from './ep3-activity';
import { createProfiler } from './profile';

/** Builds the EigenPro activities over the same dependencies as the cluster activities. */
export function createEigenProActivities(deps: ActivityDeps): EigenProActivities {
  return {
    async trainEigenPro(input: EigenProJobInput): Promise<EigenProJobResult> {
      try {
        if (input.centers !== undefined) return await trainEigenPro3Cluster(deps, input);
        return await train(deps, input);
      } catch (e) {
        throw toFailure(e);
      }
    },
  };
}

/** The setup as reported to users. */
export function summariseSetup(s: EigenProSetup): EigenProSetupSummary {
  return {
    s: s.s, q: s.q, batch: s.batch, step: s.step, gamma: s.gamma, lambdaPrime: s.lambdaPrime,
    topEigenvalues: s.eigenvalues.slice(0, 10), lambdaQ: s.eigenvalues[s.q - 1] ?? 0, given: s.given,
  };
}

/** Balanced split of p rows into `k` contiguous ranges. */
export function shardRanges(p: number, k: number): { start: number; end: number }[] {
  return Array.from({ length: k }, (_, j) => ({ start: Math.floor((j * p) / k), end: Math.floor(((j + 1) * p) / k) }));
}

/** The rows of a round: the batch rows themselves, or their indices into the resident row blocks. */
type XSource = { readonly kind: 'x' | 'rows'; readonly ref: ArrayRef };

async function train(deps: ActivityDeps, input: EigenProJobInput): Promise<EigenProJobResult> {
  const { dp, store, log } = deps;
  // Objects deleted after use, and the job's long-lived objects that must never be (transient.ts).
  const transient = createTransientObjects((digest) => store.delete(digest));
  const pin = (r: ArrayRef): ArrayRef => transient.pin(r);
  for (const r of [input.x, input.y, input.xTest, input.yTest]) if (r !== undefined) pin(r);
  const ctx = Context.current();
  const attempt = ctx.info.attempt;
  const { params, shape, jobId } = input;
  const { n, d, c, p } = shape;
  const fdt = params.featureDtype;
  const t0 = Date.now();
  const prof = createProfiler(log, deps.eigenproProfile);
  // Loading and re-putting large data (60k × 784 features: hundreds of MB) can outlast the
  // heartbeat timeout: beat while it runs.
  const loading = <T>(f: () => Promise<T>): Promise<T> => beating(ctx, { phase: 'load' }, f);
  const { x, targets, xTestRef } = await loadTrainingData(ctx, store, input, pin);
  // Center shards in epoch 1's visiting order (rows.ts: centerLayout), uploaded once
  // (content-addressed: a retried attempt re-puts nothing). Tasks name rows by position.
  const { perm, pos, ranges } = centerLayout(p, params.seed, params.shards);
  // The upload runs while the setup's subsample kernel and eigensolve do (they do not use it);
  // the first round waits for it.
  const zRefs: ArrayRef[] = [];
  const zReady = (async () => {
    for (const r of ranges) zRefs.push(pin(await prof.time('setup.zPut', () => loading(() => store.put(rowsOf(x, d, perm.subarray(r.start, r.end), fdt))))));
  })();
  zReady.catch(() => undefined); // a failure is thrown where it is awaited
  /** Rows [start, end) of the shard order of the coefficients (c columns). */
  const slice = (a: Float64Array, r: { start: number; end: number }): Float64Array => {
    const out = new Float64Array((r.end - r.start) * c);
    for (let q = r.start; q < r.end; q++) out.set(a.subarray((perm[q] as number) * c, ((perm[q] as number) + 1) * c), (q - r.start) * c);
    return out;
  };
  prof.add('setup.load', Date.now() - t0);
  let beat: Record<string, unknown> = { phase: 'setup' };
  // Shard j's tasks (its centers, its preconditioner part, its test rows) go to the same worker
  // every round, whose caches then hold the shard and, with f32 products, its kernel rows.
  const pinner = createPinner({ tasks: deps.tasks, cls: input.cls });
  const dispatcher: Dispatcher = createDispatcher({
    tasks: deps.tasks, jobId, cls: input.cls, deadline: t0 + input.timeoutMs, log, signal: ctx.cancellationSignal,
    onWait: () => ctx.heartbeat(beat),
  });
  const kattrs = { kernel: params.kernel, bandwidth: params.bandwidth };
  // Training and scoring products (the matmul ops) take the job's accumulation precision; f32
  // products on wasm workers keep their kernel rows (workers/src/kernel-cache.ts).
  const mattrs = { ...kattrs, accumulate: params.accumulate, ...(params.accumulate === 'f32' && input.cls === 'wasm' ? { cache: true } : {}) };
  const output = async (r: TaskResult, i = 0, phase = 'setup'): Promise<Float64Array> => {
    const ref = r.outputs[i];
    if (ref === undefined) throw new GramfleetError('JOB_FAILED', `task ${r.shardId} returned no output ${i}`);
    return prof.time(`${phase}.outGet`, async () => (await store.get(ref)).data as Float64Array);
  };
  // Per-batch objects are deleted two batches later (every task using them has answered),
  // unless pinned or named again by a newer batch (content addressing: see transient.ts).
  const forget = (refs: ArrayRef[]): Promise<void> => transient.endCycle(refs);
  // The preconditioner block K(X_B, X_S)·E is split like the centers, Σ_j K(X_B, X_S_j)·E_j, so
  // its tasks balance over the workers with the center shards (one s-wide task would not).
  let phiParts: { xs: ArrayRef; e: ArrayRef }[] = [];
  let lastBatchEnd: number | undefined;
  let q1 = 0;
  // Where a round's rows come from: the batch rows themselves (`x`), or their indices into the
  // center shards, which are the row blocks of X and stay in the workers' caches (`rows`, op
  // kernel-rows-matmul, wasm workers). The rows path sends m indices per batch instead of m×d values.
  const residentRows = input.cls === 'wasm';
  const blockTask = (shardId: string, src: XSource, z: ArrayRef, a: ArrayRef, pin: string | undefined): RoundTask => (src.kind === 'rows'
    ? { shardId, op: KERNEL_ROWS_MATMUL_OP_ID, attrs: mattrs, inputs: [src.ref, z, a, ...zRefs], pin }
    : { shardId, op: 'kernel-block-matmul', attrs: mattrs, inputs: [src.ref, z, a], pin });
  const putRows = (rows: ArrayLike<number>, phase: string): Promise<XSource> => (residentRows
    ? prof.time(`${phase}.rowsPut`, async () => ({ kind: 'rows', ref: await store.put({ dtype: 'i32', shape: [rows.length], data: Int32Array.from(rows, (i) => pos[i] as number) }) }))
    : prof.time(`${phase}.xPut`, async () => ({ kind: 'x', ref: await store.put(rowsOf(x, d, rows, fdt)) })));
  const xTestSource: XSource | undefined = xTestRef !== undefined ? { kind: 'x', ref: xTestRef } : undefined;
  // The coefficient slice each shard was last sent: the next one goes as a patch of it (ArrayRef.patch:
  // only the rows an update changed, ~3.7k of 60k, are stored), rebuilt from the worker's cache.
  // A worker that does not hold it (restarted, replaced) fails the round with
  // STORE_PATCH_BASE_MISSING, and the round is sent again with every slice whole.
  let sentA: (ArrayRef | undefined)[] = ranges.map(() => undefined);
  const putA = async (a: Float64Array, phase: string): Promise<{ refs: ArrayRef[]; stored: ArrayRef[] }> => {
    const refs = await Promise.all(ranges.map((r, j) => prof.time(`${phase}.aPut`, () => {
      const arr = { dtype: 'f64' as const, shape: [r.end - r.start, c], data: slice(a, r) };
      const prev = sentA[j];
      return prev !== undefined ? store.putPatched(arr, prev) : store.put(arr);
    })));
    sentA = refs;
    return { refs, stored: refs.map((r) => r.patch?.rows ?? r) };
  };
  /** Σ_j K(X_src, Z_j)·a_j in shard order, the preconditioner parts (batches), and the per-round objects to delete later. */
  const shardSum = async (src: Promise<XSource> | XSource, a: Float64Array, prefix: string, rows: number, phase: string): Promise<{ sum: Float64Array; extra: Float64Array[]; refs: ArrayRef[] }> => {
    // The rows (or batch) and every coefficient slice are put at once.
    const [xs, first] = await Promise.all([src, putA(a, phase), zReady]);
    const stored = [...first.stored];
    const round = async (refs: readonly ArrayRef[], tag: string): Promise<TaskResult[]> => {
      const pins = await pinner.pins(ranges.length);
      const tasks = ranges.map((_, j) => blockTask(`${prefix}${tag}s${String(j).padStart(4, '0')}`, xs, zRefs[j] as ArrayRef, refs[j] as ArrayRef, pins[j]));
      const withPhi = prefix.startsWith('e') && phiParts.length > 0;
      if (withPhi) phiParts.forEach((ph, j) => tasks.push(blockTask(`${prefix}${tag}phi${String(j).padStart(4, '0')}`, xs, ph.xs, ph.e, pins[j % pins.length])));
      return prof.time(`${phase}.round`, () => dispatcher.run(tasks));
    };
    const results = await round(first.refs, '').catch(async (e: unknown) => {
      if (!isGramfleetError(e) || e.code !== 'STORE_PATCH_BASE_MISSING') throw e;
      log.warn('a worker lacks the coefficients a patch was made against; sending them whole', { jobId, round: prefix });
      sentA = ranges.map(() => undefined);
      const whole = await putA(a, phase);
      stored.push(...whole.stored);
      return round(whole.refs, 'w');
    });
    prof.tasks(phase, results);
    const parts = await Promise.all(results.map((r) => output(r, 0, phase)));
    const sum = new Float64Array(rows * c);
    // Fixed order: shard 0, 1, …, so the sum depends on the shard count only, never on the workers.
    for (let j = 0; j < ranges.length; j++) {
      const part = parts[j] as Float64Array;
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (part[i] as number);
    }
    return { sum, extra: parts.slice(ranges.length), refs: [...(xs === xTestSource ? [] : [xs.ref]), ...stored] };
  };
  const compute: EigenProCompute = {
    async subsampleKernel(rows) {
      const xs = pin(await store.put(rowsOf(x, d, rows, fdt)));
      const [r] = await dispatcher.run([{ shardId: 'setup-kss', op: 'kernel-block', attrs: kattrs, inputs: [xs, xs] }]);
      const k = Float64Array.from(await output(r as TaskResult));
      const s = rows.length;
      // Symmetrise: the fused kernel rounds K(i,j) and K(j,i) through different tiles.
      for (let i = 0; i < s; i++) for (let j = 0; j < i; j++) {
        const v = 0.5 * ((k[i * s + j] as number) + (k[j * s + i] as number));
        k[i * s + j] = v;
        k[j * s + i] = v;
      }
      return k;
    },
    async topEigenpairs(a, s, r, seed) {
      const ar = await store.put({ dtype: 'f64', shape: [s, s], data: a });
      if (eigenSolverFor(s, r) === 'eigh') {
        const [full] = await dispatcher.run([{ shardId: 'setup-eigh', op: 'eigh', attrs: {}, inputs: [ar] }]);
        return topOfFullEigh(s, r, await output(full as TaskResult, 0), await output(full as TaskResult, 1));
      }
      const [res] = await dispatcher.run([{ shardId: 'setup-eig', op: 'eigh-topk', attrs: { k: r, seed, tol: EIGENPRO_EIGEN_TOL }, inputs: [ar] }]);
      return { w: await output(res as TaskResult, 0), v: await output(res as TaskResult, 1) };
    },
    async preconditioner(rows, e, q) {
      q1 = q;
      phiParts = [];
      for (const r of shardRanges(rows.length, Math.min(params.shards, rows.length))) {
        phiParts.push({
          xs: pin(await store.put(rowsOf(x, d, rows.subarray(r.start, r.end), fdt))),
          e: pin(await store.put({ dtype: 'f64', shape: [r.end - r.start, q], data: e.slice(r.start * q, r.end * q) })),
        });
      }
    },
    async batch(rows, a, tag) {
      const tb = performance.now();
      if (lastBatchEnd !== undefined) prof.add('train.coordinator', tb - lastBatchEnd);
      beat = { phase: 'train', epoch: tag.epoch, batch: tag.batch };
      ctx.heartbeat(beat);
      const { sum, extra, refs } = await shardSum(putRows(rows, 'train'), a, tagId(tag), rows.length, 'train');
      // Parts summed in part order (fixed by the shard count, never by the workers).
      const phi = new Float64Array(rows.length * q1);
      for (const part of extra) {
        if (part.length !== phi.length) throw new GramfleetError('JOB_FAILED', `preconditioner block part has ${part.length} entries, expected ${phi.length}`);
        for (let i = 0; i < phi.length; i++) phi[i] = (phi[i] as number) + (part[i] as number);
      }
      await prof.time('train.delete', () => forget(refs));
      lastBatchEnd = performance.now();
      prof.add('train.batch', lastBatchEnd - tb);
      return { pred: sum, phi };
    },
    async predict(set, a, tag, rows) {
      if (lastBatchEnd !== undefined) prof.add('train.coordinator', performance.now() - lastBatchEnd);
      lastBatchEnd = undefined;
      beat = { phase: 'evaluate', epoch: tag.epoch, set };
      ctx.heartbeat(beat);
      const src = set === 'test' ? (xTestSource as XSource) : putRows(rows ?? [], 'eval');
      const m = set === 'test' ? shape.nTest : (rows ?? []).length;
      const { sum, refs } = await shardSum(src, a, `v${String(tag.epoch).padStart(4, '0')}${set}`, m, 'eval');
      await forget(refs);
      return sum;
    },
  };
  const publish = progressPublisher(dp, jobId, log);
  const resume = await resumeCheckpoint(dp, jobId, attempt, publish, log);
  let checkpoints = 0;
  let batches = 0;
  let perEpochSeen = 0;
  try {
    const r = await trainEigenPro2({
      compute: {
        ...compute,
        subsampleKernel: (rows) => prof.time('setup.subsampleKernel', () => compute.subsampleKernel(rows)),
        topEigenpairs: (a, s, r, seed) => prof.time('setup.topEigenpairs', () => compute.topEigenpairs(a, s, r, seed)),
        preconditioner: (rows, e, q) => prof.time('setup.preconditioner', () => compute.preconditioner(rows, e, q)),
      },
      params, shape, resume: resume ?? undefined,
      targets,
      onSetup: async (setup) => {
        prof.flush({ jobId, epoch: 0, phase: 'setup', n, p, shards: params.shards, batch: setup.batch, q: setup.q });
        perEpochSeen = Math.ceil(n / setup.batch);
        await publish({ kind: 'setup', jobId, setup: summariseSetup(setup), batchesPerEpoch: perEpochSeen }, 'setup');
      },
      onBatch: async (take, _tag, perEpoch) => {
        perEpochSeen = perEpoch;
        batches++;
        if (batches % params.checkpointEvery === 0) {
          const cp = take();
          await saveCheckpoint(dp.arrays, jobId, cp);
          checkpoints++;
          await publish({ kind: 'checkpoint', jobId, epoch: cp.epoch, batch: cp.batch }, `checkpoint-${cp.epoch}-${cp.batch}`);
        }
      },
      onEpoch: async (m) => {
        log.info('epoch done', { jobId, ...m });
        prof.flush({ jobId, epoch: m.epoch, n, p, shards: params.shards, featureDtype: fdt });
        await publish({ kind: 'epoch', jobId, epochs: params.epochs, ...m }, `epoch-${m.epoch}`);
      },
    });
    const coefficients = await store.put({ dtype: 'f64', shape: [p, c], data: r.a });
    void perEpochSeen;
    return {
      jobId, coefficients, centers: input.x, ...(input.featureScale !== undefined ? { centersScale: input.featureScale } : {}), kernel: params.kernel, bandwidth: params.bandwidth, task: params.task, shape,
      setup: summariseSetup(r.setup), history: r.history, attempt, checkpoints, workers: { ...dispatcher.workers }, kernelRows: { ...dispatcher.kernelRows },
      trainMs: Date.now() - t0, ...(r.resumedFrom !== undefined ? { resumedFrom: r.resumedFrom } : {}),
    };
  } finally {
    dispatcher.close();
  }
}

