/**
 * OpenTelemetry tracing of a gramfleet process, exported over OTLP/HTTP (protobuf) to the
 * collector that GRAMFLEET_OTLP_ENDPOINT names. Off unless a process entrypoint (or the SDK's
 * `connect`) calls {@link startTracing}: until then every helper here is one check of a module
 * variable and returns undefined, so the task path pays nothing.
 *
 * One job's trace, as the processes build it:
 *
 *     gramfleet.submit (SDK)                       — sdk.ts, around prepare + workflow start
 *       StartWorkflow:<type> (Temporal client)     — @temporalio/interceptors-opentelemetry
 *         RunWorkflow:<type> (orchestrator)        — its workflow interceptors (spans go out through a sink)
 *           StartActivity:<type>
 *             RunActivity:<type>                   — its activity interceptor; the task client reads this context
 *               gramfleet.task (worker)            — one per try of a shard, parent from the NATS message's
 *                 gramfleet.kernel (worker)          `traceparent` header (a lane frame or a durable-queue message)
 *
 * The NATS hop: the owner (the task client) takes each task's context when the task is
 * submitted, and every message that carries tasks carries one W3C `traceparent` header; a lane
 * frame holds only tasks of one context (a frame is cut where the context changes).
 *
 * Sampling: a job is traced whole or not at all. The process that starts a trace (the SDK's
 * submit; the orchestrator for a workflow whose client does not trace) decides from the trace id
 * with probability `sampleRatio` (GRAMFLEET_OTLP_SAMPLE_RATIO), or always for a root span with
 * the `gramfleet.trace` attribute set (`submit(spec, { trace: true })`); every span under it
 * follows the parent's sampled flag. For an unsampled job nothing on the task path does span
 * work: the owner sends no `traceparent` header, and a worker given an unsampled one starts no
 * span. Ended spans wait in a bounded queue and leave in batches in the background; when the
 * queue is full a span is dropped and counted ({@link Tracing.stats}), never waited for.
 *
 * The OpenTelemetry API is global per process, so there is one provider per process: a second
 * {@link startTracing} returns the first.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator, suppressTracing, type ExportResult } from '@opentelemetry/core';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SamplingResult,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { DEFAULT_OTLP_SAMPLE_RATIO, outOfRange } from '@gramfleet/core';

/** The W3C trace-context header carried by NATS messages that hold tasks. */
export const TRACEPARENT_HEADER = 'traceparent';

/** Options of {@link startTracing}. */
export interface TracingOptions {
  /** The collector's base URL (GRAMFLEET_OTLP_ENDPOINT); spans go to `<endpoint>/v1/traces`. */
  readonly endpoint: string;
  /** `service.name` of this process's spans (`gramfleet-orchestrator`, `gramfleet-worker`, `gramfleet-sdk`). */
  readonly serviceName: string;
  /** More resource attributes (e.g. `gramfleet.worker_id`). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Another exporter instead of OTLP (tests). */
  readonly exporter?: SpanExporter;
  /**
   * Keep an active span across awaits (an AsyncLocalStorage context manager): needed where spans
   * nest through async code (the SDK, the orchestrator's activities). A worker gives every span
   * its parent explicitly and passes false: with no context manager Node's async hooks stay off
   * (once an AsyncLocalStorage is entered, every promise of the process pays a hook; measured in
   * bench/cluster/telemetry.js). @default true
   */
  readonly activeContext?: boolean;
  /**
   * The share of traces this process starts that are recorded, in [0, 1] (GRAMFLEET_OTLP_SAMPLE_RATIO).
   * Spans with a parent follow the parent's sampled flag. @default DEFAULT_OTLP_SAMPLE_RATIO
   */
  readonly sampleRatio?: number;
  /** Spans waiting for export at most; more are dropped and counted. @default 65536 */
  readonly maxQueueSize?: number;
}

/** A root span with this attribute set to true is sampled whatever the ratio (`submit(spec, { trace: true })`). */
export const FORCE_TRACE_ATTRIBUTE = 'gramfleet.trace';

/** What a process's span export did so far. */
export interface TracingStats {
  /** Spans handed to the exporter and accepted by the collector. */
  readonly exported: number;
  /** Spans dropped because the export queue was full. */
  readonly dropped: number;
  /** Spans whose export failed (the collector refused or could not be reached). */
  readonly failed: number;
}

/** A process's tracing: the tracer, and what Temporal's interceptors and workflow sink need. */
export interface Tracing {
  readonly tracer: Tracer;
  readonly resource: Resource;
  readonly spanProcessor: SpanProcessor;
  /** Sends every ended span now. */
  flush(): Promise<void>;
  /** Flushes, then stops exporting; tracing is off again afterwards. */
  shutdown(): Promise<void>;
  /** Spans exported, dropped and failed so far. */
  stats(): TracingStats;
}

/** The root sampler: the ratio, or always for a root span marked {@link FORCE_TRACE_ATTRIBUTE}. */
class RootSampler implements Sampler {
  private readonly ratio: TraceIdRatioBasedSampler;
  constructor(private readonly share: number) {
    this.ratio = new TraceIdRatioBasedSampler(share);
  }
  shouldSample(ctx: Context, traceId: string, _name: string, _kind: SpanKind, attributes: Attributes): SamplingResult {
    if (attributes[FORCE_TRACE_ATTRIBUTE] === true) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.ratio.shouldSample(ctx, traceId);
  }
  toString(): string {
    return `GramfleetRootSampler{ratio=${this.share}}`;
  }
}

/**
 * Ended spans of sampled traces wait in a queue of at most `maxQueue` and leave in batches of at
 * most `maxBatch`, one export at a time, `delayMs` after the first of a batch ended (at once when
 * a batch is full). A span ended while the queue is full is dropped and counted: recording never
 * waits for the collector.
 */
class BoundedBatchProcessor implements SpanProcessor {
  private queue: ReadableSpan[] = [];
  private timer: NodeJS.Timeout | undefined;
  private exporting: Promise<void> | undefined;
  private stopped = false;
  readonly counts = { exported: 0, dropped: 0, failed: 0 };
  constructor(
    private readonly exporter: SpanExporter,
    private readonly maxQueue: number,
    private readonly maxBatch: number,
    private readonly delayMs: number,
  ) {}
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    if (this.stopped || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queue.length >= this.maxQueue) {
      this.counts.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.maxBatch) this.kick(0);
    else if (this.timer === undefined) this.kick(this.delayMs);
  }
  private kick(delayMs: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain(false);
    }, delayMs);
    this.timer.unref();
  }
  /** Exports batches until the queue is empty (`all`) or one batch went (not all: the timer's turn). */
  private async drain(all: boolean): Promise<void> {
    do {
      while (this.exporting !== undefined) await this.exporting;
      if (this.queue.length === 0) return;
      const sending = this.send(this.queue.splice(0, this.maxBatch));
      this.exporting = sending;
      await sending;
      if (this.exporting === sending) this.exporting = undefined;
    } while (all);
    if (this.queue.length > 0 && this.timer === undefined) this.kick(this.queue.length >= this.maxBatch ? 0 : this.delayMs);
  }
  private send(batch: ReadableSpan[]): Promise<void> {
    return new Promise<void>((resolve) => {
      // The exporter's own HTTP request is not traced.
      context.with(suppressTracing(ROOT_CONTEXT), () =>
        this.exporter.export(batch, (r: ExportResult) => {
          if (r.code === ExportResultCode.SUCCESS) this.counts.exported += batch.length;
          else this.counts.failed += batch.length;
          resolve();
        }),
      );
    });
  }
  forceFlush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.drain(true);
  }
  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.stopped = true;
    await this.exporter.shutdown();
  }
}

let current: { tracing: Tracing; provider: BasicTracerProvider } | undefined;

/** Starts tracing in this process (idempotent: a second call returns the first's). */
export function startTracing(o: TracingOptions): Tracing {
  if (current !== undefined) return current.tracing;
  const sampleRatio = o.sampleRatio ?? DEFAULT_OTLP_SAMPLE_RATIO;
  if (!(sampleRatio >= 0 && sampleRatio <= 1)) throw outOfRange('otlpSampleRatio', 'a number in [0, 1]', sampleRatio);
  const resource = new Resource({ 'service.name': o.serviceName, ...o.attributes });
  const exporter = o.exporter ?? new OTLPTraceExporter({ url: `${o.endpoint.replace(/\/+$/, '')}/v1/traces` });
  // Batched: spans leave in the background, at most every 500 ms, so the task path only records.
  const spanProcessor = new BoundedBatchProcessor(exporter, o.maxQueueSize ?? 65_536, 2048, 500);
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [spanProcessor],
    sampler: new ParentBasedSampler({ root: new RootSampler(sampleRatio) }),
  });
  provider.register({
    // null: no context manager (the API's no-op one), so nothing (the batch processor's export
    // included) ever enters an AsyncLocalStorage in this process.
    contextManager: o.activeContext === false ? null : new AsyncLocalStorageContextManager(),
    propagator: new W3CTraceContextPropagator(),
  });
  const tracing: Tracing = {
    tracer: trace.getTracer('gramfleet'),
    resource,
    spanProcessor,
    flush: () => provider.forceFlush(),
    stats: () => ({ ...spanProcessor.counts }),
    async shutdown() {
      if (current?.tracing !== tracing) return;
      current = undefined;
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
  current = { tracing, provider };
  return tracing;
}

/** This process's tracing, when started. */
export function activeTracing(): Tracing | undefined {
  return current?.tracing;
}

let lastSent: { sc: SpanContext; traceparent: string } | undefined;

/**
 * The W3C traceparent of the active span when its trace is sampled; undefined when tracing is
 * off, no span is active or the trace is not sampled (so an unsampled job's tasks carry no header
 * and the workers do no span work for them). Called once per task: the string of the last span
 * context is kept.
 */
export function currentTraceparent(): string | undefined {
  if (current === undefined) return undefined;
  const sc = trace.getSpanContext(context.active());
  if (sc === undefined || (sc.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  if (lastSent?.sc !== sc) lastSent = { sc, traceparent: `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}` };
  return lastSent.traceparent;
}

/** Whether a W3C traceparent's flags (its last two hex digits) have the sampled bit. */
export function traceparentSampled(traceparent: string): boolean {
  return (parseInt(traceparent.slice(-2), 16) & TraceFlags.SAMPLED) !== 0;
}

let lastParent: { traceparent: string; ctx: Context } | undefined;

/** What a worker records of one try of a shard. */
export interface TaskSpanAttributes {
  readonly jobId: string;
  readonly shardId: string;
  readonly op: string;
  /** The owner's try of the shard (1, 2, ...). */
  readonly attempt: number;
  /** The durable queue's delivery count (1 on a lane). */
  readonly delivery: number;
  readonly workerId: string;
}

/** The spans of one task on a worker: the task's own and, inside it, the kernel's. */
export interface TaskSpans {
  /** Runs the kernel call inside a `gramfleet.kernel` span. */
  kernel<T>(f: () => Promise<T>): Promise<T>;
  /** Ends the task span; `error` marks it failed with the code. */
  end(o: { backend: string; error?: { code: string; message: string } }): void;
}

/**
 * Starts the `gramfleet.task` span of a task whose message carried `traceparent` (its parent);
 * undefined when tracing is off, the message carried none or its trace is not sampled.
 */
export function startTaskSpans(traceparent: string | undefined, a: TaskSpanAttributes): TaskSpans | undefined {
  if (current === undefined || traceparent === undefined || !traceparentSampled(traceparent)) return undefined;
  const tracer = current.tracing.tracer;
  // The tasks of a frame share one traceparent: its parsed context is kept.
  if (lastParent?.traceparent !== traceparent) lastParent = { traceparent, ctx: propagation.extract(ROOT_CONTEXT, { [TRACEPARENT_HEADER]: traceparent }) };
  const parent = lastParent.ctx;
  const attributes: Attributes = {
    'gramfleet.job_id': a.jobId,
    'gramfleet.shard_id': a.shardId,
    'gramfleet.op': a.op,
    'gramfleet.attempt': a.attempt,
    'gramfleet.delivery': a.delivery,
    'gramfleet.worker_id': a.workerId,
    'messaging.system': 'nats',
  };
  const task = tracer.startSpan('gramfleet.task', { kind: SpanKind.CONSUMER, attributes }, parent);
  const inTask = trace.setSpan(parent, task);
  return {
    async kernel<T>(f: () => Promise<T>): Promise<T> {
      const k: Span = tracer.startSpan('gramfleet.kernel', { attributes: { 'gramfleet.op': a.op, 'gramfleet.shard_id': a.shardId } }, inTask);
      // The kernel span is not made the active context (nothing under it starts spans): entering
      // an AsyncLocalStorage turns on promise hooks for the whole worker process (a promise-heavy
      // loop ran 2.8× slower with them; see TracingOptions.activeContext).
      try {
        return await f();
      } catch (e) {
        k.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
        throw e;
      } finally {
        k.end();
      }
    },
    end(o) {
      task.setAttribute('gramfleet.backend', o.backend);
      if (o.error !== undefined) {
        task.setAttribute('gramfleet.error_code', o.error.code);
        task.setStatus({ code: SpanStatusCode.ERROR, message: o.error.message });
      }
      task.end();
    },
  };
}
