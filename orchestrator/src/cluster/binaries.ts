/** Where the server binaries installed by scripts/setup.sh are found. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GramfleetError } from '@gramfleet/core';

/** The repository root (two levels above orchestrator/dist/cluster). */
export function repoRoot(): string {
  return path.resolve(__dirname, '..', '..', '..');
}

/** Path of a server binary: `.gramfleet/bin/<name>`, else PATH. Throws CLUSTER_BINARY_MISSING. */
export function binaryPath(name: 'temporal' | 'nats-server'): string {
  const local = path.join(repoRoot(), '.gramfleet', 'bin', name);
  if (fs.existsSync(local)) return local;
  // The system's PATH, searched as a shell would (not a gramfleet setting).
  // eslint-disable-next-line no-restricted-properties
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    const p = path.join(dir, name);
    if (dir !== '' && fs.existsSync(p)) return p;
  }
  throw new GramfleetError('CLUSTER_BINARY_MISSING', `${name} not found in .gramfleet/bin or PATH; run 'bash scripts/setup.sh'`, { binary: name });
}
