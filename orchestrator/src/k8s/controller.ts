/**
 * The KernelCampaign controller. An informer (list + watch, relist on 410 Gone, restarted with
 * backoff on any other error, periodic resync) feeds object keys into a de-duplicating work
 * queue; a level-triggered reconcile drives each object towards its desired state from
 * scratch every time:
 *
 * - put the finalizer on it; validate the spec with the campaign contract (bad input: phase
 *   Failed, condition Accepted=False naming the field, nothing started);
 * - start the campaign workflow with workflow id `kernelcampaign-<uid>` unless an execution
 *   with that id exists (any state; REJECT_DUPLICATE guards the race), so a restarted
 *   controller, a resync or a duplicate event never starts a second one;
 * - mirror the workflow's progress query / result into `.status`, writing only on change; a
 *   workflow that refused its inputs at its first step (a `gf:file:` reference the cluster does
 *   not hold: the controller has no NATS connection to check it itself) is reported as
 *   `Accepted=False` with the typed error naming the field, no run having started;
 * - on deletion, cancel the workflow, wait until it has closed, then remove the finalizer.
 *
 * All state lives in the API server and in Temporal; the controller keeps none of its own,
 * which is what lets it survive a restart.
 */
import { ApplicationFailure, Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import {
  CAMPAIGN_INPUTS_REFUSED,
  CAMPAIGN_PROGRESS_QUERY,
  CAMPAIGN_WORKFLOW,
  GramfleetError,
  campaignTable,
  compileCampaignSpec,
  isErrorCode,
  isGramfleetError,
  type CampaignProgress,
  type CampaignSummary,
  type CampaignWorkflowInput,
  type Logger,
} from '@gramfleet/core';
import { k8s, type KubeConfig, type K8s } from './client';
import { GROUP, KERNEL_CAMPAIGN, VERSION, type KernelCampaign, type KernelCampaignCondition, type KernelCampaignPhase, type KernelCampaignStatus } from './crd';
import { WorkQueue } from './workqueue';
import { connectTemporal, type CheckedTemporalSecurity } from '../security/temporal';

/** Options of {@link KernelCampaignController.start}. */
export interface KernelCampaignControllerOptions {
  readonly kubeConfig: KubeConfig;
  /** Temporal frontend address (host:port). */
  readonly temporalAddress: string;
  /** @default 'default' */
  readonly temporalNamespace?: string;
  /** How the Temporal connection is secured (TLS files, API key file). @default plaintext */
  readonly temporalSecurity?: CheckedTemporalSecurity;
  /** Task queue of the orchestrator that runs campaign workflows. */
  readonly taskQueue: string;
  /** Watch only this namespace. @default all namespaces */
  readonly watchNamespace?: string;
  /** JetStream resource prefix, for `.status.resultRef`. @default 'gf' */
  readonly prefix?: string;
  /** How often a running campaign's progress is mirrored, ms. @default 5000 */
  readonly pollIntervalMs?: number;
  /** Every object is reconciled at least this often, ms. @default 300000 */
  readonly resyncMs?: number;
  /** Reconciles in parallel (never two for one object). @default 2 */
  readonly workers?: number;
  readonly log?: Logger;
}

/** Workflow id of a KernelCampaign: derived from its uid, so it is the same on every reconcile. */
export function kernelCampaignWorkflowId(uid: string): string {
  return `kernelcampaign-${uid}`;
}
/** Campaign id (names the result rows) of a KernelCampaign. */
export function kernelCampaignId(uid: string): string {
  return `kc-${uid}`;
}

const FIELD_MANAGER = 'gramfleet-controller';
const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
type Outcome = { requeueAfterMs?: number };

/** A running controller. */
export class KernelCampaignController {
  private readonly queue = new WorkQueue();
  private readonly api: K8s.CustomObjectsApi;
  private readonly core: K8s.CoreV1Api;
  private readonly informer: K8s.Informer<KernelCampaign & K8s.KubernetesObject> & K8s.ObjectCache<KernelCampaign & K8s.KubernetesObject>;
  private readonly log: Logger;
  private readonly poll: number;
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private stopped = false;
  private listed = false;
  private informerBackoff = 500;
  private resync: NodeJS.Timeout | undefined;
  private readonly loops: Promise<void>[] = [];

  private constructor(private readonly o: KernelCampaignControllerOptions) {
    this.log = o.log ?? silent;
    this.poll = o.pollIntervalMs ?? 5000;
    this.api = o.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.core = o.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const ns = o.watchNamespace;
    const path =
      ns !== undefined ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${KERNEL_CAMPAIGN.plural}` : `/apis/${GROUP}/${VERSION}/${KERNEL_CAMPAIGN.plural}`;
    const list = async (): Promise<K8s.KubernetesListObject<KernelCampaign & K8s.KubernetesObject>> => {
      const base = { group: GROUP, version: VERSION, plural: KERNEL_CAMPAIGN.plural };
      const r = (
        ns !== undefined ? await this.api.listNamespacedCustomObject({ ...base, namespace: ns }) : await this.api.listClusterCustomObject(base)
      ) as K8s.KubernetesListObject<KernelCampaign & K8s.KubernetesObject>;
      this.listed = true;
      return r;
    };
    this.informer = k8s.makeInformer(o.kubeConfig, path, list);
    const enqueue = (obj: KernelCampaign): void => this.queue.add(keyOf(obj));
    this.informer.on('add', enqueue);
    this.informer.on('update', enqueue);
    this.informer.on('delete', enqueue);
    this.informer.on('connect', () => {
      this.informerBackoff = 500;
    });
    this.informer.on('error', (err: unknown) => {
      if (this.stopped) return;
      this.log.warn('kernelcampaign watch failed; restarting', { err: errText(err), backoffMs: this.informerBackoff });
      const t = setTimeout(() => {
        if (!this.stopped) void this.informer.start().catch(() => undefined);
      }, this.informerBackoff);
      t.unref();
      this.informerBackoff = Math.min(30_000, this.informerBackoff * 2);
    });
  }

  /** Starts watching and reconciling; resolves once the first list is done (or was tried). */
  static async start(o: KernelCampaignControllerOptions): Promise<KernelCampaignController> {
    const c = new KernelCampaignController(o);
    await c.informer.start().catch(() => undefined);
    for (let i = 0; i < (o.workers ?? 2); i++) c.loops.push(c.worker());
    c.resync = setInterval(() => {
      for (const obj of c.informer.list()) c.queue.add(keyOf(obj));
    }, o.resyncMs ?? 300_000);
    c.resync.unref();
    return c;
  }

  /** Whether the first list succeeded (readiness). */
  ready(): boolean {
    return this.listed && !this.stopped;
  }

  /** Stops watching; reconciles in flight finish first. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resync !== undefined) clearInterval(this.resync);
    await this.informer.stop();
    this.queue.shutDown();
    await Promise.allSettled(this.loops);
    await this.client?.connection.close().catch(() => undefined);
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        const r = await this.reconcile(key);
        this.queue.forget(key);
        if (r.requeueAfterMs !== undefined) this.queue.addAfter(key, r.requeueAfterMs);
      } catch (e) {
        this.log.warn('reconcile failed; retrying with backoff', { key, err: errText(e) });
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async temporal(): Promise<Client> {
    if (this.client !== undefined) return this.client;
    this.connecting ??= this.connectTemporal()
      .then((connection) => (this.client = new Client({ connection, namespace: this.o.temporalNamespace ?? 'default' })))
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  /** A Temporal connection, secured as configured; a failure is a typed error saying what to fix. */
  private async connectTemporal(): Promise<Connection> {
    return connectTemporal(this.o.temporalAddress, this.o.temporalSecurity, (o) => Connection.connect({ ...o, connectTimeout: 5000 }));
  }

  /** One level-triggered pass over the object named by `key` (`namespace/name`). */
  private async reconcile(key: string): Promise<Outcome> {
    const [namespace, name] = key.split('/') as [string, string];
    const obj = this.informer.get(name, namespace);
    if (obj === undefined) return {};
    const uid = obj.metadata?.uid ?? '';
    const workflowId = kernelCampaignWorkflowId(uid);
    const finalizers = obj.metadata?.finalizers ?? [];
    const has = finalizers.includes(KERNEL_CAMPAIGN.finalizer);
    const client = (): Promise<Client> => this.temporal();

    if (obj.metadata?.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== null) {
      if (!has) return {};
      const handle = (await client()).workflow.getHandle(workflowId);
      try {
        const d = await handle.describe();
        if (d.status.name === 'RUNNING') {
          await handle.cancel();
          this.log.info('deleting: cancelled the campaign workflow', { key, workflowId });
          await this.event(obj, 'Normal', 'Cancelling', `cancelled workflow ${workflowId}; the finalizer stays until it has closed`);
          return { requeueAfterMs: 250 };
        }
      } catch (e) {
        if (!(e instanceof WorkflowNotFoundError)) throw e;
      }
      await this.patchMeta(obj, { finalizers: finalizers.filter((f) => f !== KERNEL_CAMPAIGN.finalizer) });
      this.log.info('deleted: finalizer removed', { key, workflowId });
      return {};
    }
    if (!has) {
      await this.patchMeta(obj, { finalizers: [...finalizers, KERNEL_CAMPAIGN.finalizer] });
      return {};
    }
    const st = obj.status ?? {};
    const generation = obj.metadata?.generation ?? 0;
    if (isTerminal(st.phase) && st.observedGeneration === generation) return {};

    const campaignId = kernelCampaignId(uid);
    let spec: CampaignWorkflowInput['spec'];
    try {
      spec = compileCampaignSpec({ ...(obj.spec ?? {}), id: campaignId });
    } catch (e) {
      if (!isGramfleetError(e)) throw e;
      await this.writeStatus(obj, { phase: 'Failed', campaignId, observedGeneration: generation }, [cond('Accepted', 'False', e.code, e.message, generation)]);
      await this.event(obj, 'Warning', e.code, e.message);
      return {};
    }
    const table = campaignTable(this.o.prefix ?? 'gf');
    const base: KernelCampaignStatus = {
      campaignId,
      workflowId,
      runsTotal: spec.runsTotal,
      observedGeneration: generation,
      resultRef: { bucket: table.runsBucket, keyPrefix: `${campaignId}.` },
      ...(st.workflowRunId !== undefined ? { workflowRunId: st.workflowRunId } : {}),
    };
    const accepted = cond('Accepted', 'True', 'Valid', `${spec.runsTotal} runs`, generation);
    const c = await client();
    const handle = c.workflow.getHandle<(i: CampaignWorkflowInput) => Promise<CampaignSummary>>(workflowId);
    let status: string;
    try {
      status = (await handle.describe()).status.name;
    } catch (e) {
      if (!(e instanceof WorkflowNotFoundError)) throw e;
      if (st.workflowRunId !== undefined) {
        // started before, now unknown to Temporal (e.g. past its retention): never start a second one
        await this.writeStatus(obj, { ...base, phase: 'Failed', runsRunning: 0 }, [
          accepted,
          cond('Complete', 'False', 'WorkflowNotFound', `workflow ${workflowId} (run ${st.workflowRunId}) is no longer known to Temporal`, generation),
        ]);
        return {};
      }
      let runId: string;
      try {
        const h = await c.workflow.start<(i: CampaignWorkflowInput) => Promise<CampaignSummary>>(CAMPAIGN_WORKFLOW, {
          workflowId,
          taskQueue: this.o.taskQueue,
          args: [{ spec }],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
        runId = h.firstExecutionRunId;
        this.log.info('started the campaign workflow', { key, workflowId, runId, runs: spec.runsTotal });
        await this.event(obj, 'Normal', 'Started', `started workflow ${workflowId} (${spec.runsTotal} runs)`);
      } catch (e2) {
        if (!(e2 instanceof WorkflowExecutionAlreadyStartedError)) throw e2;
        return { requeueAfterMs: 0 };
      }
      await this.writeStatus(obj, { ...base, workflowRunId: runId, phase: 'Running', runsDone: 0, runsFailed: 0, runsRunning: 0 }, [
        accepted,
        cond('Started', 'True', 'WorkflowStarted', `workflow ${workflowId}`, generation),
      ]);
      return { requeueAfterMs: this.poll };
    }
    const started = cond('Started', 'True', 'WorkflowStarted', `workflow ${workflowId}`, generation);
    if (status === 'RUNNING') {
      let p: CampaignProgress | undefined;
      try {
        p = await handle.query<CampaignProgress>(CAMPAIGN_PROGRESS_QUERY);
      } catch (e) {
        this.log.debug('progress query failed; keeping the last status', { key, err: errText(e) });
      }
      const counts = p !== undefined ? { runsDone: p.runsDone, runsFailed: p.runsFailed, runsRunning: p.runsRunning, runsTotal: p.runsTotal } : {};
      await this.writeStatus(obj, { ...base, phase: 'Running', ...counts }, [accepted, started]);
      return { requeueAfterMs: this.poll };
    }
    if (status === 'COMPLETED') {
      const s = await handle.result();
      await this.writeStatus(obj, { ...base, phase: 'Succeeded', runsTotal: s.runsTotal, runsDone: s.runsDone, runsFailed: s.runsFailed, runsRunning: 0 }, [
        accepted,
        started,
        cond(
          'Complete',
          'True',
          s.runsFailed > 0 ? 'SomeRunsFailed' : 'AllRunsDone',
          `${s.runsDone} done, ${s.runsFailed} failed of ${s.runsTotal}`,
          generation,
        ),
      ]);
      return {};
    }
    const refused = status === 'FAILED' ? await inputsRefused(handle) : undefined;
    if (refused !== undefined) {
      // The workflow's first step refused an input (a reference the cluster does not hold): no run started.
      await this.writeStatus(obj, { ...base, phase: 'Failed', runsDone: 0, runsFailed: 0, runsRunning: 0 }, [
        cond('Accepted', 'False', refused.code, refused.message, generation),
        started,
        cond('Complete', 'False', 'InputsRefused', `no run was started: ${refused.message}`, generation),
      ]);
      if (st.phase !== 'Failed') await this.event(obj, 'Warning', refused.code, refused.message);
      return {};
    }
    const phase: KernelCampaignPhase = status === 'CANCELLED' ? 'Cancelled' : 'Failed';
    await this.writeStatus(obj, { ...base, phase, runsRunning: 0 }, [
      accepted,
      started,
      cond('Complete', 'False', `Workflow${status[0]}${status.slice(1).toLowerCase()}`, `workflow ${workflowId} ended ${status}`, generation),
    ]);
    return {};
  }

  /** Records an Event on the object (best effort: a failure to record is only logged). */
  private async event(obj: KernelCampaign, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = obj.metadata?.namespace ?? 'default';
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: {
            name: `${obj.metadata?.name ?? 'kernelcampaign'}.${now.getTime().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`,
            namespace,
          },
          involvedObject: {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: KERNEL_CAMPAIGN.kind,
            name: obj.metadata?.name ?? '',
            namespace,
            uid: obj.metadata?.uid ?? '',
          },
          type,
          reason,
          message: message.slice(0, 1024),
          count: 1,
          firstTimestamp: now,
          lastTimestamp: now,
          source: { component: FIELD_MANAGER },
        },
      });
    } catch (e) {
      this.log.debug('could not record an event', { reason, err: errText(e) });
    }
  }

  /** Merge-patches metadata with the object's resourceVersion (optimistic: a 409 retries). */
  private async patchMeta(obj: KernelCampaign, meta: Record<string, unknown>): Promise<void> {
    await this.api.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: KERNEL_CAMPAIGN.plural,
        namespace: obj.metadata?.namespace ?? '',
        name: obj.metadata?.name ?? '',
        body: { metadata: { ...meta, resourceVersion: obj.metadata?.resourceVersion } },
        fieldManager: FIELD_MANAGER,
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  /** Writes `.status` through the status subresource when it differs from what is there. */
  private async writeStatus(obj: KernelCampaign, s: KernelCampaignStatus, conditions: KernelCampaignCondition[]): Promise<void> {
    const old = obj.status ?? {};
    const merged = conditions.map((c) => {
      const prev = old.conditions?.find((x) => x.type === c.type);
      return prev !== undefined && prev.status === c.status ? { ...c, lastTransitionTime: prev.lastTransitionTime } : c;
    });
    const next: KernelCampaignStatus = { ...old, ...s, conditions: merged };
    if (canonical(next) === canonical(old)) return;
    await this.api.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: KERNEL_CAMPAIGN.plural,
        namespace: obj.metadata?.namespace ?? '',
        name: obj.metadata?.name ?? '',
        body: { status: next },
        fieldManager: FIELD_MANAGER,
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }
}

/**
 * The typed error a failed campaign workflow ended with when it refused its inputs before any
 * run (details `stage: CAMPAIGN_INPUTS_REFUSED`), or undefined when it failed otherwise.
 */
async function inputsRefused(handle: { result(): Promise<unknown> }): Promise<{ code: string; message: string } | undefined> {
  try {
    await handle.result();
    return undefined;
  } catch (e) {
    const f = e instanceof WorkflowFailedError ? e.cause : undefined;
    if (!(f instanceof ApplicationFailure) || !isErrorCode(f.type ?? '')) return undefined;
    const d = f.details?.[0] as { stage?: unknown } | undefined;
    return d?.stage === CAMPAIGN_INPUTS_REFUSED ? { code: f.type!, message: f.message } : undefined;
  }
}

/** JSON with object keys sorted (the API server returns them sorted). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}
function keyOf(obj: KernelCampaign): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}
function isTerminal(p: KernelCampaignPhase | undefined): boolean {
  return p === 'Succeeded' || p === 'Failed' || p === 'Cancelled';
}
function cond(type: string, status: 'True' | 'False', reason: string, message: string, observedGeneration: number): KernelCampaignCondition {
  return { type, status, reason, message, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), observedGeneration };
}
function errText(e: unknown): string {
  if (e instanceof GramfleetError) return e.message;
  const body = (e as { body?: unknown }).body;
  return `${(e as Error).message ?? String(e)}${body !== undefined ? ` ${typeof body === 'string' ? body : JSON.stringify(body)}` : ''}`;
}
