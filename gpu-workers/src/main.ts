/**
 * Entrypoint of a GPU worker process. It opens the GPU first: without a CUDA driver or
 * device it writes one JSON error line with code `WORKER_NO_DEVICE` and the reason, and exits
 * with status 3 (`EXIT_NO_DEVICE_STATUS`) without registering. Otherwise it compiles the
 * kernels (NVRTC, cached), registers the GPU kernels and runs the shared worker runtime with
 * class `gpu` (pulling only `gf.task.gpu.>`), advertising the device in the registry.
 *
 * Environment: GRAMFLEET_NATS_URL (required), GRAMFLEET_PREFIX, GRAMFLEET_WORKER_ID,
 * GRAMFLEET_LOG_LEVEL, GRAMFLEET_ACK_WAIT_MS, GRAMFLEET_MAX_DELIVER, GRAMFLEET_GPU_ORDINAL,
 * GRAMFLEET_CUDA_LIB_DIRS (':'-separated), GRAMFLEET_GPU_MEMORY_BUDGET (bytes),
 * GRAMFLEET_GPU_TF32 (1 = TF32 for f32 GEMM), GRAMFLEET_PTX_CACHE_DIR.
 */
import { createKernelRegistry, isGramfleetError } from '@gramfleet/core';
import { createJsonLogger, drainOnSignals, registerReferenceKernels, startWorker, storeTiersFromEnv } from '@gramfleet/workers';
import { openGpuDevice, type GpuDevice } from './device';
import { registerGpuKernels } from './kernels/register-all';
import { createGpuKernelPool } from './pool';
import { BUNDLED_CUDA_LIB_DIR, DEFAULT_PTX_CACHE_DIR } from './paths';
import { EXIT_NO_DEVICE_STATUS } from './exit-codes';


async function main(): Promise<void> {
  const env = process.env;
  const natsUrl = env['GRAMFLEET_NATS_URL'];
  const workerId = env['GRAMFLEET_WORKER_ID'];
  const level = (env['GRAMFLEET_LOG_LEVEL'] ?? 'info') as 'debug' | 'info' | 'warn' | 'error';
  const log = createJsonLogger({ proc: 'gpu-worker', ...(workerId !== undefined ? { workerId } : {}) }, level);
  if (natsUrl === undefined) {
    log.error('GRAMFLEET_NATS_URL is not set');
    process.exit(2);
  }
  const libDirs = [...(env['GRAMFLEET_CUDA_LIB_DIRS'] ?? '').split(':').filter((d) => d !== ''), BUNDLED_CUDA_LIB_DIR];
  let device: GpuDevice;
  try {
    device = openGpuDevice({
      libDirs, ptxCacheDir: env['GRAMFLEET_PTX_CACHE_DIR'] ?? DEFAULT_PTX_CACHE_DIR, tf32: env['GRAMFLEET_GPU_TF32'] === '1',
      ...(env['GRAMFLEET_GPU_ORDINAL'] !== undefined ? { ordinal: Number(env['GRAMFLEET_GPU_ORDINAL']) } : {}),
      ...(env['GRAMFLEET_GPU_MEMORY_BUDGET'] !== undefined ? { memoryBudgetBytes: Number(env['GRAMFLEET_GPU_MEMORY_BUDGET']) } : {}),
    });
  } catch (e) {
    const code = isGramfleetError(e) ? e.code : 'GPU_CUDA_ERROR';
    log.error(code === 'WORKER_NO_DEVICE' ? 'no CUDA device: this GPU worker exits without registering' : 'the GPU could not be opened; exiting', { code, err: (e as Error).message });
    process.exit(code === 'WORKER_NO_DEVICE' ? EXIT_NO_DEVICE_STATUS : 1);
  }
  const registry = createKernelRegistry();
  registerReferenceKernels(registry);
  const ops = registerGpuKernels(registry, device);
  log.info('GPU opened', { device: device.description, gpuOps: ops, missing: device.missing });
  const pool = createGpuKernelPool({ device, registry });
  const dataPlane = {
    ...(env['GRAMFLEET_ACK_WAIT_MS'] !== undefined ? { ackWaitMs: Number(env['GRAMFLEET_ACK_WAIT_MS']) } : {}),
    ...(env['GRAMFLEET_MAX_DELIVER'] !== undefined ? { maxDeliver: Number(env['GRAMFLEET_MAX_DELIVER']) } : {}),
  };
  const w = await startWorker({
    natsUrl, cls: 'gpu', pool, log, ops, dataPlane, device: { ...device.description }, store: storeTiersFromEnv(env),
    ...(env['GRAMFLEET_PREFIX'] !== undefined ? { prefix: env['GRAMFLEET_PREFIX'] } : {}),
    ...(workerId !== undefined ? { workerId } : {}),
  });
  drainOnSignals(w, log, env);
}

main().catch((e: Error) => {
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'gpu worker failed to start', code: isGramfleetError(e) ? e.code : undefined, err: e.message }) + '\n');
  process.exit(1);
});
