import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { deathBackoffMs, failureBackoffMs } from './supervisor';

describe('supervisor backoff', () => {
  it('restarts the first three deaths in the window at once, then waits 5 s doubling up to 60 s', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map(deathBackoffMs), [0, 0, 0, 5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
  });
  it('tries a failed restart again after 1 s doubling up to 60 s, never giving up', () => {
    assert.deepEqual([1, 2, 3, 4, 6, 7, 100].map(failureBackoffMs), [1_000, 2_000, 4_000, 8_000, 32_000, 60_000, 60_000]);
  });
});
