/**
 * GPU kernels of `csr-spmv` (one thread per row, summing in the reference's order, so the
 * result equals the float64 reference bit for bit) and `mode-product` (one thread per output
 * element, k ascending: also bit-identical).
 */
import { csrSpmvProblem, modeProductShape, ndarray, type CsrSpmvAttrs, type ModeProductAttrs, type NdArray } from '@gramfleet/core';
import { arg, type GpuDevice } from '../device';

/** GPU `csr-spmv`. */
export async function csrSpmvGpu(dev: GpuDevice, attrs: CsrSpmvAttrs, inputs: readonly NdArray[]): Promise<NdArray[]> {
  const p = csrSpmvProblem(attrs, inputs);
  const out = new Float64Array(p.m);
  if (p.m === 0) return [{ dtype: 'f64', shape: [0], data: out }];
  const [ip, ix, v, x, y] = inputs as [NdArray, NdArray, NdArray, NdArray, NdArray | undefined];
  const useY = y !== undefined && attrs.beta !== 0;
  return dev.scoped(async (s) => {
    const Y = s.alloc(p.m * 8, 'y');
    const Y0 = useY ? s.upload(y.data, 'y0') : Y;
    dev.launch('gf_csr_spmv', p.m, [
      arg.i32(p.m),
      arg.ptr(s.upload(ip.data, 'indptr')),
      arg.ptr(s.upload(ix.data, 'indices')),
      arg.ptr(s.upload(v.data, 'data')),
      arg.ptr(s.upload(x.data, 'x')),
      arg.f64(attrs.alpha),
      arg.f64(attrs.beta),
      arg.ptr(Y0),
      arg.i32(useY ? 1 : 0),
      arg.ptr(Y),
    ]);
    await dev.download(Y, out);
    return [{ dtype: 'f64', shape: [p.m], data: out }];
  });
}

/** GPU `mode-product`. */
export async function modeProductGpu(dev: GpuDevice, attrs: ModeProductAttrs, inputs: readonly NdArray[]): Promise<NdArray[]> {
  const sh = modeProductShape(attrs, inputs);
  const total = sh.l * sh.p * sh.r;
  const out = new Float64Array(total);
  if (total === 0) return [ndarray('f64', sh.outShape, out)];
  return dev.scoped(async (s) => {
    const X = s.upload((inputs[0] as NdArray).data, 'x');
    const M = s.upload((inputs[1] as NdArray).data, 'm');
    const Y = s.alloc(total * 8, 'y');
    dev.launch('gf_mode_product', total, [
      arg.ptr(X),
      arg.ptr(M),
      arg.ptr(Y),
      arg.i64(sh.l),
      arg.i32(sh.nd),
      arg.i64(sh.r),
      arg.i32(sh.p),
      arg.i32(attrs.transpose ? 1 : 0),
    ]);
    await dev.download(Y, out);
    return [ndarray('f64', sh.outShape, out)];
  });
}
