/**
 * Entrypoint of a GPU worker process. It opens the GPU first: without a CUDA driver or
 * device it writes one JSON error line with code `WORKER_NO_DEVICE` and the reason, and exits
 * with status 3 (`EXIT_NO_DEVICE_STATUS`) without registering. Otherwise it compiles the
 * kernels (NVRTC, cached), registers the GPU kernels and runs the shared worker runtime with
 * class `gpu` (pulling only `gf.task.gpu.>`), advertising the device in the registry.
 *
 * Configuration: the environment, read and validated by config.ts before anything starts
 * (docs/config.md lists the variables); a bad value exits 2 with one JSON line naming it.
 */
import { createKernelRegistry, isGramfleetError } from '@gramfleet/core';
import {
  createJsonLogger,
  createProcessMetrics,
  drainOnSignals,
  registerReferenceKernels,
  startHealthServer,
  startTracing,
  startWorker,
} from '@gramfleet/workers';
import { openGpuDevice, type GpuDevice } from './device';
import { registerGpuKernels } from './kernels/register-all';
import { createGpuKernelPool } from './pool';
import { BUNDLED_CUDA_LIB_DIR } from './paths';
import { EXIT_NO_DEVICE_STATUS } from './exit-codes';
import { gpuWorkerConfig, type GpuWorkerConfig } from './config';

async function main(): Promise<void> {
  let cfg: GpuWorkerConfig;
  try {
    cfg = gpuWorkerConfig();
  } catch (e) {
    process.stderr.write(
      JSON.stringify({
        level: 'error',
        msg: 'bad configuration; the GPU worker does not start',
        code: isGramfleetError(e) ? e.code : undefined,
        field: isGramfleetError(e) ? e.details['field'] : undefined,
        err: (e as Error).message,
      }) + '\n',
    );
    process.exit(2);
  }
  const workerId = cfg.workerId;
  const log = createJsonLogger({ proc: 'gpu-worker', ...(workerId !== undefined ? { workerId } : {}) }, cfg.logLevel);
  // The chart probes every worker container (deploy/: /healthz, /readyz on GRAMFLEET_HEALTH_PORT).
  let serving = false;
  const metrics = createProcessMetrics({ proc: 'gpu-worker' });
  if (cfg.otlpEndpoint !== undefined)
    startTracing({
      endpoint: cfg.otlpEndpoint,
      serviceName: 'gramfleet-worker',
      activeContext: false,
      attributes: { 'gramfleet.worker_class': 'gpu', ...(cfg.workerId !== undefined ? { 'gramfleet.worker_id': cfg.workerId } : {}) },
    });
  if (cfg.healthPort !== undefined) await startHealthServer({ port: cfg.healthPort, ready: () => serving, metrics: () => metrics.render() });
  const libDirs = [...cfg.cudaLibDirs, BUNDLED_CUDA_LIB_DIR];
  let device: GpuDevice;
  try {
    device = openGpuDevice({
      libDirs,
      ptxCacheDir: cfg.ptxCacheDir,
      tf32: cfg.tf32,
      ...(cfg.gpuOrdinal !== undefined ? { ordinal: cfg.gpuOrdinal } : {}),
      ...(cfg.gpuMemoryBudget !== undefined ? { memoryBudgetBytes: cfg.gpuMemoryBudget } : {}),
    });
  } catch (e) {
    const code = isGramfleetError(e) ? e.code : 'GPU_CUDA_ERROR';
    log.error(code === 'WORKER_NO_DEVICE' ? 'no CUDA device: this GPU worker exits without registering' : 'the GPU could not be opened; exiting', {
      code,
      err: (e as Error).message,
    });
    process.exit(code === 'WORKER_NO_DEVICE' ? EXIT_NO_DEVICE_STATUS : 1);
  }
  const registry = createKernelRegistry();
  registerReferenceKernels(registry);
  const ops = registerGpuKernels(registry, device);
  log.info('GPU opened', { device: device.description, gpuOps: ops, missing: device.missing });
  const pool = createGpuKernelPool({ device, registry });
  const w = await startWorker({
    natsUrl: cfg.natsUrl,
    natsAuth: cfg.natsAuth,
    cls: 'gpu',
    pool,
    log,
    ops,
    dataPlane: cfg.dataPlane,
    device: { ...device.description },
    store: cfg.store,
    kernelTimeoutMs: cfg.kernelTimeoutMs,
    ...(cfg.healthPort !== undefined ? { metrics } : {}),
    ...(cfg.prefix !== undefined ? { prefix: cfg.prefix } : {}),
    ...(workerId !== undefined ? { workerId } : {}),
  });
  serving = true;
  drainOnSignals(w, log, cfg.drainTimeoutMs, () => {
    serving = false;
  });
}

main().catch((e: Error) => {
  process.stderr.write(
    JSON.stringify({ level: 'error', msg: 'gpu worker failed to start', code: isGramfleetError(e) ? e.code : undefined, err: e.message }) + '\n',
  );
  process.exit(1);
});
