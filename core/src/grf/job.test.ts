import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRF_MAX_BATCH_SHARDS, compileGrfParams, grfBatch, grfBatchShards, grfBatchSizes, grfBatches, grfSubmitBatchShards, type GrfJobInput } from './job';

test('batches: the shards over ~8 batches, at least 64 a batch; a job submitted without batchShards keeps that plan', () => {
  assert.equal(grfBatchShards(10, undefined), 64);
  assert.equal(grfBatchShards(10_000, undefined), 1250);
  assert.equal(grfBatchShards(1_000_000, undefined), 125_000, 'the plan of an input without batchShards never changes (replay)');
  assert.equal(grfBatchShards(1_000_000, 100), 100);
});

test('submit caps the default batch at 4096 shards and writes it into the input; smaller jobs and explicit values are left as given', () => {
  assert.equal(grfSubmitBatchShards(10_000, undefined), undefined);
  assert.equal(grfSubmitBatchShards(8 * GRF_MAX_BATCH_SHARDS, undefined), undefined);
  assert.equal(grfSubmitBatchShards(8 * GRF_MAX_BATCH_SHARDS + 1, undefined), GRF_MAX_BATCH_SHARDS);
  assert.equal(grfSubmitBatchShards(1_000_000, undefined), GRF_MAX_BATCH_SHARDS);
  assert.equal(grfSubmitBatchShards(1_000_000, 7), 7);
  const params = { ...compileGrfParams({ kernel: 'reg-laplacian', scale: 0.25, walks: 1, pHalt: 0.5, seed: 1 }), batchShards: GRF_MAX_BATCH_SHARDS };
  const job = { jobId: 'j', n: 1_000_000, nnz: 0, shardNodes: 1, params } as unknown as GrfJobInput;
  const batches = grfBatches(job);
  assert.equal(batches.length, Math.ceil(1_000_000 / GRF_MAX_BATCH_SHARDS));
  assert.equal(
    batches.reduce((a, b) => a + b.length, 0),
    1_000_000,
  );
  assert.throws(
    () => compileGrfParams({ kernel: 'reg-laplacian', scale: 0.25, walks: 1, pHalt: 0.5, seed: 1, batchShards: GRF_MAX_BATCH_SHARDS + 1 }),
    /batchShards/,
  );
});

test('grfBatch and grfBatchSizes agree with grfBatches, shard for shard', () => {
  for (const [n, shardNodes, batchShards] of [
    [34, 5, undefined],
    [1000, 1, undefined],
    [1001, 7, 3],
    [100_000, 1, 4096],
  ] as const) {
    const params = { ...compileGrfParams({ kernel: 'reg-laplacian', scale: 0.25, walks: 2, pHalt: 0.5, seed: 3 }), batchShards };
    const job = { jobId: 'j', n, nnz: 0, shardNodes, params } as unknown as GrfJobInput;
    const all = grfBatches(job);
    assert.deepEqual(
      grfBatchSizes(job),
      all.map((b) => b.length),
    );
    for (let b = 0; b < all.length; b++) assert.deepEqual(grfBatch(job, b), all[b]);
    assert.equal(grfBatch(job, all.length), undefined);
    assert.equal(grfBatch(job, -1), undefined);
  }
});
