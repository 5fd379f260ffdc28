/**
 * One job's trace and logs on a real local cluster (issue 25, items 4 and 5). The test runs an
 * OTLP/HTTP receiver: a plain HTTP server that takes what the processes' OTLP exporters POST to
 * /v1/traces and decodes it as ExportTraceServiceRequest with protobufjs, from the message
 * definitions of opentelemetry-proto (trace/v1, common/v1, resource/v1; the fields it reads are
 * written out below), so nothing of the exporters' own encoding is reused. The cluster
 * (orchestrator and 2 WASM workers) and this SDK process export to it (GRAMFLEET_OTLP_ENDPOINT).
 *
 * A GRF job (karate, 7 shards) must give one trace: gramfleet.submit (SDK) → StartWorkflow
 * (Temporal client) → RunWorkflow (orchestrator, through the workflow sink) → StartActivity →
 * RunActivity → gramfleet.task (worker; its parent came in the NATS message's traceparent
 * header) → gramfleet.kernel, with exactly one kernel span per try of a shard and every shard
 * there. The cluster and this process run with GRAMFLEET_OTLP_SAMPLE_RATIO=0, so that job is
 * traced because it is submitted with `trace: true`; a second job, submitted without, is not
 * sampled: it completes with the same result and no process exports a span of it (no task or
 * kernel span either). Then `gramfleet logs --job` (the real CLI) and gatherJobLogs find the job's JSON lines
 * from the orchestrator and from the workers.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import * as protobuf from 'protobufjs';
import { activeTracing } from '@gramfleet/workers';
import { gatherJobLogs } from '@gramfleet/orchestrator/internal';
import { runGramfleet, sharedGraph, startTestCluster, type TestCluster } from './harness';

/** The parts of opentelemetry-proto's collector/trace/v1 request that the test reads (field numbers as upstream). */
const OTLP_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5;
  int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
  Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; bytes bytes_value = 7; } }
`;

interface ReceivedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentId: string;
  readonly name: string;
  readonly attrs: Readonly<Record<string, string | number | boolean>>;
}

interface DecodedAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number;
  doubleValue?: number;
}
interface DecodedKv {
  key: string;
  value?: DecodedAnyValue;
}
interface DecodedRequest {
  resourceSpans?: {
    resource?: { attributes?: DecodedKv[] };
    scopeSpans?: { spans?: { traceId: Uint8Array; spanId: Uint8Array; parentSpanId: Uint8Array; name: string; attributes?: DecodedKv[] }[] }[];
  }[];
}

function attrs(kvs: readonly DecodedKv[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of kvs ?? []) {
    const v = kv.value;
    if (v?.stringValue !== undefined) out[kv.key] = v.stringValue;
    else if (v?.boolValue !== undefined) out[kv.key] = v.boolValue;
    else if (v?.intValue !== undefined) out[kv.key] = v.intValue;
    else if (v?.doubleValue !== undefined) out[kv.key] = v.doubleValue;
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A real OTLP/HTTP endpoint: POST /v1/traces with a protobuf body (gzip or not), answered 200 with an empty response. */
async function startOtlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; requests: () => number; close(): Promise<void> }> {
  const Request = protobuf.parse(OTLP_PROTO).root.lookupType('otlp.ExportTraceServiceRequest');
  const spans: ReceivedSpan[] = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !(req.headers['content-type'] ?? '').startsWith('application/x-protobuf')) {
        res.writeHead(404).end();
        return;
      }
      requests++;
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      const msg = Request.toObject(Request.decode(body), { defaults: false, longs: Number }) as DecodedRequest;
      for (const rs of msg.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            spans.push({
              service,
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentId: s.parentSpanId !== undefined ? hex(s.parentSpanId) : '',
              name: s.name,
              attrs: attrs(s.attributes),
            });
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests: () => requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe('a job traced over OTLP, and its logs gathered, on a real local cluster', () => {
  let t: TestCluster;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  const before_ = process.env['GRAMFLEET_OTLP_ENDPOINT'];
  const beforeRatio = process.env['GRAMFLEET_OTLP_SAMPLE_RATIO'];
  before(async () => {
    otlp = await startOtlpReceiver();
    // The cluster's processes inherit them, and connect() in this process reads them.
    process.env['GRAMFLEET_OTLP_ENDPOINT'] = otlp.url;
    process.env['GRAMFLEET_OTLP_SAMPLE_RATIO'] = '0';
    t = await startTestCluster('tracing', { workers: 2, logLevel: 'debug' });
  });
  after(async () => {
    await t?.stop();
    await activeTracing()?.shutdown();
    await otlp?.close();
    if (before_ === undefined) delete process.env['GRAMFLEET_OTLP_ENDPOINT'];
    else process.env['GRAMFLEET_OTLP_ENDPOINT'] = before_;
    if (beforeRatio === undefined) delete process.env['GRAMFLEET_OTLP_SAMPLE_RATIO'];
    else process.env['GRAMFLEET_OTLP_SAMPLE_RATIO'] = beforeRatio;
  });

  let jobId = '';
  let traced: unknown;
  const spec = () =>
    ({
      kind: 'grf',
      graph: sharedGraph('karate.adjlist'),
      kernel: 'reg-laplacian',
      scale: 0.25,
      walks: 8,
      pHalt: 0.5,
      seed: 5,
      shardNodes: 5,
    }) as const;
  it('one trace from submit to each kernel run: the right parents, one kernel span per try of each shard', async () => {
    const h = await t.fleet.submit(spec(), { trace: true });
    jobId = h.jobId;
    const r = await h.result();
    assert.equal(r.shards, 7);
    traced = { n: r.n, phi: r.phi, nnz: r.nnz, shards: r.shards };
    await activeTracing()?.flush();
    // Spans leave each process in batches (every 500 ms): wait until the workflow's and every shard's are in.
    const shardsWithKernel = (): Set<string> =>
      new Set(
        otlp.spans.filter((s) => s.name === 'gramfleet.kernel' && s.attrs['gramfleet.op'] === 'grf-walks').map((s) => String(s.attrs['gramfleet.shard_id'])),
      );
    while (shardsWithKernel().size < 7 || !otlp.spans.some((s) => s.name.startsWith('RunWorkflow:') && s.attrs['workflowId'] === jobId)) await sleep(200);
    await sleep(1200); // one more export interval: late spans of the same job (a retry) are in too

    const submit = otlp.spans.filter((s) => s.name === 'gramfleet.submit' && s.attrs['gramfleet.job_id'] === jobId);
    assert.equal(submit.length, 1, 'one submit span');
    const root = submit[0]!;
    assert.equal(root.parentId, '', 'submit is the root');
    assert.equal(root.service, 'gramfleet-sdk');
    const trace = otlp.spans.filter((s) => s.traceId === root.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const parentOf = (s: ReceivedSpan): ReceivedSpan | undefined => byId.get(s.parentId);

    // Every span that names the job is in this one trace.
    const ofJob = otlp.spans.filter((s) => [s.attrs['gramfleet.job_id'], s.attrs['temporalWorkflowId'], s.attrs['workflowId']].includes(jobId));
    assert.deepEqual([...new Set(ofJob.map((s) => s.traceId))], [root.traceId], 'one trace');

    const start = trace.filter((s) => s.name.startsWith('StartWorkflow:'));
    assert.equal(start.length, 1);
    assert.equal(start[0]!.parentId, root.spanId, 'StartWorkflow under submit');
    const run = trace.filter((s) => s.name.startsWith('RunWorkflow:'));
    assert.equal(run.length, 1);
    assert.equal(run[0]!.parentId, start[0]!.spanId, 'RunWorkflow under StartWorkflow');
    assert.equal(run[0]!.service, 'gramfleet-orchestrator');
    for (const s of trace.filter((x) => x.name.startsWith('StartActivity:')))
      assert.ok(parentOf(s)?.name.startsWith('RunWorkflow:'), `${s.name} under the workflow`);
    const runActivities = trace.filter((s) => s.name.startsWith('RunActivity:'));
    assert.ok(runActivities.length > 0);
    for (const s of runActivities) assert.ok(parentOf(s)?.name.startsWith('StartActivity:'), `${s.name} under its StartActivity`);

    const tasks = trace.filter((s) => s.name === 'gramfleet.task');
    const kernels = trace.filter((s) => s.name === 'gramfleet.kernel');
    assert.ok(tasks.length >= 7);
    for (const s of tasks) {
      assert.equal(s.service, 'gramfleet-worker');
      assert.equal(s.attrs['messaging.system'], 'nats');
      assert.equal(s.attrs['gramfleet.job_id'], jobId);
      assert.ok(
        parentOf(s)?.name.startsWith('RunActivity:'),
        `task ${String(s.attrs['gramfleet.shard_id'])} under the activity that sent it (context from the NATS header)`,
      );
    }
    // One kernel span per try of a shard, each under its task span.
    const tries = tasks.map(
      (s) => `${String(s.attrs['gramfleet.shard_id'])}#${String(s.attrs['gramfleet.attempt'])}/${String(s.attrs['gramfleet.worker_id'])}`,
    );
    assert.equal(new Set(tries).size, tries.length, `each try once: ${tries.join(' ')}`);
    assert.equal(kernels.length, tasks.length, 'one kernel span per task span');
    for (const k of kernels) {
      const task = parentOf(k);
      assert.equal(task?.name, 'gramfleet.task');
      assert.equal(k.attrs['gramfleet.shard_id'], task?.attrs['gramfleet.shard_id']);
      assert.equal(kernels.filter((x) => x.parentId === k.parentId).length, 1);
    }
    assert.equal(shardsWithKernel().size, 7, 'every shard ran a kernel in this trace');
  });

  it('a job not sampled (ratio 0, no trace: true) runs to the same result and exports no span', async () => {
    assert.notEqual(traced, undefined, 'the traced job of the first test ran');
    const before = otlp.spans.length;
    const h = await t.fleet.submit(spec());
    const r = await h.result();
    assert.deepEqual({ n: r.n, phi: r.phi, nnz: r.nnz, shards: r.shards }, traced, 'the same result (the same Φ, by digest) as the traced job');
    await activeTracing()?.flush();
    await sleep(1500); // three export intervals of the cluster's processes
    const late = otlp.spans.slice(before);
    const ofJob = late.filter((s) => [s.attrs['gramfleet.job_id'], s.attrs['temporalWorkflowId'], s.attrs['workflowId']].includes(h.jobId));
    assert.deepEqual(ofJob, [], 'no span names the job');
    assert.deepEqual(
      late.filter((s) => s.name === 'gramfleet.task' || s.name === 'gramfleet.kernel'),
      [],
      'no task or kernel span (the tasks carried no sampled traceparent)',
    );
    assert.equal(activeTracing()?.stats().dropped, 0);
  });

  it("gramfleet logs --job gathers the job's JSON lines from the orchestrator and the workers", async () => {
    assert.notEqual(jobId, '', 'the job of the first test ran');
    const lines = await gatherJobLogs(t.dir, jobId);
    const procs = new Set(lines.map((l) => l.proc));
    assert.ok(procs.has('orchestrator'), `orchestrator lines: ${[...procs].join(', ')}`);
    assert.ok(
      [...procs].some((p) => p.startsWith('worker-')),
      `worker lines: ${[...procs].join(', ')}`,
    );
    for (const l of lines.filter((x) => x.proc !== 'temporal' && x.proc !== 'nats'))
      assert.equal(l.record?.['jobId'] ?? l.record?.['workflowId'], jobId, l.line);
    // Worker lines name the shards they ran.
    const shards = new Set(lines.filter((l) => l.proc.startsWith('worker-') && l.record?.['msg'] === 'shard done').map((l) => l.record?.['shardId']));
    assert.equal(shards.size, 7);
    const cli = await runGramfleet(['logs', '--job', jobId, '--data-dir', t.dir, '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const recs = cli.stdout
      .trim()
      .split('\n')
      .map((x) => JSON.parse(x) as Record<string, unknown>);
    assert.equal(recs.length, lines.length);
    assert.ok(
      recs.some((x) => x['log'] === 'orchestrator' && x['msg'] === 'Workflow completed' && x['jobId'] === jobId),
      'the workflow log, through the JSON Temporal logger',
    );
    assert.ok(recs.some((x) => String(x['log']).startsWith('worker-') && x['msg'] === 'shard done'));
    // `gramfleet jobs logs ID` prints the same lines.
    const viaJobs = await runGramfleet(['jobs', 'logs', jobId, '--data-dir', t.dir, '--json']);
    assert.equal(viaJobs.code, 0, viaJobs.stderr);
    // (the job has ended, but a late line of it may still be written between the two calls)
    assert.ok(viaJobs.stdout.startsWith(cli.stdout), 'jobs logs prints what logs --job printed');
    const none = await runGramfleet(['jobs', 'logs', 'no-such-job', '--data-dir', t.dir]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no log line of job no-such-job/);
  });
});
