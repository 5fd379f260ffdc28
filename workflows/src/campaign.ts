/**
 * The campaign workflow: runs every run of a campaign spec as a child workflow (the run's
 * workload, e.g. `grfWorkflow`) with at most `concurrency` in flight, deterministic child ids
 * (`<campaignId>-r000042-a1`), a per-run retry policy for retryable errors, and a row per
 * finished run written to the result table (NATS KV, outside the history) by an activity.
 * A failed run is recorded with its typed error and does not stop the others. Before the
 * history grows large it drains the runs in flight and continues as new.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  ParentClosePolicy,
  TimeoutFailure,
  continueAsNew,
  defineQuery,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import {
  CAMPAIGN_INPUTS_REFUSED,
  CAMPAIGN_PROGRESS_QUERY,
  CAMPAIGN_RUNNING_QUERY,
  ERROR_CODES,
  campaignAttemptId,
  campaignRunAt,
  campaignRunId,
  isErrorCode,
  type CampaignActivities,
  type CampaignPhase,
  type CampaignProgress,
  type CampaignRunningRun,
  type CampaignSummary,
  type CampaignWorkflowInput,
  type ErrorPayload,
} from '@gramfleet/core';
import { activityRetry } from './policies';

/** Query: the campaign's progress. */
export const campaignProgressQuery = defineQuery<CampaignProgress>(CAMPAIGN_PROGRESS_QUERY);
/** Query: the runs in flight. */
export const campaignRunningQuery = defineQuery<CampaignRunningRun[]>(CAMPAIGN_RUNNING_QUERY);

/**
 * Attempts of each campaign activity. A run whose input is poison (a file that makes preparing
 * it fail, hang past its heartbeat, or kill the orchestrator) costs at most this many attempts,
 * and is then recorded as failed with its error; the run's own retry policy (`retry`) is for
 * its child workflow and does not start a failed preparation again.
 */
export const CAMPAIGN_ACTIVITY_MAX_ATTEMPTS = 5;

/** Events after which a generation stops launching runs and continues as new (below Temporal's suggestion too). */
export const CAMPAIGN_HISTORY_LIMIT = 10_000;

/** State carried over `continueAsNew`. Runs below `next` are finished and have rows. */
export interface CampaignCarry {
  readonly next: number;
  readonly runsDone: number;
  readonly runsFailed: number;
  readonly generation: number;
  readonly startedAt: number;
  readonly table: CampaignSummary['table'];
}

/** Options of the workflow beyond the contract (tests use a small history limit). */
export interface CampaignWorkflowOptions {
  /** @default CAMPAIGN_HISTORY_LIMIT */
  readonly historyLimit?: number;
}

/** Runs a campaign to the end; see the module comment. */
export async function campaignWorkflow(input: CampaignWorkflowInput & CampaignWorkflowOptions, carry?: CampaignCarry): Promise<CampaignSummary> {
  const spec = input.spec;
  const acts = proxyActivities<CampaignActivities>({
    startToCloseTimeout: 10 * 60_000,
    // The activities heartbeat every 2 s: one cut off by a killed orchestrator is retried after 15 s.
    heartbeatTimeout: 15_000,
    retry: activityRetry(CAMPAIGN_ACTIVITY_MAX_ATTEMPTS),
  });
  const startedAt = carry?.startedAt ?? Date.now();
  const generation = carry?.generation ?? 0;
  let next = carry?.next ?? 0;
  let runsDone = carry?.runsDone ?? 0;
  let runsFailed = carry?.runsFailed ?? 0;
  let phase: CampaignPhase = 'running';
  const running = new Map<number, CampaignRunningRun>();
  setHandler(campaignProgressQuery, () => ({
    campaignId: spec.id,
    phase,
    runsTotal: spec.runsTotal,
    runsDone,
    runsFailed,
    runsRunning: running.size,
    generation,
    startedAt,
  }));
  setHandler(campaignRunningQuery, () => [...running.values()]);
  const limit = input.historyLimit ?? CAMPAIGN_HISTORY_LIMIT;
  const mustContinue = (): boolean => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= limit;

  /** One run: attempts until done, a permanent error, or attempts exhausted; then its row. */
  async function runOne(index: number): Promise<number> {
    const run = campaignRunAt(spec, index);
    const runId = campaignRunId(spec.id, index);
    const runStarted = Date.now();
    let result: unknown;
    let error: ErrorPayload | undefined;
    let childId = campaignAttemptId(runId, 1);
    let attempt = 1;
    for (; ; attempt++) {
      childId = campaignAttemptId(runId, attempt);
      running.set(index, { index, runId, childId, attempt, startedAt: Date.now() });
      try {
        const prep = await acts.campaignPrepareRun({
          campaignId: spec.id,
          index,
          childId,
          kind: run.kind,
          params: run.params,
          runTimeoutMs: spec.runTimeoutMs,
        });
        result = await executeChild(prep.workflowType, {
          workflowId: childId,
          args: [...prep.args],
          workflowExecutionTimeout: spec.runTimeoutMs,
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        });
        error = undefined;
        break;
      } catch (e) {
        if (isCancellation(e)) throw e;
        error = failurePayload(e);
        // The preparation failed after its bounded attempts: record it, do not prepare again.
        if (e instanceof ActivityFailure) break;
        if (!ERROR_CODES[error.code].retryable || attempt >= spec.retry.maxAttempts) break;
        await sleep(spec.retry.backoffMs * 2 ** (attempt - 1));
      }
    }
    const row = { campaignId: spec.id, index, runId, childId, kind: run.kind, params: run.params, attempts: attempt, startedAt: runStarted };
    try {
      await acts.campaignRecordRun({ ...row, finishedAt: Date.now(), ...(error === undefined ? { result } : { error }) });
    } catch (e) {
      // Extracting the row from the result failed after its attempts: the run is recorded as
      // failed with that error (without the result) instead of failing the whole campaign.
      if (isCancellation(e) || !(e instanceof ActivityFailure) || error !== undefined) throw e;
      error = failurePayload(e);
      await acts.campaignRecordRun({ ...row, finishedAt: Date.now(), error });
    }
    if (error === undefined) runsDone++;
    else runsFailed++;
    running.delete(index);
    return index;
  }

  const inFlight = new Map<number, Promise<number>>();
  try {
    // Before anything is registered or scheduled: every input named by reference must be held
    // (patched: a campaign started before this check replays without it).
    if (carry === undefined && patched('campaign-check-files')) await checkFiles(acts, spec);
    const table =
      carry?.table ??
      (await acts.campaignRegister({
        campaignId: spec.id,
        name: spec.name,
        workflowId: workflowInfo().workflowId,
        runsTotal: spec.runsTotal,
        createdAt: startedAt,
        spec,
      }));
    while (next < spec.runsTotal || inFlight.size > 0) {
      while (inFlight.size < spec.concurrency && next < spec.runsTotal && !mustContinue()) {
        const i = next++;
        inFlight.set(i, runOne(i));
      }
      if (inFlight.size === 0) break;
      inFlight.delete(await Promise.race(inFlight.values()));
    }
    if (next < spec.runsTotal) {
      await continueAsNew<typeof campaignWorkflow>(input, { next, runsDone, runsFailed, generation: generation + 1, startedAt, table });
    }
    phase = 'done';
    return { campaignId: spec.id, runsTotal: spec.runsTotal, runsDone, runsFailed, generations: generation + 1, startedAt, finishedAt: Date.now(), table };
  } catch (e) {
    phase = isCancellation(e) ? 'cancelled' : 'failed';
    // Let every run in flight settle first: on cancellation their children are cancelled and
    // awaited, so the campaign closes only after its children have.
    await Promise.allSettled(inFlight.values());
    throw e;
  }
}

/**
 * Runs `campaignCheckFiles`; a refusal ends the workflow with a non-retryable failure of the
 * same code, its details marked `stage: CAMPAIGN_INPUTS_REFUSED` (other failures pass through).
 */
async function checkFiles(acts: CampaignActivities, spec: CampaignWorkflowInput['spec']): Promise<void> {
  try {
    await acts.campaignCheckFiles({ campaignId: spec.id, spec });
  } catch (e) {
    if (isCancellation(e)) throw e;
    const p = failurePayload(e);
    if (!(e instanceof ActivityFailure) || !(e.cause instanceof ApplicationFailure) || !isErrorCode(e.cause.type)) throw e;
    throw ApplicationFailure.create({
      type: p.code,
      message: p.message,
      nonRetryable: true,
      details: [{ ...(p.details ?? {}), stage: CAMPAIGN_INPUTS_REFUSED }],
    });
  }
}

/** The typed error of a failed attempt: the first gramfleet code in the failure's cause chain. */
function failurePayload(e: unknown): ErrorPayload {
  let c: unknown = e;
  let timedOut = false;
  while (c !== undefined && c !== null) {
    if (c instanceof ApplicationFailure && isErrorCode(c.type)) {
      const d = c.details?.[0];
      return { code: c.type, message: c.message, ...(typeof d === 'object' && d !== null ? { details: d as Record<string, unknown> } : {}) };
    }
    if (c instanceof TimeoutFailure) timedOut = true;
    c = (c as { cause?: unknown }).cause;
  }
  if (e instanceof ActivityFailure) {
    const why = timedOut ? 'timed out (its process died or hung)' : `failed: ${e.cause?.message ?? e.message}`;
    return { code: 'JOB_FAILED', message: `[JOB_FAILED] ${e.activityType} ${why}, after at most ${CAMPAIGN_ACTIVITY_MAX_ATTEMPTS} attempts` };
  }
  if (timedOut) return { code: 'JOB_TIMEOUT', message: `[JOB_TIMEOUT] run did not finish in time: ${(e as Error).message}` };
  const msg =
    e instanceof ChildWorkflowFailure ? `child ${e.execution?.workflowId ?? ''} failed: ${e.cause?.message ?? e.message}` : String((e as Error).message ?? e);
  return { code: 'JOB_FAILED', message: `[JOB_FAILED] ${msg}` };
}
