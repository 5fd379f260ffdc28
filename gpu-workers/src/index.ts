// Public entry of @gramfleet/gpu-workers: the GPU worker's device, its kernels and its
// configuration (the worker process itself is `dist/main.js`). The CUDA bindings, kernel
// arguments and the CPU emulation of a device, which the test suites and benchmarks drive
// directly, are in `./internal`. Explicit exports only.
export { openGpuDevice } from './device';
export type { BufferScope, GpuDescription, GpuDevice, GpuDeviceOptions } from './device';
export { GPU_DECLINES, GPU_OP_IDS, registerGpuKernels } from './kernels/register-all';
export { createGpuKernelPool } from './pool';
export type { GpuKernelPoolOptions } from './pool';
export { EXIT_NO_DEVICE_STATUS } from './exit-codes';
export { GPU_WORKER_ENV, gpuWorkerConfig } from './config';
export type { GpuWorkerConfig } from './config';
