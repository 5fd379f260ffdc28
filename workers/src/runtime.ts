/**
 * The NATS worker runtime shared by every worker class. Tasks arrive two ways:
 *
 * - on the worker's lane (`gf.lane.<pin>`, core NATS): frames of tasks an owner pushes
 *   (workers/src/dataplane/lanes.ts). Results go back to the owner's subject in batched reply
 *   frames, small outputs inline; while it holds an owner's tasks the worker says so every
 *   second, so the owner can tell a slow task from a lost one. The owner retries.
 * - from the durable work queue of its class (JetStream), pulled only while the worker has
 *   free slots: tasks no lane took (no live worker when they were sent, a long wait, older
 *   clients). These ack after the result is published (to the owner when the task names one,
 *   and to the results stream), send in-progress acks while they run, and are dead-lettered
 *   after `maxDeliver` counted deliveries or on a permanent error.
 *
 * A task marked `alone` (a suspect: its workers were lost repeatedly while it ran beside others),
 * or a queued task delivered again (its last delivery may have been lost with a worker that ran
 * other tasks too), runs alone: nothing else starts on this worker until it ends, so if it kills
 * the worker, it loses nobody else's try, and the loss is its own.
 *
 * Inputs are fetched by digest (cached), kernels run on the thread pool. SIGTERM drains.
 */
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { JsMsg } from '@nats-io/jetstream';
import {
  GramfleetError,
  PROTOCOL_VERSION,
  UNCOUNTED_LOSSES,
  consumerName,
  isGramfleetError,
  laneSubject,
  ownerReplySubject,
  pinToken,
  resourceNames,
  resultMsgId,
  resultSubject,
  taskKey,
  type LaneFrame,
  type Logger,
  type NdArray,
  type ReplyFrame,
  type Task,
  type TaskResult,
  type TaskStats,
  type UserWasmLimits,
  type WorkerClass,
  type WorkerCurrentTask,
  type WorkerRecord,
  WORKER_RECORD_MAX_CURRENT,
} from '@gramfleet/core';
import { connectNats, openDataPlane, type DataPlaneOptions } from './dataplane/nats';
import type { NatsAuth } from './security/auth';
import { openArrayStore, type StoreTiersConfig } from './dataplane/tiers';
import type { ArrayStoreStats } from './dataplane/store';
import type { KernelPool } from './pool';
import type { ProcessMetrics } from './metrics';
import { countsEnabled, recordCount } from './counts';
import type { TestOnlyFault } from './config';
import { TRACEPARENT_HEADER, activeTracing, startTaskSpans, type TaskSpans } from './tracing';

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** NATS server URL(s). */
  readonly natsUrl: string;
  /** Identity and TLS trust of the NATS connection (GRAMFLEET_NATS_CREDS / _CA / _CERT / _KEY). @default none */
  readonly natsAuth?: NatsAuth;
  /** Resource prefix; isolates clusters sharing one server. @default 'gf' */
  readonly prefix?: string;
  /** Which task subjects to pull. */
  readonly cls: WorkerClass;
  /** Runs kernels. */
  readonly pool: KernelPool;
  /** @default a random id */
  readonly workerId?: string;
  /** Data-plane tunables; must match the orchestrator's. */
  readonly dataPlane?: DataPlaneOptions;
  /** Registry heartbeat period. @default 3000 */
  readonly heartbeatMs?: number;
  /** Tasks an owner may have outstanding here at once (queued or running). @default 4 per pool thread, at least 4 */
  readonly slots?: number;
  /** Period of the "still holding your tasks" frames to owners. @default 1000 */
  readonly pingMs?: number;
  /** Device description advertised in the registry (GPU workers). */
  readonly device?: Readonly<Record<string, unknown>>;
  /** WASM workers: kernel build and threads per shard, advertised in the registry. */
  readonly kernels?: { readonly build: 'fma' | 'simd'; readonly threadsPerShard: number; readonly cacheMB?: number };
  /** WASM workers: what their user-WebAssembly sandbox accepts, advertised in the registry. */
  readonly sandbox?: UserWasmLimits;
  /** Tiers of the worker's array store (host store, peers). @default the object store only */
  readonly store?: StoreTiersConfig;
  /** Ops this worker advertises. */
  readonly ops: readonly string[];
  readonly log: Logger;
  /**
   * The process's metrics (./metrics.ts): the worker counts tasks by op and outcome, latency,
   * bytes, cache hits and redeliveries, and adds its store's reads and its tasks in flight. @default none
   */
  readonly metrics?: ProcessMetrics;
  /**
   * TEST ONLY: change the first element of every output before storing it, as a faulty device or
   * a compromised worker would; the verification mode must catch it. No configuration sets it: a
   * worker process turns it on only when started by a local cluster's test hook
   * (workers/src/main.ts, `LocalCluster.addWorker({ testOnlyCorruptOutputs: true })`). @default false
   */
  readonly testOnlyCorruptOutputs?: boolean;
  /**
   * Time a kernel may run (the job's deadline caps it too): past it the task fails with the
   * retryable KERNEL_TIMEOUT, so it is redelivered, and the pool replaces the thread that ran it.
   * @default 1,800,000 (30 min)
   */
  readonly kernelTimeoutMs?: number;
  /**
   * TEST ONLY (the chaos suite): faults injected into chosen shards — a kernel that never returns
   * on a shard's first try, or a worker process killed by every try of a poison shard. Set only
   * from GRAMFLEET_TEST_ONLY_FAULTS in a worker a local cluster started (config.ts testOnlyFaults). @default none
   */
  readonly testOnlyFaults?: readonly TestOnlyFault[];
}

/** A running worker. */
export interface RunningWorker {
  readonly workerId: string;
  /** Stops taking tasks, finishes those it holds, deregisters, disconnects. */
  drain(): Promise<void>;
  /** Shards finished by this worker. */
  readonly done: () => number;
}

/** What one owner has outstanding on this worker, and the replies not yet sent. */
interface OwnerState {
  readonly replyTo: string;
  seen: number;
  readonly running: Set<string>;
  results: string[];
  resultBytes: number;
  flushScheduled: boolean;
  /** A flush REPLY_BATCH_MS away, gathering results of tasks still running. */
  batchTimer: NodeJS.Timeout | undefined;
  sentAt: number;
}

/** Outputs whose `.npy` fits this many bytes in all travel inline in the result. */
const INLINE_RESULT_BUDGET = 256 * 1024;

/**
 * How long a result waits for others to share its reply while more of its owner's tasks run here,
 * ms. Measured on 10k tiny tasks over 2 workers: 1 ms sent ~3 results per reply and 3,400
 * replies, 3 ms ~9 and 1,100, and the owner refills in frames as large; CPU per task fell ~25%.
 */
const REPLY_BATCH_MS = 3;

/** Starts a worker and returns once it is taking tasks. */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const names = resourceNames(o.prefix ?? 'gf');
  const workerId = o.workerId ?? `${o.cls}-${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const pin = pinToken(workerId);
  const nc = await connectNats(o.natsUrl, workerId, o.natsAuth);
  const dp = await openDataPlane(nc, names, o.dataPlane);
  const arrays = await openArrayStore(dp, o.store, o.log);
  const store = arrays.store;
  const log = o.log;
  const slots = o.slots ?? Math.max(4, 4 * o.pool.threads);
  const kernelTimeoutMs = o.kernelTimeoutMs ?? 1_800_000;
  const pingMs = o.pingMs ?? 1000;
  const maxFrame = Math.max(64 * 1024, (nc.info?.max_payload ?? 1024 * 1024) - 16 * 1024);
  const cancelled = new Set<string>();
  const cancelSub = nc.subscribe(`${names.prefix}.cancel.*`, {
    callback: (_err, msg) => {
      const jobId = msg.subject.split('.').pop();
      if (jobId !== undefined) cancelled.add(jobId);
      if (cancelled.size > 10_000) cancelled.delete(cancelled.values().next().value ?? '');
    },
  });
  let stopping = false;
  let done = 0;
  let inflight = 0;
  let slotFreed: (() => void) | undefined;
  const startedAt = Date.now();
  const taskMetrics = o.metrics?.tasks;
  if (o.metrics !== undefined)
    registerWorkerGauges(
      o.metrics,
      store.stats,
      () => inflight,
      () => done,
    );

  /** Tasks fetching inputs, running or storing outputs now, for the registry record. */
  const current = new Map<object, WorkerCurrentTask>();
  const record = (): WorkerRecord => ({
    workerId,
    cls: o.cls,
    pid: process.pid,
    host: os.hostname(),
    threads: o.pool.threads,
    ops: o.ops,
    pin,
    slots,
    ...(o.device !== undefined ? { device: o.device } : {}),
    ...(o.kernels !== undefined ? { kernels: o.kernels } : {}),
    ...(o.sandbox !== undefined ? { sandbox: o.sandbox } : {}),
    startedAt,
    beatAt: Date.now(),
    shardsDone: done,
    current: [...current.values()].slice(0, WORKER_RECORD_MAX_CURRENT),
  });
  const beat = async (): Promise<void> => {
    if (stopping) return;
    await dp.workers.put(workerId, JSON.stringify(record())).catch((e: Error) => log.warn('heartbeat failed', { err: e.message }));
  };

  // --- running alone -----------------------------------------------------------------------
  // Tasks that must run alone take turns (aloneTail); each waits until nothing else runs here, and
  // while one waits or runs, other tasks wait to start (gated).
  let aloneWaiting = 0;
  let aloneTail: Promise<void> = Promise.resolve();
  let sharedRunning = 0;
  const idleWaiters: (() => void)[] = [];
  const gated: (() => void)[] = [];
  async function gate<T>(alone: boolean, run: () => Promise<T>): Promise<T> {
    if (!alone) {
      while (aloneWaiting > 0) await new Promise<void>((r) => gated.push(r));
      sharedRunning++;
      try {
        return await run();
      } finally {
        sharedRunning--;
        if (sharedRunning === 0) for (const r of idleWaiters.splice(0)) r();
      }
    }
    aloneWaiting++;
    const before = aloneTail;
    let release = (): void => undefined;
    aloneTail = new Promise<void>((r) => (release = r));
    try {
      await before;
      while (sharedRunning > 0) await new Promise<void>((r) => idleWaiters.push(r));
      return await run();
    } finally {
      aloneWaiting--;
      release();
      if (aloneWaiting === 0) for (const r of gated.splice(0)) r();
    }
  }

  /** Runs one task (alone, when told: see the module's comment) and records the run (counts.ts: per shard, per try, per worker); never throws. */
  async function execute(
    task: Task,
    attempt: number,
    traceparent?: string,
    alone = task.alone === true,
  ): Promise<{ result: TaskResult; retryable: boolean; cancelled?: boolean }> {
    const startedAt = Date.now();
    const out = await gate(alone, () => runTask(task, attempt, traceparent, alone));
    if (countsEnabled()) {
      const e = out.result.error;
      recordCount({
        ev: 'exec',
        jobId: task.jobId,
        shardId: task.shardId,
        attempt: out.result.attempt,
        delivery: attempt,
        workerId,
        outcome: e === undefined ? 'ok' : out.cancelled === true ? 'cancelled' : out.retryable ? 'retryable' : 'permanent',
        ...(e !== undefined ? { code: e.code } : { outputs: out.result.outputs.map((r) => r.digest) }),
        ...(alone ? { alone: true } : {}),
        startedAt,
      });
    }
    return out;
  }

  /**
   * Runs one task; never throws. `retryable` says whether a failure may succeed on another try.
   * With tracing on and a `traceparent` from the task's message, inside a `gramfleet.task` span
   * (and the kernel call inside a `gramfleet.kernel` span).
   */
  async function runTask(
    task: Task,
    attempt: number,
    traceparent: string | undefined,
    alone: boolean,
  ): Promise<{ result: TaskResult; retryable: boolean; cancelled?: boolean }> {
    const spans = startTaskSpans(traceparent, {
      jobId: task.jobId,
      shardId: task.shardId,
      op: task.op,
      attempt: task.attempt ?? 1,
      delivery: attempt,
      workerId,
    });
    if (spans === undefined) return executeTask(task, attempt, undefined, alone);
    const r = await executeTask(task, attempt, spans, alone);
    spans.end({ backend: r.result.stats.backend, ...(r.result.error !== undefined ? { error: r.result.error } : {}) });
    return r;
  }

  async function executeTask(
    task: Task,
    attempt: number,
    spans: TaskSpans | undefined,
    alone: boolean,
  ): Promise<{ result: TaskResult; retryable: boolean; cancelled?: boolean }> {
    const ctx = { jobId: task.jobId, shardId: task.shardId, op: task.op, attempt };
    const stats: { -readonly [K in keyof TaskStats]: TaskStats[K] } = {
      workerId,
      backend: 'none',
      deliveryCount: attempt,
      computeMs: 0,
      fetchMs: 0,
      cacheHits: 0,
    };
    // The owner's try this answers (the durable queue's delivery count is `attempt`, kept in stats).
    const tried = task.attempt ?? 1;
    const metrics = taskMetrics;
    const redelivered = attempt > 1 || tried > 1;
    const fail = (e: GramfleetError, retryable: boolean): { result: TaskResult; retryable: boolean } => ({
      result: { v: PROTOCOL_VERSION, jobId: task.jobId, shardId: task.shardId, attempt: tried, outputs: [], stats, error: e.toPayload() },
      retryable,
    });
    if (cancelled.has(task.jobId) || task.deadline < Date.now()) {
      const why = cancelled.has(task.jobId) ? 'was cancelled' : 'passed its deadline';
      metrics?.ended(task.op, 'cancelled', redelivered);
      return { ...fail(new GramfleetError('JOB_CANCELLED', `job ${task.jobId} ${why}`, { jobId: task.jobId }), false), cancelled: true };
    }
    const fault = o.testOnlyFaults?.find((f) => f.shardId === task.shardId && (f.seed === undefined || (task.attrs as { seed?: unknown }).seed === f.seed));
    if (fault?.kind === 'crash') {
      recordCount({
        ev: 'exec',
        jobId: task.jobId,
        shardId: task.shardId,
        attempt: tried,
        delivery: attempt,
        workerId,
        outcome: 'crashed',
        ...(alone ? { alone: true } : {}),
        startedAt: Date.now(),
      });
      log.error('TEST ONLY: a poison shard kills this worker', ctx);
      process.kill(process.pid, 'SIGKILL');
    }
    const t0 = performance.now();
    // What the registry record shows as this worker's current tasks (the dashboard's cluster view).
    const token = {};
    current.set(token, { jobId: task.jobId, shardId: task.shardId, op: task.op, since: Date.now() });
    try {
      const hits0 = store.stats.hits;
      const inputs = await Promise.all(task.inputs.map((r) => store.get(r)));
      stats.fetchMs = performance.now() - t0;
      stats.cacheHits = store.stats.hits - hits0;
      const timeoutMs = Math.max(1, Math.min(kernelTimeoutMs, task.deadline - Date.now()));
      const kernel = () =>
        o.pool.run(
          task.op,
          task.attrs,
          inputs,
          task.inputs.map((r) => r.digest),
          { jobId: task.jobId, shardId: task.shardId, attempt, timeoutMs, ...(fault?.kind === 'hang' && tried === 1 ? { testOnlyHang: true } : {}) },
        );
      const run = await withTimeLimit(spans !== undefined ? spans.kernel(kernel) : kernel(), task.op, timeoutMs);
      stats.backend = run.backend;
      stats.computeMs = run.computeMs;
      if (run.rowHits !== undefined) Object.assign(stats, { rowHits: run.rowHits, rowMisses: run.rowMisses ?? 0, mirroredEntries: run.mirroredEntries ?? 0 });
      if (cancelled.has(task.jobId)) {
        metrics?.task(task.op, 'cancelled', (performance.now() - t0) / 1000, stats, task.inputs, [], redelivered);
        return { ...fail(new GramfleetError('JOB_CANCELLED', `job ${task.jobId} was cancelled`, { jobId: task.jobId }), false), cancelled: true };
      }
      // Results that travel in a message carry small outputs inline (no store round trip).
      let inlineLeft = task.replyTo !== undefined ? INLINE_RESULT_BUDGET : 0;
      const outputs = [];
      for (const a of o.testOnlyCorruptOutputs === true ? run.outputs.map(corrupt) : run.outputs) {
        const ref = await store.put(a, { inline: inlineLeft > 0, ...(task.durable !== undefined ? { durable: task.durable } : {}) });
        if (ref.inline !== undefined) inlineLeft -= ref.bytes;
        outputs.push(ref);
      }
      done++;
      metrics?.task(task.op, 'ok', (performance.now() - t0) / 1000, stats, task.inputs, outputs, redelivered);
      log.debug('shard done', { ...ctx, backend: run.backend, computeMs: Math.round(run.computeMs) });
      return { result: { v: PROTOCOL_VERSION, jobId: task.jobId, shardId: task.shardId, attempt: tried, outputs, stats }, retryable: false };
    } catch (e) {
      if (isGramfleetError(e) && !e.retryable) {
        metrics?.task(task.op, 'permanent_error', (performance.now() - t0) / 1000, stats, task.inputs, [], redelivered);
        log.warn('shard failed permanently', { ...ctx, code: e.code, err: e.message });
        return fail(e, false);
      }
      metrics?.task(task.op, 'retryable_error', (performance.now() - t0) / 1000, stats, task.inputs, [], redelivered);
      log.warn('shard failed; it will be tried again', { ...ctx, err: (e as Error).message });
      const ge = isGramfleetError(e)
        ? e
        : new GramfleetError('KERNEL_TRAP', `shard ${task.shardId} failed: ${(e as Error).message}`, { jobId: task.jobId, shardId: task.shardId });
      return fail(ge, true);
    } finally {
      current.delete(token);
    }
  }

  // --- the lane --------------------------------------------------------------------------
  const owners = new Map<string, OwnerState>();
  const ownerOf = (replyTo: string): OwnerState => {
    let s = owners.get(replyTo);
    if (s === undefined) {
      s = { replyTo, seen: 0, running: new Set(), results: [], resultBytes: 0, flushScheduled: false, batchTimer: undefined, sentAt: 0 };
      owners.set(replyTo, s);
    }
    return s;
  };
  /** Sends an owner its pending results (in frames the server takes) and what this worker still holds of its tasks. */
  const flush = (s: OwnerState, withPin = true): void => {
    s.flushScheduled = false;
    if (s.batchTimer !== undefined) {
      clearTimeout(s.batchTimer);
      s.batchTimer = undefined;
    }
    const running = JSON.stringify([...s.running]);
    const subject = ownerReplySubject(s.replyTo, pin);
    do {
      let bytes = running.length;
      let n = 0;
      while (n < s.results.length && (n === 0 || bytes + (s.results[n] as string).length < maxFrame)) bytes += (s.results[n++] as string).length + 1;
      const part = s.results.splice(0, n);
      try {
        nc.publish(
          subject,
          `{"v":${PROTOCOL_VERSION},"workerId":${JSON.stringify(workerId)},${withPin ? `"pin":${JSON.stringify(pin)},` : ''}"seen":${s.seen},"since":${startedAt},"results":[${part.join(',')}],"running":${running}}`,
        );
      } catch (e) {
        log.warn('reply publish failed; the owner will ask again', { err: (e as Error).message });
      }
    } while (s.results.length > 0);
    s.resultBytes = 0;
    s.sentAt = Date.now();
    if (s.running.size === 0 && s.results.length === 0) owners.delete(s.replyTo);
  };
  /**
   * Queues a result for its owner. The reply goes out at once when the owner has nothing else
   * running here (a lone task waits for nothing), and otherwise within REPLY_BATCH_MS, with the
   * results finished meanwhile: one message and one socket write for many tiny tasks.
   */
  const reply = (s: OwnerState, r: TaskResult): void => {
    const j = JSON.stringify(r);
    s.results.push(j);
    s.resultBytes += j.length;
    if (s.running.size === 0 || s.results.length >= 256 || s.resultBytes >= maxFrame) {
      if (s.batchTimer !== undefined) clearTimeout(s.batchTimer);
      s.batchTimer = undefined;
      if (!s.flushScheduled) {
        s.flushScheduled = true;
        setImmediate(() => flush(s));
      }
    } else if (!s.flushScheduled && s.batchTimer === undefined) {
      s.batchTimer = setTimeout(() => {
        s.batchTimer = undefined;
        if (!s.flushScheduled) flush(s);
      }, REPLY_BATCH_MS);
    }
  };

  const laneSub = nc.subscribe(laneSubject(names.prefix, pin), {
    callback: (err, msg) => {
      if (err !== null) return;
      let f: LaneFrame;
      try {
        f = msg.json<LaneFrame>();
      } catch {
        log.error('undecodable lane frame; dropped (its owner retries)', { subject: msg.subject });
        return;
      }
      const s = ownerOf(f.replyTo);
      s.seen = Math.max(s.seen, f.seq);
      // One trace context per frame (the owner cuts frames where it changes).
      const traceparent = activeTracing() !== undefined ? msg.headers?.get(TRACEPARENT_HEADER) || undefined : undefined;
      if (f.tasks.length === 0) {
        // A probe: the owner asks what this worker holds of its tasks (the answer goes to its
        // subject; the empty response only ends its request, which exists to learn whether anyone
        // listens on this lane).
        if (!s.flushScheduled) flush(s);
        if (msg.reply !== undefined && msg.reply !== '') msg.respond();
        return;
      }
      for (const t of f.tasks) {
        const key = taskKey(t.jobId, t.shardId);
        if (s.running.has(key)) continue;
        if (stopping) {
          taskMetrics?.ended(t.op, 'draining', (t.attempt ?? 1) > 1);
          reply(s, {
            v: PROTOCOL_VERSION,
            jobId: t.jobId,
            shardId: t.shardId,
            attempt: t.attempt ?? 1,
            outputs: [],
            stats: { workerId, backend: 'none', deliveryCount: t.attempt ?? 1, computeMs: 0, fetchMs: 0, cacheHits: 0 },
            error: new GramfleetError('WORKER_DRAINING', `worker ${workerId} is draining`).toPayload(),
          });
          continue;
        }
        s.running.add(key);
        inflight++;
        void execute(t, t.attempt ?? 1, traceparent)
          .then(({ result }) => {
            s.running.delete(key);
            reply(s, result);
          })
          .finally(releaseSlot);
      }
    },
  });
  const ping = setInterval(
    () => {
      const now = Date.now();
      for (const s of owners.values()) if (!s.flushScheduled && s.running.size > 0 && now - s.sentAt >= pingMs) flush(s);
    },
    Math.max(50, Math.floor(pingMs / 2)),
  );

  function releaseSlot(): void {
    inflight--;
    slotFreed?.();
  }

  // --- the durable queue ---------------------------------------------------------------------
  async function publishResult(task: Task, r: TaskResult): Promise<void> {
    if (task.replyTo !== undefined) {
      const s = ownerOf(task.replyTo);
      // Lane results waiting for their frame go first, in a frame with the pin; this result, of a
      // task from the queue, goes alone in a frame without one (a lane result in a pinless frame is
      // refused by the owner as not sent to the queue).
      if (s.results.length > 0) flush(s);
      s.results.push(JSON.stringify(r));
      flush(s, false);
    }
    await dp.js.publish(resultSubject(names.prefix, r.jobId, r.shardId), JSON.stringify(r), { msgID: resultMsgId(r.jobId, r.shardId) });
  }

  async function handleQueued(m: JsMsg): Promise<void> {
    let task: Task;
    try {
      task = JSON.parse(m.string()) as Task;
    } catch {
      log.error('undecodable task; terminating it', { subject: m.subject });
      m.term('undecodable');
      return;
    }
    const attempt = m.info.deliveryCount;
    // Tries before this delivery that count against maxDeliver: a task its owner spilled at try k
    // had k - 1 tries on lanes already, less the shared losses among them (Task.lost); here every
    // earlier delivery counts but the first of a task not marked alone (it ran beside other tasks
    // and may have been lost with a worker another task killed). Every later delivery runs alone.
    const lostBefore = task.lost ?? 0;
    const lostHere = task.alone !== true && attempt > 1 ? 1 : 0;
    const counted = (task.attempt ?? 1) - 1 - lostBefore + (attempt - 1) - lostHere;
    if (counted >= dp.options.maxDeliver) {
      const tries = (task.attempt ?? 1) - 1 + attempt - 1;
      log.error('shard exceeded max deliveries; dead-lettering', { jobId: task.jobId, shardId: task.shardId, op: task.op, attempt, tries, counted });
      taskMetrics?.ended(task.op, 'dead_lettered', true);
      const err = new GramfleetError(
        'WORKER_MAX_DELIVER',
        `shard ${task.shardId} of job ${task.jobId} was tried ${tries} times without a result: ${counted} counted (max ${dp.options.maxDeliver}: ` +
          `errors, and deliveries lost while it ran alone) and ${lostBefore + lostHere} lost with workers that held other tasks too ` +
          `(not counted; at most ${UNCOUNTED_LOSSES}, then it runs alone)`,
        {
          jobId: task.jobId,
          shardId: task.shardId,
          deliveries: tries,
          counted,
          lostBeside: lostBefore + lostHere,
          bound: dp.options.maxDeliver,
          field: 'maxDeliver',
        },
      );
      try {
        await publishResult(task, {
          v: PROTOCOL_VERSION,
          jobId: task.jobId,
          shardId: task.shardId,
          attempt: task.attempt ?? 1,
          outputs: [],
          stats: { workerId, backend: 'none', deliveryCount: attempt, computeMs: 0, fetchMs: 0, cacheHits: 0 },
          error: err.toPayload(),
        });
        m.term('max deliveries');
      } catch (e) {
        // Not recorded: leave it unacknowledged, so the next delivery dead-letters it again.
        log.warn('dead-letter record failed; the next delivery retries it', { jobId: task.jobId, shardId: task.shardId, err: (e as Error).message });
      }
      return;
    }
    const keepAlive = setInterval(() => m.working(), Math.max(500, dp.options.ackWaitMs / 3));
    try {
      const traceparent = activeTracing() !== undefined ? m.headers?.get(TRACEPARENT_HEADER) || undefined : undefined;
      const { result, retryable, cancelled: wasCancelled } = await execute(task, attempt, traceparent, task.alone === true || attempt > 1);
      if (wasCancelled === true) {
        m.term('cancelled');
        return;
      }
      if (result.error !== undefined && retryable && counted + 1 < dp.options.maxDeliver) {
        m.nak(1000);
        return;
      }
      // The last counted try failed: its error ends the task now (the next delivery would only be
      // dead-lettered, without saying why): STORE_MISSING_OBJECT naming the lost input (final: the
      // job fails rather than retrying for ever), or WORKER_MAX_DELIVER naming the last error.
      const e = result.error;
      const final =
        e !== undefined && retryable
          ? e.code === 'STORE_MISSING_OBJECT' && typeof e.details?.['digest'] === 'string'
            ? new GramfleetError(
                'STORE_MISSING_OBJECT',
                `shard ${task.shardId} of job ${task.jobId}: input ${String(e.details['digest'])} is in no store any more (${counted + 1} counted tries, max ${dp.options.maxDeliver}); the data plane lost it — put the job's inputs again and resubmit`,
                { jobId: task.jobId, shardId: task.shardId, digests: [e.details['digest']], counted: counted + 1, bound: dp.options.maxDeliver, final: true },
              )
            : new GramfleetError(
                'WORKER_MAX_DELIVER',
                `shard ${task.shardId} of job ${task.jobId} failed ${counted + 1} counted tries (max ${dp.options.maxDeliver}); last: ${e.code}: ${e.message}`,
                {
                  jobId: task.jobId,
                  shardId: task.shardId,
                  deliveries: (task.attempt ?? 1) - 1 + attempt,
                  counted: counted + 1,
                  bound: dp.options.maxDeliver,
                  field: 'maxDeliver',
                  last: e.code,
                },
              )
          : undefined;
      if (final !== undefined) taskMetrics?.ended(task.op, 'dead_lettered', true);
      const r = final !== undefined ? { ...result, error: final.toPayload() } : result;
      await publishResult(task, r);
      if (r.error !== undefined) m.term(r.error.code);
      else await m.ackAck();
      return;
    } catch (e) {
      log.warn('result publish failed; the task will be redelivered', { jobId: task.jobId, shardId: task.shardId, err: (e as Error).message });
      m.nak(1000);
    } finally {
      clearInterval(keepAlive);
    }
  }

  await beat();
  const hb = setInterval(() => void beat(), o.heartbeatMs ?? 3000);

  // Pull from the class's durable queue only while slots are free, a few messages at a time.
  let consumer = await dp.js.consumers.get(names.tasksStream, consumerName(o.cls));
  let oneByOne = true;
  const pullLoop = (async () => {
    while (!stopping) {
      const free = slots - inflight;
      // Nothing new is taken while a task waits to run alone or runs alone.
      if (free <= 0 || aloneWaiting > 0) {
        await new Promise<void>((r) => {
          slotFreed = r;
          setTimeout(r, 500);
        });
        slotFreed = undefined;
        continue;
      }
      try {
        // One message at a time after a redelivery (and at the start: a restarted worker may find
        // the queue full of them): a task that runs alone would keep the others of a batch waiting,
        // and they would be lost with it if it kills this worker.
        const batch = await consumer.fetch({ max_messages: oneByOne ? 1 : free, expires: 2000 });
        let any = false;
        for await (const m of batch) {
          if (!any) oneByOne = false;
          any = true;
          if (m.info.deliveryCount > 1) oneByOne = true;
          inflight++;
          void handleQueued(m)
            .catch((e: Error) => log.error('shard handling failed', { err: e.message }))
            .finally(releaseSlot);
        }
      } catch (e) {
        if (!stopping) {
          const err = (e as Error).message;
          log.warn('pull failed; retrying', { err });
          await sleep(500);
          // The server came back without the queue (a wiped store): declared again, then found again.
          if (/not found/i.test(err) && (await dp.redeclare()))
            consumer = await dp.js.consumers.get(names.tasksStream, consumerName(o.cls)).catch(() => consumer);
        }
      }
    }
  })();
  log.info('worker started', {
    workerId,
    cls: o.cls,
    threads: o.pool.threads,
    slots,
    ops: o.ops,
    ...(o.kernels !== undefined ? { kernelBuild: o.kernels.build, threadsPerShard: o.kernels.threadsPerShard } : {}),
  });

  return {
    workerId,
    done: () => done,
    async drain(): Promise<void> {
      if (stopping) return;
      stopping = true;
      log.info('draining', { workerId });
      // Leave the registry first, so owners stop sending; frames that still come are answered
      // WORKER_DRAINING (their owners send them elsewhere at once).
      clearInterval(hb);
      await dp.workers.delete(workerId).catch(() => undefined);
      await pullLoop;
      while (inflight > 0)
        await new Promise<void>((r) => {
          slotFreed = r;
          setTimeout(r, 200);
        });
      for (const s of owners.values()) flush(s);
      clearInterval(ping);
      laneSub.unsubscribe();
      cancelSub.unsubscribe();
      await o.pool.close();
      await arrays.close();
      await dp.close();
      log.info('drained', { workerId, shardsDone: done });
    },
  };
}

/** The worker's scrape-time series: its store's reads by tier, its cache, its tasks in flight. */
function registerWorkerGauges(m: ProcessMetrics, st: ArrayStoreStats, inflight: () => number, done: () => number): void {
  m.counter(
    'gramfleet_store_reads_total',
    "Array reads by where they were served: this process's cache, the host store, a peer, the object store",
    () => [
      [{ tier: 'cache' }, st.hits],
      [{ tier: 'host' }, st.hostReads],
      [{ tier: 'peer' }, st.peerReads],
      [{ tier: 'object' }, st.objectReads],
    ],
    ['tier'],
  );
  m.gauge('gramfleet_store_cache_bytes', "Bytes in this process's array cache", () => st.bytes);
  m.gauge('gramfleet_worker_tasks_in_flight', 'Tasks this worker holds (queued on its pool or running)', inflight);
  m.counter('gramfleet_worker_shards_done_total', 'Shards this worker finished', done);
}

/**
 * SIGTERM and SIGINT drain `w` and exit 0. A drain that has not finished after `timeoutMs`
 * (GRAMFLEET_DRAIN_TIMEOUT_MS, default 60000; e.g. NATS is gone and the registry cannot be
 * updated) exits 1 anyway: the unacknowledged tasks are redelivered to other workers.
 */
export function drainOnSignals(w: Pick<RunningWorker, 'drain'>, log: Logger, timeoutMs: number, onStop?: () => void): void {
  let draining = false;
  const stop = (): void => {
    if (draining) return;
    draining = true;
    onStop?.();
    setTimeout(
      () => {
        log.warn('drain timed out; exiting (unacknowledged tasks are redelivered)', { timeoutMs });
        process.exit(1);
      },
      Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 60_000,
    ).unref();
    void w.drain().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * TEST ONLY: `a` with its first element changed by far more than any tolerance (x → x + 1 + |x|
 * for finite floats, 0 for others, x XOR 1 for integers); see {@link WorkerOptions.testOnlyCorruptOutputs}.
 */
function corrupt(a: NdArray): NdArray {
  if (a.data.length === 0) return a;
  const data = a.data.slice() as typeof a.data;
  const x = data[0] as number;
  data[0] = a.dtype === 'f64' || a.dtype === 'f32' ? (Number.isFinite(x) ? x + 1 + Math.abs(x) : 0) : x ^ 1;
  return { ...a, data };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** How long past a run's own time limit the runtime waits for a pool that cannot stop a run itself. */
const TIME_LIMIT_GRACE_MS = 1000;

/**
 * `run`, or KERNEL_TIMEOUT once `ms` (plus a grace the pool uses to stop the run and replace its
 * thread) have passed: a pool that cannot stop a kernel (a GPU call) still frees the task.
 */
function withTimeLimit<T>(run: Promise<T>, op: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new GramfleetError('KERNEL_TIMEOUT', `op ${op} still ran after ${ms} ms`, { op, timeoutMs: ms })),
      ms + TIME_LIMIT_GRACE_MS,
    );
    timer.unref();
  });
  return Promise.race([run, limit]).finally(() => clearTimeout(timer));
}
