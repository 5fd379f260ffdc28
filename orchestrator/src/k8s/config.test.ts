import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError, type ErrorCode } from '@gramfleet/core';
import { controllerConfig } from './config';

function throwsEnv(f: () => unknown, code: ErrorCode, name: string): void {
  assert.throws(f, (e: unknown) => isGramfleetError(e) && e.code === code && e.details['field'] === name && e.message.includes(name));
}

describe('KernelCampaign controller configuration (orchestrator/src/k8s/config.ts)', () => {
  it('defaults, and every variable set to a good value', () => {
    assert.deepEqual(
      { ...controllerConfig({}) },
      {
        temporalAddress: '127.0.0.1:7233',
        temporalNamespace: 'default',
        temporalSecurity: undefined,
        taskQueue: 'gramfleet',
        prefix: 'gf',
        watchNamespace: undefined,
        pollIntervalMs: undefined,
        leaderElectionNamespace: undefined,
        leaderElectionLease: undefined,
        leaderElectionLeaseMs: undefined,
        healthPort: undefined,
        logLevel: 'info',
      },
    );
    assert.deepEqual(
      {
        ...controllerConfig({
          GRAMFLEET_TEMPORAL_ADDRESS: 'temporal-frontend.temporal.svc:7233',
          GRAMFLEET_NAMESPACE: 'prod',
          GRAMFLEET_TASK_QUEUE: 'gf-q',
          GRAMFLEET_PREFIX: 'gfp',
          GRAMFLEET_WATCH_NAMESPACE: 'team-a',
          GRAMFLEET_POLL_MS: '2000',
          GRAMFLEET_LEADER_ELECTION_NAMESPACE: 'gramfleet',
          GRAMFLEET_LEADER_ELECTION_LEASE: 'gramfleet-controller',
          GRAMFLEET_LEADER_ELECTION_LEASE_MS: '9000',
          GRAMFLEET_HEALTH_PORT: '8080',
          GRAMFLEET_LOG_LEVEL: 'debug',
        }),
      },
      {
        temporalAddress: 'temporal-frontend.temporal.svc:7233',
        temporalNamespace: 'prod',
        temporalSecurity: undefined,
        taskQueue: 'gf-q',
        prefix: 'gfp',
        watchNamespace: 'team-a',
        pollIntervalMs: 2000,
        leaderElectionNamespace: 'gramfleet',
        leaderElectionLease: 'gramfleet-controller',
        leaderElectionLeaseMs: 9000,
        healthPort: 8080,
        logLevel: 'debug',
      },
    );
  });
  it('a bad value is a typed error naming its variable', () => {
    const bad: [Record<string, string>, ErrorCode, string][] = [
      [{ GRAMFLEET_TEMPORAL_ADDRESS: 'temporal' }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_ADDRESS'],
      [{ GRAMFLEET_WATCH_NAMESPACE: 'Team_A' }, 'INPUT_INVALID', 'GRAMFLEET_WATCH_NAMESPACE'],
      [{ GRAMFLEET_POLL_MS: '10' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_POLL_MS'],
      [{ GRAMFLEET_HEALTH_PORT: '-1' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_HEALTH_PORT'],
      [{ GRAMFLEET_PREFIX: '9gf' }, 'INPUT_INVALID', 'GRAMFLEET_PREFIX'],
      [{ GRAMFLEET_LOG_LEVEL: 'loud' }, 'INPUT_INVALID', 'GRAMFLEET_LOG_LEVEL'],
      [{ GRAMFLEET_LEADER_ELECTION_NAMESPACE: 'Team_A' }, 'INPUT_INVALID', 'GRAMFLEET_LEADER_ELECTION_NAMESPACE'],
      [{ GRAMFLEET_LEADER_ELECTION_LEASE: 'Lease!' }, 'INPUT_INVALID', 'GRAMFLEET_LEADER_ELECTION_LEASE'],
      [{ GRAMFLEET_LEADER_ELECTION_LEASE_MS: '500' }, 'INPUT_OUT_OF_RANGE', 'GRAMFLEET_LEADER_ELECTION_LEASE_MS'],
      [{ GRAMFLEET_TEMPORAL_TLS_CA: '/nonexistent/ca.crt' }, 'INPUT_FILE_UNREADABLE', 'GRAMFLEET_TEMPORAL_TLS_CA'],
      [{ GRAMFLEET_TEMPORAL_TLS_CERT: '/nonexistent/tls.crt' }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_TLS_KEY'],
      [{ GRAMFLEET_TEMPORAL_API_KEY_FILE: '/nonexistent/api-key' }, 'INPUT_FILE_UNREADABLE', 'GRAMFLEET_TEMPORAL_API_KEY_FILE'],
    ];
    for (const [env, code, name] of bad) throwsEnv(() => controllerConfig(env), code, name);
  });
});
