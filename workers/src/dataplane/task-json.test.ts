import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { PROTOCOL_VERSION, type ArrayRef, type Task } from '@gramfleet/core';
import { taskJson } from './lanes';

const ref = (d: string): ArrayRef => ({ bucket: 'b', digest: d.repeat(64), dtype: 'f64', shape: [3], bytes: 152 });

describe('the owner encodes tasks once per shared value', () => {
  it('gives the JSON of JSON.stringify, shared values encoded once and never stale', () => {
    const f = [1, 0.25, 1 / 3, -0, 1e-300];
    const inputs = [ref('a'), ref('b')];
    const task = (i: number, extra: Record<string, unknown> = {}): Task =>
      ({
        v: PROTOCOL_VERSION,
        jobId: 'j',
        shardId: `s${i}`,
        op: 'grf-walks',
        attrs: { seed: 1, f, streams: [0], nodeStart: i, nodeEnd: i + 1, gone: undefined, fn: () => 1, nested: { a: [1, 2] }, ...extra },
        inputs,
        deadline: 123,
        replyTo: 'r',
        attempt: 2,
        alone: true,
      }) as unknown as Task;
    const shared = new Map<unknown, string>();
    for (let i = 0; i < 3; i++) {
      const t = task(i);
      assert.deepEqual(JSON.parse(taskJson(t, shared)), JSON.parse(JSON.stringify(t)));
    }
    // f and inputs are in the map once each, by identity.
    assert.equal(shared.get(f), JSON.stringify(f));
    assert.equal(shared.get(inputs), JSON.stringify(inputs));
    // A new map (the next pump) sees a changed value.
    f.push(7);
    const fresh = JSON.parse(taskJson(task(0), new Map())) as { attrs: { f: number[] } };
    assert.deepEqual(fresh.attrs.f, [1, 0.25, 1 / 3, 0, 1e-300, 7]);
    // Empty attrs and protocol fields only.
    const bare = { v: PROTOCOL_VERSION, jobId: 'j', shardId: 's', op: 'x', attrs: {}, inputs: [], deadline: 1 } as unknown as Task;
    assert.deepEqual(JSON.parse(taskJson(bare, new Map())), bare);
  });
});
