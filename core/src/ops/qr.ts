/**
 * `qr`: Householder QR, A = Q·R, with Q returned explicitly.
 *
 * Input: `a` [m, n] f64. Outputs: `q` and `r`. `mode: 'reduced'` (default): q [m, k],
 * r [k, n] with k = min(m, n) (numpy `qr(mode='reduced')`); `mode: 'complete'`: q [m, m],
 * r [m, n]. Q has orthonormal columns; R is upper triangular (zeros below the diagonal).
 * Signs follow LAPACK (`dgeqrf`/`dorgqr`): R's diagonal may be negative, and every backend
 * uses the same reflectors, so the factors agree entrywise.
 */
import type { NdArray } from '../array';
import { oneOf } from '../validate';
import { attrRecord, expectInputCount, inputAt, matrix, matrixInput } from './linalg-common';
import type { OpDef } from './types';

/** Validated attributes of `qr`. */
export interface QrAttrs {
  /** 'reduced' (q m×k, r k×n) or 'complete' (q m×m, r m×n). @default 'reduced' */
  readonly mode: 'reduced' | 'complete';
}

/** Wire name of the QR op. */
export const QR_OP_ID = 'qr';

/** Reference Householder QR (unblocked, LAPACK conventions); returns row-major q and r. */
export function qrReference(m: number, n: number, a: Float64Array, complete: boolean): { q: Float64Array; r: Float64Array; qcols: number; rrows: number } {
  const k = Math.min(m, n);
  const qcols = complete ? m : k;
  const rrows = complete ? m : k;
  const w = Float64Array.from(a);
  const taus = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const alpha = w[j * n + j] as number;
    let xnorm = 0;
    for (let i = j + 1; i < m; i++) xnorm = Math.hypot(xnorm, w[i * n + j] as number);
    if (xnorm === 0) continue;
    const beta = alpha > 0 ? -Math.hypot(alpha, xnorm) : Math.hypot(alpha, xnorm);
    const t = (beta - alpha) / beta;
    for (let i = j + 1; i < m; i++) w[i * n + j] = (w[i * n + j] as number) / (alpha - beta);
    taus[j] = t;
    w[j * n + j] = beta;
    for (let c = j + 1; c < n; c++) {
      let s = w[j * n + c] as number;
      for (let i = j + 1; i < m; i++) s += (w[i * n + j] as number) * (w[i * n + c] as number);
      s *= t;
      w[j * n + c] = (w[j * n + c] as number) - s;
      for (let i = j + 1; i < m; i++) w[i * n + c] = (w[i * n + c] as number) - s * (w[i * n + j] as number);
    }
  }
  const r = new Float64Array(rrows * n);
  for (let i = 0; i < Math.min(rrows, k); i++) for (let c = i; c < n; c++) r[i * n + c] = w[i * n + c] as number;
  const q = new Float64Array(m * qcols);
  for (let c = 0; c < qcols; c++) {
    const x = new Float64Array(m);
    x[c] = 1;
    for (let j = k - 1; j >= 0; j--) {
      const t = taus[j] as number;
      if (t === 0) continue;
      let s = x[j] as number;
      for (let i = j + 1; i < m; i++) s += (w[i * n + j] as number) * (x[i] as number);
      s *= t;
      x[j] = (x[j] as number) - s;
      for (let i = j + 1; i < m; i++) x[i] = (x[i] as number) - s * (w[i * n + j] as number);
    }
    for (let i = 0; i < m; i++) q[i * qcols + c] = x[i] as number;
  }
  return { q, r, qcols, rrows };
}

/** The `qr` op. */
export const qrOp: OpDef<QrAttrs> = {
  id: QR_OP_ID,
  summary: 'Householder QR with explicit Q (reduced or complete), LAPACK sign conventions',
  parseAttrs(raw: unknown): QrAttrs {
    const r = attrRecord(QR_OP_ID, raw, ['mode']);
    return Object.freeze({ mode: r['mode'] === undefined ? 'reduced' : oneOf('attrs.mode', r['mode'], ['reduced', 'complete'] as const) });
  },
  checkInputs(_attrs: QrAttrs, inputs: readonly NdArray[]): void {
    expectInputCount(QR_OP_ID, inputs, 1, 1, 'a');
    matrixInput(QR_OP_ID, inputAt(QR_OP_ID, inputs, 0, 'a'), 'a');
  },
  reference(attrs: QrAttrs, inputs: readonly NdArray[]): NdArray[] {
    qrOp.checkInputs(attrs, inputs);
    const a = matrixInput(QR_OP_ID, inputAt(QR_OP_ID, inputs, 0, 'a'), 'a');
    const { q, r, qcols, rrows } = qrReference(a.rows, a.cols, a.data, attrs.mode === 'complete');
    return [matrix(a.rows, qcols, q), matrix(rrows, a.cols, r)];
  },
};
