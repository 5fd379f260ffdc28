/**
 * What the dashboard shows, read from the cluster's own records on every request: jobs from
 * Temporal's visibility store (list) and the workflows themselves (progress queries, results,
 * cancel), workers from the NATS worker registry (KV), EigenPro's per-epoch metrics and the
 * Kronecker loops' fit steps and PCG residuals from the progress events those activities publish
 * on the results stream. Nothing is stored here.
 */
import type { Client, WorkflowExecutionDescription, WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter, optionalTsToMs, type Payload } from '@temporalio/common';
import { DeliverPolicy, type ConsumerInfo, type MsgRequest } from '@nats-io/jetstream';
import {
  CAMPAIGN_PROGRESS_QUERY,
  CAMPAIGN_WORKFLOW,
  GramfleetError,
  WORKER_CLASSES,
  WORKLOAD_DEFS,
  consumerName,
  isGramfleetError,
  resultSubject,
  type ArrayRef,
  type DatagenProgress,
  type DatagenWorkflowResult,
  type KronFitStep,
  type KronJobResult,
  type KronProgress,
  type KronProgressEvent,
  type WorkerRecord,
} from '@gramfleet/core';
import type { ArrayStore, DataPlane } from '@gramfleet/workers';
import { readDatagenPage } from '../datagen/pages';
import { registeredWorkers } from '../grf/submit';
import { retrying } from '../client/temporal-retry';
import { JOB_LIST_MAX, createJobsService, type JobDescription, type JobsService } from '../jobs/service';
import type { CampaignClient } from '../campaign/client';

/** What the dashboard reads from. */
export interface DashboardSource {
  /** A Temporal client on the cluster's namespace. */
  readonly client: Client;
  /** The orchestrator's task queue (campaigns are the campaign workflows on it). */
  readonly taskQueue: string;
  /** The cluster's data plane (worker registry, task queues, results stream). */
  readonly dp: DataPlane;
  /** The jobs service (list, describe, cancel). @default one over `client` */
  readonly jobs?: JobsService;
  /** The array store (datagen's per-system stats arrays and pages live there). */
  readonly store?: ArrayStore;
  /** The campaign client (campaign records and result rows). */
  readonly campaigns?: CampaignClient;
  /** The local cluster's processes, when the dashboard runs beside one. */
  readonly processes?: () => Promise<readonly ProcessRow[]>;
}

/** One process of the local cluster. */
export interface ProcessRow {
  readonly name: string;
  readonly pid: number;
  readonly alive: boolean;
  readonly metrics?: string;
  /** A few of its Prometheus series, read from its `/metrics` when asked (sums over labels). */
  readonly stats?: Readonly<Record<string, number>>;
}

/** The series the cluster view reads from each process's `/metrics`, by the name it shows. */
export const PROCESS_SERIES: Readonly<Record<string, string>> = {
  tasksInFlight: 'gramfleet_worker_tasks_in_flight',
  cacheBytes: 'gramfleet_store_cache_bytes',
  cacheHits: 'gramfleet_worker_task_cache_hits_total',
  tasks: 'gramfleet_worker_tasks_total',
  redeliveries: 'gramfleet_worker_redeliveries_total',
};

/**
 * Sums of the samples of `PROCESS_SERIES` in a Prometheus text exposition (every label set of
 * a family added up; comments and other families skipped).
 */
export function seriesSums(text: string): Record<string, number> {
  const want = new Map(Object.entries(PROCESS_SERIES).map(([k, v]) => [v, k]));
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    const key = m !== null ? want.get(m[1] as string) : undefined;
    if (key === undefined) continue;
    const v = Number(m?.[3]);
    if (Number.isFinite(v)) out[key] = (out[key] ?? 0) + v;
  }
  return out;
}

async function withStats(p: ProcessRow): Promise<ProcessRow> {
  if (p.metrics === undefined || !p.alive) return p;
  try {
    const r = await fetch(p.metrics, { signal: AbortSignal.timeout(2_000) });
    if (!r.ok) return p;
    const stats = seriesSums(await r.text());
    return Object.keys(stats).length > 0 ? { ...p, stats } : p;
  } catch {
    return p;
  }
}

/** Job kinds the dashboard lists: every workload, and campaigns. */
export const DASHBOARD_KINDS: readonly string[] = [...WORKLOAD_DEFS.map((d) => d.kind), 'campaign'];

const services = new WeakMap<Client, JobsService>();
function jobsOf(s: DashboardSource): JobsService {
  if (s.jobs !== undefined) return s.jobs;
  let j = services.get(s.client);
  if (j === undefined) {
    j = createJobsService({ client: s.client, progressWaitMs: 3_000 });
    services.set(s.client, j);
  }
  return j;
}

/** One row of the jobs list (a job of the jobs service, or a campaign). */
export interface JobRow {
  readonly jobId: string;
  readonly kind: string;
  /** running, completed, failed, cancelled, terminated, timed-out (the jobs service's states). */
  readonly state: string;
  readonly startedAt?: string;
  readonly closedAt?: string;
  /** The campaign that started it, for a campaign's run. */
  readonly parentId?: string;
}

const CAMPAIGN_STATES: Readonly<Record<string, string>> = {
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed-out',
};

function campaignRow(w: Pick<WorkflowExecutionInfo, 'workflowId' | 'status' | 'startTime' | 'closeTime'>): JobRow {
  return {
    jobId: w.workflowId,
    kind: 'campaign',
    state: CAMPAIGN_STATES[w.status.name] ?? 'running',
    startedAt: w.startTime.toISOString(),
    ...(w.closeTime !== undefined ? { closedAt: w.closeTime.toISOString() } : {}),
  };
}

async function listCampaigns(s: DashboardSource, limit: number): Promise<JobRow[]> {
  const query = `TaskQueue = '${s.taskQueue.replace(/'/g, '')}' AND WorkflowType = '${CAMPAIGN_WORKFLOW}'`;
  const seen = new Set<string>();
  const rows: JobRow[] = [];
  for await (const w of s.client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
    if (seen.has(w.workflowId) || w.status.name === 'CONTINUED_AS_NEW') continue;
    seen.add(w.workflowId);
    rows.push(campaignRow(w));
    if (rows.length >= limit) break;
  }
  return rows;
}

/**
 * Jobs newest first (at most `limit`), optionally of one kind: the jobs service's listing
 * (every workload's jobs, a campaign's runs included) and the campaigns on the task queue.
 */
export async function listJobs(s: DashboardSource, o: { readonly kind?: string; readonly limit?: number } = {}): Promise<JobRow[]> {
  const kind = o.kind === '' ? undefined : o.kind;
  if (kind !== undefined && !DASHBOARD_KINDS.includes(kind))
    throw new GramfleetError('INPUT_INVALID', `kind must be one of ${DASHBOARD_KINDS.join(', ')}, got ${JSON.stringify(kind)}`, { field: 'kind' });
  const limit = Math.min(o.limit ?? 200, JOB_LIST_MAX);
  const jobs: JobRow[] = kind === 'campaign' ? [] : await jobsOf(s).list({ ...(kind !== undefined ? { kind } : {}), limit });
  const campaigns = kind === undefined || kind === 'campaign' ? await listCampaigns(s, limit) : [];
  return [...jobs, ...campaigns].sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? '')).slice(0, limit);
}

/** Everything the job page plots and prints about one job. */
export interface JobDetail extends JobRow {
  /** The workflow's own progress query answer (absent when it could not be asked). */
  readonly progress?: unknown;
  /** Done fraction in [0, 1] when the kind's progress says it. */
  readonly fraction?: number;
  /**
   * Per-kind series: EigenPro `epochs` (per-epoch metrics); Kronecker `lml` and `gradNorm` (per
   * optimiser step) and `pcg` (residual per PCG iteration); datagen `systems`; GRF `shards`
   * (shards done over time, from the workflow history); campaigns `rows` (the result table).
   */
  readonly series: Record<string, unknown>;
  /** The typed error, when the job did not complete. */
  readonly error?: { readonly code: string; readonly message: string };
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
  const byEpoch = new Map<number, EpochPoint>();
  let totalEpochs: number | undefined;
  for (const e of await progressEvents<{ kind: string; epoch?: number; epochs?: number } & Partial<EpochPoint>>(dp, jobId)) {
    if (e.kind === 'epoch' && typeof e.epoch === 'number') {
      totalEpochs = e.epochs;
      byEpoch.set(e.epoch, pickEpoch(e as EpochPoint));
    }
  }
  return { epochs: [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch), ...(totalEpochs !== undefined ? { totalEpochs } : {}) };
}

/**
 * Every progress event a job's activities published so far on the results stream (its
 * `progress` subject), oldest first: EigenPro's epochs, the Kronecker loops' fit steps and PCG
 * iterations.
 */
export async function progressEvents<E>(dp: DataPlane, jobId: string): Promise<E[]> {
  const consumer = await dp.js.consumers.get(dp.names.resultsStream, {
    filter_subjects: resultSubject(dp.names.prefix, jobId, 'progress'),
    deliver_policy: DeliverPolicy.All,
  });
  const out: E[] = [];
  const info = await consumer.info(true);
  let left = info.num_pending;
  while (left > 0) {
    const batch = await consumer.fetch({ max_messages: Math.min(left, 256), expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      got++;
      out.push(m.json<E>());
      if (m.info.pending === 0) break;
    }
    if (got === 0) break;
    left -= got;
  }
  return out;
}

/** A Kronecker job's plotted series: the fit's steps and the PCG residual per iteration. */
export interface KronSeries {
  readonly fit: KronFitStep[];
  readonly pcg: { readonly iteration: number; readonly residual: number }[];
}

/**
 * A Kronecker job's fit steps and PCG residuals as its long loops published them (a retried
 * attempt's iteration replaces the earlier one), or, for a slab-route fit, as its progress
 * query answers them; a finished fit's result holds the whole history and wins when it has at
 * least as many steps (events may have aged out of the stream).
 */
export async function kronSeries(dp: DataPlane, jobId: string, progress: unknown, result?: KronJobResult): Promise<KronSeries> {
  const fit = new Map<number, KronFitStep>();
  const pcg = new Map<number, number>();
  for (const e of await progressEvents<KronProgressEvent>(dp, jobId)) {
    if (e.kind === 'fit-step') fit.set(e.iteration, { iteration: e.iteration, lml: e.lml, gradNorm: e.gradNorm });
    else if (e.kind === 'pcg') pcg.set(e.iteration, e.residual);
  }
  for (const st of (progress as KronProgress | undefined)?.fitSteps ?? []) if (!fit.has(st.iteration)) fit.set(st.iteration, st);
  let steps = [...fit.values()].sort((a, b) => a.iteration - b.iteration);
  const h = result?.fit;
  if (h !== undefined && h.history.length >= steps.length)
    steps = h.history.map((lml, i) => ({ iteration: i + 1, lml, gradNorm: h.gradNorms?.[i] ?? steps[i]?.gradNorm ?? NaN }));
  return {
    fit: steps,
    pcg: [...pcg.entries()].sort((a, b) => a[0] - b[0]).map(([iteration, residual]) => ({ iteration, residual })),
  };
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

/**
 * A GRF job's shards done over time, from its workflow history: each completed batch activity
 * (`runGrfBatch`, or the one-batch job's local activity) adds its result's shard count at the
 * time Temporal recorded it. Only the current run's history (after a continue-as-new, the
 * batches done before start the series).
 */
export async function grfShardsOverTime(s: DashboardSource, jobId: string): Promise<{ t: number; done: number }[]> {
  const history = await s.client.workflow.getHandle(jobId).fetchHistory();
  const scheduled = new Map<string, string>();
  const out: { t: number; done: number }[] = [];
  let done = 0;
  let startedAt: number | undefined;
  for (const e of history.events ?? []) {
    const t = optionalTsToMs(e.eventTime) ?? 0;
    if (e.workflowExecutionStartedEventAttributes != null) {
      startedAt = t;
      // A continued run starts with the batches its carry holds.
      const carry = e.workflowExecutionStartedEventAttributes.input?.payloads?.[1];
      if (carry != null) {
        const c = defaultPayloadConverter.fromPayload<{ done?: Record<string, { shards?: number }> } | undefined>(carry);
        for (const o of Object.values(c?.done ?? {})) done += o.shards ?? 0;
      }
      out.push({ t, done });
    }
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched != null) scheduled.set(String(e.eventId), sched.activityType?.name ?? '');
    const comp = e.activityTaskCompletedEventAttributes;
    let result: Payload | null | undefined;
    if (comp != null && scheduled.get(String(comp.scheduledEventId)) === 'runGrfBatch') result = comp.result?.payloads?.[0];
    const marker = e.markerRecordedEventAttributes;
    if (marker != null && marker.markerName === 'core_local_activity') result = marker.details?.['result']?.payloads?.[0];
    if (result != null) {
      const r = defaultPayloadConverter.fromPayload<{ shards?: number } | undefined>(result);
      if (typeof r?.shards === 'number') {
        done += r.shards;
        out.push({ t, done });
      }
    }
  }
  if (out.length === 0 && startedAt !== undefined) out.push({ t: startedAt, done: 0 });
  return out;
}

/** The most datagen systems whose stats the job page reads (one array-store read each). */
export const DATAGEN_PLOT_MAX_SYSTEMS = 2_000;

/** One datagen system's solve, as the page plots it along its chain. */
export interface DatagenSystemPoint {
  readonly chunk: number;
  readonly position: number;
  readonly iterations: number;
  readonly matvecs: number;
  readonly relres: number;
  /** Dimension of the recycled subspace it handed on. */
  readonly k: number;
}

/**
 * Datagen's per-system solver stats (iterations, mat-vecs, relative residual, recycled
 * dimension), from the stats arrays the workers stored: the finished systems and pages the
 * progress query names while the job runs, the pages of its result once it completed. In chain
 * order (chunk, then position); at most {@link DATAGEN_PLOT_MAX_SYSTEMS}.
 */
export async function datagenSystems(s: DashboardSource, jobId: string, state: string, progress: unknown): Promise<DatagenSystemPoint[]> {
  const store = s.store;
  if (store === undefined) return [];
  const finished: { chunk: number; position: number; stats: ArrayRef }[] = [];
  let pages: readonly ArrayRef[] = [];
  if (state === 'running' && progress !== undefined) {
    const p = progress as DatagenProgress;
    finished.push(...p.finished);
    pages = p.pages ?? [];
  } else if (state === 'completed') {
    const r = (await s.client.workflow
      .getHandle(jobId)
      .result()
      .catch(() => undefined)) as DatagenWorkflowResult | undefined;
    pages = r?.pages ?? [];
  }
  for (const ref of pages) {
    if (finished.length >= DATAGEN_PLOT_MAX_SYSTEMS) break;
    const page = await readDatagenPage(store, ref, jobId).catch(() => undefined);
    for (const sys of page?.systems ?? []) {
      const st = sys.outputs[4];
      if (st !== undefined) finished.push({ chunk: sys.chunk, position: sys.position, stats: st });
    }
  }
  finished.sort((a, b) => a.chunk - b.chunk || a.position - b.position);
  const out: DatagenSystemPoint[] = [];
  for (const f of finished.slice(0, DATAGEN_PLOT_MAX_SYSTEMS)) {
    const a = await store.get(f.stats).catch(() => undefined);
    if (a === undefined) continue;
    const d = a.data as ArrayLike<number>;
    out.push({ chunk: f.chunk, position: f.position, iterations: Number(d[0]), matvecs: Number(d[1]), relres: Number(d[3]), k: Number(d[4]) });
  }
  return out;
}

async function campaignDetail(s: DashboardSource, jobId: string): Promise<JobDetail> {
  const h = s.client.workflow.getHandle(jobId);
  let d: WorkflowExecutionDescription;
  try {
    d = await retrying(() => h.describe(), 10_000);
  } catch (e) {
    throw new GramfleetError('JOB_NOT_FOUND', `no job or campaign ${jobId} in this cluster: ${(e as Error).message}`, { field: 'jobId', jobId });
  }
  const row = campaignRow(d);
  const progress = await h.query(CAMPAIGN_PROGRESS_QUERY).catch(() => undefined);
  const series: Record<string, unknown> = {};
  if (s.campaigns !== undefined) {
    const rec = (await s.campaigns.list()).find((r) => r.workflowId === jobId);
    if (rec !== undefined) {
      const rows = await (await s.campaigns.get(rec.campaignId)).rows();
      series['rows'] = rows.map((r) => ({
        index: r.index,
        runId: r.runId,
        kind: r.kind,
        status: r.status,
        params: r.params,
        metrics: r.metrics,
        childId: r.childId,
        ...(r.error !== undefined ? { error: r.error } : {}),
      }));
      series['name'] = rec.name;
    }
  }
  const fraction = row.state === 'completed' ? 1 : fractionOf('campaign', progress, undefined, undefined);
  return { ...row, ...(progress !== undefined ? { progress } : {}), ...(fraction !== undefined ? { fraction } : {}), series };
}

/** One job: its state and progress (the jobs service) and the series its kind plots. */
export async function jobDetail(s: DashboardSource, jobId: string): Promise<JobDetail> {
  let desc: JobDescription;
  try {
    desc = await jobsOf(s).describe(jobId);
  } catch (e) {
    // Campaigns are not jobs of the jobs service; the dashboard lists them too.
    if (isGramfleetError(e) && e.code === 'JOB_NOT_FOUND' && e.message.includes(CAMPAIGN_WORKFLOW)) return campaignDetail(s, jobId);
    throw e;
  }
  const { runId: _runId, historyLength: _historyLength, output: _output, ...row } = desc;
  void _runId;
  void _historyLength;
  void _output;
  const series: Record<string, unknown> = {};
  let epochs: number | undefined;
  let totalEpochs: number | undefined;
  const progress = desc.progress;
  if (desc.kind === 'eigenpro') {
    const ep = await eigenProEpochs(s.dp, jobId).catch(() => ({ epochs: [] as EpochPoint[], totalEpochs: undefined }));
    let points = ep.epochs;
    totalEpochs = ep.totalEpochs ?? (progress as { shardsTotal?: number } | undefined)?.shardsTotal;
    // A finished job's result holds the whole history (the events may have aged out of the stream).
    if (desc.state === 'completed') {
      const r = (await s.client.workflow
        .getHandle(jobId)
        .result()
        .catch(() => undefined)) as { history?: EpochPoint[] } | undefined;
      if (r?.history !== undefined && r.history.length >= points.length) points = r.history.map(pickEpoch);
    }
    epochs = points.length;
    series['epochs'] = points;
  } else if (desc.kind === 'datagen') {
    series['systems'] = await datagenSystems(s, jobId, desc.state, progress).catch(() => []);
  } else if (desc.kind === 'kron-gp') {
    // A fit's LML and gradient norm per optimiser step, the PCG residual per iteration: the
    // loops' progress events while it runs, the workflow result's history once it completed.
    const r =
      desc.state === 'completed'
        ? ((await s.client.workflow
            .getHandle(jobId)
            .result()
            .catch(() => undefined)) as KronJobResult | undefined)
        : undefined;
    const ks = await kronSeries(s.dp, jobId, progress, r).catch(() => ({ fit: [] as KronFitStep[], pcg: [] }));
    if (ks.fit.length > 0) {
      series['lml'] = ks.fit.map((x) => x.lml);
      series['gradNorm'] = ks.fit.map((x) => x.gradNorm);
    }
    if (ks.pcg.length > 0) series['pcg'] = ks.pcg;
    if (r?.cg !== undefined) series['cg'] = r.cg;
    if (r?.candidates !== undefined) series['candidateLml'] = r.candidates.map((c) => c.lml);
  } else if (desc.kind === 'grf') {
    series['shards'] = await grfShardsOverTime(s, jobId).catch(() => []);
    const total = (progress as { shardsTotal?: number } | undefined)?.shardsTotal;
    if (total !== undefined) series['shardsTotal'] = total;
  }
  const fraction = desc.state === 'completed' ? 1 : fractionOf(desc.kind, progress, epochs, totalEpochs);
  return { ...row, ...(fraction !== undefined ? { fraction } : {}), series };
}

/** Asks Temporal to cancel a job or campaign (the workflow cancels its activities and cleans up). */
export async function cancelJob(s: DashboardSource, jobId: string): Promise<{ jobId: string; cancelRequested: boolean }> {
  try {
    const r = await jobsOf(s).cancel(jobId);
    return { jobId, cancelRequested: r.cancelRequested };
  } catch (e) {
    if (!(isGramfleetError(e) && e.code === 'JOB_NOT_FOUND' && e.message.includes(CAMPAIGN_WORKFLOW))) throw e;
    const d = await campaignDetail(s, jobId);
    if (d.state !== 'running') return { jobId, cancelRequested: false };
    await retrying(() => s.client.workflow.getHandle(jobId).cancel());
    return { jobId, cancelRequested: true };
  }
}

/** One worker class's durable task queue (the JetStream consumer its workers pull from). */
export interface QueueRow {
  readonly cls: string;
  /** Tasks queued and not yet delivered to a worker. */
  readonly pending: number;
  /** Tasks delivered and not yet acknowledged (running or lost until redelivery). */
  readonly ackPending: number;
  /** Redelivered tasks in flight. */
  readonly redelivered: number;
  /** When a worker last pulled from it (ISO time), when known. */
  readonly lastActive?: string;
  /** Queue lag: how long the oldest task not yet delivered to a worker has waited (ms; 0 when none waits). */
  readonly lagMs?: number;
}

/** The cluster view: registered workers (the NATS registry), queues per worker class, the local processes. */
export interface ClusterView {
  readonly at: string;
  readonly workers: readonly WorkerRecord[];
  readonly queues: readonly QueueRow[];
  readonly processes: readonly ProcessRow[];
}

/** The queue of each worker class that has one (JetStream consumer info). */
export async function queueRows(dp: DataPlane): Promise<QueueRow[]> {
  const out: QueueRow[] = [];
  for (const cls of WORKER_CLASSES) {
    const ci = await dp.jsm.consumers.info(dp.names.tasksStream, consumerName(cls)).catch(() => null);
    if (ci === null) continue;
    // nats-server sends an RFC 3339 time (the client types it as nanoseconds); absent before any pull.
    const raw = ci.delivered.last_active as unknown;
    const last = typeof raw === 'string' ? raw : typeof raw === 'number' && raw > 0 ? new Date(raw / 1e6).toISOString() : undefined;
    out.push({
      cls,
      ...(await queueLag(dp, ci).then((lagMs) => (lagMs !== undefined ? { lagMs } : {}))),
      pending: ci.num_pending,
      ackPending: ci.num_ack_pending,
      redelivered: ci.num_redelivered,
      ...(last !== undefined && !last.startsWith('0001') ? { lastActive: last } : {}),
    });
  }
  return out;
}

/**
 * A queue's lag: the age of the first task of its subject after the last one delivered (the
 * oldest waiting; one STREAM.MSG.GET by `next_by_subj`); 0 when nothing waits, undefined when it
 * cannot be read.
 */
async function queueLag(dp: DataPlane, ci: ConsumerInfo): Promise<number | undefined> {
  if (ci.num_pending === 0) return 0;
  const subject = ci.config.filter_subject ?? ci.config.filter_subjects?.[0];
  if (subject === undefined) return undefined;
  // The server's STREAM.MSG.GET takes next_by_subj; the client's type lists only seq and last_by_subj.
  const query = { seq: ci.delivered.stream_seq + 1, next_by_subj: subject } as unknown as MsgRequest;
  const m = await dp.jsm.streams.getMessage(dp.names.tasksStream, query).catch(() => null);
  return m === null ? undefined : Math.max(0, Date.now() - m.time.getTime());
}

/** Reads the worker registry, the queues and the process table now. */
export async function clusterView(s: DashboardSource): Promise<ClusterView> {
  const [workers, queues, procs] = await Promise.all([registeredWorkers(s.dp), queueRows(s.dp).catch(() => []), s.processes?.() ?? Promise.resolve([])]);
  // Workers' in-flight tasks, cache bytes and hits from their own /metrics (local processes).
  const processes = await Promise.all(procs.map((p) => (p.name.startsWith('worker') ? withStats(p) : p)));
  return { at: new Date().toISOString(), workers, queues, processes };
}
