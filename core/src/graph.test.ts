import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CsrArrays } from './array';
import { isGramfleetError } from './errors';
import type { ErrorCode } from './errors';
import { barabasiAlbert, canonicaliseCsr, csrBytes, csrFromTriplets, gridGraph, rmat, symmetrise, validateGraph } from './graph';

function csr(n: number, m: number, indptr: number[], indices: number[], data: number[]): CsrArrays {
  return { shape: [n, m], indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), data: Float64Array.from(data) };
}

/** Path graph 0-1-2 with weights w01, w12. */
function path3(w01 = 1, w12 = 1, w10 = w01): CsrArrays {
  return csr(3, 3, [0, 1, 3, 4], [1, 0, 2, 1], [w01, w10, w12, w12]);
}

function throwsCode(fn: () => unknown, code: ErrorCode, ...inMessage: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isGramfleetError(e), `expected a GramfleetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const s of inMessage) assert.ok(e.message.includes(s), `message ${JSON.stringify(e.message)} should include ${JSON.stringify(s)}`);
    return true;
  });
}

function checkUndirectedSimple(g: CsrArrays): void {
  const s = validateGraph(g); // symmetric, sorted, finite, non-negative
  const n = g.shape[0];
  for (let i = 0; i < n; i++) {
    for (let k = g.indptr[i] ?? 0; k < (g.indptr[i + 1] ?? 0); k++) {
      assert.notEqual(g.indices[k], i, `self loop at ${i}`);
      assert.equal(g.data[k], 1);
    }
  }
  assert.equal(s.nnz, g.indices.length);
}

test('validateGraph accepts a valid graph and summarises it', () => {
  const s = validateGraph(path3(2, 3));
  assert.deepEqual(s, { nodes: 3, nnz: 4, bytes: csrBytes(3, 4) });
});

test('validateGraph: typed errors naming field and bound', () => {
  throwsCode(() => validateGraph(csr(2, 3, [0, 0, 0], [], [])), 'INPUT_NOT_SQUARE', 'graph.shape', '2×3');
  throwsCode(() => validateGraph(csr(0, 0, [0], [], [])), 'INPUT_OUT_OF_RANGE', 'graph.shape', 'empty');
  throwsCode(() => validateGraph(csr(3, 3, [0, 0, 0, 0], [], [])), 'INPUT_OUT_OF_RANGE', 'graph.data', 'at least 1 edge');
  throwsCode(() => validateGraph(csr(3, 3, [0, 1, 3], [1, 0, 2], [1, 1, 1])), 'INPUT_SHAPE_MISMATCH', 'graph.indptr', 'n+1 = 4');
  throwsCode(() => validateGraph(csr(3, 3, [1, 1, 3, 4], [1, 0, 2, 1], [1, 1, 1, 1])), 'INPUT_INVALID', 'graph.indptr');
  throwsCode(() => validateGraph(csr(3, 3, [0, 2, 1, 4], [1, 0, 2, 1], [1, 1, 1, 1])), 'INPUT_INVALID', 'graph.indptr', 'non-decreasing');
  throwsCode(() => validateGraph(csr(3, 3, [0, 1, 3, 4], [1, 0, 2], [1, 1, 1, 1])), 'INPUT_SHAPE_MISMATCH', 'graph.indices');
  throwsCode(() => validateGraph(csr(3, 3, [0, 1, 3, 4], [1, 0, 2, 1], [1, 1, 1])), 'INPUT_SHAPE_MISMATCH', 'graph.data');
  throwsCode(() => validateGraph(csr(3, 3, [0, 1, 3, 4], [1, 0, 5, 1], [1, 1, 1, 1])), 'INPUT_OUT_OF_RANGE', 'graph.indices', '[0, 3)');
  throwsCode(() => validateGraph(csr(3, 3, [0, 1, 3, 4], [1, 2, 0, 1], [1, 1, 1, 1])), 'INPUT_INVALID', 'graph.indices', 'canonicaliseCsr');
  throwsCode(() => validateGraph(path3(Number.NaN)), 'INPUT_NOT_FINITE', 'graph.data', 'NaN', '(0, 1)');
  throwsCode(() => validateGraph(path3(1, Number.POSITIVE_INFINITY)), 'INPUT_NOT_FINITE', 'graph.data', '(1, 2)');
  throwsCode(() => validateGraph(path3(1, -2)), 'INPUT_NEGATIVE_WEIGHT', 'graph.data', '>= 0', '(1, 2)');
  throwsCode(() => validateGraph(path3(1, 1, 0.5)), 'INPUT_ASYMMETRIC', 'A[0,1] = 1', 'A[1,0] = 0.5');
  throwsCode(() => validateGraph(csr(3, 3, [0, 1, 1, 1], [2], [1])), 'INPUT_ASYMMETRIC', 'A[0,2]', 'not stored');
  throwsCode(() => validateGraph(path3(), { maxBytes: 20 }), 'INPUT_TOO_LARGE', `needs ${csrBytes(3, 4)} bytes`, 'maxBytes is 20 bytes');
  throwsCode(() => validateGraph(path3(1, -1), { field: 'job.graph' }), 'INPUT_NEGATIVE_WEIGHT', 'job.graph.data');
});

test('csrFromTriplets sorts rows and merges duplicates; canonicaliseCsr fixes unsorted rows', () => {
  const g = csrFromTriplets([3, 3], Int32Array.from([2, 0, 0, 2, 0]), Int32Array.from([0, 2, 1, 0, 2]), Float64Array.from([1, 2, 3, 4, 5]));
  assert.deepEqual([...g.indptr], [0, 2, 2, 3]);
  assert.deepEqual([...g.indices], [1, 2, 0]);
  assert.deepEqual([...g.data], [3, 7, 5]);
  const mx = csrFromTriplets([3, 3], Int32Array.from([2, 2]), Int32Array.from([0, 0]), Float64Array.from([1, 4]), { duplicates: 'max' });
  assert.deepEqual([...mx.data], [4]);
  const messy = csr(3, 3, [0, 2, 3, 4], [2, 1, 0, 0], [1, 1, 1, 1]);
  const c = canonicaliseCsr(messy);
  assert.deepEqual([...c.indices], [1, 2, 0, 0]);
  validateGraph(c);
  throwsCode(() => csrFromTriplets([2, 2], Int32Array.from([0]), Int32Array.from([2])), 'INPUT_OUT_OF_RANGE', 'triplets.cols');
  // A long row (> 32 entries) in reverse order, with a duplicate, takes the argsort path.
  const len = 100;
  const cols = Int32Array.from({ length: len + 1 }, (_, i) => (i === len ? 7 : len - 1 - i));
  const vals = Float64Array.from({ length: len + 1 }, (_, i) => (i === len ? 0.5 : len - 1 - i));
  const long = csrFromTriplets([1, len], new Int32Array(len + 1), cols, vals);
  assert.deepEqual(
    [...long.indices],
    Array.from({ length: len }, (_, i) => i),
  );
  assert.deepEqual(
    [...long.data],
    Array.from({ length: len }, (_, i) => (i === 7 ? 7.5 : i)),
  );
});

test('symmetrise: max, sum, mean', () => {
  const a = csr(3, 3, [0, 1, 2, 2], [1, 2], [2, 3]); // 0→1 (2), 1→2 (3)
  const mx = symmetrise(a, 'max');
  validateGraph(mx);
  assert.deepEqual([...mx.indices], [1, 0, 2, 1]);
  assert.deepEqual([...mx.data], [2, 2, 3, 3]);
  const both = csr(2, 2, [0, 1, 2], [1, 0], [1, 3]);
  assert.deepEqual([...symmetrise(both, 'sum').data], [4, 4]);
  assert.deepEqual([...symmetrise(both, 'mean').data], [2, 2]);
  assert.deepEqual([...symmetrise(both, 'max').data], [3, 3]);
});

test('gridGraph: 4-neighbour lattice', () => {
  const g = gridGraph(4, 3);
  checkUndirectedSimple(g);
  assert.equal(g.shape[0], 12);
  assert.equal(g.indices.length, 2 * (3 * 3 + 4 * 2));
  assert.equal((g.indptr[1] ?? 0) - (g.indptr[0] ?? 0), 2); // corner
  assert.equal((g.indptr[6] ?? 0) - (g.indptr[5] ?? 0), 4); // interior (1,1)
});

test('barabasiAlbert: symmetric, simple, degree sum, min degree, deterministic', () => {
  const n = 2000;
  const m = 3;
  const g = barabasiAlbert(n, m, 7);
  checkUndirectedSimple(g);
  assert.equal(g.indices.length, 2 * (m + (n - m - 1) * m)); // degree sum = 2|E|
  for (let i = 0; i < n; i++) assert.ok((g.indptr[i + 1] ?? 0) - (g.indptr[i] ?? 0) >= (i === 0 ? m : 1));
  const h = barabasiAlbert(n, m, 7);
  assert.deepEqual(h.indices, g.indices);
  assert.deepEqual(h.indptr, g.indptr);
  const other = barabasiAlbert(n, m, 8);
  assert.notDeepEqual(other.indices, g.indices);
  throwsCode(() => barabasiAlbert(5, 5, 1), 'INPUT_OUT_OF_RANGE', 'm');
  throwsCode(() => barabasiAlbert(10, 2, -1), 'INPUT_OUT_OF_RANGE', 'seed');
});

test('rmat: symmetric, simple, at most edgeFactor·n edges, deterministic, skewed degrees', () => {
  const g = rmat(12, 8, 3);
  checkUndirectedSimple(g);
  const n = 4096;
  assert.equal(g.shape[0], n);
  assert.ok(g.indices.length <= 2 * 8 * n && g.indices.length > 8 * n, `nnz ${g.indices.length}`);
  let maxDeg = 0;
  for (let i = 0; i < n; i++) maxDeg = Math.max(maxDeg, (g.indptr[i + 1] ?? 0) - (g.indptr[i] ?? 0));
  assert.ok(maxDeg > 10 * (g.indices.length / n), `max degree ${maxDeg} should be far above the mean`);
  assert.deepEqual(rmat(12, 8, 3).indices, g.indices);
  assert.notDeepEqual(rmat(12, 8, 4).indices, g.indices);
});

test('scale: barabasiAlbert(1e6, 3) builds and validates in a few seconds', (t) => {
  const t0 = performance.now();
  const g = barabasiAlbert(1_000_000, 3, 42);
  const t1 = performance.now();
  validateGraph(g);
  const t2 = performance.now();
  assert.equal(g.indices.length, 2 * (3 + (1_000_000 - 4) * 3));
  // Printed for the report; the bound is loose because the machine is shared.
  t.diagnostic(`barabasiAlbert(1e6, 3): build ${(t1 - t0).toFixed(0)} ms, validate ${(t2 - t1).toFixed(0)} ms, nnz ${g.indices.length}`);
  assert.ok(t1 - t0 < 20_000);
});

test('validateGraph: every single-entry asymmetry of a symmetric graph is found, in row order, with the exact pair', () => {
  const g = barabasiAlbert(300, 3, 11);
  validateGraph(g);
  const nnz = g.indices.length;
  // A changed weight on one side, and an entry removed (its mirror then stands alone).
  for (let trial = 0; trial < 60; trial++) {
    const k = (trial * 7919) % nnz;
    const changed: CsrArrays = { ...g, data: Float64Array.from(g.data) };
    changed.data[k] = (changed.data[k] ?? 0) + 0.5;
    let row = 0;
    while ((g.indptr[row + 1] ?? 0) <= k) row++;
    const col = g.indices[k] ?? 0;
    const [i, j] = row < col ? [row, col] : [col, row];
    throwsCode(() => validateGraph(changed), 'INPUT_ASYMMETRIC', `A[${i},${j}]`);
    const indptr = Int32Array.from(g.indptr, (p, r) => (r > row ? p - 1 : p));
    const indices = Int32Array.from([...g.indices.subarray(0, k), ...g.indices.subarray(k + 1)]);
    const data = Float64Array.from([...g.data.subarray(0, k), ...g.data.subarray(k + 1)]);
    throwsCode(() => validateGraph({ shape: g.shape, indptr, indices, data }), 'INPUT_ASYMMETRIC', `A[${i},${j}]`);
  }
});
