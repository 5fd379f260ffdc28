/**
 * `kernel-rows-matmul`: K(X[rows], Z)·A, where X = vstack(x_0, …, x_{k−1}) is given as row
 * blocks that stay resident in the workers' input cache (content-addressed, uploaded once)
 * and `rows` names the rows of X to use. A loop that visits X in random batches (EigenPro)
 * then sends m row indices per batch instead of the m×d batch rows.
 *
 * Inputs: `rows` (i32 [m], each in [0, Σ n_b)), `z` ([p, d], f64 or f32), `a` (f64 [p, c]),
 * then the blocks `x_b` ([n_b, d], the dtype of `z`), k ≥ 1. Attrs: `kernel`, `bandwidth`
 * (as `kernel-block-matmul`), optional `accumulate` (`f64` | `f32`, as there). Output: f64 [m, c]. The gathered rows go through exactly the
 * `kernel-block-matmul` computation, so results equal that op on the gathered X_B bit for bit.
 */
import type { NdArray } from '../array';
import { GramfleetError } from '../errors';
import { oneOf } from '../validate';
import { attrRecord, expectInputCount, inputAt } from './linalg-common';
import { requireDtype, requirePositive, shapeMismatch } from './dense-common';
import { KERNEL_FUNCTIONS, accumulateAttr, cacheAttr, kernelBlockMatmulOp, type KernelBlockAttrs } from './kernel-block';
import type { OpDef } from './types';

/** Wire name. */
export const KERNEL_ROWS_MATMUL_OP_ID = 'kernel-rows-matmul';

/** Most row blocks one call may name. */
export const KERNEL_ROWS_MAX_BLOCKS = 4096;

function parse(raw: unknown): KernelBlockAttrs {
  const op = KERNEL_ROWS_MATMUL_OP_ID;
  const r = attrRecord(op, raw, ['kernel', 'bandwidth', 'accumulate', 'cache']);
  if (r['kernel'] === undefined)
    throw new GramfleetError('INPUT_INVALID', `${op}: attrs.kernel is required (one of ${KERNEL_FUNCTIONS.join('|')})`, { op, argument: 'kernel' });
  const kernel = oneOf('attrs.kernel', r['kernel'], KERNEL_FUNCTIONS);
  if (r['bandwidth'] === undefined) throw new GramfleetError('INPUT_INVALID', `${op}: attrs.bandwidth is required (σ > 0)`, { op, argument: 'bandwidth' });
  const bandwidth = requirePositive(op, 'bandwidth', r['bandwidth']);
  return Object.freeze({
    kernel,
    bandwidth,
    n: undefined,
    m: undefined,
    d: undefined,
    offsetX: 0,
    ldx: undefined,
    offsetZ: 0,
    ldz: undefined,
    beta: 0,
    accumulate: accumulateAttr(r),
    cache: cacheAttr(op, r),
  });
}

/**
 * Checks the inputs and returns `[X_B, z, a]` — X_B the gathered rows ([m, d], z's dtype) —
 * ready for `kernel-block-matmul`. Only the gathered rows are checked for finiteness (the
 * matmul's own checks), not every block on every call.
 */
export function kernelRowsMatmulInputs(inputs: readonly NdArray[]): [NdArray, NdArray, NdArray] {
  const op = KERNEL_ROWS_MATMUL_OP_ID;
  expectInputCount(op, inputs, 4, 3 + KERNEL_ROWS_MAX_BLOCKS, 'rows, z, a, x_0[, x_1, …]');
  const rows = inputAt(op, inputs, 0, 'rows');
  const z = inputAt(op, inputs, 1, 'z');
  const a = inputAt(op, inputs, 2, 'a');
  requireDtype(op, rows, 'rows', ['i32']);
  if (rows.shape.length !== 1) throw shapeMismatch(op, 'rows', '[m]', rows.shape);
  requireDtype(op, z, 'z', ['f64', 'f32']);
  if (z.shape.length !== 2) throw shapeMismatch(op, 'z', '[p,d]', z.shape);
  const d = z.shape[1] as number;
  const blocks = inputs.slice(3);
  const starts: number[] = [];
  let total = 0;
  blocks.forEach((b, i) => {
    requireDtype(op, b, `x_${i}`, [z.dtype]);
    if (b.shape.length !== 2 || b.shape[1] !== d) throw shapeMismatch(op, `x_${i}`, `[n_${i},${d}] (as many columns as z)`, b.shape);
    starts.push(total);
    total += b.shape[0] as number;
  });
  const idx = rows.data as Int32Array;
  const m = idx.length;
  const out = z.dtype === 'f32' ? new Float32Array(m * d) : new Float64Array(m * d);
  let blk = 0;
  for (let i = 0; i < m; i++) {
    const r = idx[i] as number;
    if (!(r >= 0 && r < total))
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `${op}: rows[${i}] = ${r} must be in [0, ${total}) (rows of the ${blocks.length} blocks)`, {
        op,
        argument: 'rows',
        index: i,
        value: r,
        bound: `[0, ${total})`,
      });
    // Blocks are few and rows often ascend within a block: walk from the last block found.
    if (r < (starts[blk] as number) || r >= (starts[blk] as number) + ((blocks[blk] as NdArray).shape[0] as number)) {
      let lo = 0,
        hi = blocks.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((starts[mid] as number) <= r) lo = mid;
        else hi = mid - 1;
      }
      blk = lo; // the last block starting at or before r: never an empty one, since r < total
    }
    const off = (r - (starts[blk] as number)) * d;
    out.set(((blocks[blk] as NdArray).data as Float64Array).subarray(off, off + d), i * d);
  }
  const xb = { dtype: z.dtype, shape: [m, d], data: out } as NdArray;
  return [xb, z, a];
}

/** The `kernel-rows-matmul` op: K(vstack(x_0…)[rows], Z)·A, the blocks resident on the workers. */
export const kernelRowsMatmulOp: OpDef<KernelBlockAttrs> = {
  id: KERNEL_ROWS_MATMUL_OP_ID,
  summary: 'fused kernel block times matrix K(X[rows], Z)·A with X given as resident row blocks',
  parseAttrs: parse,
  checkInputs(attrs: KernelBlockAttrs, inputs: readonly NdArray[]): void {
    kernelBlockMatmulOp.checkInputs(attrs, kernelRowsMatmulInputs(inputs));
  },
  reference(attrs: KernelBlockAttrs, inputs: readonly NdArray[]): NdArray[] {
    return kernelBlockMatmulOp.reference(attrs, kernelRowsMatmulInputs(inputs));
  },
};
