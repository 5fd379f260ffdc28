/**
 * Shard planning and the messages between workflows and activities (all workflow-safe).
 */
import type { ArrayRef, CsrRef } from '../array';
import type { TaskStats, WorkerClass } from '../protocol';
import type { RouteDecision } from './routing';

/** One shard of a job: its id and its attributes. */
export interface ShardSpec {
  readonly shardId: string;
  readonly attrs: Readonly<Record<string, unknown>>;
}

/** Input of the `runShardBatch` activity. */
export interface ShardBatchInput {
  readonly jobId: string;
  readonly op: string;
  readonly cls: WorkerClass;
  /** Inputs shared by every shard (e.g. the graph). */
  readonly inputs: readonly ArrayRef[];
  readonly shards: readonly ShardSpec[];
  /** Epoch ms after which workers drop the shards. */
  readonly deadline: number;
  /** Fraction of shards run again on a second worker (verification, core/src/results.ts). @default none */
  readonly verify?: number;
}

/** The accepted result of one shard. */
export interface ShardOutcome {
  readonly shardId: string;
  readonly outputs: readonly ArrayRef[];
  readonly stats: TaskStats;
}

/** Output of `runShardBatch`. */
export interface ShardBatchOutput {
  readonly outcomes: readonly ShardOutcome[];
  /** Shards whose tasks this attempt published (0 when every result already existed). */
  readonly published: number;
  /** Result messages seen for shards that already had one (counted once, reported). */
  readonly duplicates: number;
}

/** Deterministic shard id: `s` + zero-padded index. */
export function shardId(i: number): string {
  return `s${String(i).padStart(6, '0')}`;
}

/** Splits [0, n) into contiguous ranges of at most `size`. */
export function planRanges(n: number, size: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let s = 0; s < n; s += size) out.push({ start: s, end: Math.min(n, s + size) });
  return out;
}

/** Splits a list into consecutive chunks of at most `k`. */
export function chunk<T>(xs: readonly T[], k: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += k) out.push(xs.slice(i, i + k));
  return out;
}

/** Progress of a sharded job, as answered by the workflow's `progress` query. */
export interface JobProgress {
  readonly phase: 'planning' | 'running' | 'aggregating' | 'done' | 'failed' | 'cancelled';
  readonly shardsTotal: number;
  readonly shardsDone: number;
  readonly batchesRunning: number;
  /** Times the workflow continued as new. */
  readonly generation: number;
  /** Where the shards go (backend requested, worker class chosen, why), when the job recorded it. */
  readonly route?: RouteDecision;
}

/** Result references of a CSR assembled from shards. */
export type { CsrRef };
