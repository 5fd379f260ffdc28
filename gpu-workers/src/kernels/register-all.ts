/**
 * The one explicit list of GPU kernels. {@link registerGpuKernels} registers, under backend
 * `'gpu'`, every kernel whose libraries the device has: the NVRTC kernels always, the cuBLAS
 * ones when cuBLAS loaded, the cuSOLVER ones when cuSOLVER loaded. The returned op list is
 * what the worker advertises in the registry (routing sends an op to GPU workers only when
 * one advertises it). Adding a GPU kernel: a file in this folder and one line here.
 */
import {
  choleskyOp,
  csrSpmvOp,
  eighOp,
  gemmOp,
  gemvOp,
  grfWalksOp,
  kernelBlockMatmulOp,
  kernelBlockOp,
  modeProductOp,
  type GrfWalksAttrs,
  type KernelRegistry,
  type NdArray,
  type OpDef,
} from '@gramfleet/core';
import type { GpuDevice } from '../device';
import { gemmGpu, gemvGpu, kernelBlockGpuImpl, kernelBlockMatmulGpuImpl } from './dense';
import { csrSpmvGpu, modeProductGpu } from './sparse';
import { grfWalksGpu, grfWalksGpuDeclines } from './grf-walks';
import { choleskyGpu, eighGpu } from './linalg';

/** Every op the GPU backend implements when all libraries are present. */
export const GPU_OP_IDS: readonly string[] = [
  'cholesky',
  'csr-spmv',
  'eigh',
  'gemm',
  'gemv',
  'grf-walks',
  'kernel-block',
  'kernel-block-matmul',
  'mode-product',
];

/** Ops whose GPU kernel declines some attributes: the worker then runs the reference and says so. */
export const GPU_DECLINES: Readonly<Record<string, (attrs: unknown) => string | undefined>> = {
  'grf-walks': (a) => grfWalksGpuDeclines(a as GrfWalksAttrs),
};

/** Registers the GPU kernels available on `dev`; returns the registered op ids. */
export function registerGpuKernels(registry: KernelRegistry, dev: GpuDevice): string[] {
  const reg = <A>(op: OpDef<A>, impl: (d: GpuDevice, attrs: A, inputs: readonly NdArray[]) => Promise<NdArray[]>): void => {
    registry.register('gpu', op, (attrs, inputs) => impl(dev, attrs, inputs));
  };
  // NVRTC kernels (need only the driver and NVRTC)
  reg(csrSpmvOp, csrSpmvGpu);
  reg(modeProductOp, modeProductGpu);
  reg(grfWalksOp, grfWalksGpu);
  // cuBLAS GEMM-shaped work
  if (dev.cublas !== undefined) {
    reg(gemmOp, gemmGpu);
    reg(gemvOp, gemvGpu);
    reg(kernelBlockOp, kernelBlockGpuImpl);
    reg(kernelBlockMatmulOp, kernelBlockMatmulGpuImpl);
  }
  // cuSOLVER factorisations
  if (dev.cusolver !== undefined) {
    reg(choleskyOp, choleskyGpu);
    reg(eighOp, eighGpu);
  }
  return registry.ops('gpu');
}
