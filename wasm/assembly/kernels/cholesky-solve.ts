// Solves (L·Lᵀ)·X = H in place for a lower Cholesky factor L (p × p, row-major, ld) and H
// (p × c, row-major): the per-batch projection of EigenPro 3 (p centers, c outputs). Both
// sweeps read rows of L, 8 (then 2, then 1) columns of H at a time, with f64x2 mul + add (no
// FMA, so every kernel build gives the same bits). Forward: x_i = (h_i − Σ_{t<i} L_it x_t)/L_ii
// with the sum in registers; backward: x_i /= L_ii, then x_t −= L_it x_i for t < i.
import { GF_BAD_LD, GF_BAD_SIZE, GF_OK } from './gemm';

@inline function madd(a: v128, b: v128, c: v128): v128 {
  return f64x2.add(c, f64x2.mul(a, b));
}

function forward8(p: i32, l: usize, ldlB: usize, h: usize, hB: usize): void {
  for (let i = 0; i < p; i++) {
    const li = l + <usize>i * ldlB;
    let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0), a3 = f64x2.splat(0);
    let ht = h;
    for (let t = 0; t < i; t++) {
      const v = v128.load64_splat(li + (<usize>t << 3));
      a0 = madd(v, v128.load(ht), a0);
      a1 = madd(v, v128.load(ht, 16), a1);
      a2 = madd(v, v128.load(ht, 32), a2);
      a3 = madd(v, v128.load(ht, 48), a3);
      ht += hB;
    }
    const hi = h + <usize>i * hB;
    const dii = v128.load64_splat(li + (<usize>i << 3));
    v128.store(hi, f64x2.div(f64x2.sub(v128.load(hi), a0), dii));
    v128.store(hi, f64x2.div(f64x2.sub(v128.load(hi, 16), a1), dii), 16);
    v128.store(hi, f64x2.div(f64x2.sub(v128.load(hi, 32), a2), dii), 32);
    v128.store(hi, f64x2.div(f64x2.sub(v128.load(hi, 48), a3), dii), 48);
  }
}

function backward8(p: i32, l: usize, ldlB: usize, h: usize, hB: usize): void {
  for (let i = p - 1; i >= 0; i--) {
    const li = l + <usize>i * ldlB;
    const hi = h + <usize>i * hB;
    const dii = v128.load64_splat(li + (<usize>i << 3));
    const x0 = f64x2.div(v128.load(hi), dii);
    const x1 = f64x2.div(v128.load(hi, 16), dii);
    const x2 = f64x2.div(v128.load(hi, 32), dii);
    const x3 = f64x2.div(v128.load(hi, 48), dii);
    v128.store(hi, x0); v128.store(hi, x1, 16); v128.store(hi, x2, 32); v128.store(hi, x3, 48);
    let ht = h;
    for (let t = 0; t < i; t++) {
      const v = v128.load64_splat(li + (<usize>t << 3));
      v128.store(ht, f64x2.sub(v128.load(ht), f64x2.mul(v, x0)));
      v128.store(ht, f64x2.sub(v128.load(ht, 16), f64x2.mul(v, x1)), 16);
      v128.store(ht, f64x2.sub(v128.load(ht, 32), f64x2.mul(v, x2)), 32);
      v128.store(ht, f64x2.sub(v128.load(ht, 48), f64x2.mul(v, x3)), 48);
      ht += hB;
    }
  }
}

function forward2(p: i32, l: usize, ldlB: usize, h: usize, hB: usize): void {
  for (let i = 0; i < p; i++) {
    const li = l + <usize>i * ldlB;
    let a0 = f64x2.splat(0);
    let ht = h;
    for (let t = 0; t < i; t++) {
      a0 = madd(v128.load64_splat(li + (<usize>t << 3)), v128.load(ht), a0);
      ht += hB;
    }
    const hi = h + <usize>i * hB;
    v128.store(hi, f64x2.div(f64x2.sub(v128.load(hi), a0), v128.load64_splat(li + (<usize>i << 3))));
  }
}

function backward2(p: i32, l: usize, ldlB: usize, h: usize, hB: usize): void {
  for (let i = p - 1; i >= 0; i--) {
    const li = l + <usize>i * ldlB;
    const hi = h + <usize>i * hB;
    const x0 = f64x2.div(v128.load(hi), v128.load64_splat(li + (<usize>i << 3)));
    v128.store(hi, x0);
    let ht = h;
    for (let t = 0; t < i; t++) {
      v128.store(ht, f64x2.sub(v128.load(ht), f64x2.mul(v128.load64_splat(li + (<usize>t << 3)), x0)));
      ht += hB;
    }
  }
}

function solve1(p: i32, l: usize, ldlB: usize, h: usize, hB: usize): void {
  for (let i = 0; i < p; i++) {
    const li = l + <usize>i * ldlB;
    let s: f64 = 0;
    let ht = h;
    for (let t = 0; t < i; t++) {
      s += load<f64>(li + (<usize>t << 3)) * load<f64>(ht);
      ht += hB;
    }
    const hi = h + <usize>i * hB;
    store<f64>(hi, (load<f64>(hi) - s) / load<f64>(li + (<usize>i << 3)));
  }
  for (let i = p - 1; i >= 0; i--) {
    const li = l + <usize>i * ldlB;
    const hi = h + <usize>i * hB;
    const x = load<f64>(hi) / load<f64>(li + (<usize>i << 3));
    store<f64>(hi, x);
    let ht = h;
    for (let t = 0; t < i; t++) {
      store<f64>(ht, load<f64>(ht) - load<f64>(li + (<usize>t << 3)) * x);
      ht += hB;
    }
  }
}

/**
 * (L·Lᵀ)·X = H in place: L (p × p lower, row-major, `ldl` ≥ p; its upper part is not read),
 * H (p × c row-major, packed). The diagonal must be non-zero (a Cholesky factor's is > 0).
 */
export function gf_cholesky_solve_rows(p: i32, c: i32, l: usize, ldl: i32, h: usize): i32 {
  if (p < 0 || c < 0) return GF_BAD_SIZE;
  if (ldl < max(1, p)) return GF_BAD_LD;
  const ldlB = <usize>ldl << 3;
  const hB = <usize>c << 3;
  let j = 0;
  for (; j + 8 <= c; j += 8) {
    forward8(p, l, ldlB, h + (<usize>j << 3), hB);
    backward8(p, l, ldlB, h + (<usize>j << 3), hB);
  }
  for (; j + 2 <= c; j += 2) {
    forward2(p, l, ldlB, h + (<usize>j << 3), hB);
    backward2(p, l, ldlB, h + (<usize>j << 3), hB);
  }
  if (j < c) solve1(p, l, ldlB, h + (<usize>j << 3), hB);
  return GF_OK;
}
