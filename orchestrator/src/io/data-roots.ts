/**
 * Data roots: the directories whose files a campaign run (from a campaign file, the SDK or a
 * `KernelCampaign` resource) may name — inputs it reads (`graph`, EigenPro's `train`, a Kronecker
 * GP's `y` file, …) and directories it writes under (datagen's `out`). The orchestrator reads
 * and writes with its own privileges, so a path is resolved before use and refused with
 * `INPUT_PATH_OUTSIDE_ROOTS` (naming the field, the path and the allowed roots) when it leaves
 * the roots:
 *
 * - relative paths are taken from the orchestrator's working directory, then `..` is resolved
 *   lexically and the result must lie in a root;
 * - the path is then resolved with `realpath` (every symlink followed) and must still lie in a
 *   root's real path, so a symlink inside a root that points outside is refused;
 * - an input must be a regular file (not a FIFO, a device such as /dev/zero, or a directory);
 * - an output directory may not exist yet: its longest existing ancestor is resolved and
 *   checked, and the rest of the path (which does not exist, so holds no symlink) is appended.
 *
 * The run then reads or writes the resolved path, not the one given. Which parameters are paths
 * is declared once, in each workload's parameter docs (`ParamDoc.file`).
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { GramfleetError, type WorkloadDef } from '@gramfleet/core';
import { isFileRef } from './objects';
import type { FileRefResolver } from './file-cache';

/** The roots used when none are configured: the working directory, `../shared/data` beside it (where the examples point), the OS temp directory. */
export function defaultDataRoots(cwd: string = process.cwd()): string[] {
  return [cwd, path.resolve(cwd, '..', 'shared', 'data'), os.tmpdir()];
}

/** Whether `p` is `root` or lies below it (both absolute and normalised). */
function isInside(p: string, root: string): boolean {
  if (p === root) return true;
  return p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** Data roots resolved once: each as given (normalised) and as its real path. */
export interface CompiledDataRoots {
  /** The roots as configured (absolute, normalised); named in errors. */
  readonly roots: readonly string[];
  /** Their real paths (a root that does not exist keeps its normalised path). */
  readonly real: readonly string[];
  /** Where relative paths are taken from. */
  readonly base: string;
}

/** Resolves the configured roots (`undefined`: {@link defaultDataRoots}); relative roots are taken from `base`. */
export async function compileDataRoots(roots: readonly string[] | undefined, base: string = process.cwd()): Promise<CompiledDataRoots> {
  const given = (roots ?? defaultDataRoots(base)).map((r) => path.resolve(base, r));
  const real = await Promise.all(given.map((r) => fs.realpath(r).catch(() => r)));
  return Object.freeze({ roots: Object.freeze(given), real: Object.freeze(real), base });
}

function outside(field: string, given: string, resolved: string, r: CompiledDataRoots, why: string): GramfleetError {
  return new GramfleetError(
    'INPUT_PATH_OUTSIDE_ROOTS',
    `${field} ${given} ${why}; campaign files must lie under the data roots ${r.roots.join(', ')} (GRAMFLEET_DATA_ROOTS on the orchestrator)`,
    { field, path: given, resolved, roots: [...r.roots] },
  );
}

/**
 * Resolves a path a run names for reading (`mode: 'read'`, a regular file) or as a directory
 * to write under (`'write'`), inside the data roots; returns the resolved real path. Errors:
 * `INPUT_PATH_OUTSIDE_ROOTS` (outside, by `..` or a symlink), `INPUT_INVALID` (not a
 * non-empty string, a NUL byte), `INPUT_FILE_UNREADABLE` (an input that is missing or not a
 * regular file, an output under a file).
 */
export async function resolveDataPath(field: string, given: unknown, mode: 'read' | 'write', r: CompiledDataRoots): Promise<string> {
  if (typeof given !== 'string' || given === '' || given.includes('\u0000'))
    throw new GramfleetError('INPUT_INVALID', `${field} must be a file path, got ${JSON.stringify(given)?.slice(0, 80)}`, { field });
  const abs = path.resolve(r.base, given);
  if (!r.roots.some((root) => isInside(abs, root)) && !r.real.some((root) => isInside(abs, root)))
    throw outside(field, given, abs, r, given.includes('..') ? `leaves the data roots through '..' (${abs})` : `is outside the data roots (${abs})`);
  if (mode === 'read') {
    let real: string;
    try {
      real = await fs.realpath(abs);
    } catch (e) {
      throw new GramfleetError('INPUT_FILE_UNREADABLE', `${field} ${given}: cannot read file (${String((e as { code?: unknown }).code ?? 'EIO')})`, {
        field,
        path: given,
      });
    }
    if (!r.real.some((root) => isInside(real, root))) throw outside(field, given, real, r, `resolves through a symlink to ${real}, outside the data roots`);
    const st = await fs.stat(real);
    if (!st.isFile()) throw new GramfleetError('INPUT_FILE_UNREADABLE', `${field} ${given} is not a regular file`, { field, path: given });
    return real;
  }
  // An output directory: resolve its longest existing ancestor; the rest does not exist yet.
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      const real = await fs.realpath(head);
      const out = path.join(real, ...tail);
      if (!r.real.some((root) => isInside(out, root))) throw outside(field, given, out, r, `resolves through a symlink to ${out}, outside the data roots`);
      const st = await fs.stat(real);
      if (!st.isDirectory()) throw new GramfleetError('INPUT_FILE_UNREADABLE', `${field} ${given}: ${real} is not a directory`, { field, path: given });
      return out;
    } catch (e) {
      if (e instanceof GramfleetError) throw e;
      const code = (e as { code?: unknown }).code;
      if (code === 'ENOTDIR') throw new GramfleetError('INPUT_FILE_UNREADABLE', `${field} ${given}: a part of it is not a directory`, { field, path: given });
      const parent = path.dirname(head);
      if (code !== 'ENOENT' || parent === head) throw e;
      tail.unshift(path.basename(head));
      head = parent;
    }
  }
}

/**
 * The run's parameters with every file parameter of its workload (`ParamDoc.file`) given as a
 * string resolved: an input named by object reference (`gf:file:…`, see ./objects.ts) becomes
 * the local file `refs` makes of it (./file-cache.ts), any other path is resolved by
 * {@link resolveDataPath}; other values (inline arrays) are kept. `where` prefixes the field in
 * errors (e.g. `runs[3]`). A reference given for an output directory, or where no `refs` is
 * given, is `INPUT_INVALID` naming the field.
 */
export async function resolveRunFiles(
  def: WorkloadDef,
  params: Readonly<Record<string, unknown>>,
  r: CompiledDataRoots,
  where?: string,
  refs?: FileRefResolver,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { ...params };
  for (const [k, doc] of Object.entries(def.params)) {
    if (doc.file === undefined || !Object.prototype.hasOwnProperty.call(params, k)) continue;
    const v = params[k];
    if (typeof v !== 'string') continue;
    const field = where === undefined ? k : `${where}.${k}`;
    if (isFileRef(v)) {
      if (doc.file === 'write' || refs === undefined)
        throw new GramfleetError(
          'INPUT_INVALID',
          `${field}: ${doc.file === 'write' ? 'an output directory' : 'this parameter'} cannot be a file reference (${v.slice(0, 80)})`,
          { field },
        );
      out[k] = await refs(field, v);
      continue;
    }
    out[k] = await resolveDataPath(field, v, doc.file, r);
  }
  return out;
}
