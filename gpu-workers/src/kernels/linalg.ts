/**
 * GPU `cholesky` and `eigh` on cuSOLVER (potrf, syevd). A row-major symmetric matrix read as
 * column-major is its transpose, so the reference's lower triangle is cuSOLVER's upper one:
 * potrf(UPPER) returns U with A = UᵀU, whose row-major reading is L; syevd(UPPER) returns
 * eigenvectors as columns of a column-major matrix, transposed here to the op's layout, with
 * the op's sign convention applied.
 */
import {
  CHOLESKY_OP_ID,
  EIGH_OP_ID,
  GramfleetError,
  choleskyOp,
  eighOp,
  inputAt,
  matrix,
  noConvergence,
  normaliseEigenvectorSigns,
  notPositiveDefinite,
  squareInput,
  vector,
  type CholeskyAttrs,
  type EighAttrs,
  type NdArray,
} from '@gramfleet/core';
import { BLAS, type Cusolver } from '../cuda/blas';
import type { GpuDevice } from '../device';
import { outSlot } from '../cuda/ffi';

function requireCusolver(dev: GpuDevice, op: string): Cusolver {
  if (dev.cusolver === undefined) throw new GramfleetError('GPU_LIBRARY_MISSING', `${op} needs cuSOLVER: ${dev.missing['cusolver'] ?? 'not loaded'}`, { op });
  return dev.cusolver;
}

/** GPU `cholesky`. */
export async function choleskyGpu(dev: GpuDevice, attrs: CholeskyAttrs, inputs: readonly NdArray[]): Promise<NdArray[]> {
  choleskyOp.checkInputs(attrs, inputs);
  const a = squareInput(CHOLESKY_OP_ID, inputAt(CHOLESKY_OP_ID, inputs, 0, 'a'), 'a');
  const n = a.rows;
  if (n === 0) return [matrix(0, 0)];
  const sol = requireCusolver(dev, CHOLESKY_OP_ID);
  return dev.scoped(async (s) => {
    const A = s.upload(a.data, 'a');
    const info = s.alloc(4, 'info');
    const lw = outSlot();
    sol.check(sol.api.cusolverDnDpotrfBufferSize(sol.handle, BLAS.FILL_UPPER, n, A.ptr, n, lw), 'cusolverDnDpotrf_bufferSize');
    const lwork = Number(lw[0]);
    const W = s.alloc(Math.max(1, lwork) * 8, 'potrf workspace');
    sol.check(sol.api.cusolverDnDpotrf(sol.handle, BLAS.FILL_UPPER, n, A.ptr, n, W.ptr, lwork, info.ptr), 'cusolverDnDpotrf');
    const st = await dev.download(info, new Int32Array(1));
    if ((st[0] as number) > 0) throw notPositiveDefinite(CHOLESKY_OP_ID, 'a', (st[0] as number) - 1, Number.NaN);
    if ((st[0] as number) < 0) throw new GramfleetError('GPU_CUDA_ERROR', `cusolverDnDpotrf: argument ${-(st[0] as number)} was invalid`, { info: st[0] });
    const l = await dev.download(A, new Float64Array(n * n));
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) l[i * n + j] = 0;
    return [matrix(n, n, l)];
  });
}

/** GPU `eigh`. */
export async function eighGpu(dev: GpuDevice, attrs: EighAttrs, inputs: readonly NdArray[]): Promise<NdArray[]> {
  eighOp.checkInputs(attrs, inputs);
  const a = squareInput(EIGH_OP_ID, inputAt(EIGH_OP_ID, inputs, 0, 'a'), 'a');
  const n = a.rows;
  if (n === 0) return [vector(new Float64Array(0)), matrix(0, 0)];
  const sol = requireCusolver(dev, EIGH_OP_ID);
  return dev.scoped(async (s) => {
    const A = s.upload(a.data, 'a');
    const Wd = s.alloc(n * 8, 'eigenvalues');
    const info = s.alloc(4, 'info');
    const lw = outSlot();
    sol.check(sol.api.cusolverDnDsyevdBufferSize(sol.handle, BLAS.EIG_MODE_VECTOR, BLAS.FILL_UPPER, n, A.ptr, n, Wd.ptr, lw), 'cusolverDnDsyevd_bufferSize');
    const lwork = Number(lw[0]);
    const work = s.alloc(Math.max(1, lwork) * 8, 'syevd workspace');
    sol.check(sol.api.cusolverDnDsyevd(sol.handle, BLAS.EIG_MODE_VECTOR, BLAS.FILL_UPPER, n, A.ptr, n, Wd.ptr, work.ptr, lwork, info.ptr), 'cusolverDnDsyevd');
    const st = await dev.download(info, new Int32Array(1));
    if ((st[0] as number) > 0) throw noConvergence(EIGH_OP_ID, `cusolverDnDsyevd: ${st[0]} off-diagonal elements did not converge`, { info: st[0] });
    if ((st[0] as number) < 0) throw new GramfleetError('GPU_CUDA_ERROR', `cusolverDnDsyevd: argument ${-(st[0] as number)} was invalid`, { info: st[0] });
    const w = await dev.download(Wd, new Float64Array(n));
    const cm = await dev.download(A, new Float64Array(n * n));
    // column-major: eigenvector j is cm[j*n .. j*n+n); the op wants v[i*n + j]
    const v = new Float64Array(n * n);
    for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) v[i * n + j] = cm[j * n + i] as number;
    normaliseEigenvectorSigns(n, n, v);
    return [vector(w), matrix(n, n, v)];
  });
}
