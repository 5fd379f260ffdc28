/**
 * Which Temporal client errors are retried as "the server is not there right now", and the typed
 * error once an outage lasts past the limit. The errors are built as the client builds them
 * (a ServiceError wrapping the gRPC status), without a server.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { isGramfleetError } from '@gramfleet/core';
import { isTransientTemporalError, retrying } from './temporal-retry';

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details });
}

describe('retrying Temporal calls across a server restart', () => {
  it('a ServiceError wrapping UNAVAILABLE (a killed server) is transient; a missing workflow or an unrelated error is not', () => {
    const killed = new ServiceError('Failed to get Workflow execution history', { cause: grpcError(14, 'No connection established') });
    assert.equal(isTransientTemporalError(killed), true);
    assert.equal(isTransientTemporalError(new ServiceError('boom', { cause: grpcError(4, 'Deadline exceeded') })), true);
    assert.equal(isTransientTemporalError(new WorkflowNotFoundError('no such workflow', 'wf', undefined)), false);
    assert.equal(isTransientTemporalError(new ServiceError('bad request', { cause: grpcError(3, 'invalid argument') })), false);
    assert.equal(isTransientTemporalError(new TypeError('x is undefined')), false);
  });

  it('retries through an outage and returns the answer; an outage past the limit is CLUSTER_UNAVAILABLE; a real error passes through at once', async () => {
    let calls = 0;
    const v = await retrying(async () => {
      if (++calls < 3) throw new ServiceError('Failed to get Workflow execution history', { cause: grpcError(14, 'unavailable') });
      return 42;
    }, 10_000);
    assert.equal(v, 42);
    assert.equal(calls, 3);
    await assert.rejects(
      retrying(() => Promise.reject(new ServiceError('Failed to get Workflow execution history', { cause: grpcError(14, 'unavailable') })), 300),
      (e: unknown) => isGramfleetError(e) && e.code === 'CLUSTER_UNAVAILABLE' && /has not answered/.test(e.message),
    );
    let once = 0;
    await assert.rejects(
      retrying(() => {
        once++;
        return Promise.reject(new TypeError('real'));
      }),
      TypeError,
    );
    assert.equal(once, 1);
  });
});
