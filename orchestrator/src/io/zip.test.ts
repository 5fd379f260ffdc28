import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { isGramfleetError } from '@gramfleet/core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readZip, writeZip, writeZipFile } from './zip';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function assertUnreadable(fn: () => unknown, ...inMessage: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, 'INPUT_FILE_UNREADABLE', e.message);
    for (const s of inMessage) assert.ok(e.message.includes(s), e.message);
    return true;
  });
}

test('writeZip/readZip round trip, stored and deflated, deterministic bytes', () => {
  const big = new Uint8Array(100_000).map((_, i) => i % 7);
  const entries = [
    { name: 'a.npy', data: enc('hello') },
    { name: 'dir/b.bin', data: big },
    { name: 'empty', data: new Uint8Array(0) },
  ];
  for (const compress of [false, true]) {
    const z = writeZip(entries, { compress });
    const back = readZip(z, 'mem.zip');
    assert.deepEqual(
      back.map((e) => e.name),
      entries.map((e) => e.name),
    );
    back.forEach((e, i) => assert.deepEqual(e.data, entries[i]?.data));
    assert.deepEqual(writeZip(entries, { compress }), z);
    if (compress) assert.ok(z.length < 5_000, `deflated size ${z.length}`);
  }
});

test('readZip rejects garbage, truncation and a bad CRC with INPUT_FILE_UNREADABLE', () => {
  assertUnreadable(() => readZip(enc('this is not a zip file at all, just text'), 'junk.npz'), 'junk.npz', 'end-of-central-directory');
  assertUnreadable(() => readZip(new Uint8Array(3), 'tiny.npz'), 'tiny.npz');
  const z = writeZip([{ name: 'x', data: enc('payload-bytes') }]);
  const bad = z.slice();
  const at = 30 + 1 + 3; // a payload byte: local header 30 bytes + name 'x'
  bad[at] = (bad[at] ?? 0) ^ 0xff;
  assertUnreadable(() => readZip(bad, 'crc.npz'), 'CRC-32');
  assertUnreadable(() => readZip(z.subarray(0, 20), 'cut.npz'));
});

test('readZip reads zip64 records (central-directory extra field, zip64 end records)', () => {
  const name = Buffer.from('a.npy');
  const data = Buffer.from('zip64 payload');
  const crc = crc32(data) >>> 0;
  const lh = Buffer.alloc(30);
  lh.writeUInt32LE(0x04034b50, 0);
  lh.writeUInt16LE(45, 4);
  lh.writeUInt32LE(crc, 14);
  lh.writeUInt32LE(0xffffffff, 18);
  lh.writeUInt32LE(0xffffffff, 22);
  lh.writeUInt16LE(name.length, 26);
  lh.writeUInt16LE(20, 28);
  const lx = Buffer.alloc(20);
  lx.writeUInt16LE(1, 0);
  lx.writeUInt16LE(16, 2);
  lx.writeBigUInt64LE(BigInt(data.length), 4);
  lx.writeBigUInt64LE(BigInt(data.length), 12);
  const local = Buffer.concat([lh, name, lx, data]);
  const ch = Buffer.alloc(46);
  ch.writeUInt32LE(0x02014b50, 0);
  ch.writeUInt16LE(45, 4);
  ch.writeUInt16LE(45, 6);
  ch.writeUInt32LE(crc, 16);
  ch.writeUInt32LE(0xffffffff, 20);
  ch.writeUInt32LE(0xffffffff, 24);
  ch.writeUInt16LE(name.length, 28);
  ch.writeUInt16LE(28, 30);
  ch.writeUInt32LE(0xffffffff, 42);
  const cx = Buffer.alloc(28);
  cx.writeUInt16LE(1, 0);
  cx.writeUInt16LE(24, 2);
  cx.writeBigUInt64LE(BigInt(data.length), 4);
  cx.writeBigUInt64LE(BigInt(data.length), 12);
  cx.writeBigUInt64LE(0n, 20);
  const central = Buffer.concat([ch, name, cx]);
  const z64 = Buffer.alloc(56);
  z64.writeUInt32LE(0x06064b50, 0);
  z64.writeBigUInt64LE(44n, 4);
  z64.writeBigUInt64LE(1n, 24);
  z64.writeBigUInt64LE(1n, 32);
  z64.writeBigUInt64LE(BigInt(central.length), 40);
  z64.writeBigUInt64LE(BigInt(local.length), 48);
  const loc = Buffer.alloc(20);
  loc.writeUInt32LE(0x07064b50, 0);
  loc.writeBigUInt64LE(BigInt(local.length + central.length), 8);
  loc.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  const zip = Buffer.concat([local, central, z64, loc, end]);
  const back = readZip(zip, 'z64.zip');
  assert.equal(back.length, 1);
  assert.equal(back[0]?.name, 'a.npy');
  assert.equal(Buffer.from(back[0]?.data ?? []).toString(), 'zip64 payload');
});

test('writeZip/writeZipFile with zip64 records: same bytes, read back, entries in parts; past 65,534 entries', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gf-zip-'));
  try {
    const entries = [
      { name: 'a.npy', data: [enc('head:'), new Uint8Array(5000).map((_, i) => i % 251)] },
      { name: 'b.npy', data: enc('second') },
      { name: 'c', data: new Uint8Array(0) },
    ];
    const flat = entries.map((e) => ({ name: e.name, data: Buffer.concat((Array.isArray(e.data) ? e.data : [e.data]) as Uint8Array[]) }));
    for (const zip64From of [0, 100, 0xffffffff])
      for (const compress of [false, true]) {
        const mem = writeZip(entries, { compress, zip64From });
        const p = join(dir, `z-${zip64From}-${compress}.zip`);
        await writeZipFile(p, entries, { compress, zip64From });
        assert.deepEqual(new Uint8Array(readFileSync(p)), mem, `zip64From ${zip64From} compress ${compress}`);
        const back = readZip(mem, 'z64');
        assert.deepEqual(
          back.map((e) => [e.name, Buffer.from(e.data)]),
          flat.map((e) => [e.name, e.data]),
        );
        const hasZip64End = Buffer.from(mem).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]));
        assert.equal(hasZip64End, zip64From < 0xffffffff, `zip64 end record with zip64From ${zip64From}`);
      }
    // 70,000 entries: more than the 16-bit count holds, so the count goes in the zip64 end record.
    const many = Array.from({ length: 70_000 }, (_, i) => ({ name: `e${i}`, data: new Uint8Array([i & 0xff]) }));
    const z = writeZip(many);
    const back = readZip(z, 'many.zip');
    assert.equal(back.length, 70_000);
    assert.equal(back[69_999]?.name, 'e69999');
    assert.throws(
      () => writeZip(many, { zip64From: -1 }),
      (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_OUT_OF_RANGE' && e.details['field'] === 'zip64From',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
