import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError } from '../errors';
import type { WorkerRecord } from '../protocol';
import { parseBackendChoice, routeOp } from './routing';

const now = 1_000_000;
const rec = (o: Partial<WorkerRecord> & Pick<WorkerRecord, 'workerId' | 'cls'>): WorkerRecord => ({
  pid: 1,
  host: 'h',
  threads: 1,
  ops: ['grf-walks'],
  startedAt: now - 10_000,
  beatAt: now - 1_000,
  shardsDone: 0,
  ...o,
});
const wasm = rec({ workerId: 'w1', cls: 'wasm' });
const gpu = rec({ workerId: 'g1', cls: 'gpu', device: { name: 'NVIDIA H100', totalMemBytes: 80e9, computeCapability: '9.0' } });

describe('backend routing (pure decision over registry records)', () => {
  it('backend is validated: auto | wasm | gpu, default auto', () => {
    assert.equal(parseBackendChoice(undefined), 'auto');
    for (const b of ['auto', 'wasm', 'gpu']) assert.equal(parseBackendChoice(b), b);
    assert.throws(
      () => parseBackendChoice('cuda'),
      (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_INVALID' && /backend must be one of auto\|wasm\|gpu/.test(e.message),
    );
  });

  it('auto without a GPU worker goes to wasm and says why', () => {
    const r = routeOp('auto', 'grf-walks', [wasm], now, 15_000);
    assert.equal(r.cls, 'wasm');
    assert.match(r.reason, /no GPU worker registered with op grf-walks/);
  });

  it('auto with a live GPU worker advertising the op goes to gpu', () => {
    const r = routeOp('auto', 'grf-walks', [wasm, gpu], now, 15_000);
    assert.equal(r.cls, 'gpu');
    assert.deepEqual(r.gpuWorkers, ['g1']);
  });

  it('a GPU record is ignored when stale, without a device, or without the op', () => {
    for (const g of [{ ...gpu, beatAt: now - 60_000 }, rec({ workerId: 'g2', cls: 'gpu' }), { ...gpu, ops: ['gemm'] }]) {
      assert.equal(routeOp('auto', 'grf-walks', [wasm, g], now, 15_000).cls, 'wasm');
    }
  });

  it('gpu without a GPU worker is CLUSTER_NO_GPU_WORKER naming backend; wasm stays wasm', () => {
    assert.throws(
      () => routeOp('gpu', 'grf-walks', [wasm], now, 15_000),
      (e: unknown) => isGramfleetError(e) && e.code === 'CLUSTER_NO_GPU_WORKER' && e.message.includes('backend') && !e.retryable,
    );
    assert.equal(routeOp('gpu', 'grf-walks', [gpu], now, 15_000).cls, 'gpu');
    assert.equal(routeOp('wasm', 'grf-walks', [gpu], now, 15_000).cls, 'wasm');
  });
});
