/**
 * The jobs the HTTP API lists, describes and cancels: a small stand-in with the shape of the
 * shared jobs service (orchestrator/src/jobs/service.ts, being written beside this), to be
 * replaced by it once it is on main.
 *
 * A job is a workflow whose type is a registered workload's; its state is Temporal's execution
 * status in lower case. An unknown id, or one naming a workflow that is not a job, is
 * `API_NOT_FOUND`.
 */
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription, type WorkflowExecutionInfo } from '@temporalio/client';
import { GramfleetError, nearestName } from '@gramfleet/core';
import { WORKLOADS } from '../registry';
import type { JobKind } from '../job-types';
import { retrying } from '../client/temporal-retry';

/** A job's state. */
export type ApiJobState = 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed-out';

/** Every state, as the API accepts them in `?state=`. */
export const API_JOB_STATES: readonly ApiJobState[] = ['running', 'completed', 'failed', 'cancelled', 'terminated', 'timed-out'];

const VISIBILITY: Readonly<Record<ApiJobState, string>> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
};

/** One job. */
export interface ApiJob {
  readonly jobId: string;
  readonly kind: JobKind;
  readonly state: ApiJobState;
  readonly startedAt: string;
  readonly closedAt?: string;
}

function stateOf(status: string): ApiJobState {
  switch (status) {
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
    default:
      return 'running';
  }
}

function kindOf(type: string): JobKind | undefined {
  return WORKLOADS.find((w) => w.def.workflowType === type)?.def.kind;
}

function jobOf(info: WorkflowExecutionInfo | WorkflowExecutionDescription): ApiJob | undefined {
  const kind = kindOf(info.type);
  if (kind === undefined) return undefined;
  return {
    jobId: info.workflowId,
    kind,
    state: stateOf(info.status.name),
    startedAt: info.startTime.toISOString(),
    ...(info.closeTime !== undefined ? { closedAt: info.closeTime.toISOString() } : {}),
  };
}

/** List, describe, cancel. */
export interface ApiJobs {
  list(filter: { kind?: string; state?: string; limit?: number }): Promise<ApiJob[]>;
  describe(jobId: string): Promise<ApiJob>;
  cancel(jobId: string): Promise<ApiJob & { cancelRequested: boolean }>;
}

/** The jobs of the cluster `client` reaches. */
export function createApiJobs(client: Client): ApiJobs {
  const describe = async (jobId: string): Promise<ApiJob> => {
    let info: WorkflowExecutionDescription;
    try {
      info = await retrying(() => client.workflow.getHandle(jobId).describe());
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) throw new GramfleetError('API_NOT_FOUND', `no job ${JSON.stringify(jobId)}`, { field: 'jobId', jobId });
      throw e;
    }
    const j = jobOf(info);
    if (j === undefined) throw new GramfleetError('API_NOT_FOUND', `${JSON.stringify(jobId)} is a ${info.type} workflow, not a job`, { field: 'jobId', jobId });
    return j;
  };
  return {
    async list(f) {
      const types = WORKLOADS.filter((w) => f.kind === undefined || w.def.kind === f.kind).map((w) => w.def.workflowType);
      if (types.length === 0) {
        const kinds = WORKLOADS.map((w) => w.def.kind);
        throw new GramfleetError('INPUT_INVALID', `kind must be one of ${kinds.join(', ')}, got ${JSON.stringify(f.kind)}`, {
          field: 'kind',
          nearest: nearestName(String(f.kind), kinds),
        });
      }
      const clauses = [`WorkflowType IN (${types.map((t) => `'${t}'`).join(', ')})`];
      if (f.state !== undefined) {
        if (!(API_JOB_STATES as readonly string[]).includes(f.state))
          throw new GramfleetError('INPUT_INVALID', `state must be one of ${API_JOB_STATES.join(', ')}, got ${JSON.stringify(f.state)}`, { field: 'state' });
        clauses.push(`ExecutionStatus = '${VISIBILITY[f.state as ApiJobState]}'`);
      }
      const limit = f.limit ?? 100;
      const out: ApiJob[] = [];
      const seen = new Set<string>();
      for await (const info of client.workflow.list({ query: clauses.join(' AND ') })) {
        if (seen.has(info.workflowId)) continue;
        seen.add(info.workflowId);
        const j = jobOf(info);
        if (j !== undefined) out.push(j);
        if (out.length >= limit) break;
      }
      return out;
    },
    describe,
    async cancel(jobId) {
      const j = await describe(jobId);
      if (j.state !== 'running') return { ...j, cancelRequested: false };
      await retrying(() => client.workflow.getHandle(jobId).cancel());
      return { ...j, cancelRequested: true };
    },
  };
}
