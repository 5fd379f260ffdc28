/**
 * Results are checked before an owner takes them, and the verification mode runs shards again
 * on a second worker (issue 22 item 3), on a real nats-server with the real worker runtime
 * (startWorker) and a small in-process kernel pool. The "forgers" are lane subscribers
 * registered like workers that answer every task with a result that must be refused: a wrong
 * output length for its shape, another shard's id, another worker's id, or a frame that claims
 * another worker's pin. A worker made to return wrong bytes uses the runtime's test-only hook
 * (WorkerOptions.testOnlyCorruptOutputs).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  PROTOCOL_VERSION,
  encodeNpy,
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

/** A kernel pool whose only op, `negate`, returns −x. */
function negatePool(): KernelPool {
  return {
    threads: 1,
    async run(_op: string, _attrs: unknown, inputs: NdArray[]): Promise<KernelRun> {
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

/** How a forger answers. */
type Forgery = 'bad-length' | 'other-shard' | 'other-worker-id' | 'other-pin' | 'wrong-shape';

describe('result checks and verification on the task path (real nats-server, real worker runtime)', () => {
  let server: ChildProcess;
  let dir: string;
  let url: string;
  let prefix: string;
  let owner: DataPlane;
  const workers: RunningWorker[] = [];
  const closers: (() => Promise<void> | void)[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-results-'));
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
    prefix = `r${randomBytes(3).toString('hex')}`;
    owner = await openDataPlane(await connectNats(url, 'owner'), resourceNames(prefix), { maxDeliver: 3, ackWaitMs: 2000 });
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
    for (const w of workers) await w.drain().catch(() => undefined);
    await owner?.close();
    server?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const addWorker = async (id: string, o: { corrupt?: boolean } = {}): Promise<RunningWorker> => {
    const w = await startWorker({
      natsUrl: url,
      prefix,
      cls: 'wasm',
      pool: negatePool(),
      ops: ['negate'],
      log: silentLogger,
      workerId: id,
      dataPlane: { maxDeliver: 3, ackWaitMs: 2000 },
      heartbeatMs: 500,
      ...(o.corrupt === true ? { testOnlyCorruptOutputs: true } : {}),
    });
    workers.push(w);
    return w;
  };
  const stopAll = async (): Promise<void> => {
    for (const w of workers.splice(0)) await w.drain();
  };

  /** A registered "worker" whose lane answers every task with a forged result of kind `how`. */
  const addForger = async (how: Forgery): Promise<() => Promise<void>> => {
    const dp = await openDataPlane(await connectNats(url, 'forger'), resourceNames(prefix), { maxDeliver: 3, ackWaitMs: 2000 });
    const workerId = `forger-${how}-${randomBytes(3).toString('hex')}`;
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
    const out = encodeNpy({ dtype: 'f64', shape: [1], data: Float64Array.of(42) });
    const ref = {
      bucket: dp.names.arraysBucket,
      digest: createHash('sha256').update(out).digest('hex'),
      dtype: 'f64' as const,
      shape: how === 'bad-length' ? [2] : [1],
      bytes: out.byteLength,
      inline: Buffer.from(out).toString('base64'),
    };
    const sub = dp.nc.subscribe(laneSubject(prefix, pin), {
      callback: (_e, msg) => {
        const f = msg.json<LaneFrame>();
        if (f.tasks.length === 0) return;
        const results: TaskResult[] = f.tasks.map((t) => ({
          v: PROTOCOL_VERSION,
          jobId: t.jobId,
          shardId: how === 'other-shard' ? `${t.shardId}-forged` : t.shardId,
          attempt: t.attempt ?? 1,
          outputs: [ref],
          stats: { workerId: how === 'other-worker-id' ? 'w-honest' : workerId, backend: 'test', deliveryCount: 1, computeMs: 0, fetchMs: 0, cacheHits: 0 },
        }));
        const r: ReplyFrame = { v: PROTOCOL_VERSION, workerId, pin: how === 'other-pin' ? pinToken('w-honest') : pin, seen: f.seq, results, running: [] };
        dp.nc.publish(ownerReplySubject(f.replyTo, pin), JSON.stringify(r));
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
    return stop;
  };

  const client = (o: { compareValues?: boolean } = {}): TaskClient => {
    const store = createArrayStore(owner.arrays, owner.names.arraysBucket);
    const c = createTaskClient({ dp: owner, laneTimeoutMs: 1500, resendMs: 500, spillAfterMs: 3_000, ...(o.compareValues === true ? { store } : {}) });
    closers.push(() => c.close());
    return c;
  };

  const negateTask = async (jobId: string, shardId: string, x: Float64Array) => {
    const store = createArrayStore(owner.arrays, owner.names.arraysBucket);
    const input = await store.put({ dtype: 'f64', shape: [x.length], data: x }, { inline: true });
    return { jobId, shardId, op: 'negate', attrs: {}, inputs: [input], deadline: Date.now() + 60_000 };
  };

  for (const [how, why] of [
    ['bad-length', /outputs\[0\]\.bytes is \d+, not the \d+ of a f64 \[2\] array/],
    ['other-shard', /names .*s0-forged, no task of this owner/],
    ['other-worker-id', /names worker w-honest inside a frame of worker forger/],
  ] as const) {
    it(`a worker answering with ${how} results is refused on every try: WORKER_BAD_RESULT, nothing accepted`, async () => {
      const stop = await addForger(how);
      try {
        const c = client();
        const r = await c.run(await negateTask(`j-${how}`, 's0', Float64Array.of(1)), { cls: 'wasm' });
        assert.equal(r.error?.code, 'WORKER_BAD_RESULT', JSON.stringify(r));
        assert.match(r.error?.message ?? '', why);
        assert.equal(r.error?.details?.['deliveries'], 3);
        assert.deepEqual(r.outputs, []);
        assert.ok(c.stats.rejected >= 3, JSON.stringify(c.stats));
      } finally {
        await stop();
      }
    });
  }

  // A frame that names another worker's pin than its subject's is dropped whole: its sender is not
  // heard from, so its tasks go to other workers once it is taken as lost.
  it('a worker answering with a well-formed result of the wrong shape for the op is refused: WORKER_BAD_RESULT', async () => {
    const stop = await addForger('wrong-shape');
    try {
      const c = client();
      // negate of a 2-vector is a 2-vector; the forger answers a 1-vector (self-consistent, so only the op's schema catches it).
      const fits = (outs: readonly { dtype: string; shape: readonly number[] }[]): string | undefined =>
        outs.length === 1 && outs[0]?.dtype === 'f64' && outs[0].shape.length === 1 && outs[0].shape[0] === 2 ? undefined : `not one f64 [2]`;
      const r = await c.run(await negateTask('j-shape', 's0', Float64Array.of(1, 2)), { cls: 'wasm', checkOutputs: fits });
      assert.equal(r.error?.code, 'WORKER_BAD_RESULT', JSON.stringify(r));
      assert.match(r.error?.message ?? '', /outputs do not fit op negate: not one f64 \[2\]/);
      // Without the op's schema the same answer would have been taken.
      const taken = await client().run(await negateTask('j-shape', 's1', Float64Array.of(1, 2)), { cls: 'wasm' });
      assert.equal(taken.error, undefined);
      assert.deepEqual(taken.outputs[0]?.shape, [1]);
    } finally {
      await stop();
    }
  });

  it("beside forgers, every shard's accepted result is the honest worker's, recorded with its checked pin", async () => {
    await addWorker('w-honest');
    const stops = [await addForger('other-shard'), await addForger('other-pin')];
    const stop = async (): Promise<void> => {
      for (const s of stops) await s();
    };
    try {
      const c = client();
      const rs = await Promise.all(
        Array.from({ length: 24 }, async (_, i) => c.run(await negateTask('j-mixed', `s${i}`, Float64Array.of(i + 1)), { cls: 'wasm' })),
      );
      const store = createArrayStore(owner.arrays, owner.names.arraysBucket);
      for (const [i, r] of rs.entries()) {
        assert.equal(r.error, undefined, JSON.stringify(r.error));
        assert.equal(r.stats.workerId, 'w-honest');
        assert.equal(r.stats.pin, pinToken('w-honest'));
        assert.deepEqual(Array.from((await store.get(r.outputs[0]!)).data as Float64Array), [-(i + 1)]);
      }
      assert.ok(c.stats.rejected > 0, `some tasks went to the forger and its answers were refused (${JSON.stringify(c.stats)})`);
    } finally {
      await stop();
      await stopAll();
    }
  });

  it('--verify 1 on honest workers: every shard runs again on the other worker and passes', async () => {
    await addWorker('w-a');
    await addWorker('w-b');
    try {
      const c = client();
      const rs = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => c.run(await negateTask('j-verify-ok', `s${i}`, Float64Array.of(i, 0.5)), { cls: 'wasm', verify: 1 })),
      );
      for (const r of rs) {
        assert.equal(r.error, undefined, JSON.stringify(r.error));
        assert.ok(r.stats.verifiedBy !== undefined && r.stats.verifiedBy !== r.stats.workerId, JSON.stringify(r.stats));
      }
      assert.equal(c.stats.verified, 20);
      assert.equal(c.stats.verifyMismatches, 0);
      // A fraction checks the shards the hash picks, the same ones on every run.
      const c2 = client();
      const some = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => c2.run(await negateTask('j-verify-part', `s${i}`, Float64Array.of(i)), { cls: 'wasm', verify: 0.25 })),
      );
      const checked = some.filter((r) => r.stats.verifiedBy !== undefined).length;
      assert.equal(c2.stats.verified, checked);
      assert.ok(checked > 0 && checked < 40, `${checked} of 40 checked at 0.25`);
    } finally {
      await stopAll();
    }
  });

  it('--verify catches a worker that returns wrong bytes: VERIFY_MISMATCH naming the shard and both workers', async () => {
    await addWorker('w-good');
    await addWorker('w-corrupt', { corrupt: true });
    try {
      // With a store, differing digests are compared value by value (within tolerance): still a mismatch.
      const c = client({ compareValues: true });
      const rs = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => c.run(await negateTask('j-verify-bad', `s${i}`, Float64Array.of(i, 2)), { cls: 'wasm', verify: 1 })),
      );
      for (const [i, r] of rs.entries()) {
        assert.equal(r.error?.code, 'VERIFY_MISMATCH', JSON.stringify(r));
        assert.equal(r.error?.details?.['shardId'], `s${i}`);
        assert.deepEqual([...(r.error?.details?.['workers'] as string[])].sort(), ['w-corrupt', 'w-good']);
        assert.match(r.error?.message ?? '', new RegExp(`shard s${i} of job j-verify-bad`));
        assert.match(String(r.error?.details?.['why']), /^output 0: element 0 is /);
        assert.deepEqual(r.outputs, []);
      }
      assert.equal(c.stats.verifyMismatches, 8);
    } finally {
      await stopAll();
    }
  });

  it('--verify with a single live worker ends with VERIFY_NO_PEER (a shard is never checked against itself)', async () => {
    await addWorker('w-alone');
    try {
      const c = client();
      const r = await c.run(await negateTask('j-verify-alone', 's0', Float64Array.of(3)), { cls: 'wasm', verify: 1 });
      assert.equal(r.error?.code, 'VERIFY_NO_PEER', JSON.stringify(r));
      assert.equal(r.error?.details?.['workerId'], 'w-alone');
      assert.equal(r.error?.details?.['shardId'], 's0');
    } finally {
      await stopAll();
    }
  });
});
