'use strict';
/**
 * bench/cluster/telemetry.js — what metrics and tracing cost (issue 25: bench/cluster's figures
 * must move by < 5 %): bench/cluster's figures (our side only) with telemetry on against the
 * same cluster with it off.
 *
 *   node bench/cluster/telemetry.js   (env: ON=both|metrics|tracing SAMPLE=0|1 RUNS=3 LAT_SAMPLES=200 TINY_SHARDS=10000 ARRAY_MB=100 WORKERS=<cores> SCRAPE_MS=15000)
 *
 * SAMPLE is the sample ratio of the "on" side (GRAMFLEET_OTLP_SAMPLE_RATIO, here and in the
 * cluster). Each figure is one trace (the round trips' spans, the makespan's span, the workflow's
 * job), sampled whole or not at all, so the bench runs one of the two cases: SAMPLE=0 (default),
 * what a job not sampled costs (a share 1 − ratio of jobs), or SAMPLE=1, what a traced job costs.
 * With the default ratio r, a job costs on average (1 − r) × the first + r × the second.
 *
 * On: every orchestrator and worker process serves /metrics (and counts), a scraper GETs each
 * one every SCRAPE_MS (15 s, a usual Prometheus interval; the chart's ServiceMonitor uses 30 s), and every process — this one (the task owner of the round trips and the
 * makespan, each task sent inside a span as an activity's are; the SDK of the workflow figure),
 * the orchestrator and the workers — traces over OTLP (GRAMFLEET_OTLP_ENDPOINT) to a receiver;
 * scraper and receiver run in their own process (bench/cluster/telemetry-sink.js), which
 * reports what it got. Off: no /metrics, no counting, no tracing. On both sides the tasks of the
 * round trips and the makespan leave from inside an AsyncLocalStorage, as an orchestrator
 * activity's do (@temporalio/activity keeps its Context there, so the owner of tasks always
 * runs with Node's async hooks on).
 *
 * Runs alternate (on, off, off, on, ...), each on a fresh cluster; each figure is the median of
 * RUNS runs of each side. "ours" is the "on" side, "reference" the "off" side: ratio = off time /
 * on time, so 1 means telemetry costs nothing and 0.95 is the 5 % bound. The load average before
 * each run goes to stderr and into the notes. Run it under `flock /work/wt/heavy.lock`.
 */
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startTracing, activeTracing } = require('@gramfleet/workers');
const { ours, median, fmt } = require('./run');
const { emit, machineNote } = require('../lib/common');

const RUNS = Number(process.env.RUNS ?? 3);
const MB = Number(process.env.ARRAY_MB ?? 100);
const TINY = Number(process.env.TINY_SHARDS ?? 10000);
const B = 'cluster-telemetry';
const log = (...a) => process.stderr.write(`[bench/cluster/telemetry] ${a.join(' ')}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** What the "on" side turns on: ON=both (default), ON=metrics (no tracing) or ON=tracing (no /metrics). */
const ON = process.env.ON ?? 'both';
if (!['both', 'metrics', 'tracing'].includes(ON)) throw new Error(`ON must be both|metrics|tracing, got ${ON}`);
const TRACING = ON !== 'metrics';
const SAMPLE = Number(process.env.SAMPLE ?? 0);
if (!(SAMPLE >= 0 && SAMPLE <= 1)) throw new Error(`SAMPLE must be in [0, 1], got ${process.env.SAMPLE}`);
const METRICS = ON !== 'tracing';

/** One "on" run: the sink, tracing here and in the cluster (inherited environment), metrics on (as ON says). */
async function telemetryOn() {
  const port = await freePort();
  const sink = spawn(process.execPath, [path.join(__dirname, 'telemetry-sink.js'), String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  sink.stdout.on('data', (c) => {
    out += c;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  if (TRACING) {
    process.env.GRAMFLEET_OTLP_ENDPOINT = endpoint;
    process.env.GRAMFLEET_OTLP_SAMPLE_RATIO = String(SAMPLE);
    startTracing({ endpoint, serviceName: 'gramfleet-bench', sampleRatio: SAMPLE });
  }
  try {
    const r = await ours({
      metrics: METRICS,
      activityContext: true,
      cpuExclude: [sink.pid],
      onCluster: (cluster) => {
        const urls = cluster
          .status()
          .map((p) => p.metrics)
          .filter(Boolean);
        sink.stdin.write(JSON.stringify(urls) + '\n');
      },
    });
    await activeTracing()?.flush();
    // the cluster's exporters flushed when their processes stopped
    await new Promise((res) => setTimeout(res, 500));
    return r;
  } finally {
    const t = activeTracing();
    if (t !== undefined) log(`this process's spans: ${JSON.stringify(t.stats())}`);
    await t?.shutdown();
    delete process.env.GRAMFLEET_OTLP_ENDPOINT;
    delete process.env.GRAMFLEET_OTLP_SAMPLE_RATIO;
    const closed = new Promise((res) => sink.once('exit', res));
    sink.kill('SIGTERM');
    await closed;
    log(`sink got ${out.trim()}`);
    telemetryOn.last = out.trim();
  }
}

async function main() {
  delete process.env.GRAMFLEET_OTLP_ENDPOINT;
  delete process.env.GRAMFLEET_OTLP_SAMPLE_RATIO;
  const runs = [];
  const sinks = [];
  for (let k = 0; k < RUNS; k++) {
    const pair = {};
    for (const on of k % 2 === 0 ? [true, false] : [false, true]) {
      log(`run ${k + 1} of ${RUNS}, telemetry ${on ? 'on' : 'off'}; ${machineNote()}`);
      const load = os.loadavg()[0];
      try {
        pair[on ? 'on' : 'off'] = { ...(on ? await telemetryOn() : await ours({ metrics: false, activityContext: true })), load };
        if (on) sinks.push(telemetryOn.last);
      } catch (e) {
        log(`run failed: ${e.stack}`);
        pair[on ? 'on' : 'off'] = { error: e.message, load };
      }
    }
    runs.push(pair);
  }
  // CPU per task (all processes but the sink), µs: less noisy than wall time on a loaded machine.
  for (const x of runs)
    for (const side of [x.on, x.off]) {
      if (side.makespanCpu !== undefined) side.makespanCpuUs = (side.makespanCpu / TINY) * 1e6;
      if (side.workflowCpu !== undefined) side.workflowCpuUs = (side.workflowCpu / TINY) * 1e6;
    }
  const keys = ['p50', 'p99', 'makespan', 'makespanCpuUs', 'workflow', 'workflowCpuUs', 'put', 'get'];
  const pick = (side, key) => median(runs.map((x) => x[side][key]));
  const errors = [...new Set(runs.flatMap((x) => [x.on.error, x.off.error]).filter(Boolean))];
  const note = (key) =>
    [
      ...errors.map((e) => `failed: ${e}`),
      `median of ${RUNS}: on ${runs.map((x) => fmt(x.on[key])).join(' / ')}, off ${runs.map((x) => fmt(x.off[key])).join(' / ')}; load ${runs
        .map((x) => `${x.on.load.toFixed(2)}/${x.off.load.toFixed(2)}`)
        .join(' ')}; the receiver got ${sinks.join(' ')}`,
    ].join('; ');
  const figures = {
    p50: ['empty-shard round trip p50', 'ms'],
    p99: ['empty-shard round trip p99', 'ms'],
    makespan: [`makespan of ${TINY} tiny shards`, 's'],
    makespanCpuUs: [`CPU per task of the ${TINY} tiny shards (every process but the OTLP receiver)`, 'us'],
    workflowCpuUs: [`CPU per shard of the ${TINY}-shard workflow (every process but the OTLP receiver)`, 'us'],
    workflow: [`makespan of ${TINY} tiny shards as a workflow (GRF job)`, 's'],
    put: [`${MB} MB array put`, 's'],
    get: [`${MB} MB array get`, 's'],
  };
  for (const k of keys)
    emit(
      B,
      `${figures[k][0]}: ${ON === 'both' ? 'metrics + tracing' : ON} on${TRACING ? `, sample ratio ${SAMPLE}` : ''} (reference: off)`,
      pick('on', k),
      pick('off', k),
      figures[k][1],
      {
        note: note(k),
      },
    );
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
