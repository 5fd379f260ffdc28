/**
 * The orchestrator's cache of files named by object reference (orchestrator/src/io/file-cache.ts)
 * against a real nats-server: with a byte bound, the least recently used file no lease holds is
 * removed to make room, a leased (pinned) file never is, one input larger than the bound alone is
 * `INPUT_TOO_LARGE` naming the field and the variable, and one that does not fit beside the
 * pinned files is `STORE_HOST_FULL` (retryable); an evicted file is fetched again byte-identical.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isGramfleetError, resourceNames, type ErrorCode } from '@gramfleet/core';
import { connectNats, createArrayStore, openDataPlane, type ArrayStore, type DataPlane } from '@gramfleet/workers';
import { FILE_CACHE_MAX_BYTES_VAR, createFileCache, putFile } from '@gramfleet/orchestrator/internal';
import { startNatsOnly, type NatsOnly } from './nats-only';

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, ...inMessage: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isGramfleetError(e), `expected a GramfleetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const s of inMessage) assert.ok(e.message.includes(s), `message ${JSON.stringify(e.message)} should include ${JSON.stringify(s)}`);
    return true;
  });
}

describe('file cache byte bound and LRU eviction (real nats-server)', () => {
  let nats: NatsOnly;
  let dp: DataPlane;
  let store: ArrayStore;
  let dir: string;
  const KB = 1024;
  const refs: { ref: string; bytes: Buffer }[] = [];
  before(async () => {
    nats = await startNatsOnly('file-cache');
    dp = await openDataPlane(await connectNats(nats.url, 'file-cache-test'), resourceNames(`fc${randomBytes(3).toString('hex')}`));
    store = createArrayStore(dp);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-file-cache-test-'));
    // four files of 40 KiB and one of 130 KiB, uploaded as a client would
    for (const size of [40, 40, 40, 40, 130]) {
      const bytes = randomBytes(size * KB);
      const f = path.join(dir, `in-${refs.length}.bin`);
      fs.writeFileSync(f, bytes);
      refs.push({ ref: (await putFile(store, f)).ref, bytes });
    }
  });
  after(async () => {
    await dp?.close().catch(() => undefined);
    await nats?.stop();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('evicts the least recently used unpinned file, never a leased one; refuses a file over the bound', async () => {
    const cacheDir = path.join(dir, 'cache');
    const cache = createFileCache({ store, bucket: dp.names.arraysBucket, dir: cacheDir, maxBytes: 100 * KB });
    const [a, b, c, d, big] = refs as [(typeof refs)[0], (typeof refs)[0], (typeof refs)[0], (typeof refs)[0], (typeof refs)[0]];
    const pa = await cache.resolve('runs[0].graph', a.ref);
    assert.ok(fs.readFileSync(pa).equals(a.bytes));
    await new Promise((r) => setTimeout(r, 20));
    const pb = await cache.resolve('runs[1].graph', b.ref);
    await new Promise((r) => setTimeout(r, 20));
    // a is used again: b is now the least recently used
    assert.equal(await cache.resolve('runs[2].graph', a.ref), pa);
    assert.deepEqual(await cache.usage(), { bytes: 80 * KB, files: 2 });
    // c does not fit beside a and b (120 > 100 KiB): b goes, a stays
    const pc = await cache.resolve('runs[3].graph', c.ref);
    assert.equal(fs.existsSync(pb), false, 'b, the least recently used, was evicted');
    assert.equal(fs.existsSync(pa), true);
    assert.deepEqual(await cache.usage(), { bytes: 80 * KB, files: 2 });
    // a and c leased (a run reading them): d finds no room and is refused, retryably, evicting nothing
    await new Promise((r) => setTimeout(r, 20));
    const lease = cache.lease();
    await lease.resolve('runs[0].train', c.ref);
    // a later than c, so that a is the more recently used of the two (a use touches its file)
    await new Promise((r) => setTimeout(r, 20));
    await lease.resolve('runs[0].graph', a.ref);
    await rejectsCode(cache.resolve('runs[4].graph', d.ref), 'STORE_HOST_FULL', 'runs[4].graph', FILE_CACHE_MAX_BYTES_VAR, '102400');
    assert.ok(fs.existsSync(pa) && fs.existsSync(pc), 'leased files are never evicted');
    // released: d evicts c, used less recently than a (the lease touched a after c)
    lease.release();
    const pd = await cache.resolve('runs[4].graph', d.ref);
    assert.ok(fs.readFileSync(pd).equals(d.bytes));
    assert.deepEqual(await cache.usage(), { bytes: 80 * KB, files: 2 });
    assert.equal(fs.existsSync(pc), false, 'c, used least recently, was evicted');
    assert.equal(fs.existsSync(pa), true, 'a was used (leased) after c');
    // one input over the bound alone: INPUT_TOO_LARGE naming the field, the bound and the variable; nothing evicted
    await rejectsCode(cache.resolve('grid.axes.graph[1]', big.ref), 'INPUT_TOO_LARGE', 'grid.axes.graph[1]', FILE_CACHE_MAX_BYTES_VAR, '133120 bytes');
    assert.deepEqual(await cache.usage(), { bytes: 80 * KB, files: 2 });
    // an evicted file is fetched again, byte-identical
    assert.ok(fs.readFileSync(await cache.resolve('runs[1].graph', b.ref)).equals(b.bytes));
    assert.ok((await cache.usage()).bytes <= 100 * KB);
  });

  it('the order survives a restart (a use touches the mtime): a new cache over the same directory evicts the file used least recently', async () => {
    const cacheDir = path.join(dir, 'cache2');
    const [a, b, c] = refs as [(typeof refs)[0], (typeof refs)[0], (typeof refs)[0]];
    const first = createFileCache({ store, bucket: dp.names.arraysBucket, dir: cacheDir, maxBytes: 100 * KB });
    const pa = await first.resolve('a', a.ref);
    const pb = await first.resolve('b', b.ref);
    // a used again after b, with a later mtime
    fs.utimesSync(pb, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    await first.resolve('a', a.ref);
    const second = createFileCache({ store, bucket: dp.names.arraysBucket, dir: cacheDir, maxBytes: 100 * KB });
    await second.resolve('c', c.ref);
    assert.deepEqual([fs.existsSync(pa), fs.existsSync(pb)], [true, false]);
  });
});
