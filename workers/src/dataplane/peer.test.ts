import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TREE_LEAF_BYTES, isGramfleetError, type ErrorCode } from '@gramfleet/core';
import { digestOf, sha256Hex } from './digest';
import { openHostStore, receiveInMemory, type HostStore } from './host-store';
import { pullFromPeer, startPeerServer, type PeerServer, type PullState } from './peer';

const dirs: string[] = [];
const servers: (PeerServer | net.Server)[] = [];
function store(): HostStore {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const d = fs.mkdtempSync(path.join(base, 'gf-peer-test-'));
  dirs.push(d);
  return openHostStore({ dir: d, maxBytes: 1 << 30 });
}
after(async () => {
  for (const s of servers)
    await new Promise<void>((r) => {
      if ('port' in s) void s.close().then(r);
      else s.close(() => r());
    });
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const code =
  (c: ErrorCode) =>
  (e: unknown): boolean => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, c, e.message);
    return true;
  };

async function serve(host: HostStore, secret?: Uint8Array): Promise<string> {
  const s = await startPeerServer({ host, bind: '127.0.0.1', ...(secret !== undefined ? { secret } : {}) });
  servers.push(s);
  return `127.0.0.1:${s.port}`;
}

/** A TCP proxy to `target` that cuts every connection after forwarding `limit` bytes from the server. */
async function cuttingProxy(target: string, limit: number): Promise<string> {
  const [h, p] = target.split(':') as [string, string];
  const srv = net.createServer((c) => {
    const up = net.connect(Number(p), h);
    let sent = 0;
    c.on('data', (d) => up.write(d));
    up.on('data', (d: Buffer) => {
      const take = Math.min(d.length, limit - sent);
      if (take > 0) c.write(d.subarray(0, take));
      sent += take;
      if (sent >= limit) {
        c.destroy();
        up.destroy();
      }
    });
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.on('close', () => up.destroy());
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return `127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
}

describe('peer transfer', () => {
  it('pulls an object leaf by leaf over several connections and seals it checked', async () => {
    const a = store(),
      b = store();
    const bytes = randomBytes(5 * TREE_LEAF_BYTES + 123);
    const { digest } = await a.write([bytes]);
    const addr = await serve(a);
    const into = b.receive(digest, bytes.byteLength);
    const state: PullState = { done: new Set() };
    await pullFromPeer(addr, digest, bytes.byteLength, into, state, { streams: 3, depth: 2 });
    assert.equal(state.done.size, 6);
    const v = await into.seal(state.table);
    assert.deepEqual(Buffer.from(v), bytes);
    // a one-leaf object (plain sha256) needs no leaf table request
    const small = randomBytes(100_000);
    const s = await a.write([small]);
    assert.equal(s.digest, sha256Hex(small));
    const m = receiveInMemory(s.digest, small.byteLength);
    const st: PullState = { done: new Set() };
    await pullFromPeer(addr, s.digest, small.byteLength, m, st);
    assert.deepEqual(Buffer.from(await m.seal(st.table)), small);
  });

  it('fails a leaf that does not match its hash with STORE_DIGEST_MISMATCH', async () => {
    const a = store(),
      b = store();
    const bytes = randomBytes(2 * TREE_LEAF_BYTES + 5);
    const { digest } = await a.write([bytes]);
    const f = path.join(a.dir, digest);
    fs.chmodSync(f, 0o644);
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, Buffer.from([bytes[TREE_LEAF_BYTES + 2]! ^ 0xff]), 0, 1, TREE_LEAF_BYTES + 2);
    fs.closeSync(fd);
    const addr = await serve(a); // the server does not check what it sends: the reader does
    const into = b.receive(digest, bytes.byteLength);
    const state: PullState = { done: new Set() };
    await assert.rejects(pullFromPeer(addr, digest, bytes.byteLength, into, state), code('STORE_DIGEST_MISMATCH'));
    assert.ok(!state.done.has(1));
    into.abort();
  });

  it('reports a peer that goes away mid-transfer as STORE_PEER_LOST and resumes from another holder', async () => {
    const a = store(),
      b = store(),
      c = store();
    const bytes = randomBytes(6 * TREE_LEAF_BYTES + 77);
    const { digest } = await a.write([bytes]);
    assert.equal((await c.write([bytes])).digest, digest);
    // the proxy lets the handshake, the leaf table and about two and a half leaves through
    const flaky = await cuttingProxy(await serve(a), Math.floor(2.5 * TREE_LEAF_BYTES));
    const good = await serve(c);
    const into = b.receive(digest, bytes.byteLength);
    const state: PullState = { done: new Set() };
    await assert.rejects(pullFromPeer(flaky, digest, bytes.byteLength, into, state, { streams: 1, depth: 1 }), code('STORE_PEER_LOST'));
    assert.ok(state.table !== undefined, 'the leaf table came through');
    assert.deepEqual([...state.done].sort(), [0, 1], 'the two complete leaves were checked and kept');
    await pullFromPeer(good, digest, bytes.byteLength, into, state, { streams: 2 });
    assert.equal(state.done.size, 7);
    assert.deepEqual(Buffer.from(await into.seal(state.table)), bytes);
  });

  it('refuses a client without the secret, and answers STORE_MISSING_OBJECT for objects it does not hold', async () => {
    const a = store(),
      b = store();
    const bytes = randomBytes(TREE_LEAF_BYTES + 1);
    const { digest } = await a.write([bytes]);
    const secret = new Uint8Array(randomBytes(16));
    const addr = await serve(a, secret);
    const st = (): PullState => ({ done: new Set() });
    const i1 = b.receive(digest, bytes.byteLength);
    await assert.rejects(pullFromPeer(addr, digest, bytes.byteLength, i1, st(), { idleMs: 5000 }), code('STORE_PEER_LOST'));
    await assert.rejects(
      pullFromPeer(addr, digest, bytes.byteLength, i1, st(), { secret: new Uint8Array(randomBytes(16)), idleMs: 5000 }),
      code('STORE_PEER_LOST'),
    );
    const s = st();
    await pullFromPeer(addr, digest, bytes.byteLength, i1, s, { secret });
    assert.deepEqual(Buffer.from(await i1.seal(s.table)), bytes);
    const other = randomBytes(TREE_LEAF_BYTES + 1);
    const i2 = b.receive(digestOf(other), other.byteLength);
    await assert.rejects(pullFromPeer(addr, digestOf(other), other.byteLength, i2, st(), { secret }), code('STORE_MISSING_OBJECT'));
    i2.abort();
  });
});
