/**
 * The data plane's limits on a real nats-server: the task queue and the array store refuse what
 * is over their limits with typed, retryable errors (QUEUE_FULL, STORE_FULL) naming the limit,
 * and drop nothing already accepted; streams declared before limits existed get them; and on a
 * server whose JetStream store is small the default limits are lowered to fit it, while a limit
 * set on purpose that cannot fit is an INPUT_OUT_OF_RANGE naming it. A durable copy whose bytes
 * were damaged is removed by the reader that finds it, and the next put writes it again.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { RetentionPolicy, StorageType, jetstreamManager } from '@nats-io/jetstream';
import { ERROR_CODES, PROTOCOL_VERSION, isGramfleetError, resourceNames, taskSubject, type NdArray } from '@gramfleet/core';
import { connectNats, createArrayStore, openDataPlane, type DataPlane, type DataPlaneOptions } from '@gramfleet/workers';
import { limitError } from '@gramfleet/workers/internal';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsOnly, type NatsOnly } from './nats-only';

const MIB = 1024 * 1024;

function f64(n: number, seed: number): NdArray {
  return { dtype: 'f64', shape: [n], data: Float64Array.from({ length: n }, (_, i) => Math.sin(seed + i)) };
}

describe('data-plane limits (real nats-server)', () => {
  let nats: NatsOnly;
  let small: NatsOnly;
  let heal: NatsOnly | undefined;
  const dps: DataPlane[] = [];
  // Every connection a test opens, closed in after() even when the test failed half way (an open
  // connection would keep the file running until the runner kills it, hiding which test failed).
  const ncs: NatsConnection[] = [];
  const connect = async (url: string, name: string): Promise<NatsConnection> => {
    const nc = await connectNats(url, name);
    ncs.push(nc);
    return nc;
  };
  let n = 0;
  const plane = async (server: NatsOnly, o: DataPlaneOptions = {}): Promise<DataPlane> => {
    const nc = await connect(server.url, 'limits-test');
    const dp = await openDataPlane(nc, resourceNames(`lim${n++}`), o);
    dps.push(dp);
    return dp;
  };
  before(async () => {
    nats = await startNatsOnly('limits');
    small = await startNatsOnly('limits-small', { maxFileStore: '1GB' });
  });
  after(async () => {
    const within = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
    for (const dp of dps) await within(dp.close());
    for (const nc of ncs) if (!nc.isClosed()) await within(nc.close());
    await nats?.stop();
    await small?.stop();
    await heal?.stop();
  });

  it('a full task queue refuses the next task with QUEUE_FULL naming the limit; the queued tasks stay', async () => {
    const dp = await plane(nats, { tasksMaxMsgs: 3 });
    const info = await dp.jsm.streams.info(dp.names.tasksStream);
    assert.equal(info.config.max_msgs, 3);
    assert.equal(info.config.discard, 'new');
    const task = (i: number): string =>
      JSON.stringify({ v: PROTOCOL_VERSION, jobId: 'j', shardId: String(i), op: 'noop', attrs: {}, inputs: [], deadline: Date.now() + 60_000 });
    for (let i = 0; i < 3; i++) await dp.js.publish(taskSubject(dp.names.prefix, 'wasm', 'noop', 'j'), task(i), { msgID: `t${i}` });
    let caught: unknown;
    try {
      await dp.js.publish(taskSubject(dp.names.prefix, 'wasm', 'noop', 'j'), task(3), { msgID: 't3' });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught !== undefined, 'the fourth task was refused');
    const err = limitError(caught, 'tasks', 3);
    assert.ok(err !== undefined && isGramfleetError(err), `typed: ${String(caught)}`);
    assert.equal(err.code, 'QUEUE_FULL');
    assert.equal(ERROR_CODES.QUEUE_FULL.retryable, true);
    assert.match(err.message, /tasksMaxBytes\/tasksMaxMsgs = 3/);
    assert.equal((await dp.jsm.streams.info(dp.names.tasksStream)).state.messages, 3, 'nothing accepted was dropped');
    assert.equal(limitError(new Error('connection closed'), 'tasks', 3), undefined, 'other failures stay what they are');
  });

  it('a full array store refuses a put with STORE_FULL naming arraysMaxBytes; what it held still reads back, and smaller puts still fit', async () => {
    const dp = await plane(nats, { arraysMaxBytes: 2 * MIB });
    const store = createArrayStore(dp, { cacheBytes: 0 });
    const a = f64(64 * 1024, 1); // 512 KiB
    const ref = await store.put(a);
    await assert.rejects(store.put(f64(384 * 1024, 2)), (e: unknown) => {
      assert.ok(isGramfleetError(e), String(e));
      assert.equal(e.code, 'STORE_FULL');
      assert.match(e.message, /arraysMaxBytes = 2097152/);
      return true;
    });
    assert.deepEqual((await createArrayStore(dp, { cacheBytes: 0 }).get(ref)).data, a.data);
    const b = f64(32 * 1024, 3);
    assert.deepEqual((await store.get(await store.put(b))).data, b.data);
  });

  it('streams declared before limits existed get them when the data plane is opened again', async () => {
    const nc = await connect(nats.url, 'limits-old');
    const names = resourceNames('limold');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: names.tasksStream, subjects: [`${names.prefix}.task.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
    const dp = await openDataPlane(nc, names, { tasksMaxMsgs: 1000 });
    dps.push(dp);
    const c = (await dp.jsm.streams.info(names.tasksStream)).config;
    assert.equal(c.max_msgs, 1000);
    assert.ok(c.max_bytes > 0);
    assert.equal(c.discard, 'new');
  });

  it('on a 1 GB JetStream store the default limits are lowered to fit; a limit set on purpose that cannot fit is INPUT_OUT_OF_RANGE naming it', async () => {
    const dp = await plane(small);
    const total =
      (await dp.jsm.streams.info(dp.names.tasksStream)).config.max_bytes +
      (await dp.jsm.streams.info(dp.names.resultsStream)).config.max_bytes +
      dp.limits.arraysMaxBytes;
    assert.ok(total <= 1024 ** 3, `declared ${total} bytes of limits on a 1 GiB store`);
    assert.ok(dp.limits.arraysMaxBytes >= 64 * MIB);
    const nc = await connect(small.url, 'limits-explicit');
    await assert.rejects(openDataPlane(nc, resourceNames('limbig'), { arraysMaxBytes: 4 * 1024 ** 3 }), (e: unknown) => {
      assert.ok(isGramfleetError(e), String(e));
      assert.equal(e.code, 'INPUT_OUT_OF_RANGE');
      assert.match(e.message, /arraysMaxBytes/);
      return true;
    });
    await nc.close();
  });

  it('a damaged durable copy: the reader gets STORE_DIGEST_MISMATCH and removes it; the next put writes it again and it reads back', async () => {
    // A server of its own: each data plane reserves its streams' byte limits from the server's
    // store (by default 75 % of the free disk), and a fourth plane on `nats` did not fit on a CI
    // machine with 38 GB free (INPUT_OUT_OF_RANGE: tasksMaxBytes does not fit the JetStream store).
    heal = await startNatsOnly('limits-heal');
    const dp = await plane(heal);
    const store = createArrayStore(dp, { cacheBytes: 0 });
    const a = f64(300 * 1024, 4); // 2.4 MB: several chunks
    const ref = await store.put(a);
    // Damage one chunk in place: delete its message and publish other bytes of the same length on its subject.
    const stream = `OBJ_${dp.names.arraysBucket}`;
    const first = await dp.jsm.streams.getMessage(stream, { seq: 1 });
    assert.ok(first !== null && first.data.byteLength > 0);
    const bad = Uint8Array.from(first.data, (x) => x ^ 0xff);
    await dp.jsm.streams.deleteMessage(stream, first.seq);
    await dp.js.publish(first.subject, bad);
    await assert.rejects(createArrayStore(dp, { cacheBytes: 0 }).get(ref), (e: unknown) => {
      assert.ok(isGramfleetError(e), String(e));
      assert.equal(e.code, 'STORE_DIGEST_MISMATCH');
      assert.match(e.message, /removed/);
      return true;
    });
    assert.equal(await store.has(ref.digest), false, 'the damaged copy is gone');
    const again = await createArrayStore(dp, { cacheBytes: 0 }).put(a);
    assert.equal(again.digest, ref.digest);
    assert.deepEqual((await createArrayStore(dp, { cacheBytes: 0 }).get(ref)).data, a.data, 'healed by the re-put');
  });
});
