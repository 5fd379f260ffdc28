import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError } from '@gramfleet/core';
import { planCopy } from './copy-plan';

describe('host↔device copy planning', () => {
  it('small copies go direct', () => {
    assert.deepEqual(planCopy(0), { mode: 'direct', bytes: 0 });
    assert.deepEqual(planCopy(1 << 20), { mode: 'direct', bytes: 1 << 20 });
  });

  for (const [total, staging, stages] of [
    [(1 << 20) + 1, 1 << 18, 2],
    [100 << 20, 8 << 20, 2],
    [33_554_433, 4_194_304, 3],
    [5_000_001, 5_000_000, 2],
  ] as const) {
    it(`${total} bytes through ${stages} × ${staging}-byte pinned buffers: chunks tile the range once, alternate stages, wait before reuse`, () => {
      const p = planCopy(total, { stagingBytes: staging, stages });
      assert.equal(p.mode, 'staged');
      if (p.mode !== 'staged') return;
      let off = 0;
      p.chunks.forEach((c, i) => {
        assert.equal(c.offset, off);
        assert.ok(c.bytes > 0 && c.bytes <= staging);
        assert.equal(c.stage, i % stages);
        assert.equal(c.waitForStage, i >= stages);
        off += c.bytes;
      });
      assert.equal(off, total);
      assert.equal(p.chunks.length, Math.ceil(total / staging));
    });
  }

  it('bad sizes are typed errors naming the field', () => {
    for (const [t, o, field] of [
      [-1, {}, 'totalBytes'],
      [10, { stagingBytes: 0 }, 'stagingBytes'],
      [10, { stages: 0 }, 'stages'],
      [10, { stages: 1.5 }, 'stages'],
    ] as const) {
      assert.throws(
        () => planCopy(t, o),
        (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_OUT_OF_RANGE' && e.message.includes(field),
      );
    }
  });
});
