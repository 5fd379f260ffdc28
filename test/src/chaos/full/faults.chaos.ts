/**
 * The long part of the chaos suite (issue 23 item 3), run by scripts/chaos.sh, not by `npm test`
 * (the file is not a `.test.ts`). Each fault ends byte-identical to the float64 reference with
 * every shard counted once (test/src/chaos/counted-once.ts), or fails within a stated bound with a
 * typed error; every submission goes through the acknowledged-submission ledger.
 *
 * - SIGKILL of the Temporal dev server mid-job (supervised cluster), jobs in flight and one
 *   submitted into the outage;
 * - the one-replica JetStream store wiped mid-job (nats-server SIGKILLed, its store directory
 *   removed, the supervisor starts it again empty): the job must end within 180 s — completed
 *   byte-identical, or failed with a typed error naming what was lost — and the next job works;
 * - the NATS store's disk full (the store on a 1 GiB tmpfs, filled with a file until ENOSPC): a
 *   job whose inputs' durable copies cannot be written is refused typed (or, acknowledged, ends
 *   typed within 60 s), no task is left unacked, and with room again the job completes;
 * - a worker's clock 10 minutes ahead and 10 minutes behind (Debian's libfaketime, LD_PRELOAD):
 *   its results are unchanged.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isGramfleetError, shardId, type GrfJobResult, type NdArray } from '@gramfleet/core';
import { connect, type Fleet, type GrfJobSpec } from '@gramfleet/orchestrator';
import { readCounts } from '@gramfleet/workers';
import { csrDigest, grfReference, runGramfleet, sharedGraph, startTestCluster, until, type TestCluster } from '../../integration/harness';
import { checkCountedOnce } from '../counted-once';
import { SubmissionLedger, type Expected } from '../ledger';

/** One line of the run's report (counts, ledger, timings) in the test output. */
const say = (s: string): void => void process.stdout.write(`# ${s}\n`);

type Spec = GrfJobSpec & { readonly graph: string; readonly kernel: string; readonly seed: number; readonly walks: number };
const specOf = (seed: number): Spec => ({
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
});

/** Φ read back equals the float64 reference of `spec`, bit for bit; returns the result's digest. */
async function sameAsReference(fleet: Fleet, spec: Spec, r: GrfJobResult): Promise<string> {
  const ref = (await grfReference(spec)).phi;
  const phi = await fleet.getCsr(r.phi[0]!);
  const bytes = (a: NdArray['data']): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  assert.ok(bytes(phi.indptr).equals(bytes(ref[0]!.data)), 'indptr equals the float64 reference');
  assert.ok(bytes(phi.indices).equals(bytes(ref[1]!.data)), 'indices equal the float64 reference');
  assert.ok(bytes(phi.data).equals(bytes(ref[2]!.data)), 'data equals the float64 reference');
  return csrDigest(r.phi[0]!);
}

/** Sets environment variables for what starts next (the cluster's processes inherit them); returns a restore. */
function withEnv(env: Record<string, string>): () => void {
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** A supervised cluster (`gramfleet up`) in a fresh directory, its counts and a ledger. */
async function supervised(name: string, prepare?: (dir: string) => void) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gf-chaos-${name}-`));
  prepare?.(dir);
  const countsDir = path.join(dir, 'counts');
  const restore = withEnv({ GRAMFLEET_COUNTS_DIR: countsDir });
  const up = await runGramfleet(['up', '--workers', '2', '--data-dir', dir]);
  restore();
  assert.equal(up.code, 0, up.stderr);
  const fleet = await connect({ dataDir: dir, startLocal: false });
  const pidOf = (proc: string): number => {
    const p = (JSON.parse(fs.readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as { processes: { name: string; pid: number }[] }).processes.find(
      (q) => q.name === proc,
    );
    assert.ok(p !== undefined, `${proc} is in the state file`);
    return p.pid;
  };
  return {
    dir,
    fleet,
    pidOf,
    ledger: new SubmissionLedger(path.join(dir, 'ledger.jsonl')),
    counted: (jobId: string, shards: number) =>
      checkCountedOnce(
        readCounts(countsDir),
        jobId,
        Array.from({ length: shards }, (_, i) => shardId(i)),
      ),
    async stop(): Promise<void> {
      await fleet.close().catch(() => undefined);
      await runGramfleet(['down', '--data-dir', dir]);
      // A directory with a mount in it (the disk-full case) is removed by its test after the umount.
      if (process.env['GRAMFLEET_KEEP_TEST_DIRS'] === undefined)
        try {
          fs.rmSync(dir, { recursive: true, force: true });
        } catch {
          /* EBUSY: the mount is still there */
        }
    },
  };
}

const code = (e: unknown): string | undefined => (isGramfleetError(e) ? e.code : undefined);

describe('chaos, the long faults (scripts/chaos.sh)', { concurrency: false }, () => {
  const spec = specOf(3);
  let reference: string | undefined;
  const expected = new Map<string, Expected>();

  it('SIGKILL of the Temporal server mid-job, one more submitted into the outage: the acknowledged jobs finish byte-identical, counted once', async () => {
    const c = await supervised('temporal');
    try {
      const h0 = await c.ledger.submit(c.fleet, 'base', spec);
      assert.ok(h0 !== undefined);
      const r0 = (await h0.result()) as GrfJobResult;
      reference = await sameAsReference(c.fleet, spec, r0);
      expected.set('base', { digest: reference });
      const a = await c.ledger.submit(c.fleet, 'base', spec);
      assert.ok(a !== undefined);
      await until(
        async () => ((await a.progress().catch(() => undefined)) as { shardsDone?: number } | undefined)?.shardsDone !== undefined,
        120_000,
        'job running',
      );
      const killedAt = Date.now();
      process.kill(c.pidOf('temporal'), 'SIGKILL');
      const b = await c.ledger.submit(c.fleet, 'base', spec);
      const submitMs = Date.now() - killedAt;
      for (const h of [a, b]) {
        if (h === undefined) continue;
        const r = (await h.result()) as GrfJobResult;
        assert.equal(csrDigest(r.phi[0]!), reference);
        say(`temporal SIGKILL: ${JSON.stringify(c.counted(h.jobId, r.shards))}`);
      }
      say(
        `temporal SIGKILL: the submission into the outage was ${b === undefined ? `refused (${JSON.stringify(c.ledger.entries.at(-1)?.refused)})` : 'acknowledged'} after ${submitMs} ms; jobs done ${Date.now() - killedAt} ms after the kill`,
      );
      const report = await c.ledger.settle<GrfJobResult>(c.fleet, {
        expected,
        digestOf: (r) => csrDigest(r.phi[0]!),
        countedOnce: (id) => void c.counted(id, r0.shards),
      });
      say(`temporal SIGKILL ledger: ${JSON.stringify(report)}`);
      assert.deepEqual(report.problems, []);
    } finally {
      await c.stop();
    }
  });

  it('the one-replica JetStream store wiped mid-job: the job ends within 180 s, byte-identical or with a typed error naming what was lost; the next job works', async () => {
    const c = await supervised('wiped');
    try {
      const a = await c.ledger.submit(c.fleet, 'wiped', spec);
      assert.ok(a !== undefined);
      await until(
        async () => ((await a.progress().catch(() => undefined)) as { shardsDone?: number } | undefined)?.shardsDone !== undefined,
        120_000,
        'job running',
      );
      process.kill(c.pidOf('nats'), 'SIGKILL');
      fs.rmSync(path.join(c.dir, 'nats'), { recursive: true, force: true });
      const wipedAt = Date.now();
      const outcome = await Promise.race([
        a.result().then(
          (r) => ({ ok: r as GrfJobResult }),
          (e: unknown) => ({ err: e }),
        ),
        new Promise<{ hung: true }>((r) => setTimeout(() => r({ hung: true }), 180_000).unref()),
      ]);
      const ms = Date.now() - wipedAt;
      if ('hung' in outcome) assert.fail(`the job neither finished nor failed within 180 s of its store being wiped`);
      if ('ok' in outcome) {
        assert.equal(csrDigest(outcome.ok.phi[0]!), await sameAsReference(c.fleet, spec, outcome.ok));
        say(`store wiped: the job completed byte-identical ${ms} ms after the wipe`);
      } else {
        say(`store wiped: the job failed after ${ms} ms with ${code(outcome.err) ?? 'an UNTYPED error'}: ${(outcome.err as Error).message}`);
        assert.ok(code(outcome.err) !== undefined, `a typed error: ${String(outcome.err)}`);
      }
      const next = await c.ledger.submit(c.fleet, 'next', spec);
      assert.ok(next !== undefined, `a job submitted after the wipe is acknowledged: ${JSON.stringify(c.ledger.entries.at(-1)?.refused)}`);
      const r = (await next.result()) as GrfJobResult;
      say(`store wiped: the next job: ${JSON.stringify(c.counted(next.jobId, r.shards))}`);
      assert.equal(csrDigest(r.phi[0]!), await sameAsReference(c.fleet, spec, r));
    } finally {
      await c.stop();
    }
  });

  it("the NATS store's disk full (1 GiB tmpfs): a job is refused typed (or ends typed within 60 s), no task left unacked; with room again it completes", async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a tmpfs for the NATS store');
      say('disk full: skipped, this process is not root (it mounts a tmpfs)');
      return;
    }
    let mounted: string | undefined;
    let c: Awaited<ReturnType<typeof supervised>> | undefined;
    try {
      c = await supervised('diskfull', (dir) => {
        mounted = path.join(dir, 'nats');
        fs.mkdirSync(mounted);
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1g', 'tmpfs', mounted]);
      });
      // The disk fills up (a file written until ENOSPC; `fleet.put` keeps arrays in the host store
      // without a durable copy, so puts alone never reach the NATS store).
      const filler = path.join(mounted!, 'filler');
      const fd = fs.openSync(filler, 'w');
      const block = Buffer.alloc(4 << 20, 1);
      let filled = 0;
      try {
        for (;;) filled += fs.writeSync(fd, block);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        fs.closeSync(fd);
      }
      say(`disk full: ${Math.round(filled / 2 ** 20)} MiB of filler written until ENOSPC`);
      const t0 = Date.now();
      // A job's inputs must have their durable copies before it is acknowledged: refused typed, or
      // acknowledged and then ended (completed or failed typed) within 60 s.
      const a = await c.ledger.submit(c.fleet, 'diskfull', spec);
      if (a === undefined) {
        const refused = c.ledger.entries.at(-1)?.refused;
        say(`disk full: the job was refused after ${Date.now() - t0} ms with ${JSON.stringify(refused)}`);
        assert.ok(refused?.code !== undefined, `refused with a typed error: ${JSON.stringify(refused)}`);
      } else {
        const outcome = await Promise.race([
          a.result().then(
            (r) => ({ ok: r as GrfJobResult }),
            (e: unknown) => ({ err: e }),
          ),
          new Promise<{ hung: true }>((r) => setTimeout(() => r({ hung: true }), 60_000).unref()),
        ]);
        const ms = Date.now() - t0;
        if ('hung' in outcome) {
          await a.cancel().catch(() => undefined);
          assert.fail('the job neither finished nor failed within 60 s on a full store');
        }
        if ('ok' in outcome) say(`disk full: the job completed in ${ms} ms: ${JSON.stringify(c.counted(a.jobId, outcome.ok.shards))}`);
        else {
          say(`disk full: the job failed in ${ms} ms with ${code(outcome.err) ?? 'an UNTYPED error'}: ${(outcome.err as Error).message}`);
          assert.ok(code(outcome.err) !== undefined);
        }
      }
      const unacked = JSON.parse(
        execFileSync(process.execPath, [
          '-e',
          `fetch('http://127.0.0.1:${(JSON.parse(fs.readFileSync(path.join(c.dir, 'cluster.json'), 'utf8')) as { natsMonitorPort: number }).natsMonitorPort}/jsz?consumers=true').then(r=>r.json()).then(j=>{let n=0;for(const a of j.account_details??[])for(const s of a.stream_detail??[])if(s.name.endsWith("_TASKS"))for(const c of s.consumer_detail??[])n+=(c.num_ack_pending??0)+(c.num_pending??0);process.stdout.write(String(n))})`,
        ]).toString(),
      ) as number;
      say(`disk full: ${unacked} messages pending or unacked in the task stream at the end`);
      assert.equal(unacked, 0, 'no task left unacked');
      // Room again: the same job is acknowledged and completes byte-identical.
      fs.rmSync(filler);
      const b = await c.ledger.submit(c.fleet, 'diskfull-after', spec);
      assert.ok(b !== undefined, `acknowledged once the disk has room: ${JSON.stringify(c.ledger.entries.at(-1)?.refused)}`);
      const rb = (await b.result()) as GrfJobResult;
      say(`disk full: with room again the job completed: ${JSON.stringify(c.counted(b.jobId, rb.shards))}`);
      assert.equal(csrDigest(rb.phi[0]!), await sameAsReference(c.fleet, spec, rb));
    } finally {
      await c?.stop().catch(() => undefined);
      if (mounted !== undefined) {
        try {
          execFileSync('umount', [mounted]);
        } catch {
          /* not mounted any more */
        }
        fs.rmSync(path.dirname(mounted), { recursive: true, force: true });
      }
    }
  });

  describe("a worker's clock 10 minutes off (libfaketime)", () => {
    const lib = path.resolve(__dirname, '..', '..', '..', '..', '.gramfleet', 'bin', 'libfaketime.so.1');
    let t: TestCluster;
    let countsDir: string;
    let restoreCounts: () => void;
    before(async () => {
      countsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-chaos-skew-counts-'));
      restoreCounts = withEnv({ GRAMFLEET_COUNTS_DIR: countsDir });
      t = await startTestCluster('skew', { workers: 1 });
    });
    after(async () => {
      await t?.stop();
      restoreCounts?.();
      fs.rmSync(countsDir, { recursive: true, force: true });
    });
    for (const offset of ['+10m', '-10m']) {
      it(`${offset}: the job runs on the skewed worker alone and Φ is byte-identical, counted once`, async (tc) => {
        if (!fs.existsSync(lib)) {
          tc.skip('no libfaketime');
          say(`clock skew: skipped, ${lib} is missing (scripts/setup.sh --test fetches Debian's libfaketime)`);
          return;
        }
        const restore = withEnv({ LD_PRELOAD: lib, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' });
        const name = await t.cluster.addWorker({ name: `worker-skew-${offset.startsWith('+') ? 'ahead' : 'behind'}` });
        restore();
        // Only the skewed worker runs: every other worker is stopped.
        for (const p of t.cluster.status()) if (p.name.startsWith('worker-') && p.name !== name && p.alive) await t.cluster.kill(p.name, 'SIGKILL');
        const h = await t.fleet.submit(spec);
        const outcome = await Promise.race([
          h.result().then(
            (r) => ({ ok: r }),
            (e: unknown) => ({ err: e }),
          ),
          new Promise<{ hung: true }>((r) => setTimeout(() => r({ hung: true }), 180_000).unref()),
        ]);
        if ('hung' in outcome) {
          await h.cancel().catch(() => undefined);
          assert.fail(`clock ${offset}: the job did not finish within 180 s on the skewed worker`);
        }
        if ('err' in outcome) assert.fail(`clock ${offset}: the job failed: ${code(outcome.err) ?? 'untyped'} ${(outcome.err as Error).message}`);
        const r = outcome.ok;
        const digest = await sameAsReference(t.fleet, spec, r);
        if (reference !== undefined) assert.equal(digest, reference);
        const report = checkCountedOnce(
          readCounts(countsDir),
          h.jobId,
          Array.from({ length: r.shards }, (_, i) => shardId(i)),
        );
        assert.deepEqual(Object.keys(report.perWorker).length, 1, 'one worker ran it');
        assert.ok(Object.keys(report.perWorker)[0]?.startsWith(name), `the skewed worker ran it: ${JSON.stringify(report.perWorker)}`);
        // The worker's clock is off: its records are stamped ~10 min from the owner's for the same shard.
        const ev = readCounts(countsDir).filter((e) => e.jobId === h.jobId);
        const gaps = ev
          .filter((e) => e.ev === 'accept')
          .map((a) => a.t - (ev.find((e) => e.ev === 'exec' && e.shardId === (a as { shardId: string }).shardId)?.t ?? a.t))
          .sort((x, y) => x - y);
        const skewMs = -(gaps[Math.floor(gaps.length / 2)] ?? 0);
        assert.ok(Math.abs(skewMs) > 5 * 60_000, `the worker's clock is off by ${skewMs} ms`);
        say(`clock ${offset}: the worker's records run ${Math.round(skewMs / 1000)} s from the owner's; Φ byte-identical, ${JSON.stringify(report)}`);
      });
    }
  });
});
