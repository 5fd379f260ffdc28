/**
 * Block pairs of EigenPro 2's symmetric kernel matrix (orchestrator/src/eigenpro/pairs.ts): every
 * unordered pair of the 2P blocks has exactly one owner, both orientations the same, and every
 * worker gets the same share — 2P − 1 off-diagonal pairs and two diagonal blocks — so the
 * workers keep and compute the same number of kernel entries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockPairs } from '@gramfleet/orchestrator';

test('block pairs: one owner per unordered pair, symmetric, balanced, for 1 to 9 workers', () => {
  for (let p = 1; p <= 9; p++) {
    const pairs = blockPairs(p);
    assert.equal(pairs.blocks, 2 * p);
    const off = new Array<number>(p).fill(0), diag = new Array<number>(p).fill(0);
    for (let u = 0; u < pairs.blocks; u++) {
      for (let v = u; v < pairs.blocks; v++) {
        const w = pairs.owner(u, v);
        assert.ok(Number.isInteger(w) && w >= 0 && w < p, `P=${p}: owner(${u}, ${v}) = ${w}`);
        assert.equal(pairs.owner(v, u), w, `P=${p}: owner(${v}, ${u})`);
        if (u === v) diag[w] = (diag[w] as number) + 1; else off[w] = (off[w] as number) + 1;
      }
    }
    assert.deepEqual(off, new Array<number>(p).fill(2 * p - 1), `P=${p}: off-diagonal pairs per worker`);
    assert.deepEqual(diag, new Array<number>(p).fill(2), `P=${p}: diagonal blocks per worker`);
  }
  assert.throws(() => blockPairs(0), /workers must be an integer ≥ 1/);
});
