import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGramfleetError } from '@gramfleet/core';
import { readZip, writeZip } from './zip';

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
  const entries = [{ name: 'a.npy', data: enc('hello') }, { name: 'dir/b.bin', data: big }, { name: 'empty', data: new Uint8Array(0) }];
  for (const compress of [false, true]) {
    const z = writeZip(entries, { compress });
    const back = readZip(z, 'mem.zip');
    assert.deepEqual(back.map((e) => e.name), entries.map((e) => e.name));
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
