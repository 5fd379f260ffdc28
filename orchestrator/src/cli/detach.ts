/**
 * `--detach` of the workload commands: submit, record how the results are written (the job's
 * output recipe, see orchestrator/src/jobs/service.ts), print the job id and return. The job
 * runs on the cluster; `gramfleet jobs watch ID` re-attaches with the same progress display and
 * `gramfleet jobs result ID [--out PATH]` writes the files the command would have written.
 */
import * as path from 'node:path';
import { GramfleetError } from '@gramfleet/core';
import type { CliContext, FlagSpec } from './command';
import { JOB_OUTPUT_MAX_BYTES, type JobOutputRecipe } from '../jobs/types';
import type { Fleet, JobHandle } from '../client/fleet';

/** The `--detach` flag. */
export const DETACH_FLAG: FlagSpec = {
  type: 'boolean',
  description: 'submit, print the job id and return (gramfleet jobs watch ID re-attaches; gramfleet jobs result ID writes the files)',
};

/** A recipe for `command` writing to `out` (made absolute, so any later `jobs result` writes to the same place). */
export function outputRecipe(command: string, out: string, options: Readonly<Record<string, unknown>> = {}): JobOutputRecipe {
  const r = { command, out: path.resolve(out), options };
  const size = JSON.stringify(r).length;
  if (size > JOB_OUTPUT_MAX_BYTES)
    throw new GramfleetError(
      'INPUT_TOO_LARGE',
      `the output options of '${command}' take ${size} characters, more than the ${JOB_OUTPUT_MAX_BYTES} a job records; give large grids as files`,
      { field: 'output', bound: JOB_OUTPUT_MAX_BYTES, value: size },
    );
  return r;
}

/** What a detached command prints. */
export function printDetached(ctx: CliContext, job: { readonly jobId: string; readonly kind: string }, json: boolean): number {
  if (json) ctx.out.write(JSON.stringify({ jobId: job.jobId, kind: job.kind, detached: true }) + '\n');
  else
    ctx.out.write(
      `${job.kind} job ${job.jobId} submitted\n  gramfleet jobs watch ${job.jobId}     progress until it ends\n  gramfleet jobs result ${job.jobId}    write its files\n`,
    );
  return 0;
}

/**
 * The command-line side of one workload kind's jobs, shared by its own command and by
 * `gramfleet jobs watch|result`: how its progress is shown and how its files are written.
 */
export interface JobCli {
  readonly kind: string;
  /** Shows the job's progress as the kind's command does, until it ends; resolves with the result. */
  watch(h: JobHandle, ctx: CliContext, json: boolean): Promise<unknown>;
  /** Writes the files `recipe` describes from the job's result and prints the command's summary; the exit code. */
  write(fleet: Fleet, h: JobHandle, result: unknown, recipe: JobOutputRecipe, ctx: CliContext, json: boolean): Promise<number>;
  /** The recipe of a job submitted without one (from the SDK): the command's defaults, writing to `out`. */
  defaultRecipe(out: string): JobOutputRecipe;
  /**
   * The files cannot be written without the recipe the command recorded (it holds inputs the
   * result lacks): a job submitted without one gets its result as JSON instead. @default false
   */
  readonly needsRecipe?: boolean;
}
