/**
 * A poison shard must not use up the tries of the innocent shards beside it (issue 23). One
 * worker process (test/src/chaos/crash-worker.ts: the real worker runtime, a `negate` kernel that
 * takes 400 ms) is killed by every try of the poison shard and started again under the same id
 * each time, as a supervisor does; the owner (a real TaskClient, maxDeliver 2) sends the poison
 * and six innocent shards at once, so all seven sit on the worker the poison kills — over the
 * worker's lane, and (second case) through the durable queue, where they wait until the worker
 * starts.
 *
 * Before the fix, each kill cost every shard the worker held one try, and the innocent shards
 * ended with WORKER_MAX_DELIVER after two kills. Now a try lost with a worker that held other tasks
 * too is not counted (core UNCOUNTED_LOSSES at most), a task lost that way twice (on the queue:
 * delivered again) runs alone, and only the poison runs out of tries: WORKER_MAX_DELIVER naming
 * its bound, after at most maxDeliver + UNCOUNTED_LOSSES kills. Real nats-server, no mocks.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { UNCOUNTED_LOSSES, resourceNames, type TaskResult } from '@gramfleet/core';
import { connectNats, createArrayStore, createTaskClient, openDataPlane, readCounts, type DataPlane, type TaskClient } from '@gramfleet/workers';
import { startNatsOnly, type NatsOnly } from '../integration/nats-only';

const MAX_DELIVER = 2;
const ACK_WAIT_MS = 2000;
const POISON = 'poison';
const say = (s: string): void => void process.stdout.write(`# ${s}\n`);

describe('a poison shard beside innocent ones on the worker it kills (real nats-server, real worker processes)', () => {
  let nats: NatsOnly;
  let countsDir: string;
  const closers: (() => Promise<void> | void)[] = [];

  before(async () => {
    nats = await startNatsOnly('poison-isolation');
    countsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-poison-counts-'));
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
    await nats?.stop();
    fs.rmSync(countsDir, { recursive: true, force: true });
  });

  /** An owner and a supervised worker process on their own resource prefix. */
  async function cluster(): Promise<{ owner: DataPlane; client: TaskClient; supervise: () => void; kills: number[] }> {
    const prefix = `p${randomBytes(3).toString('hex')}`;
    const owner = await openDataPlane(await connectNats(nats.url, 'owner'), resourceNames(prefix), { maxDeliver: MAX_DELIVER, ackWaitMs: ACK_WAIT_MS });
    const client = createTaskClient({ dp: owner, laneTimeoutMs: 3000, resendMs: 1000, spillAfterMs: 20_000 });
    const kills: number[] = [];
    let child: ChildProcess | undefined;
    let stopping = false;
    /** Starts the worker, and again (same id) each time it dies, until the suite ends. */
    const supervise = (): void => {
      const c = spawn(process.execPath, [path.join(__dirname, 'crash-worker.js')], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: {
          ...process.env,
          NATS_URL: nats.url,
          PREFIX: prefix,
          WORKER_ID: 'crashy',
          POISON,
          DELAY_MS: '400',
          SLOTS: '8',
          MAX_DELIVER: String(MAX_DELIVER),
          ACK_WAIT_MS: String(ACK_WAIT_MS),
          GRAMFLEET_COUNTS_DIR: countsDir,
        },
      });
      child = c;
      c.once('exit', (_code, signal) => {
        if (stopping) return;
        if (signal === 'SIGKILL') kills.push(Date.now());
        setTimeout(supervise, 200);
      });
    };
    closers.push(async () => {
      stopping = true;
      child?.kill('SIGKILL');
      await client.close();
      await owner.close();
    });
    return { owner, client, supervise, kills };
  }

  /** Sends the poison and six innocent shards at once; checks how each ended. */
  async function poisonBeside(c: Awaited<ReturnType<typeof cluster>>, afterSubmit?: () => Promise<void>): Promise<void> {
    const store = createArrayStore(c.owner.arrays, c.owner.names.arraysBucket);
    const jobId = `j${randomBytes(3).toString('hex')}`;
    // The poison last: on the queue, the worker takes one task first, then the rest with the poison.
    const ids = ['s1', 's2', 's3', 's4', 's5', 's6', POISON];
    const innocent = ids.slice(0, -1);
    const t0 = Date.now();
    const runs = await Promise.all(
      ids.map(async (shardId, i) => {
        const x = Float64Array.of(i + 0.5, -i, 1e300);
        const input = await store.put({ dtype: 'f64', shape: [x.length], data: x }, { inline: true });
        return { x, run: c.client.run({ jobId, shardId, op: 'negate', attrs: {}, inputs: [input], deadline: Date.now() + 120_000 }, { cls: 'wasm' }) };
      }),
    );
    await afterSubmit?.();
    const results: TaskResult[] = await Promise.all(runs.map((r) => r.run));
    const endedMs = Date.now() - t0;
    const execs = readCounts(countsDir).filter((e) => e.ev === 'exec' && e.jobId === jobId);
    const story = ids.map(
      (id) =>
        `${id}: ${execs
          .filter((e) => e.ev === 'exec' && e.shardId === id)
          .map((e) => (e.ev === 'exec' ? `${e.outcome}${e.alone === true ? '(alone)' : ''}@try${e.attempt}/d${e.delivery}` : ''))
          .join(' ')}`,
    );
    say(`ended after ${endedMs} ms, ${c.kills.length} kills, ${c.client.stats.spilled} tasks spilled to the queue; runs: ${story.join('; ')}`);
    const poison = results[ids.length - 1]!;
    assert.equal(poison.error?.code, 'WORKER_MAX_DELIVER', `the poison fails: ${JSON.stringify(poison.error)}`);
    assert.match(poison.error.message, new RegExp(`max ${MAX_DELIVER}`), 'the error states the bound');
    say(`poison: ${poison.error.message}`);
    for (let i = 0; i < innocent.length; i++) {
      const r = results[i]!;
      assert.equal(r.error, undefined, `innocent shard ${ids[i]} finishes: ${JSON.stringify(r.error)}`);
      const y = (await store.get(r.outputs[0]!)).data as Float64Array;
      assert.deepEqual(
        Array.from(y),
        Array.from(runs[i]!.x).map((v) => -v),
        `shard ${ids[i]} bytes`,
      );
    }
    const crashed = execs.filter((e) => e.ev === 'exec' && e.shardId === POISON && e.outcome === 'crashed');
    assert.ok(crashed.length >= MAX_DELIVER && crashed.length <= MAX_DELIVER + UNCOUNTED_LOSSES, `${crashed.length} kills by the poison`);
    assert.ok(
      crashed.some((e) => e.ev === 'exec' && e.alone === true),
      'the poison ran alone once suspect',
    );
    // Every innocent shard sat on the worker with the poison when it first killed it.
    const firstKill = crashed[0]!.t;
    for (const id of innocent)
      assert.ok(
        !execs.some((e) => e.ev === 'exec' && e.shardId === id && e.outcome === 'ok' && e.t < firstKill),
        `shard ${id} had not finished before the first kill`,
      );
  }

  it(`over lanes, maxDeliver ${MAX_DELIVER}: the poison ends with WORKER_MAX_DELIVER after at most ${MAX_DELIVER + UNCOUNTED_LOSSES} kills; the six shards beside it finish with the right bytes`, async () => {
    const c = await cluster();
    c.supervise();
    // Sent once the worker is live, so they go to its lane in one frame.
    const until = Date.now() + 30_000;
    while ((await c.client.livePins('wasm')).size === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    await poisonBeside(c);
    assert.ok(c.client.stats.sent >= 7, 'sent over the lane');
  });

  it(`through the durable queue (no worker when they are sent), maxDeliver ${MAX_DELIVER}: the same`, async () => {
    const c = await cluster();
    await poisonBeside(c, async () => {
      // No live worker: after a second's grace every task goes to the queue; then the worker starts.
      const until = Date.now() + 20_000;
      while (c.client.stats.spilled < 7 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      assert.equal(c.client.stats.spilled, 7, 'all seven tasks spilled to the durable queue');
      c.supervise();
    });
  });
});
