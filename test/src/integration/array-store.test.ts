/**
 * The array store's tiers against a real nats-server: the durable object-store tier (written in
 * the object store's own layout, read by the NATS client too; old plain-sha256 objects still
 * read), the host store shared by processes of a host (mapped reads, background durable copies,
 * a full store), peer pulls between two host stores through the holders directory (and a corrupt
 * holder falling back to the object store), and durable objects surviving a restart of the
 * server with the host store gone.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Objm } from '@nats-io/obj';
import {
  INLINE_ARRAY_MAX_BYTES,
  TREE_LEAF_BYTES,
  encodeNpy,
  isGramfleetError,
  isTreeDigest,
  resourceNames,
  silentLogger,
  type ArrayRef,
  type ErrorCode,
  type Logger,
  type NdArray,
} from '@gramfleet/core';
import { connectNats, createArrayStore, openArrayStore, openDataPlane, openHostStore, type DataPlane, type UploadProgress } from '@gramfleet/workers';
import { digestOf, mappedFileOf } from '@gramfleet/workers/internal';
import { createUploadProgress } from '@gramfleet/orchestrator/internal';
import { startNatsOnly, type NatsOnly } from './nats-only';
import { until } from './harness';

const code =
  (c: ErrorCode) =>
  (e: unknown): boolean => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, c, e.message);
    return true;
  };

function f64(n: number, seed: number): NdArray {
  const a = new Float64Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  a[0] = -0; // bit identity: −0 must come back as −0
  return { dtype: 'f64', shape: [n], data: a };
}

const sameBits = (a: NdArray, b: NdArray): void => {
  assert.equal(a.dtype, b.dtype);
  assert.deepEqual([...a.shape], [...b.shape]);
  assert.ok(
    Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength)),
    'bytes differ',
  );
};

describe('array store tiers against a real nats-server', () => {
  let nats: NatsOnly;
  const dps: DataPlane[] = [];
  const dirs: string[] = [];
  const prefix = `as${randomBytes(3).toString('hex')}`;
  const plane = async (): Promise<DataPlane> => {
    const nc = await connectNats(nats.url, 'array-store-test');
    const dp = await openDataPlane(nc, resourceNames(prefix));
    dps.push(dp);
    return dp;
  };
  const hostDir = (): string => {
    const d = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'gf-array-store-test-'));
    dirs.push(d);
    return d;
  };
  before(async () => {
    nats = await startNatsOnly('array-store');
  });
  after(async () => {
    for (const dp of dps) await dp.close().catch(() => undefined);
    await nats?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('writes the object store in its own layout (the NATS client reads it) and reads old plain-sha256 objects', async () => {
    const dp = await plane();
    const store = createArrayStore(dp);
    const big = f64((TREE_LEAF_BYTES / 8) * 2 + 1000, 1); // three leaves
    const ref = await store.put(big);
    assert.ok(isTreeDigest(ref.digest));
    assert.equal(ref.digest, digestOf(encodeNpy(big)));
    const viaClient = await (await new Objm(dp.nc).open(dp.names.arraysBucket)).getBlob(ref.digest);
    assert.ok(
      viaClient !== null && Buffer.from(viaClient).equals(Buffer.from(encodeNpy(big))),
      'the NATS object-store client reads (and checks) what the store wrote',
    );
    const reader = createArrayStore(dp, { cacheBytes: 0 });
    sameBits(await reader.get(ref), big);
    assert.equal(reader.stats.objectReads, 1);

    // an object written before tree digests: named by the plain sha256 of a large array
    const old = f64(TREE_LEAF_BYTES / 8 + 5000, 2);
    const bytes = encodeNpy(old);
    const sha = createHash('sha256').update(bytes).digest('hex');
    await (await new Objm(dp.nc).open(dp.names.arraysBucket)).putBlob({ name: sha }, bytes);
    const oldRef: ArrayRef = { bucket: dp.names.arraysBucket, digest: sha, dtype: 'f64', shape: [...old.shape], bytes: bytes.byteLength };
    sameBits(await reader.get(oldRef), old);
    // and a reference whose bytes do not match fails typed
    await assert.rejects(createArrayStore(dp, { cacheBytes: 0 }).get({ ...oldRef, digest: 'f'.repeat(64) }), code('STORE_MISSING_OBJECT'));
    const wrong = 'e'.repeat(64);
    await (await new Objm(dp.nc).open(dp.names.arraysBucket)).putBlob({ name: wrong }, bytes);
    await assert.rejects(createArrayStore(dp, { cacheBytes: 0 }).get({ ...oldRef, digest: wrong }), code('STORE_DIGEST_MISMATCH'));
  });

  it("reports each durable copy's upload chunk by chunk (onUpload), and the CLI's upload bar draws it", async () => {
    const dp = await plane();
    const steps: UploadProgress[] = [];
    const store = createArrayStore(dp, { onUpload: (e) => steps.push(e) });
    const big = f64(3 * 1024 * 1024, 11); // 24 MiB: several chunks at any chunk size
    const ref = await store.put(big);
    const mine = steps.filter((e) => e.digest === ref.digest);
    assert.ok(mine.length >= 2, `one step per chunk, got ${mine.length}`);
    for (const e of mine) assert.equal(e.total, ref.bytes);
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.sent > mine[i - 1]!.sent, 'sent grows with every acknowledged chunk');
    assert.equal(mine[mine.length - 1]!.sent, ref.bytes, 'the last step is the whole array');
    // a second put of the same bytes uploads nothing, so reports nothing
    const before = steps.length;
    await createArrayStore(dp, { onUpload: (e) => steps.push(e) }).put(big);
    assert.equal(steps.length, before);

    // the CLI's bar (connect({ onUpload }) in cli/main.ts): arrays under its threshold draw nothing
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WriteStream;
    const bar = createUploadProgress(stream);
    bar({ digest: 'small', sent: 1024, total: 1024 });
    assert.equal(lines.length, 0);
    for (const e of mine) bar(e);
    assert.match(lines[0]!, /^uploading inputs \(MiB\) \[/);
    assert.match(lines[lines.length - 1]!, / 24\/24 100% .*1 array/);
  });

  it('carries small arrays inline and checks them', async () => {
    const store = createArrayStore(await plane());
    const small = f64(100, 3);
    const ref = await store.put(small, { inline: true });
    assert.ok(ref.inline !== undefined && ref.bytes <= INLINE_ARRAY_MAX_BYTES);
    sameBits(await createArrayStore(await plane(), { cacheBytes: 0 }).get(ref), small);
    const tampered = Buffer.from(ref.inline, 'base64');
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    await assert.rejects(store.get({ ...ref, digest: 'a'.repeat(64), inline: tampered.toString('base64') }), code('STORE_DIGEST_MISMATCH'));
  });

  it('shares a host store between processes: mapped reads, background durable copies, reads back into the host store', async () => {
    const dir = hostDir();
    const dp = await plane();
    const writer = await openArrayStore(dp, { hostDir: dir, hostBytes: 1 << 30 });
    const a = f64((3 * TREE_LEAF_BYTES) / 8, 4);
    const ref = await writer.store.put(a, { durable: 'background' });
    await writer.store.flush();
    assert.ok(fs.existsSync(path.join(dir, `${ref.digest}.durable`)), 'the durable copy was recorded');
    assert.ok(await createArrayStore(dp).has(ref.digest));

    const reader = await openArrayStore(await plane(), { hostDir: dir, cacheBytes: 0 });
    const got = await reader.store.get(ref);
    sameBits(got, a);
    assert.equal(reader.store.stats.hostReads, 1);
    assert.equal(reader.store.stats.objectReads, 0);
    assert.equal(mappedFileOf(got.data)?.path, path.join(dir, ref.digest), 'a view of the host store file, not a copy');

    // the host copy gone (another host, a restarted pod): read from the object store, into the host store
    openHostStore({ dir, maxBytes: 1 << 30 }).delete(ref.digest);
    const third = await openArrayStore(await plane(), { hostDir: dir, cacheBytes: 0 });
    sameBits(await third.store.get(ref), a);
    assert.equal(third.store.stats.objectReads, 1);
    assert.ok(fs.existsSync(path.join(dir, ref.digest)), 'read into the host store');
    for (const s of [writer, reader, third]) await s.close();
  });

  it('putConcat gives the reference put gives the stacked array, leaves crossing part boundaries, with or without a host store', async () => {
    const dp = await plane();
    const withHost = await openArrayStore(dp, { hostDir: hostDir() });
    const objectOnly = createArrayStore(dp, { cacheBytes: 0 });
    const whole = f64((2 * TREE_LEAF_BYTES) / 8 + 12345, 7);
    const cuts = [0, 1, 1000, TREE_LEAF_BYTES / 8 - 3, TREE_LEAF_BYTES / 8 + 5, whole.data.length];
    const parts = cuts.slice(1).map((c, i) => (whole.data as Float64Array).subarray(cuts[i], c));
    const expected = await objectOnly.put(whole);
    for (const store of [withHost.store, objectOnly]) {
      const ref = await store.putConcat('f64', parts);
      assert.deepEqual({ ...ref, inline: undefined }, { ...expected, inline: undefined });
      sameBits(await createArrayStore(dp, { cacheBytes: 0 }).get(ref), whole);
    }
    const small = await withHost.store.putConcat('i32', [Int32Array.from([1, -2]), new Int32Array(0), Int32Array.from([3])], { inline: true });
    assert.deepEqual(small, await objectOnly.put({ dtype: 'i32', shape: [3], data: Int32Array.from([1, -2, 3]) }, { inline: true }));
    await withHost.close();
  });

  it('writes durable copies when asked: none until persist(), background after its delay without a flush', async () => {
    const dp = await plane();
    const objectOnly = createArrayStore(dp);
    const s = await openArrayStore(dp, { hostDir: hostDir() });
    const a = f64(TREE_LEAF_BYTES / 8 + 9, 11);
    const ref = await s.store.put(a, { durable: 'none' });
    assert.equal(await objectOnly.has(ref.digest), false, 'an intermediate has no durable copy');
    await s.store.persist(ref);
    assert.equal(await objectOnly.has(ref.digest), true);
    sameBits(await createArrayStore(dp, { cacheBytes: 0 }).get(ref), a);
    const quick = createArrayStore(dp, { host: openHostStore({ dir: hostDir(), maxBytes: 1 << 30 }), backgroundDelayMs: 20 });
    const refB = await quick.put(f64(TREE_LEAF_BYTES / 8 + 10, 12), { durable: 'background' });
    assert.equal(await objectOnly.has(refB.digest), false, 'not yet: the copy starts after its delay');
    await until(() => objectOnly.has(refB.digest), 30_000, 'the background copy');
    await assert.rejects(objectOnly.persist({ ...ref, digest: 'd'.repeat(64) }), code('STORE_MISSING_OBJECT'));
    await s.close();
  });

  it('keeps durable puts whole when the host store is full, and refuses a put that would live there only', async () => {
    const dp = await plane();
    const full = await openArrayStore(dp, { hostDir: hostDir(), hostBytes: 2 * 1024 * 1024 });
    const a = f64(TREE_LEAF_BYTES / 8, 5); // 4 MiB: does not fit
    const ref = await full.store.put(a);
    sameBits(await createArrayStore(dp, { cacheBytes: 0 }).get(ref), a);
    await assert.rejects(full.store.put(f64(TREE_LEAF_BYTES / 8, 6), { durable: 'none' }), code('STORE_HOST_FULL'));
    await full.close();
  });

  it('pulls from a peer host through the holders directory; a corrupt holder falls back to the object store', async () => {
    const logs: { msg: string; fields: Readonly<Record<string, unknown>> | undefined }[] = [];
    const capture: Logger = {
      ...silentLogger,
      warn: (msg, fields) => {
        logs.push({ msg, fields });
      },
    };
    const dirA = hostDir();
    const peerSecret = randomBytes(16).toString('hex');
    const hostA = await openArrayStore(await plane(), { hostDir: dirA, peerAdvertise: '127.0.0.1', peerBind: '127.0.0.1', peerSecret });
    const hostB = await openArrayStore(
      await plane(),
      { hostDir: hostDir(), peerAdvertise: '127.0.0.1', peerBind: '127.0.0.1', peerSecret, cacheBytes: 0 },
      capture,
    );
    const a = f64((5 * TREE_LEAF_BYTES) / 8 + 3, 7);
    const ref = await hostA.store.put(a, { durable: 'none' }); // an intermediate: only host A holds it
    const got = await hostB.store.get(ref);
    sameBits(got, a);
    assert.equal(hostB.store.stats.peerReads, 1);
    assert.equal(hostB.store.stats.objectReads, 0);

    // a holder whose copy went bad: the reader's leaf check fails it, the object store serves
    const b = f64((2 * TREE_LEAF_BYTES) / 8, 8);
    const refB = await hostA.store.put(b); // durable too
    const f = path.join(dirA, refB.digest);
    fs.chmodSync(f, 0o644);
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, Buffer.from([0x5a]), 0, 1, TREE_LEAF_BYTES + 11);
    fs.closeSync(fd);
    sameBits(await hostB.store.get(refB), b);
    assert.equal(hostB.store.stats.objectReads, 1);
    assert.ok(
      logs.some((l) => l.msg.startsWith('peer pull failed') && l.fields?.['code'] === 'STORE_DIGEST_MISMATCH'),
      JSON.stringify(logs),
    );
    await hostA.close();
    await hostB.close();
  });

  it('keeps durable arrays through a nats-server restart with the host store gone', async () => {
    const dir = hostDir();
    const s1 = await openArrayStore(await plane(), { hostDir: dir });
    const a = f64(TREE_LEAF_BYTES / 8 + 77, 9);
    const ref = await s1.store.put(a); // sync: durable before put returns
    await s1.close();
    await nats.restart();
    fs.rmSync(dir, { recursive: true, force: true });
    const fresh = await openArrayStore(await plane(), { hostDir: hostDir(), cacheBytes: 0 });
    sameBits(await fresh.store.get(ref), a);
    assert.equal(fresh.store.stats.objectReads, 1);
    await fresh.close();
  });
});
