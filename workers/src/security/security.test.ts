/**
 * The NATS security pieces without a server: the X.509 issuer (checked by node's own X.509
 * parser), the roles' permissions, the local material (reused across starts, private modes), and
 * reading GRAMFLEET_NATS_CREDS / _CA / _CERT / _KEY. The server side is
 * test/src/integration/nats-security.test.ts.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createUser } from '@nats-io/nkeys';
import { isGramfleetError } from '@gramfleet/core';
import { createCertificateAuthority, issueCertificate } from './x509';
import { NATS_ROLES, rolePermissions } from './roles';
import { NATS_MAX_CONTROL_LINE, createNatsAccounts, ensureLocalNatsSecurity, issueLocalIdentity, localNatsServerConfig, roleCreds } from './local';
import { inboxPrefixOfJwt, natsAuthFromEnv, natsConnectOptions, ownerIdPrefix } from './auth';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(isGramfleetError(e), String(e));
    return e.code;
  }
  assert.fail('expected a GramfleetError');
}

describe('x509: a local CA and the certificates it signs', () => {
  it('signs a server certificate that node verifies against the CA, for its IPs and names', () => {
    const ca = createCertificateAuthority('test CA');
    const srv = issueCertificate(ca, { commonName: 'nats', hosts: ['127.0.0.1', '::1', 'localhost'] });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(srv.certPem);
    assert.equal(caCert.ca, true);
    assert.equal(cert.ca, false);
    assert.ok(caCert.verify(caCert.publicKey), 'self-signed CA');
    assert.ok(cert.verify(caCert.publicKey), 'signed by the CA');
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkHost('evil.example'), undefined);
    assert.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.1'), 'serverAuth');
    // Another CA's key did not sign it.
    assert.equal(cert.verify(new X509Certificate(createCertificateAuthority('other').certPem).publicKey), false);
  });
});

describe('roles', () => {
  it('a worker may neither manage streams nor publish tasks, lanes or cancellations, and listens on its own lane', () => {
    const p = rolePermissions('wasm-worker', { prefix: 'gf', token: 'w1', pin: 'w1' });
    for (const s of ['$JS.API.STREAM.PURGE.>', '$JS.API.STREAM.DELETE.>', '$JS.API.STREAM.MSG.DELETE.>', 'gf.task.>', 'gf.lane.>', 'gf.cancel.>'])
      assert.ok(p.pub.deny.includes(s), s);
    assert.ok(p.pub.deny.includes('$JS.API.CONSUMER.MSG.NEXT.GF_TASKS.workers-gpu'));
    assert.ok(p.pub.allow.includes('$JS.API.CONSUMER.MSG.NEXT.GF_TASKS.workers-wasm'));
    assert.deepEqual(p.sub.allow, ['_INBOX_w1.>', 'gf.lane.w1', 'gf.cancel.*']);
    const g = rolePermissions('gpu-worker', { prefix: 'gf', token: 'g1' });
    assert.ok(g.pub.deny.includes('$JS.API.CONSUMER.MSG.NEXT.GF_TASKS.workers-wasm'));
  });

  it('a client may not manage streams and receives on its own inbox and owner subjects only', () => {
    const p = rolePermissions('client', { prefix: 'my-app', token: 'c1' });
    assert.ok(p.pub.deny.includes('$JS.API.STREAM.DELETE.>'));
    // No purge of any stream (an array's delete is a filtered purge: the orchestrator does it).
    assert.deepEqual(
      p.pub.allow.filter((x) => x.startsWith('$JS.API.STREAM.PURGE')),
      [],
    );
    assert.ok(p.pub.deny.includes('$JS.API.STREAM.PURGE.>'));
    assert.deepEqual(p.sub.allow, ['_INBOX_c1.>', 'my-app.owner.c1.>']);
    assert.ok(p.pub.allow.includes('$JS.API.CONSUMER.CREATE.MY_APP_RESULTS.*.my-app.result.*.progress'));
    // Its own arrays bucket and the shared one, and no wildcard that reaches another client's.
    for (const x of [
      '$O.my-app-arrays-c1.>',
      '$JS.API.DIRECT.GET.OBJ_my-app-arrays-c1',
      '$JS.API.STREAM.MSG.GET.OBJ_my-app-arrays-c1',
      '$JS.API.DIRECT.GET.OBJ_my-app-arrays',
    ])
      assert.ok(p.pub.allow.includes(x), x);
    for (const x of p.pub.allow.filter((a) => /DIRECT\.GET|MSG\.GET|CONSUMER\.CREATE|^\$O\./.test(a)))
      assert.doesNotMatch(x, /(GET|CREATE)\.[*>]|^\$O\.[*>]/, x);
    assert.equal(rolePermissions('orchestrator', { prefix: 'gf', token: 'o' }).pub.allow[0], '>');
  });

  it("every role's user JWT fits the servers' control line (it travels in the CONNECT line), with a 64-character identity", async () => {
    const account = (await createNatsAccounts('t')).accountSeed;
    for (const role of NATS_ROLES) {
      const creds = await roleCreds(account, 'a-long-prefix', role, 'x'.repeat(64), 'p'.repeat(64));
      const jwt = /-----BEGIN NATS USER JWT-----\s*\n\s*(\S+)/.exec(creds)?.[1] ?? '';
      // The CONNECT line: the JWT, its signature (~90 bytes) and the client's other fields (~300 bytes).
      assert.ok(jwt.length + 1024 < NATS_MAX_CONTROL_LINE, `${role}: ${jwt.length} bytes`);
    }
  });
});

describe('local security material', () => {
  it('is made once in <dataDir>/security (0700 / 0600) and reused by the next start', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-sec-'));
    try {
      const a = await ensureLocalNatsSecurity(dir, 'gf');
      const ca = fs.readFileSync(a.caFile, 'utf8');
      const b = await ensureLocalNatsSecurity(dir, 'gf');
      assert.equal(fs.readFileSync(b.caFile, 'utf8'), ca, 'the CA is reused');
      assert.equal(fs.statSync(a.dir).mode & 0o777, 0o700);
      for (const f of [a.caFile, a.serverKeyFile, a.creds.admin, a.creds['wasm-worker']]) assert.equal(fs.statSync(f).mode & 0o777, 0o600, f);
      const id = await issueLocalIdentity(a, 'wasm-worker', 'worker-0-1', 'worker-0-1');
      const o = natsConnectOptions({ credsFile: id, caFile: a.caFile });
      assert.equal(o.inboxPrefix, '_INBOX_worker-0-1');
      assert.ok(o.authenticator !== undefined && o.tls?.caFile === a.caFile);
      const conf = localNatsServerConfig(a, { host: '127.0.0.1', port: 4222, monitorPort: 8222, storeDir: '/x', serverName: 's' });
      assert.match(conf, /tls \{/);
      assert.match(conf, /resolver: MEMORY/);
      await assert.rejects(issueLocalIdentity(a, 'client', '../escape'), (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_INVALID');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('GRAMFLEET_NATS_CREDS / _CA / _CERT / _KEY', () => {
  it('reads readable files, an nkey seed as well as a .creds file, and names the bad variable', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-auth-'));
    try {
      assert.deepEqual(natsAuthFromEnv({}), {});
      assert.equal(
        code(() => natsAuthFromEnv({ GRAMFLEET_NATS_CA: path.join(dir, 'missing.crt') })),
        'INPUT_FILE_UNREADABLE',
      );
      const f = path.join(dir, 'f.pem');
      fs.writeFileSync(f, 'x');
      assert.equal(
        code(() => natsAuthFromEnv({ GRAMFLEET_NATS_CERT: f })),
        'INPUT_INVALID',
      );
      assert.deepEqual(natsAuthFromEnv({ GRAMFLEET_NATS_CERT: f, GRAMFLEET_NATS_KEY: f, GRAMFLEET_NATS_CREDS: '' }), { certFile: f, keyFile: f });
      const seed = path.join(dir, 'user.nk');
      fs.writeFileSync(seed, new TextDecoder().decode(createUser().getSeed()) + '\n');
      const o = natsConnectOptions({ credsFile: seed });
      assert.ok(o.authenticator !== undefined);
      assert.equal(o.inboxPrefix, undefined);
      assert.equal(
        code(() => natsConnectOptions({ credsFile: f })),
        'INPUT_INVALID',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the inbox an identity may receive on, and the owner-id prefix that goes with it', () => {
    const claims = Buffer.from(JSON.stringify({ nats: { sub: { allow: ['gf.lane.x', '_INBOX_w-1.>'] } } })).toString('base64url');
    assert.equal(inboxPrefixOfJwt(`e30.${claims}.sig`), '_INBOX_w-1');
    assert.equal(inboxPrefixOfJwt('not a jwt'), undefined);
    assert.equal(ownerIdPrefix({ options: { inboxPrefix: '_INBOX_gramfleet-client' } }), 'gramfleet-client.');
    assert.equal(ownerIdPrefix({ options: {} }), '');
  });
});
