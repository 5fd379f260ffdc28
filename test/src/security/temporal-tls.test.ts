/**
 * Temporal over TLS, mutual TLS and API keys, on real servers: a real local cluster (Temporal dev
 * server, nats-server, orchestrator, a WASM worker) with a real TLS terminator in front of its
 * Temporal frontend (./grpc-tls-proxy.ts: node's HTTP/2 server over TLS forwarding gRPC to the dev
 * server, as Temporal Cloud or a TLS-enabled frontend would stand), with certificates made by
 * openssl. Checked:
 * - the SDK (`connect()` with `temporalSecurity`) and a second orchestrator worker host (the
 *   GRAMFLEET_TEMPORAL_TLS_* variables, NativeConnection) both reach Temporal through mutual TLS
 *   only, and a GRF job submitted through it runs on that worker host to the right result;
 * - an untrusted server certificate (wrong CA), a server name the certificate does not carry, a
 *   plaintext client, no client certificate, and a client certificate of another CA are each
 *   refused with a typed error naming what to set;
 * - an API key is sent as `authorization: Bearer <key>` (what reaches the terminator is checked),
 *   a wrong key is refused with CLUSTER_UNAUTHENTICATED naming GRAMFLEET_TEMPORAL_API_KEY_FILE and
 *   no call of its is forwarded to Temporal;
 * - the local dev server listens on loopback only (every socket of its process, from /proc), and
 *   `gramfleet status` says so.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { isGramfleetError, type ErrorCode } from '@gramfleet/core';
import { natsAuthEnv } from '@gramfleet/workers';
import { connect, type Fleet, type TemporalSecurity } from '@gramfleet/orchestrator';
import { runCli, type CliContext } from '@gramfleet/orchestrator/internal';
import { sharedGraph, startTestCluster, until, type TestCluster } from '../integration/harness';
import { createTestCa, issueTestCert, opensslAvailable, writeSecret, type TestCert } from './certs';
import { startGrpcTlsProxy, type GrpcTlsProxy } from './grpc-tls-proxy';

const repo = path.resolve(__dirname, '..', '..', '..');
const skip = opensslAvailable() ? false : 'the openssl command line is not installed (it makes the test certificates)';
if (skip !== false) console.log(`# skipped: ${skip}`);

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, field: string, ...inMessage: RegExp[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isGramfleetError(e), `not a GramfleetError: ${(e as Error).stack ?? String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.details['field'], field, e.message);
    for (const m of inMessage) assert.match(e.message, m);
    return true;
  });
}

/** Local addresses of the TCP sockets process `pid` listens on (Linux /proc). */
function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const out: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const lines = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== '0A' || !inodes.has(f[9]!)) continue; // 0A: LISTEN
      const [hex, port] = f[1]!.split(':') as [string, string];
      const ip =
        hex.length === 8
          ? [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.')
          : hex === '00000000000000000000000001000000'
            ? '::1'
            : `[${hex}]`;
      out.push(`${ip}:${parseInt(port, 16)}`);
    }
  }
  return out;
}

describe('Temporal over TLS, mutual TLS and API keys (a real TLS terminator before the real dev server)', { skip }, () => {
  let t: TestCluster;
  let dir: string;
  let ca: TestCert;
  let client: TestCert;
  let stranger: TestCert;
  let wrongCa: TestCert;
  let mtls: GrpcTlsProxy;
  let keyed: GrpcTlsProxy;
  const apiKey = `tmprl-${randomBytes(12).toString('hex')}`;
  let host: ChildProcess | undefined;
  let hostLog = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-temporal-tls-'));
    ca = createTestCa(dir, 'ca', 'gramfleet test CA');
    wrongCa = createTestCa(dir, 'wrong-ca', 'some other CA');
    const server = issueTestCert(ca, dir, 'server', { cn: 'temporal-frontend', server: { dns: ['temporal.test', 'localhost'], ips: ['127.0.0.1'] } });
    client = issueTestCert(ca, dir, 'client', { cn: 'gramfleet-orchestrator', client: true });
    stranger = issueTestCert(wrongCa, dir, 'stranger', { cn: 'stranger', client: true });
    t = await startTestCluster('temporal-tls', { workers: 1 });
    const upstream = t.cluster.state.temporalAddress;
    mtls = await startGrpcTlsProxy({ upstream, certPem: server.certPem, keyPem: server.keyPem, clientCa: ca.certPem });
    keyed = await startGrpcTlsProxy({ upstream, certPem: server.certPem, keyPem: server.keyPem, apiKey });
  });
  after(async () => {
    if (host !== undefined && host.exitCode === null) {
      host.kill('SIGTERM');
      await new Promise((r) => host!.once('exit', r));
    }
    await mtls?.close();
    await keyed?.close();
    await t?.stop();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** connect() to the cluster with Temporal reached at `address`, secured by `s`. */
  function remote(address: string, s: TemporalSecurity | undefined, taskQueue = t.cluster.state.taskQueue): Promise<Fleet> {
    const st = t.cluster.state;
    return connect({
      temporalAddress: address,
      natsUrl: st.natsUrl,
      namespace: st.namespace,
      prefix: st.prefix,
      taskQueue,
      natsAuth: t.cluster.natsAuth('client'),
      ...(s !== undefined ? { temporalSecurity: s } : {}),
    });
  }

  it('mutual TLS: an orchestrator worker host and the SDK reach Temporal only through the terminator, and a GRF job runs on that host', async () => {
    const st = t.cluster.state;
    // A second orchestrator on its own task queue, configured by the variables only.
    const taskQueue = `tls-${randomBytes(3).toString('hex')}`;
    host = spawn(process.execPath, [path.join(repo, 'orchestrator', 'dist', 'host', 'worker-host.js')], {
      env: {
        PATH: process.env['PATH'],
        GRAMFLEET_TEMPORAL_ADDRESS: mtls.address,
        GRAMFLEET_NAMESPACE: st.namespace,
        GRAMFLEET_TASK_QUEUE: taskQueue,
        GRAMFLEET_NATS_URL: st.natsUrl,
        ...natsAuthEnv(t.cluster.natsAuth('orchestrator')),
        GRAMFLEET_PREFIX: st.prefix,
        GRAMFLEET_ACK_WAIT_MS: String(st.dataPlane.ackWaitMs ?? 3000),
        GRAMFLEET_MAX_DELIVER: String(st.dataPlane.maxDeliver ?? 5),
        ...(st.hostStore !== undefined ? { GRAMFLEET_HOST_STORE_DIR: st.hostStore.dir } : {}),
        GRAMFLEET_TEMPORAL_TLS_CA: ca.certFile,
        GRAMFLEET_TEMPORAL_TLS_CERT: client.certFile,
        GRAMFLEET_TEMPORAL_TLS_KEY: client.keyFile,
        GRAMFLEET_TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
        GRAMFLEET_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    host.stdout!.on('data', (b: Buffer) => (hostLog += b.toString()));
    host.stderr!.on('data', (b: Buffer) => (hostLog += b.toString()));
    const before = mtls.counts.forwarded;
    const fleet = await remote(mtls.address, { caFile: ca.certFile, certFile: client.certFile, keyFile: client.keyFile }, taskQueue);
    try {
      const r = await (
        await fleet.submit({
          kind: 'grf',
          graph: sharedGraph('karate.adjlist'),
          kernel: 'reg-laplacian',
          scale: 0.25,
          walks: 8,
          pHalt: 0.5,
          seed: 3,
          shardNodes: 17,
        })
      ).result();
      assert.equal(r.n, 34);
      assert.equal(r.shards, 2);
      assert.equal((await fleet.getCsr(r.phi[0]!)).indptr.length, 35);
    } finally {
      await fleet.close();
    }
    assert.ok(mtls.counts.forwarded > before, 'the calls went through the terminator');
    assert.ok(mtls.seen.clientCns.has('gramfleet-orchestrator'), `client certificates seen: ${[...mtls.seen.clientCns].join(', ')}`);
    assert.match(hostLog, /orchestrator worker running.*mutual TLS/, hostLog);
  });

  it('an untrusted server certificate or a name it does not carry is CLUSTER_TLS_FAILED naming the option to set', async () => {
    const pair = { certFile: client.certFile, keyFile: client.keyFile };
    await rejectsWith(
      remote(mtls.address, { caFile: wrongCa.certFile, ...pair }),
      'CLUSTER_TLS_FAILED',
      'temporalSecurity.caFile',
      /not trusted/,
      /temporalSecurity\.caFile/,
    );
    await rejectsWith(
      remote(mtls.address, { caFile: ca.certFile, serverName: 'elsewhere.test', ...pair }),
      'CLUSTER_TLS_FAILED',
      'temporalSecurity.serverName',
      /does not name elsewhere\.test/,
    );
    // A plaintext client at a TLS port: the message says the server speaks TLS.
    await rejectsWith(remote(mtls.address, undefined), 'CLUSTER_TLS_FAILED', 'GRAMFLEET_TEMPORAL_TLS_CA', /speaks TLS/);
  });

  it('no client certificate, or one of another CA, is CLUSTER_UNAUTHENTICATED naming the certificate option', async () => {
    const refusedBefore = mtls.seen.tlsRefused;
    await rejectsWith(remote(mtls.address, { caFile: ca.certFile }), 'CLUSTER_UNAUTHENTICATED', 'temporalSecurity.certFile', /requires a client certificate/);
    await rejectsWith(
      remote(mtls.address, { caFile: ca.certFile, certFile: stranger.certFile, keyFile: stranger.keyFile }),
      'CLUSTER_UNAUTHENTICATED',
      'temporalSecurity.certFile',
      /refused the client certificate/,
    );
    assert.ok(mtls.seen.tlsRefused > refusedBefore, 'the terminator refused the handshakes');
    assert.ok(!mtls.seen.clientCns.has('stranger'), 'no session was set up for the stranger');
  });

  it('an API key is sent as a bearer token over TLS; a wrong one is CLUSTER_UNAUTHENTICATED and never reaches Temporal', async () => {
    const good = writeSecret(dir, 'api-key', `${apiKey}\n`);
    const fleet = await remote(keyed.address, { caFile: ca.certFile, apiKeyFile: good });
    try {
      assert.equal((await fleet.workers()).length, 1);
      // A Temporal call: the campaign list goes through the workflow service.
      await fleet.campaigns.list();
    } finally {
      await fleet.close();
    }
    assert.deepEqual([...keyed.seen.authorization], [`Bearer ${apiKey}`], 'exactly the bearer token reached the terminator');
    assert.ok(keyed.counts.forwarded > 0);
    const forwarded = keyed.counts.forwarded;
    const wrong = writeSecret(dir, 'wrong-key', 'tmprl-not-the-key\n');
    await rejectsWith(
      remote(keyed.address, { caFile: ca.certFile, apiKeyFile: wrong }),
      'CLUSTER_UNAUTHENTICATED',
      'temporalSecurity.apiKeyFile',
      /API key in .*wrong-key/,
    );
    assert.ok(keyed.counts.refusedApiKey > 0);
    assert.equal(keyed.counts.forwarded, forwarded, 'nothing of the refused client was forwarded');
    // Without a key at all: the server wants credentials.
    await rejectsWith(remote(keyed.address, { caFile: ca.certFile }), 'CLUSTER_UNAUTHENTICATED', 'temporalSecurity.apiKeyFile', /wants credentials/);
  });

  it('a worker host whose certificate the server refuses logs the typed error naming the variable, and keeps retrying', async () => {
    const st = t.cluster.state;
    const p = spawn(process.execPath, [path.join(repo, 'orchestrator', 'dist', 'host', 'worker-host.js')], {
      env: {
        PATH: process.env['PATH'],
        GRAMFLEET_TEMPORAL_ADDRESS: mtls.address,
        GRAMFLEET_TASK_QUEUE: `refused-${randomBytes(3).toString('hex')}`,
        GRAMFLEET_NATS_URL: st.natsUrl,
        ...natsAuthEnv(t.cluster.natsAuth('orchestrator')),
        GRAMFLEET_PREFIX: st.prefix,
        GRAMFLEET_TEMPORAL_TLS_CA: ca.certFile,
        GRAMFLEET_TEMPORAL_TLS_CERT: stranger.certFile,
        GRAMFLEET_TEMPORAL_TLS_KEY: stranger.keyFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    p.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    p.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    try {
      const refusals = (): Record<string, unknown>[] =>
        log
          .split('\n')
          .filter((l) => l.includes('temporal refused this orchestrator'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      await until(async () => refusals().length >= 2 || p.exitCode !== null, 60_000, 'two refused connects');
      const r = refusals();
      assert.ok(r.length >= 2, `the worker host keeps retrying; log:\n${log}`);
      assert.deepEqual([r[0]!['level'], r[0]!['code'], r[0]!['field']], ['error', 'CLUSTER_UNAUTHENTICATED', 'GRAMFLEET_TEMPORAL_TLS_CERT']);
    } finally {
      p.kill('SIGTERM');
      if (p.exitCode === null) await new Promise((res) => p.once('exit', res));
    }
  });

  it('the worker host with a bad TLS variable exits 2 naming it, before it connects', () => {
    const r = spawnSync(process.execPath, [path.join(repo, 'orchestrator', 'dist', 'host', 'worker-host.js')], {
      env: {
        PATH: process.env['PATH'],
        GRAMFLEET_NATS_URL: 'nats://127.0.0.1:1',
        GRAMFLEET_TEMPORAL_ADDRESS: mtls.address,
        GRAMFLEET_TEMPORAL_TLS_CERT: client.certFile,
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, `exit status ${r.status}; stderr: ${r.stderr}`);
    const line = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    assert.deepEqual([line['code'], line['field']], ['INPUT_INVALID', 'GRAMFLEET_TEMPORAL_TLS_KEY']);
  });

  it('the local dev server listens on loopback only, and `gramfleet status` says so', async () => {
    const temporal = t.cluster.state.processes.find((p) => p.name === 'temporal');
    assert.ok(temporal !== undefined);
    const addrs = listeningAddresses(temporal.pid);
    assert.ok(addrs.includes(t.cluster.state.temporalAddress), `listening: ${addrs.join(' ')}`);
    for (const a of addrs) assert.ok(a.startsWith('127.') || a.startsWith('::1:'), `dev server listens on ${a}`);
    let out = '';
    let err = '';
    const sink = (add: (s: string) => void): Writable =>
      new Writable({
        write(chunk: Buffer | string, _enc, cb) {
          add(chunk.toString());
          cb();
        },
      });
    const ctx: CliContext = {
      out: sink((s) => (out += s)),
      err: sink((s) => (err += s)),
      async withFleet(o, f) {
        const fleet = await connect(o);
        try {
          return await f(fleet);
        } finally {
          await fleet.close();
        }
      },
    };
    assert.equal(await runCli(['status', '--data-dir', t.dir], ctx), 0, err);
    assert.match(out, new RegExp(`temporal ${t.cluster.state.temporalAddress.replace(/\./g, '\\.')} \\(plaintext, loopback only`), out);
    out = '';
    assert.equal(await runCli(['status', '--data-dir', t.dir, '--json'], ctx), 0, err);
    assert.equal((JSON.parse(out) as { temporalTransport: string }).temporalTransport, 'plaintext, loopback only');
  });
});
