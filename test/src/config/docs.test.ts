/**
 * docs/config.md lists every environment variable: it is what scripts/gen-config-doc.js makes of
 * the config modules' declarations, and every `GRAMFLEET_*` name the code, scripts, benchmarks
 * and deployment files mention is in it (a variable read or set anywhere without being declared
 * and documented fails here).
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
/** Names that look like variables but are identifiers. */
const NOT_VARIABLES = new Set(['GRAMFLEET_COMMAND']);

function files(dir: string, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (/\.(ts|js|ya?ml|sh|tpl)$/.test(e.name)) out.push(p);
  }
  return out;
}

describe('docs/config.md', () => {
  it('is what scripts/gen-config-doc.js makes of the config modules', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-config-doc.js'), '--check'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
  it('lists every GRAMFLEET_* variable the code, scripts, benchmarks and deployment files mention', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'config.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/`(GRAMFLEET_[A-Z0-9_]+|GF_[A-Z0-9_]+)`/g)].map((m) => m[1] as string));
    const missing = new Map<string, string>();
    const dirs = ['core/src', 'workers/src', 'orchestrator/src', 'gpu-workers/src', 'workflows/src', 'test/src', 'scripts', 'bench', 'deploy'];
    for (const f of dirs.flatMap((d) => files(path.join(ROOT, d)))) {
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/\bGRAMFLEET_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g)) {
        const name = m[0];
        // A prefix of documented names (startsWith('GRAMFLEET_PEER')) is not a variable of its own.
        const prefix = [...documented].some((d) => d.startsWith(`${name}_`));
        if (!NOT_VARIABLES.has(name) && !prefix && !documented.has(name) && !missing.has(name)) missing.set(name, path.relative(ROOT, f));
      }
    }
    assert.deepEqual(
      [...missing].map(([n, f]) => `${n} (${f})`),
      [],
      'variables missing from docs/config.md',
    );
  });
});
