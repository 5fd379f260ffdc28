// Triangular solve with multiple right-hand sides, in place: op(T)·X = B, T n×n triangular
// (row-major), B n×nrhs (row-major). op(T) = T or Tᵀ. Forward or back substitution as the
// (lower, trans) pair requires; the inner loops run along contiguous rows (of X, or of T for
// a single right-hand side).

import { LA_BAD_ARGS, LA_OK, LA_SINGULAR, at, axpy, dot } from './la-internal';

/**
 * Solves op(T)·X = B in place in `b`. `lower`: T is lower triangular (else upper); `trans`:
 * op(T) = Tᵀ; `unit`: the diagonal is taken as 1 and not read. Returns 0, or 2 (singular)
 * with the row of the zero diagonal stored as i32 at `info`.
 */
export function gf_triangular_solve(n: i32, nrhs: i32, t: usize, ldt: i32, b: usize, ldb: i32, lower: i32, trans: i32, unit: i32, info: usize): i32 {
  if (n < 0 || nrhs < 0 || ldt < max<i32>(n, 1) || ldb < max<i32>(nrhs, 1)) return LA_BAD_ARGS;
  store<i32>(info, -1);
  if (unit == 0) {
    for (let i = 0; i < n; i++) {
      if (load<f64>(at(t, ldt, i, i)) == 0) {
        store<i32>(info, i);
        return LA_SINGULAR;
      }
    }
  }
  if (n == 0 || nrhs == 0) return LA_OK;
  // forward: (lower, no trans) or (upper, trans); backward otherwise.
  const forward = (lower != 0) != (trans != 0);
  // "row" access: T's row i holds the coefficients of equation i (lower/no-trans, upper/no-trans);
  // otherwise row i of T holds the column i of op(T) and we eliminate column-wise.
  const rowForm = trans == 0;
  if (forward) {
    for (let i = 0; i < n; i++) {
      const xi = at(b, ldb, i, 0);
      if (rowForm) {
        // X[i] = (B[i] − Σ_{j<i} T[i][j]·X[j]) / T[i][i]
        if (nrhs == 1 && ldb == 1) {
          store<f64>(xi, load<f64>(xi) - dot(i, at(t, ldt, i, 0), b));
        } else {
          for (let j = 0; j < i; j++) axpy(nrhs, -load<f64>(at(t, ldt, i, j)), at(b, ldb, j, 0), xi);
        }
        if (unit == 0) divRow(nrhs, xi, load<f64>(at(t, ldt, i, i)));
      } else {
        // upper, trans: X[i] /= T[i][i]; X[j] −= T[i][j]·X[i] for j > i
        if (unit == 0) divRow(nrhs, xi, load<f64>(at(t, ldt, i, i)));
        if (nrhs == 1 && ldb == 1) {
          axpy(n - i - 1, -load<f64>(xi), at(t, ldt, i, i + 1), at(b, ldb, i + 1, 0));
        } else {
          for (let j = i + 1; j < n; j++) axpy(nrhs, -load<f64>(at(t, ldt, i, j)), xi, at(b, ldb, j, 0));
        }
      }
    }
  } else {
    for (let i = n - 1; i >= 0; i--) {
      const xi = at(b, ldb, i, 0);
      if (rowForm) {
        // upper: X[i] = (B[i] − Σ_{j>i} T[i][j]·X[j]) / T[i][i]
        if (nrhs == 1 && ldb == 1) {
          store<f64>(xi, load<f64>(xi) - dot(n - i - 1, at(t, ldt, i, i + 1), at(b, ldb, i + 1, 0)));
        } else {
          for (let j = i + 1; j < n; j++) axpy(nrhs, -load<f64>(at(t, ldt, i, j)), at(b, ldb, j, 0), xi);
        }
        if (unit == 0) divRow(nrhs, xi, load<f64>(at(t, ldt, i, i)));
      } else {
        // lower, trans: X[i] /= T[i][i]; X[j] −= T[i][j]·X[i] for j < i
        if (unit == 0) divRow(nrhs, xi, load<f64>(at(t, ldt, i, i)));
        if (nrhs == 1 && ldb == 1) {
          axpy(i, -load<f64>(xi), at(t, ldt, i, 0), b);
        } else {
          for (let j = 0; j < i; j++) axpy(nrhs, -load<f64>(at(t, ldt, i, j)), xi, at(b, ldb, j, 0));
        }
      }
    }
  }
  return LA_OK;
}

function divRow(n: i32, x: usize, d: f64): void {
  for (let j = 0; j < n; j++) {
    const p = x + (<usize>j << 3);
    store<f64>(p, load<f64>(p) / d);
  }
}
