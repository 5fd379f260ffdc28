/**
 * The WASM worker's configuration: every environment variable it reads, validated before
 * anything starts (main.ts reads nothing else). The variables every worker reads (the GPU
 * worker too) are {@link WORKER_ENV}; the array store's are {@link STORE_TIERS_ENV}.
 * docs/config.md lists them all (generated from these declarations).
 */
import * as os from 'node:os';
import {
  GramfleetError,
  DATA_PLANE_ENV,
  USER_WASM_MAX_MEMORY_MB,
  USER_WASM_MAX_MODULE_BYTES,
  USER_WASM_MAX_TIMEOUT_MS,
  HEALTH_PORT_ENV,
  OTLP_ENDPOINT_ENV,
  LOG_LEVEL_ENV,
  PREFIX_PATTERN,
  envChoice,
  envGroup,
  envInt,
  envRaw,
  envRequired,
  envString,
  parseEnvInt,
  parseEnvNumber,
  readEnv,
  type Env,
  type EnvValues,
  type UserWasmLimits,
} from '@gramfleet/core';
import { storeTiersFromEnv } from './dataplane/tiers';
import { NATS_AUTH_ENV } from './security/auth';

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
    {
      name: 'GRAMFLEET_PEER_SECRET_FILE',
      default: '',
      meaning: 'file holding the peer secret (used when GRAMFLEET_PEER_SECRET is unset; the chart mounts it from a Secret)',
    },
    { name: 'GRAMFLEET_STORE_DURABILITY', default: 'sync', meaning: 'durability of puts that do not choose: sync | background | none' },
  ],
  (env) => storeTiersFromEnv(env as NodeJS.ProcessEnv),
);

/** The variables of every worker process, WASM or GPU. */
export const WORKER_ENV = {
  natsUrl: envRequired('GRAMFLEET_NATS_URL', { meaning: 'the NATS server(s) to connect to', expected: 'a NATS URL (nats://host:port)' }),
  natsAuth: NATS_AUTH_ENV,
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
  kernelTimeoutMs: envInt('GRAMFLEET_KERNEL_TIMEOUT_MS', {
    meaning:
      'a kernel still running after this long (or past its job deadline, if sooner) fails its task with KERNEL_TIMEOUT (retried, on another worker where one takes it) and its thread is replaced',
    min: 1,
    max: 7 * 24 * 3_600_000,
    unit: 'ms',
    default: 1_800_000,
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

/** Memory the worker keeps for itself (heap, input cache, kernel arenas) before sharing the rest over its sandbox threads, MiB. */
export const SANDBOX_RESERVE_MB = 512;

/** The sandbox policy variables (all optional; the defaults are documented in docs/config.md). */
const SANDBOX_VARS = {
  memory: 'GRAMFLEET_USER_WASM_MAX_MEMORY_MB',
  timeout: 'GRAMFLEET_USER_WASM_MAX_TIMEOUT_MS',
  module: 'GRAMFLEET_USER_WASM_MAX_MODULE_MB',
  output: 'GRAMFLEET_USER_WASM_OUTPUT_KB',
  perJob: 'GRAMFLEET_USER_WASM_MAX_TASKS_PER_JOB',
} as const;

/** What the worker's sandbox accepts, and how many of one job's tasks it runs at once. */
export interface SandboxConfig {
  readonly limits: UserWasmLimits;
  /** Tasks of one job the sandbox runs at once (the others wait while another job's tasks run). */
  readonly maxTasksPerJob: number;
}

/**
 * The sandbox's limits: each the lower of the policy (GRAMFLEET_USER_WASM_*) and, for memory, the
 * worker's own limit (its cgroup limit, else the host's memory) less the kernel-row cache and
 * {@link SANDBOX_RESERVE_MB}, shared over its sandbox threads (GRAMFLEET_THREADS): a worker pod
 * limited to 4 GiB with one thread and a 1 GiB cache accepts 2560 MiB per task, not 4 GiB.
 */
export function sandboxConfigFromEnv(env: Env, memory: { total: number; constrained?: number } = hostMemory()): SandboxConfig {
  const raw = (name: string): string | undefined => envRaw(env, name);
  const threadsRaw = raw('GRAMFLEET_THREADS');
  const threads = threadsRaw === undefined ? 1 : parseEnvInt('GRAMFLEET_THREADS', threadsRaw, 1, 1024);
  const policyMemory = raw(SANDBOX_VARS.memory);
  const policyMB = policyMemory === undefined ? USER_WASM_MAX_MEMORY_MB : parseEnvInt(SANDBOX_VARS.memory, policyMemory, 1, USER_WASM_MAX_MEMORY_MB, 'MiB');
  const constrained = memory.constrained !== undefined && memory.constrained > 0 && memory.constrained < memory.total;
  const limitMB = Math.floor((constrained ? memory.constrained! : memory.total) / 2 ** 20);
  const cacheMB = Math.floor(kernelCacheBudgetFromEnv(env, memory) / 2 ** 20);
  const ownMB = Math.max(1, Math.floor((limitMB - cacheMB - SANDBOX_RESERVE_MB) / threads));
  const timeoutRaw = raw(SANDBOX_VARS.timeout);
  const maxTimeoutMs = timeoutRaw === undefined ? 900_000 : parseEnvInt(SANDBOX_VARS.timeout, timeoutRaw, 1, USER_WASM_MAX_TIMEOUT_MS, 'ms');
  const moduleRaw = raw(SANDBOX_VARS.module);
  const moduleMB = moduleRaw === undefined ? 16 : parseEnvInt(SANDBOX_VARS.module, moduleRaw, 1, USER_WASM_MAX_MODULE_BYTES / 2 ** 20, 'MiB');
  const outputRaw = raw(SANDBOX_VARS.output);
  const outputKB = outputRaw === undefined ? 64 : parseEnvInt(SANDBOX_VARS.output, outputRaw, 0, 64 * 1024, 'KiB');
  const perJobRaw = raw(SANDBOX_VARS.perJob);
  const maxTasksPerJob = perJobRaw === undefined ? threads : parseEnvInt(SANDBOX_VARS.perJob, perJobRaw, 1, 1024);
  const memoryWhy =
    ownMB < policyMB
      ? `the worker's memory limit of ${limitMB} MiB (${constrained ? 'cgroup' : 'host'}) less its kernel-row cache of ${cacheMB} MiB and ${SANDBOX_RESERVE_MB} MiB for the process, over ${threads} sandbox thread${threads === 1 ? '' : 's'}`
      : `policy ${SANDBOX_VARS.memory}`;
  return {
    limits: {
      maxMemoryMB: Math.min(ownMB, policyMB),
      maxTimeoutMs,
      maxModuleBytes: moduleMB * 2 ** 20,
      outputBytes: outputKB * 1024,
      why: { maxMemoryMB: memoryWhy, maxTimeoutMs: `policy ${SANDBOX_VARS.timeout}`, maxModuleBytes: `policy ${SANDBOX_VARS.module}` },
    },
    maxTasksPerJob,
  };
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
  otlpEndpoint: OTLP_ENDPOINT_ENV,
  sandbox: envGroup(
    [
      {
        name: SANDBOX_VARS.memory,
        default: `${USER_WASM_MAX_MEMORY_MB} MiB`,
        meaning:
          "policy: the largest memory cap a user's WebAssembly task may ask for, MiB, integer in [1, 4096]; the worker advertises the lower of this and its memory limit (cgroup or host) less the kernel-row cache and 512 MiB, shared over GRAMFLEET_THREADS",
      },
      {
        name: SANDBOX_VARS.timeout,
        default: '900000 ms',
        meaning: "policy: the longest time limit a user's WebAssembly task may ask for, ms, integer in [1, 86400000]",
      },
      {
        name: SANDBOX_VARS.module,
        default: '16 MiB',
        meaning: 'policy: the largest user WebAssembly module the worker compiles, MiB, integer in [1, 256]',
      },
      {
        name: SANDBOX_VARS.output,
        default: '64 KiB',
        meaning:
          'WASI stdout + stderr kept per user task (logged as JSON with the job, task and worker id; the rest is counted, not kept), KiB, integer in [0, 65536]',
      },
      {
        name: SANDBOX_VARS.perJob,
        default: 'GRAMFLEET_THREADS',
        meaning:
          "user tasks of one job the worker's sandbox runs at once, integer in [1, 1024]; while one job is at its cap, another job's tasks take the free sandbox threads",
      },
    ],
    (env) => sandboxConfigFromEnv(env),
  ),
} as const;

/** The WASM worker's configuration. */
export type WasmWorkerConfig = EnvValues<typeof WASM_WORKER_ENV>;

/** Reads and validates the WASM worker's configuration (a typed error names the first bad variable). */
export function wasmWorkerConfig(env: Env = process.env): WasmWorkerConfig {
  return readEnv(WASM_WORKER_ENV, env);
}

/**
 * TEST ONLY: whether this worker process returns wrong bytes on purpose (runtime.ts
 * `testOnlyCorruptOutputs`), for the verification mode's tests. Only a worker that a local cluster
 * started with its test hook has both `GRAMFLEET_TEST_ONLY_CORRUPT_OUTPUTS=1` and the local
 * cluster's `--cluster=` argument; no deployment's configuration (the chart, `k8s render`) can
 * turn it on, and it is not one of the worker's documented variables.
 */
export function testOnlyCorruptOutputs(env: Env = process.env, argv: readonly string[] = process.argv): boolean {
  return env['GRAMFLEET_TEST_ONLY_CORRUPT_OUTPUTS'] === '1' && argv.some((a) => a.startsWith('--cluster='));
}

/**
 * The folder where this process records its counts (counts.ts: task runs, accepted results,
 * batches, assemblies), from `GRAMFLEET_COUNTS_DIR`; undefined (nothing recorded) when unset.
 * Read by workers and by owners (activity hosts, SDK) alike, for audits and the chaos suite.
 */
export function countsDirFromEnv(env: Env = process.env): string | undefined {
  const d = env['GRAMFLEET_COUNTS_DIR'];
  return d === undefined || d === '' ? undefined : d;
}

/** A fault a worker injects into one shard (TEST ONLY: the chaos suite). */
export interface TestOnlyFault {
  /** `hang`: the shard's first try runs a kernel that never returns; `crash`: every try kills this worker process. */
  readonly kind: 'hang' | 'crash';
  readonly shardId: string;
  /** Only tasks whose attributes carry this seed (one job's shards, not every job's). */
  readonly seed?: number;
}

/**
 * TEST ONLY: the faults this worker injects, from `GRAMFLEET_TEST_ONLY_FAULTS`
 * (`kind:shardId[:seed]`, comma-separated, e.g. `crash:s000003:66`). Like
 * {@link testOnlyCorruptOutputs}, only a worker a local cluster started (`--cluster=`) reads it;
 * a malformed entry is an INPUT_INVALID naming the variable.
 */
export function testOnlyFaults(env: Env = process.env, argv: readonly string[] = process.argv): TestOnlyFault[] {
  const v = env['GRAMFLEET_TEST_ONLY_FAULTS'];
  if (v === undefined || v === '' || !argv.some((a) => a.startsWith('--cluster='))) return [];
  return v.split(',').map((entry) => {
    const [kind, shardId, seed] = entry.trim().split(':');
    if ((kind !== 'hang' && kind !== 'crash') || shardId === undefined || shardId === '' || (seed !== undefined && !Number.isInteger(Number(seed))))
      throw new GramfleetError('INPUT_INVALID', `GRAMFLEET_TEST_ONLY_FAULTS: '${entry}' is not hang|crash:SHARD[:SEED]`, {
        field: 'GRAMFLEET_TEST_ONLY_FAULTS',
      });
    return { kind, shardId, ...(seed !== undefined ? { seed: Number(seed) } : {}) };
  });
}
