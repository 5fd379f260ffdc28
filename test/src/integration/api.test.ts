/**
 * The jobs HTTP API on a real local cluster (Temporal dev server, nats-server, orchestrator, a
 * WASM worker) with the API process started as `gramfleet up` starts it, and its tokens made by
 * the real CLI: the OpenAPI document; 401 with a typed body for a missing, malformed, unknown,
 * revoked and expired token; a graph uploaded as an object (same bytes, same id) and a GRF job
 * submitted, followed as server-sent events, listed, described and its Φ downloaded as a scipy
 * `.npz` equal byte for byte to the float64 reference; typed 400s for a path given as a file
 * parameter, an unknown kind and a bad parameter; 404 for an unknown job, campaign and object; a
 * running job's result is 409 and cancelling it over HTTP ends it cancelled (its result then 422).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { csrFromNpz, decodeNpz } from '@gramfleet/orchestrator';
import { TokenStore } from '@gramfleet/orchestrator/internal';
import { contextAddFlags, CLI_ENTRY_SCRIPT, grfReference, runGramfleet, sharedGraph, startTestCluster, type TestCluster } from './harness';

interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

describe('jobs HTTP API (real cluster, real CLI tokens)', () => {
  let t: TestCluster;
  let url: string;
  let token: string;
  const call = async (method: string, p: string, body?: unknown, tok: string | null = token): Promise<{ status: number; json: unknown }> => {
    const headers: Record<string, string> = {};
    if (tok !== null) headers['authorization'] = `Bearer ${tok}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${url}${p}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: r.status, json: await r.json() };
  };
  const expectError = (r: { status: number; json: unknown }, status: number, code: string, field?: string): ErrorBody => {
    const e = r.json as ErrorBody;
    assert.equal(r.status, status, JSON.stringify(e));
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.startsWith(`[${code}]`), e.message);
    assert.equal(typeof e.details, 'object');
    if (field !== undefined) assert.equal(e.details['field'], field, e.message);
    return e;
  };

  before(async () => {
    t = await startTestCluster('api', { workers: 1 });
    url = await t.cluster.startApi();
    assert.equal(t.cluster.state.apiUrl, url);
    const made = await runGramfleet(['token', 'create', '--name', 'api test', '--json', '--data-dir', t.dir]);
    assert.equal(made.code, 0, made.stderr);
    token = (JSON.parse(made.stdout) as { token: string }).token;
  });
  after(async () => {
    await t?.stop();
  });

  it('serves its OpenAPI 3 document at /openapi.json without a token', async () => {
    const r = await fetch(`${url}/openapi.json`);
    assert.equal(r.status, 200);
    const doc = (await r.json()) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { securitySchemes: unknown } };
    assert.match(doc.openapi, /^3\./);
    for (const p of [
      '/v1/jobs',
      '/v1/jobs/{jobId}',
      '/v1/jobs/{jobId}/cancel',
      '/v1/jobs/{jobId}/result',
      '/v1/jobs/{jobId}/events',
      '/v1/objects',
      '/v1/objects/{id}',
    ])
      assert.ok(doc.paths[p] !== undefined, `the document lists ${p}: ${Object.keys(doc.paths).join(', ')}`);
    assert.ok(doc.paths['/v1/objects']?.['post'] !== undefined);
    assert.ok(doc.components.securitySchemes !== undefined);
  });

  it('refuses a missing, malformed, unknown, revoked or expired token with 401 and a typed body', async () => {
    expectError(await call('GET', '/v1/jobs', undefined, null), 401, 'API_UNAUTHENTICATED', 'authorization');
    expectError(await call('GET', '/v1/jobs', undefined, 'not-a-token'), 401, 'API_UNAUTHENTICATED', 'authorization');
    const [, id] = /^gft_([0-9a-f]{12})_/.exec(token)!;
    expectError(await call('GET', '/v1/jobs', undefined, `gft_${id}_${'A'.repeat(43)}`), 401, 'API_UNAUTHENTICATED', 'authorization');
    const tokens = TokenStore.of(t.dir);
    const expired = tokens.create({ name: 'expired', ttlMs: 60_000, now: new Date(Date.now() - 3_600_000) });
    const e = expectError(await call('GET', '/v1/jobs', undefined, expired.token), 401, 'API_TOKEN_EXPIRED', 'authorization');
    assert.equal(e.details['expiresAt'], expired.record.expiresAt);
    const revoked = await runGramfleet(['token', 'create', '--json', '--data-dir', t.dir]);
    const r = JSON.parse(revoked.stdout) as { token: string; id: string };
    assert.equal((await call('GET', '/v1/jobs', undefined, r.token)).status, 200);
    const rv = await runGramfleet(['token', 'revoke', r.id, '--data-dir', t.dir]);
    assert.equal(rv.code, 0, rv.stderr);
    expectError(await call('GET', '/v1/jobs', undefined, r.token), 401, 'API_UNAUTHENTICATED', 'authorization');
    const listed = await runGramfleet(['token', 'list', '--json', '--data-dir', t.dir]);
    const states = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; state: string; hash?: string });
    assert.deepEqual(states.find((s) => s.id === r.id)?.state, 'revoked');
    assert.deepEqual(states.find((s) => s.id === expired.record.id)?.state, 'expired');
    assert.ok(
      states.every((s) => s.hash === undefined),
      'list never prints hashes',
    );
    assert.ok(!fs.readFileSync(tokens.file, 'utf8').includes(token), 'the token itself is not stored');
  });

  it('runs a GRF job from an uploaded graph: events, list, status, and Φ equal to the float64 reference', async () => {
    const graph = sharedGraph('cora.npz');
    const bytes = fs.readFileSync(graph);
    const up = async (): Promise<{ id: string; format: string; bytes: number }> => {
      const r = await fetch(`${url}/v1/objects`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      assert.equal(r.status, 201);
      return (await r.json()) as { id: string; format: string; bytes: number };
    };
    const o = await up();
    assert.equal(o.format, 'npz');
    assert.equal(o.bytes, bytes.length);
    assert.equal((await up()).id, o.id, 'the same bytes give the same object');
    const down = await fetch(`${url}/v1/objects/${o.id}`, { headers: { authorization: `Bearer ${token}` } });
    assert.ok(Buffer.from(await down.arrayBuffer()).equals(bytes), 'an object downloads as uploaded');

    const params = { kernel: 'diffusion', scale: 0.5, walks: 8, pHalt: 0.5, seed: 3 };
    const sub = await call('POST', '/v1/jobs', { kind: 'grf', graph: { $object: o.id }, ...params });
    assert.equal(sub.status, 201, JSON.stringify(sub.json));
    const { jobId } = sub.json as { jobId: string };

    // Server-sent events until the end event.
    const ev = await fetch(`${url}/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ev.status, 200);
    assert.match(ev.headers.get('content-type') ?? '', /^text\/event-stream/);
    const text = await ev.text();
    const events = text
      .split('\n\n')
      .filter((b) => b.startsWith('event:'))
      .map((b) => ({ event: /^event: (.*)$/m.exec(b)![1], data: JSON.parse(/^data: (.*)$/m.exec(b)![1]!) as Record<string, unknown> }));
    const end = events.at(-1)!;
    assert.equal(end.event, 'end', text);
    assert.equal(end.data['state'], 'completed');
    assert.ok(events.slice(0, -1).every((e) => e.event === 'progress'));

    const st = await call('GET', `/v1/jobs/${jobId}`);
    assert.equal((st.json as { state: string; kind: string }).state, 'completed');
    assert.equal((st.json as { state: string; kind: string }).kind, 'grf');
    const listed = await call('GET', '/v1/jobs?kind=grf&state=completed');
    assert.ok(
      (listed.json as { jobs: { jobId: string }[] }).jobs.some((j) => j.jobId === jobId),
      JSON.stringify(listed.json),
    );

    const res = await call('GET', `/v1/jobs/${jobId}/result`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const result = (res.json as { result: { n: number; phi: { $object: string; format: string; sparse: string; shape: number[] }[] } }).result;
    const phiRef = result.phi[0]!;
    assert.equal(phiRef.format, 'npz');
    assert.equal(phiRef.sparse, 'csr');
    const phiBytes = new Uint8Array(
      await (await fetch(`${url}/v1/objects/${phiRef.$object}`, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer(),
    );
    const phi = csrFromNpz(decodeNpz(phiBytes));
    const { phi: ref } = await grfReference({ graph, ...params });
    assert.equal(result.n, ref[0]!.data.length - 1);
    assert.deepEqual(phiRef.shape, [phi.shape[0], phi.shape[1]]);
    assert.deepEqual(phi.indptr, ref[0]!.data);
    assert.deepEqual(phi.indices, ref[1]!.data);
    assert.deepEqual(phi.data, ref[2]!.data);

    const c = await call('POST', `/v1/jobs/${jobId}/cancel`);
    assert.equal(c.status, 200);
    assert.equal((c.json as { cancelRequested: boolean }).cancelRequested, false, 'a finished job is not cancelled');
  });

  it('a running job: its result is 409 API_JOB_RUNNING; cancelled over HTTP it ends cancelled and its result is 422 JOB_CANCELLED', async () => {
    // EigenPro with 100,000 epochs runs until it is cancelled.
    const n = 60;
    const d = 3;
    const x = Array.from({ length: n * d }, (_, i) => ((i * 7919) % 101) / 101);
    const y = Array.from({ length: n }, (_, i) => ((x[i * d] as number) + (x[i * d + 1] as number) > 1 ? 1 : 0));
    const sub = await call('POST', '/v1/jobs', {
      kind: 'eigenpro',
      train: { rows: n, cols: d, data: x },
      trainLabels: { rows: n, cols: 1, data: y },
      kernel: 'laplacian',
      bandwidth: 0.5,
      epochs: 100_000,
      seed: 3,
    });
    assert.equal(sub.status, 201, JSON.stringify(sub.json));
    const { jobId } = sub.json as { jobId: string };
    const running = expectError(await call('GET', `/v1/jobs/${jobId}/result`), 409, 'API_JOB_RUNNING');
    assert.equal(running.details['jobId'], jobId);
    const st = await call('GET', `/v1/jobs/${jobId}`);
    assert.equal(st.status, 200, JSON.stringify(st.json));
    assert.equal((st.json as { state: string }).state, 'running');
    assert.equal((st.json as { kind: string }).kind, 'eigenpro');
    assert.equal(typeof (st.json as { runId: unknown }).runId, 'string', "the description is the jobs service's");

    const c = await call('POST', `/v1/jobs/${jobId}/cancel`);
    assert.equal(c.status, 200, JSON.stringify(c.json));
    assert.deepEqual(c.json, { jobId, kind: 'eigenpro', state: 'running', cancelRequested: true });
    // The events stream ends with the job cancelled.
    const ev = await fetch(`${url}/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${token}` } });
    const text = await ev.text();
    const end = /event: end\ndata: (.*)\n/.exec(text);
    assert.ok(end !== null, text);
    const ended = JSON.parse(end[1]!) as { state: string; error?: { code: string } };
    assert.equal(ended.state, 'cancelled', end[1]);
    assert.equal(ended.error?.code, 'JOB_CANCELLED', end[1]);
    expectError(await call('GET', `/v1/jobs/${jobId}/result`), 422, 'JOB_CANCELLED');
    const again = await call('POST', `/v1/jobs/${jobId}/cancel`);
    assert.equal((again.json as { cancelRequested: boolean; state: string }).cancelRequested, false);
    assert.equal((again.json as { cancelRequested: boolean; state: string }).state, 'cancelled');
  });

  it("gramfleet api --context NAME serves a remote cluster: its own tokens and objects, the cluster's jobs", async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-api-remote-'));
    const env = { GRAMFLEET_CONTEXTS_FILE: path.join(home, 'contexts.json'), GRAMFLEET_HOME: path.join(home, 'no-local-cluster') };
    const add = await runGramfleet(['context', 'add', 'lab', ...contextAddFlags(t)], { cwd: home, env });
    assert.equal(add.code, 0, add.stderr);
    const apiDir = path.join(home, 'api-state');
    const child = spawn(process.execPath, [CLI_ENTRY_SCRIPT, 'api', '--context', 'lab', '--data-dir', apiDir, '--port', '0'], {
      cwd: home,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    try {
      const remoteUrl = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /jobs API on (http:\/\/\S+)/.exec(out);
          if (m !== null) resolve(m[1] as string);
        });
        child.once('close', (code) => reject(new Error(`gramfleet api exited ${String(code)}: ${stderr}`)));
      });
      const made = await runGramfleet(['token', 'create', '--json', '--data-dir', apiDir], { cwd: home, env });
      assert.equal(made.code, 0, made.stderr);
      const tok = (JSON.parse(made.stdout) as { token: string }).token;
      const h = { authorization: `Bearer ${tok}` };
      // The local cluster's token is not this API's.
      assert.equal((await fetch(`${remoteUrl}/v1/jobs`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
      const up = await fetch(`${remoteUrl}/v1/objects`, {
        method: 'POST',
        headers: { ...h, 'content-type': 'application/octet-stream' },
        body: fs.readFileSync(sharedGraph('cora.npz')),
      });
      assert.equal(up.status, 201);
      const { id } = (await up.json()) as { id: string };
      assert.ok(fs.existsSync(path.join(apiDir, 'api', 'objects', `${id}.npz`)), "the object is kept in the API's own directory");
      const sub = await fetch(`${remoteUrl}/v1/jobs`, {
        method: 'POST',
        headers: { ...h, 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'grf', graph: { $object: id }, kernel: 'diffusion', scale: 0.5, walks: 8, pHalt: 0.5, seed: 3 }),
      });
      assert.equal(sub.status, 201, await sub.clone().text());
      const { jobId } = (await sub.json()) as { jobId: string };
      const ev = await (await fetch(`${remoteUrl}/v1/jobs/${jobId}/events`, { headers: h })).text();
      assert.match(ev, /event: end\ndata: .*"state":"completed"/);
      const res = await fetch(`${remoteUrl}/v1/jobs/${jobId}/result`, { headers: h });
      assert.equal(res.status, 200);
      // The same job through the local cluster's API: it is the cluster's job.
      assert.equal((await call('GET', `/v1/jobs/${jobId}`)).status, 200);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const closed = new Promise((r) => child.once('close', r));
        child.kill('SIGTERM');
        await closed;
      }
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('answers bad requests with typed errors naming the field', async () => {
    expectError(await call('POST', '/v1/jobs', { kind: 'grf', graph: sharedGraph('cora.npz'), walks: 4 }), 400, 'INPUT_INVALID', 'graph');
    expectError(await call('POST', '/v1/jobs', { kind: 'grff' }), 400, 'INPUT_INVALID', 'kind');
    expectError(await call('POST', '/v1/jobs', { kind: 'grf', graph: { $object: 'f'.repeat(64) } }), 404, 'API_NOT_FOUND', 'graph');
    expectError(await call('POST', '/v1/jobs', { kind: 'grf', grpah: 1 }), 400, 'INPUT_INVALID', 'grpah');
    expectError(await call('GET', '/v1/jobs/no-such-job'), 404, 'JOB_NOT_FOUND', 'jobId');
    expectError(await call('POST', '/v1/jobs/no-such-job/cancel'), 404, 'JOB_NOT_FOUND', 'jobId');
    expectError(await call('GET', '/v1/jobs/no-such-job/result'), 404, 'JOB_NOT_FOUND', 'jobId');
    expectError(await call('GET', '/v1/campaigns/no-such-campaign'), 404, 'API_NOT_FOUND', 'campaignId');
    expectError(await call('GET', '/v1/campaigns/no-such-campaign/rows'), 404, 'API_NOT_FOUND', 'campaignId');
    expectError(await call('POST', '/v1/campaigns/no-such-campaign/cancel'), 404, 'API_NOT_FOUND', 'campaignId');
    expectError(await call('GET', `/v1/objects/${'0'.repeat(64)}`), 404, 'API_NOT_FOUND');
    expectError(await call('GET', '/v1/jobs?state=runing'), 400, 'INPUT_INVALID');
    const notNpy = await fetch(`${url}/v1/objects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: 'hello',
    });
    expectError({ status: notNpy.status, json: await notNpy.json() }, 400, 'INPUT_INVALID', 'body');
  });
});
