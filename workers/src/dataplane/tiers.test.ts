import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isGramfleetError } from '@gramfleet/core';
import { storeTiersFromEnv } from './tiers';

describe('array store tiers from the environment', () => {
  it('reads the host store and peer variables', () => {
    assert.deepEqual(storeTiersFromEnv({}), {});
    assert.deepEqual(
      storeTiersFromEnv({
        GRAMFLEET_HOST_STORE_DIR: '/dev/shm/x',
        GRAMFLEET_HOST_STORE_MB: '64',
        GRAMFLEET_PEER_PORT: '7450',
        GRAMFLEET_PEER_ADVERTISE: '10.0.0.5',
        GRAMFLEET_PEER_SECRET: 's3cret',
        GRAMFLEET_STORE_DURABILITY: 'background',
      }),
      { hostDir: '/dev/shm/x', hostBytes: 64 * 1024 * 1024, peerPort: 7450, peerAdvertise: '10.0.0.5', peerSecret: 's3cret', durability: 'background' },
    );
  });

  it('reads the peer secret from GRAMFLEET_PEER_SECRET_FILE (a mounted Secret) when GRAMFLEET_PEER_SECRET is unset', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-peer-secret-'));
    try {
      const file = path.join(dir, 'secret');
      fs.writeFileSync(file, 'from-a-file\n', { mode: 0o600 });
      assert.deepEqual(storeTiersFromEnv({ GRAMFLEET_PEER_ADVERTISE: '10.0.0.5', GRAMFLEET_PEER_SECRET_FILE: file }), {
        peerAdvertise: '10.0.0.5',
        peerSecret: 'from-a-file',
      });
      fs.writeFileSync(file, '\n');
      for (const f of [file, path.join(dir, 'missing')])
        assert.throws(
          () => storeTiersFromEnv({ GRAMFLEET_PEER_ADVERTISE: '10.0.0.5', GRAMFLEET_PEER_SECRET_FILE: f }),
          (e) => isGramfleetError(e) && e.details['field'] === 'GRAMFLEET_PEER_SECRET_FILE',
        );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad values, and serving peers without a secret, naming the variable', () => {
    const cases: [NodeJS.ProcessEnv, string][] = [
      [{ GRAMFLEET_HOST_STORE_MB: '0' }, 'GRAMFLEET_HOST_STORE_MB'],
      [{ GRAMFLEET_HOST_STORE_MB: '1.5' }, 'GRAMFLEET_HOST_STORE_MB'],
      [{ GRAMFLEET_PEER_PORT: '70000' }, 'GRAMFLEET_PEER_PORT'],
      [{ GRAMFLEET_STORE_DURABILITY: 'maybe' }, 'GRAMFLEET_STORE_DURABILITY'],
      [{ GRAMFLEET_PEER_ADVERTISE: '10.0.0.5' }, 'GRAMFLEET_PEER_SECRET'],
    ];
    for (const [env, field] of cases) {
      assert.throws(
        () => storeTiersFromEnv(env),
        (e) => isGramfleetError(e) && e.details['field'] === field && e.message.includes(field),
        field,
      );
    }
  });
});
