/**
 * Local workers share the host's kernel-row cache budget. A worker told to stop drains and
 * exits, and exits even when the drain cannot finish: with
 * nats-server gone (SIGKILL), SIGTERM must not leave the worker process behind computing
 * (the orphan an interrupted benchmark once left holding 11 GB of kernel rows).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import { startTestCluster, until, type TestCluster } from './harness';

describe('worker shutdown (real servers)', () => {
  let t: TestCluster;
  const drainTimeoutMs = 2000;
  let saved: string | undefined;

  before(async () => {
    saved = process.env['GRAMFLEET_DRAIN_TIMEOUT_MS'];
    // The worker processes take the environment of the process that starts the cluster.
    process.env['GRAMFLEET_DRAIN_TIMEOUT_MS'] = String(drainTimeoutMs);
    t = await startTestCluster('drain', { workers: 2 });
    await t.cluster.waitForWorkers(2);
  });
  after(async () => {
    if (saved === undefined) delete process.env['GRAMFLEET_DRAIN_TIMEOUT_MS'];
    else process.env['GRAMFLEET_DRAIN_TIMEOUT_MS'] = saved;
    await t?.stop();
  });

  const pidOf = (name: string): number => {
    const p = t.cluster.status().find((s) => s.name === name);
    assert.ok(p?.alive, `${name} is running`);
    return p.pid;
  };
  // By pid and command line (a reaped or zombie process counts as gone).
  const alive = (pid: number): boolean => t.cluster.status().find((s) => s.pid === pid)?.alive ?? false;

  it('the local workers share a quarter of the host memory for their kernel-row caches, and register it', async () => {
    const set = process.env['GRAMFLEET_KERNEL_CACHE_MB'];
    const want = set !== undefined && set !== '' ? Math.round(Number(set)) : Math.floor(os.totalmem() / 4 / 2 / 2 ** 20);
    const ws = await t.fleet.workers();
    assert.equal(ws.length, 2);
    for (const w of ws) assert.equal(w.kernels?.cacheMB, want, `${w.workerId}: cache budget`);
  });
  it('SIGTERM with NATS up drains and exits', async () => {
    const pid = pidOf('worker-0');
    process.kill(pid, 'SIGTERM');
    await until(async () => !alive(pid), 15_000, 'worker-0 to exit after SIGTERM');
  });
  it('SIGTERM with NATS gone exits after the drain timeout instead of hanging', async () => {
    const pid = pidOf('worker-1');
    process.kill(pidOf('nats'), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    process.kill(pid, 'SIGTERM');
    await until(async () => !alive(pid), drainTimeoutMs + 8000, 'worker-1 to exit after SIGTERM with NATS gone');
    const took = Date.now() - t0;
    process.stdout.write(`# worker exited ${took} ms after SIGTERM with NATS gone (drain timeout ${drainTimeoutMs} ms)\n`);
  });
});
