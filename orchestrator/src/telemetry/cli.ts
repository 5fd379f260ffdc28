/** `gramfleet logs --job ID`: one job's log lines from every process of the local cluster. */
import { defaultDataDir } from '../cluster/local-cluster';
import { DATA_DIR_FLAG, JSON_FLAG, type CliCommand, type CliContext, type ParsedArgs } from '../cli/command';
import { formatJobLogLine, gatherJobLogs } from './logs';

const LOG_FLAGS = {
  proc: { type: 'string', value: 'NAME[,NAME]', description: 'only these processes (log file names: orchestrator, worker-0, ...)' },
  'data-dir': DATA_DIR_FLAG,
  json: JSON_FLAG,
} as const;
const LOG_NOTES = 'reads <data-dir>/logs/*.log; JSON records match on their jobId (or workflowId) field, other lines when they contain the id';

/** Prints job `jobId`'s lines (exit 1, saying where it looked, when there is none). */
async function printJobLogs(a: ParsedArgs, ctx: CliContext, jobId: string): Promise<number> {
  const dataDir = a.string('data-dir') ?? defaultDataDir();
  const procs = a.string('proc');
  const lines = await gatherJobLogs(dataDir, jobId, procs !== undefined ? { procs: procs.split(',').filter((p) => p !== '') } : {});
  for (const l of lines) ctx.out.write((a.flag('json') ? JSON.stringify({ log: l.proc, ...(l.record ?? { line: l.line }) }) : formatJobLogLine(l)) + '\n');
  if (lines.length === 0) ctx.err.write(`no log line of job ${jobId} in ${dataDir}/logs\n`);
  return lines.length === 0 ? 1 : 0;
}

/** `gramfleet logs`. */
export const LOGS_COMMAND: CliCommand = {
  name: 'logs',
  summary: "one job's log lines from every process of the local cluster (orchestrator, workers, Temporal, NATS), merged in time order",
  flags: {
    job: { type: 'string', value: 'ID', description: 'the job id (its workflow id)', required: true },
    ...LOG_FLAGS,
  },
  notes: LOG_NOTES,
  run: (a, ctx) => printJobLogs(a, ctx, a.need('job')),
};

/** `gramfleet jobs logs ID`: the same as `gramfleet logs --job ID`. */
export const JOBS_LOGS_COMMAND: CliCommand = {
  name: 'logs',
  summary: "the job's log lines from every process of the local cluster, merged in time order (= gramfleet logs --job ID)",
  args: 'ID',
  arity: [1, 1],
  flags: LOG_FLAGS,
  notes: LOG_NOTES,
  run: (a, ctx) => printJobLogs(a, ctx, a.positionals[0] as string),
};
