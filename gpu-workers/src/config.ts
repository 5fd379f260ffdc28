/**
 * The GPU worker's configuration: every environment variable it reads, validated before
 * anything starts (main.ts reads nothing else): the variables of every worker (WORKER_ENV of
 * @gramfleet/workers) and the GPU's own. docs/config.md lists them (generated from here).
 */
import { HEALTH_PORT_ENV, OTLP_ENDPOINT_ENV, envFlag, envInt, envList, envString, readEnv, type Env, type EnvValues } from '@gramfleet/core';
import { WORKER_ENV } from '@gramfleet/workers';
import { DEFAULT_PTX_CACHE_DIR } from './paths';

/** The GPU worker's variables. */
export const GPU_WORKER_ENV = {
  ...WORKER_ENV,
  gpuOrdinal: envInt('GRAMFLEET_GPU_ORDINAL', { meaning: 'the CUDA device this worker opens', min: 0, max: 1023, shownDefault: '0' }),
  cudaLibDirs: envList('GRAMFLEET_CUDA_LIB_DIRS', ':', {
    meaning: 'directories searched for libcuda, NVRTC, cuBLAS and cuSOLVER before the bundled .gramfleet/cuda/lib',
  }),
  gpuMemoryBudget: envInt('GRAMFLEET_GPU_MEMORY_BUDGET', {
    meaning: 'device memory the worker may allocate, bytes',
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    unit: 'bytes',
    shownDefault: '80% of the free device memory',
  }),
  tf32: envFlag('GRAMFLEET_GPU_TF32', { meaning: 'f32 GEMMs in TF32 on the tensor cores' }),
  healthPort: HEALTH_PORT_ENV,
  otlpEndpoint: OTLP_ENDPOINT_ENV,
  ptxCacheDir: envString('GRAMFLEET_PTX_CACHE_DIR', {
    meaning: 'on-disk cache of the PTX NVRTC compiles',
    default: DEFAULT_PTX_CACHE_DIR,
    shownDefault: '.gramfleet/cuda/ptx-cache',
  }),
} as const;

/** The GPU worker's configuration. */
export type GpuWorkerConfig = EnvValues<typeof GPU_WORKER_ENV>;

/** Reads and validates the GPU worker's configuration (a typed error names the first bad variable). */
export function gpuWorkerConfig(env: Env = process.env): GpuWorkerConfig {
  return readEnv(GPU_WORKER_ENV, env);
}
