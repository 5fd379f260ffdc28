// Internal entry of @gramfleet/gpu-workers (`@gramfleet/gpu-workers/internal`), for the test
// suites and benchmarks only: the CUDA driver and cuBLAS bindings, kernel arguments, the
// bundled CUDA library folder and the CPU emulation of a device. Not part of the public API.
// Explicit exports only.
export { openDriver } from './cuda/driver';
export { BLAS } from './cuda/blas';
export { arg } from './device';
export type { KernelArg } from './device';
export { BUNDLED_CUDA_LIB_DIR } from './paths';
export { openEmulatedGpuDevice } from './emulation/emulated-device';
export type { EmulatedGpuOptions } from './emulation/emulated-device';
