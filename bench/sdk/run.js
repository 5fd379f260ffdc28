'use strict';
/**
 * bench/sdk — the Ray-like SDK against Ray on the same machine, same run.
 *
 *   node bench/sdk/run.js       (env: SAMPLES=200 ARRAY_MB=100 TASKS=10000 WORKERS=2)
 *
 * Ours: a LocalCluster (nats-server -js, Temporal, orchestrator, WORKERS WASM workers) and the
 * SDK's connect(): (a) fleet.put / fleet.get of 8 B (a 1-element Float64Array, inline in the
 * reference — no round trip to the server), p50 over SAMPLES; (b) put / get of an ARRAY_MB
 * MB Float64Array, ARRAY_RUNS times (median): put into the local cluster's host store (shared
 * memory; the durable copy in the object store follows in the background), get from a second
 * connection (the host store's file mapped and checked against the digest: a usable
 * Float64Array, no copy); (c) fleet.map
 * of TASKS tiny tasks of a user WebAssembly kernel (out = 2·in on 1 element) in the sandbox
 * on the workers, then fleet.wait for all and fleet.get of every result.
 * Reference: bench/sdk/ray_ref.py with ray.init(num_cpus=2): ray.put/ray.get of 8 B and of
 * the same array, TASKS @ray.remote tasks doubling a 1-element array, ray.wait + ray.get.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { LocalCluster, connect } = require('@gramfleet/orchestrator');
const { assembleWat, WAT_DOUBLE } = require('@gramfleet/workers/testing');
const { emit, percentile, runPython, unavailable, machineNote } = require('../lib/common');

const SAMPLES = Number(process.env.SAMPLES ?? 200);
const MB = Number(process.env.ARRAY_MB ?? 100);
const TASKS = Number(process.env.TASKS ?? 10000);
const ARRAY_RUNS = Number(process.env.ARRAY_RUNS ?? 3);
const WORKERS = Number(process.env.WORKERS ?? os.cpus().length);
const B = 'sdk';
const log = (...a) => process.stderr.write(`[bench/sdk] ${a.join(' ')}\n`);
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;
const median = (xs) => {
  const v = [...xs].sort((x, y) => x - y);
  return v[Math.floor(v.length / 2)];
};

async function ours() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-sdk-'));
  const cluster = await LocalCluster.start({ dataDir, workers: WORKERS, logLevel: 'warn' });
  const fleet = await connect({ dataDir, startLocal: false });
  const out = {};
  try {
    const sp = [],
      sg = [];
    for (let i = 0; i < SAMPLES; i++) {
      let t = process.hrtime.bigint();
      const ref = await fleet.put(Float64Array.of(i));
      sp.push(ms(t));
      t = process.hrtime.bigint();
      const back = await fleet.get(ref);
      sg.push(ms(t));
      if (back[0] !== i) throw new Error('8 B round trip changed the value');
    }
    sp.sort((a, b) => a - b);
    sg.sort((a, b) => a - b);
    out.smallPut = percentile(sp, 50);
    out.smallGet = percentile(sg, 50);
    log(`8 B put p50 ${out.smallPut.toFixed(4)} ms get p50 ${out.smallGet.toFixed(4)} ms`);

    // A second connection, so get reads the host store (not this connection's cache).
    const other = await connect({ dataDir, startLocal: false });
    const puts = [],
      gets = [];
    const a = new Float64Array((MB * 1024 * 1024) / 8);
    for (let i = 0; i < a.length; i++) a[i] = Math.random();
    for (let k = 0; k < ARRAY_RUNS; k++) {
      a[0] = Math.random(); // new bytes each run
      let t = process.hrtime.bigint();
      const ref = await fleet.put(a);
      puts.push(ms(t) / 1000);
      t = process.hrtime.bigint();
      const back = await other.get(ref);
      gets.push(ms(t) / 1000);
      if (back.length !== a.length || back[0] !== a[0] || back[a.length - 1] !== a[a.length - 1]) throw new Error('array round trip changed the array');
    }
    await other.close();
    out.put = median(puts);
    out.get = median(gets);
    out.arrayRuns = puts.map((p, k) => `${p.toFixed(3)}+${gets[k].toFixed(3)}`).join(', ');
    log(`${MB} MB put / get, ${ARRAY_RUNS} runs: ${out.arrayRuns} s`);

    const kern = await fleet.registerWasm(await assembleWat(WAT_DOUBLE), { exports: ['double'] });
    const warm = fleet.map(
      kern,
      'double',
      Array.from({ length: 20 }, (_, i) => [i]),
      { memoryMB: 1, timeoutMs: 10_000 },
    );
    await fleet.wait(warm);
    let t = process.hrtime.bigint();
    const refs = fleet.map(
      kern,
      'double',
      Array.from({ length: TASKS }, (_, i) => [i]),
      { memoryMB: 1, timeoutMs: 10_000 },
    );
    await fleet.wait(refs, { numReturns: refs.length });
    const res = await Promise.all(refs.map((r) => fleet.get(r)));
    out.map = ms(t) / 1000;
    if (res[TASKS - 1][0] !== 2 * (TASKS - 1)) throw new Error('map gave a wrong result');
    log(`map of ${TASKS} tasks ${out.map.toFixed(2)} s`);
  } finally {
    await fleet.close().catch(() => undefined);
    await cluster.stop().catch((e) => log(`stop failed: ${e.message}`));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}

function reference() {
  const why = unavailable('ray', 'ray');
  if (why !== null) return { error: `ray unavailable: ${why}` };
  log('running the Ray reference (bench/sdk/ray_ref.py)');
  const r = runPython(path.join(__dirname, 'ray_ref.py'), [String(SAMPLES), String(MB), String(TASKS), String(ARRAY_RUNS)], 400_000);
  if (r.error) return r;
  const sp = [...r.small_put_ms].sort((x, y) => x - y),
    sg = [...r.small_get_ms].sort((x, y) => x - y);
  return {
    smallPut: percentile(sp, 50),
    smallGet: percentile(sg, 50),
    put: median(r.put_s),
    get: median(r.get_s),
    copy: median(r.copy_s),
    map: r.map_s,
    version: r.ray,
  };
}

async function main() {
  log(machineNote());
  let o;
  try {
    o = await ours();
  } catch (e) {
    log(`gramfleet side failed: ${e.stack}`);
    o = { error: e.message };
  }
  const r = reference();
  log(machineNote());
  const note = (extra) => [o.error && `ours failed: ${o.error}`, r.error, extra].filter(Boolean).join('; ') || undefined;
  emit(B, 'put of 8 B p50 (ours inline in the ref)', o.smallPut, r.smallPut, 'ms', { note: note() });
  emit(B, 'get of 8 B p50 (ours inline in the ref)', o.smallGet, r.smallGet, 'ms', { note: note() });
  const runs = o.arrayRuns !== undefined ? `median of ${ARRAY_RUNS} (put+get: ${o.arrayRuns} s)` : undefined;
  emit(B, `${MB} MB array put`, o.put, r.put, 's', { note: note(runs) });
  emit(B, `${MB} MB array get`, o.get, r.get, 's', {
    note: note(
      r.copy !== undefined
        ? `ours: a checked Float64Array over the host store (no copy; writes stay private); Ray get is a read-only zero-copy view, copying it out costs ${r.copy.toFixed(3)} s more`
        : undefined,
    ),
  });
  emit(B, `${MB} MB array put + get into a usable Float64Array (Ray: put + get + copy-out)`, o.put + o.get, r.put + r.get + r.copy, 's', { note: note(runs) });
  emit(B, `map of ${TASKS} tiny tasks (user wasm kernel, sandboxed) + wait + get`, o.map, r.map, 's', { note: note() });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
