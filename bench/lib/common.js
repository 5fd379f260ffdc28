'use strict';
/**
 * Helpers shared by the bench runners: the JSON figure lines, percentiles, and running a
 * Python reference script from bench/.venv (created by bench/setup.sh).
 *
 * Ratio convention: for times, ratio = reference / ours (> 1 means gramfleet is faster);
 * for rates (higher is better), ratio = ours / reference (> 1 again means gramfleet is faster).
 * A figure that could not be measured is printed as null with a `note` saying why.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const BENCH_DIR = path.resolve(__dirname, '..');
const VENV_PY = path.join(BENCH_DIR, '.venv', 'bin', 'python');

/** Why a PyPI reference package is unavailable, or null when it imports. */
function unavailable(pkg, importName) {
  const f = path.join(BENCH_DIR, '.venv', 'unavailable', `${pkg}.txt`);
  if (!fs.existsSync(VENV_PY)) return 'bench/.venv missing: run bash bench/setup.sh';
  const r = spawnSync(VENV_PY, ['-c', `import ${importName}`], { encoding: 'utf8' });
  if (r.status === 0) return null;
  if (fs.existsSync(f)) return fs.readFileSync(f, 'utf8').trim();
  return `import ${importName} failed: ${(r.stderr || '').trim().split('\n').pop()}`;
}

/**
 * Runs a Python script with the venv interpreter; its stdout's last line that parses as
 * JSON is returned. Returns { error } when it fails.
 */
function runPython(script, args, timeoutMs) {
  // GNU timeout runs the script in its own process group and signals the whole group, so
  // worker processes the script forked (multiprocessing pools, Ray) die with it.
  const r = spawnSync('timeout', ['-k', '5', String(Math.ceil(timeoutMs / 1000)), VENV_PY, script, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, PYTHONWARNINGS: 'ignore' },
  });
  process.stderr.write(r.stderr || '');
  if (r.status === 124 || r.status === 137) return { error: `reference script timed out after ${Math.ceil(timeoutMs / 1000)} s`, timedOut: true };
  const lines = (r.stdout || '').trim().split('\n').reverse();
  for (const l of lines) {
    try {
      return JSON.parse(l);
    } catch {
      /* not JSON */
    }
  }
  const why = r.error ? r.error.message : `exit ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' ')}`;
  return { error: `reference script failed (${why})` };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const round = (x) => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toPrecision(4)));

/**
 * Prints one figure line. `higherIsBetter` selects the ratio convention (see top of file).
 */
function emit(bench, figure, ours, reference, unit, { higherIsBetter = false, note } = {}) {
  let ratio = null;
  if (Number.isFinite(ours) && Number.isFinite(reference) && ours > 0 && reference > 0) ratio = higherIsBetter ? ours / reference : reference / ours;
  const line = { bench, figure, ours: round(ours), reference: round(reference), ratio: round(ratio), unit };
  if (note) line.note = note;
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return line;
}

/** One line describing the machine and its load, printed before the figures. */
function machineNote() {
  return `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}; other processes share the machine, timings are noisy`;
}

module.exports = { BENCH_DIR, VENV_PY, unavailable, runPython, percentile, emit, machineNote, round };
