/**
 * Entrypoint of a WASM worker process. Its configuration comes from the environment, read and
 * validated by config.ts before anything starts (docs/config.md lists the variables: the NATS
 * URL, threads, kernel build and kernel-row cache, health port, drain timeout, the array store's
 * tiers); a bad value exits 2 with one JSON line naming the variable and its bound.
 */
import { setFlagsFromString } from 'node:v8';
import { isGramfleetError, OPS, USER_WASM_OP } from '@gramfleet/core';
import { loadKernelModuleBytes, relaxedSimdAvailable } from './backends/wasm/kernel-module';
import { createShardThreadsPool } from './shard-threads';
import { createKernelPool } from './pool';
import { withHostGather } from './host-gather';
import { withKernelRowCache } from './kernel-cache';
import { drainOnSignals, startWorker } from './runtime';
import { createJsonLogger } from './log';
import { createSandbox } from './sandbox/sandbox';
import { withUserWasm } from './sandbox/with-user-wasm';
import { startHealthServer } from './health';
import { createProcessMetrics } from './metrics';
import { startTracing } from './tracing';
import { testOnlyCorruptOutputs, testOnlyFaults, wasmWorkerConfig, type TestOnlyFault, type WasmWorkerConfig } from './config';

async function main(): Promise<void> {
  let cfg: WasmWorkerConfig;
  let faults: TestOnlyFault[];
  try {
    cfg = wasmWorkerConfig();
    faults = testOnlyFaults();
  } catch (e) {
    process.stderr.write(
      JSON.stringify({
        level: 'error',
        msg: 'bad configuration; the worker does not start',
        code: isGramfleetError(e) ? e.code : undefined,
        field: isGramfleetError(e) ? e.details['field'] : undefined,
        err: (e as Error).message,
      }) + '\n',
    );
    process.exit(2);
  }
  const { workerId, threadsPerShard, kernelBuild } = cfg;
  const log = createJsonLogger({ proc: 'wasm-worker', ...(workerId !== undefined ? { workerId } : {}) }, cfg.logLevel);
  let serving = false;
  const metrics = createProcessMetrics({ proc: 'wasm-worker' });
  if (cfg.otlpEndpoint !== undefined) {
    startTracing({
      endpoint: cfg.otlpEndpoint,
      serviceName: 'gramfleet-worker',
      activeContext: false,
      attributes: { 'gramfleet.worker_class': 'wasm', ...(workerId !== undefined ? { 'gramfleet.worker_id': workerId } : {}) },
    });
    log.info('tracing on: spans go over OTLP', { endpoint: cfg.otlpEndpoint });
  }
  if (cfg.healthPort !== undefined) await startHealthServer({ port: cfg.healthPort, ready: () => serving, metrics: () => metrics.render() });
  const chosen = loadKernelModuleBytes(kernelBuild !== 'simd');
  if (kernelBuild === 'fma' && !chosen.fma)
    log.warn('GRAMFLEET_KERNEL_BUILD=fma but this Node does not accept relaxed SIMD (or kernels-fma.wasm is missing); running the plain SIMD build');
  const build = chosen.fma ? 'fma' : 'simd';
  log.info('kernel module', { kernelBuild: build, path: chosen.path, relaxedSimd: relaxedSimdAvailable(), threadsPerShard });
  // Compile every kernel with the optimising tier up front. By default V8 runs a function's first
  // calls in its baseline tier, and a call never leaves the tier it started in: the first
  // kernel-block of a job (seconds of work) ran ~3× slower on each kernel thread (measured:
  // 2.8 s against 0.99 s for a 1710 × 15000 f32 block).
  setFlagsFromString('--no-liftoff');
  const module = await WebAssembly.compile(chosen.bytes);
  const basePool = createKernelPool({ module, threads: cfg.threads });
  const kernelPool = threadsPerShard >= 2 ? await createShardThreadsPool({ wasm: chosen.bytes, threadsPerShard, fallback: basePool }) : basePool;
  const cacheBytes = cfg.kernelCacheBytes;
  // The sandbox outermost: user tasks never go through the kernel-row cache or the host gather,
  // and the task context (job, shard) reaches it from the runtime.
  const sandbox = createSandbox({
    threads: cfg.threads,
    limits: cfg.sandbox.limits,
    maxTasksPerJob: cfg.sandbox.maxTasksPerJob,
    log,
    ...(workerId !== undefined ? { workerId } : {}),
  });
  const pool = withUserWasm(withKernelRowCache(withHostGather(kernelPool), { budgetBytes: cacheBytes, log }), sandbox);
  log.info('user-wasm sandbox', { ...cfg.sandbox.limits, maxTasksPerJob: cfg.sandbox.maxTasksPerJob });
  log.info('kernel-row cache', { budgetMB: Math.round(cacheBytes / 2 ** 20) });
  const corrupt = testOnlyCorruptOutputs();
  if (faults.length > 0) log.warn('TEST ONLY: this worker injects faults into chosen shards (GRAMFLEET_TEST_ONLY_FAULTS)', { faults });
  if (corrupt) log.warn('TEST ONLY: this worker returns wrong bytes on purpose (LocalCluster.addWorker testOnlyCorruptOutputs)');
  const w = await startWorker({
    natsUrl: cfg.natsUrl,
    natsAuth: cfg.natsAuth,
    cls: 'wasm',
    pool,
    log,
    ops: [...OPS.ids(), USER_WASM_OP],
    dataPlane: cfg.dataPlane,
    store: cfg.store,
    kernelTimeoutMs: cfg.kernelTimeoutMs,
    kernels: { build, threadsPerShard, cacheMB: Math.round(cacheBytes / 2 ** 20) },
    sandbox: cfg.sandbox.limits,
    // Counted only where /metrics serves them (GRAMFLEET_HEALTH_PORT): nobody reads them otherwise.
    ...(cfg.healthPort !== undefined ? { metrics } : {}),
    ...(corrupt ? { testOnlyCorruptOutputs: true } : {}),
    ...(faults.length > 0 ? { testOnlyFaults: faults } : {}),
    ...(cfg.prefix !== undefined ? { prefix: cfg.prefix } : {}),
    ...(workerId !== undefined ? { workerId } : {}),
  });
  serving = true;
  drainOnSignals(w, log, cfg.drainTimeoutMs, () => {
    serving = false;
  });
}

main().catch((e: Error) => {
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'worker failed to start', err: e.message }) + '\n');
  process.exit(1);
});
