/**
 * EigenPro 2's center layout (orchestrator/src/eigenpro/rows.ts): the training rows in epoch 1's
 * visiting order, dealt round robin over the shards. `perm` and `pos` are inverse permutations,
 * the shards tile [0, n), and — what the workers' kernel-row caches rely on to read mirror
 * entries in contiguous stretches — every batch of epoch 1, whatever the batch size, is one
 * contiguous run of positions in each shard, right after the runs of the batches before it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochOrder } from '@gramfleet/core';
import { centerLayout } from '@gramfleet/orchestrator/internal';

test('center layout: inverse permutations, shards tile the rows, epoch-1 batches are contiguous runs in every shard', () => {
  for (const [n, shards, seed] of [
    [1, 1, 0],
    [7, 3, 1],
    [100, 1, 2],
    [1000, 2, 3],
    [997, 4, 4],
    [12, 12, 5],
  ] as const) {
    const { perm, pos, ranges } = centerLayout(n, seed, shards);
    assert.equal(ranges.length, shards);
    assert.equal(ranges[0]?.start, 0);
    assert.equal(ranges[shards - 1]?.end, n);
    for (let j = 1; j < shards; j++) assert.equal(ranges[j]?.start, ranges[j - 1]?.end);
    for (let i = 0; i < n; i++) assert.equal(perm[pos[i] as number], i);
    const order = epochOrder(n, seed, 0);
    for (const m of [1, 2, 5, 17, Math.max(1, Math.floor(n / 3)), n]) {
      const next = ranges.map((r) => r.start);
      for (let b0 = 0; b0 < n; b0 += m) {
        // Positions of the batch in each shard: sorted, they continue where the last batch ended.
        const byShard = ranges.map(() => [] as number[]);
        for (const i of order.subarray(b0, Math.min(n, b0 + m))) {
          const q = pos[i] as number;
          byShard[ranges.findIndex((r) => q >= r.start && q < r.end)]?.push(q);
        }
        byShard.forEach((qs, j) => {
          qs.forEach((q, k) => assert.equal(q, (next[j] as number) + k, `n=${n} shards=${shards} m=${m} batch at ${b0}, shard ${j}`));
          next[j] = (next[j] as number) + qs.length;
        });
      }
    }
  }
});
