/**
 * Preconditioners for the Krylov solvers, applied on the right (A M⁻¹ y = b, x = M⁻¹ y):
 * none, Jacobi (M = diag A) and ILU(0) (incomplete LU on A's own sparsity pattern).
 */
import type { CsrArrays } from '../array';
import { GramfleetError } from '../errors';

/** The preconditioners. */
export const PRECONDITIONERS = ['none', 'jacobi', 'ilu0'] as const;
/** One of {@link PRECONDITIONERS}. */
export type PrecondKind = (typeof PRECONDITIONERS)[number];

/** out = M⁻¹ x (`out` and `x` do not alias). */
export interface Preconditioner {
  readonly kind: PrecondKind;
  apply(x: Float64Array, out: Float64Array): void;
}

/** y = A x for CSR A (the loop of the `csr-spmv` reference, without its per-call checks). */
export function csrMatvec(a: CsrArrays, x: Float64Array, y: Float64Array): void {
  const { indptr, indices, data } = a;
  const n = a.shape[0];
  for (let i = 0; i < n; i++) {
    let s = 0;
    const e = indptr[i + 1] as number;
    for (let p = indptr[i] as number; p < e; p++) s += (data[p] as number) * (x[indices[p] as number] as number);
    y[i] = s;
  }
}

function diagonalPositions(a: CsrArrays): Int32Array {
  const n = a.shape[0];
  const d = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    for (let p = a.indptr[i] as number; p < (a.indptr[i + 1] as number); p++) if (a.indices[p] === i) d[i] = p;
    if (d[i] === -1 || a.data[d[i] as number] === 0) {
      throw new GramfleetError('KERNEL_STATUS', `preconditioner: zero or missing diagonal in row ${i}`, { field: 'precond', row: i });
    }
  }
  return d;
}

/** Builds M⁻¹ for `a` (square CSR with sorted column indices). */
export function buildPreconditioner(kind: PrecondKind, a: CsrArrays): Preconditioner {
  const n = a.shape[0];
  if (kind === 'none') return { kind, apply: (x, out) => out.set(x) };
  const diag = diagonalPositions(a);
  if (kind === 'jacobi') {
    const inv = new Float64Array(n);
    for (let i = 0; i < n; i++) inv[i] = 1 / (a.data[diag[i] as number] as number);
    return {
      kind,
      apply: (x, out) => {
        for (let i = 0; i < n; i++) out[i] = (x[i] as number) * (inv[i] as number);
      },
    };
  }
  // ILU(0): L unit lower and U upper share A's pattern.
  const { indptr, indices } = a;
  const lu = Float64Array.from(a.data);
  const pos = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const s = indptr[i] as number;
    const e = indptr[i + 1] as number;
    for (let p = s; p < e; p++) pos[indices[p] as number] = p;
    for (let p = s; p < e && (indices[p] as number) < i; p++) {
      const k = indices[p] as number;
      const lik = (lu[p] as number) / (lu[diag[k] as number] as number);
      lu[p] = lik;
      for (let q = (diag[k] as number) + 1; q < (indptr[k + 1] as number); q++) {
        const at = pos[indices[q] as number] as number;
        if (at >= 0) lu[at] = (lu[at] as number) - lik * (lu[q] as number);
      }
    }
    for (let p = s; p < e; p++) pos[indices[p] as number] = -1;
    if (lu[diag[i] as number] === 0) throw new GramfleetError('KERNEL_STATUS', `ilu0: zero pivot in row ${i}`, { field: 'precond', row: i });
  }
  return {
    kind,
    apply(x, out) {
      for (let i = 0; i < n; i++) {
        let s = x[i] as number;
        for (let p = indptr[i] as number; p < (diag[i] as number); p++) s -= (lu[p] as number) * (out[indices[p] as number] as number);
        out[i] = s;
      }
      for (let i = n - 1; i >= 0; i--) {
        let s = out[i] as number;
        const d = diag[i] as number;
        for (let p = d + 1; p < (indptr[i + 1] as number); p++) s -= (lu[p] as number) * (out[indices[p] as number] as number);
        out[i] = s / (lu[d] as number);
      }
    },
  };
}
