/**
 * The orchestrator's Prometheus metrics (served at `/metrics` by its health server):
 *
 * - `gramfleet_jobs{kind, state}`: jobs by workload kind and Temporal execution state on this
 *   task queue, counted by Temporal's visibility store when scraped (at most every 5 s) — the
 *   cluster's own record, no second count kept here;
 * - `gramfleet_activity_seconds{activity_type, outcome}`: activity latencies, timed by an
 *   activity interceptor;
 * - `gramfleet_shards_in_flight` and the task client's counters (sent over lanes, spilled to the
 *   durable queue, retried, duplicates, rejected, verified);
 * - the Temporal SDK's own metrics (its Prometheus exporter on a loopback port, appended).
 */
import { Histogram } from 'prom-client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { WORKLOAD_DEFS } from '@gramfleet/core';
import type { ProcessMetrics, TaskClient } from '@gramfleet/workers';

/** Temporal execution states as `gramfleet_jobs` names them (proto enum value → label). */
const STATES: Readonly<Record<number, string>> = {
  1: 'running',
  2: 'completed',
  3: 'failed',
  4: 'canceled',
  5: 'terminated',
  6: 'continued_as_new',
  7: 'timed_out',
};

/** What the orchestrator's metrics read. */
export interface HostMetricsDeps {
  readonly metrics: ProcessMetrics;
  readonly tasks: TaskClient;
  readonly namespace: string;
  readonly taskQueue: string;
  /** The Temporal worker's connection while there is one (visibility counts go through it). */
  readonly workflowService: () => CountService | undefined;
  /** Port of the Temporal SDK's Prometheus exporter on 127.0.0.1, when installed. */
  readonly sdkMetricsPort?: number;
}

/** The one visibility call the job counts need. */
export interface CountService {
  countWorkflowExecutions(req: { namespace: string; query: string }): Promise<{
    count?: unknown;
    groups?: readonly { groupValues?: readonly ({ data?: Uint8Array | null } | null)[] | null; count?: unknown }[] | null;
  }>;
}

/** Registers the orchestrator's families; returns the activity interceptor that times activities. */
export function registerHostMetrics(d: HostMetricsDeps): ActivityInterceptorsFactory {
  const m = d.metrics;
  m.gauge('gramfleet_shards_in_flight', 'Shards this orchestrator has sent and not yet had answered (or queued for a lane)', () => d.tasks.inFlight());
  const st = d.tasks.stats;
  m.counter(
    'gramfleet_task_client_events_total',
    "The task client's events: tasks sent over lanes, spilled to the durable queue, retried; duplicate and rejected results; verified and mismatched second runs",
    () => [
      [{ event: 'sent' }, st.sent],
      [{ event: 'spilled' }, st.spilled],
      [{ event: 'retried' }, st.retried],
      [{ event: 'duplicate' }, st.duplicates],
      [{ event: 'rejected' }, st.rejected],
      [{ event: 'verified' }, st.verified],
      [{ event: 'verify_mismatch' }, st.verifyMismatches],
    ],
    ['event'],
  );
  let counted: { at: number; rows: [Record<string, string>, number][] } = { at: 0, rows: [] };
  let counting: Promise<void> | undefined;
  const refresh = async (): Promise<void> => {
    const svc = d.workflowService();
    if (svc === undefined) return;
    const rows: [Record<string, string>, number][] = [];
    for (const w of WORKLOAD_DEFS) {
      const r = await svc.countWorkflowExecutions({
        namespace: d.namespace,
        query: `WorkflowType = '${w.workflowType}' AND TaskQueue = '${d.taskQueue}' GROUP BY ExecutionStatus`,
      });
      for (const g of r.groups ?? []) {
        const raw = g.groupValues?.[0]?.data;
        // Group values are JSON payloads: the status name as a string ("Running", "Completed", …).
        const name = raw !== undefined && raw !== null ? (JSON.parse(Buffer.from(raw).toString('utf8')) as string) : 'unknown';
        rows.push([{ kind: w.kind, state: stateLabel(name) }, Number(g.count ?? 0)]);
      }
    }
    counted = { at: Date.now(), rows };
  };
  m.gauge(
    'gramfleet_jobs',
    'Jobs by workload kind and state on this task queue (Temporal visibility; refreshed at most every 5 s)',
    async () => {
      if (Date.now() - counted.at > 5_000) {
        // Scrapes at once share one count; a failed count (Temporal away) keeps the last rows.
        counting ??= refresh()
          .catch(() => undefined)
          .finally(() => {
            counting = undefined;
          });
        await counting;
      }
      return counted.rows;
    },
    ['kind', 'state'],
  );

  const activitySeconds = new Histogram({
    name: 'gramfleet_activity_seconds',
    help: 'Activity latencies on this orchestrator, by activity type and outcome',
    labelNames: ['activity_type', 'outcome'],
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [m.registry],
  });
  if (d.sdkMetricsPort !== undefined) {
    const url = `http://127.0.0.1:${d.sdkMetricsPort}/metrics`;
    m.appendText('temporal sdk metrics', async () => {
      const r = await fetch(url);
      if (!r.ok) throw new Error(`${url} answered ${r.status}`);
      return r.text();
    });
  }
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const t0 = performance.now();
        let outcome = 'ok';
        try {
          return await next(input);
        } catch (e) {
          outcome = 'error';
          throw e;
        } finally {
          activitySeconds.observe({ activity_type: ctx.info.activityType, outcome }, (performance.now() - t0) / 1000);
        }
      },
    },
  });
}

/** `Running` → `running`, `ContinuedAsNew` → `continued_as_new`, a number → its name. */
function stateLabel(name: string | number): string {
  if (typeof name === 'number') return STATES[name] ?? String(name);
  return name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}
