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
 * machine. JSON only; small (bounded by {@link JOB_OUTPUT_MAX_BYTES}).
 */
export interface JobOutputRecipe {
  readonly command: string;
  readonly out: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/** The largest output recipe recorded with a job (JSON characters): it travels in the workflow's memo. */
export const JOB_OUTPUT_MAX_BYTES = 64 * 1024;

/**
 * The output recipe of a job submitted from the SDK without one, for the kinds whose files need
 * the job's parameters beside its result (datagen: the dataset's parameters; kron-gp: the grid and
 * kernel), the same options their commands record, written to `<jobId>` (datagen's folder) or
 * `<jobId>.npz` in the directory `gramfleet jobs result` runs in (unless `--out`). Undefined for
 * other kinds (their result alone makes the files) and for a recipe over {@link JOB_OUTPUT_MAX_BYTES}
 * (a grid that large: `jobs result` then gives the result as JSON).
 */
export function sdkOutputRecipe(spec: { readonly kind: string } & Readonly<Record<string, unknown>>, jobId: string): JobOutputRecipe | undefined {
  let r: JobOutputRecipe | undefined;
  if (spec.kind === 'datagen') {
    const params = Object.fromEntries(Object.entries(spec).filter(([k]) => !['kind', 'jobId', 'backend', 'timeoutMs'].includes(k)));
    r = { command: 'datagen', out: jobId, options: { params, storeSystems: false, keepPages: false } };
  } else if (spec.kind === 'kron-gp') {
    const axes = (spec['axes'] as readonly ArrayLike<number>[]).map((a) => Array.from(a));
    const pick = (k: string): Record<string, unknown> => (spec[k] !== undefined ? { [k]: spec[k] } : {});
    r = {
      command: 'kron-gp',
      out: `${jobId}.npz`,
      options: {
        sub: spec['fit'] !== undefined ? 'fit' : 'solve',
        axes,
        kernel: spec['kernel'] ?? 'rbf',
        ...pick('lengthscales'),
        ...pick('outputscale'),
        ...pick('noise'),
        variance: false,
        masked: spec['mask'] !== undefined,
      },
    };
  }
  return r !== undefined && JSON.stringify(r).length <= JOB_OUTPUT_MAX_BYTES ? r : undefined;
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
