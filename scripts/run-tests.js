#!/usr/bin/env node
// Runs every compiled test file with node's own test runner, one `node --test` per file, and
// prints a total summary at the end (its ℹ lines are the sum of the files').
// Usage: node scripts/run-tests.js [substring filters...]
// Env: GRAMFLEET_TEST_FILE_TIMEOUT_S (default 1200): a file still running after this long is
// killed and counted as failed, naming the file; GRAMFLEET_TEST_TIMEOUT_S (default 600): one test
// still running after this long fails by its name.
//
// Why not one `node --test --test-force-exit` over all files: with --test-force-exit the runner
// drops the tail of a file's results (nodejs/node#64833: fewer tests reported than ran, and a
// failing test's name and error can vanish, leaving only "test failed" for its file). Without
// it, a file that leaks a handle after a failed assertion would hang the run; the per-file
// timeout turns that into a loud failure instead.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dirs = ['core', 'workflows', 'workers', 'orchestrator', 'test', 'gpu-workers'].map((d) => path.join(root, d, 'dist'));
const files = [];
function walk(d) {
  if (!fs.existsSync(d)) return;
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) files.push(p);
  }
}
dirs.forEach(walk);
const filters = process.argv.slice(2);
// Filters match the path relative to the repository root, so a checkout's own folder name never matches.
const chosen = files.filter((f) => filters.length === 0 || filters.some((s) => path.relative(root, f).includes(s))).sort();
if (chosen.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const timeoutS = Number(process.env.GRAMFLEET_TEST_FILE_TIMEOUT_S ?? 1200);
// One test (or suite) still running after this long fails by its name, and the file goes on to its
// after() hooks: the longest suite takes about 2 minutes on a loaded 2-core machine.
const testTimeoutS = Number(process.env.GRAMFLEET_TEST_TIMEOUT_S ?? 600);
const KEYS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];

let current;
// The file's process runs in its own group (so a timeout kills its children too): pass an
// interrupt on to it.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (current !== undefined) {
      try {
        process.kill(-current.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    process.exit(130);
  });
}

/** Runs one file (integration suites start real servers: one file at a time keeps a 2-core machine honest). */
function runFile(file) {
  return new Promise((resolve) => {
    const child = (current = spawn(
      process.execPath,
      ['--test', '--test-concurrency=1', `--test-timeout=${testTimeoutS * 1000}`, '--test-reporter=spec', file],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    ));
    let out = '';
    child.stdout.on('data', (b) => {
      out += b.toString();
      process.stdout.write(b);
    });
    child.stderr.on('data', (b) => process.stderr.write(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const counts = {};
      for (const k of KEYS) {
        const m = out.match(new RegExp(`^ℹ ${k} (\\d+)$`, 'm'));
        counts[k] = m === null ? 0 : Number(m[1]);
      }
      resolve({ file, out, code, signal, timedOut, counts, summarised: /^ℹ tests \d+$/m.test(out) });
    });
  });
}

async function main() {
  const t0 = Date.now();
  const total = Object.fromEntries(KEYS.map((k) => [k, 0]));
  const failed = [];
  for (const file of chosen) {
    const r = await runFile(file);
    for (const k of KEYS) total[k] += r.counts[k];
    const rel = path.relative(root, file);
    if (r.timedOut) {
      // What the file printed before it hung (its last lines name the last test that finished):
      // a CI log's tail keeps this, where the file's own lines scrolled out long before.
      const tail = r.out
        .trimEnd()
        .split('\n')
        .slice(-40)
        .map((l) => `    | ${l}`)
        .join('\n');
      failed.push(`${rel}: still running after ${timeoutS} s (a leaked handle, or a hung test); killed. Its last lines:\n${tail}`);
    } else if (r.code !== 0) failed.push(`${rel}: exit ${r.code ?? r.signal}${r.counts.fail > 0 ? `, ${r.counts.fail} failing` : ''}`);
    else if (!r.summarised) failed.push(`${rel}: exited 0 without a test summary`);
  }
  process.stdout.write(`\n# all test files: ${chosen.length} files, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  for (const k of KEYS) process.stdout.write(`ℹ ${k} ${total[k]}\n`);
  if (failed.length > 0) {
    process.stdout.write(`\n✖ failed files (${failed.length}):\n${failed.map((f) => `  ${f}`).join('\n')}\n`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
