/**
 * `gramfleet creds generate` (orchestrator/src/security/creds.ts) on real servers: a nats-server
 * started from the generated files alone (its certificate, the CA, `nats/auth.conf` included as
 * is) accepts each role's `.creds` for what the role may do and refuses the rest with a typed
 * error (CLUSTER_FORBIDDEN, CLUSTER_UNAUTHENTICATED, CLUSTER_TLS_FAILED); the Temporal
 * certificates complete a mutual TLS handshake (frontend ↔ gramfleet's client, internode ↔
 * internode) and nothing else does. The Secrets' names against the chart: test/src/k8s/manifests.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { isGramfleetError, ndarray, resourceNames, taskSubject } from '@gramfleet/core';
import { connectNats, createArrayStore, createCertificateAuthority, openDataPlane, type DataPlane, type NatsAuth } from '@gramfleet/workers';
import { binaryPath, generateProductionCreds, parseYamlStream, type GeneratedCreds } from '@gramfleet/orchestrator/internal';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
    s.on('error', reject);
  });
}

async function typed(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isGramfleetError(e), `expected a GramfleetError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

async function refused(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, /Permissions Violation/);
}

describe('gramfleet creds generate: a nats-server and TLS endpoints from the generated files only', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-creds-'));
  let g: GeneratedCreds;
  let server: ChildProcess | undefined;
  let url = '';
  const names = resourceNames('gf');
  const open: DataPlane[] = [];
  const as = async (role: keyof GeneratedCreds['creds']): Promise<DataPlane> => {
    const dp = await openDataPlane(await connectNats(url, `creds-test-${role}`, { credsFile: g.creds[role], caFile: g.caFile }), names);
    open.push(dp);
    return dp;
  };

  before(async () => {
    g = await generateProductionCreds({ out: path.join(root, 'out'), values: { prefix: 'gf' }, natsHosts: ['127.0.0.1', 'localhost'] });
    const port = await freePort();
    const conf = path.join(root, 'nats-server.conf');
    const q = JSON.stringify;
    fs.writeFileSync(
      conf,
      [
        'server_name: creds-test',
        'host: "127.0.0.1"',
        `port: ${port}`,
        `tls { cert_file: ${q(g.nats.certFile)}, key_file: ${q(g.nats.keyFile)}, ca_file: ${q(g.caFile)}, timeout: 5 }`,
        `include ${q(path.relative(root, g.nats.authConf))}`,
        `jetstream { store_dir: ${q(path.join(root, 'js'))} }`,
        '',
      ].join('\n'),
    );
    let log = '';
    server = spawn(binaryPath('nats-server'), ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stderr?.on('data', (b: Buffer) => (log += b.toString()));
    url = `nats://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((r) => {
        const c = net.connect(port, '127.0.0.1', () => {
          c.destroy();
          r(true);
        });
        c.on('error', () => r(false));
      });
      if (up) break;
      if (i > 100 || server.exitCode !== null) assert.fail(`nats-server did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The orchestrator declares the streams and buckets (its role may).
    await as('orchestrator');
  });
  after(async () => {
    for (const dp of open) await dp.close().catch(() => undefined);
    server?.kill('SIGTERM');
    if (server !== undefined && server.exitCode === null) await new Promise((r) => server?.once('exit', r));
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('writes a private directory: 0700, every file 0600, the keys apart from what goes to the cluster', () => {
    const walk = (d: string): void => {
      assert.equal(fs.statSync(d).mode & 0o777, 0o700, d);
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else assert.equal(fs.statSync(p).mode & 0o777, 0o600, p);
      }
    };
    walk(g.dir);
    const secrets = parseYamlStream(fs.readFileSync(g.secretsFile, 'utf8'));
    const text = JSON.stringify(secrets);
    for (const k of ['ca.key', 'operator.nk', 'account.nk', 'system.nk']) {
      const seed = fs.readFileSync(path.join(g.dir, 'keys', k), 'utf8').trim();
      assert.ok(!text.includes(Buffer.from(seed).toString('base64')), `${k} stays out of the Secrets`);
    }
    // Credentials are never overwritten.
    return typed(generateProductionCreds({ out: g.dir, natsHosts: ['x'] }), 'INPUT_INVALID');
  });

  it('refuses a connection without credentials, without the CA, and with another CA', async () => {
    await typed(connectNats(url, 'anonymous', { caFile: g.caFile }), 'CLUSTER_UNAUTHENTICATED');
    await typed(connectNats(url, 'no-ca', { credsFile: g.creds.client }), 'CLUSTER_TLS_FAILED');
    const other = path.join(root, 'other-ca.crt');
    fs.writeFileSync(other, createCertificateAuthority('not this CA').certPem);
    await typed(connectNats(url, 'wrong-ca', { credsFile: g.creds.client, caFile: other } satisfies NatsAuth), 'CLUSTER_TLS_FAILED');
  });

  it('client: submits tasks and arrays; may not purge or delete anything (typed CLUSTER_FORBIDDEN for an array delete)', async () => {
    const c = await as('client');
    await c.js.publish(taskSubject('gf', 'wasm', 'no-such-op', 'creds-job'), '{}', { msgID: 'creds-job-1' });
    const store = createArrayStore(c.arrays, names.arraysBucket);
    const ref = await store.put(ndarray('f64', [3], Float64Array.from([1, 2, 3])));
    assert.deepEqual(Array.from((await store.get(ref)).data as Float64Array), [1, 2, 3]);
    await typed(store.delete(ref.digest), 'CLUSTER_FORBIDDEN');
    await refused(c.jsm.streams.purge(`OBJ_${names.arraysBucket}`));
    await refused(c.jsm.streams.purge(names.tasksStream));
    await refused(c.jsm.streams.delete(names.resultsStream));
    await refused(c.workers.put('forged-worker', '{}'));
  });

  it('workers: pull tasks of their own class, read and write arrays; may not publish tasks nor purge', async () => {
    for (const [role, cls, other] of [
      ['wasm-worker', 'wasm', 'gpu'],
      ['gpu-worker', 'gpu', 'wasm'],
    ] as const) {
      const w = await as(role);
      const own = await (await w.js.consumers.get(names.tasksStream, `workers-${cls}`)).next({ expires: 1_000 });
      if (cls === 'wasm') assert.equal(own?.subject, taskSubject('gf', 'wasm', 'no-such-op', 'creds-job'), 'the task the client submitted');
      own?.term();
      await refused(
        w.nc.request(`$JS.API.CONSUMER.MSG.NEXT.${names.tasksStream}.workers-${other}`, JSON.stringify({ batch: 1, expires: 1e9 }), { timeout: 5_000 }),
      );
      await refused(w.js.publish(taskSubject('gf', cls, 'gemm', 'forged'), '{}'));
      await refused(w.jsm.streams.purge(names.tasksStream));
      const store = createArrayStore(w.arrays, names.arraysBucket);
      const ref = await store.put(ndarray('f64', [2], Float64Array.from([cls === 'wasm' ? 7 : 8, 9])));
      assert.equal(((await store.get(ref)).data as Float64Array)[1], 9);
      await w.workers.put(`creds-${role}`, '{}');
    }
  });

  it('orchestrator and admin: may purge', async () => {
    for (const role of ['orchestrator', 'admin'] as const) {
      const o = await as(role);
      assert.equal((await o.jsm.streams.purge(names.tasksStream, { filter: taskSubject('gf', 'wasm', 'no-such-op', 'creds-job') })).success, true, role);
    }
  });

  it('Temporal: the frontend and gramfleet client certificates complete mutual TLS; a certificate of another CA does not', async () => {
    const rd = (f: string): string => fs.readFileSync(path.join(g.dir, f), 'utf8');
    const frontend = new X509Certificate(rd('temporal/frontend.crt'));
    assert.equal(frontend.checkHost('temporal-frontend'), 'temporal-frontend');
    assert.equal(frontend.checkHost('temporal-frontend.temporal.svc'), 'temporal-frontend.temporal.svc', 'the host of temporal.address');
    const handshake = async (serverFiles: string, clientCert: string, clientKey: string, servername: string): Promise<boolean> => {
      const srv = tls.createServer(
        { cert: rd(`${serverFiles}.crt`), key: rd(`${serverFiles}.key`), ca: rd('ca.crt'), requestCert: true, rejectUnauthorized: true },
        (s) => s.end('ok'),
      );
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      try {
        const port = (srv.address() as net.AddressInfo).port;
        return await new Promise<boolean>((resolve) => {
          const c = tls.connect({ host: '127.0.0.1', port, servername, ca: rd('ca.crt'), cert: clientCert, key: clientKey }, () => undefined);
          let got = '';
          c.on('data', (b: Buffer) => (got += b.toString()));
          c.on('end', () => resolve(got === 'ok'));
          c.on('error', () => resolve(false));
          c.on('close', () => resolve(got === 'ok'));
        });
      } finally {
        srv.close();
      }
    };
    assert.equal(await handshake('temporal/frontend', rd('temporal/client.crt'), rd('temporal/client.key'), 'temporal-frontend'), true);
    assert.equal(await handshake('temporal/internode', rd('temporal/internode.crt'), rd('temporal/internode.key'), 'temporal-internode'), true);
    const otherCa = createCertificateAuthority('not this CA');
    const { issueCertificate } = await import('@gramfleet/workers');
    const stranger = issueCertificate(otherCa, { commonName: 'stranger', usage: 'client' });
    assert.equal(await handshake('temporal/frontend', stranger.certPem, stranger.keyPem, 'temporal-frontend'), false);
  });
});
