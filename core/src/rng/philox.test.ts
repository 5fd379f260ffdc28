import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Philox, mulhi32, philox4x32, seedKey, u53 } from './philox';

// Random123 known-answer vectors (kat_vectors, "philox4x32 10" lines): counter, key, expected.
const KAT: [number[], number[], number[]][] = [
  [
    [0, 0, 0, 0],
    [0, 0],
    [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  ],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

test('philox4x32-10 matches the Random123 known-answer vectors', () => {
  for (const [c, k, want] of KAT) {
    const got = philox4x32(c[0] ?? 0, c[1] ?? 0, c[2] ?? 0, c[3] ?? 0, k[0] ?? 0, k[1] ?? 0);
    assert.deepEqual([...got], want);
  }
});

test('mulhi32 agrees with BigInt on extreme and random operands', () => {
  const xs = [0, 1, 0xffff, 0x10000, 0xffffffff, 0xd2511f53, 0xcd9e8d57, 0x80000000, 123456789];
  for (const a of xs) for (const b of xs) assert.equal(mulhi32(a, b), Number((BigInt(a) * BigInt(b)) >> 32n));
  const p = new Philox(7);
  for (let i = 0; i < 1000; i++) {
    const w = p.block(i, 0, 0, 0);
    const a = w[0] ?? 0;
    const b = w[1] ?? 0;
    assert.equal(mulhi32(a, b), Number((BigInt(a) * BigInt(b)) >> 32n));
  }
});

test('u53 spans [0, 1) on the 2^-53 grid; seedKey splits a 53-bit seed', () => {
  assert.equal(u53(0, 0), 0);
  assert.equal(u53(0xffffffff, 0xffffffff), 1 - 2 ** -53);
  assert.deepEqual(seedKey(2 ** 40 + 5), [5, 256]);
  assert.deepEqual(seedKey(Number.MAX_SAFE_INTEGER), [0xffffffff, 0x1fffff]);
  assert.throws(
    () => seedKey(-1),
    (e: unknown) => (e as { code?: string }).code === 'INPUT_OUT_OF_RANGE',
  );
  assert.throws(
    () => seedKey(1.5),
    (e: unknown) => (e as { code?: string }).code === 'INPUT_INVALID',
  );
  // Roughly uniform: mean of many draws near 1/2.
  const p = new Philox(42);
  let s = 0;
  const N = 20000;
  for (let i = 0; i < N; i++) s += p.uniform(i, 1, 2, 3, (i & 1) as 0 | 1);
  assert.ok(Math.abs(s / N - 0.5) < 0.01, `mean ${s / N}`);
});
