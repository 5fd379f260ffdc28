import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { isGramfleetError } from '@gramfleet/core';
import { repoRoot } from '../cluster/binaries';
import { clientConfig } from './config';

describe('SDK and CLI configuration (orchestrator/src/client/config.ts)', () => {
  it('defaults under the checkout, and every variable set to a good value', () => {
    assert.deepEqual(
      { ...clientConfig({}) },
      {
        home: path.join(repoRoot(), '.gramfleet', 'local'),
        demoGraph: path.join(repoRoot(), '..', 'shared', 'data', 'graphs', 'cora.npz'),
        kernelCacheMB: undefined,
      },
    );
    assert.deepEqual(
      { ...clientConfig({ GRAMFLEET_HOME: '/tmp/gf-home', GRAMFLEET_DEMO_GRAPH: '/data/karate.adjlist', GRAMFLEET_KERNEL_CACHE_MB: '2048' }) },
      {
        home: '/tmp/gf-home',
        demoGraph: '/data/karate.adjlist',
        kernelCacheMB: 2048,
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
});
