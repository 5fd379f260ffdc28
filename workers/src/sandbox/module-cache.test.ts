import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ModuleLru } from './module-cache';

describe('compiled-module cache (LRU bounded in entries and bytes)', () => {
  it('evicts the least recently used past its entry count', () => {
    const c = new ModuleLru<number>(2, 1000);
    c.set('a', 1, 10);
    c.set('b', 2, 10);
    assert.equal(c.get('a'), 1); // a is now the most recent
    c.set('c', 3, 10);
    assert.deepEqual([c.get('a'), c.get('b'), c.get('c')], [1, undefined, 3]);
    assert.deepEqual([c.size, c.bytes], [2, 20]);
  });
  it('evicts past its byte budget, keeps nothing larger than the budget, and replaces in place', () => {
    const c = new ModuleLru<number>(10, 100);
    c.set('a', 1, 60);
    c.set('b', 2, 30);
    c.set('c', 3, 30); // 120 > 100: a goes
    assert.deepEqual([c.get('a'), c.get('b'), c.get('c'), c.bytes], [undefined, 2, 3, 60]);
    c.set('huge', 4, 101);
    assert.deepEqual([c.get('huge'), c.size, c.bytes], [undefined, 2, 60]);
    c.set('b', 5, 40);
    assert.deepEqual([c.get('b'), c.size, c.bytes], [5, 2, 70]);
  });
});
