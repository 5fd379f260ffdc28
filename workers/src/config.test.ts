import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { isGramfleetError, type ErrorCode } from '@gramfleet/core';
import { kernelCacheBudgetFromEnv, sandboxConfigFromEnv, wasmWorkerConfig } from './config';

function throwsEnv(f: () => unknown, code: ErrorCode, name: string): void {
  assert.throws(f, (e: unknown) => isGramfleetError(e) && e.code === code && e.details['field'] === name && e.message.includes(name));
}

const BASE = { GRAMFLEET_NATS_URL: 'nats://127.0.0.1:4222' };

describe('WASM worker configuration (workers/src/config.ts)', () => {
  it('defaults: only the NATS URL is required', () => {
    const c = wasmWorkerConfig({ ...BASE });
    assert.equal(c.natsUrl, 'nats://127.0.0.1:4222');
    assert.equal(c.prefix, undefined);
    assert.equal(c.workerId, undefined);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.threads, 1);
    assert.equal(c.threadsPerShard, 1);
    assert.equal(c.kernelBuild, 'auto');
    assert.equal(c.drainTimeoutMs, 60_000);
    assert.equal(c.healthPort, undefined);
    assert.deepEqual(c.dataPlane, {});
    assert.deepEqual(c.store, {});
    assert.ok(c.kernelCacheBytes > 0);
  });
  it('every variable set to a good value', () => {
    const c = wasmWorkerConfig({
      ...BASE,
      GRAMFLEET_PREFIX: 'gf-test_1',
      GRAMFLEET_WORKER_ID: 'w-7',
      GRAMFLEET_LOG_LEVEL: 'warn',
      GRAMFLEET_THREADS: '4',
      GRAMFLEET_THREADS_PER_SHARD: '2',
      GRAMFLEET_KERNEL_BUILD: 'simd',
      GRAMFLEET_KERNEL_CACHE_MB: '100',
      GRAMFLEET_DRAIN_TIMEOUT_MS: '2000',
      GRAMFLEET_HEALTH_PORT: '8081',
      GRAMFLEET_OTLP_ENDPOINT: 'https://otel.example:4318/',
      GRAMFLEET_ACK_WAIT_MS: '3000',
      GRAMFLEET_MAX_DELIVER: '7',
      GRAMFLEET_HOST_STORE_DIR: '/dev/shm/gf',
      GRAMFLEET_HOST_STORE_MB: '512',
      GRAMFLEET_PEER_PORT: '7777',
      GRAMFLEET_PEER_BIND: '10.0.0.2',
      GRAMFLEET_PEER_ADVERTISE: 'node-a',
      GRAMFLEET_PEER_SECRET: 's3cret',
      GRAMFLEET_STORE_DURABILITY: 'background',
      GRAMFLEET_USER_WASM_MAX_MEMORY_MB: '64',
      GRAMFLEET_USER_WASM_MAX_TIMEOUT_MS: '30000',
      GRAMFLEET_USER_WASM_MAX_MODULE_MB: '4',
      GRAMFLEET_USER_WASM_OUTPUT_KB: '16',
      GRAMFLEET_USER_WASM_MAX_TASKS_PER_JOB: '2',
      GRAMFLEET_KERNEL_TIMEOUT_MS: '120000',
      GRAMFLEET_TASKS_MAX_MSGS: '5000',
      GRAMFLEET_ARRAYS_MAX_BYTES: String(2 ** 30),
      GRAMFLEET_NATS_CREDS: __filename,
      GRAMFLEET_NATS_CA: __filename,
    });
    assert.deepEqual(
      { ...c, store: { ...c.store } },
      {
        natsUrl: BASE.GRAMFLEET_NATS_URL,
        natsAuth: { credsFile: __filename, caFile: __filename },
        prefix: 'gf-test_1',
        workerId: 'w-7',
        logLevel: 'warn',
        threads: 4,
        threadsPerShard: 2,
        kernelBuild: 'simd',
        kernelCacheBytes: 100 * 2 ** 20,
        drainTimeoutMs: 2000,
        kernelTimeoutMs: 120_000,
        healthPort: 8081,
        otlpEndpoint: 'https://otel.example:4318/',
        dataPlane: { ackWaitMs: 3000, maxDeliver: 7, tasksMaxMsgs: 5000, arraysMaxBytes: 2 ** 30 },
        store: {
          hostDir: '/dev/shm/gf',
          hostBytes: 512 * 2 ** 20,
          peerPort: 7777,
          peerBind: '10.0.0.2',
          peerAdvertise: 'node-a',
          peerSecret: 's3cret',
          durability: 'background',
        },
        sandbox: {
          limits: {
            maxMemoryMB: 64,
            maxTimeoutMs: 30_000,
            maxModuleBytes: 4 * 2 ** 20,
            outputBytes: 16 * 1024,
            why: {
              maxMemoryMB: 'policy GRAMFLEET_USER_WASM_MAX_MEMORY_MB',
              maxTimeoutMs: 'policy GRAMFLEET_USER_WASM_MAX_TIMEOUT_MS',
              maxModuleBytes: 'policy GRAMFLEET_USER_WASM_MAX_MODULE_MB',
            },
          },
          maxTasksPerJob: 2,
        },
      },
    );
  });
  it('a bad value is a typed error naming its variable', () => {
    const bad: [Record<string, string>, ErrorCode, string][] = [
      [{}, 'INPUT_INVALID', 'GRAMFLEET_NATS_URL'],
      [{ ...BASE, GRAMFLEET_THREADS: '0' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_THREADS'],
      [{ ...BASE, GRAMFLEET_KERNEL_TIMEOUT_MS: '0' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_KERNEL_TIMEOUT_MS'],
      [{ ...BASE, GRAMFLEET_ARRAYS_MAX_BYTES: '1000' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_ARRAYS_MAX_BYTES'],
      [{ ...BASE, GRAMFLEET_THREADS: 'four' }, 'INPUT_INVALID', 'GRAMFLEET_THREADS'],
      [{ ...BASE, GRAMFLEET_THREADS_PER_SHARD: '1.5' }, 'INPUT_INVALID', 'GRAMFLEET_THREADS_PER_SHARD'],
      [{ ...BASE, GRAMFLEET_KERNEL_BUILD: 'avx' }, 'INPUT_INVALID', 'GRAMFLEET_KERNEL_BUILD'],
      [{ ...BASE, GRAMFLEET_KERNEL_CACHE_MB: '-1' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_KERNEL_CACHE_MB'],
      [{ ...BASE, GRAMFLEET_DRAIN_TIMEOUT_MS: '0' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_DRAIN_TIMEOUT_MS'],
      [{ ...BASE, GRAMFLEET_HEALTH_PORT: 'http' }, 'INPUT_INVALID', 'GRAMFLEET_HEALTH_PORT'],
      [{ ...BASE, GRAMFLEET_OTLP_ENDPOINT: 'otel:4318' }, 'INPUT_INVALID', 'GRAMFLEET_OTLP_ENDPOINT'],
      [{ ...BASE, GRAMFLEET_LOG_LEVEL: 'trace' }, 'INPUT_INVALID', 'GRAMFLEET_LOG_LEVEL'],
      [{ ...BASE, GRAMFLEET_PREFIX: 'gf.tasks' }, 'INPUT_INVALID', 'GRAMFLEET_PREFIX'],
      [{ ...BASE, GRAMFLEET_ACK_WAIT_MS: '-5' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_ACK_WAIT_MS'],
      [{ ...BASE, GRAMFLEET_HOST_STORE_MB: '0' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_HOST_STORE_MB'],
      [{ ...BASE, GRAMFLEET_PEER_PORT: '65536' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_PEER_PORT'],
      [{ ...BASE, GRAMFLEET_STORE_DURABILITY: 'eventual' }, 'INPUT_INVALID', 'GRAMFLEET_STORE_DURABILITY'],
      [{ ...BASE, GRAMFLEET_USER_WASM_MAX_MEMORY_MB: '8192' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_USER_WASM_MAX_MEMORY_MB'],
      [{ ...BASE, GRAMFLEET_USER_WASM_MAX_TIMEOUT_MS: '0' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_USER_WASM_MAX_TIMEOUT_MS'],
      [{ ...BASE, GRAMFLEET_USER_WASM_MAX_MODULE_MB: '1.5' }, 'INPUT_INVALID', 'GRAMFLEET_USER_WASM_MAX_MODULE_MB'],
      [{ ...BASE, GRAMFLEET_USER_WASM_OUTPUT_KB: '-1' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_USER_WASM_OUTPUT_KB'],
      [{ ...BASE, GRAMFLEET_USER_WASM_MAX_TASKS_PER_JOB: 'all' }, 'INPUT_INVALID', 'GRAMFLEET_USER_WASM_MAX_TASKS_PER_JOB'],
    ];
    for (const [env, code, name] of bad) throwsEnv(() => wasmWorkerConfig(env), code, name);
  });
  it('the kernel-row cache budget: a quarter of the memory limit when unset', () => {
    const GiB = 2 ** 30;
    assert.equal(kernelCacheBudgetFromEnv({}, { total: 64 * GiB, constrained: 4 * GiB }), GiB);
    assert.equal(kernelCacheBudgetFromEnv({ GRAMFLEET_KERNEL_CACHE_MB: '0.5' }, { total: GiB }), 2 ** 19);
  });
  it("the sandbox's limits: the worker's memory limit less the cache and its reserve, over its threads, and the policy", () => {
    const GiB = 2 ** 30;
    // A pod limited to 4 GiB, one thread, the default cache (1 GiB): 4096 - 1024 - 512 MiB per task, not 4 GiB.
    const pod = sandboxConfigFromEnv({}, { total: 64 * GiB, constrained: 4 * GiB });
    assert.equal(pod.limits.maxMemoryMB, 2560);
    assert.match(pod.limits.why?.maxMemoryMB ?? '', /memory limit of 4096 MiB \(cgroup\)/);
    assert.deepEqual([pod.limits.maxTimeoutMs, pod.limits.maxModuleBytes, pod.limits.outputBytes, pod.maxTasksPerJob], [900_000, 16 * 2 ** 20, 64 * 1024, 1]);
    // Shared over four threads.
    assert.equal(sandboxConfigFromEnv({ GRAMFLEET_THREADS: '4' }, { total: 64 * GiB, constrained: 4 * GiB }).limits.maxMemoryMB, 640);
    // The policy, where lower.
    const p = sandboxConfigFromEnv(
      {
        GRAMFLEET_USER_WASM_MAX_MEMORY_MB: '256',
        GRAMFLEET_USER_WASM_MAX_TIMEOUT_MS: '5000',
        GRAMFLEET_USER_WASM_MAX_MODULE_MB: '2',
        GRAMFLEET_USER_WASM_OUTPUT_KB: '4',
        GRAMFLEET_USER_WASM_MAX_TASKS_PER_JOB: '3',
      },
      { total: 64 * GiB },
    );
    assert.deepEqual(
      [p.limits.maxMemoryMB, p.limits.maxTimeoutMs, p.limits.maxModuleBytes, p.limits.outputBytes, p.maxTasksPerJob],
      [256, 5000, 2 * 2 ** 20, 4096, 3],
    );
    assert.equal(p.limits.why?.maxMemoryMB, 'policy GRAMFLEET_USER_WASM_MAX_MEMORY_MB');
    assert.equal(wasmWorkerConfig({ ...BASE, GRAMFLEET_USER_WASM_MAX_TASKS_PER_JOB: '2' }).sandbox.maxTasksPerJob, 2);
  });
  it('the worker process exits 2 on a bad variable, with one JSON line naming it, before it connects', () => {
    const main = path.join(__dirname, 'main.js');
    // No NATS server at this address: a worker that got past its configuration would hang retrying.
    const r = spawnSync(process.execPath, [main], {
      env: { PATH: process.env['PATH'], GRAMFLEET_NATS_URL: 'nats://127.0.0.1:1', GRAMFLEET_THREADS: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, `exit status ${r.status}; stderr: ${r.stderr}`);
    const line = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    assert.equal(line['code'], 'INPUT_OUT_OF_RANGE');
    assert.equal(line['field'], 'GRAMFLEET_THREADS');
    assert.match(String(line['err']), /GRAMFLEET_THREADS must be an integer in \[1, 1024\]/);
  });
});
