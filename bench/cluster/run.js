'use strict';
/**
 * bench/cluster — data-plane figures of gramfleet against Ray on the same machine, same run.
 *
 *   node bench/cluster/run.js            (env: LAT_SAMPLES=200 TINY_SHARDS=10000 ARRAY_MB=100)
 *
 * Ours: a LocalCluster (nats-server -js, Temporal dev server, orchestrator, 2 WASM worker
 * processes x 1 kernel thread) started in a temp dir and stopped at the end. Shards go through
 * the real data plane exactly as orchestrator/src/host/activities.ts sends them: a Task JSON
 * published with Nats-Msg-Id on the work-queue stream (`gf.task.wasm.grf-walks.<jobId>`),
 * pulled by a worker, inputs fetched by digest (cached), kernel run on the thread pool,
 * outputs stored in the object store, result published to the results stream
 * (`gf.result.<jobId>.<shardId>`), then acked. The bench receives results with a core NATS
 * subscription on `gf.result.<jobId>.>` (the stream still stores them). There is no no-op op,
 * so the "empty shard" is `grf-walks` over the empty origin range [0, 0) of a 2-node graph:
 * the worker does all the protocol work and the kernel does nothing.
 *   (a) latency: publish one shard, wait for its result; p50 / p99 over LAT_SAMPLES shards.
 *   (b) makespan: publish TINY_SHARDS empty shards (publishes pipelined 256 at a time), time
 *       from the first publish to the last distinct result.
 *   (c) ArrayStore.put then .get (a second store, no read cache) of an ARRAY_MB MB f64 array with
 *       random contents through the cluster's host store, and a put that waits for the durable
 *       copy plus a read from the object store alone: see bench/cluster/arrays.js.
 * Temporal is not on this path (by design a workflow tracks batches, not single shards).
 *
 * Reference: bench/cluster/ray_ref.py with ray.init(num_cpus=2): a no-op @ray.remote task
 * round trip, 10,000 no-op tasks, ray.put / ray.get of the same-size float64 array.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');
const core = require('@gramfleet/core');
const { connectNats, openDataPlane, createArrayStore } = require('@gramfleet/workers');
const { LocalCluster } = require('@gramfleet/orchestrator');
const { arrayFigures } = require('./arrays');
const { emit, percentile, runPython, unavailable, machineNote } = require('../lib/common');

const LAT = Number(process.env.LAT_SAMPLES ?? 200);
const TINY = Number(process.env.TINY_SHARDS ?? 10000);
const MB = Number(process.env.ARRAY_MB ?? 100);
const WORKERS = Number(process.env.WORKERS ?? os.cpus().length);
const B = 'cluster';
const log = (...a) => process.stderr.write(`[bench/cluster] ${a.join(' ')}\n`);

async function ours() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-cluster-'));
  log(`starting a local cluster in ${dataDir} (${WORKERS} wasm workers)`);
  const t0 = Date.now();
  const cluster = await LocalCluster.start({ dataDir, workers: WORKERS });
  log(`cluster up in ${Date.now() - t0} ms`);
  const st = cluster.state;
  const names = core.resourceNames(st.prefix);
  const nc = await connectNats(st.natsUrl, 'gramfleet-bench');
  const dp = await openDataPlane(nc, names, st.dataPlane);
  const store = createArrayStore(dp.arrays, names.arraysBucket);
  const out = {};
  try {
    // a 2-node graph (one edge); the shards below cover no origin
    const inputs = [
      await store.put(core.ndarray('i32', [3], Int32Array.from([0, 1, 2]))),
      await store.put(core.ndarray('i32', [2], Int32Array.from([1, 0]))),
      await store.put(core.ndarray('f64', [2], Float64Array.from([0.25, 0.25]))),
    ];
    const attrs = { seed: 1, walks: 1, pHalt: 0.5, f: [1, 0.25], streams: [0], variance: 'none', nodeStart: 0, nodeEnd: 0 };
    const task = (jobId, shardId) => ({ v: core.PROTOCOL_VERSION, jobId, shardId, op: 'grf-walks', attrs, inputs, deadline: Date.now() + 3_600_000 });
    const publish = (jobId, shardId) => dp.js.publish(core.taskSubject(st.prefix, 'wasm', 'grf-walks', jobId), JSON.stringify(task(jobId, shardId)), { msgID: core.taskMsgId(jobId, shardId) });

    // Results of one job, delivered to a callback per distinct shard.
    const collect = (jobId, want) => {
      const seen = new Set();
      let resolveAll; let rejectAll;
      const all = new Promise((res, rej) => { resolveAll = res; rejectAll = rej; });
      const waiters = new Map();
      const sub = nc.subscribe(core.jobResultsFilter(st.prefix, jobId), {
        callback: (err, msg) => {
          if (err) { rejectAll(err); return; }
          const r = msg.json();
          if (r.error !== undefined) { rejectAll(new Error(`shard ${r.shardId} failed: ${r.error.code} ${r.error.message}`)); return; }
          if (seen.has(r.shardId)) return;
          seen.add(r.shardId);
          waiters.get(r.shardId)?.(r);
          if (seen.size >= want) resolveAll();
        },
      });
      return { all, sub, wait: (shardId) => new Promise((res) => { waiters.set(shardId, res); }) };
    };

    // warm-up (JIT, input caches in both workers)
    {
      const jobId = `warm-${randomBytes(3).toString('hex')}`;
      const c = collect(jobId, 20);
      for (let i = 0; i < 20; i++) await publish(jobId, `s${i}`);
      await c.all; c.sub.unsubscribe();
    }

    // (a) latency
    {
      const jobId = `lat-${randomBytes(3).toString('hex')}`;
      const c = collect(jobId, LAT);
      const lat = [];
      for (let i = 0; i < LAT; i++) {
        const shardId = `s${i}`;
        const p = c.wait(shardId);
        const t = process.hrtime.bigint();
        await publish(jobId, shardId);
        await p;
        lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      c.sub.unsubscribe();
      lat.sort((x, y) => x - y);
      out.p50 = percentile(lat, 50); out.p99 = percentile(lat, 99);
      log(`latency p50 ${out.p50.toFixed(2)} ms p99 ${out.p99.toFixed(2)} ms`);
    }

    // (b) makespan of TINY shards
    {
      const jobId = `tiny-${randomBytes(3).toString('hex')}`;
      const c = collect(jobId, TINY);
      const t = process.hrtime.bigint();
      const WINDOW = 256;
      for (let i = 0; i < TINY; i += WINDOW) {
        const ps = [];
        for (let j = i; j < Math.min(TINY, i + WINDOW); j++) ps.push(publish(jobId, `s${j}`));
        await Promise.all(ps);
      }
      const tPub = Number(process.hrtime.bigint() - t) / 1e9;
      await c.all;
      out.makespan = Number(process.hrtime.bigint() - t) / 1e9;
      c.sub.unsubscribe();
      log(`makespan of ${TINY} shards ${out.makespan.toFixed(2)} s (publishing took ${tPub.toFixed(2)} s)`);
    }

    // (c) put + get (bench/cluster/arrays.js)
    Object.assign(out, await arrayFigures(dp, cluster, MB, log));
  } finally {
    await dp.close().catch(() => undefined);
    await cluster.stop().catch((e) => log(`stop failed: ${e.message}`));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}

function reference() {
  const why = unavailable('ray', 'ray');
  if (why !== null) return { error: `ray unavailable: ${why}` };
  log('running the Ray reference (bench/cluster/ray_ref.py)');
  const r = runPython(path.join(__dirname, 'ray_ref.py'), [String(LAT), String(TINY), String(MB)], 240_000);
  if (r.error) return r;
  const lat = [...r.latency_ms].sort((x, y) => x - y);
  log(`ray ${r.ray}: latency p50 ${percentile(lat, 50).toFixed(2)} ms; makespan ${r.makespan_s.toFixed(2)} s; put ${r.put_s.toFixed(3)} s get ${r.get_s.toFixed(4)} s (+copy ${r.copy_s.toFixed(3)} s)`);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), makespan: r.makespan_s, put: r.put_s, get: r.get_s, copy: r.copy_s, version: r.ray };
}

async function main() {
  log(machineNote());
  let o;
  try { o = await ours(); } catch (e) { log(`gramfleet side failed: ${e.stack}`); o = { error: e.message }; }
  const r = reference();
  const note = (extra) => [o.error && `ours failed: ${o.error}`, r.error, extra].filter(Boolean).join('; ') || undefined;
  emit(B, 'empty-shard round trip p50', o.p50, r.p50, 'ms', { note: note() });
  emit(B, 'empty-shard round trip p99', o.p99, r.p99, 'ms', { note: note() });
  emit(B, `makespan of ${TINY} tiny shards`, o.makespan, r.makespan, 's', { note: note() });
  emit(B, `${MB} MB array put`, o.put, r.put, 's', { note: note('host store; its durable copy follows in the background') });
  emit(B, `${MB} MB array get`, o.get, r.get, 's', { note: note(r.copy !== undefined ? `ours: a checked, writable (copy-on-write) Float64Array over the host store; Ray get is a read-only zero-copy view, copying it out costs ${r.copy.toFixed(3)} s more` : undefined) });
  emit(B, `${MB} MB array put + get into a usable typed array (Ray: put + get + copy-out)`, o.put + o.get, r.put + r.get + r.copy, 's', { note: note() });
  emit(B, `${MB} MB array put + get (Ray: zero-copy get)`, o.put + o.get, r.put + r.get, 's', { note: note() });
  emit(B, `${MB} MB array put, waiting for the durable copy`, o.putDurable, r.put, 's', { note: note('Ray put has no durable copy') });
  emit(B, `${MB} MB array get from the object store (no host copy)`, o.getObject, r.get + r.copy, 's', { note: note('Ray: get + copy-out from its object store') });
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
