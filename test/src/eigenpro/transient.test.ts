/**
 * Deleting per-batch objects of a content-addressed store: an object that is pinned, or that a
 * newer cycle names again (equal bytes, one digest), must survive; everything else goes once
 * it is `keep` cycles old.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ArrayRef } from '@gramfleet/core';
import { createTransientObjects } from '@gramfleet/orchestrator/internal';

const ref = (digest: string): ArrayRef => ({ bucket: 'b', digest, dtype: 'f64', shape: [1], bytes: 8 });

test('a cycle is deleted after `keep` newer cycles, except pinned digests and digests a newer cycle reuses', async () => {
  const deleted: string[] = [];
  const t = createTransientObjects(async (d) => {
    deleted.push(d);
  }, 2);
  t.pin(ref('subsample-part'));
  await t.endCycle([ref('rows-0'), ref('subsample-part'), ref('coef-same')]);
  await t.endCycle([ref('rows-1'), ref('coef-same')]);
  assert.deepEqual(deleted, []);
  await t.endCycle([ref('rows-2'), ref('coef-same')]);
  // Cycle 0 is now old: its own rows go; the pinned part and the shard reused by cycles 1–2 stay.
  assert.deepEqual(deleted, ['rows-0']);
  await t.endCycle([ref('rows-3')]);
  await t.endCycle([ref('rows-4')]);
  await t.endCycle([ref('rows-5')]);
  assert.deepEqual(deleted, ['rows-0', 'rows-1', 'rows-2', 'coef-same', 'rows-3']);
});

test('drop deletes at once unless the digest is pinned or in a kept cycle; a failing delete is ignored', async () => {
  const deleted: string[] = [];
  const t = createTransientObjects(async (d) => {
    if (d === 'gone') throw new Error('no such object');
    deleted.push(d);
  });
  t.pin(ref('pinned'));
  await t.endCycle([ref('live')]);
  assert.equal(await t.drop('pinned'), false);
  assert.equal(await t.drop('live'), false);
  assert.equal(await t.drop('factor-input'), true);
  assert.equal(await t.drop('gone'), true);
  assert.deepEqual(deleted, ['factor-input']);
});
