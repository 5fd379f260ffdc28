/**
 * The WASM worker's configuration: every environment variable it reads, validated before
 * anything starts (main.ts reads nothing else). The variables every worker reads (the GPU
 * worker too) are {@link WORKER_ENV}; the array store's are {@link STORE_TIERS_ENV}.
 * docs/config.md lists them all (generated from these declarations).
 */
import * as os from 'node:os';
import {
  DATA_PLANE_ENV,
  HEALTH_PORT_ENV,
  LOG_LEVEL_ENV,
  PREFIX_PATTERN,
  envChoice,
  envGroup,
  envInt,
  envRaw,
  envRequired,
  envString,
  parseEnvNumber,
  readEnv,
  type Env,
  type EnvValues,
} from '@gramfleet/core';
import { storeTiersFromEnv } from './dataplane/tiers';

/**
 * The array store's tiers (host store, peers, durability), read by storeTiersFromEnv
 * (dataplane/tiers.ts), which validates them; every process with an array store reads them.
 */
export const STORE_TIERS_ENV = envGroup(
  [
    {
      name: 'GRAMFLEET_HOST_STORE_DIR',
      default: '',
      meaning: 'directory of the host store, a tmpfs every process of the host shares (local clusters: under /dev/shm); unset: no host store',
    },
    { name: 'GRAMFLEET_HOST_STORE_MB', default: '1024 MB', meaning: 'size limit of the host store, integer in [1, 1048576]' },
    { name: 'GRAMFLEET_PEER_PORT', default: '0', meaning: 'port of the peer server, integer in [0, 65535] (0: any free port)' },
    { name: 'GRAMFLEET_PEER_BIND', default: '0.0.0.0', meaning: 'address the peer server listens on' },
    {
      name: 'GRAMFLEET_PEER_ADVERTISE',
      default: '',
      meaning:
        "host name or IP other hosts reach this host's peer server at: set, the process serves its host store to peers and pulls from theirs (needs GRAMFLEET_PEER_SECRET)",
    },
    { name: 'GRAMFLEET_PEER_SECRET', default: '', meaning: 'shared secret every peer connection proves (HMAC of a nonce); required to serve' },
    { name: 'GRAMFLEET_STORE_DURABILITY', default: 'sync', meaning: 'durability of puts that do not choose: sync | background | none' },
  ],
  (env) => storeTiersFromEnv(env as NodeJS.ProcessEnv),
);

/** The variables of every worker process, WASM or GPU. */
export const WORKER_ENV = {
  natsUrl: envRequired('GRAMFLEET_NATS_URL', { meaning: 'the NATS server(s) to connect to', expected: 'a NATS URL (nats://host:port)' }),
  prefix: envString('GRAMFLEET_PREFIX', {
    meaning: 'prefix of the NATS streams, buckets and subjects',
    shownDefault: 'gf',
    pattern: PREFIX_PATTERN,
    expected: 'a letter, then letters, digits, - or _',
  }),
  workerId: envString('GRAMFLEET_WORKER_ID', { meaning: "this worker's id in the registry", shownDefault: '<host>-<pid>-<random>' }),
  logLevel: LOG_LEVEL_ENV,
  dataPlane: DATA_PLANE_ENV,
  drainTimeoutMs: envInt('GRAMFLEET_DRAIN_TIMEOUT_MS', {
    meaning: 'on SIGTERM/SIGINT, a drain that has not finished after this long exits 1 anyway (its unacknowledged tasks are redelivered)',
    min: 1,
    max: 24 * 3_600_000,
    unit: 'ms',
    default: 60_000,
  }),
  store: STORE_TIERS_ENV,
} as const;

/**
 * GRAMFLEET_KERNEL_CACHE_MB as bytes; unset, a quarter of the memory this process may use: the
 * host's, or the container's cgroup limit where one is set (a pod limited to 4 GiB on a 64 GB
 * node gets 1 GiB, not 16). 0 keeps no rows.
 */
export function kernelCacheBudgetFromEnv(env: Env, memory: { total: number; constrained?: number } = hostMemory()): number {
  const v = envRaw(env, 'GRAMFLEET_KERNEL_CACHE_MB');
  if (v === undefined) {
    const limit = memory.constrained !== undefined && memory.constrained > 0 && memory.constrained < memory.total ? memory.constrained : memory.total;
    return Math.floor(limit / 4);
  }
  return Math.floor(parseEnvNumber('GRAMFLEET_KERNEL_CACHE_MB', v, 0, 'MB') * 2 ** 20);
}

function hostMemory(): { total: number; constrained?: number } {
  // process.constrainedMemory(): the cgroup limit (2^64 or 0 when there is none), Node ≥ 19.6.
  const c = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return { total: os.totalmem(), ...(c !== undefined ? { constrained: c } : {}) };
}

/** The WASM worker's variables. */
export const WASM_WORKER_ENV = {
  ...WORKER_ENV,
  threads: envInt('GRAMFLEET_THREADS', {
    meaning: 'kernel threads of the worker (a local cluster shares the cores out over its workers)',
    min: 1,
    max: 1024,
    default: 1,
  }),
  threadsPerShard: envInt('GRAMFLEET_THREADS_PER_SHARD', {
    meaning: 'threads one gemm, kernel-block or csr-spmv shard runs over, sharing memory (≥ 2: one shard at a time over that many threads)',
    min: 1,
    max: 1024,
    default: 1,
  }),
  kernelBuild: envChoice('GRAMFLEET_KERNEL_BUILD', ['auto', 'fma', 'simd'] as const, {
    meaning: 'the kernel module: auto takes the relaxed-SIMD FMA build where this Node accepts it, simd forces the plain SIMD build',
    default: 'auto',
  }),
  kernelCacheBytes: envGroup(
    [
      {
        name: 'GRAMFLEET_KERNEL_CACHE_MB',
        default: 'a quarter of the memory limit (cgroup or host)',
        meaning:
          "the kernel-row cache's budget (workers/src/kernel-cache.ts), a number ≥ 0; 0 keeps no rows (a local cluster splits a quarter of the host over its workers)",
      },
    ],
    (env) => kernelCacheBudgetFromEnv(env),
  ),
  healthPort: HEALTH_PORT_ENV,
} as const;

/** The WASM worker's configuration. */
export type WasmWorkerConfig = EnvValues<typeof WASM_WORKER_ENV>;

/** Reads and validates the WASM worker's configuration (a typed error names the first bad variable). */
export function wasmWorkerConfig(env: Env = process.env): WasmWorkerConfig {
  return readEnv(WASM_WORKER_ENV, env);
}
