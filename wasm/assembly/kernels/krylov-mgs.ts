// Modified Gram–Schmidt of one vector against a block of basis rows, for the Krylov solvers
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
