/**
 * Temporal TLS and API key configuration (orchestrator/src/security/temporal.ts) with real PEM
 * files: good files make the connection options every client takes (TLS, mutual TLS, API key);
 * each bad one (unreadable, not PEM, a certificate without its key, a key of another
 * certificate, an empty API key file) is a typed error naming its variable, in every process
 * kind's config module; secrets are never read from variable values.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isGramfleetError, type ErrorCode } from '@gramfleet/core';
import {
  CLIENT_ENV,
  CONTROLLER_ENV,
  HOST_ENV,
  TEMPORAL_SECURITY_ENV,
  checkTemporalSecurity,
  describeTemporalSecurity,
  temporalConnectionOptions,
} from '@gramfleet/orchestrator/internal';
import { createTestCa, issueTestCert, opensslAvailable, writeSecret, type TestCert } from './certs';

const skip = opensslAvailable() ? false : 'the openssl command line is not installed (it makes the test certificates)';
if (skip !== false) console.log(`# skipped: ${skip}`);

function throwsField(f: () => unknown, code: ErrorCode, field: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isGramfleetError(e), `not a GramfleetError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.details['field'], field, e.message);
    assert.ok(e.message.includes(field), e.message);
    return true;
  });
}

describe('Temporal TLS and API key configuration', { skip }, () => {
  let dir: string;
  let ca: TestCert;
  let client: TestCert;
  let other: TestCert;
  let apiKey: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-temporal-config-'));
    ca = createTestCa(dir);
    client = issueTestCert(ca, dir, 'client', { cn: 'gramfleet-client', client: true });
    other = issueTestCert(ca, dir, 'other', { cn: 'someone-else', client: true });
    apiKey = writeSecret(dir, 'api-key', 'tmprl-key-0123456789\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('unset: plaintext; good files: TLS, mutual TLS and an API key, read from the files', () => {
    assert.equal(TEMPORAL_SECURITY_ENV.read({}), undefined);
    assert.deepEqual(temporalConnectionOptions('temporal:7233', undefined), { address: 'temporal:7233' });
    const env = {
      GRAMFLEET_TEMPORAL_TLS_CA: ca.certFile,
      GRAMFLEET_TEMPORAL_TLS_CERT: client.certFile,
      GRAMFLEET_TEMPORAL_TLS_KEY: client.keyFile,
      GRAMFLEET_TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
      GRAMFLEET_TEMPORAL_API_KEY_FILE: apiKey,
    };
    for (const spec of [HOST_ENV, CONTROLLER_ENV, CLIENT_ENV]) {
      const s = spec.temporalSecurity.read(env);
      assert.ok(s !== undefined);
      const o = temporalConnectionOptions('temporal:7233', s);
      assert.equal(o.address, 'temporal:7233');
      assert.equal(Buffer.from(o.tls?.serverRootCACertificate ?? []).toString('utf8'), ca.certPem);
      assert.equal(Buffer.from(o.tls?.clientCertPair?.crt ?? []).toString('utf8'), client.certPem);
      assert.equal(Buffer.from(o.tls?.clientCertPair?.key ?? []).toString('utf8'), client.keyPem);
      assert.equal(o.tls?.serverNameOverride, 'temporal.example');
      assert.equal(o.apiKey, 'tmprl-key-0123456789', 'the key is the file without its trailing newline');
      assert.match(describeTemporalSecurity(s), /^mutual TLS, CA .*ca\.crt, server name temporal\.example, API key$/);
      assert.ok(!describeTemporalSecurity(s).includes('tmprl-key'), 'no secret in the description');
    }
    // A CA alone: server-auth TLS. An API key alone: TLS with the system's roots, never plaintext.
    assert.deepEqual(Object.keys(temporalConnectionOptions('t:1', TEMPORAL_SECURITY_ENV.read({ GRAMFLEET_TEMPORAL_TLS_CA: ca.certFile })).tls ?? {}), [
      'serverRootCACertificate',
    ]);
    const keyOnly = temporalConnectionOptions('t:1', TEMPORAL_SECURITY_ENV.read({ GRAMFLEET_TEMPORAL_API_KEY_FILE: apiKey }));
    assert.deepEqual([keyOnly.tls, keyOnly.apiKey], [{}, 'tmprl-key-0123456789']);
  });

  it('a bad file or pairing is a typed error naming its variable, in every config module', () => {
    const notPem = writeSecret(dir, 'not-pem', 'hello\n');
    const empty = writeSecret(dir, 'empty-key', '\n');
    const bad: [Record<string, string>, ErrorCode, string][] = [
      [{ GRAMFLEET_TEMPORAL_TLS_CA: path.join(dir, 'missing.crt') }, 'INPUT_FILE_UNREADABLE', 'GRAMFLEET_TEMPORAL_TLS_CA'],
      [{ GRAMFLEET_TEMPORAL_TLS_CA: notPem }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_TLS_CA'],
      [{ GRAMFLEET_TEMPORAL_TLS_CERT: client.certFile }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_TLS_KEY'],
      [{ GRAMFLEET_TEMPORAL_TLS_KEY: client.keyFile }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_TLS_CERT'],
      [{ GRAMFLEET_TEMPORAL_TLS_CERT: notPem, GRAMFLEET_TEMPORAL_TLS_KEY: client.keyFile }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_TLS_CERT'],
      [{ GRAMFLEET_TEMPORAL_TLS_CERT: client.certFile, GRAMFLEET_TEMPORAL_TLS_KEY: notPem }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_TLS_KEY'],
      [{ GRAMFLEET_TEMPORAL_TLS_CERT: client.certFile, GRAMFLEET_TEMPORAL_TLS_KEY: other.keyFile }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_TLS_KEY'],
      [
        { GRAMFLEET_TEMPORAL_TLS_CERT: client.certFile, GRAMFLEET_TEMPORAL_TLS_KEY: path.join(dir, 'gone.key') },
        'INPUT_FILE_UNREADABLE',
        'GRAMFLEET_TEMPORAL_TLS_KEY',
      ],
      [{ GRAMFLEET_TEMPORAL_API_KEY_FILE: empty }, 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_API_KEY_FILE'],
      // A key in the variable itself is not a file: secrets come from files only.
      [{ GRAMFLEET_TEMPORAL_API_KEY_FILE: 'tmprl-key-0123456789' }, 'INPUT_FILE_UNREADABLE', 'GRAMFLEET_TEMPORAL_API_KEY_FILE'],
    ];
    for (const spec of [HOST_ENV, CONTROLLER_ENV, CLIENT_ENV])
      for (const [env, code, field] of bad) throwsField(() => spec.temporalSecurity.read(env), code, field);
  });

  it('the files are read at each connect: a rotated API key file is picked up (certificates are read the same way)', () => {
    const rotating = writeSecret(dir, 'rotating-key', 'first-key\n');
    const s = TEMPORAL_SECURITY_ENV.read({ GRAMFLEET_TEMPORAL_TLS_CA: ca.certFile, GRAMFLEET_TEMPORAL_API_KEY_FILE: rotating });
    assert.equal(temporalConnectionOptions('t:1', s).apiKey, 'first-key');
    writeSecret(dir, 'rotating-key', 'second-key\n');
    assert.equal(temporalConnectionOptions('t:1', s).apiKey, 'second-key');
  });

  it("connect()'s temporalSecurity option is checked the same way and names the option's field", () => {
    throwsField(() => checkTemporalSecurity({ certFile: client.certFile }), 'INPUT_INVALID', 'temporalSecurity.keyFile');
    throwsField(() => checkTemporalSecurity({ caFile: path.join(dir, 'missing.crt') }), 'INPUT_FILE_UNREADABLE', 'temporalSecurity.caFile');
    throwsField(() => checkTemporalSecurity({ apiKeyFile: '' }), 'INPUT_INVALID', 'temporalSecurity.apiKeyFile');
    assert.equal(checkTemporalSecurity({}), undefined);
  });
});
