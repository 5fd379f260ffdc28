import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { JOB_GONE_GRACE_MS, ObjectStore } from './objects';

const HOUR = 3_600_000;
const npy = (n: number): Buffer => Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]), Buffer.alloc(n, 7)]);

describe('API objects: garbage collection by last use', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-api-objects-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('deletes objects unused past the time to live and stale partial uploads; a request naming an object keeps it', async () => {
    const store = new ObjectStore(dir, 1 << 20);
    const old = await store.put(Readable.from([npy(10)]));
    const used = await store.put(Readable.from([npy(20)]));
    const fresh = await store.putBytes(npy(30));
    const partial = path.join(dir, 'tmp', 'left-behind');
    fs.writeFileSync(partial, 'x');
    const past = new Date(Date.now() - 48 * HOUR);
    for (const p of [path.join(dir, `${old.id}.npy`), path.join(dir, `${used.id}.npy`), partial]) fs.utimesSync(p, past, past);
    // Named by a request (a job's input, a download): its last use is now.
    await store.find(used.id);
    fs.writeFileSync(path.join(dir, 'not-an-object.txt'), 'kept');
    fs.utimesSync(path.join(dir, 'not-an-object.txt'), past, past);

    const r = await store.gc(24 * HOUR);
    assert.deepEqual(r, { objects: 1, bytes: old.bytes, partial: 1 });
    await assert.rejects(store.find(old.id), (e: Error & { code?: string }) => e.code === 'API_NOT_FOUND');
    assert.equal((await store.find(used.id)).bytes, used.bytes);
    assert.equal((await store.find(fresh.id)).bytes, fresh.bytes);
    assert.ok(!fs.existsSync(partial));
    assert.ok(fs.existsSync(path.join(dir, 'not-an-object.txt')), 'only objects and partial uploads are swept');
    // Nothing is past the limit now.
    assert.deepEqual(await store.gc(24 * HOUR), { objects: 0, bytes: 0, partial: 0 });
    // A shorter time to live, seen from two days on, takes the rest.
    assert.deepEqual((await store.gc(HOUR, Date.now() + 48 * HOUR)).objects, 2);
  });

  it("a deleted job's inputs and results go with it, except objects a live job names and objects used within the grace", async () => {
    const d = fs.mkdtempSync(path.join(dir, 'jobs-'));
    const store = new ObjectStore(d, 1 << 20);
    const input = await store.put(Readable.from([npy(11)]));
    const shared = await store.put(Readable.from([npy(12)]));
    const result = await store.putBytes(npy(13));
    const recent = await store.putBytes(npy(14));
    const liveOnly = await store.putBytes(npy(15));
    await store.ownedBy('grf-gone', [input.id, shared.id]);
    await store.ownedBy('grf-gone', [result.id, recent.id]);
    await store.ownedBy('grf-live', [shared.id, liveOnly.id]);
    // used before the grace, except `recent` (downloaded a minute ago)
    const past = new Date(Date.now() - 2 * JOB_GONE_GRACE_MS);
    for (const o of [input, shared, result, liveOnly]) fs.utimesSync(path.join(d, `${o.id}.npy`), past, past);
    const asked: string[] = [];
    const jobGone = (id: string): Promise<boolean> => {
      asked.push(id);
      return Promise.resolve(id === 'grf-gone');
    };
    const r = await store.gc(7 * 24 * HOUR, Date.now(), { jobGone });
    assert.deepEqual(asked.sort(), ['grf-gone', 'grf-live']);
    assert.deepEqual([r.jobObjects, r.jobsGone, r.objects, r.bytes], [2, 1, 0, input.bytes + result.bytes]);
    for (const gone of [input, result]) await assert.rejects(store.find(gone.id), (e: Error & { code?: string }) => e.code === 'API_NOT_FOUND');
    for (const kept of [shared, recent, liveOnly]) assert.equal((await store.find(kept.id)).id, kept.id);
    // the gone job's record is removed; the live one's stays, so a later sweep asks only about it
    asked.length = 0;
    await store.gc(7 * 24 * HOUR, Date.now(), { jobGone });
    assert.deepEqual(asked, ['grf-live']);
    // without jobGone (no cluster to ask) the sweep is by time alone, as before
    assert.deepEqual(await store.gc(7 * 24 * HOUR), { objects: 0, bytes: 0, partial: 0 });
  });
});
