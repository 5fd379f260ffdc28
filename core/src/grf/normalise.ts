/**
 * The symmetrically normalised, scaled adjacency W = c·D^{-1/2} A D^{-1/2} on which graph
 * random features walk (docs/workloads.md §1).
 */
import type { CsrArrays } from '../array';
import { GramfleetError } from '../errors';
import { num } from '../validate';

/**
 * W values aligned with `csr.indices`: W_ij = c · A_ij · (d_i^{-1/2} · d_j^{-1/2}), where d is
 * the weighted degree (row sum). Rows of zero degree have no stored entries to scale.
 * Throws `INPUT_NOT_SQUARE` / `INPUT_NEGATIVE_WEIGHT` / `INPUT_SHAPE_MISMATCH`.
 */
export function normalisedWeights(csr: CsrArrays, c: number): Float64Array {
  num('scale', c);
  const [n, n2] = csr.shape;
  if (n !== n2) throw new GramfleetError('INPUT_NOT_SQUARE', `adjacency must be square, got ${n}x${n2}`, { shape: [n, n2] });
  if (csr.indptr.length !== n + 1 || csr.indices.length !== csr.data.length) {
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', 'adjacency CSR arrays do not agree with its shape', {
      n,
      indptr: csr.indptr.length,
      indices: csr.indices.length,
      data: csr.data.length,
    });
  }
  const isd = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let d = 0;
    for (let p = csr.indptr[i] ?? 0; p < (csr.indptr[i + 1] ?? 0); p++) {
      const a = csr.data[p] ?? 0;
      if (a < 0) throw new GramfleetError('INPUT_NEGATIVE_WEIGHT', `adjacency weight at row ${i} is negative (${a})`, { row: i, value: a });
      d += a;
    }
    isd[i] = d > 0 ? 1 / Math.sqrt(d) : 0;
  }
  const w = new Float64Array(csr.data.length);
  for (let i = 0; i < n; i++) {
    const si = isd[i] ?? 0;
    for (let p = csr.indptr[i] ?? 0; p < (csr.indptr[i + 1] ?? 0); p++) {
      w[p] = c * (csr.data[p] ?? 0) * (si * (isd[csr.indices[p] ?? 0] ?? 0));
    }
  }
  return w;
}
