/**
 * The acknowledged-submission ledger, in the spirit of Jepsen (issue 23 item 6): a chaos run
 * submits through {@link SubmissionLedger.submit}, which writes down every submission it tried
 * and whether the system acknowledged it (gave a job id) or refused it (with which error). At the
 * end {@link SubmissionLedger.settle} checks the history:
 *
 * - every acknowledged submission finished, exactly once: the cluster knows its job id (the jobs
 *   service describes it), it ended as the submission's label says it must (completed with the
 *   expected bytes, or failed with the expected typed code), its result reads the same twice, and
 *   — where counts are kept — each of its shards was counted once;
 * - no two acknowledged submissions share a job id;
 * - every refused submission was refused with a typed error (a GramfleetError code), never a raw
 *   stack; a refused submission may or may not have started (indeterminate, as in Jepsen) and is
 *   not checked further.
 *
 * The ledger is also appended to a JSON-lines file as it goes, so a run's history can be read
 * after the fact (scripts/chaos.sh keeps it).
 */
import * as fs from 'node:fs';
import { isGramfleetError } from '@gramfleet/core';
import type { Fleet, JobHandle, JobSpec } from '@gramfleet/orchestrator';

/** What a submission must end as. */
export type Expected = { readonly digest: string } | { readonly errorCode: string };

/** One submission as the ledger saw it. */
export interface LedgerEntry {
  readonly seq: number;
  readonly label: string;
  readonly submittedAt: number;
  ackedAt?: number;
  jobId?: string;
  refused?: { readonly code: string | undefined; readonly message: string };
  outcome?: { readonly state: 'completed' | 'failed'; readonly digest?: string; readonly code?: string; readonly finishedAt: number };
}

/** What {@link SubmissionLedger.settle} found. */
export interface LedgerReport {
  readonly submitted: number;
  readonly acknowledged: number;
  readonly refused: number;
  readonly completed: number;
  readonly failedAsExpected: number;
  readonly problems: readonly string[];
}

/** Options of {@link SubmissionLedger.settle}. */
export interface SettleOptions<R> {
  /** What each label must end as. */
  readonly expected: ReadonlyMap<string, Expected>;
  /** The bytes of a result, as one digest (e.g. of Φ). */
  readonly digestOf: (result: R) => string;
  /** Checks that the job's shards were counted once (throws otherwise); called for completed jobs. */
  readonly countedOnce?: (jobId: string, label: string) => void;
}

/** Records submissions and checks them at the end (see the module). */
export class SubmissionLedger {
  private readonly list: LedgerEntry[] = [];
  constructor(private readonly file?: string) {}

  /** Every submission so far. */
  get entries(): readonly LedgerEntry[] {
    return this.list;
  }

  private write(e: LedgerEntry, what: string): void {
    if (this.file !== undefined) fs.appendFileSync(this.file, JSON.stringify({ what, ...e }) + '\n');
  }

  /** Submits `spec` under `label`; returns its handle when acknowledged, undefined when refused (recorded either way). */
  async submit<S extends JobSpec>(fleet: Fleet, label: string, spec: S): Promise<JobHandle<S['kind']> | undefined> {
    const e: LedgerEntry = { seq: this.list.length, label, submittedAt: Date.now() };
    this.list.push(e);
    try {
      const h = await fleet.submit(spec);
      e.ackedAt = Date.now();
      e.jobId = h.jobId;
      this.write(e, 'acknowledged');
      return h;
    } catch (err) {
      e.refused = { code: isGramfleetError(err) ? err.code : undefined, message: (err as Error).message };
      this.write(e, 'refused');
      return undefined;
    }
  }

  /** Waits for every acknowledged submission and checks the history (see the module); never throws, returns the problems. */
  async settle<R>(fleet: Fleet, o: SettleOptions<R>): Promise<LedgerReport> {
    const problems: string[] = [];
    let completed = 0;
    let failedAsExpected = 0;
    const ids = new Map<string, number>();
    for (const e of this.list) {
      if (e.refused !== undefined) {
        if (e.refused.code === undefined) problems.push(`submission ${e.seq} (${e.label}) was refused without a typed error: ${e.refused.message}`);
        continue;
      }
      const jobId = e.jobId as string;
      if (ids.has(jobId)) problems.push(`submissions ${ids.get(jobId)} and ${e.seq} were acknowledged with the same job id ${jobId}`);
      ids.set(jobId, e.seq);
      const want = o.expected.get(e.label);
      if (want === undefined) {
        problems.push(`submission ${e.seq}: no expectation for label ${e.label}`);
        continue;
      }
      // A fresh handle by id, as a client that lost its own would get it: the cluster must know the job.
      let h: JobHandle;
      try {
        h = await fleet.job(jobId);
      } catch (err) {
        problems.push(`acknowledged job ${jobId} (${e.label}) is unknown to the cluster: ${(err as Error).message}`);
        continue;
      }
      try {
        const r = (await h.result()) as R;
        const digest = o.digestOf(r);
        e.outcome = { state: 'completed', digest, finishedAt: Date.now() };
        completed++;
        if ('errorCode' in want) problems.push(`job ${jobId} (${e.label}) completed but must fail with ${want.errorCode}`);
        else if (digest !== want.digest) problems.push(`job ${jobId} (${e.label}) completed with other bytes (${digest}, expected ${want.digest})`);
        const again = o.digestOf((await h.result()) as R);
        if (again !== digest) problems.push(`job ${jobId} (${e.label}) gave two different results when read twice`);
        try {
          o.countedOnce?.(jobId, e.label);
        } catch (err) {
          problems.push((err as Error).message);
        }
      } catch (err) {
        const code = isGramfleetError(err) ? err.code : undefined;
        e.outcome = { state: 'failed', ...(code !== undefined ? { code } : {}), finishedAt: Date.now() };
        if ('errorCode' in want && code === want.errorCode) failedAsExpected++;
        else problems.push(`job ${jobId} (${e.label}) failed with ${code ?? 'an untyped error'}: ${(err as Error).message}`);
      }
      this.write(e, 'settled');
      const d = await fleet.jobs.describe(jobId).catch((err: Error) => err);
      if (d instanceof Error) problems.push(`the jobs service cannot describe finished job ${jobId}: ${d.message}`);
      else if (d.state !== (e.outcome.state === 'completed' ? 'completed' : 'failed'))
        problems.push(`job ${jobId} (${e.label}): the jobs service says ${d.state}, its result said ${e.outcome.state}`);
    }
    const acknowledged = this.list.filter((e) => e.jobId !== undefined).length;
    return { submitted: this.list.length, acknowledged, refused: this.list.length - acknowledged, completed, failedAsExpected, problems };
  }
}
