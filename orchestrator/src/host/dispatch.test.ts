import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { GramfleetError, isGramfleetError, silentLogger } from '@gramfleet/core';
import type { TaskClient } from '@gramfleet/workers';
import { createDispatcher } from './dispatch';

/** A task client whose every run fails the way a closed one does. */
const closedClient = {
  run: () => Promise.reject(new GramfleetError('CLUSTER_UNAVAILABLE', 'the task client is closed')),
  cancelJob: () => undefined,
} as unknown as TaskClient;

describe('dispatcher', () => {
  it('a round whose tasks reject throws their error and leaves no unhandled rejection behind (one would end the orchestrator)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const d = createDispatcher({ tasks: closedClient, jobId: 'j', cls: 'wasm', deadline: Date.now() + 60_000, log: silentLogger });
      await assert.rejects(
        d.run([{ shardId: 's0', op: 'gemm', attrs: {}, inputs: [] }]),
        (e: unknown) => isGramfleetError(e) && e.code === 'CLUSTER_UNAVAILABLE',
      );
      // Unhandled rejections are reported after the microtask queue drains.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
