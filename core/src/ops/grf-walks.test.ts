import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ndarray, type NdArray } from '../array';
import { csrFromEdges } from '../grf/sparse';
import { normalisedWeights } from '../grf/normalise';
import { grfWalksOp } from './grf-walks';

const codeOf = (e: unknown): unknown => (e as { code?: unknown }).code;
const fieldOf = (e: unknown): unknown => (e as { details?: { field?: unknown } }).details?.field;

// A small graph: a 6-spoke star (centre 0) plus a path 6-7-8 and an isolated node 9.
const adj = csrFromEdges(10, [
  [0, 1],
  [0, 2],
  [0, 3],
  [0, 4],
  [0, 5],
  [0, 6],
  [6, 7],
  [7, 8],
]);
const w = normalisedWeights(adj, 0.5);
const inputs: NdArray[] = [ndarray('i32', [11], adj.indptr), ndarray('i32', [adj.indices.length], adj.indices), ndarray('f64', [w.length], w)];
const good = { seed: 1, walks: 4, pHalt: 0.5, f: [1, 0.5, 0.25], streams: [0], variance: 'none', nodeStart: 0, nodeEnd: 10 };

test('attrs and inputs are validated with typed errors naming the field', () => {
  const bad: [Record<string, unknown>, string, string][] = [
    [{ walks: 0 }, 'INPUT_OUT_OF_RANGE', 'walks'],
    [{ walks: 65537 }, 'INPUT_OUT_OF_RANGE', 'walks'],
    [{ pHalt: 1 }, 'INPUT_OUT_OF_RANGE', 'pHalt'],
    [{ pHalt: 0 }, 'INPUT_OUT_OF_RANGE', 'pHalt'],
    [{ seed: -1 }, 'INPUT_OUT_OF_RANGE', 'seed'],
    [{ seed: 2 ** 53 }, 'INPUT_OUT_OF_RANGE', 'seed'],
    [{ streams: [3, 3] }, 'INPUT_INVALID', 'streams'],
    [{ streams: [] }, 'INPUT_INVALID', 'streams'],
    [{ streams: [2 ** 32] }, 'INPUT_OUT_OF_RANGE', 'streams[0]'],
    [{ variance: 'qmc' }, 'INPUT_INVALID', 'variance'],
    [{ f: [] }, 'INPUT_INVALID', 'f'],
    [{ f: [1, Number.NaN] }, 'INPUT_NOT_FINITE', 'f[1]'],
    [{ nodeStart: 5, nodeEnd: 4 }, 'INPUT_OUT_OF_RANGE', 'nodeEnd'],
  ];
  for (const [patch, code, field] of bad) {
    assert.throws(
      () => grfWalksOp.parseAttrs({ ...good, ...patch }),
      (e) => codeOf(e) === code && fieldOf(e) === field,
      JSON.stringify(patch),
    );
  }
  const attrs = grfWalksOp.parseAttrs(good);
  assert.throws(
    () => grfWalksOp.checkInputs({ ...attrs, nodeEnd: 11 }, inputs),
    (e) => codeOf(e) === 'INPUT_OUT_OF_RANGE' && fieldOf(e) === 'nodeEnd',
  );
  const badIdx = Int32Array.from(adj.indices);
  badIdx[0] = 10;
  assert.throws(
    () => grfWalksOp.checkInputs(attrs, [inputs[0] as NdArray, ndarray('i32', [badIdx.length], badIdx), inputs[2] as NdArray]),
    (e) => codeOf(e) === 'INPUT_OUT_OF_RANGE',
  );
  assert.throws(
    () => grfWalksOp.checkInputs(attrs, inputs.slice(0, 2)),
    (e) => codeOf(e) === 'INPUT_SHAPE_MISMATCH',
  );
});

test('output rows: ascending columns, no explicit zeros, deterministic, isolated node keeps only f(0)', () => {
  const attrs = grfWalksOp.parseAttrs({ ...good, streams: [4, 5] });
  const a = grfWalksOp.reference(attrs, inputs);
  const b = grfWalksOp.reference(attrs, inputs);
  assert.equal(a.length, 6);
  for (let i = 0; i < 6; i++) assert.deepEqual([...(a[i]?.data ?? [])], [...(b[i]?.data ?? [])]);
  const ip = a[0]?.data as Int32Array;
  const ix = a[1]?.data as Int32Array;
  const dv = a[2]?.data as Float64Array;
  for (let r = 0; r < 10; r++) {
    for (let p = (ip[r] ?? 0) + 1; p < (ip[r + 1] ?? 0); p++) assert.ok((ix[p] ?? 0) > (ix[p - 1] ?? 0));
  }
  assert.ok(dv.every((x) => x !== 0));
  // Node 9 is isolated: its row is exactly [(9, f(0))] (m walkers × load 1 × f(0)/m).
  assert.deepEqual([...ix.subarray(ip[9], ip[10])], [9]);
  assert.equal(dv[ip[9] ?? 0], 1);
});

test('repelling: walkers on one node take distinct neighbours (fresh block after deg walkers)', () => {
  // f = [0, 1]: only step 1 counts; pHalt tiny so nobody halts. Centre 0 has 6 neighbours.
  for (const m of [6, 12]) {
    const attrs = grfWalksOp.parseAttrs({ ...good, walks: m, pHalt: 1e-12, f: [0, 1], variance: 'repelling', nodeStart: 0, nodeEnd: 1 });
    const out = grfWalksOp.reference(attrs, inputs);
    const ix = out[1]?.data as Int32Array;
    const dv = out[2]?.data as Float64Array;
    assert.deepEqual([...ix], [1, 2, 3, 4, 5, 6], `m=${m}: every neighbour visited`);
    // Each neighbour u is visited exactly m/6 times with load 6·W_0u/(1−pHalt).
    for (let k = 0; k < 6; k++) {
      const want = ((m / 6) * (6 * (w[k] ?? 0) * (1 / (1 - 1e-12)))) / m;
      assert.ok(Math.abs((dv[k] ?? 0) - want) < 1e-15, `m=${m} u=${ix[k]}: ${dv[k]} vs ${want}`);
    }
  }
  // Without repelling, 6 walkers almost surely collide somewhere over many origins/seeds.
  let collisions = 0;
  for (let seed = 0; seed < 20; seed++) {
    const attrs = grfWalksOp.parseAttrs({ ...good, seed, walks: 6, pHalt: 1e-12, f: [0, 1], nodeStart: 0, nodeEnd: 1 });
    if ((grfWalksOp.reference(attrs, inputs)[1]?.data.length ?? 0) < 6) collisions++;
  }
  assert.ok(collisions > 10, `independent walkers collided in ${collisions}/20 runs`);
});

test('antithetic: of each walker pair exactly one halts at pHalt = ½', () => {
  for (let seed = 0; seed < 10; seed++) {
    const attrs = grfWalksOp.parseAttrs({ ...good, seed, walks: 2, pHalt: 0.5, f: [0, 1], variance: 'antithetic', nodeStart: 0, nodeEnd: 9 });
    const ip = grfWalksOp.reference(attrs, inputs)[0]?.data as Int32Array;
    for (let r = 0; r < 9; r++) assert.equal((ip[r + 1] ?? 0) - (ip[r] ?? 0), 1, `seed ${seed} origin ${r}`);
  }
});
