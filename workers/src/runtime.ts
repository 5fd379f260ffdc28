/**
 * The NATS worker runtime shared by every worker class: pull shards from the class's durable
 * consumer, fetch inputs by digest (cached), run the kernel on the thread pool, store the
 * outputs, publish the result (deduplicated by `Nats-Msg-Id`), and only then ack. Long shards
 * send in-progress acks. A shard past `maxDeliver` deliveries, or one that fails with a
 * permanent error, is answered with an error result and terminated. SIGTERM drains.
 */
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { JsMsg } from '@nats-io/jetstream';
import {
  GramfleetError, PROTOCOL_VERSION, consumerName, isGramfleetError, pinToken, pinnedConsumerName, resourceNames, resultMsgId, resultSubject,
  type Logger, type Task, type TaskResult, type WorkerClass, type WorkerRecord,
} from '@gramfleet/core';
import { connectNats, ensurePinnedConsumer, openDataPlane, type DataPlane, type DataPlaneOptions } from './dataplane/nats';
import type { ArrayStore } from './dataplane/store';
import { openArrayStore, type StoreTiersConfig } from './dataplane/tiers';
import type { KernelPool } from './pool';

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** NATS server URL(s). */
  readonly natsUrl: string;
  /** Resource prefix; isolates clusters sharing one server. @default 'gf' */
  readonly prefix?: string;
  /** Which task subjects to pull. */
  readonly cls: WorkerClass;
  /** Runs kernels; its thread count is the number of shards in flight. */
  readonly pool: KernelPool;
  /** @default a random id */
  readonly workerId?: string;
  /** Data-plane tunables; must match the orchestrator's. */
  readonly dataPlane?: DataPlaneOptions;
  /** Registry heartbeat period. @default 3000 */
  readonly heartbeatMs?: number;
  /** Device description advertised in the registry (GPU workers). */
  readonly device?: Readonly<Record<string, unknown>>;
  /** WASM workers: kernel build and threads per shard, advertised in the registry. */
  readonly kernels?: { readonly build: 'fma' | 'simd'; readonly threadsPerShard: number; readonly cacheMB?: number };
  /** Tiers of the worker's array store (host store, peers). @default the object store only */
  readonly store?: StoreTiersConfig;
  /** Ops this worker advertises. */
  readonly ops: readonly string[];
  readonly log: Logger;
}

/** A running worker. */
export interface RunningWorker {
  readonly workerId: string;
  /** Stops pulling, finishes shards in flight, deregisters, disconnects. */
  drain(): Promise<void>;
  /** Shards finished by this worker. */
  readonly done: () => number;
}

/** Starts a worker and returns once it is pulling. */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const names = resourceNames(o.prefix ?? 'gf');
  const workerId = o.workerId ?? `${o.cls}-${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const pin = pinToken(workerId);
  const nc = await connectNats(o.natsUrl, workerId);
  const dp = await openDataPlane(nc, names, o.dataPlane);
  const arrays = await openArrayStore(dp, o.store, o.log);
  const store = arrays.store;
  const log = o.log;
  const cancelled = new Set<string>();
  const sub = nc.subscribe(`${names.prefix}.cancel.*`, {
    callback: (_err, msg) => {
      const jobId = msg.subject.split('.').pop();
      if (jobId !== undefined) cancelled.add(jobId);
      if (cancelled.size > 10_000) cancelled.delete(cancelled.values().next().value ?? '');
    },
  });
  let stopping = false;
  let done = 0;
  const startedAt = Date.now();

  const record = (): WorkerRecord => ({
    workerId, cls: o.cls, pid: process.pid, host: os.hostname(), threads: o.pool.threads, ops: o.ops, pin,
    ...(o.device !== undefined ? { device: o.device } : {}), ...(o.kernels !== undefined ? { kernels: o.kernels } : {}), startedAt, beatAt: Date.now(), shardsDone: done,
  });
  const beat = async (): Promise<void> => {
    await dp.workers.put(workerId, JSON.stringify(record())).catch((e: Error) => log.warn('heartbeat failed', { err: e.message }));
  };
  await beat();
  const hb = setInterval(() => void beat(), o.heartbeatMs ?? 3000);

  // Two consumers: the class's shared one, and this worker's own for tasks pinned to it (the
  // EigenPro shards whose data its caches hold). Each gets a loop per pool thread, so a pinned
  // task never waits behind a pull on the shared consumer.
  const consumer = await dp.js.consumers.get(names.tasksStream, consumerName(o.cls));
  await ensurePinnedConsumer(dp, pin);
  const pinned = await dp.js.consumers.get(names.tasksStream, pinnedConsumerName(pin));
  const loops: Promise<void>[] = [];
  for (let i = 0; i < 2 * o.pool.threads; i++) {
    const from = i % 2 === 0 ? consumer : pinned;
    loops.push((async () => {
      while (!stopping) {
        let m: JsMsg | null = null;
        try {
          m = await from.next({ expires: 2000 });
        } catch (e) {
          if (!stopping) {
            log.warn('pull failed; retrying', { err: (e as Error).message });
            await sleep(500);
          }
          continue;
        }
        if (m === null) continue;
        await handle(m, dp, store).catch((e: Error) => log.error('shard handling failed', { err: e.message }));
      }
    })());
  }
  log.info('worker started', { workerId, cls: o.cls, threads: o.pool.threads, ops: o.ops, ...(o.kernels !== undefined ? { kernelBuild: o.kernels.build, threadsPerShard: o.kernels.threadsPerShard } : {}) });

  async function publishResult(r: TaskResult): Promise<void> {
    await dp.js.publish(resultSubject(names.prefix, r.jobId, r.shardId), JSON.stringify(r), { msgID: resultMsgId(r.jobId, r.shardId) });
  }

  async function handle(m: JsMsg, dpl: DataPlane, st: ArrayStore): Promise<void> {
    let task: Task;
    try {
      task = JSON.parse(m.string()) as Task;
    } catch {
      log.error('undecodable task; terminating it', { subject: m.subject });
      m.term('undecodable');
      return;
    }
    const ctx = { jobId: task.jobId, shardId: task.shardId, op: task.op, attempt: m.info.deliveryCount };
    const stats = { workerId, backend: 'none', deliveryCount: m.info.deliveryCount, computeMs: 0, fetchMs: 0, cacheHits: 0 };
    if (m.info.deliveryCount > dpl.options.maxDeliver) {
      log.error('shard exceeded max deliveries; dead-lettering', ctx);
      const err = new GramfleetError('WORKER_MAX_DELIVER', `shard ${task.shardId} of job ${task.jobId} was delivered ${m.info.deliveryCount} times without a result (max ${dpl.options.maxDeliver})`, { jobId: task.jobId, shardId: task.shardId, deliveries: m.info.deliveryCount });
      await publishResult({ v: PROTOCOL_VERSION, jobId: task.jobId, shardId: task.shardId, outputs: [], stats, error: err.toPayload() });
      m.term('max deliveries');
      return;
    }
    if (cancelled.has(task.jobId) || task.deadline < Date.now()) {
      m.term(cancelled.has(task.jobId) ? 'cancelled' : 'deadline passed');
      return;
    }
    const keepAlive = setInterval(() => m.working(), Math.max(500, dpl.options.ackWaitMs / 3));
    try {
      const t0 = performance.now();
      const hits0 = st.stats.hits;
      const inputs = await Promise.all(task.inputs.map((r) => st.get(r)));
      stats.fetchMs = performance.now() - t0;
      stats.cacheHits = st.stats.hits - hits0;
      const run = await o.pool.run(task.op, task.attrs, inputs, task.inputs.map((r) => r.digest));
      stats.backend = run.backend;
      stats.computeMs = run.computeMs;
      if (run.rowHits !== undefined) Object.assign(stats, { rowHits: run.rowHits, rowMisses: run.rowMisses ?? 0, mirroredEntries: run.mirroredEntries ?? 0 });
      if (cancelled.has(task.jobId)) {
        m.term('cancelled');
        return;
      }
      const outputs = [];
      for (const a of run.outputs) outputs.push(await st.put(a));
      await publishResult({ v: PROTOCOL_VERSION, jobId: task.jobId, shardId: task.shardId, outputs, stats });
      await m.ackAck();
      done++;
      log.debug('shard done', { ...ctx, backend: run.backend, computeMs: Math.round(run.computeMs) });
    } catch (e) {
      if (isGramfleetError(e) && !e.retryable) {
        log.warn('shard failed permanently', { ...ctx, code: e.code, err: e.message });
        await publishResult({ v: PROTOCOL_VERSION, jobId: task.jobId, shardId: task.shardId, outputs: [], stats, error: e.toPayload() });
        m.term(e.code);
      } else {
        log.warn('shard failed; will be redelivered', { ...ctx, err: (e as Error).message });
        m.nak(1000);
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  return {
    workerId,
    done: () => done,
    async drain(): Promise<void> {
      if (stopping) return;
      stopping = true;
      log.info('draining', { workerId });
      await Promise.allSettled(loops);
      clearInterval(hb);
      sub.unsubscribe();
      await dp.workers.delete(workerId).catch(() => undefined);
      // Tasks still queued for this worker are re-queued by their dispatcher once it sees the
      // worker gone from the registry.
      await dp.jsm.consumers.delete(names.tasksStream, pinnedConsumerName(pin)).catch(() => undefined);
      await o.pool.close();
      await arrays.close();
      await dp.close();
      log.info('drained', { workerId, shardsDone: done });
    },
  };
}

/**
 * SIGTERM and SIGINT drain `w` and exit 0. A drain that has not finished after
 * GRAMFLEET_DRAIN_TIMEOUT_MS (default 60000; e.g. NATS is gone and the registry cannot be
 * updated) exits 1 anyway: the unacknowledged tasks are redelivered to other workers.
 */
export function drainOnSignals(w: Pick<RunningWorker, 'drain'>, log: Logger, env: NodeJS.ProcessEnv, onStop?: () => void): void {
  const timeoutMs = Number(env['GRAMFLEET_DRAIN_TIMEOUT_MS'] ?? 60_000);
  let draining = false;
  const stop = (): void => {
    if (draining) return;
    draining = true;
    onStop?.();
    setTimeout(() => {
      log.warn('drain timed out; exiting (unacknowledged tasks are redelivered)', { timeoutMs });
      process.exit(1);
    }, Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 60_000).unref();
    void w.drain().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
