/**
 * Entrypoint of a WASM worker process. Configuration from the environment:
 * GRAMFLEET_NATS_URL (required), GRAMFLEET_PREFIX, GRAMFLEET_THREADS, GRAMFLEET_WORKER_ID,
 * GRAMFLEET_ACK_WAIT_MS, GRAMFLEET_MAX_DELIVER, GRAMFLEET_LOG_LEVEL, GRAMFLEET_HEALTH_PORT
 * (serves /healthz and /readyz: ready while pulling, not while draining),
 * GRAMFLEET_KERNEL_BUILD (`simd` forces the plain SIMD build; default: the relaxed-SIMD FMA
 * build where this Node accepts it), GRAMFLEET_THREADS_PER_SHARD (≥ 2: gemm, kernel-block and
 * csr-spmv of one shard run over that many threads sharing memory; default 1),
 * GRAMFLEET_KERNEL_CACHE_MB (the kernel-row cache's budget, kernel-cache.ts; default a quarter
 * of the memory limit, cgroup or host; 0 keeps no rows), GRAMFLEET_DRAIN_TIMEOUT_MS (a drain that
 * cannot finish exits after this long; default 60000), and the array store's tiers:
 * GRAMFLEET_HOST_STORE_DIR (the host store, shared by the host's processes), GRAMFLEET_HOST_STORE_MB,
 * GRAMFLEET_PEER_PORT / GRAMFLEET_PEER_BIND / GRAMFLEET_PEER_ADVERTISE / GRAMFLEET_PEER_SECRET (serve
 * it to other hosts and pull from theirs), GRAMFLEET_STORE_DURABILITY (dataplane/tiers.ts).
 */
import { setFlagsFromString } from 'node:v8';
import { loadKernelModuleBytes, relaxedSimdAvailable } from './backends/wasm/kernel-module';
import { createShardThreadsPool } from './shard-threads';
import { OPS, USER_WASM_OP } from '@gramfleet/core';
import { createKernelPool } from './pool';
import { withHostGather } from './host-gather';
import { kernelCacheBudgetFromEnv, withKernelRowCache } from './kernel-cache';
import { drainOnSignals, startWorker } from './runtime';
import { storeTiersFromEnv, type StoreTiersConfig } from './dataplane/tiers';
import { createJsonLogger } from './log';
import { createSandbox } from './sandbox/sandbox';
import { withUserWasm } from './sandbox/with-user-wasm';
import { healthPortFromEnv, startHealthServer } from './health';

async function main(): Promise<void> {
  const env = process.env;
  const natsUrl = env['GRAMFLEET_NATS_URL'];
  const workerId = env['GRAMFLEET_WORKER_ID'];
  const level = (env['GRAMFLEET_LOG_LEVEL'] ?? 'info') as 'debug' | 'info' | 'warn' | 'error';
  const log = createJsonLogger({ proc: 'wasm-worker', ...(workerId !== undefined ? { workerId } : {}) }, level);
  if (natsUrl === undefined) {
    log.error('GRAMFLEET_NATS_URL is not set');
    process.exit(2);
  }
  let serving = false;
  const healthPort = healthPortFromEnv(env);
  if (healthPort !== undefined) await startHealthServer({ port: healthPort, ready: () => serving });
  const kernelBuild = env['GRAMFLEET_KERNEL_BUILD'] ?? 'auto';
  if (kernelBuild !== 'auto' && kernelBuild !== 'fma' && kernelBuild !== 'simd') {
    log.error(`GRAMFLEET_KERNEL_BUILD must be auto, fma or simd, got ${kernelBuild}`);
    process.exit(2);
  }
  const threadsPerShard = Number(env['GRAMFLEET_THREADS_PER_SHARD'] ?? '1');
  if (!Number.isInteger(threadsPerShard) || threadsPerShard < 1) {
    log.error(`GRAMFLEET_THREADS_PER_SHARD must be an integer ≥ 1, got ${env['GRAMFLEET_THREADS_PER_SHARD']}`);
    process.exit(2);
  }
  const chosen = loadKernelModuleBytes(kernelBuild !== 'simd');
  if (kernelBuild === 'fma' && !chosen.fma) log.warn('GRAMFLEET_KERNEL_BUILD=fma but this Node does not accept relaxed SIMD (or kernels-fma.wasm is missing); running the plain SIMD build');
  const build = chosen.fma ? 'fma' : 'simd';
  log.info('kernel module', { kernelBuild: build, path: chosen.path, relaxedSimd: relaxedSimdAvailable(), threadsPerShard });
  // Compile every kernel with the optimising tier up front. By default V8 runs a function's first
  // calls in its baseline tier, and a call never leaves the tier it started in: the first
  // kernel-block of a job (seconds of work) ran ~3× slower on each kernel thread (measured:
  // 2.8 s against 0.99 s for a 1710 × 15000 f32 block).
  setFlagsFromString('--no-liftoff');
  const module = await WebAssembly.compile(chosen.bytes);
  const basePool = createKernelPool({ module, threads: Number(env['GRAMFLEET_THREADS'] ?? '1') });
  const kernelPool = threadsPerShard >= 2 ? await createShardThreadsPool({ wasm: chosen.bytes, threadsPerShard, fallback: basePool }) : basePool;
  let cacheBytes: number;
  try {
    cacheBytes = kernelCacheBudgetFromEnv(env);
  } catch (e) {
    log.error((e as Error).message);
    process.exit(2);
  }
  const pool = withKernelRowCache(withHostGather(withUserWasm(kernelPool, createSandbox({ threads: Number(env['GRAMFLEET_THREADS'] ?? '1') }))), { budgetBytes: cacheBytes, log });
  log.info('kernel-row cache', { budgetMB: Math.round(cacheBytes / 2 ** 20) });
  const dataPlane = {
    ...(env['GRAMFLEET_ACK_WAIT_MS'] !== undefined ? { ackWaitMs: Number(env['GRAMFLEET_ACK_WAIT_MS']) } : {}),
    ...(env['GRAMFLEET_MAX_DELIVER'] !== undefined ? { maxDeliver: Number(env['GRAMFLEET_MAX_DELIVER']) } : {}),
  };
  let store: StoreTiersConfig;
  try {
    store = storeTiersFromEnv(env);
  } catch (e) {
    log.error((e as Error).message);
    process.exit(2);
  }
  const w = await startWorker({
    natsUrl, cls: 'wasm', pool, log, ops: [...OPS.ids(), USER_WASM_OP], dataPlane, store, kernels: { build, threadsPerShard, cacheMB: Math.round(cacheBytes / 2 ** 20) },
    ...(env['GRAMFLEET_PREFIX'] !== undefined ? { prefix: env['GRAMFLEET_PREFIX'] } : {}),
    ...(workerId !== undefined ? { workerId } : {}),
  });
  serving = true;
  drainOnSignals(w, log, env, () => { serving = false; });
}

main().catch((e: Error) => {
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'worker failed to start', err: e.message }) + '\n');
  process.exit(1);
});
