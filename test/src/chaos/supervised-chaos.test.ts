/**
 * Chaos on the supervised local cluster (issue 23 items 3 and 6; the part of the chaos suite in
 * `npm test` — scripts/chaos.sh runs the whole set). The cluster is started as a user would
 * (`gramfleet up`, real nats-server, Temporal dev server, orchestrator and two workers under the
 * supervisor); every process records its counts (GRAMFLEET_COUNTS_DIR) and every submission goes
 * through the acknowledged-submission ledger. Faults:
 *
 * - a kernel that never returns (a worker's first try of one shard spins in its kernel thread):
 *   the try fails with KERNEL_TIMEOUT, the shard runs on the other worker, the stuck thread is
 *   replaced and the worker process keeps working;
 * - SIGKILL of nats-server mid-job, with jobs in flight and one more submitted into the outage;
 * - a poison shard that kills every worker that runs it: at most GRAMFLEET_MAX_DELIVER counted
 *   tries (plus core UNCOUNTED_LOSSES losses beside other shards, after which it runs alone), then
 *   the job fails with the typed WORKER_MAX_DELIVER, while a job running beside it finishes
 *   byte-identical: the kills cost the shards beside it no counted try.
 *
 * Each job that completes is byte-identical to the float64 reference and its shards are counted
 * once from the counts (test/src/chaos/counted-once.ts); at the end the ledger checks that every
 * acknowledged submission finished exactly once with the right bytes.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UNCOUNTED_LOSSES, shardId, type GrfJobResult, type NdArray } from '@gramfleet/core';
import { connect, type Fleet, type GrfJobSpec } from '@gramfleet/orchestrator';
import { readCounts, type CountRecord } from '@gramfleet/workers';
import { csrDigest, grfReference, runGramfleet, sharedGraph, until } from '../integration/harness';
import { checkCountedOnce } from './counted-once';
import { SubmissionLedger, type Expected } from './ledger';

/** One line of the run's report (counts, ledger, timings) in the test output. */
const say = (s: string): void => void process.stdout.write(`# ${s}\n`);

interface Proc {
  readonly name: string;
  readonly pid: number;
}

const KERNEL_TIMEOUT_MS = 8_000;
const MAX_DELIVER = 3;
const HANG_SEED = 71;
const POISON_SEED = 66;
const HANG_SHARD = shardId(2);
const POISON_SHARD = shardId(1);
const suffix = randomBytes(3).toString('hex');

const specOf = (
  seed: number,
  jobId?: string,
): GrfJobSpec & { readonly graph: string; readonly kernel: string; readonly seed: number; readonly walks: number } => ({
  kind: 'grf',
  graph: sharedGraph('cora.npz'),
  kernel: 'reg-laplacian',
  scale: 0.25,
  walks: 1024,
  pHalt: 0.2,
  seed,
  shardNodes: 50,
  batchShards: 2,
  window: 2,
  ...(jobId !== undefined ? { jobId } : {}),
});

describe('chaos on the supervised local cluster (gramfleet up, real processes, counts and ledger)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-chaos-'));
  const countsDir = path.join(dir, 'counts');
  const ledger = new SubmissionLedger(path.join(dir, 'ledger.jsonl'));
  const expected = new Map<string, Expected>();
  const env = {
    GRAMFLEET_COUNTS_DIR: countsDir,
    GRAMFLEET_TEST_ONLY_FAULTS: `hang:${HANG_SHARD}:${HANG_SEED},crash:${POISON_SHARD}:${POISON_SEED}`,
    GRAMFLEET_KERNEL_TIMEOUT_MS: String(KERNEL_TIMEOUT_MS),
    GRAMFLEET_MAX_DELIVER: String(MAX_DELIVER),
  };
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  let fleet: Fleet;
  const procs = (): Proc[] => (JSON.parse(fs.readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as { processes: Proc[] }).processes;
  const pidOf = (name: string): number => {
    const p = procs().find((q) => q.name === name);
    assert.ok(p !== undefined, `${name} is in the state file`);
    return p.pid;
  };
  /** The job's shard ids (GRF: s000000…, one per 50 nodes), from the uninterrupted run. */
  let SHARDS: string[] = [];
  const counts = (): CountRecord[] => readCounts(countsDir);
  const counted = (jobId: string): ReturnType<typeof checkCountedOnce> => checkCountedOnce(counts(), jobId, SHARDS);

  /** Φ read back equals the float64 reference of the spec, bit for bit; returns the result's digest. */
  async function sameAsReference(
    spec: GrfJobSpec & { readonly graph: string; readonly kernel: string; readonly seed: number; readonly walks: number },
    r: GrfJobResult,
  ): Promise<string> {
    const ref = (await grfReference(spec)).phi;
    const phi = await fleet.getCsr(r.phi[0]!);
    const bytes = (a: NdArray['data'] | Int32Array | Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    assert.ok(bytes(phi.indptr).equals(bytes(ref[0]!.data)), 'indptr equals the float64 reference');
    assert.ok(bytes(phi.indices).equals(bytes(ref[1]!.data)), 'indices equal the float64 reference');
    assert.ok(bytes(phi.data).equals(bytes(ref[2]!.data)), 'data equals the float64 reference');
    return csrDigest(r.phi[0]!);
  }

  before(async () => {
    for (const [k, v] of Object.entries(env)) process.env[k] = v;
    const up = await runGramfleet(['up', '--workers', '2', '--data-dir', dir]);
    assert.equal(up.code, 0, up.stderr);
    fleet = await connect({ dataDir: dir, startLocal: false });
    // The uninterrupted run: the bytes every later run of this spec must give.
    const spec = specOf(3);
    const h = await ledger.submit(fleet, 'base', spec);
    assert.ok(h !== undefined, 'the first submission is acknowledged');
    const r = (await h.result()) as GrfJobResult;
    SHARDS = Array.from({ length: r.shards }, (_, i) => shardId(i));
    expected.set('base', { digest: await sameAsReference(spec, r) });
    say(`uninterrupted run: ${JSON.stringify(counted(h.jobId))}`);
  });
  after(async () => {
    await fleet?.close().catch(() => undefined);
    await runGramfleet(['down', '--data-dir', dir]);
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (process.env['GRAMFLEET_KEEP_TEST_DIRS'] === undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a kernel that never returns: that try ends with KERNEL_TIMEOUT, the shard runs on the other worker, the stuck thread is replaced and its worker keeps working', async () => {
    const spec = specOf(HANG_SEED, `chaos-hang-${suffix}`);
    const workersBefore = procs().filter((p) => p.name.startsWith('worker-'));
    const h = await ledger.submit(fleet, 'hang', spec);
    assert.ok(h !== undefined);
    const r = (await h.result()) as GrfJobResult;
    const digest = await sameAsReference(spec, r);
    expected.set('hang', { digest });
    const report = counted(h.jobId);
    const ev = counts().filter((e): e is Extract<CountRecord, { ev: 'exec' }> => e.ev === 'exec' && e.jobId === h.jobId);
    const stuck = ev.filter((e) => e.shardId === HANG_SHARD && e.outcome !== 'ok');
    assert.equal(stuck.length, 1, `one try of ${HANG_SHARD} hung: ${JSON.stringify(stuck)}`);
    assert.equal(stuck[0]!.code, 'KERNEL_TIMEOUT');
    const rerun = ev.find((e) => e.shardId === HANG_SHARD && e.outcome === 'ok');
    assert.ok(rerun !== undefined && rerun.workerId !== stuck[0]!.workerId, `${HANG_SHARD} ran again on the other worker`);
    const hungEnd = (stuck[0] as CountRecord).t;
    const afterwards = ev.filter((e) => e.workerId === stuck[0]!.workerId && e.outcome === 'ok' && e.startedAt > hungEnd).length;
    // The worker process was not lost: same pids, and (when it got more shards) it ran them.
    assert.deepEqual(
      procs()
        .filter((p) => p.name.startsWith('worker-'))
        .map((p) => p.pid),
      workersBefore.map((p) => p.pid),
      'no worker process was restarted',
    );
    const redeliveredAfterMs = rerun.startedAt - stuck[0]!.startedAt;
    say(
      `hang: the stuck try started at +0, timed out after ${hungEnd - stuck[0]!.startedAt} ms (limit ${KERNEL_TIMEOUT_MS}), ` +
        `ran again on the other worker at +${redeliveredAfterMs} ms (bound 2x = ${2 * KERNEL_TIMEOUT_MS} ms); ` +
        `the stuck worker ran ${afterwards} more shards after its thread was replaced; ${JSON.stringify(report)}`,
    );
    if (process.env['GRAMFLEET_CHAOS_TIMING'] === '1')
      assert.ok(redeliveredAfterMs <= 2 * KERNEL_TIMEOUT_MS, `redelivered within 2x the op timeout (${redeliveredAfterMs} ms)`);
    else say('the 2x-timeout bound is asserted by scripts/chaos.sh (GRAMFLEET_CHAOS_TIMING=1), not in npm test (no timing thresholds there)');
  });

  it('SIGKILL of nats-server mid-job with two jobs in flight and one submitted into the outage: all acknowledged jobs finish byte-identical, counted once', async () => {
    const a = await ledger.submit(fleet, 'base', specOf(3));
    const b = await ledger.submit(fleet, 'base', specOf(3));
    assert.ok(a !== undefined && b !== undefined);
    await until(async () => ((await a.progress().catch(() => undefined))?.shardsDone ?? 0) >= 4, 120_000, 'first shards done');
    const mid = await a.progress();
    process.kill(pidOf('nats'), 'SIGKILL');
    // Into the outage: acknowledged (and then it must finish) or refused with a typed error.
    const c = await ledger.submit(fleet, 'base', specOf(3));
    for (const h of [a, b, c]) {
      if (h === undefined) continue;
      const r = (await h.result()) as GrfJobResult;
      assert.equal(csrDigest(r.phi[0]!), (expected.get('base') as { digest: string }).digest, `job ${h.jobId} byte-identical`);
      say(`after nats SIGKILL (${mid.shardsDone}/${mid.shardsTotal} done at the kill): ${JSON.stringify(counted(h.jobId))}`);
    }
    say(`submission into the outage: ${c === undefined ? `refused ${JSON.stringify(ledger.entries.at(-1)?.refused)}` : 'acknowledged'}`);
  });

  it(`a poison shard that kills its worker: at most ${MAX_DELIVER} + ${UNCOUNTED_LOSSES} tries, then WORKER_MAX_DELIVER; a job beside it finishes byte-identical`, async () => {
    const poison = await ledger.submit(fleet, 'poison', specOf(POISON_SEED, `chaos-poison-${suffix}`));
    expected.set('poison', { errorCode: 'WORKER_MAX_DELIVER' });
    // A worker the poison shard kills also loses the other shards it held; those losses are not
    // counted (a shard lost that way twice runs alone), so the job beside it always finishes.
    expected.set('beside', { digest: (expected.get('base') as { digest: string }).digest });
    const beside = await ledger.submit(fleet, 'beside', specOf(3));
    assert.ok(poison !== undefined && beside !== undefined);
    const t0 = Date.now();
    const err = await poison.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    const failedAfterMs = Date.now() - t0;
    assert.ok(err !== undefined, 'the poison job fails');
    assert.equal((err as { code?: string }).code, 'WORKER_MAX_DELIVER', String(err));
    const crashes = counts().filter((e) => e.ev === 'exec' && e.jobId === poison.jobId && e.shardId === POISON_SHARD && e.outcome === 'crashed');
    const tries = crashes.map((e) =>
      e.ev === 'exec' ? `try ${e.attempt} delivery ${e.delivery}${e.alone === true ? ' alone' : ''} on ${e.workerId} at ${e.t - t0} ms` : '',
    );
    say(`poison: ${String(err)}`);
    const fails = counts().filter((e) => e.ev === 'fail' && e.jobId === poison.jobId);
    assert.ok(
      crashes.length >= 1 && crashes.length <= MAX_DELIVER + UNCOUNTED_LOSSES,
      `${crashes.length} tries of the poison shard (at most ${MAX_DELIVER} + ${UNCOUNTED_LOSSES}): ${tries.join('; ')}; owner failures: ${JSON.stringify(fails)}`,
    );
    const r = await (beside.result() as Promise<GrfJobResult>).catch((e: unknown) => e);
    if (r instanceof Error) throw r;
    assert.equal(csrDigest((r as GrfJobResult).phi[0]!), (expected.get('base') as { digest: string }).digest, 'the job beside it is byte-identical');
    say(
      `poison: ${crashes.length} tries killed their worker, the job failed with WORKER_MAX_DELIVER ${failedAfterMs} ms after it was submitted; ` +
        `the job beside it: ${r instanceof Error ? `failed (${(r as Error).message})` : JSON.stringify(counted(beside.jobId))}`,
    );
    await until(
      async () => {
        const st = await runGramfleet(['status', '--data-dir', dir, '--json']);
        const events = (JSON.parse(st.stdout.trim().split('\n').pop() ?? '{}') as { events?: { process: string; what: string }[] }).events ?? [];
        return events.filter((e) => e.process.startsWith('worker-') && e.what === 'restarted').length >= crashes.length;
      },
      60_000,
      'the supervisor restarted every killed worker',
    );
  });

  it('the ledger: every acknowledged submission finished exactly once, as expected, with the right bytes and each shard counted once', async () => {
    const report = await ledger.settle<GrfJobResult>(fleet, {
      expected,
      digestOf: (r) => csrDigest(r.phi[0]!),
      countedOnce: (jobId) => void counted(jobId),
    });
    say(`ledger: ${JSON.stringify(report)}`);
    assert.deepEqual(report.problems, []);
    assert.ok(report.acknowledged >= 6);
  });
});
