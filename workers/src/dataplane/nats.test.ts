import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError } from '@gramfleet/core';
import { checkReplicas, compileDataPlaneOptions, natsServerList } from './nats';

describe('data-plane options', () => {
  it('replicas: 1 by default; 1, 3 or 5 accepted; anything else INPUT_OUT_OF_RANGE naming replicas', () => {
    assert.equal(compileDataPlaneOptions().replicas, 1);
    for (const n of [1, 3, 5]) assert.equal(compileDataPlaneOptions({ replicas: n }).replicas, n);
    for (const n of [0, 2, 4, 7, 1.5]) {
      assert.throws(
        () => compileDataPlaneOptions({ replicas: n }),
        (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_OUT_OF_RANGE' && e.details['field'] === 'replicas' && /1, 3, 5/.test(e.message),
      );
    }
    assert.throws(
      () => checkReplicas(2, 'nats.replicas'),
      (e: unknown) => isGramfleetError(e) && e.details['field'] === 'nats.replicas',
    );
  });

  it('a comma-separated NATS URL names every seed server of a cluster', () => {
    assert.deepEqual(natsServerList('nats://10.0.0.2:4222'), ['nats://10.0.0.2:4222']);
    assert.deepEqual(natsServerList('nats://a:4222, nats://b:4222,,nats://c:4222'), ['nats://a:4222', 'nats://b:4222', 'nats://c:4222']);
  });
});
