import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { WorkQueue } from './workqueue';

describe('WorkQueue', () => {
  it('a key added while it waits is queued once', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.length, 0);
  });

  it('a key added while it is processed is handed out again only after done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const k = await q.get();
    q.add('a');
    q.add('a');
    assert.equal(q.length, 0, 'not handed to a second worker while processing');
    q.done(k!);
    assert.equal(q.length, 1);
    assert.equal(await q.get(), 'a');
    q.done('a');
    assert.equal(q.length, 0);
  });

  it('a waiting get() receives the next added key; shutDown releases waiters', async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.add('x');
    assert.equal(await p, 'x');
    const w = q.get();
    q.shutDown();
    assert.equal(await w, undefined);
    q.add('y');
    assert.equal(await q.get(), undefined);
  });

  it('addAfter and addRateLimited deliver later; the backoff doubles per failure and forget resets it', async () => {
    const keepAlive = setInterval(() => undefined, 1000); // the queue's timers are unref'd
    try {
      const q = new WorkQueue({ baseDelayMs: 5, maxDelayMs: 40 });
      q.addAfter('t', 10);
      assert.equal(q.length, 0);
      assert.equal(await q.get(), 't');
      q.done('t');
      const t0 = Date.now();
      for (let i = 0; i < 3; i++) {
        q.addRateLimited('r');
        assert.equal(await q.get(), 'r');
        q.done('r');
      }
      // Node may fire a timer up to ~1 ms early as Date.now() sees it, so allow 1 ms per delay.
      assert.ok(Date.now() - t0 >= 5 + 10 + 20 - 3, `waited at least the sum of the backoffs (5+10+20 ms), got ${Date.now() - t0} ms`);
      q.forget('r');
      q.shutDown();
    } finally {
      clearInterval(keepAlive); // also when an assertion fails, or the test process never exits
    }
  });
});
