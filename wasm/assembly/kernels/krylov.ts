// Krylov basis products for GCRO-DR (datagen). Multiply and add stay separate (no relaxed-SIMD
// FMA), so both kernel builds give the same bits and a datagen shard retried on a worker with
// the other build produces the same bytes.
//
// gf_krylov_mgs: modified Gram–Schmidt of one vector against a block of basis rows
// (GCRO-DR's Arnoldi step and recycled-space projections): for i < count, in order,
// h_i = q_i·w, w −= h_i·q_i, where q_i is row i of the row-major basis (leading dimension ld).
// The update for q_i and the dot with q_{i+1} share one pass over memory (f64x2, two
// accumulators). Writes h_i to h[i·hstride] and ‖w‖² of the result to out[0]. Pointers are
// byte addresses; sizes and strides in elements. Never allocates, never throws.
import { GF_BAD_LD, GF_BAD_SIZE, GF_OK } from './gemm';

@inline function dotv(a: usize, b: usize, n: i32): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const o = <usize>t << 3;
    s0 = f64x2.add(s0, f64x2.mul(v128.load(a + o), v128.load(b + o)));
    s1 = f64x2.add(s1, f64x2.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
  }
  const s = f64x2.add(s0, s1);
  let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; t < n; t++) r += load<f64>(a + (<usize>t << 3)) * load<f64>(b + (<usize>t << 3));
  return r;
}

/** MGS of w (n) against `count` rows of `basis`; returns a status (0 = ok). */
export function gf_krylov_mgs(basis: usize, ld: i32, count: i32, n: i32, w: usize, h: usize, hstride: i32, out: usize): i32 {
  if (count < 0 || n < 0) return GF_BAD_SIZE;
  if (ld < n || hstride < 1) return GF_BAD_LD;
  if (count == 0) {
    store<f64>(out, dotv(w, w, n));
    return GF_OK;
  }
  const ldB = <usize>ld << 3;
  let hi = dotv(basis, w, n);
  for (let i = 0; i < count; i++) {
    store<f64>(h + (<usize>(i * hstride) << 3), hi);
    const q = basis + <usize>i * ldB;
    // The next dot is with q_{i+1}, or with w itself after the last update (‖w‖²).
    const nx = i + 1 < count ? q + ldB : w;
    const a = f64x2.splat(-hi);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    let t = 0;
    for (; t + 4 <= n; t += 4) {
      const o = <usize>t << 3;
      const v0 = f64x2.add(v128.load(w + o), f64x2.mul(a, v128.load(q + o)));
      const v1 = f64x2.add(v128.load(w + o, 16), f64x2.mul(a, v128.load(q + o, 16)));
      v128.store(w + o, v0);
      v128.store(w + o, v1, 16);
      s0 = f64x2.add(s0, f64x2.mul(v128.load(nx + o), v0));
      s1 = f64x2.add(s1, f64x2.mul(v128.load(nx + o, 16), v1));
    }
    const s = f64x2.add(s0, s1);
    let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
    for (; t < n; t++) {
      const o = <usize>t << 3;
      const v = load<f64>(w + o) - hi * load<f64>(q + o);
      store<f64>(w + o, v);
      r += load<f64>(nx + o) * v;
    }
    hi = r;
  }
  store<f64>(out, hi);
  return GF_OK;
}

/**
 * out_c (+)= Σ_{i<count} mat[i·ncol + c]·src_i for c < ncol: src rows and out rows have length
 * n and leading dimension ld; `acc` = 0 overwrites out. Tiles of 2 outputs × 4 sources share
 * one pass over memory (a missing source in a tile gets weight 0 and reads row 0).
 */
export function gf_krylov_combine(src: usize, count: i32, n: i32, ld: i32, mat: usize, ncol: i32, out: usize, acc: i32): i32 {
  if (count < 0 || n < 0 || ncol < 0) return GF_BAD_SIZE;
  if (ld < n) return GF_BAD_LD;
  const ldB = <usize>ld << 3;
  if (acc == 0) for (let c = 0; c < ncol; c++) memory.fill(out + <usize>c * ldB, 0, <usize>n << 3);
  if (count == 0) return GF_OK;
  for (let c = 0; c < ncol; c += 2) {
    const o0 = out + <usize>c * ldB;
    const two = c + 1 < ncol;
    for (let i = 0; i < count; i += 4) {
      const x0 = src + <usize>i * ldB;
      const x1 = i + 1 < count ? x0 + ldB : src;
      const x2 = i + 2 < count ? x0 + 2 * ldB : src;
      const x3 = i + 3 < count ? x0 + 3 * ldB : src;
      const a0 = f64x2.splat(wt(mat, ncol, count, i, c)), a1 = f64x2.splat(wt(mat, ncol, count, i + 1, c));
      const a2 = f64x2.splat(wt(mat, ncol, count, i + 2, c)), a3 = f64x2.splat(wt(mat, ncol, count, i + 3, c));
      if (!two) {
        axpy4(o0, x0, x1, x2, x3, a0, a1, a2, a3, n);
        continue;
      }
      const o1 = o0 + ldB;
      const b0 = f64x2.splat(wt(mat, ncol, count, i, c + 1)), b1 = f64x2.splat(wt(mat, ncol, count, i + 1, c + 1));
      const b2 = f64x2.splat(wt(mat, ncol, count, i + 2, c + 1)), b3 = f64x2.splat(wt(mat, ncol, count, i + 3, c + 1));
      let t = 0;
      for (; t + 2 <= n; t += 2) {
        const o = <usize>t << 3;
        const v0 = v128.load(x0 + o), v1 = v128.load(x1 + o), v2 = v128.load(x2 + o), v3 = v128.load(x3 + o);
        let y = f64x2.add(v128.load(o0 + o), f64x2.mul(a0, v0));
        y = f64x2.add(y, f64x2.mul(a1, v1));
        y = f64x2.add(y, f64x2.mul(a2, v2));
        v128.store(o0 + o, f64x2.add(y, f64x2.mul(a3, v3)));
        let z = f64x2.add(v128.load(o1 + o), f64x2.mul(b0, v0));
        z = f64x2.add(z, f64x2.mul(b1, v1));
        z = f64x2.add(z, f64x2.mul(b2, v2));
        v128.store(o1 + o, f64x2.add(z, f64x2.mul(b3, v3)));
      }
      if (t < n) {
        axpy4(o0 + (<usize>t << 3), x0 + (<usize>t << 3), x1 + (<usize>t << 3), x2 + (<usize>t << 3), x3 + (<usize>t << 3), a0, a1, a2, a3, 1);
        axpy4(o1 + (<usize>t << 3), x0 + (<usize>t << 3), x1 + (<usize>t << 3), x2 + (<usize>t << 3), x3 + (<usize>t << 3), b0, b1, b2, b3, 1);
      }
    }
  }
  return GF_OK;
}

@inline function wt(mat: usize, ncol: i32, count: i32, i: i32, c: i32): f64 {
  return i < count ? load<f64>(mat + (<usize>(i * ncol + c) << 3)) : 0.0;
}

/** y += w0·x0 + w1·x1 + w2·x2 + w3·x3 (summed in that order), two lanes at a time. */
@inline function axpy4(y: usize, x0: usize, x1: usize, x2: usize, x3: usize, w0: v128, w1: v128, w2: v128, w3: v128, n: i32): void {
  let t = 0;
  for (; t + 2 <= n; t += 2) {
    const o = <usize>t << 3;
    let v = f64x2.add(v128.load(y + o), f64x2.mul(w0, v128.load(x0 + o)));
    v = f64x2.add(v, f64x2.mul(w1, v128.load(x1 + o)));
    v = f64x2.add(v, f64x2.mul(w2, v128.load(x2 + o)));
    v128.store(y + o, f64x2.add(v, f64x2.mul(w3, v128.load(x3 + o))));
  }
  if (t < n) {
    const o = <usize>t << 3;
    let v = load<f64>(y + o) + f64x2.extract_lane(w0, 0) * load<f64>(x0 + o);
    v += f64x2.extract_lane(w1, 0) * load<f64>(x1 + o);
    v += f64x2.extract_lane(w2, 0) * load<f64>(x2 + o);
    store<f64>(y + o, v + f64x2.extract_lane(w3, 0) * load<f64>(x3 + o));
  }
}

/**
 * g[i·countB + j] = a_i·b_j for i < countA, j < countB (rows of length n, leading dimension
 * ld): tiles of 2 × 2 dot products share one pass over the four rows.
 */
export function gf_krylov_gram(a: usize, countA: i32, b: usize, countB: i32, n: i32, ld: i32, g: usize): i32 {
  if (countA < 0 || countB < 0 || n < 0) return GF_BAD_SIZE;
  if (ld < n) return GF_BAD_LD;
  const ldB = <usize>ld << 3;
  for (let i = 0; i < countA; i += 2) {
    const a0 = a + <usize>i * ldB;
    const a1 = i + 1 < countA ? a0 + ldB : a0;
    for (let j = 0; j < countB; j += 2) {
      const b0 = b + <usize>j * ldB;
      const b1 = j + 1 < countB ? b0 + ldB : b0;
      let s00 = f64x2.splat(0), s01 = f64x2.splat(0), s10 = f64x2.splat(0), s11 = f64x2.splat(0);
      let t = 0;
      for (; t + 2 <= n; t += 2) {
        const o = <usize>t << 3;
        const va0 = v128.load(a0 + o), va1 = v128.load(a1 + o), vb0 = v128.load(b0 + o), vb1 = v128.load(b1 + o);
        s00 = f64x2.add(s00, f64x2.mul(va0, vb0));
        s01 = f64x2.add(s01, f64x2.mul(va0, vb1));
        s10 = f64x2.add(s10, f64x2.mul(va1, vb0));
        s11 = f64x2.add(s11, f64x2.mul(va1, vb1));
      }
      let r00 = f64x2.extract_lane(s00, 0) + f64x2.extract_lane(s00, 1);
      let r01 = f64x2.extract_lane(s01, 0) + f64x2.extract_lane(s01, 1);
      let r10 = f64x2.extract_lane(s10, 0) + f64x2.extract_lane(s10, 1);
      let r11 = f64x2.extract_lane(s11, 0) + f64x2.extract_lane(s11, 1);
      if (t < n) {
        const o = <usize>t << 3;
        const xa0 = load<f64>(a0 + o), xa1 = load<f64>(a1 + o), xb0 = load<f64>(b0 + o), xb1 = load<f64>(b1 + o);
        r00 += xa0 * xb0;
        r01 += xa0 * xb1;
        r10 += xa1 * xb0;
        r11 += xa1 * xb1;
      }
      const g0 = g + (<usize>(i * countB + j) << 3);
      store<f64>(g0, r00);
      if (j + 1 < countB) store<f64>(g0, r01, 8);
      if (i + 1 < countA) {
        const g1 = g0 + (<usize>countB << 3);
        store<f64>(g1, r10);
        if (j + 1 < countB) store<f64>(g1, r11, 8);
      }
    }
  }
  return GF_OK;
}
