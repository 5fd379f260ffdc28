'use strict';
/**
 * bench/cluster/tls.js — what NATS security costs: bench/cluster's figures (our side only) with
 * the local cluster's NATS as it runs by default (TLS, a JWT identity per process, least-privilege
 * permissions) against the same cluster with NATS plain and open (`natsSecurity: false`).
 *
 *   node bench/cluster/tls.js   (env: RUNS=3 LAT_SAMPLES=200 TINY_SHARDS=10000 ARRAY_MB=100 WORKERS=<cores>)
 *
 * Runs alternate (secured, plain, secured, plain, ...), each on a fresh cluster; each figure is the
 * median of RUNS runs of each side. "ours" is the secured side, "reference" the plain one, so a
 * ratio below 1 is the fraction of speed TLS + auth keep (issue 22 asks for ≥ 0.9). The load
 * average before each run goes to stderr and into the notes. Run it under `flock /work/wt/heavy.lock`.
 */
const os = require('node:os');
const { ours, median, fmt } = require('./run');
const { emit, machineNote } = require('../lib/common');

const RUNS = Number(process.env.RUNS ?? 3);
const MB = Number(process.env.ARRAY_MB ?? 100);
const TINY = Number(process.env.TINY_SHARDS ?? 10000);
const B = 'cluster-tls';
const log = (...a) => process.stderr.write(`[bench/cluster/tls] ${a.join(' ')}\n`);

async function main() {
  const runs = [];
  for (let k = 0; k < RUNS; k++) {
    const pair = {};
    for (const secured of k % 2 === 0 ? [true, false] : [false, true]) {
      log(`run ${k + 1} of ${RUNS}, NATS ${secured ? 'secured' : 'plain'}; ${machineNote()}`);
      const load = os.loadavg()[0];
      try {
        pair[secured ? 'on' : 'off'] = { ...(await ours({ natsSecurity: secured })), load };
      } catch (e) {
        log(`run failed: ${e.stack}`);
        pair[secured ? 'on' : 'off'] = { error: e.message, load };
      }
    }
    runs.push(pair);
  }
  const keys = ['p50', 'p99', 'makespan', 'workflow', 'put', 'get', 'putDurable', 'getObject'];
  const pick = (side, key) => median(runs.map((x) => x[side][key]));
  const errors = [...new Set(runs.flatMap((x) => [x.on.error, x.off.error]).filter(Boolean))];
  const note = (key) =>
    [
      ...errors.map((e) => `failed: ${e}`),
      `median of ${RUNS}: TLS+auth ${runs.map((x) => fmt(x.on[key])).join(' / ')}, plain ${runs.map((x) => fmt(x.off[key])).join(' / ')}; load ${runs
        .map((x) => `${x.on.load.toFixed(2)}/${x.off.load.toFixed(2)}`)
        .join(' ')}`,
    ].join('; ');
  const figures = {
    p50: ['empty-shard round trip p50', 'ms'],
    p99: ['empty-shard round trip p99', 'ms'],
    makespan: [`makespan of ${TINY} tiny shards`, 's'],
    workflow: [`makespan of ${TINY} tiny shards as a workflow (GRF job)`, 's'],
    put: [`${MB} MB array put`, 's'],
    get: [`${MB} MB array get`, 's'],
    putDurable: [`${MB} MB array put, waiting for the durable copy`, 's'],
    getObject: [`${MB} MB array get from the object store (no host copy)`, 's'],
  };
  for (const k of keys)
    emit(B, `${figures[k][0]}: NATS with TLS + auth (reference: plain NATS)`, pick('on', k), pick('off', k), figures[k][1], { note: note(k) });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
