/**
 * `eigh`: all eigenpairs of a real symmetric matrix, eigenvalues ascending (numpy `eigh`).
 *
 * Input: `a` [n, n] f64, symmetric (checked to `symmetryTol`·max|a|; the lower triangle is
 * used). Outputs: `w` [n] ascending eigenvalues; `v` [n, n] with eigenvector j in column j
 * (A·v[:, j] = w[j]·v[:, j]). Sign convention: the entry of largest magnitude of each
 * eigenvector is positive (ties: the first), so every backend returns the same signs for
 * simple eigenvalues.
 */
import type { NdArray } from '../array';
import { num } from '../validate';
import { attrRecord, expectInputCount, inputAt, matrix, noConvergence, requireSymmetric, squareInput, vector } from './linalg-common';
import type { OpDef } from './types';

/** Validated attributes of `eigh`. */
export interface EighAttrs {
  /** Relative symmetry tolerance (0 disables the check). @default 1e-12 */
  readonly symmetryTol: number;
}

/** Wire name of the symmetric eigensolver op. */
export const EIGH_OP_ID = 'eigh';

/** Flips each column of the n×k row-major `v` so that its largest-magnitude entry is positive. */
export function normaliseEigenvectorSigns(n: number, k: number, v: Float64Array): void {
  for (let j = 0; j < k; j++) {
    let best = 0;
    let arg = 0;
    for (let i = 0; i < n; i++) {
      const a = Math.abs(v[i * k + j] as number);
      if (a > best) {
        best = a;
        arg = i;
      }
    }
    if ((v[arg * k + j] as number) < 0) for (let i = 0; i < n; i++) v[i * k + j] = -(v[i * k + j] as number);
  }
}

/**
 * Reference symmetric eigensolver: cyclic Jacobi rotations (slow, O(n³) per sweep, but
 * simple and accurate: the test oracle). Returns ascending eigenvalues and the n×n
 * eigenvector matrix (columns), signs normalised.
 */
export function eighReference(n: number, a: Float64Array): { w: Float64Array; v: Float64Array } {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) m[i * n + j] = m[j * n + i] = a[i * n + j] as number;
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += (m[i] as number) ** 2;
  // entries below `skip` are treated as converged zeros (their total stays < 1e-34·‖A‖²)
  const skip = (1e-17 * Math.sqrt(total)) / Math.max(n, 1);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) off += (m[i * n + j] as number) ** 2;
    if (off <= 1e-32 * total || off === 0) break;
    if (sweep === 99) throw noConvergence(EIGH_OP_ID, 'Jacobi sweeps exhausted', { sweeps: 100 });
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q] as number;
        if (Math.abs(apq) <= skip) continue;
        const app = m[p * n + p] as number;
        const aqq = m[q * n + q] as number;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p] as number;
          const mkq = m[k * n + q] as number;
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k] as number;
          const mqk = m[q * n + k] as number;
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        m[p * n + q] = 0;
        m[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p] as number;
          const vkq = v[k * n + q] as number;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => (m[x * n + x] as number) - (m[y * n + y] as number));
  const w = new Float64Array(n);
  const vs = new Float64Array(n * n);
  order.forEach((src, j) => {
    w[j] = m[src * n + src] as number;
    for (let i = 0; i < n; i++) vs[i * n + j] = v[i * n + src] as number;
  });
  normaliseEigenvectorSigns(n, n, vs);
  return { w, v: vs };
}

/** Parses the shared `symmetryTol` attribute. */
export function parseSymmetryTol(r: Record<string, unknown>): number {
  return r['symmetryTol'] === undefined ? 1e-12 : num('attrs.symmetryTol', r['symmetryTol'], { min: 0 });
}

/** The `eigh` op. */
export const eighOp: OpDef<EighAttrs> = {
  id: EIGH_OP_ID,
  summary: 'all eigenpairs of a symmetric matrix, ascending (w, v with eigenvectors as columns)',
  parseAttrs(raw: unknown): EighAttrs {
    const r = attrRecord(EIGH_OP_ID, raw, ['symmetryTol']);
    return Object.freeze({ symmetryTol: parseSymmetryTol(r) });
  },
  checkInputs(attrs: EighAttrs, inputs: readonly NdArray[]): void {
    expectInputCount(EIGH_OP_ID, inputs, 1, 1, 'a');
    const m = squareInput(EIGH_OP_ID, inputAt(EIGH_OP_ID, inputs, 0, 'a'), 'a');
    if (attrs.symmetryTol > 0) requireSymmetric(EIGH_OP_ID, m, 'a', attrs.symmetryTol);
  },
  reference(attrs: EighAttrs, inputs: readonly NdArray[]): NdArray[] {
    eighOp.checkInputs(attrs, inputs);
    const m = squareInput(EIGH_OP_ID, inputAt(EIGH_OP_ID, inputs, 0, 'a'), 'a');
    const { w, v } = eighReference(m.rows, m.data);
    return [vector(w), matrix(m.rows, m.rows, v)];
  },
};
