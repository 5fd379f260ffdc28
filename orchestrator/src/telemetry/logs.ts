/**
 * One job's log lines from every process of a local cluster. Each process the local cluster
 * starts (nats-server, the Temporal dev server, the orchestrator, every worker, the supervisor)
 * appends its stdout and stderr to `<dataDir>/logs/<name>.log`; gramfleet's own processes write
 * JSON lines (workers/src/log.ts) whose `jobId` field names the job a record is about.
 *
 * Semantics: a JSON record belongs to the job when its `jobId` (or Temporal's `workflowId`,
 * which is the job id) equals it; a line that is not JSON (nats-server, the dev server, a
 * stack trace) belongs to it when it contains the id as a word. Lines come back merged over
 * every file in time order (`t`, else `time`/`ts`); a line without a readable time keeps the
 * time of the line before it in its file, so a stack trace stays under its record (lines before any time sort first). Files are
 * streamed, never read whole.
 *
 * `gramfleet logs --job ID` prints them; anything that knows a data directory (the `jobs logs`
 * command, a test) calls {@link gatherJobLogs}.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { GramfleetError } from '@gramfleet/core';

/** One log line of a job, with the process it came from. */
export interface JobLogLine {
  /** The process: the log file's name without `.log` (`orchestrator`, `worker-0`, `nats`, ...). */
  readonly proc: string;
  /** Milliseconds since the epoch (NaN when neither the line nor an earlier one of its file had a time). */
  readonly at: number;
  /** The JSON record, for a structured line. */
  readonly record?: Readonly<Record<string, unknown>>;
  /** The line as written. */
  readonly line: string;
}

/** Options of {@link gatherJobLogs}. */
export interface GatherJobLogsOptions {
  /** Also lines that are not JSON but contain the job id. @default true */
  readonly unstructured?: boolean;
  /** Only these processes (log file names without `.log`). @default every file */
  readonly procs?: readonly string[];
}

/** The directory a local cluster's processes log to. */
export function clusterLogDir(dataDir: string): string {
  return path.join(dataDir, 'logs');
}

const TIME_FIELDS = ['t', 'time', 'ts', 'timestamp'] as const;

function timeOf(r: Readonly<Record<string, unknown>>): number {
  for (const k of TIME_FIELDS) {
    const v = r[k];
    if (typeof v === 'string') {
      const ms = Date.parse(v);
      if (!Number.isNaN(ms)) return ms;
    } else if (typeof v === 'number' && Number.isFinite(v)) return v < 1e11 ? v * 1000 : v;
  }
  return NaN;
}

/** Whether a structured record is about the job. */
export function recordIsOfJob(r: Readonly<Record<string, unknown>>, jobId: string): boolean {
  return r['jobId'] === jobId || r['workflowId'] === jobId;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Reads every log file of the cluster at `dataDir` and returns the job's lines, merged in time
 * order. `CLUSTER_NOT_RUNNING` naming the directory when it holds no logs folder.
 */
export async function gatherJobLogs(dataDir: string, jobId: string, o: GatherJobLogsOptions = {}): Promise<JobLogLine[]> {
  if (jobId.length === 0) throw new GramfleetError('INPUT_INVALID', 'a job id is needed to gather its logs', { field: 'jobId' });
  const dir = clusterLogDir(dataDir);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.log'));
  } catch {
    throw new GramfleetError('CLUSTER_NOT_RUNNING', `no local cluster logs in ${dir}`, { dataDir });
  }
  const only = o.procs !== undefined ? new Set(o.procs) : undefined;
  const unstructured = o.unstructured ?? true;
  const word = new RegExp(`(^|[^A-Za-z0-9_-])${escapeRegExp(jobId)}($|[^A-Za-z0-9_-])`);
  const out: { l: JobLogLine; seq: number }[] = [];
  let seq = 0;
  for (const name of names.sort()) {
    const proc = name.slice(0, -'.log'.length);
    if (only !== undefined && !only.has(proc)) continue;
    let last = NaN;
    const rl = readline.createInterface({ input: fs.createReadStream(path.join(dir, name), 'utf8'), crlfDelay: Infinity });
    for await (const line of rl) {
      if (line.length === 0) continue;
      let record: Record<string, unknown> | undefined;
      if (line.startsWith('{')) {
        try {
          const v: unknown = JSON.parse(line);
          if (typeof v === 'object' && v !== null && !Array.isArray(v)) record = v as Record<string, unknown>;
        } catch {
          /* not JSON after all */
        }
      }
      const at = record !== undefined ? timeOf(record) : NaN;
      if (!Number.isNaN(at)) last = at;
      // The cheap test first: a line that does not contain the id is not the job's.
      if (!line.includes(jobId)) continue;
      if (record !== undefined ? recordIsOfJob(record, jobId) : unstructured && word.test(line))
        out.push({ l: { proc, at: Number.isNaN(at) ? last : at, ...(record !== undefined ? { record } : {}), line }, seq: seq++ });
    }
  }
  // A line with no time yet (its file's first lines) sorts first; equal times keep file order.
  const key = (x: { l: JobLogLine }): number => (Number.isNaN(x.l.at) ? -Infinity : x.l.at);
  out.sort((a, b) => (key(a) === key(b) ? a.seq - b.seq : key(a) < key(b) ? -1 : 1));
  return out.map((x) => x.l);
}

/** One line as `gramfleet logs` prints it: `<time> <proc> <level> <msg> {other fields}`, or the raw line. */
export function formatJobLogLine(l: JobLogLine): string {
  const when = Number.isNaN(l.at) ? '-' : new Date(l.at).toISOString();
  if (l.record === undefined) return `${when} ${l.proc} ${l.line}`;
  const { level, msg } = l.record;
  const rest = Object.fromEntries(Object.entries(l.record).filter(([k]) => k !== 'level' && k !== 'msg' && !(TIME_FIELDS as readonly string[]).includes(k)));
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
  return `${when} ${l.proc} ${typeof level === 'string' ? level : '-'} ${typeof msg === 'string' ? msg : ''}${extra}`;
}
