/**
 * "Every shard counted once" as a check that can fail (issue 23): it reads the counts that the
 * processes themselves recorded where things happened (workers/src/counts.ts, GRAMFLEET_COUNTS_DIR)
 * — each run of a task on a worker, each result an owner took, each batch and assembly an
 * activity did — not the workflow's own per-shard tally, which cannot exceed one by construction.
 *
 * For one job it requires:
 * - every assembly of the job used each of its shards exactly once, and no other shard;
 * - no batch took two results for one shard;
 * - every result an owner took is one a worker produced: a run with the same shard, try and
 *   worker, that ended ok, with the same output digests; and no owner took one shard twice;
 * - every successful run of a shard gave the same output digests (a retry never changes an answer);
 * - every shard ran ok at least once and was taken at least once.
 */
import type { CountRecord } from '@gramfleet/workers';

/** What the counts say about one job (numbers for the report). */
export interface CountReport {
  readonly jobId: string;
  readonly shards: number;
  /** Runs that ended (any outcome), runs that ended ok, results taken by owners, assemblies. */
  readonly execs: number;
  readonly execsOk: number;
  readonly accepts: number;
  readonly assemblies: number;
  /** The most ok runs / accepted results of one shard (above 1: a shard ran again, e.g. after a fault). */
  readonly maxExecsPerShard: number;
  readonly maxAcceptsPerShard: number;
  /** Shards that ran more than once. */
  readonly shardsRunAgain: number;
  /** Ok runs per worker. */
  readonly perWorker: Readonly<Record<string, number>>;
  /** Runs that ended with an error, by code. */
  readonly errors: Readonly<Record<string, number>>;
}

/** Options of {@link checkCountedOnce}. */
export interface CountedOnceOptions {
  /** The job assembles its shards' rows in an activity that records it (GRF). @default true */
  readonly assembled?: boolean;
}

const same = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean =>
  a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

/** The problems the counts of `jobId` show (empty: counted once), and the numbers. */
export function countedOnceProblems(
  events: readonly CountRecord[],
  jobId: string,
  shardIds: readonly string[],
  o: CountedOnceOptions = {},
): { problems: string[]; report: CountReport } {
  const problems: string[] = [];
  const ev = events.filter((e) => e.jobId === jobId);
  const expected = new Set(shardIds);
  const execs = ev.filter((e): e is Extract<CountRecord, { ev: 'exec' }> => e.ev === 'exec');
  const ok = execs.filter((e) => e.outcome === 'ok');
  const accepts = ev.filter((e): e is Extract<CountRecord, { ev: 'accept' }> => e.ev === 'accept');
  const batches = ev.filter((e): e is Extract<CountRecord, { ev: 'batch' }> => e.ev === 'batch');
  const assemblies = ev.filter((e): e is Extract<CountRecord, { ev: 'assemble' }> => e.ev === 'assemble');

  if (o.assembled !== false) {
    if (assemblies.length === 0) problems.push('no assembly of the job was recorded');
    for (const a of assemblies) {
      const seen = new Map<string, number>();
      for (const s of a.shards) seen.set(s, (seen.get(s) ?? 0) + 1);
      for (const [s, n] of seen) {
        if (!expected.has(s)) problems.push(`assembly (activity attempt ${a.activityAttempt}) used shard ${s}, not one of the job's`);
        else if (n !== 1) problems.push(`assembly (activity attempt ${a.activityAttempt}) used shard ${s} ${n} times`);
      }
      for (const s of expected) if (!seen.has(s)) problems.push(`assembly (activity attempt ${a.activityAttempt}) left out shard ${s}`);
    }
  }
  for (const b of batches) {
    const seen = new Set<string>();
    for (const s of b.shards) {
      if (seen.has(s)) problems.push(`batch ${b.batch} (activity attempt ${b.activityAttempt}) took two results for shard ${s}`);
      seen.add(s);
    }
  }
  const runKey = (e: { shardId: string; attempt: number; workerId: string }): string => `${e.shardId}|${e.attempt}|${e.workerId}`;
  const okRuns = new Map<string, (typeof ok)[number][]>();
  for (const e of ok) okRuns.set(runKey(e), [...(okRuns.get(runKey(e)) ?? []), e]);
  const byOwner = new Map<string, number>();
  for (const a of accepts) {
    const runs = okRuns.get(runKey(a)) ?? [];
    if (runs.length === 0)
      problems.push(`shard ${a.shardId}: owner ${a.owner} took try ${a.attempt} of worker ${a.workerId}, which no worker recorded running ok`);
    else if (!runs.some((r) => same(r.outputs, a.outputs)))
      problems.push(`shard ${a.shardId}: the result taken (try ${a.attempt}, worker ${a.workerId}) names outputs its run did not produce`);
    if (a.verify === true) continue;
    const k = `${a.owner}|${a.shardId}`;
    byOwner.set(k, (byOwner.get(k) ?? 0) + 1);
  }
  for (const [k, n] of byOwner) if (n > 1) problems.push(`owner ${k.split('|')[0]} took shard ${k.split('|')[1]} ${n} times`);
  const outputsOf = new Map<string, readonly string[]>();
  for (const e of ok) {
    const first = outputsOf.get(e.shardId);
    if (first === undefined) outputsOf.set(e.shardId, e.outputs ?? []);
    else if (!same(first, e.outputs)) problems.push(`shard ${e.shardId}: runs gave different outputs (${first.join(',')} vs ${(e.outputs ?? []).join(',')})`);
  }
  for (const s of expected) {
    if (!outputsOf.has(s)) problems.push(`shard ${s} never ran ok`);
    if (!accepts.some((a) => a.shardId === s)) problems.push(`shard ${s} was never taken by an owner`);
  }
  for (const e of execs) if (!expected.has(e.shardId)) problems.push(`a run of shard ${e.shardId}, not one of the job's`);

  const perShard = (xs: readonly { shardId: string }[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x.shardId, (m.get(x.shardId) ?? 0) + 1);
    return m;
  };
  const okPer = perShard(ok);
  const perWorker: Record<string, number> = {};
  for (const e of ok) perWorker[e.workerId] = (perWorker[e.workerId] ?? 0) + 1;
  const errors: Record<string, number> = {};
  for (const e of execs) if (e.outcome !== 'ok') errors[e.code ?? e.outcome] = (errors[e.code ?? e.outcome] ?? 0) + 1;
  return {
    problems,
    report: {
      jobId,
      shards: expected.size,
      execs: execs.length,
      execsOk: ok.length,
      accepts: accepts.length,
      assemblies: assemblies.length,
      maxExecsPerShard: Math.max(0, ...okPer.values()),
      maxAcceptsPerShard: Math.max(0, ...perShard(accepts.filter((a) => a.verify !== true)).values()),
      shardsRunAgain: [...okPer.values()].filter((n) => n > 1).length,
      perWorker,
      errors,
    },
  };
}

/** Throws, listing every problem (the first 20), unless the job's counts show each shard counted once; returns the numbers. */
export function checkCountedOnce(events: readonly CountRecord[], jobId: string, shardIds: readonly string[], o: CountedOnceOptions = {}): CountReport {
  const { problems, report } = countedOnceProblems(events, jobId, shardIds, o);
  if (problems.length > 0)
    throw new Error(`job ${jobId} not counted once (${problems.length} problems): ${problems.slice(0, 20).join('; ')} — counts: ${JSON.stringify(report)}`);
  return report;
}
