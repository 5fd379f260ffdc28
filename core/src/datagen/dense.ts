/**
 * The dense O(n·m·k) work of the Krylov solvers, in fused passes over the vectors: a modified
 * Gram–Schmidt sweep whose update for one basis vector and dot with the next share one pass,
 * dot products against four rows at a time, and linear combinations of four vectors per pass.
 * Every result is bitwise the one of the plain dot-then-axpy loops (each entry sees the same
 * operations in the same order); only the number of passes over memory changes.
 */

/** a·b. */
export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** y += alpha·x. */
export function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + alpha * (x[i] as number);
}

/**
 * Modified Gram–Schmidt of `w` against `basis[0..count)`: h_i = q_i·w, then w −= h_i q_i, in
 * order. Writes h_i to `h[off + i·stride]` and returns ‖w‖² of the result.
 */
export function mgs(basis: readonly Float64Array[], count: number, w: Float64Array, h: Float64Array, off: number, stride: number): number {
  const n = w.length;
  if (count === 0) return dot(w, w);
  let hi = dot(basis[0] as Float64Array, w);
  for (let i = 0; i < count; i++) {
    h[off + i * stride] = hi;
    const q = basis[i] as Float64Array;
    const a = -hi;
    let s = 0;
    if (i + 1 < count) {
      const q2 = basis[i + 1] as Float64Array;
      for (let t = 0; t < n; t++) {
        const v = (w[t] as number) + a * (q[t] as number);
        w[t] = v;
        s += (q2[t] as number) * v;
      }
      hi = s;
    } else {
      for (let t = 0; t < n; t++) {
        const v = (w[t] as number) + a * (q[t] as number);
        w[t] = v;
        s += v * v;
      }
      return s;
    }
  }
  return 0; // unreachable: the last basis vector returns above
}

/** out[off + i·stride] = rows[i]·x for i < count, four rows per pass over x. */
export function dots(rows: readonly Float64Array[], count: number, x: Float64Array, out: Float64Array, off: number, stride: number): void {
  const n = x.length;
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const r0 = rows[i] as Float64Array;
    const r1 = rows[i + 1] as Float64Array;
    const r2 = rows[i + 2] as Float64Array;
    const r3 = rows[i + 3] as Float64Array;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let t = 0; t < n; t++) {
      const v = x[t] as number;
      s0 += (r0[t] as number) * v;
      s1 += (r1[t] as number) * v;
      s2 += (r2[t] as number) * v;
      s3 += (r3[t] as number) * v;
    }
    out[off + i * stride] = s0;
    out[off + (i + 1) * stride] = s1;
    out[off + (i + 2) * stride] = s2;
    out[off + (i + 3) * stride] = s3;
  }
  for (; i < count; i++) out[off + i * stride] = dot(rows[i] as Float64Array, x);
}

/**
 * y += Σ_i w(i)·src[i] for i < count, in order of i (the result of `count` axpys), four
 * sources per pass over y. Zero weights are skipped as an axpy loop that skips them would.
 */
export function accumulate(y: Float64Array, src: readonly Float64Array[], count: number, w: (i: number) => number): void {
  const n = y.length;
  const idx: number[] = [];
  const ws: number[] = [];
  for (let i = 0; i < count; i++) {
    const a = w(i);
    if (a !== 0) {
      idx.push(i);
      ws.push(a);
    }
  }
  let p = 0;
  for (; p + 4 <= idx.length; p += 4) {
    const x0 = src[idx[p] as number] as Float64Array;
    const x1 = src[idx[p + 1] as number] as Float64Array;
    const x2 = src[idx[p + 2] as number] as Float64Array;
    const x3 = src[idx[p + 3] as number] as Float64Array;
    const a0 = ws[p] as number;
    const a1 = ws[p + 1] as number;
    const a2 = ws[p + 2] as number;
    const a3 = ws[p + 3] as number;
    for (let t = 0; t < n; t++) {
      y[t] = (y[t] as number) + a0 * (x0[t] as number) + a1 * (x1[t] as number) + a2 * (x2[t] as number) + a3 * (x3[t] as number);
    }
  }
  for (; p < idx.length; p++) axpy(ws[p] as number, src[idx[p] as number] as Float64Array, y);
}

/**
 * out_c = Σ_i mat[i·ncol + c]·src[i] for every column c < ncol (src.length rows), summed in
 * order of i; tiles of four outputs by four sources share one pass over the vectors.
 */
export function combineColumns(src: readonly Float64Array[], mat: Float64Array, ncol: number, n: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let c = 0; c < ncol; c++) out.push(new Float64Array(n));
  combineInto(src, mat, ncol, out);
  return out;
}

/** out[c] += Σ_i mat[i·ncol + c]·src[i] for every column c < ncol, as {@link combineColumns}. */
export function combineInto(src: readonly Float64Array[], mat: Float64Array, ncol: number, out: readonly Float64Array[]): void {
  const rows = src.length;
  const n = out[0]?.length ?? 0;
  let c = 0;
  for (; c + 4 <= ncol; c += 4) {
    const o0 = out[c] as Float64Array;
    const o1 = out[c + 1] as Float64Array;
    const o2 = out[c + 2] as Float64Array;
    const o3 = out[c + 3] as Float64Array;
    let i = 0;
    for (; i + 4 <= rows; i += 4) {
      const x0 = src[i] as Float64Array;
      const x1 = src[i + 1] as Float64Array;
      const x2 = src[i + 2] as Float64Array;
      const x3 = src[i + 3] as Float64Array;
      const m = (r: number, k: number): number => mat[(i + r) * ncol + c + k] as number;
      const a00 = m(0, 0),
        a01 = m(0, 1),
        a02 = m(0, 2),
        a03 = m(0, 3);
      const a10 = m(1, 0),
        a11 = m(1, 1),
        a12 = m(1, 2),
        a13 = m(1, 3);
      const a20 = m(2, 0),
        a21 = m(2, 1),
        a22 = m(2, 2),
        a23 = m(2, 3);
      const a30 = m(3, 0),
        a31 = m(3, 1),
        a32 = m(3, 2),
        a33 = m(3, 3);
      for (let t = 0; t < n; t++) {
        const v0 = x0[t] as number;
        const v1 = x1[t] as number;
        const v2 = x2[t] as number;
        const v3 = x3[t] as number;
        o0[t] = (o0[t] as number) + a00 * v0 + a10 * v1 + a20 * v2 + a30 * v3;
        o1[t] = (o1[t] as number) + a01 * v0 + a11 * v1 + a21 * v2 + a31 * v3;
        o2[t] = (o2[t] as number) + a02 * v0 + a12 * v1 + a22 * v2 + a32 * v3;
        o3[t] = (o3[t] as number) + a03 * v0 + a13 * v1 + a23 * v2 + a33 * v3;
      }
    }
    for (; i < rows; i++) {
      const x = src[i] as Float64Array;
      for (let k = 0; k < 4; k++) axpy(mat[i * ncol + c + k] as number, x, out[c + k] as Float64Array);
    }
  }
  for (; c < ncol; c++) {
    const o = out[c] as Float64Array;
    for (let i = 0; i < rows; i++) axpy(mat[i * ncol + c] as number, src[i] as Float64Array, o);
  }
}
