/**
 * The TypeScript SDK. `connect()` with no address attaches to the local cluster (starting
 * one, like `ray.init()`, when none runs); `submit(spec)` takes a spec of any workload kind
 * (a union discriminated by `kind`, see orchestrator/src/registry.ts), validates everything and
 * uploads the inputs before a workflow is started, and returns a {@link JobHandle}.
 */
import * as os from 'node:os';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import {
  GramfleetError,
  clientArraysBucket,
  isGramfleetError,
  checkParamNames,
  resourceNames,
  silentLogger,
  type ArrayRef,
  type CsrRef,
  type DatagenJobInput,
  type DatagenJobResult,
  type DatagenWorkflowResult,
  type JoinUploadInput,
  type WorkloadDef,
} from '@gramfleet/core';
import {
  FORCE_TRACE_ATTRIBUTE,
  connectNats,
  createArrayStore,
  createTaskClient,
  openArrayStore,
  openDataPlane,
  ownerIdPrefix,
  startTracing,
  type DataPlane,
} from '@gramfleet/workers';
import { SpanStatusCode } from '@opentelemetry/api';
import { LocalCluster, defaultDataDir } from '../cluster/local-cluster';
import { registeredWorkers } from '../grf/submit';
import { loadCsr } from '../grf/assemble';
import { createCampaignClient } from '../campaign/client';
import { writeDataset } from '../datagen/submit';
import { workloadFor } from '../registry';
import type { JobKind, JobSpec } from '../job-types';
import type { WorkloadContext } from '../workload';
import { connectTemporal, type CheckedTemporalSecurity } from '../security/temporal';
import { clientConfig, clientOtlpEndpoint, clientOtlpSampleRatio, targetEnv } from './config';
import { resolveTarget, type ClusterTarget } from './context';
import { createRaySdk } from './ray';
import { fromTemporal } from './failure';
import { createJobHandle } from './handle';
import type { ConnectOptions, Fleet, JobHandle, SubmitOptions } from './fleet';
import { JOB_CLIENT_MEMO, JOB_OUTPUT_MEMO, createJobsService } from '../jobs/service';
import { sdkOutputRecipe } from '../jobs/types';
import { createObjectsClient, isFileRef } from '../io/objects';
import { createFileCache } from '../io/file-cache';
import { resumableArrayStore } from '../io/upload';
import { tracingClientInterceptors } from '../telemetry/tracing';

/**
 * Connects to a cluster: the local one (started when none runs) unless a context or addresses
 * name a remote one — see orchestrator/src/client/context.ts for the order (explicit addresses,
 * `context`, `dataDir`, `GRAMFLEET_CONTEXT`, the current context, `local`). Everything is checked
 * before anything connects; an address that does not answer is a typed error naming where it
 * came from (the context's flag or the variable) so the user knows what to fix.
 */
export async function connect(o: ConnectOptions = {}): Promise<Fleet> {
  const log = o.log ?? silentLogger;
  let local: LocalCluster | undefined;
  let owned = false;
  const target = resolveTarget(o, targetEnv(), () => clientConfig());
  let temporalAddress: string;
  let natsUrl: string;
  let namespace: string;
  let taskQueue: string;
  let prefix: string;
  // A remote Temporal is secured as its context, the option or the GRAMFLEET_TEMPORAL_* variables
  // say. The local cluster's dev server is plaintext on loopback.
  let security: CheckedTemporalSecurity | undefined;
  if (target.kind === 'local') {
    const dataDir = target.dataDir ?? defaultDataDir();
    local = (await LocalCluster.attach(dataDir)) ?? undefined;
    if (local === undefined) {
      if (o.startLocal === false)
        throw new GramfleetError(
          'CLUSTER_NOT_RUNNING',
          `no local cluster runs from ${dataDir}; start one with 'npx gramfleet up' (or pick a remote cluster with --context)`,
          {
            dataDir,
          },
        );
      log.info('starting a local cluster', { dataDir });
      local = await LocalCluster.start({
        dataDir,
        ...(o.workers !== undefined ? { workers: o.workers } : {}),
        ...(o.dataPlane !== undefined ? { dataPlane: o.dataPlane } : {}),
        log,
      });
      owned = true;
    }
    ({ temporalAddress, natsUrl, namespace, taskQueue, prefix } = local.state);
  } else {
    ({ temporalAddress, natsUrl, namespace, taskQueue, prefix } = target);
    security = target.temporalSecurity;
  }
  const names = resourceNames(prefix);
  // A local cluster's client identity; a remote one's from the natsAuth option, else
  // GRAMFLEET_NATS_CREDS / _CA / _CERT / _KEY.
  const nc = await connectNats(
    natsUrl,
    'gramfleet-sdk',
    local !== undefined ? local.natsAuth('client') : target.kind === 'remote' ? target.natsAuth : {},
  ).catch((e: unknown) => {
    throw target.kind === 'remote' ? explainConnectError(e, target, 'nats') : e;
  });
  const dp = await openDataPlane(nc, names, local?.state.dataPlane ?? o.dataPlane);
  // What this identity uploads goes to its own arrays bucket where one was made for it
  // (docs/operations.md, "Per-client buckets"); files (`gf:file:` references, which name no
  // bucket) stay in the shared one, where the orchestrator reads them.
  const ownBucket = await ownArraysBucket(dp);
  const hs = local?.state.hostStore;
  const arrays = await openArrayStore(
    ownBucket === undefined ? dp : { ...dp, names: { ...dp.names, arraysBucket: ownBucket } },
    o.store ?? (hs !== undefined ? { hostDir: hs.dir, hostBytes: hs.maxBytes } : {}),
    log,
    {
      ...(o.onUpload !== undefined ? { onUpload: o.onUpload } : {}),
    },
  );
  const store = arrays.store;
  const fileStore =
    ownBucket === undefined ? store : createArrayStore(dp, { chunkBytes: dp.chunkBytes, log, ...(o.onUpload !== undefined ? { onUpload: o.onUpload } : {}) });
  // A typed error that says what to fix (an untrusted certificate, a refused client certificate
  // or API key, a server without TLS), once what was opened is closed.
  const connection = await connectTemporal(temporalAddress, security, (co) => Connection.connect(co))
    .then(async (c) => {
      if (target.kind === 'remote')
        await checkNamespace(c, target).catch(async (e: unknown) => {
          await c.close().catch(() => undefined);
          throw e;
        });
      return c;
    })
    .catch(async (e: unknown) => {
      await arrays.close().catch(() => undefined);
      await dp.close().catch(() => undefined);
      if (owned) await local?.stop().catch(() => undefined);
      throw target.kind === 'remote' ? explainConnectError(e, target, 'temporal') : e;
    });
  // Tracing: the option, else GRAMFLEET_OTLP_ENDPOINT; one provider per process (a second connect shares it).
  const otlpEndpoint = o.otlpEndpoint ?? clientOtlpEndpoint();
  const tracing =
    otlpEndpoint !== undefined
      ? startTracing({ endpoint: otlpEndpoint, serviceName: 'gramfleet-sdk', sampleRatio: o.otlpSampleRatio ?? clientOtlpSampleRatio() })
      : undefined;
  const interceptors = tracingClientInterceptors(tracing);
  const client = new Client({ connection, namespace, ...(interceptors !== undefined ? { interceptors } : {}) });
  const budget = o.memoryBudgetBytes ?? 8 * 1024 ** 3;
  const tasks = createTaskClient({ dp, log, store });
  // A remote cluster's large input arrays travel as resumable uploads (parts by digest, joined by
  // the orchestrator: ../io/upload.ts); the local cluster's are put as they are.
  const joinUpload = async (input: JoinUploadInput): Promise<ArrayRef> => {
    const workflowId = `gf-upload-${input.expect.digest}`;
    try {
      return (await client.workflow.execute('joinUploadWorkflow', { taskQueue, workflowId, args: [input] })) as ArrayRef;
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw fromTemporal(e, workflowId);
      // Another put of the same array joins it now.
      return (await client.workflow
        .getHandle(workflowId)
        .result()
        .catch((e2: unknown) => {
          throw fromTemporal(e2, workflowId);
        })) as ArrayRef;
    }
  };
  const inputs =
    target.kind === 'remote'
      ? resumableArrayStore(store, {
          bucket: names.arraysBucket,
          parts: fileStore,
          join: joinUpload,
          ...(o.resumableUploadBytes !== undefined ? { minBytes: o.resumableUploadBytes } : {}),
          ...(o.onUpload !== undefined ? { onUpload: o.onUpload } : {}),
        })
      : store;
  const ctx: WorkloadContext = { dp, store: inputs, memoryBudgetBytes: budget, workers: () => tasks.workers() };

  const ray = createRaySdk(inputs, tasks);
  const jobs = createJobsService({ client });
  const handleOf = <K extends JobKind>(kind: K, jobId: string): JobHandle<K> => createJobHandle<K>(workloadFor(kind), jobId, { client, ctx, jobs });
  const jobById = async (jobId: string): Promise<JobHandle> => handleOf((await jobs.describe(jobId, { progress: false })).kind, jobId);
  const submittedBy = clientIdentity();
  // Inputs named by object reference (gf:file:…) are fetched once into a local cache and read from there.
  const refFiles = createFileCache({ store: fileStore, bucket: names.arraysBucket });
  const withRefFiles = async <S extends JobSpec>(def: WorkloadDef, spec: S): Promise<S> => {
    const p = spec as unknown as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    for (const [k, doc] of Object.entries(def.params)) {
      const v = p[k];
      if (doc.file !== 'read' || !isFileRef(v)) continue;
      out ??= { ...p };
      out[k] = await refFiles.resolve(k, v);
    }
    return (out ?? p) as unknown as S;
  };

  /** Validates a spec, uploads its inputs and starts its workflow. */
  const submitJob = async (spec: JobSpec, so: SubmitOptions): Promise<JobHandle> => {
    if (typeof spec !== 'object' || spec === null) throw new GramfleetError('INPUT_INVALID', 'a job spec must be an object with a kind', { field: 'kind' });
    const w = workloadFor(spec.kind);
    checkParamNames(w.def, spec as unknown as Readonly<Record<string, unknown>>, 'sdk');
    const input = await w.prepare(await withRefFiles(w.def, spec), ctx);
    // Acknowledged only once its stored inputs have their durable copies: a copy that cannot be
    // written (the NATS store's disk full) fails the submission with its typed error, instead of a
    // job whose only copies sit in this host's store.
    await persistInputs(store, input);
    // A datagen or kron-gp job submitted here still records how its files are written, so that
    // `gramfleet jobs result` writes what the command would have.
    const output = so.output ?? sdkOutputRecipe(spec as unknown as { kind: string } & Record<string, unknown>, input.jobId);
    try {
      await client.workflow.start(w.def.workflowType, {
        taskQueue,
        workflowId: input.jobId,
        args: [input],
        memo: { [JOB_CLIENT_MEMO]: submittedBy, ...(output !== undefined ? { [JOB_OUTPUT_MEMO]: output } : {}) },
      });
    } catch (e) {
      if (!(w.attachToRunning === true && e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    }
    log.info('job submitted', { jobId: input.jobId, kind: w.def.kind, ...w.summary(input) });
    return createJobHandle(w, input.jobId, { client, ctx, jobs });
  };

  const fleet: Fleet = {
    local,
    jobs: { ...jobs, get: jobById },
    campaigns: createCampaignClient({ client, nc, prefix, taskQueue, store: fileStore, bucket: names.arraysBucket, uploadFiles: target.kind === 'remote' }),
    objects: createObjectsClient(fileStore, names.arraysBucket),
    put: ray.put,
    get: ray.get,
    registerWasm: ray.registerWasm,
    map: ray.map,
    wait: ray.wait,
    submit: (async (spec: JobSpec, so: SubmitOptions = {}): Promise<JobHandle> => {
      if (tracing === undefined) return submitJob(spec, so);
      // The root of the job's trace: preparing and uploading its inputs, then starting its workflow.
      return tracing.tracer.startActiveSpan(
        'gramfleet.submit',
        // The sampling decision of the whole job is made here (GRAMFLEET_OTLP_SAMPLE_RATIO, or `trace: true`).
        {
          attributes: { 'gramfleet.kind': String((spec as { kind?: unknown } | null)?.kind), ...(so.trace === true ? { [FORCE_TRACE_ATTRIBUTE]: true } : {}) },
        },
        async (span) => {
          try {
            const h = await submitJob(spec, so);
            span.setAttribute('gramfleet.job_id', h.jobId);
            return h;
          } catch (e) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
            throw e;
          } finally {
            span.end();
          }
        },
      );
    }) as Fleet['submit'],
    job: ((kindOrId: string, jobId?: string) =>
      jobId === undefined ? jobById(kindOrId) : handleOf(workloadFor(kindOrId).def.kind as JobKind, jobId)) as Fleet['job'],
    getArray: (ref: ArrayRef) => store.get(ref),
    getCsr: (ref: CsrRef) => loadCsr(store, ref),
    workers: () => registeredWorkers(dp),
    writeDataset: (input: DatagenJobInput, result: DatagenJobResult, outDir: string, wo?: { storeSystems?: boolean }) =>
      writeDataset(store, input, result, outDir, wo),
    async releaseDatagenPages(jobId: string): Promise<number> {
      let r: DatagenWorkflowResult;
      try {
        r = (await client.workflow.getHandle(jobId).result()) as DatagenWorkflowResult;
      } catch (e) {
        throw fromTemporal(e, jobId);
      }
      // The orchestrator deletes them: a client's NATS role may not purge (roles.ts). This
      // process's own copies (cache, host store) go too.
      let n: number;
      try {
        n = await client.workflow.execute('datagenReleaseWorkflow', {
          taskQueue,
          workflowId: `${jobId}--release-pages-${Date.now().toString(36)}`,
          args: [r],
        });
      } catch (e) {
        throw fromTemporal(e, jobId);
      }
      for (const ref of r.pages) await store.delete(ref.digest, { local: true });
      return n;
    },
    async close(): Promise<void> {
      await ray.close();
      await tasks.close();
      // This process's spans leave now (tracing stays on for another connection of the process).
      await tracing?.flush().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await arrays.close();
      await dp.close();
      if (owned) await local?.stop();
    },
  };
  return fleet;
}

/**
 * The arrays bucket of this connection's client identity (core clientArraysBucket) when it exists;
 * undefined for a connection without an identity token (roles.ts) or one whose bucket was not made
 * (the orchestrator or an admin makes it: a client may create no stream).
 */
async function ownArraysBucket(dp: DataPlane): Promise<string | undefined> {
  const token = ownerIdPrefix(dp.nc).slice(0, -1);
  if (token === '') return undefined;
  const bucket = clientArraysBucket(dp.names.prefix, token);
  return dp.jsm.streams.info(`OBJ_${bucket}`).then(
    () => bucket,
    () => undefined,
  );
}

/** `user@host` of this process: recorded with each submitted job (`gramfleet jobs list` shows it). */
function clientIdentity(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    /* no passwd entry (some containers) */
  }
  return `${user}@${os.hostname()}`;
}

type RemoteTarget = Extract<ClusterTarget, { kind: 'remote' }>;

/**
 * A connection failure to a remote cluster, said with what to fix: the code stays (an address
 * that does not answer is CLUSTER_UNAVAILABLE, a refused identity CLUSTER_UNAUTHENTICATED, …),
 * the message and details name where the address came from (a context's flag or a variable).
 */
function explainConnectError(e: unknown, t: RemoteTarget, what: 'nats' | 'temporal'): unknown {
  if (!isGramfleetError(e) || e.details['context'] !== undefined) return e;
  const origin = what === 'nats' ? t.origin.nats : t.origin.temporal;
  const address = what === 'nats' ? t.natsUrl : t.temporalAddress;
  const fix =
    e.code === 'CLUSTER_UNAVAILABLE'
      ? `check ${origin}: ${address} does not answer as ${what === 'nats' ? 'a NATS server' : 'a Temporal frontend'}`
      : `check the ${what === 'nats' ? 'NATS identity (--nats-creds/--nats-ca/--nats-cert/--nats-key or GRAMFLEET_NATS_*)' : 'Temporal TLS / API key (--temporal-ca/… or GRAMFLEET_TEMPORAL_*)'}${t.context !== undefined ? ` of context ${t.context}` : ''}`;
  return new GramfleetError(e.code, `${e.message}; ${fix}`, {
    ...e.details,
    // An address that does not answer is the address's fault; a refused identity keeps the option it named.
    field: e.code === 'CLUSTER_UNAVAILABLE' || e.details['field'] === undefined ? origin : e.details['field'],
    address,
    ...(t.context !== undefined ? { context: t.context } : {}),
  });
}

/** A namespace the Temporal server does not have is INPUT_INVALID naming where it came from. */
async function checkNamespace(c: Connection, t: RemoteTarget): Promise<void> {
  try {
    await c.workflowService.describeNamespace({ namespace: t.namespace });
  } catch (e) {
    if ((e as { code?: unknown }).code === 5)
      throw new GramfleetError('INPUT_INVALID', `the Temporal server at ${t.temporalAddress} has no namespace ${t.namespace}; check ${t.origin.namespace}`, {
        field: t.origin.namespace,
        namespace: t.namespace,
        ...(t.context !== undefined ? { context: t.context } : {}),
      });
    // Anything else (e.g. a role that may not describe namespaces) is left to the first real call.
  }
}

/** Writes the durable copy of every stored (not inline) array a job's input names, at any depth (up to 8 levels). */
async function persistInputs(store: { persist(ref: ArrayRef): Promise<void> }, input: unknown): Promise<void> {
  const refs = new Map<string, ArrayRef>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 8 || v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    const o = v as Record<string, unknown>;
    if (typeof o['digest'] === 'string' && typeof o['dtype'] === 'string' && Array.isArray(o['shape'])) {
      if (o['inline'] === undefined) refs.set(o['digest'], o as unknown as ArrayRef);
      return;
    }
    for (const x of Object.values(o)) walk(x, depth + 1);
  };
  walk(input, 0);
  await Promise.all([...refs.values()].map((r) => store.persist(r)));
}
