import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError, type ErrorCode } from '@gramfleet/core';
import { gpuWorkerConfig } from './config';
import { DEFAULT_PTX_CACHE_DIR } from './paths';

function throwsEnv(f: () => unknown, code: ErrorCode, name: string): void {
  assert.throws(f, (e: unknown) => isGramfleetError(e) && e.code === code && e.details['field'] === name && e.message.includes(name));
}

const BASE = { GRAMFLEET_NATS_URL: 'nats://127.0.0.1:4222' };

describe('GPU worker configuration (gpu-workers/src/config.ts)', () => {
  it('defaults, and every variable set to a good value', () => {
    const d = gpuWorkerConfig({ ...BASE });
    assert.deepEqual(
      [d.gpuOrdinal, d.cudaLibDirs, d.gpuMemoryBudget, d.tf32, d.ptxCacheDir, d.drainTimeoutMs, d.logLevel],
      [undefined, [], undefined, false, DEFAULT_PTX_CACHE_DIR, 60_000, 'info'],
    );
    const c = gpuWorkerConfig({
      ...BASE,
      GRAMFLEET_GPU_ORDINAL: '1',
      GRAMFLEET_CUDA_LIB_DIRS: '/usr/local/cuda/lib64:/opt/cuda',
      GRAMFLEET_GPU_MEMORY_BUDGET: String(8 * 2 ** 30),
      GRAMFLEET_GPU_TF32: '1',
      GRAMFLEET_PTX_CACHE_DIR: '/tmp/ptx',
      GRAMFLEET_PREFIX: 'gf2',
      GRAMFLEET_WORKER_ID: 'gpu-0',
      GRAMFLEET_MAX_DELIVER: '3',
      GRAMFLEET_HEALTH_PORT: '8080',
    });
    assert.deepEqual(
      [c.gpuOrdinal, c.cudaLibDirs, c.gpuMemoryBudget, c.tf32, c.ptxCacheDir, c.prefix, c.workerId, c.dataPlane, c.healthPort],
      [1, ['/usr/local/cuda/lib64', '/opt/cuda'], 8 * 2 ** 30, true, '/tmp/ptx', 'gf2', 'gpu-0', { maxDeliver: 3 }, 8080],
    );
  });
  it('a bad value is a typed error naming its variable', () => {
    const bad: [Record<string, string>, ErrorCode, string][] = [
      [{}, 'INPUT_INVALID', 'GRAMFLEET_NATS_URL'],
      [{ ...BASE, GRAMFLEET_GPU_ORDINAL: '-1' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_GPU_ORDINAL'],
      [{ ...BASE, GRAMFLEET_GPU_MEMORY_BUDGET: '8GB' }, 'INPUT_INVALID', 'GRAMFLEET_GPU_MEMORY_BUDGET'],
      [{ ...BASE, GRAMFLEET_GPU_TF32: 'yes' }, 'INPUT_INVALID', 'GRAMFLEET_GPU_TF32'],
      [{ ...BASE, GRAMFLEET_DRAIN_TIMEOUT_MS: 'soon' }, 'INPUT_INVALID', 'GRAMFLEET_DRAIN_TIMEOUT_MS'],
      [{ ...BASE, GRAMFLEET_STORE_DURABILITY: 'async' }, 'INPUT_INVALID', 'GRAMFLEET_STORE_DURABILITY'],
      [{ ...BASE, GRAMFLEET_HEALTH_PORT: '65536' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_HEALTH_PORT'],
    ];
    for (const [env, code, name] of bad) throwsEnv(() => gpuWorkerConfig(env), code, name);
  });
});
