/**
 * The types of the jobs service (./service.ts): what a listing, a description and a cancellation
 * give. Kept apart from the service so that the SDK's types (client/fleet.ts) can name them without
 * importing the registry the service reads (that closed an import cycle through cli/command.ts).
 */
import type { JobKind } from '../job-types';

/** A job's state (Temporal's execution status in lower case). */
export type JobState = 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed-out';

/** Every {@link JobState}, in the order `--state` lists them. */
export const JOB_STATES: readonly JobState[] = Object.freeze(['running', 'completed', 'failed', 'cancelled', 'terminated', 'timed-out']);

/** Memo key under which a client records how its job's results are written (see {@link JobOutputRecipe}). */
export const JOB_OUTPUT_MEMO = 'gramfleet.output';
/** Memo key under which a client records who submitted the job (`user@host`). */
export const JOB_CLIENT_MEMO = 'gramfleet.client';

/**
 * How the command that submitted a job writes its results: the command (`grf`,
 * `kron-gp predict`, …), its `--out` and the options that shape the files. Recorded in the
 * job's memo at submit time, so `gramfleet jobs result ID --out` writes the same files from any
 * machine. JSON only; small (bounded by `JOB_OUTPUT_MAX_BYTES` in ../cli/job-output.ts).
 */
export interface JobOutputRecipe {
  readonly command: string;
  readonly out: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/** One job in a listing. */
export interface JobSummary {
  readonly jobId: string;
  readonly kind: JobKind;
  readonly state: JobState;
  /** ISO 8601. */
  readonly startedAt: string;
  /** ISO 8601; absent while it runs. */
  readonly closedAt?: string;
  /** The workflow that started it (a campaign's), when it is a child. */
  readonly parentId?: string;
  /** `user@host` of the client that submitted it, when that client recorded it. */
  readonly submittedBy?: string;
}

/** One job in detail. */
export interface JobDescription extends JobSummary {
  /** The latest run of the job's workflow. */
  readonly runId: string;
  /** Events in the current run's history. */
  readonly historyLength: number;
  /** The progress query's answer while it runs (absent when no orchestrator answered within the wait). */
  readonly progress?: unknown;
  /** Why it did not complete (failed, cancelled, terminated, timed out): the typed code and message. */
  readonly error?: { readonly code: string; readonly message: string };
  /** How the submitting command writes the results, when it recorded it. */
  readonly output?: JobOutputRecipe;
}

/** Filter of {@link JobsService.list}. */
export interface JobListFilter {
  /** Only jobs of this workload kind. */
  readonly kind?: string;
  /** Only jobs in this state. */
  readonly state?: string;
  /** At most this many jobs, newest first, in [1, {@link JOB_LIST_MAX}]. @default 100 */
  readonly limit?: number;
}

/** The largest `limit` of a listing. */
export const JOB_LIST_MAX = 10_000;

/** Options of {@link JobsService.describe}. */
export interface JobDescribeOptions {
  /** Ask a running job for its progress (a query, waited for a bounded time). @default true */
  readonly progress?: boolean;
}

/** What {@link JobsService.cancel} did. */
export interface JobCancelResult extends JobSummary {
  /** True when a cancellation was requested; false when the job had already ended. */
  readonly cancelRequested: boolean;
}

/** List, describe and cancel jobs (see the module's semantics). */
export interface JobsService {
  /** Jobs newest first. */
  list(filter?: JobListFilter): Promise<JobSummary[]>;
  /**
   * One job: state, progress while it runs (unless `progress: false`: then no progress query is
   * sent, for callers that only need the state or read progress through the workload's reader),
   * the error when it did not complete.
   */
  describe(jobId: string, o?: JobDescribeOptions): Promise<JobDescription>;
  /** Requests cancellation of a running job (its shards are purged; workers drop them). */
  cancel(jobId: string): Promise<JobCancelResult>;
}
