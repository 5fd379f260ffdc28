/**
 * The GPU conformance suite (gpu-suite.ts) on the CPU emulation of the device (no GPU): the
 * CUDA C kernels compiled as C++ (-ffp-contract=off) and launched through the real host code
 * with packed kernelParams, cuBLAS/cuSOLVER emulated from their specifications, staged copies
 * forced with tiny pinned buffers. It verifies the kernels' logic and the host side of every
 * GPU op; it is not evidence that the code runs on a GPU (gpu.test.ts is). Skipped, with the
 * reason printed, when no C++ compiler is found.
 */
import { openEmulatedGpuDevice } from '@gramfleet/gpu-workers/internal';
import { defineGpuConformance } from './gpu-suite';

defineGpuConformance('GPU backend conformance on the CPU emulation (not a GPU)', () =>
  openEmulatedGpuDevice({ copy: { stagingBytes: 4096, stages: 2, directBelowBytes: 1024 } }),
);
