/**
 * The local cluster supervises its processes, tried as a user would with the real CLI: after
 * `gramfleet up`, a `kill -9` of nats-server, of the Temporal dev server or of a worker in the
 * middle of a GRF job is repaired by the supervisor (same address, same store) and the job
 * finishes by itself, byte-identical to an uninterrupted run; a restart that fails is tried again
 * until it works; `status` reports the restarts; `up`
 * refuses to start a second cluster over the live one; `down` stops every process, the supervisor
 * included, even with one of them dead.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GrfJobResult } from '@gramfleet/core';
import { connect, type Fleet, type GrfJobSpec, type JobHandle } from '@gramfleet/orchestrator';
import { csrDigest, runGramfleet, sharedGraph, until } from './harness';

interface Proc {
  readonly name: string;
  readonly pid: number;
}

describe('the supervised local cluster (gramfleet up / status / down, real processes)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-supervised-'));
  let fleet: Fleet;
  let baseline: GrfJobResult;
  const procs = (): Proc[] => (JSON.parse(fs.readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as { processes: Proc[] }).processes;
  const pidOf = (name: string): number => {
    const p = procs().find((q) => q.name === name);
    assert.ok(p !== undefined, `${name} is in the state file`);
    return p.pid;
  };
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  const spec: GrfJobSpec = {
    kind: 'grf',
    graph: sharedGraph('cora.npz'),
    kernel: 'reg-laplacian',
    scale: 0.25,
    walks: 2048,
    pHalt: 0.2,
    seed: 3,
    shardNodes: 50,
    batchShards: 2,
    window: 2,
  };

  before(async () => {
    const up = await runGramfleet(['up', '--workers', '1', '--data-dir', dir]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /supervisor\(\d+\)/);
    fleet = await connect({ dataDir: dir, startLocal: false });
    baseline = await (await fleet.submit(spec)).result();
  });
  after(async () => {
    await fleet?.close().catch(() => undefined);
    await runGramfleet(['down', '--data-dir', dir]);
    if (process.env['GRAMFLEET_KEEP_TEST_DIRS'] === undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Submits the job, kills `name` with SIGKILL once some shards are done, and checks the result and the restart. */
  async function survives(name: string): Promise<void> {
    const before = pidOf(name);
    const h: JobHandle<'grf'> = await fleet.submit(spec);
    await until(async () => ((await h.progress().catch(() => undefined))?.shardsDone ?? 0) >= 2, 120_000, 'first shards done');
    process.kill(before, 'SIGKILL');
    const r = await h.result();
    assert.deepEqual(r.phi.map(csrDigest), baseline.phi.map(csrDigest), `Φ byte-identical after ${name} was killed`);
    assert.equal(
      Object.values(r.workers).reduce((a, b) => a + b, 0),
      r.shards,
      'each shard counted once',
    );
    await until(async () => procs().some((p) => p.name === name && p.pid !== before && alive(p.pid)), 60_000, `${name} restarted`);
    const st = await runGramfleet(['status', '--data-dir', dir, '--json']);
    assert.equal(st.code, 0, st.stderr);
    const events = (JSON.parse(st.stdout.trim().split('\n').pop() ?? '{}') as { events?: { process: string; what: string }[] }).events ?? [];
    assert.ok(
      events.some((e) => e.process === name && e.what === 'restarted'),
      `status reports ${name} restarted: ${JSON.stringify(events)}`,
    );
  }

  it('kill -9 of nats-server mid-job: restarted on the same port and store, the job finishes byte-identical', async () => {
    await survives('nats');
  });

  it('kill -9 of the Temporal dev server mid-job: restarted on its database, the job finishes byte-identical', async () => {
    await survives('temporal');
  });

  it('kill -9 of the only worker mid-job: restarted, the job finishes byte-identical', async () => {
    await survives('worker-0');
  });

  it('a restart that fails (the Temporal port taken by another process for 8 s) is tried again until it works', async () => {
    const port = (JSON.parse(fs.readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as { temporalPort: number }).temporalPort;
    const before = pidOf('temporal');
    process.kill(before, 'SIGKILL');
    // Take the port the moment the killed server lets it go, before the supervisor's next poll.
    const squatter = net.createServer((sock) => sock.destroy());
    await until(
      () =>
        new Promise<boolean>((resolve) => {
          squatter.once('error', () => resolve(false));
          squatter.listen(port, '127.0.0.1', () => resolve(true));
        }),
      5_000,
      'the Temporal port taken',
    );
    await new Promise((r) => setTimeout(r, 8_000));
    await new Promise<void>((r) => squatter.close(() => r()));
    await until(async () => procs().some((p) => p.name === 'temporal' && p.pid !== before && alive(p.pid)), 90_000, 'temporal restarted once its port is free');
    const st = await runGramfleet(['status', '--data-dir', dir, '--json']);
    const events = (JSON.parse(st.stdout.trim().split('\n').pop() ?? '{}') as { events?: { process: string; what: string }[] }).events ?? [];
    const mine = events.filter((e) => e.process === 'temporal').map((e) => e.what);
    assert.ok(mine.includes('restart-failed'), `status reports the failed restarts: ${JSON.stringify(mine)}`);
    assert.equal(mine[mine.length - 1], 'restarted', `and then the restart: ${JSON.stringify(mine)}`);
    const r = await (await fleet.submit(spec)).result();
    assert.deepEqual(r.phi.map(csrDigest), baseline.phi.map(csrDigest), 'a job after the restart is byte-identical');
  });

  it('up refuses to start a second cluster over the live one; down stops every process even with one dead', async () => {
    const again = await runGramfleet(['up', '--workers', '1', '--data-dir', dir]);
    assert.notEqual(again.code, 0);
    assert.match(again.stdout + again.stderr, /already running/);
    const pids = procs().map((p) => p.pid);
    process.kill(pidOf('supervisor'), 'SIGKILL'); // nothing restarts what dies now
    process.kill(pidOf('nats'), 'SIGKILL');
    await until(() => Promise.resolve(!alive(pidOf('nats'))), 10_000, 'nats gone');
    const down = await runGramfleet(['down', '--data-dir', dir]);
    assert.equal(down.code, 0, down.stderr);
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} stopped`);
    const st = await runGramfleet(['status', '--data-dir', dir]);
    assert.equal(st.code, 3, 'no cluster runs after down');
  });
});
