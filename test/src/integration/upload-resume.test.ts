/**
 * Resumable uploads of large input arrays to a remote cluster (orchestrator/src/io/upload.ts),
 * on a real cluster through a context, from a client directory with no local cluster:
 *
 * - the CLI submitting an EigenPro job with a 40 MiB test set is SIGKILLed mid-upload (once the
 *   cluster's array stream has grown by more than the four parts in flight at once hold); run again, it sends only the parts still
 *   missing (its progress bar says how many MiB the cluster already held) and the job's model is
 *   byte for byte the same command's on the cluster's own directory (the plain put path);
 * - the SDK's `put` of a large array to the remote cluster reads back bit for bit, and a second
 *   put of it uploads nothing;
 * - the orchestrator's join refuses a `gramfleet put` file, a staging file of another size, and
 *   bytes that are not the array announced, with typed errors.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpy, isGramfleetError, resourceNames, type ErrorCode, type NdArray } from '@gramfleet/core';
import { connect, writeNpy } from '@gramfleet/orchestrator';
import { joinUploadedArray, putBytes, putFile } from '@gramfleet/orchestrator/internal';
import { connectNats, createArrayStore, openDataPlane } from '@gramfleet/workers';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { CLI_ENTRY_SCRIPT, contextAddFlags, runGramfleet, startTestCluster, type TestCluster } from './harness';

const MIB = 1024 * 1024;

describe('resumable upload of a large input array to a remote cluster (real Temporal + NATS)', () => {
  let t: TestCluster;
  let client: string;
  let env: Record<string, string>;
  let contextsFile: string;
  let nc: NatsConnection;
  before(async () => {
    t = await startTestCluster('upload-resume', { workers: 1 });
    client = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-upload-client-'));
    contextsFile = path.join(client, 'config', 'contexts.json');
    env = { GRAMFLEET_CONTEXTS_FILE: contextsFile, GRAMFLEET_HOME: path.join(client, 'no-local-cluster') };
    const add = await runGramfleet(['context', 'add', 'lab', ...contextAddFlags(t)], { cwd: client, env });
    assert.equal(add.code, 0, add.stderr);
    nc = await connectNats(t.cluster.state.natsUrl, 'upload-resume-test', t.cluster.natsAuth('client'));
  });
  after(async () => {
    await nc?.close().catch(() => undefined);
    await t?.stop();
    if (client !== undefined) fs.rmSync(client, { recursive: true, force: true });
  });

  /** Bytes in the cluster's array object store (its stream). */
  const storedBytes = async (): Promise<number> => {
    const jsm = await jetstreamManager(nc);
    const si = await jsm.streams.info(`OBJ_${resourceNames(t.cluster.state.prefix).arraysBucket}`);
    return si.state.bytes;
  };

  it('a CLI killed mid-upload, run again, sends only the missing parts, and the job gives the same bytes', async () => {
    const d = 16;
    const nTest = (40 * MIB) / (8 * d);
    const n = 60;
    const x = Float64Array.from({ length: n * d }, (_, i) => Math.sin(0.37 * i) * 0.5 + 0.5);
    const xte = Float64Array.from({ length: nTest * d }, (_, i) => Math.sin(0.011 * i + Math.cos(0.7 * i)) * 0.5 + 0.5);
    const label = (v: Float64Array, i: number): number => ((v[i * d] as number) + (v[i * d + 1] as number) > 1 ? 1 : 0);
    await writeNpy(path.join(client, 'xtr.npy'), { dtype: 'f64', shape: [n, d], data: x });
    await writeNpy(path.join(client, 'ytr.npy'), { dtype: 'f64', shape: [n], data: Float64Array.from({ length: n }, (_, i) => label(x, i)) });
    await writeNpy(path.join(client, 'xte.npy'), { dtype: 'f64', shape: [nTest, d], data: xte });
    await writeNpy(path.join(client, 'yte.npy'), { dtype: 'f64', shape: [nTest], data: Float64Array.from({ length: nTest }, (_, i) => label(xte, i)) });
    const args = (out: string): string[] => [
      'eigenpro',
      '--train',
      'xtr.npy',
      '--train-labels',
      'ytr.npy',
      '--test',
      'xte.npy',
      '--test-labels',
      'yte.npy',
      '--kernel',
      'laplacian',
      '--bandwidth',
      '0.7',
      '--epochs',
      '1',
      '--seed',
      '3',
      '--shards',
      '1',
      '--out',
      out,
      '--json',
    ];

    // 1. Killed once more than four 4 MiB parts (those in flight at once) have reached the cluster:
    // at least one is whole.
    const base = await storedBytes();
    const child = spawn(process.execPath, [CLI_ENTRY_SCRIPT, ...args('remote.npz'), '--context', 'lab'], {
      cwd: client,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr1 = '';
    child.stderr.on('data', (b: Buffer) => (stderr1 += b.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    let done: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void exited.then((e) => (done = e));
    let seen = 0;
    while (done === undefined) {
      seen = (await storedBytes()) - base;
      if (seen >= 17 * MIB) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.equal(done, undefined, `the first run ended before the kill (the upload was too quick to interrupt): ${stderr1}`);
    assert.ok(seen < 40 * MIB, `the kill lands before the upload is whole (${seen} bytes in the stream)`);
    child.kill('SIGKILL');
    assert.equal((await exited).signal, 'SIGKILL');
    console.log(`# killed the client with ${(seen / MIB).toFixed(1)} MiB of its upload in the cluster's array stream`);

    // 2. Run again: only what is missing is sent.
    const again = await runGramfleet([...args('remote.npz'), '--context', 'lab'], { cwd: client, env });
    assert.equal(again.code, 0, again.stderr);
    const m = /resumed: ([\d.]+) MiB were already on the cluster, ([\d.]+) MiB sent/.exec(again.stderr);
    assert.ok(m !== null, `the second run reports a resumed upload: ${again.stderr}`);
    const [stored, sent] = [Number(m[1]), Number(m[2])];
    console.log(`# second run: ${stored} MiB already on the cluster, ${sent} MiB sent (the test set is 40 MiB)`);
    assert.ok(stored >= 4, `at least one 4 MiB part was not sent again (${stored} MiB)`);
    assert.ok(sent < 40, `fewer than the whole array's 40 MiB were sent (${sent} MiB)`);
    assert.ok(Math.abs(stored + sent - 40) <= 0.2, `stored + sent is the array (${stored} + ${sent})`);

    // 3. The same command on the cluster's own directory (the array put whole, no staging parts).
    const local = await runGramfleet([...args('local.npz'), '--data-dir', t.dir], { cwd: client, env });
    assert.equal(local.code, 0, local.stderr);
    assert.ok(fs.readFileSync(path.join(client, 'remote.npz')).equals(fs.readFileSync(path.join(client, 'local.npz'))), 'the model is the same bytes');
  });

  it("the SDK's put of a large array to a remote cluster: read back bit for bit; a second put sends nothing", async () => {
    const steps: { sent: number; total: number; stored?: number }[] = [];
    const fleet = await connect({ context: 'lab', contextsFile, onUpload: (e) => steps.push(e) });
    try {
      const data = Float64Array.from({ length: (10 * MIB) / 8 }, (_, i) => Math.cos(i * 0.001) * i);
      const a: NdArray = { dtype: 'f64', shape: [data.length], data };
      const before = await storedBytes();
      const ref = await fleet.put(a);
      // The staging parts are gone once joined: the stream grew by the array, not twice it.
      const grown = (await storedBytes()) - before;
      assert.ok(grown >= 10 * MIB && grown < 12 * MIB, `the stream grew by ${grown} bytes`);
      const big = steps.filter((s) => s.total >= 10 * MIB);
      assert.ok(big.length >= 3, `one step per part of the 10 MiB array (${big.length})`);
      assert.equal(big.at(-1)?.sent, big.at(-1)?.total);
      const back = (await fleet.get(ref)) as NdArray;
      assert.deepEqual(back.shape, a.shape);
      assert.ok(Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength).equals(Buffer.from(data.buffer)));
      steps.length = 0;
      await fleet.put(a);
      assert.equal(steps.filter((s) => s.total >= 10 * MIB).length, 0, 'the second put uploads nothing');
    } finally {
      await fleet.close();
    }
  });

  it('the join refuses what is not the staging copy of the announced array, with typed errors', async () => {
    const names = resourceNames(t.cluster.state.prefix);
    const dp = await openDataPlane(nc, names);
    const store = createArrayStore(dp);
    const rejects = async (p: Promise<unknown>, code: ErrorCode, match: RegExp): Promise<void> => {
      await assert.rejects(p, (e) => {
        assert.ok(isGramfleetError(e), String(e));
        assert.equal(e.code, code, e.message);
        assert.match(e.message, match);
        return true;
      });
    };
    const a: NdArray = { dtype: 'f64', shape: [3], data: Float64Array.of(1, 2, 3) };
    const bytes = encodeNpy(a);
    const expect = { bucket: names.arraysBucket, digest: 'f'.repeat(64), dtype: 'f64' as const, shape: [3], bytes: bytes.byteLength };
    fs.writeFileSync(path.join(client, 'plain.bin'), bytes);
    const file = await putFile(store, path.join(client, 'plain.bin'));
    await rejects(joinUploadedArray(store, names.arraysBucket, { ref: file.ref, expect }), 'INPUT_INVALID', /is a file, not the staging copy of an array/);
    const staged = await putBytes(store, bytes, { partShape: 'row' });
    await rejects(
      joinUploadedArray(store, names.arraysBucket, { ref: staged.ref, expect: { ...expect, bytes: bytes.byteLength + 8 } }),
      'INPUT_INVALID',
      /holds \d+ bytes, the array \d+/,
    );
    await rejects(joinUploadedArray(store, names.arraysBucket, { ref: staged.ref, expect }), 'STORE_DIGEST_MISMATCH', /the client announced f{64}/);
    await dp.close();
  });
});
