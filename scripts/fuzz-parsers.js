#!/usr/bin/env node
// Runs the parser property targets of test/src/fuzz/parsers.ts (after `tsc -b`) for many cases:
// every parser of outside data must return something consistent or throw a typed
// GramfleetError, never crash, hang or allocate past its budget.
//   node scripts/fuzz-parsers.js [CASES per target, default 1000000] [SEED, default random] [name filter]
// Prints, per target, the cases run, how many the parser accepted, the time and the slowest
// single case (a report, not a pass/fail threshold); on a failure,
// the counterexample and the seed/path that replays it (exit 1).
'use strict';
const path = require('node:path');
const fc = require('fast-check');
const { PARSER_TARGETS } = require(path.join(__dirname, '..', 'test', 'dist', 'fuzz', 'parsers.js'));

const cases = Number(process.argv[2] ?? 1_000_000);
const seed = process.argv[3] !== undefined ? Number(process.argv[3]) : Date.now() ^ (Math.random() * 2 ** 31);
const filter = process.argv[4];
let failed = false;
console.log(`fuzz-parsers: ${cases} cases per target, seed ${seed}, node ${process.version}`);
for (const t of PARSER_TARGETS) {
  if (filter !== undefined && !t.name.includes(filter)) continue;
  let accepted = 0;
  let slowest = 0n;
  const t0 = process.hrtime.bigint();
  const r = fc.check(
    fc.property(t.arb, (x) => {
      const c0 = process.hrtime.bigint();
      if (t.check(x)) accepted++;
      const d = process.hrtime.bigint() - c0;
      if (d > slowest) slowest = d;
    }),
    { seed, numRuns: cases, endOnFailure: true },
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.failed) {
    failed = true;
    console.log(`FAIL ${t.name} after ${r.numRuns} cases (seed ${r.seed}, path ${r.counterexamplePath}): ${r.errorInstance?.message ?? r.error}`);
    console.log('  counterexample:', r.counterexample);
  } else {
    console.log(
      `ok   ${t.name}: ${r.numRuns} cases, ${accepted} accepted, ${r.numRuns - accepted} refused with a typed error, ${s.toFixed(1)} s, slowest case ${(Number(slowest) / 1e6).toFixed(1)} ms`,
    );
  }
}
process.exit(failed ? 1 : 0);
