/**
 * NATS security of the local cluster, on its real nats-server (TLS required, operator-mode JWT
 * identities made at start in `<dataDir>/security/`):
 * - the security directory is private (0700, files 0600);
 * - a client without credentials, one that does not trust the cluster's CA, and one that trusts
 *   another CA are all refused (CLUSTER_UNAUTHENTICATED, CLUSTER_TLS_FAILED);
 * - a WASM worker's identity cannot purge or delete a stream or bucket, cannot publish a task, a
 *   lane frame or a cancellation, and cannot listen on another worker's lane, yet can do its job
 *   (pull tasks of its class, put and get arrays, write its registry entry);
 * - a client's identity cannot purge or delete streams or buckets (the arrays bucket included: its
 *   array delete is refused with CLUSTER_FORBIDDEN and leaves the array readable), nor listen on
 *   another owner's results; the orchestrator's can purge (the refusals come from the roles, not
 *   the server).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import { clientArraysBucket, isGramfleetError, ndarray, pinToken, resourceNames, taskSubject, type CsrRef } from '@gramfleet/core';
import {
  connectNats,
  createArrayStore,
  createCertificateAuthority,
  issueLocalIdentity,
  openDataPlane,
  type DataPlane,
  type NatsAuth,
} from '@gramfleet/workers';
import { connect } from '@gramfleet/orchestrator';
import { runCli, type CliContext } from '@gramfleet/orchestrator/internal';
import { sharedGraph, startTestCluster, type TestCluster } from './harness';

async function refused(p: Promise<unknown>, what: RegExp = /Permissions Violation/): Promise<string> {
  try {
    await p;
  } catch (e) {
    const m = (e as Error).message;
    assert.match(m, what);
    return m;
  }
  assert.fail(`expected a refusal matching ${String(what)}`);
}

async function authRefused(p: Promise<unknown>, code: 'CLUSTER_UNAUTHENTICATED' | 'CLUSTER_TLS_FAILED'): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(isGramfleetError(e), `expected a GramfleetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return;
  }
  assert.fail(`expected ${code}`);
}

/** Subscribes and resolves with the server's permission error (or 'allowed' after a round trip without one). */
async function subscribeOutcome(nc: NatsConnection, subject: string): Promise<string> {
  return new Promise((resolve) => {
    const sub = nc.subscribe(subject, {
      callback: (err) => {
        if (err !== null) resolve(err.message);
      },
    });
    void nc.flush().then(async () => {
      await nc.flush();
      setTimeout(() => {
        sub.unsubscribe();
        resolve('allowed');
      }, 200);
    });
  });
}

/** How many of one message published by `from` on `subject` a listener with every permission receives. */
async function delivered(from: NatsConnection, subject: string): Promise<number> {
  const spy = await connectNats(url, 'spy', spyAuth);
  try {
    let n = 0;
    spy.subscribe(subject, {
      callback: () => {
        n++;
      },
    });
    await spy.flush();
    from.publish(subject, '');
    await from.flush();
    await spy.flush();
    await new Promise((r) => setTimeout(r, 100));
    return n;
  } finally {
    await spy.close();
  }
}

let url = '';
let spyAuth: NatsAuth = {};

/** The first line a server sends on a plain TCP connection (its INFO). */
async function serverInfo(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let buf = '';
    c.on('data', (b) => {
      buf += b.toString('utf8');
      const nl = buf.indexOf('\r\n');
      if (nl >= 0) {
        c.destroy();
        resolve(JSON.parse(buf.slice('INFO '.length, nl)) as Record<string, unknown>);
      }
    });
    c.on('error', reject);
  });
}

describe('NATS authentication, TLS and roles on a local cluster (real nats-server)', () => {
  let t: TestCluster;
  const names = resourceNames('gf');
  const open: DataPlane[] = [];
  const as = async (auth: NatsAuth, name: string): Promise<DataPlane> => {
    const dp = await openDataPlane(await connectNats(url, name, auth), names, t.cluster.state.dataPlane);
    open.push(dp);
    return dp;
  };

  before(async () => {
    t = await startTestCluster('nats-sec', { workers: 1 });
    url = t.cluster.state.natsUrl;
    spyAuth = t.cluster.natsAuth('admin');
  });
  after(async () => {
    for (const dp of open) await dp.close().catch(() => undefined);
    await t?.stop();
  });

  it('makes its CA, server certificate and credentials in <dataDir>/security (dir 0700, files 0600)', () => {
    const sec = t.cluster.state.natsSecurity;
    assert.ok(sec !== undefined);
    assert.equal(sec.dir, path.join(t.dir, 'security'));
    const walk = (d: string): void => {
      assert.equal(fs.statSync(d).mode & 0o777, 0o700, d);
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else assert.equal(fs.statSync(p).mode & 0o777, 0o600, p);
      }
    };
    walk(sec.dir);
    for (const role of ['admin', 'orchestrator', 'client', 'wasm-worker', 'gpu-worker'] as const) assert.ok(fs.existsSync(sec.creds[role]), role);
    // Each worker process has its own identity.
    assert.ok(fs.readdirSync(path.join(sec.dir, 'creds', 'ids')).length >= 1);
  });

  it('the server requires TLS and authentication, and `gramfleet status` says so', async () => {
    const info = await serverInfo(t.cluster.state.natsPort);
    assert.equal(info['tls_required'], true);
    assert.equal(info['auth_required'], true);
    let out = '';
    const ctx: CliContext = {
      out: new Writable({
        write(chunk: Buffer | string, _enc, cb) {
          out += chunk.toString();
          cb();
        },
      }),
      err: new Writable({ write: (_c, _e, cb) => cb() }),
      async withFleet(o, f) {
        const fleet = await connect(o);
        try {
          return await f(fleet);
        } finally {
          await fleet.close();
        }
      },
    };
    assert.equal(await runCli(['status', '--data-dir', t.dir], ctx), 0);
    assert.match(out, /nats +nats:\/\/127\.0\.0\.1:\d+ \(TLS \+ a credential per process, in .*security\)/, out);
  });

  it('refuses a client without credentials, one that does not trust its CA, and one that trusts another CA', async () => {
    const sec = t.cluster.state.natsSecurity;
    assert.ok(sec !== undefined);
    await authRefused(connectNats(url, 'anonymous', { caFile: sec.caFile }), 'CLUSTER_UNAUTHENTICATED');
    await authRefused(connectNats(url, 'no-ca', { credsFile: sec.creds.admin }), 'CLUSTER_TLS_FAILED');
    const other = path.join(t.dir, 'other-ca.crt');
    fs.writeFileSync(other, createCertificateAuthority('not the cluster CA').certPem);
    await authRefused(connectNats(url, 'wrong-ca', { credsFile: sec.creds.admin, caFile: other }), 'CLUSTER_TLS_FAILED');
  });

  it('a WASM worker identity cannot purge or delete streams or buckets, nor publish tasks, lane frames or cancellations', async () => {
    const w = await as(t.cluster.natsAuth('wasm-worker'), 'test-worker');
    await refused(w.jsm.streams.purge(names.tasksStream));
    await refused(w.jsm.streams.purge(names.resultsStream));
    await refused(w.jsm.streams.purge(`OBJ_${names.arraysBucket}`));
    await refused(w.jsm.streams.delete(names.tasksStream));
    await refused(w.jsm.streams.delete(`OBJ_${names.arraysBucket}`));
    await refused(w.jsm.streams.delete(`KV_${names.workersBucket}`));
    await refused(w.jsm.streams.deleteMessage(names.resultsStream, 1));
    await refused(w.jsm.consumers.delete(names.tasksStream, 'workers-wasm'));
    await refused(w.js.publish(taskSubject('gf', 'wasm', 'gemm', 'forged-job'), '{}'));
    const lane = await refused(w.nc.request(`gf.lane.${pinToken('someone')}`, '{}', { timeout: 5_000 }));
    assert.match(lane, /gf\.lane/);
    // Plain publishes are dropped by the server (a listener receives nothing); the orchestrator's arrive.
    assert.equal(await delivered(w.nc, 'gf.cancel.victim'), 0);
    assert.equal(await delivered(w.nc, `gf.lane.${pinToken('someone')}`), 0);
    const o = await as(t.cluster.natsAuth('orchestrator'), 'test-orchestrator-cancel');
    assert.equal(await delivered(o.nc, 'gf.cancel.victim'), 1);
    // What it needs: arrays, its registry entry, the GPU class's tasks refused, its own class's allowed.
    const store = createArrayStore(w.arrays, names.arraysBucket);
    const ref = await store.put(ndarray('f64', [3], Float64Array.from([1, 2, 3])));
    assert.deepEqual(Array.from((await store.get(ref)).data as Float64Array), [1, 2, 3]);
    await w.workers.put('test-worker', '{}');
    await w.workers.delete('test-worker');
    await refused(w.nc.request(`$JS.API.CONSUMER.MSG.NEXT.${names.tasksStream}.workers-gpu`, JSON.stringify({ batch: 1, expires: 1e9 }), { timeout: 5_000 }));
    const own = await (await w.js.consumers.get(names.tasksStream, 'workers-wasm')).next({ expires: 1_000 });
    assert.equal(own, null); // allowed, and nothing queued
  });

  it("a worker's own identity listens on its own lane only", async () => {
    const sec = t.cluster.state.natsSecurity;
    assert.ok(sec !== undefined);
    const ids = fs.readdirSync(path.join(sec.dir, 'creds', 'ids'));
    const mine = ids[0];
    assert.ok(mine !== undefined);
    const pin = mine.replace(/\.creds$/, '');
    const nc = await connectNats(url, 'own-lane', { credsFile: path.join(sec.dir, 'creds', 'ids', mine), caFile: sec.caFile });
    try {
      assert.equal(await subscribeOutcome(nc, `gf.lane.${pin}`), 'allowed');
      assert.match(await subscribeOutcome(nc, 'gf.lane.another-worker'), /Permissions Violation/);
    } finally {
      await nc.close();
    }
  });

  it("a client identity cannot delete streams or buckets, purge any stream, nor listen on another owner's results", async () => {
    const c = await as(t.cluster.natsAuth('client'), 'test-client');
    await refused(c.jsm.streams.purge(names.tasksStream));
    await refused(c.jsm.streams.purge(names.resultsStream));
    await refused(c.jsm.streams.purge(`OBJ_${names.arraysBucket}`));
    await refused(c.jsm.streams.purge(`OBJ_${names.arraysBucket}`, { filter: `$O.${names.arraysBucket}.C.x` }));
    await refused(c.jsm.streams.purge(`KV_${names.holdersBucket}`));
    await refused(c.jsm.streams.delete(`OBJ_${names.arraysBucket}`));
    await refused(c.jsm.streams.delete(`KV_${names.workersBucket}`));
    await refused(c.jsm.consumers.delete(names.tasksStream, 'workers-wasm'));
    await refused(c.workers.put('forged-worker', '{}'));
    assert.match(await subscribeOutcome(c.nc, 'gf.owner.another-owner'), /Permissions Violation/);
    assert.match(await subscribeOutcome(c.nc, 'gf.result.>'), /Permissions Violation/);
    // It submits work: a task into the durable queue, and arrays.
    await c.js.publish(taskSubject('gf', 'wasm', 'no-such-op', 'client-test'), '{}', { msgID: 'client-test-1' });
    const store = createArrayStore(c.arrays, names.arraysBucket);
    const ref = await store.put(ndarray('f64', [2], Float64Array.from([4, 5])));
    assert.deepEqual(Array.from((await store.get(ref)).data as Float64Array), [4, 5]);
    // Deleting an array (a filtered purge of the bucket) is the orchestrator's: typed refusal, array intact.
    await assert.rejects(store.delete(ref.digest), (e: unknown) => isGramfleetError(e) && e.code === 'CLUSTER_FORBIDDEN' && /PURGE/.test(e.message));
    const again = createArrayStore(c.arrays, names.arraysBucket);
    assert.deepEqual(Array.from((await again.get(ref)).data as Float64Array), [4, 5]);
  });

  it("client identities with their own arrays buckets cannot read each other's arrays; workers and their own jobs can", async () => {
    const sec = t.cluster.state.natsSecurity;
    assert.ok(sec !== undefined);
    const bucketOf = (tok: string): string => clientArraysBucket('gf', tok);
    const auth = async (name: string): Promise<NatsAuth> => ({ credsFile: await issueLocalIdentity(sec, 'client', name), caFile: sec.caFile });
    const [alice, bob] = [await auth('client-alice'), await auth('client-bob')];
    // Their buckets are made by the orchestrator (a client may create no stream).
    for (const tok of ['client-alice', 'client-bob']) {
      const mk = await connectNats(url, `make-${tok}`, t.cluster.natsAuth('orchestrator'));
      open.push(await openDataPlane(mk, { ...names, arraysBucket: bucketOf(tok) }, t.cluster.state.dataPlane));
    }
    const own = async (a: NatsAuth, tok: string): Promise<DataPlane> => {
      const dp = await openDataPlane(await connectNats(url, tok, a), { ...names, arraysBucket: bucketOf(tok) }, t.cluster.state.dataPlane);
      open.push(dp);
      return dp;
    };
    const a = await own(alice, 'client-alice');
    const b = await own(bob, 'client-bob');
    const data = Float64Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const ref = await createArrayStore(a).put(ndarray('f64', [1000], data));
    assert.equal(ref.bucket, bucketOf('client-alice'));
    assert.deepEqual((await createArrayStore(a).get(ref)).data, data);
    // Bob, knowing the digest: refused in Alice's bucket, absent from his own and the shared one.
    await assert.rejects(createArrayStore(b).get(ref), (e: unknown) => isGramfleetError(e) && e.code === 'CLUSTER_FORBIDDEN' && e.message.includes(ref.bucket));
    for (const other of [bucketOf('client-bob'), names.arraysBucket])
      await assert.rejects(createArrayStore(b).get({ ...ref, bucket: other }), (e: unknown) => isGramfleetError(e) && e.code === 'STORE_MISSING_OBJECT');
    // Nor by hand: message reads, a consumer, writing a metadata.
    const stream = `OBJ_${ref.bucket}`;
    await refused(b.jsm.streams.getMessage(stream, { seq: 1 }));
    await refused(b.jsm.direct.getMessage(stream, { seq: 1 }));
    await refused(b.jsm.consumers.add(stream, { filter_subject: `$O.${ref.bucket}.M.>` }));
    await refused(b.js.publish(`$O.${ref.bucket}.M.forged`, '{}'));
    // A result in the shared bucket, named by one of her inputs, is durable where it is: her
    // store reads it there and does not need to copy it.
    const o = await as(t.cluster.natsAuth('orchestrator'), 'test-orchestrator-result');
    const result = await createArrayStore(o).put(ndarray('f64', [500], data.subarray(0, 500)));
    assert.equal(result.bucket, names.arraysBucket);
    await createArrayStore(a).persist(result);
    assert.deepEqual((await createArrayStore(a).get(result)).data, data.subarray(0, 500));
    // A worker reads it from Alice's bucket (the reference names it).
    const w = await as(t.cluster.natsAuth('wasm-worker'), 'test-worker-reads');
    assert.deepEqual((await createArrayStore(w).get(ref)).data, data);
    // Alice's job runs from her bucket: its uploaded inputs are there, its result comes back.
    const admin = await as(t.cluster.natsAuth('admin'), 'test-admin-counts');
    const before = (await admin.jsm.streams.info(stream)).state.messages;
    const fleet = await connect({
      temporalAddress: t.cluster.state.temporalAddress,
      natsUrl: url,
      natsAuth: alice,
      namespace: t.cluster.state.namespace,
      taskQueue: t.cluster.state.taskQueue,
      prefix: 'gf',
      // Her edge weights (1.4 KB) go as a resumable upload, staged and joined in the shared bucket;
      // her smaller arrays go to her bucket.
      resumableUploadBytes: 1024,
    });
    try {
      const r = await (
        await fleet.submit({ kind: 'grf', graph: sharedGraph('karate.adjlist'), kernel: 'reg-laplacian', scale: 0.25, walks: 8, pHalt: 0.5 })
      ).result();
      assert.equal(r.n, 34);
      // Φ, written by the orchestrator to the shared bucket, reads back through her connection.
      assert.equal((await fleet.getCsr(r.phi[0] as CsrRef)).indptr.length, 35);
    } finally {
      await fleet.close();
    }
    assert.ok((await admin.jsm.streams.info(stream)).state.messages > before, "the job's inputs went to Alice's bucket");
  });

  it('the orchestrator identity may purge (the refusals above are the roles)', async () => {
    const o = await as(t.cluster.natsAuth('orchestrator'), 'test-orchestrator');
    const r = await o.jsm.streams.purge(names.tasksStream, { filter: taskSubject('gf', 'wasm', 'no-such-op', 'client-test') });
    assert.equal(r.success, true);
  });
});
