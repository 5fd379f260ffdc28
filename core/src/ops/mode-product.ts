/**
 * `mode-product`: the mode-d product of a D-way tensor with a matrix, Y = X ×_d op(M) — the
 * building block of Kronecker mat-vecs ((K₁⊗…⊗K_D)·vec(X) is X ×₁ K₁ … ×_D K_D).
 *
 * Inputs: `x` with shape [n_0, …, n_{D−1}] (row-major, last axis fastest, as numpy's
 * `reshape`), `m` a matrix [p, n_d] (or [n_d, p] with `transpose: true`, which uses Mᵀ).
 * Output: `y` with the shape of x, n_d replaced by p:
 * y[i_0 … j … i_{D−1}] = Σ_k op(M)[j, k]·x[i_0 … k … i_{D−1}].
 */
import type { NdArray } from '../array';
import { GramfleetError } from '../errors';
import { int } from '../validate';
import { attrRecord, boolAttr, expectInputCount, inputAt, matrixInput, requireFiniteF64 } from './linalg-common';
import { ndarray } from '../array';
import type { OpDef } from './types';

/** Validated attributes of `mode-product`. */
export interface ModeProductAttrs {
  /** The axis d of x that the matrix acts on (0-based). */
  readonly mode: number;
  /** Use Mᵀ (M given as [n_d, p]). @default false */
  readonly transpose: boolean;
}

/** Wire name of the mode product op. */
export const MODE_PRODUCT_OP_ID = 'mode-product';

/** The (L, n_d, R, p) view of a validated mode product and the output shape. */
export interface ModeProductShape {
  readonly l: number;
  readonly nd: number;
  readonly r: number;
  readonly p: number;
  readonly outShape: readonly number[];
}

/** Validates inputs and returns the (L, n_d, R, p) view. */
export function modeProductShape(attrs: ModeProductAttrs, inputs: readonly NdArray[]): ModeProductShape {
  const op = MODE_PRODUCT_OP_ID;
  expectInputCount(op, inputs, 2, 2, 'x, m');
  const x = inputAt(op, inputs, 0, 'x');
  requireFiniteF64(op, x, 'x');
  if (attrs.mode >= x.shape.length) {
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `attrs.mode must be < ${x.shape.length} (the rank of x), got ${attrs.mode}`, {
      field: 'attrs.mode',
      bound: `< ${x.shape.length}`,
      value: attrs.mode,
    });
  }
  const mm = matrixInput(op, inputAt(op, inputs, 1, 'm'), 'm');
  const nd = x.shape[attrs.mode] as number;
  const inner = attrs.transpose ? mm.rows : mm.cols;
  const p = attrs.transpose ? mm.cols : mm.rows;
  if (inner !== nd) {
    throw new GramfleetError(
      'INPUT_SHAPE_MISMATCH',
      `${op}: m must have ${nd} ${attrs.transpose ? 'rows' : 'columns'} (x.shape[${attrs.mode}]), got shape [${mm.rows},${mm.cols}]`,
      { op, argument: 'm', expected: nd, shape: [mm.rows, mm.cols] },
    );
  }
  let l = 1;
  let r = 1;
  x.shape.forEach((s, i) => {
    if (i < attrs.mode) l *= s;
    else if (i > attrs.mode) r *= s;
  });
  const outShape = x.shape.map((s, i) => (i === attrs.mode ? p : s));
  return { l, nd, r, p, outShape };
}

/** Reference mode product (plain loops, f64). */
export function modeProductReference(attrs: ModeProductAttrs, s: ModeProductShape, x: Float64Array, m: Float64Array): Float64Array {
  const y = new Float64Array(s.l * s.p * s.r);
  for (let l = 0; l < s.l; l++) {
    for (let j = 0; j < s.p; j++) {
      for (let k = 0; k < s.nd; k++) {
        const mjk = attrs.transpose ? (m[k * s.p + j] as number) : (m[j * s.nd + k] as number);
        const xo = (l * s.nd + k) * s.r;
        const yo = (l * s.p + j) * s.r;
        for (let r = 0; r < s.r; r++) y[yo + r] = (y[yo + r] as number) + mjk * (x[xo + r] as number);
      }
    }
  }
  return y;
}

/** The `mode-product` op. */
export const modeProductOp: OpDef<ModeProductAttrs> = {
  id: MODE_PRODUCT_OP_ID,
  summary: 'mode-d product of a row-major tensor with a matrix (Kronecker mat-vec building block)',
  parseAttrs(raw: unknown): ModeProductAttrs {
    const r = attrRecord(MODE_PRODUCT_OP_ID, raw, ['mode', 'transpose']);
    return Object.freeze({ mode: int('attrs.mode', r['mode'], 0, 31), transpose: boolAttr(r, 'transpose', false) });
  },
  checkInputs(attrs: ModeProductAttrs, inputs: readonly NdArray[]): void {
    modeProductShape(attrs, inputs);
  },
  reference(attrs: ModeProductAttrs, inputs: readonly NdArray[]): NdArray[] {
    const s = modeProductShape(attrs, inputs);
    const x = inputAt(MODE_PRODUCT_OP_ID, inputs, 0, 'x').data as Float64Array;
    const m = inputAt(MODE_PRODUCT_OP_ID, inputs, 1, 'm').data as Float64Array;
    return [ndarray('f64', s.outShape, modeProductReference(attrs, s, x, m))];
  },
};
