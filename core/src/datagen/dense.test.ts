/**
 * The fused dense passes of the Krylov solvers give bitwise the results of the plain
 * dot-then-axpy loops they replace (same operations per entry, same order).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accumulate, axpy, combineColumns, dot, dots, mgs } from './dense';

const rand = (seed: number, n: number): Float64Array => {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
};

test('mgs, dots, accumulate and combineColumns equal the plain loops bitwise', () => {
  const n = 37;
  for (const count of [0, 1, 3, 4, 7, 9]) {
    const basis = Array.from({ length: count }, (_, i) => rand(10 + i, n));
    // Modified Gram–Schmidt, one dot and one axpy per basis vector.
    const w0 = rand(99, n);
    const wRef = Float64Array.from(w0);
    const hRef = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      hRef[i] = dot(basis[i] as Float64Array, wRef);
      axpy(-(hRef[i] as number), basis[i] as Float64Array, wRef);
    }
    const w = Float64Array.from(w0);
    const h = new Float64Array(2 * count + 1);
    const nn = mgs(basis, count, w, h, 1, 2);
    assert.deepEqual(w, wRef);
    for (let i = 0; i < count; i++) assert.equal(h[1 + 2 * i], hRef[i]);
    assert.equal(nn, dot(wRef, wRef));
    // Dots against rows.
    const d = new Float64Array(count);
    dots(basis, count, w0, d, 0, 1);
    assert.deepEqual(
      d,
      Float64Array.from(basis, (b) => dot(b, w0)),
    );
    // y += Σ w_i x_i, zero weights skipped.
    const wt = (i: number): number => (i % 3 === 1 ? 0 : i + 0.25);
    const yRef = Float64Array.from(w0);
    for (let i = 0; i < count; i++) if (wt(i) !== 0) axpy(wt(i), basis[i] as Float64Array, yRef);
    const y = Float64Array.from(w0);
    accumulate(y, basis, count, wt);
    assert.deepEqual(y, yRef);
    // All columns of src·M at once.
    for (const ncol of [1, 4, 6]) {
      const mat = rand(7 + ncol, count * ncol);
      const got = combineColumns(basis, mat, ncol, n);
      for (let c = 0; c < ncol; c++) {
        const ref = new Float64Array(n);
        for (let i = 0; i < count; i++) axpy(mat[i * ncol + c] as number, basis[i] as Float64Array, ref);
        assert.deepEqual(got[c], ref, `count ${count} ncol ${ncol} column ${c}`);
      }
    }
  }
});
