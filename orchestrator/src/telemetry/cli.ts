/** `gramfleet logs --job ID`: one job's log lines from every process of the local cluster. */
import { defaultDataDir } from '../cluster/local-cluster';
import { DATA_DIR_FLAG, JSON_FLAG, type CliCommand } from '../cli/command';
import { formatJobLogLine, gatherJobLogs } from './logs';

/** `gramfleet logs`. */
export const LOGS_COMMAND: CliCommand = {
  name: 'logs',
  summary: "one job's log lines from every process of the local cluster (orchestrator, workers, Temporal, NATS), merged in time order",
  flags: {
    job: { type: 'string', value: 'ID', description: 'the job id (its workflow id)', required: true },
    proc: { type: 'string', value: 'NAME[,NAME]', description: 'only these processes (log file names: orchestrator, worker-0, ...)' },
    'data-dir': DATA_DIR_FLAG,
    json: JSON_FLAG,
  },
  notes: 'reads <data-dir>/logs/*.log; JSON records match on their jobId (or workflowId) field, other lines when they contain the id',
  async run(a, ctx) {
    const dataDir = a.string('data-dir') ?? defaultDataDir();
    const procs = a.string('proc');
    const lines = await gatherJobLogs(dataDir, a.need('job'), procs !== undefined ? { procs: procs.split(',').filter((p) => p !== '') } : {});
    for (const l of lines) ctx.out.write((a.flag('json') ? JSON.stringify({ log: l.proc, ...(l.record ?? { line: l.line }) }) : formatJobLogLine(l)) + '\n');
    if (lines.length === 0) ctx.err.write(`no log line of job ${a.need('job')} in ${dataDir}/logs\n`);
    return lines.length === 0 ? 1 : 0;
  },
};
