/**
 * What the dashboard shows, read from the cluster's own records on every request: jobs from
 * Temporal's visibility store (list) and the workflows themselves (progress queries, results,
 * cancel), workers from the NATS worker registry (KV), EigenPro's per-epoch metrics from the
 * progress events the training activity publishes on the results stream. Nothing is stored here.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { DeliverPolicy } from '@nats-io/jetstream';
import { CAMPAIGN_PROGRESS_QUERY, CAMPAIGN_WORKFLOW, GramfleetError, WORKLOAD_DEFS, resultSubject, type WorkerRecord } from '@gramfleet/core';
import type { DataPlane } from '@gramfleet/workers';
import { registeredWorkers } from '../grf/submit';
import { retrying } from '../client/temporal-retry';

/** What the dashboard reads from. */
export interface DashboardSource {
  /** A Temporal client on the cluster's namespace. */
  readonly client: Client;
  /** The orchestrator's task queue (jobs are the workflows on it). */
  readonly taskQueue: string;
  /** The cluster's data plane (worker registry, results stream). */
  readonly dp: DataPlane;
  /** The local cluster's processes, when the dashboard runs beside one. */
  readonly processes?: () => Promise<readonly ProcessRow[]>;
}

/** One process of the local cluster. */
export interface ProcessRow {
  readonly name: string;
  readonly pid: number;
  readonly alive: boolean;
  readonly metrics?: string;
}

/** Job kinds the dashboard knows: every workload, and campaigns. */
export const DASHBOARD_KINDS: readonly { readonly kind: string; readonly workflowType: string; readonly progressQuery: string }[] = [
  ...WORKLOAD_DEFS.map((d) => ({ kind: d.kind, workflowType: d.workflowType, progressQuery: d.progressQuery })),
  { kind: 'campaign', workflowType: CAMPAIGN_WORKFLOW, progressQuery: CAMPAIGN_PROGRESS_QUERY },
];

/** One row of the jobs list. */
export interface JobRow {
  readonly jobId: string;
  readonly kind: string;
  /** Temporal's execution status, lower case: running, completed, failed, cancelled, terminated, timed_out, continued_as_new. */
  readonly state: string;
  readonly startTime?: string;
  readonly closeTime?: string;
}

function kindOfType(workflowType: string): string | undefined {
  return DASHBOARD_KINDS.find((k) => k.workflowType === workflowType)?.kind;
}

function rowOf(w: Pick<WorkflowExecutionInfo, 'type' | 'workflowId' | 'status' | 'startTime' | 'closeTime'>): JobRow | undefined {
  const kind = kindOfType(w.type);
  if (kind === undefined) return undefined;
  return {
    jobId: w.workflowId,
    kind,
    state: (w.status.name ?? 'UNKNOWN').toLowerCase(),
    startTime: w.startTime.toISOString(),
    ...(w.closeTime !== undefined ? { closeTime: w.closeTime.toISOString() } : {}),
  };
}

/**
 * The jobs on the cluster's task queue, newest first (at most `limit`), optionally of one kind.
 * A campaign's runs are jobs of their own kind and are listed too.
 */
export async function listJobs(s: DashboardSource, o: { readonly kind?: string; readonly limit?: number } = {}): Promise<JobRow[]> {
  const kinds = o.kind === undefined || o.kind === '' ? DASHBOARD_KINDS : DASHBOARD_KINDS.filter((k) => k.kind === o.kind);
  if (kinds.length === 0)
    throw new GramfleetError('INPUT_INVALID', `kind must be one of ${DASHBOARD_KINDS.map((k) => k.kind).join(', ')}, got ${JSON.stringify(o.kind)}`, {
      field: 'kind',
    });
  const limit = o.limit ?? 200;
  const types = kinds.map((k) => `'${k.workflowType}'`).join(', ');
  const query = `TaskQueue = '${s.taskQueue.replace(/'/g, '')}' AND WorkflowType IN (${types})`;
  const rows: JobRow[] = [];
  for await (const w of s.client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
    const r = rowOf(w);
    if (r !== undefined) rows.push(r);
    if (rows.length >= limit) break;
  }
  return rows;
}

/** Everything the job page plots and prints about one job. */
export interface JobDetail extends JobRow {
  /** The workflow's own progress query answer (absent when it could not be asked). */
  readonly progress?: unknown;
  /** Done fraction in [0, 1] when the kind's progress says it. */
  readonly fraction?: number;
  /** Per-kind series: EigenPro `epochs` (per-epoch metrics). */
  readonly series: Record<string, unknown>;
  /** The workflow's failure message, when it failed. */
  readonly failure?: string;
}

function fractionOf(kind: string, p: unknown, epochs: number | undefined, totalEpochs: number | undefined): number | undefined {
  if (typeof p !== 'object' || p === null) return undefined;
  const o = p as Record<string, unknown>;
  const ratio = (a: unknown, b: unknown): number | undefined => (typeof a === 'number' && typeof b === 'number' && b > 0 ? Math.min(1, a / b) : undefined);
  if (kind === 'eigenpro') return o['phase'] === 'done' ? 1 : epochs !== undefined ? ratio(epochs, totalEpochs) : 0;
  if (kind === 'datagen') return ratio(o['systemsDone'], o['systemsTotal']);
  if (kind === 'campaign') return ratio(Number(o['runsDone'] ?? 0) + Number(o['runsFailed'] ?? 0), o['runsTotal']);
  return ratio(o['shardsDone'], o['shardsTotal']);
}

/** One EigenPro epoch as the page plots it. */
export interface EpochPoint {
  readonly epoch: number;
  readonly elapsedMs: number;
  readonly trainMse: number;
  readonly trainAccuracy?: number;
  readonly testMse?: number;
  readonly testAccuracy?: number;
}

/**
 * EigenPro's per-epoch metrics as published so far on the results stream (one `epoch` event per
 * epoch; a resumed attempt publishes an epoch again, the last one counts).
 */
export async function eigenProEpochs(dp: DataPlane, jobId: string): Promise<{ epochs: EpochPoint[]; totalEpochs?: number }> {
  const consumer = await dp.js.consumers.get(dp.names.resultsStream, {
    filter_subjects: resultSubject(dp.names.prefix, jobId, 'progress'),
    deliver_policy: DeliverPolicy.All,
  });
  const byEpoch = new Map<number, EpochPoint>();
  let totalEpochs: number | undefined;
  const info = await consumer.info(true);
  let left = info.num_pending;
  while (left > 0) {
    const batch = await consumer.fetch({ max_messages: Math.min(left, 256), expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      got++;
      const e = m.json<{ kind: string; epoch?: number; epochs?: number } & Partial<EpochPoint>>();
      if (e.kind === 'epoch' && typeof e.epoch === 'number') {
        totalEpochs = e.epochs;
        byEpoch.set(e.epoch, pickEpoch(e as EpochPoint));
      }
      if (m.info.pending === 0) break;
    }
    if (got === 0) break;
    left -= got;
  }
  return { epochs: [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch), ...(totalEpochs !== undefined ? { totalEpochs } : {}) };
}

function pickEpoch(e: EpochPoint): EpochPoint {
  return {
    epoch: e.epoch,
    elapsedMs: e.elapsedMs,
    trainMse: e.trainMse,
    ...(e.trainAccuracy !== undefined ? { trainAccuracy: e.trainAccuracy } : {}),
    ...(e.testMse !== undefined ? { testMse: e.testMse } : {}),
    ...(e.testAccuracy !== undefined ? { testAccuracy: e.testAccuracy } : {}),
  };
}

/** One job: its state (Temporal), its progress (its query) and the series its kind plots. */
export async function jobDetail(s: DashboardSource, jobId: string): Promise<JobDetail> {
  const h = s.client.workflow.getHandle(jobId);
  const d = await retrying(() => h.describe()).catch((e: unknown) => {
    throw new GramfleetError('INPUT_INVALID', `no job ${JSON.stringify(jobId)} on this cluster: ${(e as Error).message}`, {
      field: 'jobId',
      jobId,
      notFound: true,
    });
  });
  const row = rowOf(d);
  if (row === undefined)
    throw new GramfleetError('INPUT_INVALID', `workflow ${jobId} is a ${d.type}, not a gramfleet job`, { field: 'jobId', jobId, notFound: true });
  const k = DASHBOARD_KINDS.find((x) => x.kind === row.kind);
  const progress = await h.query(k?.progressQuery ?? 'progress').catch(() => undefined);
  const series: Record<string, unknown> = {};
  let failure: string | undefined;
  let epochs: number | undefined;
  let totalEpochs: number | undefined;
  if (row.kind === 'eigenpro') {
    const ep = await eigenProEpochs(s.dp, jobId).catch(() => ({ epochs: [] as EpochPoint[], totalEpochs: undefined }));
    let points = ep.epochs;
    totalEpochs = ep.totalEpochs ?? (progress as { shardsTotal?: number } | undefined)?.shardsTotal;
    // A finished job's result holds the whole history (the events may have aged out of the stream).
    if (row.state === 'completed') {
      const r = (await h.result().catch(() => undefined)) as { history?: EpochPoint[] } | undefined;
      if (r?.history !== undefined && r.history.length >= points.length) points = r.history.map(pickEpoch);
    }
    epochs = points.length;
    series['epochs'] = points;
  }
  if (row.state === 'failed' || row.state === 'timed_out' || row.state === 'terminated') {
    failure = await h.result().then(
      () => undefined,
      (e: unknown) => {
        const c = (e as { cause?: { message?: string } }).cause;
        return c?.message ?? (e as Error).message;
      },
    );
  }
  const fraction = row.state === 'completed' ? 1 : fractionOf(row.kind, progress, epochs, totalEpochs);
  return {
    ...row,
    ...(progress !== undefined ? { progress } : {}),
    ...(fraction !== undefined ? { fraction } : {}),
    series,
    ...(failure !== undefined ? { failure } : {}),
  };
}

/** Asks Temporal to cancel a job (the workflow cancels its activities and cleans up). */
export async function cancelJob(s: DashboardSource, jobId: string): Promise<void> {
  await jobDetail(s, jobId);
  await retrying(() => s.client.workflow.getHandle(jobId).cancel());
}

/** The cluster view: registered workers (the NATS registry) and the local processes. */
export interface ClusterView {
  readonly at: string;
  readonly workers: readonly WorkerRecord[];
  readonly processes: readonly ProcessRow[];
}

/** Reads the worker registry and the process table now. */
export async function clusterView(s: DashboardSource): Promise<ClusterView> {
  return { at: new Date().toISOString(), workers: await registeredWorkers(s.dp), processes: (await s.processes?.()) ?? [] };
}
