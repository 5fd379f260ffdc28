'use strict';
/**
 * bench/cluster — data-plane figures of gramfleet against Ray on the same machine, same run.
 *
 *   node bench/cluster/run.js   (env: RUNS=3 LAT_SAMPLES=200 TINY_SHARDS=10000 ARRAY_MB=100 WORKERS=<cores>)
 *
 * Each figure is the median of RUNS runs of both sides (each run: a fresh cluster, a fresh Ray);
 * the per-run values and the load average go to stderr and into the figure's note.
 *
 * Ours: a LocalCluster (nats-server -js, Temporal dev server, orchestrator, WORKERS WASM worker
 * processes) started in a temp dir and stopped at the end. Tasks go through the real task path
 * exactly as activities send them: a TaskClient (workers/src/dataplane/lanes.ts, the owner)
 * pushes them in frames to the workers' lanes over core NATS; a worker fetches the inputs by
 * digest (cached), runs the kernel on its thread pool and answers the owner with the outputs
 * inline. There is no no-op op, so the "empty shard" is `grf-walks` over the empty origin range
 * [0, 0) of a 2-node graph: the worker does all the protocol work and the kernel does nothing.
 *   (a) latency: run one task, wait for its result; p50 / p99 over LAT_SAMPLES tasks.
 *   (b) makespan: TINY_SHARDS empty tasks given to the owner at once, time to the last result.
 *   (d) the same TINY_SHARDS tiny shards as a workflow: a GRF job (Temporal workflow,
 *       runShardBatch activities, Φ assembled and stored) on a TINY_SHARDS-node ring with one
 *       node per shard and one walk per node; time from submit to result.
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
const { AsyncLocalStorage } = require('node:async_hooks');
const core = require('@gramfleet/core');
const { activeTracing, connectNats, openDataPlane, createArrayStore, createTaskClient } = require('@gramfleet/workers');
const { LocalCluster, connect } = require('@gramfleet/orchestrator');
const { arrayFigures } = require('./arrays');
const { emit, percentile, runPython, unavailable, machineNote } = require('../lib/common');

const RUNS = Number(process.env.RUNS ?? 3);
const LAT = Number(process.env.LAT_SAMPLES ?? 200);
const TINY = Number(process.env.TINY_SHARDS ?? 10000);
const MB = Number(process.env.ARRAY_MB ?? 100);
const WORKERS = Number(process.env.WORKERS ?? os.cpus().length);
const B = 'cluster';
const log = (...a) => process.stderr.write(`[bench/cluster] ${a.join(' ')}\n`);

/**
 * Runs `f` inside a span named `name` when this process traces (as an activity's tasks run inside
 * its RunActivity span, so their messages carry a traceparent and the workers record task and
 * kernel spans); just `f` otherwise.
 */
function inSpan(name, f) {
  const t = activeTracing();
  if (t === undefined) return f();
  return t.tracer.startActiveSpan(name, async (span) => {
    try {
      return await f();
    } finally {
      span.end();
    }
  });
}

/**
 * Where an orchestrator's activities run: @temporalio/activity keeps each activity's Context in
 * an AsyncLocalStorage, so the owner of tasks always runs with Node's async hooks on, traced or
 * not. `ours({ activityContext: true })` sends the tasks of (a) and (b) from inside one too, so
 * both sides of bench/cluster/telemetry.js pay what an orchestrator pays anyway.
 */
const activityStorage = new AsyncLocalStorage();

/**
 * CPU seconds (user + system) used so far by this process and every live process under it (the
 * local cluster's: NATS, Temporal, orchestrator, workers), except the trees of `exclude` (pids),
 * read from /proc; undefined where there is no /proc. A phase's CPU is the difference of two reads.
 */
function treeCpuSeconds(exclude = []) {
  let entries;
  try {
    entries = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  const tick = 100; // USER_HZ on Linux
  const procs = new Map();
  for (const d of entries) {
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(d), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / tick });
    } catch {
      // gone meanwhile
    }
  }
  const skip = new Set(exclude);
  const under = (pid) => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = procs.get(p)?.ppid ?? 0, hops++) {
      if (skip.has(p)) return false;
      if (p === process.pid) return true;
    }
    return false;
  };
  let sum = 0;
  for (const [pid, p] of procs) if (under(pid)) sum += p.cpu;
  return sum;
}

/**
 * Our side of one run. `natsSecurity: false` starts NATS without TLS and credentials
 * (bench/cluster/tls.js compares); `metrics: false` starts the processes without /metrics and
 * counting (bench/cluster/telemetry.js compares; tracing follows GRAMFLEET_OTLP_ENDPOINT, which
 * the cluster's processes inherit); `activityContext` sends the tasks from inside an
 * AsyncLocalStorage as an activity does. `onCluster` is called with the cluster once it is up.
 * Besides the times, `makespanCpu` and `workflowCpu` are the CPU seconds this process and the
 * cluster's used during (b) and (d) (`cpuExclude`: pids whose trees are not counted).
 */
async function ours({ natsSecurity = true, metrics = true, activityContext = false, onCluster, cpuExclude = [] } = {}) {
  const inActivity = (name, f) => (activityContext ? activityStorage.run({ activity: name }, () => inSpan(name, f)) : inSpan(name, f));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-cluster-'));
  log(
    `starting a local cluster in ${dataDir} (${WORKERS} wasm workers, NATS ${natsSecurity ? 'with' : 'WITHOUT'} TLS and credentials, metrics ${metrics ? 'on' : 'off'})`,
  );
  const t0 = Date.now();
  const cluster = await LocalCluster.start({ dataDir, workers: WORKERS, natsSecurity, metrics });
  log(`cluster up in ${Date.now() - t0} ms`);
  if (onCluster !== undefined) await onCluster(cluster);
  const st = cluster.state;
  const names = core.resourceNames(st.prefix);
  const nc = await connectNats(st.natsUrl, 'gramfleet-bench', cluster.natsAuth('admin'));
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
    const tasks = createTaskClient({ dp });
    const run = (jobId, shardId) =>
      tasks.run({ jobId, shardId, op: 'grf-walks', attrs, inputs, deadline: Date.now() + 3_600_000 }, { cls: 'wasm' }).then((r) => {
        if (r.error !== undefined) throw new Error(`shard ${r.shardId} failed: ${r.error.code} ${r.error.message}`);
        return r;
      });
    try {
      // warm-up (JIT, input caches in every worker)
      {
        const jobId = `warm-${randomBytes(3).toString('hex')}`;
        await Promise.all(Array.from({ length: 200 }, (_, i) => run(jobId, `s${i}`)));
      }

      // (a) latency
      {
        const jobId = `lat-${randomBytes(3).toString('hex')}`;
        const lat = [];
        for (let i = 0; i < LAT; i++) {
          const t = process.hrtime.bigint();
          await inActivity('bench.roundtrip', () => run(jobId, `s${i}`));
          lat.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
        lat.sort((x, y) => x - y);
        out.p50 = percentile(lat, 50);
        out.p99 = percentile(lat, 99);
        log(`latency p50 ${out.p50.toFixed(3)} ms p99 ${out.p99.toFixed(3)} ms`);
      }

      // (b) makespan of TINY tasks
      {
        const jobId = `tiny-${randomBytes(3).toString('hex')}`;
        const t = process.hrtime.bigint();
        const cpu0 = treeCpuSeconds(cpuExclude);
        const rs = await inActivity('bench.makespan', () => Promise.all(Array.from({ length: TINY }, (_, i) => run(jobId, `s${i}`))));
        out.makespan = Number(process.hrtime.bigint() - t) / 1e9;
        if (cpu0 !== undefined) out.makespanCpu = treeCpuSeconds(cpuExclude) - cpu0;
        const workers = new Set(rs.map((r) => r.stats.workerId));
        log(
          `makespan of ${TINY} tasks ${out.makespan.toFixed(3)} s${out.makespanCpu !== undefined ? ` (CPU ${out.makespanCpu.toFixed(2)} s)` : ''} over ${workers.size} workers (client: ${JSON.stringify(tasks.stats)})`,
        );
      }
    } finally {
      await tasks.close();
    }

    // (d) TINY tiny shards through a workflow
    {
      const fleet = await connect({ dataDir, startLocal: false });
      try {
        const n = TINY;
        const ring = { indptr: Int32Array.from({ length: n + 1 }, (_, i) => 2 * i), indices: new Int32Array(2 * n), data: new Float64Array(2 * n).fill(1) };
        for (let i = 0; i < n; i++) {
          ring.indices[2 * i] = (i + n - 1) % n;
          ring.indices[2 * i + 1] = (i + 1) % n;
        }
        for (let i = 0; i < n; i++)
          if (ring.indices[2 * i] > ring.indices[2 * i + 1]) {
            const x = ring.indices[2 * i];
            ring.indices[2 * i] = ring.indices[2 * i + 1];
            ring.indices[2 * i + 1] = x;
          }
        const graph = { shape: [n, n], ...ring };
        const spec = { kind: 'grf', graph, kernel: 'reg-laplacian', scale: 0.25, walks: 1, pHalt: 0.5, seed: 1, shardNodes: 1 };
        await (await fleet.submit({ ...spec, shardNodes: 50 })).result(); // warm-up
        const t = process.hrtime.bigint();
        const cpu0 = treeCpuSeconds(cpuExclude);
        const r = await (await fleet.submit(spec)).result();
        out.workflow = Number(process.hrtime.bigint() - t) / 1e9;
        if (cpu0 !== undefined) out.workflowCpu = treeCpuSeconds(cpuExclude) - cpu0;
        log(`workflow of ${r.shards} tiny shards ${out.workflow.toFixed(3)} s${out.workflowCpu !== undefined ? ` (CPU ${out.workflowCpu.toFixed(2)} s)` : ''}`);
      } finally {
        await fleet.close();
      }
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
  log(
    `ray ${r.ray}: latency p50 ${percentile(lat, 50).toFixed(2)} ms; makespan ${r.makespan_s.toFixed(2)} s; put ${r.put_s.toFixed(3)} s get ${r.get_s.toFixed(4)} s (+copy ${r.copy_s.toFixed(3)} s)`,
  );
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), makespan: r.makespan_s, put: r.put_s, get: r.get_s, copy: r.copy_s, version: r.ray };
}

const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length === 0 ? NaN : v.length % 2 === 1 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

async function main() {
  const runs = [];
  for (let k = 0; k < RUNS; k++) {
    log(`run ${k + 1} of ${RUNS}; ${machineNote()}`);
    let o;
    try {
      o = await ours();
    } catch (e) {
      log(`gramfleet side failed: ${e.stack}`);
      o = { error: e.message };
    }
    const r = reference();
    runs.push({ o, r, load: os.loadavg()[0] });
  }
  const pick = (side, key) => median(runs.map((x) => x[side][key]));
  const o = Object.fromEntries(['p50', 'p99', 'makespan', 'workflow', 'put', 'get', 'putDurable', 'getObject'].map((k) => [k, pick('o', k)]));
  const r = Object.fromEntries(['p50', 'p99', 'makespan', 'put', 'get', 'copy'].map((k) => [k, pick('r', k)]));
  const errors = [...new Set(runs.flatMap((x) => [x.o.error && `ours failed: ${x.o.error}`, x.r.error]).filter(Boolean))];
  const per = (key) =>
    `runs: ours ${runs.map((x) => fmt(x.o[key])).join(' / ')}, reference ${runs.map((x) => fmt(x.r[key])).join(' / ')}; load ${runs.map((x) => x.load.toFixed(2)).join(' / ')}`;
  const note = (key, extra) => [...errors, `median of ${RUNS}: ${per(key)}`, extra].filter(Boolean).join('; ');
  emit(B, 'empty-shard round trip p50', o.p50, r.p50, 'ms', { note: note('p50') });
  emit(B, 'empty-shard round trip p99', o.p99, r.p99, 'ms', { note: note('p99') });
  emit(B, `makespan of ${TINY} tiny shards`, o.makespan, r.makespan, 's', { note: note('makespan') });
  emit(B, `makespan of ${TINY} tiny shards as a workflow (GRF job, one node per shard; Ray: the same no-op tasks)`, o.workflow, r.makespan, 's', {
    note: note('workflow'),
  });
  emit(B, `${MB} MB array put`, o.put, r.put, 's', { note: note('put', 'host store; its durable copy follows in the background') });
  emit(B, `${MB} MB array get`, o.get, r.get, 's', {
    note: note(
      'get',
      Number.isFinite(r.copy)
        ? `ours: a checked, writable (copy-on-write) Float64Array over the host store; Ray get is a read-only zero-copy view, copying it out costs ${r.copy.toFixed(3)} s more`
        : undefined,
    ),
  });
  emit(B, `${MB} MB array put + get into a usable typed array (Ray: put + get + copy-out)`, o.put + o.get, r.put + r.get + r.copy, 's', { note: note('put') });
  emit(B, `${MB} MB array put + get (Ray: zero-copy get)`, o.put + o.get, r.put + r.get, 's', { note: note('put') });
  emit(B, `${MB} MB array put, waiting for the durable copy`, o.putDurable, r.put, 's', { note: note('putDurable', 'Ray put has no durable copy') });
  emit(B, `${MB} MB array get from the object store (no host copy)`, o.getObject, r.get + r.copy, 's', {
    note: note('getObject', 'Ray: get + copy-out from its object store'),
  });
}

function fmt(x) {
  return Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : '—';
}

module.exports = { ours, median, fmt };

if (require.main === module)
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
