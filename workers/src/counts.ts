/**
 * Counts recorded where they happen, for audits and the chaos suite ("every shard counted once"
 * as a check that can fail, issue 23). With `GRAMFLEET_COUNTS_DIR` set, each process appends one
 * JSON line per event to a file of its own in that folder:
 *
 * - `exec`: a worker finished running a task (per shard, per try, per worker), with its outcome
 *   and the digests of its outputs;
 * - `accept`: an owner (activity host, SDK) took a task's result (per owner, per shard, per try);
 *   `fail`: an owner ended a task with an error (e.g. WORKER_MAX_DELIVER);
 * - `batch`: a batch activity took its shards' results (the shard ids the results name);
 * - `assemble`: an activity put shards' rows into a job's answer (the shard ids of the rows it used).
 *
 * Lines are appended synchronously (O_APPEND, one write each), so a process killed with SIGKILL
 * loses nothing it had recorded. Unset (the default), nothing is written and nothing is checked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { countsDirFromEnv } from './config';

/** One recorded event. `t` is the wall-clock time it was recorded (ms since the epoch). */
export type CountEvent =
  | {
      readonly ev: 'exec';
      readonly jobId: string;
      readonly shardId: string;
      /** The owner's try this run answers. */
      readonly attempt: number;
      /** The durable queue's delivery count (1 for a lane task). */
      readonly delivery: number;
      readonly workerId: string;
      /** `crashed`: recorded just before a test-only poison shard killed the worker. */
      readonly outcome: 'ok' | 'retryable' | 'permanent' | 'cancelled' | 'crashed';
      readonly code?: string;
      readonly outputs?: readonly string[];
      /** It ran alone on its worker (a suspect, or a queued task delivered again). */
      readonly alone?: boolean;
      readonly startedAt: number;
    }
  | {
      readonly ev: 'accept';
      readonly owner: string;
      readonly jobId: string;
      readonly shardId: string;
      readonly attempt: number;
      readonly workerId: string;
      readonly outputs: readonly string[];
      readonly verify?: boolean;
    }
  | { readonly ev: 'fail'; readonly owner: string; readonly jobId: string; readonly shardId: string; readonly attempt: number; readonly code: string }
  | { readonly ev: 'batch'; readonly jobId: string; readonly batch: number; readonly shards: readonly string[]; readonly activityAttempt: number }
  | { readonly ev: 'assemble'; readonly jobId: string; readonly shards: readonly string[]; readonly activityAttempt: number };

/** A recorded event with its time and process. */
export type CountRecord = CountEvent & { readonly t: number; readonly pid: number };

let file: string | null | undefined;

function target(): string | null {
  if (file !== undefined) return file;
  const dir = countsDirFromEnv();
  if (dir === undefined) return (file = null);
  fs.mkdirSync(dir, { recursive: true });
  return (file = path.join(dir, `${process.pid}-${randomBytes(4).toString('hex')}.jsonl`));
}

/** Whether counts are recorded in this process (`GRAMFLEET_COUNTS_DIR` set). */
export function countsEnabled(): boolean {
  return target() !== null;
}

/** Records one event when `GRAMFLEET_COUNTS_DIR` is set; never throws (a full disk must not fail a task). */
export function recordCount(e: CountEvent): void {
  const f = target();
  if (f === null) return;
  try {
    fs.appendFileSync(f, JSON.stringify({ ...e, t: Date.now(), pid: process.pid }) + '\n');
  } catch {
    /* counting is an audit aid: losing a line must not fail the work it counts */
  }
}

/** Reads every event recorded in `dir` (by all processes), oldest first; lines cut short by a kill are skipped. */
export function readCounts(dir: string): CountRecord[] {
  const out: CountRecord[] = [];
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith('.jsonl')) continue;
    for (const line of fs.readFileSync(path.join(dir, name), 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        out.push(JSON.parse(line) as CountRecord);
      } catch {
        /* a line a SIGKILL cut short */
      }
    }
  }
  return out.sort((a, b) => a.t - b.t);
}
