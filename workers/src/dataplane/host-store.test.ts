import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TREE_DIGEST_PREFIX, TREE_LEAF_BYTES, isGramfleetError, type ErrorCode } from '@gramfleet/core';
import { checkLeafTable, digestOf, leafMatches, leafTableOf, sha256Hex } from './digest';
import { hashPool } from './hash-pool';
import { openHostStore } from './host-store';
import { canMap, mappedFileOf } from './mmap';

const dirs: string[] = [];
function tmpDir(): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const d = fs.mkdtempSync(path.join(base, 'gf-host-store-test-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const code =
  (c: ErrorCode) =>
  (e: unknown): boolean => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, c, e.message);
    return true;
  };

describe('tree digests', () => {
  it('are plain sha256 up to one leaf and prefixed tree digests above, checked leaf by leaf', async () => {
    const small = randomBytes(TREE_LEAF_BYTES);
    assert.equal(digestOf(small), sha256Hex(small));
    const big = randomBytes(2 * TREE_LEAF_BYTES + 7);
    const d = digestOf(big);
    assert.ok(d.startsWith(TREE_DIGEST_PREFIX));
    const table = leafTableOf(big);
    assert.equal(table.byteLength, 3 * 32);
    checkLeafTable(d, big.byteLength, table, 'big');
    // the parallel hash threads give the same table, from shared memory
    const sab = new SharedArrayBuffer(big.byteLength);
    new Uint8Array(sab).set(big);
    assert.deepEqual(await hashPool().leaves({ kind: 'shared', buffer: sab, byteOffset: 0 }, big.byteLength), table);
    // one flipped byte changes its leaf's hash and the digest
    const bad = Buffer.from(big);
    bad[TREE_LEAF_BYTES + 3] = (bad[TREE_LEAF_BYTES + 3] ?? 0) ^ 1;
    const badTable = leafTableOf(bad);
    assert.ok(leafMatches(table, 0, badTable.subarray(0, 32)));
    assert.ok(!leafMatches(table, 1, badTable.subarray(32, 64)));
    assert.notEqual(digestOf(bad), d);
    assert.throws(() => checkLeafTable(d, big.byteLength, badTable, 'bad'), code('STORE_DIGEST_MISMATCH'));
    // the length is part of the digest
    assert.throws(() => checkLeafTable(d, big.byteLength - 1, table, 'short'), code('STORE_DIGEST_MISMATCH'));
  });
});

describe('host store', () => {
  it('seals what it writes under its digest and reads it back as a mapped, copy-on-write view', async () => {
    const hs = openHostStore({ dir: tmpDir(), maxBytes: 1 << 30 });
    const head = randomBytes(128),
      body = randomBytes(3 * TREE_LEAF_BYTES - 5);
    const all = Buffer.concat([head, body]);
    const { digest, bytes } = await hs.write([head, body]);
    assert.equal(digest, digestOf(all));
    assert.equal(bytes, all.byteLength);
    assert.equal(hs.size(digest), all.byteLength);
    const v = await hs.read(digest);
    assert.ok(v !== undefined);
    assert.deepEqual(Buffer.from(v), all);
    if (canMap()) {
      assert.equal(mappedFileOf(v)?.path, path.join(hs.dir, digest));
      v[0] = (v[0] ?? 0) ^ 0xff; // the reader's own page: the sealed file is unchanged
      const again = openHostStore({ dir: hs.dir, maxBytes: 1 << 30 });
      assert.deepEqual(Buffer.from((await again.read(digest))!), all);
    } else process.stdout.write('# mmap unavailable here (koffi/libc): reads copy the file\n');
    // the same bytes again: stored once
    assert.equal((await hs.write([all])).digest, digest);
    assert.equal(fs.readdirSync(hs.dir).filter((f) => f.startsWith(digest) && !f.includes('.')).length, 1);
    // small objects get the plain sha256
    const s = randomBytes(1000);
    assert.equal((await hs.write([s])).digest, sha256Hex(s));
    assert.equal(await hs.read('0'.repeat(64)), undefined);
  });

  it('a reader trusts a file its seal record still describes, and hashes one that changed or lost its record', async () => {
    const dir = tmpDir();
    const hs = openHostStore({ dir, maxBytes: 1 << 30 });
    const a = await hs.write([randomBytes(TREE_LEAF_BYTES + 10)]);
    const b = await hs.write([randomBytes(5000)]);
    const reader = openHostStore({ dir, maxBytes: 1 << 30 });
    assert.ok((await reader.read(a.digest)) !== undefined);
    assert.deepEqual(reader.checks, { sealed: 1, hashed: 0 });
    fs.rmSync(path.join(dir, `${b.digest}.seal`));
    assert.ok((await reader.read(b.digest)) !== undefined);
    assert.deepEqual(reader.checks, { sealed: 1, hashed: 1 }, 'no seal record: hashed (and found good)');
    fs.chmodSync(path.join(dir, a.digest), 0o444); // a change of metadata alone: its change time moves
    const another = openHostStore({ dir, maxBytes: 1 << 30 });
    assert.ok((await another.read(a.digest)) !== undefined);
    assert.deepEqual(another.checks, { sealed: 0, hashed: 1 });
    const always = openHostStore({ dir, maxBytes: 1 << 30, verifyReads: 'hash' });
    const c = await hs.write([randomBytes(6000)]);
    await always.read(c.digest);
    assert.deepEqual(always.checks, { sealed: 0, hashed: 1 });
  });

  it('rejects an object whose file no longer matches its digest, and removes it', async () => {
    const dir = tmpDir();
    const hs = openHostStore({ dir, maxBytes: 1 << 30 });
    const big = randomBytes(TREE_LEAF_BYTES + 100);
    const { digest } = await hs.write([big]);
    const f = path.join(dir, digest);
    fs.chmodSync(f, 0o644);
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, Buffer.from([big[5]! ^ 1]), 0, 1, 5);
    fs.closeSync(fd);
    const reader = openHostStore({ dir, maxBytes: 1 << 30 }); // a process that has not read it yet
    await assert.rejects(reader.read(digest), code('STORE_DIGEST_MISMATCH'));
    assert.equal(fs.existsSync(f), false);
  });

  it('fails with STORE_HOST_FULL when nothing evictable makes room, and evicts durable objects first', async () => {
    const hs = openHostStore({ dir: tmpDir(), maxBytes: 3 * 1024 * 1024 });
    const a = await hs.write([randomBytes(1024 * 1024)]);
    const b = await hs.write([randomBytes(1024 * 1024)]);
    await assert.rejects(hs.write([randomBytes(1536 * 1024)]), (e) => {
      code('STORE_HOST_FULL')(e);
      assert.equal((e as { details?: { field?: string } }).details?.field, 'hostStoreBytes');
      return true;
    });
    assert.throws(() => hs.receive('0'.repeat(64), 1536 * 1024), code('STORE_HOST_FULL'));
    hs.markDurable(a.digest);
    const c = await hs.write([randomBytes(1536 * 1024)]);
    assert.equal(hs.size(a.digest), undefined, 'the durable object was evicted');
    assert.ok(hs.size(b.digest) !== undefined, 'the object without a durable copy stays');
    assert.ok(hs.size(c.digest) !== undefined);
    assert.ok(hs.usage() <= hs.maxBytes);
  });

  it(
    "reuses a deleted object's memory for the next write once no reader maps it, never under a reader",
    { skip: canMap() ? undefined : 'mmap unavailable here: deleted objects are freed' },
    async () => {
      const dir = tmpDir();
      const hs = openHostStore({ dir, maxBytes: 1 << 30, spareBytes: 64 << 20 });
      const first = randomBytes(8 << 20);
      const a = await hs.write([first]);
      const inoA = fs.statSync(path.join(dir, a.digest)).ino;
      assert.equal(hs.delete(a.digest), true);
      assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith('.free-')).length, 1, 'kept as a free file');
      const b = await hs.write([randomBytes(6 << 20)]);
      assert.equal(fs.statSync(path.join(dir, b.digest)).ino, inoA, 'the next write took the free file over');
      assert.equal(fs.statSync(path.join(dir, b.digest)).size, 6 << 20);
      assert.ok((await openHostStore({ dir, maxBytes: 1 << 30 }).read(b.digest)) !== undefined, 'sealed and readable (its seal holds)');

      // under a reader: the memory is not reused, and the reader's bytes never change
      const c = await hs.write([first]);
      const reader = openHostStore({ dir, maxBytes: 1 << 30 });
      const view = (await reader.read(c.digest))!;
      const inoC = fs.statSync(path.join(dir, c.digest)).ino;
      hs.delete(c.digest);
      const d = await hs.write([randomBytes(8 << 20)]);
      assert.notEqual(fs.statSync(path.join(dir, d.digest)).ino, inoC, 'a mapped file is not taken over');
      assert.ok(Buffer.from(view).equals(first), "the reader still sees the deleted object's bytes");
      // free files are the first to go when room is needed
      const tight = openHostStore({ dir, maxBytes: hs.usage() + (1 << 20), spareBytes: 64 << 20 });
      assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith('.free-')).length, 1, 'the mapped one went back to the pool');
      await tight.write([randomBytes(3 << 20)]);
      assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith('.free-')).length, 0, 'dropped to make room');
      assert.ok(tight.usage() <= tight.maxBytes);
      assert.ok(Buffer.from(view).equals(first), 'a dropped file stays with its reader until unmapped');
    },
  );

  it('receives an object in place, checks its leaves, and seals it; a bad byte fails its leaf', async () => {
    const hs = openHostStore({ dir: tmpDir(), maxBytes: 1 << 30 });
    const big = randomBytes(2 * TREE_LEAF_BYTES + 1);
    const digest = digestOf(big);
    const table = leafTableOf(big);
    const inc = hs.receive(digest, big.byteLength);
    inc.view.set(big);
    const got = await inc.hashLeaves([0, 1, 2]);
    assert.deepEqual(got, table);
    const v = await inc.seal(table);
    assert.deepEqual(Buffer.from(v), big);
    assert.deepEqual(Buffer.from((await hs.read(digest))!), big);

    const other = randomBytes(TREE_LEAF_BYTES + 9);
    const d2 = digestOf(other);
    const bad = hs.receive(d2, other.byteLength);
    bad.view.set(other);
    bad.view[TREE_LEAF_BYTES + 1] = (other[TREE_LEAF_BYTES + 1] ?? 0) ^ 1;
    const h = await bad.hashLeaves([1]);
    assert.ok(!leafMatches(leafTableOf(other), 1, h));
    await assert.rejects(bad.seal(), code('STORE_DIGEST_MISMATCH'));
    assert.equal(hs.size(d2), undefined);

    // a plain sha256 digest of a large object (written before tree digests) is checked whole
    const old = randomBytes(TREE_LEAF_BYTES + 1);
    const inOld = hs.receive(sha256Hex(old), old.byteLength);
    inOld.view.set(old);
    assert.deepEqual(Buffer.from(await inOld.seal()), old);
    assert.equal(fs.readdirSync(hs.dir).filter((f) => f.startsWith('.tmp-')).length, 0);
  });
});
