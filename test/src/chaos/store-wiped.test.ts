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
import {
  checkEigenProData,
  compileEigenProParams,
  isGramfleetError,
  trainEigenPro2,
  type ArrayRef,
  type EigenProCheckpoint,
  type GramfleetError,
  type TaskResult,
} from '@gramfleet/core';
import { createReferenceCompute, oneHot } from '@gramfleet/core/internal';
import {
  MISSING_OBJECT_FINAL_ATTEMPT,
  checkpointName,
  kronTransposeWith,
  loadCheckpoint,
  missingObjectFinal,
  saveCheckpoint,
} from '@gramfleet/orchestrator/internal';
import type { ArrayStore } from '@gramfleet/workers';
import { say, startWipedRig, within, type WipedRig } from './wiped-rig';

describe('a one-replica JetStream store wiped under a running owner and worker (real nats-server)', () => {
  let rig: WipedRig;
  before(async () => {
    rig = await startWipedRig('store-wiped');
    await rig.startWorker('w-wiped');
  });
  after(async () => {
    await rig?.close();
  });

  const negate = (jobId: string, input: ArrayRef) =>
    within(
      rig.client.run({ jobId, shardId: 's0', op: 'negate', attrs: {}, inputs: [input], deadline: Date.now() + 120_000 }, { cls: 'wasm' }),
      60_000,
      `task of ${jobId}`,
    );

  it('the processes declare their streams and buckets again; a task whose input was lost ends with STORE_MISSING_OBJECT naming it; new work runs', async () => {
    const { store, client, owner, nats } = rig;
    const a = await store.put({ dtype: 'f64', shape: [3], data: Float64Array.of(1, 2, 3) });
    const b = await store.put({ dtype: 'f64', shape: [2], data: Float64Array.of(4, 5) });
    assert.equal(a.inline, undefined, 'the input is in the object store, not inline');
    const r1 = await negate('before', a);
    assert.equal(r1.error, undefined, JSON.stringify(r1.error));
    // A task in the durable queue when the store goes (no live worker; its input inline): it must
    // be sent again, and finish, once a worker comes.
    await rig.worker?.drain();
    const x = await store.put({ dtype: 'f64', shape: [2], data: Float64Array.of(8, -9) }, { inline: true });
    const inQueue = negate('in-queue', x);
    for (const until = Date.now() + 20_000; client.stats.spilled === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
    assert.equal(client.stats.spilled, 1, 'spilled to the durable queue before the wipe');

    await nats.wipe();
    const t0 = Date.now();
    await rig.startWorker('w-wiped-2');
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
    await rig.worker?.drain();
    const spilledBefore = client.stats.spilled;
    const queued = negate('queued', c);
    for (const until = Date.now() + 20_000; client.stats.spilled === spilledBefore && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
    assert.ok(client.stats.spilled > spilledBefore, 'spilled to the durable queue');
    await rig.startWorker('w-wiped-3');
    const r4 = await queued;
    assert.equal(r4.error, undefined, JSON.stringify(r4.error));
    say(
      `after the wipe: a new put, a lane task and a queued task all worked; the owner declared its resources again ${owner.redeclared()} time(s) and saw the queue lost ${owner.queueLost()} time(s); done ${Date.now() - t0} ms after the wipe`,
    );
    assert.ok(owner.redeclared() >= 1);
    assert.equal(owner.queueLost(), 1);
  });
});

/** A store whose `get` calls `before(n)` first (n counts the gets from 1); every other method as `store`'s. */
function onGet(store: ArrayStore, before: (n: number) => Promise<void>): ArrayStore & { readonly puts: ArrayRef[] } {
  let gets = 0;
  const puts: ArrayRef[] = [];
  const wrapped: Partial<ArrayStore> & { puts: ArrayRef[] } = {
    puts,
    async get(ref) {
      await before(++gets);
      return store.get(ref);
    },
    async put(a, o) {
      const r = await store.put(a, o);
      puts.push(r);
      return r;
    },
  };
  return Object.assign(Object.create(store) as ArrayStore, wrapped);
}

/** Waits until the owner has declared its object bucket again after a wipe (a put works). */
async function putAgain(store: ArrayStore, a: Parameters<ArrayStore['put']>[0]): Promise<ArrayRef> {
  for (const until = Date.now() + 30_000; ;) {
    const r = await store.put(a).catch((e: Error) => {
      if (Date.now() > until) throw new Error(`no put works 30 s after the wipe: ${e.message}`);
      return undefined;
    });
    if (r !== undefined) return r;
    await new Promise((res) => setTimeout(res, 250));
  }
}

describe('objects written mid-job lost with a wiped one-replica store (real nats-server)', () => {
  let rig: WipedRig;
  before(async () => {
    rig = await startWipedRig('store-wiped-mid-job');
  });
  after(async () => {
    await rig?.close();
  });

  it('Kronecker transpose pieces wiped between its two phases: every attempt fails typed, the third with a final STORE_MISSING_OBJECT naming the lost input; once the inputs are there again the retry recomputes the pieces and ends byte-identical', async () => {
    const { store, nats } = rig;
    // A 6 × 5 grid in 2 slabs along axis 0, transposed into 3 slabs along axis 1 (6 pieces).
    const shape = [6, 5];
    const slab = (r0: number, r1: number) => ({
      dtype: 'f64' as const,
      shape: [r1 - r0, 5],
      data: Float64Array.from({ length: (r1 - r0) * 5 }, (_, i) => Math.sin(r0 * 5 + i) * 1e3),
    });
    const slabs = [slab(0, 3), slab(3, 6)];
    const parts = await Promise.all(slabs.map((a) => store.put(a)));
    const input = { jobId: 'kron-wiped', shape, parts, from: 0, to: 1, count: 3 };
    const clean = await kronTransposeWith(store, input);
    const cleanBytes = await Promise.all(clean.parts.map((r) => store.getBytes(r)));

    // Phase 1 reads the 2 input slabs and puts the 6 pieces; the wipe comes before phase 2's
    // first read. Then the attempts as Temporal makes them (the step's retry policy): a retryable
    // failure is tried again, until missingObjectFinal makes STORE_MISSING_OBJECT final.
    let wipedAt = 0;
    const wiping = onGet(store, async (n) => {
      if (n === parts.length + 1) {
        await nats.wipe();
        wipedAt = Date.now();
      }
    });
    const errors: GramfleetError[] = [];
    for (let attempt = 1; ; attempt++) {
      const e = await within(kronTransposeWith(attempt === 1 ? wiping : store, input), 60_000, `transpose attempt ${attempt}`).then(
        () => assert.fail(`attempt ${attempt} read objects that were wiped`),
        (err: unknown) => missingObjectFinal(err, attempt),
      );
      say(`kron pieces wiped: attempt ${attempt} failed ${Date.now() - wipedAt} ms after the wipe: ${String(e)}`);
      assert.ok(isGramfleetError(e), `a typed error: ${String(e)}`);
      errors.push(e);
      if (!e.retryable || e.details['final'] === true) break;
      assert.ok(attempt < MISSING_OBJECT_FINAL_ATTEMPT, 'final by the third attempt');
    }
    const last = errors.at(-1)!;
    assert.equal(last.code, 'STORE_MISSING_OBJECT');
    assert.equal(last.details['final'], true);
    assert.equal(errors.length, MISSING_OBJECT_FINAL_ATTEMPT);
    const written = new Set([...wiping.puts, ...parts].map((r) => r.digest));
    for (const e of errors) assert.ok(written.has(e.details['digest'] as string), `names a piece or input slab that was wiped: ${JSON.stringify(e.details)}`);
    assert.ok(
      parts.some((r) => r.digest === last.details['digest']),
      `the retries name a lost input slab: ${JSON.stringify(last.details)}`,
    );
    // The retry once the inputs are there again (re-put by their owner): it writes the pieces
    // again and ends with the same slabs, byte for byte.
    for (const a of slabs) await putAgain(store, a);
    const again = await within(kronTransposeWith(store, input), 60_000, 'the retried transpose, inputs re-put');
    assert.deepEqual(
      again.parts.map((r) => r.digest),
      clean.parts.map((r) => r.digest),
    );
    const againBytes = await Promise.all(again.parts.map((r) => store.getBytes(r)));
    againBytes.forEach((b, i) => assert.ok(Buffer.from(b).equals(Buffer.from(cleanBytes[i]!)), `slab ${i} byte-identical`));
    say(`kron pieces wiped: the retry with the inputs re-put recomputed the pieces; ${again.parts.length} slabs byte-identical to the uninterrupted transpose`);
  });

  it('an EigenPro checkpoint wiped: an attempt that finds no answer fails typed (retried), the next finds no checkpoint and trains from the start, ending bit-identical to an uninterrupted run', async () => {
    const { owner, nats } = rig;
    const n = 120,
      d = 3,
      c = 2;
    const x = Float64Array.from({ length: n * d }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1);
    const labels = new Int32Array(n).map((_, i) => ((x[i * d] as number) > 0 ? 1 : 0));
    const y = oneHot(labels, c);
    const params = compileEigenProParams({ kernel: 'gaussian', bandwidth: 0.5, epochs: 2, seed: 4, batchSize: 16, trainEvalRows: 40 });
    const shape = checkEigenProData({ x: { rows: n, cols: d, data: x }, y: { rows: n, cols: 1, data: labels } }, params);
    const compute = createReferenceCompute({ kernel: params.kernel, bandwidth: params.bandwidth, d, x, c });
    let t = 0;
    const now = (): number => t++;
    const full = await trainEigenPro2({ compute, params, shape, targets: { y, labels }, now });

    // The first attempt checkpoints into the object store, then dies (its process killed).
    const jobId = 'ep-wiped';
    const dead = new Error('attempt 1 killed');
    await assert.rejects(
      trainEigenPro2({
        compute,
        params,
        shape,
        targets: { y, labels },
        now,
        onBatch: async (take, tag) => {
          if (tag.epoch === 1 && tag.batch === 2) {
            await saveCheckpoint(owner.arrays, jobId, take());
            throw dead;
          }
        },
      }),
      (err) => err === dead,
    );
    const saved = await loadCheckpoint(owner.arrays, jobId);
    assert.deepEqual([saved?.epoch, saved?.batch], [1, 3], 'the checkpoint is in the store before the wipe');

    await nats.wipe();
    const t0 = Date.now();
    // The retried attempts (job-data.ts resumeCheckpoint), as Temporal makes them: a store that
    // does not answer yet is a typed, retryable failure (not "no checkpoint": that would throw away
    // a checkpoint that is still there); once it answers, there is nothing to resume from.
    let resume: EigenProCheckpoint | null | undefined;
    for (let attempt = 1; resume === undefined; attempt++) {
      resume = await within(loadCheckpoint(owner.arrays, jobId), 30_000, `reading ${checkpointName(jobId)} after the wipe`).catch((e: unknown) => {
        say(`EigenPro checkpoint wiped: attempt ${attempt} failed ${Date.now() - t0} ms after the wipe: ${String(e)}`);
        assert.ok(isGramfleetError(e) && e.code === 'CLUSTER_UNAVAILABLE' && e.retryable, String(e));
        assert.ok(attempt < 5, 'the store answers again within 4 attempts');
        return undefined;
      });
    }
    say(`EigenPro checkpoint wiped: the retried attempt found ${resume === null ? 'no checkpoint' : 'one'} ${Date.now() - t0} ms after the wipe`);
    assert.equal(resume, null);
    const retried = await trainEigenPro2({ compute, params, shape, targets: { y, labels }, now, resume: resume ?? undefined });
    assert.equal(retried.resumedFrom, undefined, 'started from the beginning');
    assert.ok(
      Buffer.from(retried.a.buffer, retried.a.byteOffset, retried.a.byteLength).equals(Buffer.from(full.a.buffer, full.a.byteOffset, full.a.byteLength)),
      'coefficients bit-identical to the uninterrupted run',
    );
    assert.deepEqual(
      retried.history.map((h) => h.trainAccuracy),
      full.history.map((h) => h.trainAccuracy),
    );
  });
});
