/**
 * The jobs HTTP API: submit a job of any workload kind, list, describe and cancel jobs, read
 * their results, upload and download `.npy`/`.npz` objects (streamed), follow a job's progress
 * as server-sent events; its OpenAPI 3 document is served at {@link OPENAPI_PATH}.
 *
 * Built on fastify, with request and response schemas written once in TypeBox (they validate
 * requests, type the handlers and make the OpenAPI document through @fastify/swagger).
 *
 * Semantics:
 * - Every route but the OpenAPI document and `/v1/health` needs `Authorization: Bearer <token>`
 *   with a token made by `gramfleet token create` (./tokens.ts); a missing, malformed, unknown or
 *   revoked token is 401 `API_UNAUTHENTICATED`, an expired one 401 `API_TOKEN_EXPIRED`.
 * - Every error is a JSON body `{ code, message, details }` with a code of the catalogue
 *   (core/src/errors.ts); the HTTP status follows the code ({@link httpStatusOf}).
 * - A job is submitted as `{ kind, ...params }`, the same spec the SDK's `fleet.submit` takes
 *   (so the same validation, the same typed errors naming the field, the same upload by
 *   digest); a file parameter of the workload (`ParamDoc.file`) is given as an uploaded object,
 *   `{ "$object": id }`, never as a path on the server.
 * - Jobs are listed, described and cancelled by the one jobs service (../jobs/service.ts, the
 *   connection's `fleet.jobs`), as the CLI and the SDK do: the same states, the same typed errors
 *   (an unknown job is 404 `JOB_NOT_FOUND`).
 * - A result is JSON with each array replaced by an object reference (./results.ts).
 */
import type { Readable } from 'node:stream';
import * as fs from 'node:fs';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { Type, type Static, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { GramfleetError, isGramfleetError, type CampaignSpec, type ErrorCode, type Logger } from '@gramfleet/core';
import type { Fleet } from '../client/fleet';
import type { CampaignHandle } from '../campaign/client';
import type { JobKind, JobSpec } from '../job-types';
import { workloadFor } from '../registry';
import type { TokenStore } from './tokens';
import { ObjectStore } from './objects';
import { exportResult } from './results';
import { isFileRef } from '../io/objects';
import { JOB_LIST_MAX, JOB_STATES, type JobDescription } from '../jobs/types';

/** Where the OpenAPI 3 document is served. */
export const OPENAPI_PATH = '/openapi.json';

/** How often the events stream looks at a job's progress, ms. */
const EVENTS_POLL_MS = 250;

/** What the server uses. */
export interface ApiServerDeps {
  /** A connection to the cluster (submit, job handles, arrays of results). */
  readonly fleet: Fleet;
  readonly tokens: TokenStore;
  readonly objects: ObjectStore;
  readonly log: Logger;
  /** The API's version in the OpenAPI document. */
  readonly version: string;
}

/** The HTTP status of an error code. */
export function httpStatusOf(code: ErrorCode): number {
  if (code === 'API_UNAUTHENTICATED' || code === 'API_TOKEN_EXPIRED') return 401;
  if (code === 'API_NOT_FOUND' || code === 'JOB_NOT_FOUND' || code === 'STORE_MISSING_OBJECT') return 404;
  if (code === 'API_JOB_RUNNING') return 409;
  if (code === 'INPUT_TOO_LARGE') return 413;
  if (code.startsWith('INPUT_') || code === 'CLI_USAGE') return 400;
  if (code === 'JOB_FAILED' || code === 'JOB_CANCELLED' || code === 'JOB_TIMEOUT') return 422;
  if (code === 'CLUSTER_UNAVAILABLE' || code === 'QUEUE_FULL' || code === 'STORE_FULL' || code === 'CLUSTER_NO_GPU_WORKER') return 503;
  return 500;
}

const ErrorBody = Type.Object(
  {
    code: Type.String({ description: 'a code of the gramfleet error catalogue (core/src/errors.ts), e.g. API_UNAUTHENTICATED, INPUT_INVALID' }),
    message: Type.String({ description: 'starts with [CODE]; says what to fix' }),
    details: Type.Record(Type.String(), Type.Unknown(), { description: 'the field, the bound, the value' }),
  },
  { $id: 'Error', description: 'every error of the API' },
);

const JobState = Type.Union(
  JOB_STATES.map((s) => Type.Literal(s)),
  { description: "Temporal's execution state in lower case" },
);

const Job = Type.Object(
  {
    jobId: Type.String(),
    kind: Type.String({ description: 'workload kind: grf, eigenpro, kron-gp, datagen' }),
    state: JobState,
    startedAt: Type.String({ format: 'date-time' }),
    closedAt: Type.Optional(Type.String({ format: 'date-time' })),
    parentId: Type.Optional(Type.String({ description: "the workflow that started it (a campaign's), when it is a campaign run" })),
    submittedBy: Type.Optional(Type.String({ description: 'user@host of the client that submitted it, when it said' })),
    runId: Type.Optional(Type.String({ description: "the latest run of the job's workflow (described jobs only)" })),
    historyLength: Type.Optional(Type.Integer({ description: "events in the current run's history (described jobs only)" })),
    progress: Type.Optional(Type.Unknown({ description: "the job's progress while it runs (the shape is the kind's)" })),
    error: Type.Optional(
      Type.Object({ code: Type.String(), message: Type.String() }, { description: 'why it did not complete (failed, cancelled, terminated, timed out)' }),
    ),
  },
  { $id: 'Job' },
);

const JobIdParams = Type.Object({ jobId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' }) });
const ObjectIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'sha256 of the bytes, hex' }) });

const ObjectInfo = Type.Object(
  {
    id: Type.String({ description: 'sha256 of the bytes, hex; give it as { "$object": id } in a job spec' }),
    format: Type.Union([Type.Literal('npy'), Type.Literal('npz')]),
    bytes: Type.Integer(),
  },
  { $id: 'Object' },
);

const SubmitBody = Type.Object(
  { kind: Type.String({ description: 'workload kind: grf, eigenpro, kron-gp, datagen' }) },
  {
    additionalProperties: true,
    description:
      'the job spec, as the SDK\'s fleet.submit takes it: kind plus the workload\'s parameters (docs/workloads); a file parameter is an uploaded object, { "$object": id }',
  },
);

const errors = { 400: Type.Ref(ErrorBody), 401: Type.Ref(ErrorBody), 404: Type.Ref(ErrorBody), 500: Type.Ref(ErrorBody), 503: Type.Ref(ErrorBody) };

/**
 * A description without the submitting command's output recipe: it names files on the
 * submitter's machine, which are no business of other API users.
 */
function withoutRecipe(j: JobDescription): JobDescription {
  if (j.output === undefined) return j;
  const { output: _output, ...rest } = j;
  return rest;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How an uploaded object becomes a parameter value: its path on this server (a job, read here), or a cluster file reference (a campaign run, read by the orchestrator). */
type ObjectAs = (o: { readonly path: string; readonly id: string }) => Promise<string>;

/**
 * The parameters of a job or campaign run of `kind` with every object reference of a file
 * parameter replaced by `as` of the object; a cluster file reference (`gf:file:…`, from
 * `gramfleet put`) is kept; `where` prefixes fields in errors.
 */
async function resolveParams(kind: unknown, params: Record<string, unknown>, objects: ObjectStore, as: ObjectAs, where = ''): Promise<Record<string, unknown>> {
  const w = workloadFor(kind, where === '' ? 'kind' : `${where}.kind`);
  const out: Record<string, unknown> = { ...params };
  for (const [k, v] of Object.entries(params)) {
    if (k === 'kind') continue;
    const field = `${where}${where === '' ? '' : '.'}${k}`;
    const doc = w.def.params[k];
    const isRef = isRecord(v) && Object.prototype.hasOwnProperty.call(v, '$object');
    if (doc?.file === 'read') {
      if (typeof v === 'string' && !isFileRef(v))
        throw new GramfleetError(
          'INPUT_INVALID',
          `${field}: over the HTTP API a file parameter is an uploaded object, { "$object": id } (POST /v1/objects), not a path on the server (${JSON.stringify(v)})`,
          { field },
        );
      if (isRef) out[k] = await as(await objects.find(ObjectStore.checkId(v['$object'], `${field}.$object`), field));
    } else if (isRef) {
      throw new GramfleetError('INPUT_INVALID', `${field}: an object reference is taken only by file parameters of ${w.def.kind}`, { field });
    } else if (doc?.file === 'write') {
      throw new GramfleetError('INPUT_INVALID', `${field}: output directories on the server cannot be named over the HTTP API`, { field });
    }
  }
  return out;
}

/** A job spec with its object references resolved ({@link resolveParams}); the ids it names are pushed to `named`. */
async function resolveSpec(body: Record<string, unknown>, objects: ObjectStore, named: string[] = []): Promise<JobSpec> {
  return (await resolveParams(body['kind'], body, objects, async (o) => {
    named.push(o.id);
    return o.path;
  })) as unknown as JobSpec;
}

/**
 * A campaign spec with the object references of its runs, grid base and grid axes resolved: each
 * uploaded object goes to the cluster's object store by content digest (nothing is sent when it
 * holds the bytes) and the run names its `gf:file:` reference, which the orchestrator fetches
 * into its file cache, wherever it runs.
 */
async function resolveCampaign(body: Record<string, unknown>, objects: ObjectStore, fleet: Fleet): Promise<CampaignSpec> {
  const refs = new Map<string, Promise<string>>();
  const as: ObjectAs = (o) => {
    let r = refs.get(o.path);
    if (r === undefined) {
      r = fleet.objects.putFile(o.path).then((p) => p.ref);
      refs.set(o.path, r);
    }
    return r;
  };
  const out: Record<string, unknown> = { ...body };
  if (Array.isArray(body['runs']))
    out['runs'] = await Promise.all(
      (body['runs'] as unknown[]).map((r, i) => (isRecord(r) ? resolveParams(r['kind'], r, objects, as, `runs[${i}]`) : Promise.resolve(r))),
    );
  const g = body['grid'];
  if (isRecord(g)) {
    const grid: Record<string, unknown> = { ...g };
    if (isRecord(g['base'])) grid['base'] = await resolveParams(g['kind'], g['base'], objects, as, 'grid.base');
    if (isRecord(g['axes'])) {
      const axes: Record<string, unknown> = {};
      for (const [k, vs] of Object.entries(g['axes']))
        axes[k] = Array.isArray(vs)
          ? await Promise.all(vs.map(async (v, i) => (await resolveParams(g['kind'], { [k]: v }, objects, as, `grid.axes.${k}[${i}]`))[k]))
          : vs;
      grid['axes'] = axes;
    }
    out['grid'] = grid;
  }
  return out as CampaignSpec;
}

/** Builds the server (not yet listening). */
export async function createApiServer(d: ApiServerDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 }).withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(ErrorBody);
  app.addSchema(Job);
  app.addSchema(ObjectInfo);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'gramfleet jobs API',
        version: d.version,
        description: "Submit, follow and read jobs of every workload kind; upload inputs and download results as .npy/.npz. Tokens: 'gramfleet token create'.",
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: "a token from 'gramfleet token create'" } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
    transformObject: (o) => {
      const doc = 'openapiObject' in o ? o.openapiObject : undefined;
      const post = (doc?.paths?.['/v1/objects'] as { post?: Record<string, unknown> } | undefined)?.post;
      if (post !== undefined)
        post['requestBody'] = { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
      return doc ?? {};
    },
  });

  // A body of raw bytes is handed to the route as the request stream, unread (uploads are streamed).
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.setErrorHandler((err: FastifyError | GramfleetError | Error, _req, reply) => {
    let e: GramfleetError;
    if (isGramfleetError(err)) e = err;
    else if ('validation' in err && err.validation !== undefined) {
      const v = err.validation[0];
      const field = `${(err as FastifyError).validationContext ?? 'body'}${v?.instancePath !== undefined && v.instancePath !== '' ? v.instancePath.replace(/\//g, '.') : ''}`;
      e = new GramfleetError('INPUT_INVALID', `${field} ${v?.message ?? 'is invalid'}`, { field });
    } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode === 413) {
      e = new GramfleetError('INPUT_TOO_LARGE', err.message, { field: 'body' });
    } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode < 500) {
      e = new GramfleetError('INPUT_INVALID', err.message, { field: 'body' });
    } else {
      d.log.error('API request failed', { error: err.stack ?? String(err) });
      e = new GramfleetError('API_INTERNAL', `the API server failed: ${err.message} (its log has the stack)`, {});
    }
    void reply.code(httpStatusOf(e.code)).send({ code: e.code, message: e.message, details: e.details });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ code: 'API_NOT_FOUND', message: `[API_NOT_FOUND] no route ${req.method} ${req.url.split('?')[0]}`, details: {} });
  });

  // Token check on every route but the document and the health check.
  app.addHook('onRequest', async (req) => {
    const url = req.url.split('?')[0];
    if (url === OPENAPI_PATH || url === '/v1/health') return;
    d.tokens.verify(req.headers.authorization);
  });

  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());

  /** A job as GET /v1/jobs/{id} gives it: the service's description, with progress as the workload's reader shows it. */
  const describeJob = async (jobId: string): Promise<JobDescription> => {
    const j = withoutRecipe(await d.fleet.jobs.describe(jobId, { progress: false }));
    if (j.state !== 'running') return j;
    const progress = await d.fleet
      .job(j.kind, j.jobId)
      .progress()
      .catch(() => undefined);
    return progress === undefined ? j : { ...j, progress };
  };

  /** A campaign by id; an unknown one is 404 `API_NOT_FOUND` naming `campaignId`. */
  const campaignOf = async (campaignId: string): Promise<CampaignHandle> => {
    try {
      return await d.fleet.campaigns.get(campaignId);
    } catch (e) {
      if (isGramfleetError(e) && e.code === 'INPUT_INVALID' && e.details['field'] === 'campaignId')
        throw new GramfleetError('API_NOT_FOUND', `no campaign ${JSON.stringify(campaignId)} in this cluster (GET /v1/campaigns lists them)`, {
          field: 'campaignId',
          campaignId,
        });
      throw e;
    }
  };

  app.get(
    '/v1/health',
    { schema: { summary: 'liveness (no token needed)', security: [], response: { 200: Type.Object({ ok: Type.Boolean(), version: Type.String() }) } } },
    async () => ({ ok: true, version: d.version }),
  );

  app.post(
    '/v1/jobs',
    {
      schema: {
        summary: 'submit a job of any workload kind',
        body: SubmitBody,
        response: { 201: Type.Object({ jobId: Type.String(), kind: Type.String(), state: JobState }), ...errors },
      },
    },
    async (req, reply) => {
      const named: string[] = [];
      const spec = await resolveSpec(req.body as Record<string, unknown>, d.objects, named);
      const h = await d.fleet.submit(spec);
      await d.objects.ownedBy(h.jobId, named);
      d.log.info('job submitted over the API', { jobId: h.jobId, kind: h.kind });
      return reply.code(201).send({ jobId: h.jobId, kind: h.kind, state: 'running' as const });
    },
  );

  app.get(
    '/v1/jobs',
    {
      schema: {
        summary: 'list jobs, newest first',
        querystring: Type.Object({
          kind: Type.Optional(Type.String()),
          state: Type.Optional(JobState),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: JOB_LIST_MAX, default: 100 })),
        }),
        response: { 200: Type.Object({ jobs: Type.Array(Type.Ref(Job)) }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      return {
        jobs: await d.fleet.jobs.list({
          ...(q.kind !== undefined ? { kind: q.kind } : {}),
          ...(q.state !== undefined ? { state: q.state } : {}),
          ...(q.limit !== undefined ? { limit: q.limit } : {}),
        }),
      };
    },
  );

  app.get(
    '/v1/jobs/:jobId',
    { schema: { summary: "a job's state (and progress while it runs)", params: JobIdParams, response: { 200: Type.Ref(Job), ...errors } } },
    async (req) => describeJob(req.params.jobId),
  );

  app.post(
    '/v1/jobs/:jobId/cancel',
    {
      schema: {
        summary: 'cancel a running job (nothing happens to one that ended)',
        params: JobIdParams,
        response: { 200: Type.Object({ jobId: Type.String(), kind: Type.String(), state: JobState, cancelRequested: Type.Boolean() }), ...errors },
      },
    },
    async (req) => {
      const r = await d.fleet.jobs.cancel(req.params.jobId);
      return { jobId: r.jobId, kind: r.kind, state: r.state, cancelRequested: r.cancelRequested };
    },
  );

  app.get(
    '/v1/jobs/:jobId/result',
    {
      schema: {
        summary: "a finished job's result: JSON with every array replaced by { $object, format, shape, dtype?, sparse? } (download with GET /v1/objects/{id})",
        description: '409 API_JOB_RUNNING while the job runs; a job that failed or was cancelled answers its typed error (422).',
        params: JobIdParams,
        response: {
          200: Type.Object({ jobId: Type.String(), kind: Type.String(), state: JobState, result: Type.Unknown() }),
          409: Type.Ref(ErrorBody),
          422: Type.Ref(ErrorBody),
          ...errors,
        },
      },
    },
    async (req) => {
      const j = await d.fleet.jobs.describe(req.params.jobId, { progress: false });
      if (j.state === 'running')
        throw new GramfleetError('API_JOB_RUNNING', `job ${j.jobId} is still running; follow GET /v1/jobs/${j.jobId}/events and ask again`, { jobId: j.jobId });
      const result = await d.fleet.job(j.kind as JobKind, j.jobId).result();
      const made: string[] = [];
      const exported = await exportResult(result, d.fleet, d.objects, made);
      await d.objects.ownedBy(j.jobId, made);
      return { jobId: j.jobId, kind: j.kind, state: j.state, result: exported };
    },
  );

  app.get(
    '/v1/jobs/:jobId/events',
    {
      schema: {
        summary: "a job's progress as server-sent events",
        description:
          "text/event-stream: 'progress' events (data: the job's progress, JSON) each time it changes, then one 'end' event (data: the job as GET /v1/jobs/{jobId} gives it) when the job ends; then the stream closes.",
        params: JobIdParams,
        response: { 200: { content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors },
      },
    },
    async (req, reply) => {
      const first = await d.fleet.jobs.describe(req.params.jobId, { progress: false });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      let open = true;
      res.on('close', () => {
        open = false;
      });
      const send = (event: string, data: unknown): void => {
        if (open) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const h = d.fleet.job(first.kind, first.jobId);
      let last = '';
      let tick = 0;
      try {
        for (;;) {
          const j = tick === 0 ? first : await d.fleet.jobs.describe(first.jobId, { progress: false });
          if (!open) return;
          if (j.state !== 'running') {
            send('end', withoutRecipe(j));
            break;
          }
          const p = await h.progress().catch(() => undefined);
          const seen = JSON.stringify(p);
          if (p !== undefined && seen !== last) {
            last = seen;
            send('progress', p);
          } else if (tick % 40 === 39) res.write(': keep-alive\n\n');
          tick++;
          await new Promise((r) => setTimeout(r, EVENTS_POLL_MS));
        }
      } catch (e) {
        const g = isGramfleetError(e) ? e : new GramfleetError('CLUSTER_UNAVAILABLE', `events stopped: ${(e as Error).message}`, {});
        send('error', { code: g.code, message: g.message, details: g.details });
      }
      res.end();
    },
  );

  app.post(
    '/v1/objects',
    {
      schema: {
        summary: 'upload a .npy or .npz file (streamed); the same bytes give the same id',
        response: { 201: Type.Ref(ObjectInfo), 413: Type.Ref(ErrorBody), ...errors },
      },
    },
    async (req, reply) => {
      const ct = req.headers['content-type'] ?? '';
      if (!ct.startsWith('application/octet-stream'))
        throw new GramfleetError('INPUT_INVALID', `content-type must be application/octet-stream, got ${JSON.stringify(ct)}`, { field: 'content-type' });
      const info = await d.objects.put(req.body as Readable);
      return reply.code(201).send(info);
    },
  );

  app.get(
    '/v1/objects/:id',
    {
      schema: {
        summary: 'download an object (streamed); x-gramfleet-format says npy or npz',
        params: ObjectIdParams,
        response: { 200: { content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, ...errors },
      },
    },
    async (req, reply) => {
      const o = await d.objects.find(req.params.id);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(o.bytes))
        .header('x-gramfleet-format', o.format)
        .header('content-disposition', `attachment; filename="${o.id}.${o.format}"`)
        .send(fs.createReadStream(o.path));
    },
  );

  const Campaign = Type.Object({
    campaignId: Type.String(),
    name: Type.String(),
    state: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('cancelled')]),
    runsTotal: Type.Integer(),
    runsDone: Type.Integer(),
    runsFailed: Type.Integer(),
    runsRunning: Type.Integer(),
  });
  const CampaignIdParams = Type.Object({ campaignId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });

  app.post(
    '/v1/campaigns',
    {
      schema: {
        summary:
          'start a campaign (runs and/or a grid of any workload kind); file parameters are uploaded objects { "$object": id } (sent to the cluster\'s object store) or gf:file: references',
        body: Type.Object({}, { additionalProperties: true, description: 'a campaign spec, as gramfleet campaign start takes it' }),
        response: { 201: Type.Object({ campaignId: Type.String(), runsTotal: Type.Integer() }), ...errors },
      },
    },
    async (req, reply) => {
      const spec = await resolveCampaign(req.body as Record<string, unknown>, d.objects, d.fleet);
      const h = await d.fleet.campaigns.start(spec);
      const p = await h.progress();
      return reply.code(201).send({ campaignId: h.campaignId, runsTotal: p.runsTotal });
    },
  );

  app.get(
    '/v1/campaigns',
    {
      schema: {
        summary: 'every campaign',
        response: {
          200: Type.Object({
            campaigns: Type.Array(
              Type.Object({ campaignId: Type.String(), name: Type.String(), runsTotal: Type.Integer(), createdAt: Type.String({ format: 'date-time' }) }),
            ),
          }),
          ...errors,
        },
      },
    },
    async () => ({
      campaigns: (await d.fleet.campaigns.list()).map((c) => ({
        campaignId: c.campaignId,
        name: c.name,
        runsTotal: c.runsTotal,
        createdAt: new Date(c.createdAt).toISOString(),
      })),
    }),
  );

  app.get(
    '/v1/campaigns/:campaignId',
    { schema: { summary: "a campaign's state and progress", params: CampaignIdParams, response: { 200: Campaign, ...errors } } },
    async (req) => {
      const h = await campaignOf(req.params.campaignId);
      const p = await h.progress();
      const rec = (await d.fleet.campaigns.list()).find((c) => c.campaignId === h.campaignId);
      return {
        campaignId: h.campaignId,
        name: rec?.name ?? h.campaignId,
        state: p.phase,
        runsTotal: p.runsTotal,
        runsDone: p.runsDone,
        runsFailed: p.runsFailed,
        runsRunning: p.runsRunning,
      };
    },
  );

  app.get(
    '/v1/campaigns/:campaignId/rows',
    {
      schema: {
        summary: "a campaign's result table: one row per finished run (params, metrics, error); with artifacts=true each row's arrays as objects",
        params: CampaignIdParams,
        querystring: Type.Object({ artifacts: Type.Optional(Type.Boolean({ default: false })) }),
        response: { 200: Type.Object({ rows: Type.Array(Type.Record(Type.String(), Type.Unknown())) }), ...errors },
      },
    },
    async (req) => {
      const h = await campaignOf(req.params.campaignId);
      const rows = await h.rows();
      const out: Record<string, unknown>[] = [];
      for (const r of rows) {
        const { artifacts, ...rest } = r;
        out.push(req.query.artifacts === true ? { ...rest, artifacts: await exportResult(artifacts, d.fleet, d.objects) } : { ...rest });
      }
      return { rows: out };
    },
  );

  app.post(
    '/v1/campaigns/:campaignId/cancel',
    {
      schema: {
        summary: 'cancel a campaign (running runs are cancelled; written rows stay)',
        params: CampaignIdParams,
        response: { 200: Type.Object({ campaignId: Type.String() }), ...errors },
      },
    },
    async (req) => {
      const h = await campaignOf(req.params.campaignId);
      await h.cancel();
      return { campaignId: h.campaignId };
    },
  );

  return app;
}

/** The body type of a submit (exported for the tests). */
export type ApiSubmitBody = Static<typeof SubmitBody>;
