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
 * The OpenTelemetry API is global per process, so there is one provider per process: a second
 * {@link startTracing} returns the first.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';

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
}

let current: { tracing: Tracing; provider: BasicTracerProvider } | undefined;

/** Starts tracing in this process (idempotent: a second call returns the first's). */
export function startTracing(o: TracingOptions): Tracing {
  if (current !== undefined) return current.tracing;
  const resource = new Resource({ 'service.name': o.serviceName, ...o.attributes });
  const exporter = o.exporter ?? new OTLPTraceExporter({ url: `${o.endpoint.replace(/\/+$/, '')}/v1/traces` });
  // Batched: spans leave in the background, at most every 500 ms, so the task path only records.
  const spanProcessor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500, maxQueueSize: 65_536, maxExportBatchSize: 2048 });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
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

/** The W3C traceparent of the active span; undefined when tracing is off or no span is active. */
export function currentTraceparent(): string | undefined {
  if (current === undefined) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier[TRACEPARENT_HEADER];
}

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
 * undefined when tracing is off or the message carried none.
 */
export function startTaskSpans(traceparent: string | undefined, a: TaskSpanAttributes): TaskSpans | undefined {
  if (current === undefined || traceparent === undefined) return undefined;
  const tracer = current.tracing.tracer;
  const parent = propagation.extract(ROOT_CONTEXT, { [TRACEPARENT_HEADER]: traceparent });
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
