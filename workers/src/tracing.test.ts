/**
 * Tracing's sampling and export queue (workers/src/tracing.ts), in this process with an
 * exporter that keeps what it is given: a root span is sampled with the ratio or when marked
 * `gramfleet.trace`; an unsampled trace gives no traceparent to send and no task spans on a
 * worker; a sampled one gives the task and kernel spans under the sender's span; spans ended
 * while the queue is full are dropped and counted, and a failed export is counted (in
 * `Tracing.stats()` and in /metrics as `gramfleet_trace_spans_total{outcome}`).
 */
import { afterEach, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createProcessMetrics } from './metrics';
import { FORCE_TRACE_ATTRIBUTE, activeTracing, currentTraceparent, startTaskSpans, startTracing, traceparentSampled } from './tracing';

/** Keeps every exported span; `fail` answers every export with FAILED. */
function memoryExporter(fail = false): SpanExporter & { spans: ReadableSpan[] } {
  const spans: ReadableSpan[] = [];
  return {
    spans,
    export(batch: ReadableSpan[], done: (r: ExportResult) => void): void {
      if (!fail) spans.push(...batch);
      setImmediate(() => done({ code: fail ? ExportResultCode.FAILED : ExportResultCode.SUCCESS }));
    },
    shutdown: async () => undefined,
  };
}

const task = { jobId: 'j1', shardId: 's1', op: 'grf-walks', attempt: 1, delivery: 1, workerId: 'w1' };

describe('tracing: head sampling and the bounded export queue', () => {
  afterEach(async () => {
    await activeTracing()?.shutdown();
  });

  it('ratio 0: an unsampled root gives no traceparent and no spans; gramfleet.trace forces one trace, task and kernel spans under it', async () => {
    const exporter = memoryExporter();
    const t = startTracing({ endpoint: 'http://127.0.0.1:1', serviceName: 'test', exporter, sampleRatio: 0 });
    const unsampled = t.tracer.startActiveSpan('root', (span) => {
      assert.equal(span.isRecording(), false);
      const tp = currentTraceparent();
      span.end();
      return tp;
    });
    assert.equal(unsampled, undefined, 'no header for an unsampled job');
    // A worker given an unsampled traceparent (another owner's) starts nothing.
    const off = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    assert.equal(traceparentSampled(off), false);
    assert.equal(startTaskSpans(off, task), undefined);

    const { tp, rootId } = await t.tracer.startActiveSpan('forced', { attributes: { [FORCE_TRACE_ATTRIBUTE]: true } }, async (span) => {
      assert.equal(span.isRecording(), true);
      const x = { tp: currentTraceparent(), rootId: span.spanContext() };
      span.end();
      return x;
    });
    assert.equal(tp, `00-${rootId.traceId}-${rootId.spanId}-01`);
    assert.ok(traceparentSampled(tp!));
    const spans = startTaskSpans(tp, task);
    assert.ok(spans !== undefined);
    assert.equal(await spans.kernel(async () => 42), 42);
    spans.end({ backend: 'wasm' });
    await t.flush();

    const byName = new Map(exporter.spans.map((s) => [s.name, s]));
    assert.deepEqual([...byName.keys()].sort(), ['forced', 'gramfleet.kernel', 'gramfleet.task'], 'nothing of the unsampled root');
    const taskSpan = byName.get('gramfleet.task')!;
    const kernelSpan = byName.get('gramfleet.kernel')!;
    for (const s of [taskSpan, kernelSpan]) assert.equal(s.spanContext().traceId, rootId.traceId, 'one trace');
    assert.equal(taskSpan.parentSpanId, rootId.spanId, 'the task under the sender');
    assert.equal(kernelSpan.parentSpanId, taskSpan.spanContext().spanId, 'the kernel under the task');
    assert.equal(taskSpan.attributes['gramfleet.shard_id'], 's1');
    assert.deepEqual(t.stats(), { exported: 3, dropped: 0, failed: 0 });
  });

  it('ratio 0.25: about a quarter of roots are sampled, and their children with them', () => {
    const t = startTracing({ endpoint: 'http://127.0.0.1:1', serviceName: 'test', exporter: memoryExporter(), sampleRatio: 0.25 });
    const n = 4000;
    let sampled = 0;
    for (let i = 0; i < n; i++) {
      const root = t.tracer.startSpan('root');
      const child = t.tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, root));
      assert.equal(child.isRecording(), root.isRecording(), 'a child follows its parent');
      if (root.isRecording()) sampled++;
      child.end();
      root.end();
    }
    // Binomial(4000, 0.25): mean 1000, sd 27.4; 6 sd either side.
    assert.ok(Math.abs(sampled - n * 0.25) < 6 * Math.sqrt(n * 0.25 * 0.75), `${sampled} of ${n} sampled`);
  });

  it('a full queue drops spans and counts them; a failed export is counted; a ratio outside [0, 1] is refused', async () => {
    assert.throws(() => startTracing({ endpoint: 'http://127.0.0.1:1', serviceName: 'test', sampleRatio: 1.5 }), {
      code: 'INPUT_OUT_OF_RANGE',
      details: { field: 'otlpSampleRatio', bound: 'a number in [0, 1]', value: 1.5 },
    });
    assert.equal(activeTracing(), undefined);
    const t = startTracing({ endpoint: 'http://127.0.0.1:1', serviceName: 'test', exporter: memoryExporter(true), sampleRatio: 1, maxQueueSize: 4 });
    for (let i = 0; i < 10; i++) t.tracer.startSpan(`s${i}`).end();
    assert.equal(t.stats().dropped, 6);
    await t.flush();
    assert.deepEqual(t.stats(), { exported: 0, dropped: 6, failed: 4 });
    // and /metrics shows them
    const body = (await createProcessMetrics({ proc: 'test', defaultMetrics: false }).render()).body;
    assert.match(body, /^gramfleet_trace_spans_total\{outcome="dropped",proc="test"\} 6$/m);
    assert.match(body, /^gramfleet_trace_spans_total\{outcome="failed",proc="test"\} 4$/m);
    assert.match(body, /^gramfleet_trace_spans_total\{outcome="exported",proc="test"\} 0$/m);
  });
});
