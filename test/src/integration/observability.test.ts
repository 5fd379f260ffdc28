/**
 * Seeing the local cluster (issue 25): a real cluster (Temporal dev server, nats-server,
 * orchestrator, 2 WASM workers) serves the Temporal Web UI at the address its state file
 * records, and `gramfleet status` (the real binary) prints that address.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { startTestCluster, type TestCluster } from './harness';

const BIN = path.join(path.dirname(require.resolve('@gramfleet/orchestrator')), '..', 'bin', 'gramfleet.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('observability of the local cluster', () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('observability', { workers: 2 });
  });
  after(async () => {
    await t?.stop();
  });

  it('serves the Temporal Web UI at the address in its state, and `status` prints it', async () => {
    const ui = t.cluster.state.temporalUi;
    assert.ok(ui !== undefined && /^http:\/\/127\.0\.0\.1:\d+$/.test(ui), `temporalUi recorded: ${String(ui)}`);
    // The UI server may come up a moment after the frontend: ask until it answers (the test's own timeout bounds it).
    let res: Response | undefined;
    for (;;) {
      res = await fetch(ui).catch(() => undefined);
      if (res !== undefined) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<html/i, 'the UI answers with its page');
    const st = await cli(['status', '--data-dir', t.dir]);
    assert.equal(st.code, 0, st.stderr);
    assert.ok(st.stdout.includes(`temporal-ui ${ui}`), st.stdout);
    const js = await cli(['status', '--data-dir', t.dir, '--json']);
    assert.equal((JSON.parse(js.stdout) as { temporalUi?: string }).temporalUi, ui);
  });
});
