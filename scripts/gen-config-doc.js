#!/usr/bin/env node
// Writes docs/config.md from the config modules' declarations (run after `tsc -b`): every
// environment variable a gramfleet process reads, with the processes that read it, its default
// and its meaning; then the variables of the tests and benchmarks.
//   node scripts/gen-config-doc.js           write docs/config.md when it differs
//   node scripts/gen-config-doc.js --check   exit 1 when it differs (test/src/config/docs.test.ts)
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'docs', 'config.md');

/** The process kinds, in the order of the table's "read by" column, with their declarations. */
function processKinds() {
  const { envVars } = require('@gramfleet/core/internal');
  const { WASM_WORKER_ENV } = require('@gramfleet/workers');
  const { GPU_WORKER_ENV } = require('@gramfleet/gpu-workers');
  const { HOST_ENV, CONTROLLER_ENV, CLIENT_ENV } = require('@gramfleet/orchestrator/internal');
  return [
    { key: 'orchestrator', file: 'orchestrator/src/host/config.ts', vars: envVars(HOST_ENV) },
    { key: 'wasm worker', file: 'workers/src/config.ts', vars: envVars(WASM_WORKER_ENV) },
    { key: 'gpu worker', file: 'gpu-workers/src/config.ts', vars: envVars(GPU_WORKER_ENV) },
    { key: 'controller', file: 'orchestrator/src/k8s/config.ts', vars: envVars(CONTROLLER_ENV) },
    { key: 'sdk/cli', file: 'orchestrator/src/client/config.ts', vars: envVars(CLIENT_ENV) },
  ];
}

/** Variables of the tests, benchmarks and scripts (read where they are used, not by a process). */
const TEST_VARS = [
  [
    'GRAMFLEET_DATA_DIR',
    '`data/`, then `../shared/data`',
    'folder of the real data sets the exactness tests read (Karate, Cora); a test without them prints why it skipped',
  ],
  [
    'GRAMFLEET_R3_PARTITION',
    '',
    '1: the replicated-topology test (test/src/harness/replicated.test.ts) also partitions a worker host for 30 s (scripts/r3-partition.sh sets it)',
  ],
  ['GRAMFLEET_SOAK_MINUTES', '10', 'the campaign soak (scripts/soak-campaign.sh, test/src/chaos/soak/campaign-soak.chaos.ts): how long it runs, minutes'],
  ['GRAMFLEET_SOAK_KILL_EVERY_S', '40', 'the campaign soak: a cluster process is SIGKILLed about this often, seconds'],
  [
    'GRAMFLEET_SOAK_LOG',
    '/tmp/gramfleet-soak-<time>.log',
    "scripts/soak-campaign.sh: where the soak's output (kills, campaigns, the summary line) is also written",
  ],
  [
    'GRAMFLEET_NATS_CHART_TGZ',
    '',
    'path of a `helm pull` of the NATS chart (1.x): test/src/k8s/manifests renders the chart with nats.install against it (the auth Secret mounted and included); without it that case prints why it skipped',
  ],
  ['GRAMFLEET_KEEP_TEST_DIRS', '', "set: the tests' throwaway cluster directories are kept (server data and logs) instead of removed"],
  ['GRAMFLEET_K8S_ENVTEST_INSTALL', '1', '0: the Kubernetes tests do not download kube-apiserver and etcd when they are missing (they skip with the reason)'],
  [
    'GRAMFLEET_TEST_ONLY_CORRUPT_OUTPUTS',
    '',
    'set by LocalCluster.addWorker({ testOnlyCorruptOutputs: true }) only: 1 makes a worker that a local cluster started (`--cluster=`) return wrong bytes, which --verify must catch; ignored by any other worker',
  ],
  [
    'GRAMFLEET_COUNTS_DIR',
    '',
    'set: every process (workers, task owners, GRF activities) appends one JSON line per task run, accepted result, batch and assembly to its own file in this folder (workers/src/counts.ts); the chaos suite checks each shard counted once from them',
  ],
  [
    'GRAMFLEET_TEST_ONLY_FAULTS',
    '',
    'the chaos suite only, read by a worker a local cluster started (`--cluster=`), ignored by any other: `hang:SHARD[:SEED]` makes the first try of that shard (of the job with that seed) run a kernel that never returns, `crash:SHARD[:SEED]` makes every try kill the worker process running it (a poison shard); comma-separated',
  ],
  [
    'GRAMFLEET_CHAOS_TIMING',
    '',
    '1: the chaos tests assert the time bounds of issue 23 (e.g. a hung kernel redelivered within 2x its timeout) instead of only printing them; scripts/chaos.sh sets it',
  ],
  ['GRAMFLEET_CHAOS_LOG', '`/tmp/gramfleet-chaos-<time>.log`', "scripts/chaos.sh: where the whole chaos run's output (counts, ledger, timings) is kept"],
  ['GRAMFLEET_TEST_FILE_TIMEOUT_S', '1200', 'scripts/run-tests.js: a test file still running after this long is killed and counted as failed'],
  ['GRAMFLEET_TEST_TIMEOUT_S', '600', 'scripts/run-tests.js: one test still running after this long fails by its name'],
  ['GF_TEST_KERNEL_BUILD', '', 'fma: the wasm conformance suites load the relaxed-SIMD FMA kernel build'],
];

function cell(s) {
  return s === '' ? '–' : s.replace(/\|/g, '\\|').replace(/</g, '&lt;');
}

/** The text of docs/config.md. */
function generate() {
  const kinds = processKinds();
  const rows = new Map();
  for (const k of kinds) {
    for (const v of k.vars) {
      const r = rows.get(v.name) ?? { name: v.name, by: [] };
      r.by.push({ key: k.key, default: v.default, meaning: v.meaning });
      rows.set(v.name, r);
    }
  }
  /** One value, or each process's value where they differ. */
  const merged = (by, field) => {
    const values = [...new Set(by.map((b) => b[field]))];
    if (values.length === 1) return cell(values[0]);
    return by.map((b) => `${cell(b[field])} *(${b.key})*`).join('; ');
  };
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated by scripts/gen-config-doc.js from the config modules; test/src/config/docs.test.ts checks it. -->',
    '',
    'Every gramfleet process reads its configuration from `GRAMFLEET_*` environment variables, in one',
    'config module per process kind, before anything starts; a value outside its bound stops the',
    'process with a typed error (`INPUT_INVALID` or `INPUT_OUT_OF_RANGE`) naming the variable and the',
    'bound. An empty value is the same as an unset one. The modules:',
    '',
    ...kinds.map((k) => `- **${k.key}**: \`${k.file}\``),
    '',
    '| variable | read by | default | meaning |',
    '| --- | --- | --- | --- |',
    ...[...rows.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((r) => `| \`${r.name}\` | ${r.by.map((b) => b.key).join(', ')} | ${merged(r.by, 'default')} | ${merged(r.by, 'meaning')} |`),
    '',
    'A local cluster (`gramfleet up`, `connect()`) sets the addresses, prefix, worker ids, threads and',
    'host store of the processes it starts; they inherit the rest of its environment. On Kubernetes',
    'the chart (`deploy/`) sets them on each container.',
    '',
    '## Tests and benchmarks',
    '',
    '| variable | default | meaning |',
    '| --- | --- | --- |',
    ...TEST_VARS.map(([n, d, m]) => `| \`${n}\` | ${cell(d)} | ${cell(m)} |`),
    '',
  ];
  return lines.join('\n');
}

function main() {
  const want = generate();
  const have = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
  if (want === have) return 0;
  if (process.argv.includes('--check')) {
    process.stderr.write(
      'docs/config.md is not what scripts/gen-config-doc.js makes of the config modules: run `npx tsc -b && node scripts/gen-config-doc.js`\n',
    );
    return 1;
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, want);
  process.stdout.write('wrote docs/config.md\n');
  return 0;
}

if (require.main === module) process.exitCode = main();
module.exports = { generate, TEST_VARS };
