/**
 * `gramfleet jobs list|status|watch|result|cancel|logs`: the cluster's jobs of every kind, whoever
 * started them. Listing, status and cancel go through the jobs service (./service.ts); `watch`
 * re-attaches to a running job with the progress its own command shows; `result` writes the
 * files the submitting command would have written (the recipe recorded with the job).
 */
import { createJsonLogger } from '@gramfleet/workers';
import { CLUSTER_FLAGS, JSON_FLAG, connectOptionsOf, type CliCommand, type CliContext, type ParsedArgs } from '../cli/command';
import type { Fleet } from '../client/fleet';
import { JOB_STATES, type JobDescription, type JobSummary } from './service';
import { WORKLOADS } from '../registry';
import { watchJob, writeJobResult } from './outputs';
import { JOBS_LOGS_COMMAND } from '../telemetry/cli';

/** A fleet for a jobs command: never starts a local cluster (none running is CLUSTER_NOT_RUNNING). */
function withJobsFleet<T>(a: ParsedArgs, ctx: CliContext, f: (fleet: Fleet) => Promise<T>): Promise<T> {
  return ctx.withFleet({ ...connectOptionsOf(a), startLocal: false, log: createJsonLogger({ proc: 'cli' }, 'warn') }, f);
}

function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** Prints a table with a header, columns padded to their widest cell. */
function table(ctx: CliContext, rows: readonly (readonly string[])[]): void {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) ctx.out.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ') + '\n');
}

function describeText(d: JobDescription): string {
  const lines = [
    `job ${d.jobId}`,
    `  kind        ${d.kind}`,
    `  state       ${d.state}`,
    `  started     ${d.startedAt}`,
    ...(d.closedAt !== undefined ? [`  ended       ${d.closedAt}`] : []),
    ...(d.submittedBy !== undefined ? [`  submitted   by ${d.submittedBy}`] : []),
    ...(d.parentId !== undefined ? [`  parent      ${d.parentId}`] : []),
    ...(d.progress !== undefined ? [`  progress    ${JSON.stringify(d.progress)}`] : []),
    ...(d.error !== undefined ? [`  error       [${d.error.code}] ${d.error.message}`] : []),
    ...(d.output !== undefined ? [`  output      gramfleet ${d.output.command} --out ${d.output.out}`] : []),
  ];
  return lines.join('\n') + '\n';
}

const CONNECT_FLAGS = CLUSTER_FLAGS;

/** `gramfleet jobs list`. */
const LIST_COMMAND: CliCommand = {
  name: 'list',
  summary: 'the jobs of the cluster, newest first, whoever started them',
  flags: {
    kind: { type: 'string', value: 'KIND', description: `only jobs of this kind: ${WORKLOADS.map((w) => w.def.kind).join('|')}` },
    state: { type: 'string', value: 'STATE', description: `only jobs in this state: ${JOB_STATES.join('|')}` },
    limit: { type: 'string', value: 'N', default: '100', description: 'at most this many jobs' },
    json: JSON_FLAG,
    ...CONNECT_FLAGS,
  },
  async run(a, ctx) {
    const kind = a.string('kind');
    const state = a.string('state');
    const limit = a.int('limit') ?? 100;
    return withJobsFleet(a, ctx, async (fleet) => {
      const jobs: JobSummary[] = await fleet.jobs.list({ ...(kind !== undefined ? { kind } : {}), ...(state !== undefined ? { state } : {}), limit });
      if (a.flag('json')) {
        for (const j of jobs) ctx.out.write(JSON.stringify(j) + '\n');
        return 0;
      }
      if (jobs.length === 0) {
        ctx.out.write('no jobs\n');
        return 0;
      }
      const now = Date.now();
      table(ctx, [
        ['JOB ID', 'KIND', 'STATE', 'AGE', 'SUBMITTED BY'],
        ...jobs.map((j) => [j.jobId, j.kind, j.state, ago(j.startedAt, now), j.submittedBy ?? (j.parentId !== undefined ? `campaign ${j.parentId}` : '-')]),
      ]);
      return 0;
    });
  },
};

/** `gramfleet jobs status ID`. */
const STATUS_COMMAND: CliCommand = {
  name: 'status',
  summary: "a job's kind, state, progress (while it runs) and error (when it did not complete)",
  args: 'ID',
  arity: [1, 1],
  flags: { json: JSON_FLAG, ...CONNECT_FLAGS },
  async run(a, ctx) {
    const id = a.positionals[0] as string;
    return withJobsFleet(a, ctx, async (fleet) => {
      const d = await fleet.jobs.describe(id);
      ctx.out.write(a.flag('json') ? JSON.stringify(d) + '\n' : describeText(d));
      return 0;
    });
  },
};

/** `gramfleet jobs cancel ID`. */
const CANCEL_COMMAND: CliCommand = {
  name: 'cancel',
  summary: 'cancel a running job (its shards are purged; workers drop them)',
  args: 'ID',
  arity: [1, 1],
  flags: { json: JSON_FLAG, ...CONNECT_FLAGS },
  async run(a, ctx) {
    const id = a.positionals[0] as string;
    return withJobsFleet(a, ctx, async (fleet) => {
      const r = await fleet.jobs.cancel(id);
      if (a.flag('json')) ctx.out.write(JSON.stringify(r) + '\n');
      else
        ctx.out.write(
          r.cancelRequested ? `cancellation of ${r.jobId} (${r.kind}) requested\n` : `${r.jobId} (${r.kind}) already ${r.state}; nothing to cancel\n`,
        );
      return 0;
    });
  },
};

/** `gramfleet jobs watch ID`. */
const WATCH_COMMAND: CliCommand = {
  name: 'watch',
  summary: 're-attach to a job: its progress, as its own command shows it, until it ends (Ctrl-C leaves the job running)',
  args: 'ID',
  arity: [1, 1],
  flags: { json: JSON_FLAG, ...CONNECT_FLAGS },
  async run(a, ctx) {
    const id = a.positionals[0] as string;
    return withJobsFleet(a, ctx, async (fleet) => {
      const h = await fleet.job(id);
      await watchJob(h, ctx, a.flag('json'));
      if (!a.flag('json')) ctx.out.write(`${h.jobId} (${h.kind}) completed; 'gramfleet jobs result ${h.jobId}' writes its files\n`);
      return 0;
    });
  },
};

/** `gramfleet jobs result ID`. */
const RESULT_COMMAND: CliCommand = {
  name: 'result',
  summary: 'wait for a job, then write the files its command would have written (same names and bytes; --out moves them)',
  args: 'ID',
  arity: [1, 1],
  flags: {
    out: { type: 'string', value: 'PATH', description: "where the files go (default the submitting command's --out)" },
    json: JSON_FLAG,
    ...CONNECT_FLAGS,
  },
  notes:
    "grf and eigenpro jobs are written as their commands write them (a job submitted from the SDK: that command's defaults, to --out or ID.npz); other kinds' results are written as JSON (to --out, else stdout).",
  async run(a, ctx) {
    const id = a.positionals[0] as string;
    const out = a.string('out');
    return withJobsFleet(a, ctx, async (fleet) =>
      writeJobResult(fleet, await fleet.job(id), ctx, { ...(out !== undefined ? { out } : {}), json: a.flag('json') }),
    );
  },
};

/** `gramfleet jobs`. */
export const JOBS_COMMAND: CliCommand = {
  name: 'jobs',
  summary: 'jobs of every kind, whoever started them: list, status, watch, result, cancel',
  subcommands: [LIST_COMMAND, STATUS_COMMAND, WATCH_COMMAND, RESULT_COMMAND, CANCEL_COMMAND, JOBS_LOGS_COMMAND],
};
