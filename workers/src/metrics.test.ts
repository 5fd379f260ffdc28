import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { TASK_SECONDS_BUCKETS, createProcessMetrics } from './metrics';

/** The value of one sample line `name{labels} value` of an exposition. */
function sample(body: string, line: string): number | undefined {
  const l = body.split('\n').find((x) => x.startsWith(line + ' '));
  return l === undefined ? undefined : Number(l.slice(line.length + 1));
}

describe('process metrics', () => {
  it('counts tasks by op and outcome into a cumulative histogram, bytes, cache hits and redeliveries', async () => {
    const m = createProcessMetrics({ proc: 'wasm-worker', defaultMetrics: false });
    const stats = { fetchMs: 2, computeMs: 8, cacheHits: 1 };
    m.tasks.task('gemm', 'ok', 0.003, stats, [{ bytes: 100 }, { bytes: 28 }], [{ bytes: 64 }], false);
    m.tasks.task('gemm', 'ok', 0.2, stats, [{ bytes: 100 }], [], true);
    m.tasks.task('gemm', 'retryable_error', 400, stats, [], [], false);
    m.tasks.ended('csr-spmv', 'dead_lettered', true);
    const { contentType, body } = await m.render();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(body, 'gramfleet_worker_tasks_total{op="gemm",outcome="ok",proc="wasm-worker"}'), 2);
    assert.equal(sample(body, 'gramfleet_worker_tasks_total{op="gemm",outcome="retryable_error",proc="wasm-worker"}'), 1);
    assert.equal(sample(body, 'gramfleet_worker_tasks_total{op="csr-spmv",outcome="dead_lettered",proc="wasm-worker"}'), 1);
    assert.equal(sample(body, 'gramfleet_worker_redeliveries_total{op="gemm",proc="wasm-worker"}'), 1);
    assert.equal(sample(body, 'gramfleet_worker_redeliveries_total{op="csr-spmv",proc="wasm-worker"}'), 1);
    assert.equal(sample(body, 'gramfleet_worker_task_input_bytes_total{op="gemm",proc="wasm-worker"}'), 228);
    assert.equal(sample(body, 'gramfleet_worker_task_output_bytes_total{op="gemm",proc="wasm-worker"}'), 64);
    assert.equal(sample(body, 'gramfleet_worker_task_cache_hits_total{op="gemm",proc="wasm-worker"}'), 3);
    assert.equal(sample(body, 'gramfleet_worker_task_compute_seconds_total{op="gemm",proc="wasm-worker"}'), 0.024);
    // Buckets are cumulative: 0.003 s falls in le=0.005, 0.2 s in le=0.25, 400 s only in +Inf.
    assert.match(body, /# TYPE gramfleet_worker_task_seconds histogram/);
    const bucket = (le: string): number | undefined => sample(body, `gramfleet_worker_task_seconds_bucket{le="${le}",op="gemm",proc="wasm-worker"}`);
    assert.equal(bucket('0.0025'), 0);
    assert.equal(bucket('0.005'), 1);
    assert.equal(bucket('0.25'), 2);
    assert.equal(bucket(String(TASK_SECONDS_BUCKETS.at(-1))), 2);
    assert.equal(bucket('+Inf'), 3);
    assert.equal(sample(body, 'gramfleet_worker_task_seconds_count{op="gemm",proc="wasm-worker"}'), 3);
    assert.equal(sample(body, 'gramfleet_worker_task_seconds_sum{op="gemm",proc="wasm-worker"}'), 400.203);
  });

  it('reads scrape-time gauges and counters, and appends text sources (a failing one becomes a comment)', async () => {
    const m = createProcessMetrics({ proc: 'orchestrator', defaultMetrics: false });
    let n = 3;
    m.gauge('gramfleet_test_in_flight', 'in flight', () => n);
    m.counter('gramfleet_test_reads_total', 'reads', () => Promise.resolve([[{ tier: 'cache' }, 5]] as const), ['tier']);
    m.appendText('sdk', () => Promise.resolve('# TYPE temporal_x counter\ntemporal_x 1\n'));
    m.appendText('gone', () => Promise.reject(new Error('connection\nrefused')));
    let { body } = await m.render();
    assert.equal(sample(body, 'gramfleet_test_in_flight{proc="orchestrator"}'), 3);
    assert.equal(sample(body, 'gramfleet_test_reads_total{tier="cache",proc="orchestrator"}'), 5);
    assert.equal(sample(body, 'temporal_x'), 1);
    assert.match(body, /^# gone not available: connection refused$/m);
    n = 0;
    ({ body } = await m.render());
    assert.equal(sample(body, 'gramfleet_test_in_flight{proc="orchestrator"}'), 0);
  });
});
