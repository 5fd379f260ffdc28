/**
 * The GPU conformance suite (gpu-suite.ts) on a real GPU: runs where a CUDA device is found;
 * elsewhere it is skipped with the reason printed (e.g. "libcuda.so.1 not found"). Ops whose
 * library (cuBLAS, cuSOLVER) is absent on the GPU machine are skipped by name with the
 * loader's message.
 */
import { openGpuDevice } from '@gramfleet/gpu-workers';
import { BUNDLED_CUDA_LIB_DIR } from '@gramfleet/gpu-workers/internal';
import { defineGpuConformance } from './gpu-suite';

defineGpuConformance('GPU backend conformance on a CUDA device (float64 reference as oracle)', () => {
  const extra = (process.env['GRAMFLEET_CUDA_LIB_DIRS'] ?? '').split(':').filter((d) => d !== '');
  return openGpuDevice({ libDirs: [...extra, BUNDLED_CUDA_LIB_DIR] });
});
