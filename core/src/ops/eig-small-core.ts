/**
 * The dense non-symmetric eigen-solver behind `eig-small` (EISPACK orthes + hqr2, the
 * algorithm of JAMA's EigenvalueDecomposition), written in the subset of TypeScript that
 * AssemblyScript also compiles. This file is the one source: scripts/gen-eig-small.js copies
 * the body between the `<eig-small body>` markers into wasm/assembly/kernels/eig-small.ts,
 * whose header gives the same accessors (hg, vs, …) over raw pointers; `npm run build` runs it
 * and test/src/conformance/eig-small-source.test.ts fails when the two differ.
 */
type f64 = number;
type i32 = number;
type bool = boolean;

/** Result of {@link eigSmallCore}. */
export interface EigSmallCoreResult {
  /** 0 = ok, 2 = B singular (pivot in `singularAt`), 3 = no convergence. */
  readonly status: number;
  readonly singularAt: number;
  readonly wr: Float64Array;
  readonly wi: Float64Array;
  /** n×n row-major, LAPACK dgeev layout (complex pairs as real/imaginary columns). */
  readonly v: Float64Array;
}

/**
 * Eigenvalues and right eigenvectors of the n×n row-major `a` (or of B⁻¹A when `b` is
 * given, by LU with partial pivoting). `a` and `b` are not modified.
 */
export function eigSmallCore(nIn: number, a: Float64Array, b: Float64Array | null): EigSmallCoreResult {
  const N = nIn;
  const H = Float64Array.from(a);
  const B = b === null ? new Float64Array(0) : Float64Array.from(b);
  const V = new Float64Array(N * N);
  const D = new Float64Array(N);
  const E = new Float64Array(N);
  const O = new Float64Array(N);
  let cdr = 0;
  let cdi = 0;
  let singularAt = -1;
  const hg = (i: i32, j: i32): f64 => H[i * N + j] as number;
  const hs = (i: i32, j: i32, x: f64): void => {
    H[i * N + j] = x;
  };
  const vg = (i: i32, j: i32): f64 => V[i * N + j] as number;
  const vs = (i: i32, j: i32, x: f64): void => {
    V[i * N + j] = x;
  };
  const bg = (i: i32, j: i32): f64 => B[i * N + j] as number;
  const bs = (i: i32, j: i32, x: f64): void => {
    B[i * N + j] = x;
  };
  const dg = (i: i32): f64 => D[i] as number;
  const ds = (i: i32, x: f64): void => {
    D[i] = x;
  };
  const eg = (i: i32): f64 => E[i] as number;
  const es = (i: i32, x: f64): void => {
    E[i] = x;
  };
  const og = (i: i32): f64 => O[i] as number;
  const os_ = (i: i32, x: f64): void => {
    O[i] = x;
  };
  const imax = (x: i32, y: i32): i32 => (x > y ? x : y);
  const imin = (x: i32, y: i32): i32 => (x < y ? x : y);
  // <eig-small body> — scripts/gen-eig-small.js copies the text from here to </eig-small body>,
  // one indent less, into wasm/assembly/kernels/eig-small.ts: edit it here and run `npm run build`.
  /** Householder reduction to upper Hessenberg form (EISPACK orthes), accumulating V. */
  function orthes(nn: i32): void {
    const low: i32 = 0;
    const high: i32 = nn - 1;
    for (let m: i32 = low + 1; m <= high - 1; m++) {
      let scale: f64 = 0;
      for (let i: i32 = m; i <= high; i++) scale = scale + Math.abs(hg(i, m - 1));
      if (scale != 0) {
        let h: f64 = 0;
        for (let i: i32 = high; i >= m; i--) {
          os_(i, hg(i, m - 1) / scale);
          h += og(i) * og(i);
        }
        let g: f64 = Math.sqrt(h);
        if (og(m) > 0) g = -g;
        h = h - og(m) * g;
        os_(m, og(m) - g);
        for (let j: i32 = m; j < nn; j++) {
          let f: f64 = 0;
          for (let i: i32 = high; i >= m; i--) f += og(i) * hg(i, j);
          f = f / h;
          for (let i: i32 = m; i <= high; i++) hs(i, j, hg(i, j) - f * og(i));
        }
        for (let i: i32 = 0; i <= high; i++) {
          let f: f64 = 0;
          for (let j: i32 = high; j >= m; j--) f += og(j) * hg(i, j);
          f = f / h;
          for (let j: i32 = m; j <= high; j++) hs(i, j, hg(i, j) - f * og(j));
        }
        os_(m, scale * og(m));
        hs(m, m - 1, scale * g);
      }
    }
    for (let i: i32 = 0; i < nn; i++) for (let j: i32 = 0; j < nn; j++) vs(i, j, i == j ? 1 : 0);
    for (let m: i32 = high - 1; m >= low + 1; m--) {
      if (hg(m, m - 1) != 0) {
        for (let i: i32 = m + 1; i <= high; i++) os_(i, hg(i, m - 1));
        for (let j: i32 = m; j <= high; j++) {
          let g: f64 = 0;
          for (let i: i32 = m; i <= high; i++) g += og(i) * vg(i, j);
          g = g / og(m) / hg(m, m - 1);
          for (let i: i32 = m; i <= high; i++) vs(i, j, vg(i, j) + g * og(i));
        }
      }
    }
  }

  /** Complex division (xr + i·xi)/(yr + i·yi) into cdr/cdi. */
  function cdiv(xr: f64, xi: f64, yr: f64, yi: f64): void {
    let r: f64;
    let d: f64;
    if (Math.abs(yr) > Math.abs(yi)) {
      r = yi / yr;
      d = yr + r * yi;
      cdr = (xr + r * xi) / d;
      cdi = (xi - r * xr) / d;
    } else {
      r = yr / yi;
      d = yi + r * yr;
      cdr = (r * xr + xi) / d;
      cdi = (r * xi - xr) / d;
    }
  }

  /**
   * Francis double-shift QR on the Hessenberg matrix (EISPACK hqr2), then back-substitution
   * for the eigenvectors of the quasi-triangular form and back-transformation by V.
   * Returns false when an eigenvalue needs more than 30·n iterations.
   */
  function hqr2(nn: i32): bool {
    let n: i32 = nn - 1;
    const low: i32 = 0;
    const high: i32 = nn - 1;
    const eps: f64 = 2.220446049250313e-16;
    let exshift: f64 = 0;
    let p: f64 = 0,
      q: f64 = 0,
      r: f64 = 0,
      s: f64 = 0,
      z: f64 = 0;
    let t: f64 = 0,
      w: f64 = 0,
      x: f64 = 0,
      y: f64 = 0;
    let norm: f64 = 0;
    for (let i: i32 = 0; i < nn; i++) {
      for (let j: i32 = imax(i - 1, 0); j < nn; j++) norm += Math.abs(hg(i, j));
    }
    let iter: i32 = 0;
    while (n >= low) {
      let l: i32 = n;
      while (l > low) {
        s = Math.abs(hg(l - 1, l - 1)) + Math.abs(hg(l, l));
        if (s == 0) s = norm;
        if (Math.abs(hg(l, l - 1)) < eps * s) break;
        l--;
      }
      if (l == n) {
        hs(n, n, hg(n, n) + exshift);
        ds(n, hg(n, n));
        es(n, 0);
        n--;
        iter = 0;
      } else if (l == n - 1) {
        w = hg(n, n - 1) * hg(n - 1, n);
        p = (hg(n - 1, n - 1) - hg(n, n)) / 2.0;
        q = p * p + w;
        z = Math.sqrt(Math.abs(q));
        hs(n, n, hg(n, n) + exshift);
        hs(n - 1, n - 1, hg(n - 1, n - 1) + exshift);
        x = hg(n, n);
        if (q >= 0) {
          z = p >= 0 ? p + z : p - z;
          ds(n - 1, x + z);
          ds(n, dg(n - 1));
          if (z != 0) ds(n, x - w / z);
          es(n - 1, 0);
          es(n, 0);
          x = hg(n, n - 1);
          s = Math.abs(x) + Math.abs(z);
          p = x / s;
          q = z / s;
          r = Math.sqrt(p * p + q * q);
          p = p / r;
          q = q / r;
          for (let j: i32 = n - 1; j < nn; j++) {
            z = hg(n - 1, j);
            hs(n - 1, j, q * z + p * hg(n, j));
            hs(n, j, q * hg(n, j) - p * z);
          }
          for (let i: i32 = 0; i <= n; i++) {
            z = hg(i, n - 1);
            hs(i, n - 1, q * z + p * hg(i, n));
            hs(i, n, q * hg(i, n) - p * z);
          }
          for (let i: i32 = low; i <= high; i++) {
            z = vg(i, n - 1);
            vs(i, n - 1, q * z + p * vg(i, n));
            vs(i, n, q * vg(i, n) - p * z);
          }
        } else {
          ds(n - 1, x + p);
          ds(n, x + p);
          es(n - 1, z);
          es(n, -z);
        }
        n = n - 2;
        iter = 0;
      } else {
        x = hg(n, n);
        y = 0;
        w = 0;
        if (l < n) {
          y = hg(n - 1, n - 1);
          w = hg(n, n - 1) * hg(n - 1, n);
        }
        if (iter == 10) {
          exshift += x;
          for (let i: i32 = low; i <= n; i++) hs(i, i, hg(i, i) - x);
          s = Math.abs(hg(n, n - 1)) + Math.abs(hg(n - 1, n - 2));
          x = 0.75 * s;
          y = x;
          w = -0.4375 * s * s;
        }
        if (iter == 30) {
          s = (y - x) / 2.0;
          s = s * s + w;
          if (s > 0) {
            s = Math.sqrt(s);
            if (y < x) s = -s;
            s = x - w / ((y - x) / 2.0 + s);
            for (let i: i32 = low; i <= n; i++) hs(i, i, hg(i, i) - s);
            exshift += s;
            x = 0.964;
            y = x;
            w = x;
          }
        }
        iter = iter + 1;
        if (iter > 30 * imax(nn, 10)) return false;
        let m: i32 = n - 2;
        while (m >= l) {
          z = hg(m, m);
          r = x - z;
          s = y - z;
          p = (r * s - w) / hg(m + 1, m) + hg(m, m + 1);
          q = hg(m + 1, m + 1) - z - r - s;
          r = hg(m + 2, m + 1);
          s = Math.abs(p) + Math.abs(q) + Math.abs(r);
          p = p / s;
          q = q / s;
          r = r / s;
          if (m == l) break;
          if (
            Math.abs(hg(m, m - 1)) * (Math.abs(q) + Math.abs(r)) <
            eps * (Math.abs(p) * (Math.abs(hg(m - 1, m - 1)) + Math.abs(z) + Math.abs(hg(m + 1, m + 1))))
          )
            break;
          m--;
        }
        for (let i: i32 = m + 2; i <= n; i++) {
          hs(i, i - 2, 0);
          if (i > m + 2) hs(i, i - 3, 0);
        }
        for (let k: i32 = m; k <= n - 1; k++) {
          const notlast: bool = k != n - 1;
          if (k != m) {
            p = hg(k, k - 1);
            q = hg(k + 1, k - 1);
            r = notlast ? hg(k + 2, k - 1) : 0;
            x = Math.abs(p) + Math.abs(q) + Math.abs(r);
            if (x == 0) continue;
            p = p / x;
            q = q / x;
            r = r / x;
          }
          s = Math.sqrt(p * p + q * q + r * r);
          if (p < 0) s = -s;
          if (s != 0) {
            if (k != m) hs(k, k - 1, -s * x);
            else if (l != m) hs(k, k - 1, -hg(k, k - 1));
            p = p + s;
            x = p / s;
            y = q / s;
            z = r / s;
            q = q / p;
            r = r / p;
            for (let j: i32 = k; j < nn; j++) {
              p = hg(k, j) + q * hg(k + 1, j);
              if (notlast) {
                p = p + r * hg(k + 2, j);
                hs(k + 2, j, hg(k + 2, j) - p * z);
              }
              hs(k, j, hg(k, j) - p * x);
              hs(k + 1, j, hg(k + 1, j) - p * y);
            }
            for (let i: i32 = 0; i <= imin(n, k + 3); i++) {
              p = x * hg(i, k) + y * hg(i, k + 1);
              if (notlast) {
                p = p + z * hg(i, k + 2);
                hs(i, k + 2, hg(i, k + 2) - p * r);
              }
              hs(i, k, hg(i, k) - p);
              hs(i, k + 1, hg(i, k + 1) - p * q);
            }
            for (let i: i32 = low; i <= high; i++) {
              p = x * vg(i, k) + y * vg(i, k + 1);
              if (notlast) {
                p = p + z * vg(i, k + 2);
                vs(i, k + 2, vg(i, k + 2) - p * r);
              }
              vs(i, k, vg(i, k) - p);
              vs(i, k + 1, vg(i, k + 1) - p * q);
            }
          }
        }
      }
    }
    if (norm == 0) return true;
    for (n = nn - 1; n >= 0; n--) {
      p = dg(n);
      q = eg(n);
      if (q == 0) {
        let l: i32 = n;
        hs(n, n, 1.0);
        for (let i: i32 = n - 1; i >= 0; i--) {
          w = hg(i, i) - p;
          r = 0;
          for (let j: i32 = l; j <= n; j++) r = r + hg(i, j) * hg(j, n);
          if (eg(i) < 0) {
            z = w;
            s = r;
          } else {
            l = i;
            if (eg(i) == 0) {
              if (w != 0) hs(i, n, -r / w);
              else hs(i, n, -r / (eps * norm));
            } else {
              x = hg(i, i + 1);
              y = hg(i + 1, i);
              q = (dg(i) - p) * (dg(i) - p) + eg(i) * eg(i);
              t = (x * s - z * r) / q;
              hs(i, n, t);
              if (Math.abs(x) > Math.abs(z)) hs(i + 1, n, (-r - w * t) / x);
              else hs(i + 1, n, (-s - y * t) / z);
            }
            t = Math.abs(hg(i, n));
            if (eps * t * t > 1) {
              for (let j: i32 = i; j <= n; j++) hs(j, n, hg(j, n) / t);
            }
          }
        }
      } else if (q < 0) {
        let l: i32 = n - 1;
        if (Math.abs(hg(n, n - 1)) > Math.abs(hg(n - 1, n))) {
          hs(n - 1, n - 1, q / hg(n, n - 1));
          hs(n - 1, n, -(hg(n, n) - p) / hg(n, n - 1));
        } else {
          cdiv(0, -hg(n - 1, n), hg(n - 1, n - 1) - p, q);
          hs(n - 1, n - 1, cdr);
          hs(n - 1, n, cdi);
        }
        hs(n, n - 1, 0);
        hs(n, n, 1);
        for (let i: i32 = n - 2; i >= 0; i--) {
          let ra: f64 = 0;
          let sa: f64 = 0;
          for (let j: i32 = l; j <= n; j++) {
            ra = ra + hg(i, j) * hg(j, n - 1);
            sa = sa + hg(i, j) * hg(j, n);
          }
          w = hg(i, i) - p;
          if (eg(i) < 0) {
            z = w;
            r = ra;
            s = sa;
          } else {
            l = i;
            if (eg(i) == 0) {
              cdiv(-ra, -sa, w, q);
              hs(i, n - 1, cdr);
              hs(i, n, cdi);
            } else {
              x = hg(i, i + 1);
              y = hg(i + 1, i);
              let vr: f64 = (dg(i) - p) * (dg(i) - p) + eg(i) * eg(i) - q * q;
              const vi: f64 = (dg(i) - p) * 2.0 * q;
              if (vr == 0 && vi == 0) vr = eps * norm * (Math.abs(w) + Math.abs(q) + Math.abs(x) + Math.abs(y) + Math.abs(z));
              cdiv(x * r - z * ra + q * sa, x * s - z * sa - q * ra, vr, vi);
              hs(i, n - 1, cdr);
              hs(i, n, cdi);
              if (Math.abs(x) > Math.abs(z) + Math.abs(q)) {
                hs(i + 1, n - 1, (-ra - w * hg(i, n - 1) + q * hg(i, n)) / x);
                hs(i + 1, n, (-sa - w * hg(i, n) - q * hg(i, n - 1)) / x);
              } else {
                cdiv(-r - y * hg(i, n - 1), -s - y * hg(i, n), z, q);
                hs(i + 1, n - 1, cdr);
                hs(i + 1, n, cdi);
              }
            }
            t = Math.max(Math.abs(hg(i, n - 1)), Math.abs(hg(i, n)));
            if (eps * t * t > 1) {
              for (let j: i32 = i; j <= n; j++) {
                hs(j, n - 1, hg(j, n - 1) / t);
                hs(j, n, hg(j, n) / t);
              }
            }
          }
        }
      }
    }
    for (let j: i32 = nn - 1; j >= low; j--) {
      for (let i: i32 = low; i <= high; i++) {
        z = 0;
        for (let k: i32 = low; k <= imin(j, high); k++) z = z + vg(i, k) * hg(k, j);
        vs(i, j, z);
      }
    }
    return true;
  }

  /** H ← B⁻¹·H by LU with partial pivoting of B (overwritten). False when B is singular. */
  function luSolve(nn: i32): bool {
    let bmax: f64 = 0;
    for (let i: i32 = 0; i < nn; i++) for (let j: i32 = 0; j < nn; j++) bmax = Math.max(bmax, Math.abs(bg(i, j)));
    const tiny: f64 = 2.220446049250313e-16 * bmax;
    for (let k: i32 = 0; k < nn; k++) {
      let piv: i32 = k;
      let best: f64 = Math.abs(bg(k, k));
      for (let i: i32 = k + 1; i < nn; i++) {
        if (Math.abs(bg(i, k)) > best) {
          best = Math.abs(bg(i, k));
          piv = i;
        }
      }
      if (!(best > tiny)) {
        singularAt = k;
        return false;
      }
      if (piv != k) {
        for (let j: i32 = 0; j < nn; j++) {
          const t1: f64 = bg(k, j);
          bs(k, j, bg(piv, j));
          bs(piv, j, t1);
          const t2: f64 = hg(k, j);
          hs(k, j, hg(piv, j));
          hs(piv, j, t2);
        }
      }
      for (let i: i32 = k + 1; i < nn; i++) {
        const f: f64 = bg(i, k) / bg(k, k);
        if (f == 0) continue;
        for (let j: i32 = k; j < nn; j++) bs(i, j, bg(i, j) - f * bg(k, j));
        for (let j: i32 = 0; j < nn; j++) hs(i, j, hg(i, j) - f * hg(k, j));
      }
    }
    for (let k: i32 = nn - 1; k >= 0; k--) {
      for (let j: i32 = 0; j < nn; j++) {
        let s: f64 = hg(k, j);
        for (let i: i32 = k + 1; i < nn; i++) s -= bg(k, i) * hg(i, j);
        hs(k, j, s / bg(k, k));
      }
    }
    return true;
  }

  /**
   * Unit Euclidean norms. hqr2 already leaves a pair with e[j] > 0 in LAPACK dgeev layout:
   * column j is the real part and column j+1 the imaginary part of the eigenvector of
   * d[j] + i·e[j] (A·[x y] = [x y]·[[d, e], [−e, d]]).
   */
  function finish(nn: i32): void {
    let j: i32 = 0;
    while (j < nn) {
      if (eg(j) != 0 && j + 1 < nn) {
        let s: f64 = 0;
        for (let i: i32 = 0; i < nn; i++) s += vg(i, j) * vg(i, j) + vg(i, j + 1) * vg(i, j + 1);
        s = Math.sqrt(s);
        for (let i: i32 = 0; i < nn; i++) {
          vs(i, j, s > 0 ? vg(i, j) / s : vg(i, j));
          vs(i, j + 1, s > 0 ? vg(i, j + 1) / s : vg(i, j + 1));
        }
        j += 2;
      } else {
        let s: f64 = 0;
        for (let i: i32 = 0; i < nn; i++) s += vg(i, j) * vg(i, j);
        s = Math.sqrt(s);
        if (s > 0) for (let i: i32 = 0; i < nn; i++) vs(i, j, vg(i, j) / s);
        j += 1;
      }
    }
  }
  // </eig-small body>

  if (N === 0) return { status: 0, singularAt, wr: D, wi: E, v: V };
  if (b !== null && !luSolve(N)) return { status: 2, singularAt, wr: D, wi: E, v: V };
  orthes(N);
  if (!hqr2(N)) return { status: 3, singularAt, wr: D, wi: E, v: V };
  finish(N);
  return { status: 0, singularAt, wr: D, wi: E, v: V };
}
