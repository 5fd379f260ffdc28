/**
 * A one-replica JetStream store wiped under a running owner and worker (issue 23): nats-server
 * SIGKILLed, its store directory removed, started again empty on the same port. The processes
 * must declare their streams, KV bucket and object bucket again when they reconnect; a task that
 * sat in the lost durable queue is sent again (its input travels inline) and finishes; a task whose
 * input went with the store must end, within a bound, with STORE_MISSING_OBJECT naming the digest
 * (marked final, so the job fails instead of retrying for ever); and new work must run. Before,
 * nothing declared the resources again: puts and the durable queue failed for ever, and a task
 * with no live worker was spilled again and again into the missing stream (the job hung).
 * Real nats-server, the real worker runtime, a real TaskClient; no mocks.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { resourceNames, silentLogger, type ArrayRef, type NdArray, type TaskResult } from '@gramfleet/core';
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
import { startNatsOnly, type NatsOnly } from '../integration/nats-only';

const MAX_DELIVER = 2;
const say = (s: string): void => void process.stdout.write(`# ${s}\n`);

/** `negate`: −x. */
const pool: KernelPool = {
  threads: 1,
  async run(_op: string, _attrs: unknown, inputs: NdArray[]): Promise<KernelRun> {
    const x = (inputs[0]?.data ?? new Float64Array(0)) as Float64Array;
    return { outputs: [{ dtype: 'f64', shape: [x.length], data: x.map((v) => -v) }], backend: 'test', computeMs: 0 };
  },
  async close() {
    /* nothing */
  },
};

/** `p`, or a failure naming `what` after `ms` (a hang is reported, not waited out). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no end within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe('a one-replica JetStream store wiped under a running owner and worker (real nats-server)', () => {
  let nats: NatsOnly;
  let owner: DataPlane;
  let client: TaskClient;
  let worker: RunningWorker;
  const prefix = `w${randomBytes(3).toString('hex')}`;
  const dpOptions = { maxDeliver: MAX_DELIVER, ackWaitMs: 2000, workerTtlMs: 5000 };

  before(async () => {
    nats = await startNatsOnly('store-wiped');
    owner = await openDataPlane(await connectNats(nats.url, 'owner'), resourceNames(prefix), dpOptions);
    client = createTaskClient({ dp: owner, laneTimeoutMs: 3000, resendMs: 1000, spillAfterMs: 5000, spillFailMs: 20_000 });
    worker = await startWorker({
      natsUrl: nats.url,
      prefix,
      cls: 'wasm',
      pool,
      ops: ['negate'],
      log: silentLogger,
      workerId: 'w-wiped',
      dataPlane: dpOptions,
      heartbeatMs: 500,
    });
  });
  after(async () => {
    await client?.close();
    await within(worker.drain(), 15_000, 'worker drain').catch(() => undefined);
    await owner?.close();
    await nats?.stop();
  });

  const negate = (jobId: string, input: ArrayRef) =>
    within(
      client.run({ jobId, shardId: 's0', op: 'negate', attrs: {}, inputs: [input], deadline: Date.now() + 120_000 }, { cls: 'wasm' }),
      60_000,
      `task of ${jobId}`,
    );

  it('the processes declare their streams and buckets again; a task whose input was lost ends with STORE_MISSING_OBJECT naming it; new work runs', async () => {
    const store = createArrayStore(owner.arrays, owner.names.arraysBucket);
    const a = await store.put({ dtype: 'f64', shape: [3], data: Float64Array.of(1, 2, 3) });
    const b = await store.put({ dtype: 'f64', shape: [2], data: Float64Array.of(4, 5) });
    assert.equal(a.inline, undefined, 'the input is in the object store, not inline');
    const r1 = await negate('before', a);
    assert.equal(r1.error, undefined, JSON.stringify(r1.error));
    // A task in the durable queue when the store goes (no live worker; its input inline): it must
    // be sent again, and finish, once a worker comes.
    await worker.drain();
    const x = await store.put({ dtype: 'f64', shape: [2], data: Float64Array.of(8, -9) }, { inline: true });
    const inQueue = negate('in-queue', x);
    for (const until = Date.now() + 20_000; client.stats.spilled === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
    assert.equal(client.stats.spilled, 1, 'spilled to the durable queue before the wipe');

    await nats.wipe();
    const t0 = Date.now();
    worker = await startWorker({
      natsUrl: nats.url,
      prefix,
      cls: 'wasm',
      pool,
      ops: ['negate'],
      log: silentLogger,
      workerId: 'w-wiped-2',
      dataPlane: dpOptions,
      heartbeatMs: 500,
    });
    const r0 = await inQueue;
    assert.equal(r0.error, undefined, JSON.stringify(r0.error));
    assert.deepEqual(Array.from((await store.get(r0.outputs[0]!)).data as Float64Array), [-8, 9]);
    say(`the task that was in the wiped queue was sent again and finished ${Date.now() - t0} ms after the wipe`);
    // `b` went with the store (the worker never read it, so no cache holds it either).
    const r2: TaskResult = await negate('lost', b);
    const lostMs = Date.now() - t0;
    say(`the task whose input was wiped ended after ${lostMs} ms: ${JSON.stringify(r2.error)}`);
    assert.equal(r2.error?.code, 'STORE_MISSING_OBJECT', JSON.stringify(r2.error));
    assert.ok((r2.error.details?.['digests'] as string[]).includes(b.digest), 'names the lost digest');
    assert.match(r2.error.message, new RegExp(b.digest));
    assert.equal(r2.error.details?.['final'], true, 'final: the job fails instead of retrying');

    // The owner declared the object bucket again: a new put works, and so does a task on it.
    let c: ArrayRef | undefined;
    for (const until = Date.now() + 30_000; c === undefined;) {
      c = await store.put({ dtype: 'f64', shape: [2], data: Float64Array.of(6, -7) }).catch((e: Error) => {
        if (Date.now() > until) throw new Error(`no put works 30 s after the wipe: ${e.message}`);
        return new Promise<undefined>((r) => setTimeout(() => r(undefined), 250));
      });
    }
    const r3 = await negate('after', c);
    assert.equal(r3.error, undefined, JSON.stringify(r3.error));
    assert.deepEqual(Array.from((await store.get(r3.outputs[0]!)).data as Float64Array), [-6, 7]);
    // And the durable queue is there again: a task with no live worker is queued, then answered.
    await worker.drain();
    const spilledBefore = client.stats.spilled;
    const queued = negate('queued', c);
    for (const until = Date.now() + 20_000; client.stats.spilled === spilledBefore && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
    assert.ok(client.stats.spilled > spilledBefore, 'spilled to the durable queue');
    worker = await startWorker({
      natsUrl: nats.url,
      prefix,
      cls: 'wasm',
      pool,
      ops: ['negate'],
      log: silentLogger,
      workerId: 'w-wiped-3',
      dataPlane: dpOptions,
      heartbeatMs: 500,
    });
    const r4 = await queued;
    assert.equal(r4.error, undefined, JSON.stringify(r4.error));
    say(
      `after the wipe: a new put, a lane task and a queued task all worked; the owner declared its resources again ${owner.redeclared()} time(s) and saw the queue lost ${owner.queueLost()} time(s); done ${Date.now() - t0} ms after the wipe`,
    );
    assert.ok(owner.redeclared() >= 1);
    assert.equal(owner.queueLost(), 1);
  });
});
