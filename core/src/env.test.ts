import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError, type ErrorCode } from './errors';
import {
  DATA_PLANE_ENV,
  HEALTH_PORT_ENV,
  OTLP_ENDPOINT_ENV,
  LOG_LEVEL_ENV,
  PREFIX_ENV,
  TEMPORAL_ADDRESS_ENV,
  envChoice,
  envFlag,
  envInt,
  envList,
  envRequired,
  envString,
  envVars,
  readEnv,
} from './env';

/** Asserts that `f` throws the typed error `code` naming the variable `name` in its message and details. */
function throwsEnv(f: () => unknown, code: ErrorCode, name: string, bound?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isGramfleetError(e), `a GramfleetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.details['field'], name);
    assert.match(e.message, new RegExp(`environment variable ${name} must be`));
    if (bound !== undefined) assert.match(e.message, bound);
    return true;
  });
}

describe('environment variables (core/src/env.ts)', () => {
  it('integers: the default when unset or empty, the value in bounds, INPUT_INVALID for non-integers, INPUT_OUT_OF_RANGE outside the bounds', () => {
    const f = envInt('GF_T_N', { meaning: 'n', min: 1, max: 8, default: 3 });
    assert.equal(f.read({}), 3);
    assert.equal(f.read({ GF_T_N: '' }), 3);
    assert.equal(f.read({ GF_T_N: '8' }), 8);
    for (const bad of ['x', '1.5', '2e3', '0x10', 'NaN']) throwsEnv(() => f.read({ GF_T_N: bad }), 'INPUT_INVALID', 'GF_T_N', /an integer in \[1, 8\]/);
    for (const out of ['0', '9', '-1']) throwsEnv(() => f.read({ GF_T_N: out }), 'INPUT_OUT_OF_RANGE', 'GF_T_N', /an integer in \[1, 8\]/);
    assert.equal(envInt('GF_T_M', { meaning: 'm', min: 0, max: 1 }).read({}), undefined);
  });
  it('choices, flags, lists, required and patterned strings', () => {
    const c = envChoice('GF_T_C', ['a', 'b'] as const, { meaning: 'c', default: 'a' });
    assert.equal(c.read({ GF_T_C: 'b' }), 'b');
    throwsEnv(() => c.read({ GF_T_C: 'A' }), 'INPUT_INVALID', 'GF_T_C', /one of a, b/);
    const fl = envFlag('GF_T_F', { meaning: 'f' });
    assert.deepEqual([fl.read({}), fl.read({ GF_T_F: '0' }), fl.read({ GF_T_F: '1' })], [false, false, true]);
    throwsEnv(() => fl.read({ GF_T_F: 'true' }), 'INPUT_INVALID', 'GF_T_F', /0 or 1/);
    assert.deepEqual(envList('GF_T_L', ':', { meaning: 'l' }).read({ GF_T_L: 'a::b:' }), ['a', 'b']);
    const r = envRequired('GF_T_R', { meaning: 'r', expected: 'set' });
    assert.equal(r.read({ GF_T_R: 'x' }), 'x');
    throwsEnv(() => r.read({}), 'INPUT_INVALID', 'GF_T_R', /got nothing \(unset\)/);
    const s = envString('GF_T_S', { meaning: 's', pattern: /^z+$/, expected: 'zs' });
    assert.equal(s.read({}), undefined);
    throwsEnv(() => s.read({ GF_T_S: 'y' }), 'INPUT_INVALID', 'GF_T_S', /zs/);
  });
  it('the shared variables: log level, prefix, Temporal address, health port, the task queue consumer', () => {
    assert.equal(LOG_LEVEL_ENV.read({}), 'info');
    throwsEnv(() => LOG_LEVEL_ENV.read({ GRAMFLEET_LOG_LEVEL: 'verbose' }), 'INPUT_INVALID', 'GRAMFLEET_LOG_LEVEL');
    assert.equal(PREFIX_ENV.read({}), 'gf');
    throwsEnv(() => PREFIX_ENV.read({ GRAMFLEET_PREFIX: 'gf.x' }), 'INPUT_INVALID', 'GRAMFLEET_PREFIX');
    assert.equal(TEMPORAL_ADDRESS_ENV.read({ GRAMFLEET_TEMPORAL_ADDRESS: 'temporal-frontend.temporal:7233' }), 'temporal-frontend.temporal:7233');
    assert.equal(TEMPORAL_ADDRESS_ENV.read({ GRAMFLEET_TEMPORAL_ADDRESS: '[::1]:7233' }), '[::1]:7233');
    throwsEnv(() => TEMPORAL_ADDRESS_ENV.read({ GRAMFLEET_TEMPORAL_ADDRESS: 'http://x:7233' }), 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_ADDRESS', /host:port/);
    assert.equal(HEALTH_PORT_ENV.read({}), undefined);
    throwsEnv(() => HEALTH_PORT_ENV.read({ GRAMFLEET_HEALTH_PORT: '70000' }), 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_HEALTH_PORT', /\[0, 65535\]/);
    assert.equal(OTLP_ENDPOINT_ENV.read({}), undefined);
    assert.equal(OTLP_ENDPOINT_ENV.read({ GRAMFLEET_OTLP_ENDPOINT: 'http://otel-collector.monitoring:4318' }), 'http://otel-collector.monitoring:4318');
    throwsEnv(() => OTLP_ENDPOINT_ENV.read({ GRAMFLEET_OTLP_ENDPOINT: 'otel:4318' }), 'INPUT_INVALID', 'GRAMFLEET_OTLP_ENDPOINT', /http\(s\) URL/);
    assert.deepEqual(DATA_PLANE_ENV.read({}), {});
    assert.deepEqual(DATA_PLANE_ENV.read({ GRAMFLEET_ACK_WAIT_MS: '3000', GRAMFLEET_MAX_DELIVER: '5' }), { ackWaitMs: 3000, maxDeliver: 5 });
    throwsEnv(() => DATA_PLANE_ENV.read({ GRAMFLEET_MAX_DELIVER: '0' }), 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_MAX_DELIVER');
    assert.deepEqual(DATA_PLANE_ENV.read({ GRAMFLEET_TASKS_MAX_MSGS: '10', GRAMFLEET_RESULTS_MAX_BYTES: String(2 ** 30) }), {
      tasksMaxMsgs: 10,
      resultsMaxBytes: 2 ** 30,
    });
    throwsEnv(() => DATA_PLANE_ENV.read({ GRAMFLEET_TASKS_MAX_BYTES: '1024' }), 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_TASKS_MAX_BYTES');
    assert.deepEqual(DATA_PLANE_ENV.read({ GRAMFLEET_NATS_REPLICAS: '3' }), { replicas: 3 });
    throwsEnv(() => DATA_PLANE_ENV.read({ GRAMFLEET_NATS_REPLICAS: '2' }), 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_NATS_REPLICAS', /1, 3 or 5/);
    throwsEnv(() => DATA_PLANE_ENV.read({ GRAMFLEET_NATS_REPLICAS: '7' }), 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_NATS_REPLICAS');
  });
  it('readEnv reads every field (frozen), envVars lists every variable with its meaning', () => {
    const spec = { level: LOG_LEVEL_ENV, queue: DATA_PLANE_ENV };
    const v = readEnv(spec, { GRAMFLEET_LOG_LEVEL: 'warn' });
    assert.deepEqual(v, { level: 'warn', queue: {} });
    assert.ok(Object.isFrozen(v));
    assert.deepEqual(
      envVars(spec).map((d) => d.name),
      [
        'GRAMFLEET_LOG_LEVEL',
        'GRAMFLEET_ACK_WAIT_MS',
        'GRAMFLEET_MAX_DELIVER',
        'GRAMFLEET_TASKS_MAX_MSGS',
        'GRAMFLEET_TASKS_MAX_BYTES',
        'GRAMFLEET_RESULTS_MAX_BYTES',
        'GRAMFLEET_ARRAYS_MAX_BYTES',
        'GRAMFLEET_NATS_REPLICAS',
      ],
    );
    for (const d of envVars(spec)) assert.ok(d.meaning.length > 10, d.name);
  });
});
