/**
 * The Kronecker all-to-all slab transpose (kronTransposeWith) against a real nats-server: the new
 * slabs hold exactly the tensor's values, and the pieces it stored between its two phases are
 * deleted afterwards (before, every transpose of every fit left all its pieces in the object
 * store for good), while a piece that is itself an input or output slab (one old or one new slab:
 * content addressing gives it the same digest) is kept.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Objm } from '@nats-io/obj';
import { resourceNames, slabRanges, type ArrayRef, type NdArray } from '@gramfleet/core';
import { connectNats, createArrayStore, openDataPlane, type ArrayStore, type DataPlane } from '@gramfleet/workers';
import { kronTransposeWith } from '@gramfleet/orchestrator/internal';
import { startNatsOnly, type NatsOnly } from '../integration/nats-only';

const SHAPE = [6, 5, 4] as const;
const value = (i: number, j: number, k: number): number => Math.sin(1 + i * 31 + j * 7 + k) * 1e3 + i;

/** The slabs of the tensor along `axis`, `count` of them. */
function slabs(axis: number, count: number): NdArray[] {
  return slabRanges(SHAPE[axis] as number, count).map((r) => {
    const shape = SHAPE.map((s, d) => (d === axis ? r.end - r.start : s));
    const data = new Float64Array(shape[0]! * shape[1]! * shape[2]!);
    let o = 0;
    for (let i = 0; i < shape[0]!; i++)
      for (let j = 0; j < shape[1]!; j++)
        for (let k = 0; k < shape[2]!; k++) {
          const at = [i, j, k];
          at[axis] = (at[axis] as number) + r.start;
          data[o++] = value(at[0]!, at[1]!, at[2]!);
        }
    return { dtype: 'f64', shape, data };
  });
}

describe('kron transpose (real nats-server)', () => {
  let nats: NatsOnly;
  let dp: DataPlane;
  let store: ArrayStore;
  const names = async (): Promise<Set<string>> => {
    const os = await new Objm(dp.nc).open(dp.names.arraysBucket);
    return new Set((await os.list()).filter((i) => i.deleted !== true).map((i) => i.name));
  };

  before(async () => {
    nats = await startNatsOnly('kron-transpose');
    const nc = await connectNats(nats.url, 'kron-transpose-test');
    dp = await openDataPlane(nc, resourceNames(`kt${randomBytes(3).toString('hex')}`));
    store = createArrayStore(dp, { cacheBytes: 0 });
  });
  after(async () => {
    await dp?.close().catch(() => undefined);
    await nats?.stop();
  });

  for (const [from, to, oldCount, newCount] of [
    [0, 1, 3, 2],
    [1, 2, 4, 3],
    [0, 2, 1, 2], // one old slab: each piece is a whole new slab
    [2, 0, 2, 1], // one new slab: each piece is a whole old slab
  ] as const) {
    it(`axis ${from} (${oldCount} slabs) → axis ${to} (${newCount} slabs): exact values; only input and output slabs are left in the store`, async () => {
      const inputs: ArrayRef[] = [];
      for (const s of slabs(from, oldCount)) inputs.push(await store.put(s));
      const before = await names();
      const out = await kronTransposeWith(store, { jobId: 'kt', shape: [...SHAPE], parts: inputs, from, to, count: newCount });
      const want = slabs(to, newCount);
      assert.equal(out.parts.length, want.length);
      for (let j = 0; j < want.length; j++) {
        const got = await store.get(out.parts[j] as ArrayRef);
        assert.deepEqual([...got.shape], [...(want[j] as NdArray).shape]);
        assert.deepEqual([...(got.data as Float64Array)], [...((want[j] as NdArray).data as Float64Array)], `new slab ${j}`);
      }
      for (const r of inputs) sameRead(await store.get(r), r);
      const left = await names();
      const expected = new Set([...before, ...out.parts.map((r) => r.digest)]);
      assert.deepEqual([...left].sort(), [...expected].sort(), 'the store holds what it held before plus the new slabs: no piece is left');
      for (const r of inputs) assert.ok(left.has(r.digest), 'input slabs are kept');
    });
  }
});

function sameRead(a: NdArray, r: ArrayRef): void {
  assert.deepEqual([...a.shape], [...r.shape]);
}
