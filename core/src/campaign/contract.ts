/**
 * The public contract of campaigns: the workflow a client (CLI, SDK, the Kubernetes
 * KernelCampaign controller) starts, its input, the queries it answers, how it is cancelled,
 * and where the result table lives. Keep these stable: add fields, never rename.
 *
 * - Start: workflow type {@link CAMPAIGN_WORKFLOW} on the cluster's task queue, workflow id of
 *   the caller's choice (the CLI/SDK use the campaign id; the k8s controller one derived from
 *   the resource uid), args `[CampaignWorkflowInput]`.
 * - Progress: query {@link CAMPAIGN_PROGRESS_QUERY} → {@link CampaignProgress}.
 * - Running runs (for live per-run progress): query {@link CAMPAIGN_RUNNING_QUERY} → {@link CampaignRunningRun}[].
 * - Cancel: cancel the workflow (`WorkflowHandle.cancel()`); running children are cancelled,
 *   rows already written stay, the workflow ends cancelled with phase `cancelled`.
 * - Results: one {@link CampaignRow} per finished run in the NATS KV bucket
 *   {@link campaignTable}`(prefix).runsBucket`, key {@link campaignRowKey}; the campaign's
 *   record ({@link CampaignRecord}) in `campaignsBucket` under the campaign id. Rows are
 *   keyed by run index, so a replayed write never double counts a run.
 * - Result of the workflow: {@link CampaignSummary}.
 */
import type { ArrayRef, CsrRef } from '../array';
import type { ErrorPayload } from '../errors';
import type { CompiledCampaignSpec } from './spec';

/** Temporal workflow type of a campaign. */
export const CAMPAIGN_WORKFLOW = 'campaignWorkflow';
/** Query name: the campaign's progress. */
export const CAMPAIGN_PROGRESS_QUERY = 'campaignProgress';
/** Query name: the runs in flight (index, run id, child workflow id, attempt). */
export const CAMPAIGN_RUNNING_QUERY = 'campaignRunning';

/** Input of {@link CAMPAIGN_WORKFLOW}. The id inside `spec` names the result rows. */
export interface CampaignWorkflowInput {
  readonly spec: CompiledCampaignSpec;
}

/** Phases of a campaign. `done`: every run finished (some may have failed). */
export type CampaignPhase = 'running' | 'done' | 'failed' | 'cancelled';

/** Answer of the {@link CAMPAIGN_PROGRESS_QUERY} query. */
export interface CampaignProgress {
  readonly campaignId: string;
  readonly phase: CampaignPhase;
  readonly runsTotal: number;
  /** Runs finished successfully. */
  readonly runsDone: number;
  /** Runs finished with an error after their attempts (each recorded with its typed error). */
  readonly runsFailed: number;
  /** Runs in flight now. */
  readonly runsRunning: number;
  /** Times the workflow continued as new. */
  readonly generation: number;
  /** Epoch ms when the campaign started. */
  readonly startedAt: number;
}

/** One entry of the {@link CAMPAIGN_RUNNING_QUERY} answer. */
export interface CampaignRunningRun {
  readonly index: number;
  readonly runId: string;
  /** Workflow id of the current attempt's child (query it for the run's own progress). */
  readonly childId: string;
  readonly attempt: number;
  readonly startedAt: number;
}

/** One row of the result table: one finished run. */
export interface CampaignRow {
  readonly campaignId: string;
  readonly index: number;
  readonly runId: string;
  readonly kind: string;
  /** The run's parameters as given. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly status: 'done' | 'failed';
  /** Scalar metrics extracted by the workload (e.g. GRF: nnz, shards, label-spreading accuracy). */
  readonly metrics: Readonly<Record<string, number | string>>;
  /** Named artifact references in the object store (e.g. Φ as CSR). */
  readonly artifacts: Readonly<Record<string, ArrayRef | CsrRef>>;
  /** Set when `status` is `failed`. */
  readonly error?: ErrorPayload;
  readonly attempts: number;
  /** Child workflow id of the attempt that finished the run. */
  readonly childId: string;
  readonly startedAt: number;
  readonly finishedAt: number;
}

/** The campaign's own record in the campaigns bucket. */
export interface CampaignRecord {
  readonly campaignId: string;
  readonly name: string;
  /** Workflow id the campaign runs under. */
  readonly workflowId: string;
  readonly runsTotal: number;
  readonly createdAt: number;
  readonly spec: CompiledCampaignSpec;
}

/** Result of {@link CAMPAIGN_WORKFLOW}. */
export interface CampaignSummary {
  readonly campaignId: string;
  readonly runsTotal: number;
  readonly runsDone: number;
  readonly runsFailed: number;
  readonly generations: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  /** Where the rows are. */
  readonly table: { readonly bucket: string; readonly keyPrefix: string };
}

/** NATS KV buckets of the result table for a resource prefix (default `gf`). */
export function campaignTable(prefix: string): { readonly runsBucket: string; readonly campaignsBucket: string } {
  return { runsBucket: `${prefix}-campaign-runs`, campaignsBucket: `${prefix}-campaigns` };
}

/** KV key of a run's row: `<campaignId>.<index, 6+ digits>`. */
export function campaignRowKey(campaignId: string, index: number): string {
  return `${campaignId}.${String(index).padStart(6, '0')}`;
}

/** KV key filter of every row of a campaign. */
export function campaignRowsFilter(campaignId: string): string {
  return `${campaignId}.>`;
}

/** Input of the `campaignPrepareRun` activity. */
export interface CampaignPrepareInput {
  readonly campaignId: string;
  readonly index: number;
  readonly childId: string;
  readonly kind: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly runTimeoutMs: number;
}

/** Input of the `campaignRecordRun` activity: the child's result or error becomes a row. */
export interface CampaignRecordInput {
  readonly campaignId: string;
  readonly index: number;
  readonly runId: string;
  readonly childId: string;
  readonly kind: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly attempts: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly result?: unknown;
  readonly error?: ErrorPayload;
}

/** Activities of campaigns (implemented in orchestrator/). Names are history: add, never rename. */
export interface CampaignActivities {
  /** Writes the campaign record once (create-if-absent); answers where the rows go. */
  campaignRegister(input: CampaignRecord): Promise<CampaignSummary['table']>;
  /** Turns a run's parameters into its child workflow input (uploads inputs by digest; idempotent). */
  campaignPrepareRun(input: CampaignPrepareInput): Promise<{ readonly workflowType: string; readonly args: readonly unknown[] }>;
  /** Extracts metrics and writes the run's row (keyed by index; idempotent). */
  campaignRecordRun(input: CampaignRecordInput): Promise<{ readonly written: boolean }>;
  /**
   * Checks, before any run is scheduled, that every input the spec names by object reference
   * (`gf:file:…`) is held by the cluster; a missing one fails it with `STORE_MISSING_OBJECT`
   * naming the field (`runs[2].graph`), marked {@link CAMPAIGN_INPUTS_REFUSED}. Reads, writes nothing.
   */
  campaignCheckFiles(input: CampaignCheckFilesInput): Promise<{ readonly refs: number }>;
}

/** Input of the `campaignCheckFiles` activity. */
export interface CampaignCheckFilesInput {
  readonly campaignId: string;
  readonly spec: CompiledCampaignSpec;
}

/**
 * `details.stage` of the failure a campaign workflow ends with when its inputs were refused
 * before any run started (the KernelCampaign controller reports it as `Accepted=False`).
 */
export const CAMPAIGN_INPUTS_REFUSED = 'inputs-refused';
