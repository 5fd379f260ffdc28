#!/usr/bin/env node
// Runs every compiled test file with node's own test runner (its summary lines are what CI reads).
// Usage: node scripts/run-tests.js [substring filters...]
'use strict';
const { spawnSync } = require('node:child_process');
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
// Integration suites start real servers; one file at a time keeps a 2-core machine honest.
// --test-force-exit: a file whose tests have all finished may not hang the run on a leaked handle
// (a failing assertion that skips a test's cleanup once kept CI waiting forever).
const r = spawnSync(process.execPath, ['--test', '--test-force-exit', '--test-concurrency=1', '--test-reporter=spec', ...chosen], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
