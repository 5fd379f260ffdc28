import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { isGramfleetError, type ErrorCode } from '@gramfleet/core';
import { hostConfig } from './config';

function throwsEnv(f: () => unknown, code: ErrorCode, name: string): void {
  assert.throws(f, (e: unknown) => isGramfleetError(e) && e.code === code && e.details['field'] === name && e.message.includes(name));
}

describe('orchestrator configuration (orchestrator/src/host/config.ts)', () => {
  it('defaults: a local Temporal and NATS on their usual ports', () => {
    const c = hostConfig({});
    assert.deepEqual(
      [c.temporalAddress, c.temporalNamespace, c.taskQueue, c.natsUrl, c.prefix, c.logLevel, c.healthPort, c.spillAfterMs, c.eigenproProfile],
      ['127.0.0.1:7233', 'default', 'gramfleet', 'nats://127.0.0.1:4222', 'gf', 'info', undefined, undefined, undefined],
    );
    assert.deepEqual(c.dataPlane, {});
    assert.deepEqual(c.store, {});
    assert.equal(c.fileCacheMaxBytes, 8 * 2 ** 30);
    assert.equal(c.otlpSampleRatio, 0.05);
    assert.equal(c.temporalSecurity, undefined, 'plaintext Temporal unless a GRAMFLEET_TEMPORAL_TLS_* or API key variable is set');
  });
  it('every variable set to a good value', () => {
    const c = hostConfig({
      GRAMFLEET_TEMPORAL_ADDRESS: 'temporal:7233',
      GRAMFLEET_NAMESPACE: 'ns',
      GRAMFLEET_TASK_QUEUE: 'q',
      GRAMFLEET_NATS_URL: 'nats://nats:4222',
      GRAMFLEET_PREFIX: 'gfx',
      GRAMFLEET_LOG_LEVEL: 'debug',
      GRAMFLEET_ACK_WAIT_MS: '5000',
      GRAMFLEET_MAX_DELIVER: '2',
      GRAMFLEET_HEALTH_PORT: '0',
      GRAMFLEET_SPILL_AFTER_MS: '0',
      GRAMFLEET_EIGENPRO_PROFILE: '/tmp/ep.jsonl',
      GRAMFLEET_HOST_STORE_DIR: '/dev/shm/gf',
      GRAMFLEET_STORE_DURABILITY: 'none',
      GRAMFLEET_FILE_CACHE_DIR: '/var/cache/gf-files',
      GRAMFLEET_FILE_CACHE_MAX_BYTES: String(2 ** 30),
      GRAMFLEET_OTLP_SAMPLE_RATIO: '1',
    });
    assert.equal(c.otlpSampleRatio, 1);
    assert.deepEqual([c.fileCacheDir, c.fileCacheMaxBytes], ['/var/cache/gf-files', 2 ** 30]);
    assert.deepEqual(
      [
        c.temporalAddress,
        c.temporalNamespace,
        c.taskQueue,
        c.natsUrl,
        c.prefix,
        c.logLevel,
        c.dataPlane,
        c.healthPort,
        c.spillAfterMs,
        c.eigenproProfile,
        { ...c.store },
      ],
      [
        'temporal:7233',
        'ns',
        'q',
        'nats://nats:4222',
        'gfx',
        'debug',
        { ackWaitMs: 5000, maxDeliver: 2 },
        0,
        0,
        '/tmp/ep.jsonl',
        { hostDir: '/dev/shm/gf', durability: 'none' },
      ],
    );
  });
  it('a bad value is a typed error naming its variable', () => {
    const bad: [Record<string, string>, ErrorCode, string][] = [
      [{ GRAMFLEET_SPILL_AFTER_MS: '-1' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_SPILL_AFTER_MS'],
      [{ GRAMFLEET_FILE_CACHE_MAX_BYTES: '1000' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_FILE_CACHE_MAX_BYTES'],
      [{ GRAMFLEET_FILE_CACHE_MAX_BYTES: '8GiB' }, 'INPUT_INVALID', 'GRAMFLEET_FILE_CACHE_MAX_BYTES'],
      [{ GRAMFLEET_SPILL_AFTER_MS: '30s' }, 'INPUT_INVALID', 'GRAMFLEET_SPILL_AFTER_MS'],
      [{ GRAMFLEET_TEMPORAL_ADDRESS: 'localhost' }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_ADDRESS'],
      [{ GRAMFLEET_PREFIX: 'g f' }, 'INPUT_INVALID', 'GRAMFLEET_PREFIX'],
      [{ GRAMFLEET_ACK_WAIT_MS: '0' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_ACK_WAIT_MS'],
      [{ GRAMFLEET_HEALTH_PORT: '99999' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_HEALTH_PORT'],
      [{ GRAMFLEET_HOST_STORE_MB: 'big' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_HOST_STORE_MB'],
      [{ GRAMFLEET_LOG_LEVEL: 'WARN' }, 'INPUT_INVALID', 'GRAMFLEET_LOG_LEVEL'],
      // Temporal TLS (test/src/security/temporal-config.test.ts checks good and bad PEM files).
      [{ GRAMFLEET_TEMPORAL_TLS_CA: '/nonexistent/ca.crt' }, 'INPUT_FILE_UNREADABLE', 'GRAMFLEET_TEMPORAL_TLS_CA'],
      [{ GRAMFLEET_TEMPORAL_TLS_KEY: '/nonexistent/tls.key' }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_TLS_CERT'],
      [{ GRAMFLEET_TEMPORAL_API_KEY_FILE: '/nonexistent/api-key' }, 'INPUT_FILE_UNREADABLE', 'GRAMFLEET_TEMPORAL_API_KEY_FILE'],
    ];
    for (const [env, code, name] of bad) throwsEnv(() => hostConfig(env), code, name);
  });
  it('the orchestrator process exits 2 on a bad variable, with one JSON line naming it, before it connects', () => {
    const main = path.join(__dirname, 'worker-host.js');
    // Nothing listens at these addresses: an orchestrator past its configuration would hang connecting.
    const r = spawnSync(process.execPath, [main], {
      env: { PATH: process.env['PATH'], GRAMFLEET_NATS_URL: 'nats://127.0.0.1:1', GRAMFLEET_TEMPORAL_ADDRESS: '127.0.0.1:1', GRAMFLEET_SPILL_AFTER_MS: '-5' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, `exit status ${r.status}; stderr: ${r.stderr}`);
    const line = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    assert.deepEqual([line['code'], line['field']], ['INPUT_OUT_OF_RANGE', 'GRAMFLEET_SPILL_AFTER_MS']);
  });
});
