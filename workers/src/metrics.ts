/**
 * Prometheus metrics of a process, served at `/metrics` by its health server
 * (GRAMFLEET_HEALTH_PORT). One {@link ProcessMetrics} per process: a prom-client registry
 * with Node's default process metrics, the families the process adds, and text sources
 * appended to the exposition (the Temporal SDK's own metrics in the orchestrator).
 *
 * The task path counts into {@link TaskMetrics}: one slot of plain numbers and a typed array
 * per op, found by one map lookup, so a task costs a few additions and no allocation (a
 * prom-client `observe` hashes its labels into a new string every call: ~1 µs, measured, where
 * the slot costs ~0.01 µs). The slots become Prometheus families only when scraped.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { activeTracing } from './tracing';
import type { TaskStats } from '@gramfleet/core';

/** How a task ended on a worker (the `outcome` label). */
export const TASK_OUTCOMES = ['ok', 'retryable_error', 'permanent_error', 'cancelled', 'draining', 'dead_lettered'] as const;
/** One of {@link TASK_OUTCOMES}. */
export type TaskOutcome = (typeof TASK_OUTCOMES)[number];

/** Upper bounds (seconds) of the task latency histogram: 0.5 ms to 5 min. */
export const TASK_SECONDS_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** What one task adds to its op's slot (fields reused by the caller, so nothing is allocated per task). */
interface OpSlot {
  readonly op: string;
  /** Tasks by outcome, indexed like {@link TASK_OUTCOMES}. */
  readonly outcomes: Float64Array;
  /** Task seconds per bucket (not cumulative; the last counts those above every bound). */
  readonly buckets: Float64Array;
  seconds: number;
  tasks: number;
  fetchSeconds: number;
  computeSeconds: number;
  inputs: number;
  inputBytes: number;
  cacheHits: number;
  outputBytes: number;
  redeliveries: number;
}

/** The worker runtime's counters (tasks by op and outcome, latency, bytes, cache hits, redeliveries). */
export interface TaskMetrics {
  /**
   * Counts one task of `op` that ran: its outcome, its wall time (fetch + kernel + store) in
   * seconds, its stats (fetch and kernel ms, cache hits), the arrays it read and wrote.
   * `redelivered` when this was not its first delivery or try.
   */
  task(
    op: string,
    outcome: TaskOutcome,
    seconds: number,
    stats: Readonly<Pick<TaskStats, 'fetchMs' | 'computeMs' | 'cacheHits'>>,
    inputs: readonly { readonly bytes: number }[],
    outputs: readonly { readonly bytes: number }[],
    redelivered: boolean,
  ): void;
  /** Counts a task that ended before it ran (cancelled, draining, dead-lettered). */
  ended(op: string, outcome: TaskOutcome, redelivered: boolean): void;
}

/** A scrape-time value: a number (no labels), or one value per label set. */
export type Sample = number | ReadonlyArray<readonly [Readonly<Record<string, string>>, number]>;

/** Options of {@link createProcessMetrics}. */
export interface ProcessMetricsOptions {
  /** The `proc` label on every series (`wasm-worker`, `gpu-worker`, `orchestrator`, …). */
  readonly proc: string;
  /** Node's process metrics (CPU, memory, event loop lag, GC). @default true */
  readonly defaultMetrics?: boolean;
}

/** A process's metrics. */
export interface ProcessMetrics {
  readonly registry: Registry;
  /** The task path's counters (created on first use; only worker processes use them). */
  readonly tasks: TaskMetrics;
  /**
   * A gauge whose value is read when scraped (`read` returns one value per label set, or a number
   * when the gauge has no labels).
   */
  gauge(name: string, help: string, read: () => Sample | Promise<Sample>, labelNames?: readonly string[]): void;
  /** A counter whose value is read when scraped (a total kept elsewhere, e.g. the store's reads). */
  counter(name: string, help: string, read: () => Sample | Promise<Sample>, labelNames?: readonly string[]): void;
  /** Text in the exposition format appended to every scrape (its failures leave it out, with a comment). */
  appendText(name: string, read: () => Promise<string>): void;
  /** The exposition: content type and body. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Creates a process's metrics. */
export function createProcessMetrics(o: ProcessMetricsOptions): ProcessMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ proc: o.proc });
  if (o.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'gramfleet_' });
  const texts: { name: string; read: () => Promise<string> }[] = [];
  let tasks: TaskMetrics | undefined;

  /** Replaces a family's values with what `read` returns now. */
  const fill = async (reset: () => void, put: (labels: Record<string, string>, v: number) => void, read: () => Sample | Promise<Sample>): Promise<void> => {
    const v = await read();
    reset();
    if (typeof v === 'number') put({}, v);
    else for (const [labels, x] of v) put({ ...labels }, x);
  };

  const m: ProcessMetrics = {
    registry,
    get tasks(): TaskMetrics {
      tasks ??= createTaskMetrics(registry);
      return tasks;
    },
    gauge(name, help, read, labelNames = []) {
      new Gauge({
        name,
        help,
        labelNames: [...labelNames],
        registers: [registry],
        async collect() {
          await fill(
            () => this.reset(),
            (l, v) => this.set(l, v),
            read,
          );
        },
      });
    },
    counter(name, help, read, labelNames = []) {
      new Counter({
        name,
        help,
        labelNames: [...labelNames],
        registers: [registry],
        async collect() {
          await fill(
            () => this.reset(),
            (l, v) => this.inc(l, v),
            read,
          );
        },
      });
    },
    appendText(name, read) {
      texts.push({ name, read });
    },
    async render() {
      const parts = [await registry.metrics()];
      for (const t of texts) {
        try {
          parts.push((await t.read()).trimEnd() + '\n');
        } catch (e) {
          parts.push(`# ${t.name} not available: ${(e as Error).message.replace(/\s+/g, ' ')}\n`);
        }
      }
      return { contentType: registry.contentType, body: parts.join('') };
    },
  };
  // This process's span export (tracing on): exported, dropped (queue full) and failed spans.
  m.counter(
    'gramfleet_trace_spans_total',
    'spans this process gave to its OTLP exporter, by outcome: exported, dropped (the export queue was full), failed (the collector refused or was unreachable)',
    () => {
      const st = activeTracing()?.stats();
      return st === undefined ? [] : (['exported', 'dropped', 'failed'] as const).map((k) => [{ outcome: k }, st[k]] as const);
    },
    ['outcome'],
  );
  return m;
}

function createTaskMetrics(registry: Registry): TaskMetrics {
  const slots = new Map<string, OpSlot>();
  const slotOf = (op: string): OpSlot => {
    let s = slots.get(op);
    if (s === undefined) {
      s = {
        op,
        outcomes: new Float64Array(TASK_OUTCOMES.length),
        buckets: new Float64Array(TASK_SECONDS_BUCKETS.length + 1),
        seconds: 0,
        tasks: 0,
        fetchSeconds: 0,
        computeSeconds: 0,
        inputs: 0,
        inputBytes: 0,
        cacheHits: 0,
        outputBytes: 0,
        redeliveries: 0,
      };
      slots.set(op, s);
    }
    return s;
  };
  const outcomeIndex = new Map<string, number>(TASK_OUTCOMES.map((k, i) => [k, i]));

  const perOp = (name: string, help: string, read: (s: OpSlot) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['op'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of slots.values()) this.inc({ op: s.op }, read(s));
      },
    });
  };
  new Counter({
    name: 'gramfleet_worker_tasks_total',
    help: 'Tasks a worker finished, by op and outcome',
    labelNames: ['op', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of slots.values()) TASK_OUTCOMES.forEach((outcome, i) => this.inc({ op: s.op, outcome }, s.outcomes[i] as number));
    },
  });
  perOp('gramfleet_worker_task_fetch_seconds_total', 'Seconds tasks spent fetching their inputs, by op', (s) => s.fetchSeconds);
  perOp('gramfleet_worker_task_compute_seconds_total', 'Seconds tasks spent in kernels, by op', (s) => s.computeSeconds);
  perOp('gramfleet_worker_task_inputs_total', 'Input arrays tasks read, by op', (s) => s.inputs);
  perOp('gramfleet_worker_task_input_bytes_total', 'Bytes of the input arrays tasks read (fetched or from cache), by op', (s) => s.inputBytes);
  perOp('gramfleet_worker_task_cache_hits_total', "Input arrays served from the worker's cache, by op", (s) => s.cacheHits);
  perOp('gramfleet_worker_task_output_bytes_total', 'Bytes of the arrays tasks wrote, by op', (s) => s.outputBytes);
  perOp(
    'gramfleet_worker_redeliveries_total',
    'Tasks that came again (a later delivery from the queue, or a retry by their owner), by op',
    (s) => s.redeliveries,
  );
  registry.registerMetric(taskSecondsHistogram(slots));

  return {
    task(op, outcome, seconds, stats, inputs, outputs, redelivered) {
      const s = slotOf(op);
      bump(s.outcomes, outcomeIndex.get(outcome) ?? 0);
      let b = 0;
      while (b < TASK_SECONDS_BUCKETS.length && seconds > (TASK_SECONDS_BUCKETS[b] as number)) b++;
      bump(s.buckets, b);
      s.seconds += seconds;
      s.tasks++;
      s.fetchSeconds += stats.fetchMs / 1000;
      s.computeSeconds += stats.computeMs / 1000;
      s.cacheHits += stats.cacheHits;
      s.inputs += inputs.length;
      for (let i = 0; i < inputs.length; i++) s.inputBytes += (inputs[i] as { bytes: number }).bytes;
      for (let i = 0; i < outputs.length; i++) s.outputBytes += (outputs[i] as { bytes: number }).bytes;
      if (redelivered) s.redeliveries++;
    },
    ended(op, outcome, redelivered) {
      const s = slotOf(op);
      bump(s.outcomes, outcomeIndex.get(outcome) ?? 0);
      if (redelivered) s.redeliveries++;
    },
  };
}

function bump(a: Float64Array, i: number): void {
  a[i] = (a[i] as number) + 1;
}

/**
 * `gramfleet_worker_task_seconds{op}` as a histogram family prom-client's registry formats: its
 * values are built from the slots when scraped (the shape `Histogram.get()` returns), so the
 * task path never calls into prom-client.
 */
function taskSecondsHistogram(slots: ReadonlyMap<string, OpSlot>): Metric {
  const name = 'gramfleet_worker_task_seconds';
  const family = {
    name,
    help: 'Wall time of tasks that ran (fetch, kernel, store), by op',
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const s of slots.values()) {
        let cum = 0;
        TASK_SECONDS_BUCKETS.forEach((le, i) => {
          cum += s.buckets[i] as number;
          values.push({ labels: { le, op: s.op }, value: cum, metricName: `${name}_bucket` });
        });
        values.push({ labels: { le: '+Inf', op: s.op }, value: s.tasks, metricName: `${name}_bucket` });
        values.push({ labels: { op: s.op }, value: s.seconds, metricName: `${name}_sum` });
        values.push({ labels: { op: s.op }, value: s.tasks, metricName: `${name}_count` });
      }
      return Promise.resolve({ name, help: family.help, type: family.type, values, aggregator: family.aggregator });
    },
    reset() {
      /* the slots are the process's totals */
    },
  };
  // The registry needs only `name`, `get()` and `reset()` of a metric; prom-client's type names its classes.
  return family as unknown as Metric;
}
