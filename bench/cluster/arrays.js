'use strict';
/**
 * Part (c) of bench/cluster/run.js: an ARRAY_MB MB f64 array (random contents) through ArrayStore
 * with the tiers a worker or activity of the local cluster opens (openArrayStore with the
 * cluster's host store under /dev/shm):
 *   put         put(a, { durable: 'background' }): .npy header + data written once into the host
 *               store, its 4 MiB leaves hashed on the hash threads, sealed; the durable copy in the
 *               object store follows a second later (as fleet.put does)
 *   get         get(ref) in a second store (no read cache, as another process): the host store's
 *               file mapped (no copy) and checked against the digest: a usable Float64Array
 *   putDurable  put(a) with the default durability ('sync'): returns once the object store holds
 *               the array too (job inputs, final results, checkpoints)
 *   getObject   get(ref) in a store without a host store: read from the object store, each leaf
 *               checked as it arrives
 */
const core = require('@gramfleet/core');
const { createArrayStore, openArrayStore } = require('@gramfleet/workers');

const secs = (t) => Number(process.hrtime.bigint() - t) / 1e9;

async function arrayFigures(dp, cluster, mb, log) {
  const hs = cluster.state.hostStore;
  const tiers = hs === undefined ? {} : { hostDir: hs.dir, hostBytes: hs.maxBytes };
  const a = new Float64Array((mb * 1024 * 1024) / 8);
  for (let i = 0; i < a.length; i++) a[i] = Math.random();
  const arr = core.ndarray('f64', [a.length], a);
  const out = {};
  const writer = await openArrayStore(dp, tiers);
  let t = process.hrtime.bigint();
  const ref = await writer.store.put(arr, { durable: 'background' });
  out.put = secs(t);
  const reader = await openArrayStore(dp, { ...tiers, cacheBytes: 0 });
  t = process.hrtime.bigint();
  const back = await reader.store.get(ref);
  out.get = secs(t);
  if (back.data.length !== a.length || back.data[a.length - 1] !== a[a.length - 1] || reader.store.stats.hostReads !== 1)
    throw new Error('put/get round trip changed the array or missed the host store');
  await writer.close();
  await reader.close();
  log(`${mb} MB put ${out.put.toFixed(3)} s get ${out.get.toFixed(3)} s (host store ${hs === undefined ? 'none' : hs.dir})`);

  a[0] = Math.random(); // new bytes: nothing stored yet
  const durable = await openArrayStore(dp, tiers);
  t = process.hrtime.bigint();
  const ref2 = await durable.store.put(arr);
  out.putDurable = secs(t);
  await durable.close();
  const remote = createArrayStore(dp, { cacheBytes: 0 });
  t = process.hrtime.bigint();
  const back2 = await remote.get(ref2);
  out.getObject = secs(t);
  if (back2.data[0] !== a[0] || remote.stats.objectReads !== 1) throw new Error('the object store read changed the array');
  log(`${mb} MB put, durable ${out.putDurable.toFixed(3)} s; get from the object store ${out.getObject.toFixed(3)} s`);
  return out;
}

module.exports = { arrayFigures };
