/**
 * The task path on a real nats-server (JetStream on): an owner (TaskClient) pushes tasks to
 * workers' lanes and retries what a lost worker or message leaves unanswered; tasks with no
 * live worker go to the durable queue; results come back bit for bit. The workers are the real
 * worker runtime (startWorker) with a small in-process kernel pool; the "broken" workers are
 * lane subscribers registered like workers that never answer, or answer that they hold nothing.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  GramfleetError,
  isGramfleetError,
  PROTOCOL_VERSION,
  laneSubject,
  ownerReplySubject,
  pinToken,
  resourceNames,
  silentLogger,
  type LaneFrame,
  type NdArray,
  type ReplyFrame,
  type TaskResult,
  type WorkerRecord,
} from '@gramfleet/core';
import {
  connectNats,
  createArrayStore,
  createTaskClient,
  openDataPlane,
  startWorker,
  type DataPlane,
  type KernelPool,
  type KernelRun,
  type RunningWorker,
  type TaskClient,
} from '@gramfleet/workers';

const repo = path.resolve(__dirname, '..', '..', '..');

/** A kernel pool whose only op, `negate`, returns −x (so +0 becomes −0), or fails as told. */
function testPool(o: { fail?: () => GramfleetError | undefined; delayMs?: number } = {}): KernelPool {
  return {
    threads: 1,
    async run(_op: string, _attrs: unknown, inputs: NdArray[]): Promise<KernelRun> {
      if (o.delayMs !== undefined) await new Promise((r) => setTimeout(r, o.delayMs));
      const e = o.fail?.();
      if (e !== undefined) throw e;
      const x = (inputs[0]?.data ?? new Float64Array(0)) as Float64Array;
      return { outputs: [{ dtype: 'f64', shape: [x.length], data: x.map((v) => -v) }], backend: 'test', computeMs: 0 };
    },
    async close() {
      /* nothing */
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe('task lanes: owner-side dispatch and retry (real nats-server)', () => {
  let server: ChildProcess;
  let dir: string;
  let url: string;
  let prefix: string;
  let owner: DataPlane;
  const workers: RunningWorker[] = [];
  const closers: (() => Promise<void> | void)[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-lanes-'));
    const port = await freePort();
    server = spawn(path.join(repo, '.gramfleet', 'bin', 'nats-server'), ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    url = `nats://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        const nc = await connectNats(url, 'probe');
        await nc.close();
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    prefix = `l${randomBytes(3).toString('hex')}`;
    owner = await openDataPlane(await connectNats(url, 'owner'), resourceNames(prefix), { maxDeliver: 3, ackWaitMs: 2000 });
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
    for (const w of workers) await w.drain().catch(() => undefined);
    await owner?.close();
    server?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const addWorker = async (pool: KernelPool, id = `w-${randomBytes(3).toString('hex')}`): Promise<RunningWorker> => {
    const w = await startWorker({
      natsUrl: url,
      prefix,
      cls: 'wasm',
      pool,
      ops: ['negate'],
      log: silentLogger,
      workerId: id,
      dataPlane: { maxDeliver: 3, ackWaitMs: 2000 },
      heartbeatMs: 500,
    });
    workers.push(w);
    return w;
  };

  /**
   * A registered "worker" whose lane takes tasks and answers as `answer` says: never, "holding
   * nothing", not at all because it died, or with each task's result twice (no outputs).
   */
  const addBroken = async (answer: 'never' | 'holds-nothing' | 'dies' | 'twice'): Promise<(() => Promise<void>) & { workerId: string }> => {
    const dp = await openDataPlane(await connectNats(url, 'broken'), resourceNames(prefix), { maxDeliver: 3, ackWaitMs: 2000 });
    const workerId = `broken-${answer}-${randomBytes(3).toString('hex')}`;
    const pin = pinToken(workerId);
    const rec: WorkerRecord = {
      workerId,
      cls: 'wasm',
      pid: process.pid,
      host: os.hostname(),
      threads: 1,
      ops: ['negate'],
      pin,
      slots: 4,
      startedAt: Date.now(),
      beatAt: Date.now(),
      shardsDone: 0,
    };
    const beat = setInterval(() => void dp.workers.put(workerId, JSON.stringify({ ...rec, beatAt: Date.now() })), 500);
    await dp.workers.put(workerId, JSON.stringify(rec));
    const got: string[] = [];
    const sub = dp.nc.subscribe(laneSubject(prefix, pin), {
      callback: (_e, msg) => {
        const f = msg.json<LaneFrame>();
        for (const t of f.tasks) got.push(t.shardId);
        if (answer === 'dies' && f.tasks.length > 0) {
          // Killed holding tasks: the connection goes, the registry entry stays (nobody deletes it).
          clearInterval(beat);
          void dp.nc.close();
        }
        if (answer === 'twice' && f.tasks.length > 0) {
          const results: TaskResult[] = f.tasks.map((t) => ({
            v: PROTOCOL_VERSION,
            jobId: t.jobId,
            shardId: t.shardId,
            attempt: t.attempt ?? 1,
            outputs: [],
            stats: { workerId, backend: 'test', deliveryCount: 1, computeMs: 0, fetchMs: 0, cacheHits: 0 },
          }));
          const r: ReplyFrame = { v: PROTOCOL_VERSION, workerId, pin, seen: f.seq, results, running: [] };
          for (let i = 0; i < 2; i++) dp.nc.publish(ownerReplySubject(f.replyTo, pin), JSON.stringify(r));
        }
        if (answer === 'holds-nothing') {
          const r: ReplyFrame = { v: PROTOCOL_VERSION, workerId, pin, seen: f.seq, results: [], running: [] };
          dp.nc.publish(ownerReplySubject(f.replyTo, pin), JSON.stringify(r));
        }
      },
    });
    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      clearInterval(beat);
      sub.unsubscribe();
      await dp.workers.delete(workerId).catch(() => undefined);
      await dp.close();
    };
    closers.push(stop);
    return Object.assign(stop, { workerId });
  };

  const client = (o: { laneTimeoutMs?: number } = {}): TaskClient => {
    const c = createTaskClient({ dp: owner, laneTimeoutMs: o.laneTimeoutMs ?? 1500, resendMs: 500, spillAfterMs: 5_000 });
    closers.push(() => c.close());
    return c;
  };

  const negateTask = async (jobId: string, shardId: string, x: Float64Array) => {
    const store = createArrayStore(owner.arrays, owner.names.arraysBucket);
    const input = await store.put({ dtype: 'f64', shape: [x.length], data: x }, { inline: true });
    return { jobId, shardId, op: 'negate', attrs: {}, inputs: [input], deadline: Date.now() + 60_000 };
  };

  it('a task goes to a lane and comes back inline, bit for bit (−0 included), counted once', async () => {
    await addWorker(testPool(), 'w-main');
    const c = client();
    const store = createArrayStore(owner.arrays, owner.names.arraysBucket);
    const x = Float64Array.of(0, -0, 1.5, -2, Number.MIN_VALUE, 1e308);
    const r = await c.run(await negateTask('j1', 's0', x), { cls: 'wasm' });
    assert.equal(r.error, undefined);
    assert.ok(r.outputs[0]?.inline !== undefined, 'small output inline');
    const y = (await store.get(r.outputs[0]!)).data as Float64Array;
    assert.deepEqual(
      Array.from(y).map((v) => (Object.is(v, -0) ? '-0' : String(v))),
      Array.from(x).map((v) => (Object.is(-v, -0) ? '-0' : String(-v))),
    );
    assert.equal(c.stats.spilled, 0);
    assert.equal(r.stats.workerId, 'w-main');
  });

  it('tasks on a worker that never answers are retried on another; each result counted once', async () => {
    const stop = await addBroken('never');
    const c = client({ laneTimeoutMs: 1500 });
    const rs = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => c.run(await negateTask('j2', `s${i}`, Float64Array.of(i)), { cls: 'wasm' })),
    ).finally(stop);
    rs.forEach((r, i) => {
      assert.equal(r.error, undefined);
      assert.equal(r.shardId, `s${i}`);
    });
    assert.ok(c.stats.retried > 0, `some tasks went to the silent worker and were retried (${JSON.stringify(c.stats)})`);
    assert.ok(rs.every((r) => r.stats.workerId === 'w-main'));
  });

  // With the lane timeout at 10 minutes, only the "holds nothing" answers can bring the tasks back in time.
  it('a worker that says it holds nothing (its results were lost) has its tasks sent again at once', { timeout: 60_000 }, async () => {
    const stop = await addBroken('holds-nothing');
    const c = client({ laneTimeoutMs: 600_000 });
    const rs = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => c.run(await negateTask('j3', `s${i}`, Float64Array.of(i)), { cls: 'wasm' })),
    ).finally(stop);
    assert.ok(rs.every((r) => r.error === undefined));
    assert.ok(rs.every((r) => r.stats.workerId === 'w-main'));
    assert.ok(c.stats.retried > 0, JSON.stringify({ stats: c.stats, workers: rs.map((r) => r.stats.workerId) }));
  });

  // With the lane timeout at 10 minutes, only the probe that finds nobody on the dead worker's lane can bring the tasks back in time.
  it('tasks on a worker killed while it holds them go to another at the first probe, not after the lane timeout', { timeout: 60_000 }, async () => {
    await addBroken('dies');
    const c = client({ laneTimeoutMs: 600_000 });
    const rs = await Promise.all(Array.from({ length: 24 }, async (_, i) => c.run(await negateTask('j3k', `s${i}`, Float64Array.of(i)), { cls: 'wasm' })));
    assert.ok(
      rs.every((r) => r.error === undefined && r.stats.workerId === 'w-main'),
      JSON.stringify(rs.map((r) => [r.stats.workerId, r.error?.code])),
    );
    assert.ok(c.stats.retried > 0, `some tasks went to the dead worker and were retried (${JSON.stringify(c.stats)})`);
  });

  it('duplicate results are counted per job: two jobs at once on one owner, one of them answered twice per shard', async () => {
    const stop = await addBroken('twice');
    const twice = stop.workerId;
    const c = client();
    const shards = Array.from({ length: 12 }, (_, i) => `s${i}`);
    // Interleaved: job A's shards pinned to the worker that answers twice, job B's to w-main.
    const runs = shards.flatMap((s, i) => [
      negateTask('jdA', s, Float64Array.of(i)).then((t) => c.run(t, { cls: 'wasm', pin: pinToken(twice) })),
      negateTask('jdB', s, Float64Array.of(i)).then((t) => c.run(t, { cls: 'wasm', pin: pinToken('w-main') })),
    ]);
    const rs = await Promise.all(runs).finally(stop);
    assert.ok(
      rs.every((r) => r.error === undefined),
      JSON.stringify(rs.filter((r) => r.error !== undefined)),
    );
    assert.ok(rs.filter((r) => r.jobId === 'jdA').every((r) => r.stats.workerId === twice));
    for (const until = Date.now() + 10_000; c.duplicatesOf('jdA', shards) < shards.length && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.duplicatesOf('jdA', shards), shards.length, 'one duplicate per shard of job A');
    assert.equal(c.duplicatesOf('jdB', shards), 0, "job B has none of job A's duplicates");
    assert.equal(c.duplicatesOf('jdA', shards.slice(0, 5)), 5, 'a batch of A counts only its own shards');
    assert.equal(c.stats.duplicates, shards.length, 'the total is both jobs together');
  });

  it('a pinned task runs on its worker; pinned to a worker that is gone, it runs elsewhere', async () => {
    const c = client();
    const r = await c.run(await negateTask('j4', 's0', Float64Array.of(1)), { cls: 'wasm', pin: pinToken('w-main') });
    assert.equal(r.stats.workerId, 'w-main');
    const r2 = await c.run(await negateTask('j4', 's1', Float64Array.of(1)), { cls: 'wasm', pin: 'no-such-worker' });
    assert.equal(r2.error, undefined);
  });

  it('a worker drained while it holds tasks finishes them; none is sent elsewhere', async () => {
    const slow = await addWorker(testPool({ delayMs: 200 }), 'w-slow');
    const c = client();
    const runs = Array.from({ length: 4 }, async (_, i) =>
      c.run(await negateTask('j45', `s${i}`, Float64Array.of(i)), { cls: 'wasm', pin: pinToken('w-slow') }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const drained = slow.drain();
    const rs = await Promise.all(runs);
    await drained;
    workers.splice(workers.indexOf(slow), 1);
    assert.ok(
      rs.every((r) => r.error === undefined && r.stats.workerId === 'w-slow'),
      JSON.stringify(rs.map((r) => [r.stats.workerId, r.error?.code])),
    );
    assert.equal(c.stats.retried, 0);
    assert.equal(c.stats.duplicates, 0);
  });

  it('a retryable failure is tried maxDeliver times, then ends as WORKER_MAX_DELIVER', async () => {
    const flaky = await addWorker(testPool({ fail: () => new GramfleetError('KERNEL_TRAP', 'test trap') }), 'w-flaky');
    const c = client();
    const r = await c.run(await negateTask('j5', 's0', Float64Array.of(1)), { cls: 'wasm', pin: pinToken('w-flaky') });
    // Retries go to any worker: the good one answers unless every try hit the flaky one.
    assert.ok(r.error === undefined || r.error.code === 'WORKER_MAX_DELIVER', JSON.stringify(r.error));
    await flaky.drain();
    workers.splice(workers.indexOf(flaky), 1);
    const bad = await addWorker(testPool({ fail: () => new GramfleetError('KERNEL_TRAP', 'test trap') }), 'w-bad');
    const only = client();
    // Every worker but the bad one drains; the task can only fail.
    for (const w of workers.filter((x) => x !== bad)) await w.drain();
    workers.splice(0, workers.length, bad);
    const r3 = await only.run(await negateTask('j5', 's1', Float64Array.of(1)), { cls: 'wasm' });
    assert.equal(r3.error?.code, 'WORKER_MAX_DELIVER');
    // maxDeliver counted tries; a try lost with a worker drained earlier (a lane nobody listens on) is not counted.
    assert.equal(r3.error?.details?.['counted'], 3, JSON.stringify(r3.error));
    assert.ok(Number(r3.error?.details?.['deliveries']) >= 3);
  });

  it('with no live worker a task goes to the durable queue, and a worker that starts later answers it', async () => {
    for (const w of workers.splice(0)) await w.drain();
    const c = client();
    const pending = c.run(await negateTask('j6', 's0', Float64Array.of(7)), { cls: 'wasm' });
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(c.stats.spilled, 1, 'spilled to the work-queue stream');
    await addWorker(testPool(), 'w-late');
    const r = await pending;
    assert.equal(r.error, undefined);
    const store = createArrayStore(owner.arrays, owner.names.arraysBucket);
    assert.deepEqual(Array.from((await store.get(r.outputs[0]!)).data as Float64Array), [-7]);
  });

  it('an owner holding maxPending unanswered tasks refuses the next with QUEUE_FULL; once they are answered it takes more', async () => {
    for (const w of workers.splice(0)) await w.drain();
    const c = createTaskClient({ dp: owner, laneTimeoutMs: 1500, resendMs: 500, spillAfterMs: 60_000, maxPending: 3 });
    closers.push(() => c.close());
    const held = [];
    for (let i = 0; i < 3; i++) held.push(c.run(await negateTask('jq', `s${i}`, Float64Array.of(i)), { cls: 'wasm' }));
    await assert.rejects(c.run(await negateTask('jq', 's3', Float64Array.of(3)), { cls: 'wasm' }), (e: unknown) => {
      assert.ok(isGramfleetError(e), String(e));
      assert.equal(e.code, 'QUEUE_FULL');
      assert.match(e.message, /maxPending = 3/);
      return true;
    });
    // The same task again joins the one held (not a fourth).
    held.push(c.run(await negateTask('jq', 's0', Float64Array.of(0)), { cls: 'wasm' }));
    await addWorker(testPool(), 'w-queue');
    for (const r of await Promise.all(held)) assert.equal(r.error, undefined);
    const r = await c.run(await negateTask('jq', 's3', Float64Array.of(3)), { cls: 'wasm' });
    assert.equal(r.error, undefined, 'room again once the held tasks are answered');
  });

  it('frames larger than a message are split: 120 tasks with 60 KiB inputs each', async () => {
    const c = client();
    const big = (i: number): Float64Array => Float64Array.from({ length: 7000 }, (_, k) => i + k);
    const rs = await Promise.all(Array.from({ length: 120 }, async (_, i) => c.run(await negateTask('j7', `s${i}`, big(i)), { cls: 'wasm' })));
    const store = createArrayStore(owner.arrays, owner.names.arraysBucket);
    for (let i = 0; i < rs.length; i += 17) {
      const y = (await store.get(rs[i]!.outputs[0]!)).data as Float64Array;
      assert.equal(y[6999], -(i + 6999));
    }
  });
});
