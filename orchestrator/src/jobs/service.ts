/**
 * The jobs service: list, describe and cancel jobs of every workload kind, whoever started
 * them (the CLI, the SDK, a campaign, another machine). It needs only a Temporal client, so the
 * CLI (`gramfleet jobs …`), the SDK (`fleet.jobs`, `fleet.job(id)`) and the jobs HTTP API all
 * call this one module.
 *
 * Semantics:
 * - A *job* is a workflow whose type is a registered workload's (`WORKLOADS` in ../registry.ts);
 *   its id is the workflow id. Campaign workflows and internal child workflows are not jobs
 *   (a campaign's runs are: each is a workload workflow).
 * - The listing reads Temporal's visibility store, newest first, one entry per job id (a job
 *   that continued-as-new shows its latest run). Visibility is eventually consistent: a job
 *   started a moment ago may appear a little later; `describe` reads the execution itself.
 * - States are Temporal's execution states in lower case: running, completed, failed,
 *   cancelled, terminated, timed-out.
 * - Cancelling a job that already ended changes nothing and says so (`cancelRequested: false`).
 * - Errors are typed: an unknown kind or state is `INPUT_INVALID` naming the field and the
 *   allowed values; an out-of-range limit `INPUT_OUT_OF_RANGE` with its bound; an unknown id
 *   `JOB_NOT_FOUND`.
 */
import { WorkflowNotFoundError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { GramfleetError, isGramfleetError, nearestName } from '@gramfleet/core';
import { WORKLOADS, workloadFor } from '../registry';
import type { JobKind } from '../job-types';
import { fromTemporal } from '../client/failure';
import { retrying } from '../client/temporal-retry';

import {
  JOB_STATES,
  JOB_OUTPUT_MEMO,
  JOB_CLIENT_MEMO,
  JOB_LIST_MAX,
  type JobState,
  type JobOutputRecipe,
  type JobSummary,
  type JobDescription,
  type JobListFilter,
  type JobCancelResult,
  type JobDescribeOptions,
  type JobsService,
} from './types';
export { JOB_STATES, JOB_OUTPUT_MEMO, JOB_CLIENT_MEMO, JOB_LIST_MAX };
export type { JobState, JobOutputRecipe, JobSummary, JobDescription, JobListFilter, JobCancelResult, JobDescribeOptions, JobsService };

/** Temporal's visibility name of each state (for list queries). */
const VISIBILITY_STATUS: Readonly<Record<JobState, string>> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
};

/** Options of {@link createJobsService}. */
export interface JobsServiceOptions {
  /** A Temporal client on the cluster's namespace. */
  readonly client: Client;
  /** How long `describe` waits for the progress query, ms. @default 5000 */
  readonly progressWaitMs?: number;
}

/** What listing and describing both give (a description's `raw` differs). */
type ExecInfo = Omit<WorkflowExecutionInfo, 'raw'>;

/** The kind of a workflow type, or undefined when it is not a workload's. */
export function kindOfWorkflowType(type: string): JobKind | undefined {
  return WORKLOADS.find((w) => w.def.workflowType === type)?.def.kind;
}

/** Checks a `--state` value. */
export function parseJobState(state: unknown, field = 'state'): JobState {
  if (typeof state === 'string' && (JOB_STATES as readonly string[]).includes(state)) return state as JobState;
  const near = typeof state === 'string' ? nearestName(state, JOB_STATES) : undefined;
  throw new GramfleetError(
    'INPUT_INVALID',
    `${field} must be one of ${JOB_STATES.join('|')}, got ${JSON.stringify(state)}${near !== undefined ? `; did you mean ${near}?` : ''}`,
    { field, allowed: JOB_STATES, ...(near !== undefined ? { nearest: near } : {}) },
  );
}

function stateOf(info: ExecInfo): JobState | 'continued-as-new' | 'unknown' {
  switch (info.status.name) {
    case 'RUNNING':
      return 'running';
    case 'COMPLETED':
      return 'completed';
    case 'FAILED':
      return 'failed';
    case 'CANCELLED':
      return 'cancelled';
    case 'TERMINATED':
      return 'terminated';
    case 'TIMED_OUT':
      return 'timed-out';
    case 'CONTINUED_AS_NEW':
      return 'continued-as-new';
    default:
      return 'unknown';
  }
}

function summaryOf(info: ExecInfo, kind: JobKind, state: JobState): JobSummary {
  const by = info.memo?.[JOB_CLIENT_MEMO];
  return {
    jobId: info.workflowId,
    kind,
    state,
    startedAt: info.startTime.toISOString(),
    ...(info.closeTime !== undefined ? { closedAt: info.closeTime.toISOString() } : {}),
    ...(info.parentExecution?.workflowId ? { parentId: info.parentExecution.workflowId } : {}),
    ...(typeof by === 'string' ? { submittedBy: by } : {}),
  };
}

function isRecipe(v: unknown): v is JobOutputRecipe {
  const r = v as Partial<JobOutputRecipe> | undefined;
  return typeof r === 'object' && r !== null && typeof r.command === 'string' && typeof r.out === 'string' && typeof r.options === 'object';
}

function notFound(jobId: string, why: string): GramfleetError {
  return new GramfleetError('JOB_NOT_FOUND', `no job ${jobId} in this cluster${why}; 'gramfleet jobs list' shows the jobs it has`, {
    field: 'jobId',
    jobId,
  });
}

/** Builds the jobs service over a Temporal client. */
export function createJobsService(o: JobsServiceOptions): JobsService {
  const client = o.client;
  const progressWaitMs = o.progressWaitMs ?? 5_000;

  const describeRaw = async (jobId: string): Promise<{ info: ExecInfo; kind: JobKind; state: JobState }> => {
    if (typeof jobId !== 'string' || jobId === '') throw new GramfleetError('INPUT_INVALID', 'a job id must be a non-empty string', { field: 'jobId' });
    let info: ExecInfo;
    try {
      info = await retrying(() => client.workflow.getHandle(jobId).describe());
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) throw notFound(jobId, '');
      throw e;
    }
    const kind = kindOfWorkflowType(info.type);
    if (kind === undefined)
      throw notFound(jobId, ` (it names a ${info.type} workflow, not a job${info.type === 'campaignWorkflow' ? "; see 'gramfleet campaign status'" : ''})`);
    const s = stateOf(info);
    // A described execution is the latest run, so continued-as-new does not show here.
    return { info, kind, state: s === 'continued-as-new' || s === 'unknown' ? 'running' : s };
  };

  return {
    async list(filter = {}) {
      const limit = filter.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > JOB_LIST_MAX)
        throw new GramfleetError('INPUT_OUT_OF_RANGE', `limit must be an integer in [1, ${JOB_LIST_MAX}], got ${limit}`, {
          field: 'limit',
          bound: `[1, ${JOB_LIST_MAX}]`,
          value: limit,
        });
      const types = filter.kind !== undefined ? [workloadFor(filter.kind, 'kind').def.workflowType] : WORKLOADS.map((w) => w.def.workflowType as string);
      const state = filter.state !== undefined ? parseJobState(filter.state) : undefined;
      const query =
        `(${types.map((t) => `WorkflowType = '${t}'`).join(' OR ')})` + (state !== undefined ? ` AND ExecutionStatus = '${VISIBILITY_STATUS[state]}'` : '');
      return retrying(async () => {
        const seen = new Set<string>();
        const out: JobSummary[] = [];
        for await (const info of client.workflow.list({ query })) {
          if (seen.has(info.workflowId)) continue;
          const s = stateOf(info);
          const kind = kindOfWorkflowType(info.type);
          if (kind === undefined || s === 'continued-as-new' || s === 'unknown') continue;
          seen.add(info.workflowId);
          out.push(summaryOf(info, kind, s));
          if (out.length >= limit) break;
        }
        return out;
      });
    },

    async describe(jobId, opts = {}) {
      const { info, kind, state } = await describeRaw(jobId);
      const w = workloadFor(kind);
      const h = client.workflow.getHandle(jobId);
      let progress: unknown;
      let error: { code: string; message: string } | undefined;
      if (state === 'running' && opts.progress !== false) {
        let timer: NodeJS.Timeout | undefined;
        progress = await Promise.race([
          h.query(w.def.progressQuery).catch(() => undefined),
          new Promise<undefined>((r) => {
            timer = setTimeout(() => r(undefined), progressWaitMs);
          }),
        ]);
        clearTimeout(timer);
      } else if (state !== 'completed' && state !== 'running') {
        try {
          await retrying(() => h.result());
        } catch (e) {
          const g = fromTemporal(e, jobId);
          error = isGramfleetError(g) ? { code: g.code, message: g.message } : { code: 'JOB_FAILED', message: String((g as Error).message ?? g) };
        }
      }
      const recipe = info.memo?.[JOB_OUTPUT_MEMO];
      return {
        ...summaryOf(info, kind, state),
        runId: info.runId,
        historyLength: info.historyLength,
        ...(progress !== undefined ? { progress } : {}),
        ...(error !== undefined ? { error } : {}),
        ...(isRecipe(recipe) ? { output: recipe } : {}),
      };
    },

    async cancel(jobId) {
      const { info, kind, state } = await describeRaw(jobId);
      if (state !== 'running') return { ...summaryOf(info, kind, state), cancelRequested: false };
      await retrying(() => client.workflow.getHandle(jobId).cancel());
      return { ...summaryOf(info, kind, state), cancelRequested: true };
    },
  };
}
