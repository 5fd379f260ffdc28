/**
 * `gramfleet k8s render|apply|status|controller` (declared in `./command.ts`, which loads this
 * module only when one runs): the Kubernetes deployment without Helm.
 * `render` prints the manifests as YAML; `apply` applies them with server-side apply through
 * the client library (field manager `gramfleet`); `status` lists KernelCampaigns with their
 * progress; `controller` runs the KernelCampaign controller (the container's entrypoint).
 */
import * as fs from 'node:fs';
import { GramfleetError } from '@gramfleet/core';
import { createJsonLogger, createProcessMetrics, startHealthServer } from '@gramfleet/workers';
import { defaultKubeConfig, k8s, type KubeConfig } from './client';
import { GROUP, KERNEL_CAMPAIGN, VERSION, type KernelCampaign } from './crd';
import { KernelCampaignController } from './controller';
import { LeaderElector } from './leader';
import { controllerConfig } from './config';
import { renderManifests, type DeployValues } from './render';
import { RawObjectApi, parseYamlStream, toYamlStream } from './raw';
import type { CliContext, ParsedArgs } from '../cli/command';

/** Values from `--values` (YAML or JSON) with the flag overrides applied. */
export function valuesFromArgs(v: { values?: string; namespace?: string; gpu?: boolean; keda?: boolean; 'no-crds'?: boolean }): DeployValues {
  let base: Record<string, unknown> = {};
  if (v.values !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(v.values, 'utf8');
    } catch (e) {
      throw new GramfleetError('INPUT_FILE_UNREADABLE', `--values ${v.values}: ${(e as Error).message}`, { field: 'values', path: v.values });
    }
    const parsed: unknown = parseYamlStream(text)[0];
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new GramfleetError('INPUT_INVALID', `--values ${v.values} must hold a mapping`, { field: 'values' });
    }
    base = (parsed ?? {}) as Record<string, unknown>;
  }
  const sub = (k: string): Record<string, unknown> => (base[k] as Record<string, unknown> | undefined) ?? {};
  return {
    ...base,
    ...(v.namespace !== undefined ? { namespace: v.namespace } : {}),
    ...(v.gpu === true ? { gpuWorker: { ...sub('gpuWorker'), enabled: true } } : {}),
    ...(v.keda === true ? { keda: { ...sub('keda'), enabled: true } } : {}),
    ...(v['no-crds'] === true ? { crds: false } : {}),
  } as DeployValues;
}

/** The manifests as one multi-document YAML stream. */
export function manifestsYaml(values: DeployValues): string {
  return toYamlStream(renderManifests(values));
}

/**
 * Server-side applies every manifest (namespace first). With `dryRun` the API server
 * validates and admits each object without persisting it. Returns `kind/name` of each.
 */
export async function applyManifests(kc: KubeConfig, values: DeployValues, o: { dryRun?: boolean; fieldManager?: string } = {}): Promise<string[]> {
  const api = RawObjectApi.for(kc);
  const objs = renderManifests(values);
  const ns = objs.find((x) => x.metadata?.namespace !== undefined)?.metadata?.namespace;
  const all = [...(ns !== undefined ? [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }] : []), ...objs];
  const done: string[] = [];
  for (const obj of all) {
    await api.apply(obj, { dryRun: o.dryRun === true, fieldManager: o.fieldManager ?? 'gramfleet' });
    done.push(`${obj.kind}/${obj.metadata?.name ?? ''}`);
  }
  return done;
}

/** `gramfleet k8s render`. */
export function k8sRender(a: ParsedArgs, ctx: CliContext): Promise<number> {
  ctx.out.write(manifestsYaml(valuesFromArgs(flagValues(a))));
  return Promise.resolve(0);
}

/** `gramfleet k8s apply`. */
export async function k8sApply(a: ParsedArgs, ctx: CliContext): Promise<number> {
  const dryRun = a.flag('dry-run');
  const applied = await applyManifests(defaultKubeConfig(), valuesFromArgs(flagValues(a)), { dryRun });
  for (const x of applied) ctx.out.write(`${x} ${dryRun ? 'valid (server dry run)' : 'applied'}\n`);
  return 0;
}

/** `gramfleet k8s status`. */
export async function k8sStatus(a: ParsedArgs, ctx: CliContext): Promise<number> {
  const namespace = a.string('namespace');
  const api = defaultKubeConfig().makeApiClient(k8s.CustomObjectsApi);
  const base = { group: GROUP, version: VERSION, plural: KERNEL_CAMPAIGN.plural };
  const list = (namespace !== undefined ? await api.listNamespacedCustomObject({ ...base, namespace }) : await api.listClusterCustomObject(base)) as {
    items: KernelCampaign[];
  };
  if (a.flag('json')) {
    ctx.out.write(JSON.stringify(list.items.map((i) => ({ namespace: i.metadata?.namespace, name: i.metadata?.name, status: i.status ?? {} }))) + '\n');
    return 0;
  }
  const rows = [['NAMESPACE', 'NAME', 'PHASE', 'DONE', 'FAILED', 'TOTAL', 'WORKFLOW']];
  for (const i of list.items) {
    const s = i.status ?? {};
    rows.push([
      i.metadata?.namespace ?? '',
      i.metadata?.name ?? '',
      s.phase ?? 'Pending',
      String(s.runsDone ?? 0),
      String(s.runsFailed ?? 0),
      String(s.runsTotal ?? '?'),
      s.workflowId ?? '',
    ]);
  }
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows)
    ctx.out.write(
      r
        .map((x, c) => x.padEnd(w[c]!))
        .join('  ')
        .trimEnd() + '\n',
    );
  return 0;
}

/** The value flags of render/apply as {@link valuesFromArgs} takes them. */
function flagValues(a: ParsedArgs): Parameters<typeof valuesFromArgs>[0] {
  const values = a.string('values');
  const namespace = a.string('namespace');
  return {
    ...(values !== undefined ? { values } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    gpu: a.flag('gpu'),
    keda: a.flag('keda'),
    'no-crds': a.flag('no-crds'),
  };
}

/**
 * `gramfleet k8s controller`: the KernelCampaign controller until SIGTERM/SIGINT (configuration:
 * ./config.ts). With GRAMFLEET_LEADER_ELECTION_NAMESPACE set, it reconciles only while it holds
 * the Lease (./leader.ts); a replica that loses the Lease exits 1 (its pod restarts as a standby),
 * and SIGTERM releases it so a standby takes over at once.
 */
export async function runController(): Promise<number> {
  const cfg = controllerConfig();
  const log = createJsonLogger({ proc: 'kernelcampaign-controller' }, cfg.logLevel);
  const kubeConfig = defaultKubeConfig();
  let c: KernelCampaignController | undefined;
  const startController = async (): Promise<void> => {
    c = await KernelCampaignController.start({
      kubeConfig,
      temporalAddress: cfg.temporalAddress,
      temporalNamespace: cfg.temporalNamespace,
      ...(cfg.temporalSecurity !== undefined ? { temporalSecurity: cfg.temporalSecurity } : {}),
      taskQueue: cfg.taskQueue,
      prefix: cfg.prefix,
      ...(cfg.watchNamespace !== undefined ? { watchNamespace: cfg.watchNamespace } : {}),
      ...(cfg.pollIntervalMs !== undefined ? { pollIntervalMs: cfg.pollIntervalMs } : {}),
      log,
    });
    log.info('kernelcampaign controller running', { watchNamespace: cfg.watchNamespace ?? '(all)' });
  };
  let lost: (() => void) | undefined;
  const lostLease = new Promise<void>((resolve) => (lost = resolve));
  let elector: LeaderElector | undefined;
  if (cfg.leaderElectionNamespace !== undefined) {
    const leaseMs = cfg.leaderElectionLeaseMs ?? 15_000;
    elector = LeaderElector.start({
      kubeConfig,
      namespace: cfg.leaderElectionNamespace,
      ...(cfg.leaderElectionLease !== undefined ? { name: cfg.leaderElectionLease } : {}),
      leaseDurationMs: leaseMs,
      renewDeadlineMs: Math.round((leaseMs * 2) / 3),
      retryPeriodMs: Math.max(100, Math.round((leaseMs * 2) / 15)),
      onStartedLeading: startController,
      onStoppedLeading: async (why) => {
        await c?.stop();
        c = undefined;
        if (why === 'lost') lost?.();
      },
      log,
    });
    log.info('kernelcampaign controller standing by for the lease', {
      lease: `${cfg.leaderElectionNamespace}/${cfg.leaderElectionLease ?? 'gramfleet-controller'}`,
      identity: elector.identity,
    });
  } else await startController();
  // /metrics too (the process's own series): the chart's ServiceMonitor scrapes every gramfleet pod.
  const metrics = createProcessMetrics({ proc: 'controller' });
  // A standby is ready (it is healthy and waiting); the leader once its first list is done.
  const ready = (): boolean => (c !== undefined ? c.ready() : elector !== undefined && !elector.isLeader());
  if (cfg.healthPort !== undefined) await startHealthServer({ port: cfg.healthPort, ready, metrics: () => metrics.render() });
  const why = await Promise.race([
    new Promise<'signal'>((resolve) => {
      process.once('SIGTERM', () => resolve('signal'));
      process.once('SIGINT', () => resolve('signal'));
    }),
    lostLease.then(() => 'lost' as const),
  ]);
  if (elector !== undefined) await elector.stop();
  await c?.stop();
  return why === 'lost' ? 1 : 0;
}
