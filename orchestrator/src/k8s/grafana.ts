/**
 * The Grafana dashboard the chart ships (a ConfigMap labelled for Grafana's dashboard sidecar,
 * `metrics.grafanaDashboard` in the values): the series every gramfleet process serves on
 * /metrics (workers/src/metrics.ts, orchestrator/src/host/metrics.ts), scraped by the chart's
 * ServiceMonitor. The chart's file `dashboards/gramfleet.json` is {@link grafanaDashboardJson}
 * written out (test/src/k8s/manifests.test.ts checks that they agree), so `gramfleet k8s render`
 * and `helm template` give the same ConfigMap.
 */

/** One time-series panel: its title, unit and PromQL queries (legend → expression). */
interface PanelSpec {
  readonly title: string;
  readonly unit: string;
  readonly queries: readonly (readonly [legend: string, expr: string])[];
}

const RATE = '$__rate_interval';

/** The panels, two per row, in reading order. */
const PANELS: readonly PanelSpec[] = [
  {
    title: 'Tasks per second by op and outcome',
    unit: 'ops',
    queries: [['{{op}} {{outcome}}', `sum by (op, outcome) (rate(gramfleet_worker_tasks_total[${RATE}]))`]],
  },
  {
    title: 'Task latency by op (p50, p95)',
    unit: 's',
    queries: [
      ['p50 {{op}}', `histogram_quantile(0.5, sum by (le, op) (rate(gramfleet_worker_task_seconds_bucket[${RATE}])))`],
      ['p95 {{op}}', `histogram_quantile(0.95, sum by (le, op) (rate(gramfleet_worker_task_seconds_bucket[${RATE}])))`],
    ],
  },
  { title: 'Jobs by kind and state', unit: 'short', queries: [['{{kind}} {{state}}', 'sum by (kind, state) (gramfleet_jobs)']] },
  {
    title: 'Shards in flight (orchestrator) and tasks held (workers)',
    unit: 'short',
    queries: [
      ['shards in flight', 'sum(gramfleet_shards_in_flight)'],
      ['tasks held by {{pod}}', 'sum by (pod) (gramfleet_worker_tasks_in_flight)'],
    ],
  },
  {
    title: 'Activity latency (p95) by type and outcome',
    unit: 's',
    queries: [
      ['{{activity_type}} {{outcome}}', `histogram_quantile(0.95, sum by (le, activity_type, outcome) (rate(gramfleet_activity_seconds_bucket[${RATE}])))`],
    ],
  },
  {
    title: 'Bytes moved by tasks',
    unit: 'Bps',
    queries: [
      ['inputs', `sum(rate(gramfleet_worker_task_input_bytes_total[${RATE}]))`],
      ['outputs', `sum(rate(gramfleet_worker_task_output_bytes_total[${RATE}]))`],
    ],
  },
  {
    title: 'Array reads by tier, and cache hits',
    unit: 'ops',
    queries: [
      ['{{tier}}', `sum by (tier) (rate(gramfleet_store_reads_total[${RATE}]))`],
      ['task cache hits', `sum(rate(gramfleet_worker_task_cache_hits_total[${RATE}]))`],
    ],
  },
  {
    title: 'Redeliveries and task client retries',
    unit: 'ops',
    queries: [
      ['redelivered {{op}}', `sum by (op) (rate(gramfleet_worker_redeliveries_total[${RATE}]))`],
      ['{{event}}', `sum by (event) (rate(gramfleet_task_client_events_total{event=~"retried|spilled|rejected|verify_mismatch"}[${RATE}]))`],
    ],
  },
  {
    title: 'Worker time: fetching inputs vs computing',
    unit: 'percentunit',
    queries: [
      ['fetch', `sum(rate(gramfleet_worker_task_fetch_seconds_total[${RATE}]))`],
      ['compute', `sum(rate(gramfleet_worker_task_compute_seconds_total[${RATE}]))`],
    ],
  },
  {
    title: 'Process CPU and resident memory',
    unit: 'short',
    queries: [
      ['cpu {{proc}} {{pod}}', `sum by (proc, pod) (rate(gramfleet_process_cpu_seconds_total[${RATE}]))`],
      ['rss GiB {{proc}} {{pod}}', 'sum by (proc, pod) (gramfleet_process_resident_memory_bytes) / 2^30'],
    ],
  },
];

/** The dashboard (Grafana's JSON model, schema 39), its datasource a template variable. */
export function grafanaDashboard(): Record<string, unknown> {
  const ds = { type: 'prometheus', uid: '${datasource}' };
  return {
    title: 'gramfleet',
    uid: 'gramfleet-cluster',
    tags: ['gramfleet'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0 }],
    },
    panels: PANELS.map((p, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: p.title,
      datasource: ds,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
      targets: p.queries.map(([legend, expr], j) => ({ refId: String.fromCharCode(65 + j), datasource: ds, expr, legendFormat: legend })),
    })),
  };
}

/** The dashboard as the chart's file holds it (two-space JSON and a final newline). */
export function grafanaDashboardJson(): string {
  return JSON.stringify(grafanaDashboard(), null, 2) + '\n';
}
