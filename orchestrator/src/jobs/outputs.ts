/**
 * `gramfleet jobs watch|result` per kind: the kinds whose commands record an output recipe
 * (grf, eigenpro, datagen, kron-gp; the SDK records one for datagen and kron-gp too, see
 * `sdkOutputRecipe`) show their own progress and write their own files; the others (and a datagen
 * or kron-gp job with no recipe: a kron-gp grid too large for one) show their progress as JSON lines
 * and write the job's result as JSON (to `--out`, else stdout).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CliContext } from '../cli/command';
import type { JobCli } from '../cli/detach';
import type { Fleet, JobHandle } from '../client/fleet';
import { GRF_JOB_CLI } from '../grf/cli';
import { EIGENPRO_JOB_CLI } from '../eigenpro/cli';
import { DATAGEN_JOB_CLI } from '../datagen/cli';
import { KRON_JOB_CLI } from '../kron/cli';

/** The kinds whose files `jobs result` writes as their command does. */
const JOB_CLIS: readonly JobCli[] = [GRF_JOB_CLI, EIGENPRO_JOB_CLI, DATAGEN_JOB_CLI, KRON_JOB_CLI];

function jobCliOf(kind: string): JobCli | undefined {
  return JOB_CLIS.find((c) => c.kind === kind);
}

/** Shows a job's progress until it ends (its kind's display, else JSON lines); resolves with the result. */
export async function watchJob(h: JobHandle, ctx: CliContext, json: boolean): Promise<unknown> {
  const c = jobCliOf(h.kind);
  if (c !== undefined) return c.watch(h, ctx, json);
  return h.watch((e) => ctx.out.write(JSON.stringify(e) + '\n'));
}

/** Waits for a job and writes its files as its command would have (or its result as JSON); the exit code. */
export async function writeJobResult(fleet: Fleet, h: JobHandle, ctx: CliContext, o: { readonly out?: string; readonly json: boolean }): Promise<number> {
  const d = await h.status();
  const result = await h.result();
  const c = jobCliOf(h.kind);
  const recorded = c !== undefined && d.output !== undefined && d.output.command === c.kind ? d.output : undefined;
  if (c !== undefined && (recorded !== undefined || c.needsRecipe !== true)) {
    const base = recorded ?? c.defaultRecipe(o.out ?? `${h.jobId}.npz`);
    const recipe = o.out !== undefined ? { ...base, out: path.resolve(o.out) } : base;
    return c.write(fleet, h, result, recipe, ctx, o.json);
  }
  const text = JSON.stringify(result, null, 2) + '\n';
  if (o.out === undefined) ctx.out.write(text);
  else {
    fs.writeFileSync(o.out, text);
    ctx.out.write(o.json ? JSON.stringify({ jobId: h.jobId, out: path.resolve(o.out) }) + '\n' : `wrote ${path.resolve(o.out)}\n`);
  }
  return 0;
}
