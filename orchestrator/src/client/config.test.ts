import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { isGramfleetError } from '@gramfleet/core';
import { repoRoot } from '../cluster/binaries';
import { clientConfig } from './config';

/** The variables that pick a cluster (client/context.ts), unset. */
const NO_TARGET = {
  context: undefined,
  contextsFile: undefined,
  temporalAddress: undefined,
  natsUrl: undefined,
  namespace: undefined,
  taskQueue: undefined,
  prefix: undefined,
};

describe('SDK and CLI configuration (orchestrator/src/client/config.ts)', () => {
  it('defaults under the checkout, and every variable set to a good value', () => {
    assert.deepEqual(
      { ...clientConfig({}) },
      {
        home: path.join(repoRoot(), '.gramfleet', 'local'),
        demoGraph: path.join(repoRoot(), '..', 'shared', 'data', 'graphs', 'cora.npz'),
        temporalSecurity: undefined,
        natsAuth: {},
        otlpEndpoint: undefined,
        otlpSampleRatio: 0.05,
        kernelCacheMB: undefined,
        ...NO_TARGET,
      },
    );
    assert.deepEqual(
      {
        ...clientConfig({
          GRAMFLEET_HOME: '/tmp/gf-home',
          GRAMFLEET_DEMO_GRAPH: '/data/karate.adjlist',
          GRAMFLEET_KERNEL_CACHE_MB: '2048',
          GRAMFLEET_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
          GRAMFLEET_OTLP_SAMPLE_RATIO: '0.25',
          // Any readable files (the values are paths; only their readability is checked here).
          GRAMFLEET_NATS_CREDS: __filename,
          GRAMFLEET_NATS_CA: __filename,
          GRAMFLEET_NATS_CERT: __filename,
          GRAMFLEET_NATS_KEY: __filename,
        }),
      },
      {
        home: '/tmp/gf-home',
        demoGraph: '/data/karate.adjlist',
        temporalSecurity: undefined,
        natsAuth: { credsFile: __filename, caFile: __filename, certFile: __filename, keyFile: __filename },
        otlpEndpoint: 'http://127.0.0.1:4318',
        otlpSampleRatio: 0.25,
        kernelCacheMB: 2048,
        ...NO_TARGET,
      },
    );
  });
  it('a bad kernel-row cache budget is a typed error naming its variable before a local cluster starts', () => {
    for (const [v, code] of [
      ['lots', 'INPUT_INVALID'],
      ['-3', 'INPUT_OUT_OF_RANGE'],
    ] as const) {
      assert.throws(
        () => clientConfig({ GRAMFLEET_KERNEL_CACHE_MB: v }),
        (e: unknown) => isGramfleetError(e) && e.code === code && e.details['field'] === 'GRAMFLEET_KERNEL_CACHE_MB',
      );
    }
  });
  it('a sample ratio outside [0, 1] or not a number is a typed error naming GRAMFLEET_OTLP_SAMPLE_RATIO', () => {
    for (const [v, code] of [
      ['often', 'INPUT_INVALID'],
      ['-0.1', 'INPUT_OUT_OF_RANGE'],
      ['1.5', 'INPUT_OUT_OF_RANGE'],
    ] as const) {
      assert.throws(
        () => clientConfig({ GRAMFLEET_OTLP_SAMPLE_RATIO: v }),
        (e: unknown) => isGramfleetError(e) && e.code === code && e.details['field'] === 'GRAMFLEET_OTLP_SAMPLE_RATIO',
      );
    }
    assert.equal(clientConfig({ GRAMFLEET_OTLP_SAMPLE_RATIO: '0' }).otlpSampleRatio, 0);
    assert.equal(clientConfig({ GRAMFLEET_OTLP_SAMPLE_RATIO: '1' }).otlpSampleRatio, 1);
  });
  it('bad Temporal security files are typed errors naming their variable (a remote cluster is checked before connecting)', () => {
    for (const [env, code, field] of [
      [{ GRAMFLEET_TEMPORAL_TLS_CA: '/nonexistent/ca.crt' }, 'INPUT_FILE_UNREADABLE', 'GRAMFLEET_TEMPORAL_TLS_CA'],
      [{ GRAMFLEET_TEMPORAL_TLS_CERT: '/nonexistent/tls.crt' }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_TLS_KEY'],
      [{ GRAMFLEET_TEMPORAL_API_KEY_FILE: '/nonexistent/api-key' }, 'INPUT_FILE_UNREADABLE', 'GRAMFLEET_TEMPORAL_API_KEY_FILE'],
    ] as const) {
      assert.throws(
        () => clientConfig(env),
        (e: unknown) => isGramfleetError(e) && e.code === code && e.details['field'] === field && e.message.includes(field),
      );
    }
  });
});
