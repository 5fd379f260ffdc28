/**
 * Temporal's half of a job's trace (see workers/src/tracing.ts for the whole tree): the
 * interceptors of @temporalio/interceptors-opentelemetry, wired to this process's tracing. The
 * client's interceptor opens `StartWorkflow:<type>` under the caller's span and carries its
 * context in the workflow's headers; in the orchestrator the workflow interceptors open
 * `RunWorkflow:<type>` and `StartActivity:<type>` (inside the deterministic sandbox, sent out
 * through the `exporter` sink), and the activity interceptor opens `RunActivity:<type>`, the
 * context the task client reads when an activity submits tasks.
 */
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { Tracing } from '@gramfleet/workers';

/** What `Worker.create` takes to trace workflows and activities. */
export interface TemporalTracingOptions {
  readonly activity: ActivityInterceptorsFactory[];
  readonly workflowModules: string[];
  readonly sinks: InjectedSinks<Record<string, never>>;
}

/** The orchestrator's worker options for tracing. */
export function temporalTracingOptions(t: Tracing): TemporalTracingOptions {
  const options = { tracer: t.tracer };
  return {
    activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, options), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    workflowModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
    sinks: { exporter: makeWorkflowExporter(t.spanProcessor, t.resource) } as unknown as InjectedSinks<Record<string, never>>,
  };
}

/** The Temporal client's interceptors for a process with tracing on (none when off). */
export function tracingClientInterceptors(t: Tracing | undefined): { workflow: WorkflowClientInterceptor[] } | undefined {
  return t !== undefined ? { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: t.tracer })] } : undefined;
}
