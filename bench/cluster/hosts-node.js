'use strict';
/**
 * One side of bench/cluster/hosts.js, run inside a network namespace (a "host"):
 *
 *   node hosts-node.js holder <natsUrl> <prefix> <hostDir> <MB> <advertiseIp>
 *       opens the array store as a worker does (host store in <hostDir>, peer server advertised
 *       at <advertiseIp>), puts an MB MB f64 array (durable: 'none', an intermediate only this
 *       host holds) and a second one with its durable copy, prints {"ref", "durableRef"} and
 *       serves until its stdin closes.
 *   node hosts-node.js puller <natsUrl> <prefix> <hostDir> <refJson> <runs> <durableRefJson>
 *       opens the array store of the other host and, <runs> times, drops its own copy and reads
 *       the array (the store finds the holder in the directory and pulls it, checking each leaf);
 *       then reads the durable array through the object store alone; prints {"seconds": [...],
 *       "objectSeconds"} after checking the values.
 *   (holder and puller share the peers' secret through GRAMFLEET_PEER_SECRET)
 *   node hosts-node.js raw-send <port> <MB>      serves MB MB from memory to one connection
 *   node hosts-node.js raw-recv <host> <port>    reads it into a reused buffer; prints {"seconds"}
 */
const net = require('node:net');
const core = require('@gramfleet/core');
const { connectNats, createArrayStore, openDataPlane, openArrayStore, openHostStore } = require('@gramfleet/workers');

const [role, ...args] = process.argv.slice(2);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const value = (i) => (Math.imul(i, 2654435761) >>> 0) / 4294967296 - 0.5;

async function holder(natsUrl, prefix, dir, mb, advertise, secret) {
  const nc = await connectNats(natsUrl, 'bench-hosts-holder');
  const dp = await openDataPlane(nc, core.resourceNames(prefix));
  const s = await openArrayStore(dp, { hostDir: dir, hostBytes: 4 * mb * 2 ** 20, peerAdvertise: advertise, peerBind: advertise, peerSecret: secret });
  const a = new Float64Array((mb * 2 ** 20) / 8);
  for (let i = 0; i < a.length; i++) a[i] = value(i);
  const ref = await s.store.put(core.ndarray('f64', [a.length], a), { durable: 'none' });
  // A second array with its durable copy, for the read through the object store.
  a[0] = 42;
  const durableRef = await s.store.put(core.ndarray('f64', [a.length], a));
  out({ ref, durableRef, peer: s.peerAddress });
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await s.close();
    await dp.close();
    process.exit(0);
  });
}

async function puller(natsUrl, prefix, dir, refJson, runs, durableJson, secret) {
  const ref = JSON.parse(refJson);
  const nc = await connectNats(natsUrl, 'bench-hosts-puller');
  const dp = await openDataPlane(nc, core.resourceNames(prefix));
  const seconds = [],
    cpu = [];
  for (let r = 0; r < runs; r++) {
    // The previous run's array is dropped (as a worker drops a task's inputs) and collected, so its
    // mapping no longer holds the file: the deleted copy's memory can be taken over by this run.
    globalThis.gc?.();
    await new Promise((res) => setTimeout(res, 50));
    openHostStore({ dir, maxBytes: 4 * ref.bytes }).delete(ref.digest);
    const s = await openArrayStore(dp, { hostDir: dir, hostBytes: 4 * ref.bytes, peerPull: true, peerSecret: secret, cacheBytes: 0 });
    const t = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const got = await s.store.get(ref);
    seconds.push(Number(process.hrtime.bigint() - t) / 1e9);
    const c = process.cpuUsage(c0);
    cpu.push(`user ${(c.user / 1e6).toFixed(2)} s, system ${(c.system / 1e6).toFixed(2)} s`);
    if (s.store.stats.peerReads !== 1) throw new Error(`run ${r}: read from ${JSON.stringify(s.store.stats)}, not from the peer`);
    for (let i = 0; i < got.data.length; i += 4093) if (got.data[i] !== value(i)) throw new Error(`run ${r}: element ${i} differs`);
    await s.close();
  }
  // The same size through the object store (what a read from another host cost before peers).
  const durableRef = JSON.parse(durableJson);
  const plain = createArrayStore(dp, { cacheBytes: 0 });
  const t = process.hrtime.bigint();
  const got = await plain.get(durableRef);
  const objectSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (plain.stats.objectReads !== 1 || got.data[0] !== 42 || got.data[4093] !== value(4093)) throw new Error('the object-store read changed the array');
  out({ seconds, objectSeconds, cpu });
  await dp.close();
}

function rawSend(port, mb) {
  const n = mb * 2 ** 20;
  const src = Buffer.alloc(16 * 2 ** 20, 7);
  const srv = net.createServer((sock) => {
    let sent = 0;
    const go = () => {
      while (sent < n) {
        const k = Math.min(src.length, n - sent);
        sent += k;
        if (!sock.write(src.subarray(0, k))) {
          sock.once('drain', go);
          return;
        }
      }
      sock.end();
    };
    go();
  });
  srv.listen(port, '0.0.0.0', () => out({ listening: port }));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

function rawRecv(host, port) {
  const dst = Buffer.allocUnsafe(4 * 2 ** 20);
  let got = 0;
  const t = process.hrtime.bigint();
  const c = net.connect({
    host,
    port,
    onread: {
      buffer: dst,
      callback: (k) => {
        got += k;
        return true;
      },
    },
  });
  c.on('end', () => {
    out({ seconds: Number(process.hrtime.bigint() - t) / 1e9, bytes: got });
    c.destroy();
  });
}

const main = {
  holder: () => holder(args[0], args[1], args[2], Number(args[3]), args[4], process.env.GRAMFLEET_PEER_SECRET),
  puller: () => puller(args[0], args[1], args[2], args[3], Number(args[4]), args[5], process.env.GRAMFLEET_PEER_SECRET),
  'raw-send': () => rawSend(Number(args[0]), Number(args[1])),
  'raw-recv': () => rawRecv(args[0], Number(args[1])),
}[role];
if (main === undefined) {
  process.stderr.write(`unknown role ${role}\n`);
  process.exit(2);
}
Promise.resolve(main()).catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
