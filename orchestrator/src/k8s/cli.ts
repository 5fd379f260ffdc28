/**
 * `gramfleet k8s render|apply|status|controller`: the Kubernetes deployment without Helm.
 * `render` prints the manifests as YAML; `apply` applies them with server-side apply through
 * the client library (field manager `gramfleet`); `status` lists KernelCampaigns with their
 * progress; `controller` runs the KernelCampaign controller (the container's entrypoint).
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { GramfleetError } from '@gramfleet/core';
import { createJsonLogger, healthPortFromEnv, startHealthServer } from '@gramfleet/workers';
import { defaultKubeConfig, k8s, type KubeConfig } from './client';
import { GROUP, KERNEL_CAMPAIGN, VERSION, type KernelCampaign } from './crd';
import { KernelCampaignController } from './controller';
import { renderManifests, type DeployValues } from './render';
import { RawObjectApi, parseYamlStream, toYamlStream } from './raw';

/** Usage lines of the `k8s` subcommands. */
export const K8S_USAGE = `  gramfleet k8s render [--values FILE.yaml|json] [--namespace NS] [--gpu] [--keda] [--no-crds]
  gramfleet k8s apply  [--values FILE] [--namespace NS] [--gpu] [--keda] [--dry-run]
  gramfleet k8s status [--namespace NS] [--json]
  gramfleet k8s controller   (env: GRAMFLEET_TEMPORAL_ADDRESS, GRAMFLEET_NAMESPACE, GRAMFLEET_TASK_QUEUE,
                              GRAMFLEET_WATCH_NAMESPACE, GRAMFLEET_PREFIX, GRAMFLEET_HEALTH_PORT)`;

const valueOptions = {
  values: { type: 'string' }, namespace: { type: 'string' }, gpu: { type: 'boolean' }, keda: { type: 'boolean' }, 'no-crds': { type: 'boolean' },
} as const;

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

/** Runs `gramfleet k8s ...`; returns the exit code. */
export async function k8sCommand(argv: string[]): Promise<number> {
  const [sub, ...args] = argv;
  switch (sub) {
    case 'render': {
      const { values } = parseArgs({ args, options: valueOptions });
      process.stdout.write(manifestsYaml(valuesFromArgs(values)));
      return 0;
    }
    case 'apply': {
      const { values } = parseArgs({ args, options: { ...valueOptions, 'dry-run': { type: 'boolean' } } });
      const applied = await applyManifests(defaultKubeConfig(), valuesFromArgs(values), { dryRun: values['dry-run'] === true });
      for (const a of applied) process.stdout.write(`${a} ${values['dry-run'] === true ? 'valid (server dry run)' : 'applied'}\n`);
      return 0;
    }
    case 'status': {
      const { values } = parseArgs({ args, options: { namespace: { type: 'string' }, json: { type: 'boolean' } } });
      const api = defaultKubeConfig().makeApiClient(k8s.CustomObjectsApi);
      const base = { group: GROUP, version: VERSION, plural: KERNEL_CAMPAIGN.plural };
      const list = (values.namespace !== undefined ? await api.listNamespacedCustomObject({ ...base, namespace: values.namespace }) : await api.listClusterCustomObject(base)) as { items: KernelCampaign[] };
      if (values.json === true) {
        process.stdout.write(JSON.stringify(list.items.map((i) => ({ namespace: i.metadata?.namespace, name: i.metadata?.name, status: i.status ?? {} }))) + '\n');
        return 0;
      }
      const rows = [['NAMESPACE', 'NAME', 'PHASE', 'DONE', 'FAILED', 'TOTAL', 'WORKFLOW']];
      for (const i of list.items) {
        const s = i.status ?? {};
        rows.push([i.metadata?.namespace ?? '', i.metadata?.name ?? '', s.phase ?? 'Pending', String(s.runsDone ?? 0), String(s.runsFailed ?? 0), String(s.runsTotal ?? '?'), s.workflowId ?? '']);
      }
      const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
      for (const r of rows) process.stdout.write(r.map((x, c) => x.padEnd(w[c]!)).join('  ').trimEnd() + '\n');
      return 0;
    }
    case 'controller':
      return runController();
    default:
      process.stderr.write(`unknown k8s command ${sub ?? ''}\nusage:\n${K8S_USAGE}\n`);
      return 2;
  }
}

async function runController(): Promise<number> {
  const env = process.env;
  const log = createJsonLogger({ proc: 'kernelcampaign-controller' }, (env['GRAMFLEET_LOG_LEVEL'] ?? 'info') as 'info');
  const c = await KernelCampaignController.start({
    kubeConfig: defaultKubeConfig(),
    temporalAddress: env['GRAMFLEET_TEMPORAL_ADDRESS'] ?? '127.0.0.1:7233',
    temporalNamespace: env['GRAMFLEET_NAMESPACE'] ?? 'default',
    taskQueue: env['GRAMFLEET_TASK_QUEUE'] ?? 'gramfleet',
    prefix: env['GRAMFLEET_PREFIX'] ?? 'gf',
    ...(env['GRAMFLEET_WATCH_NAMESPACE'] !== undefined ? { watchNamespace: env['GRAMFLEET_WATCH_NAMESPACE'] } : {}),
    ...(env['GRAMFLEET_POLL_MS'] !== undefined ? { pollIntervalMs: Number(env['GRAMFLEET_POLL_MS']) } : {}),
    log,
  });
  const port = healthPortFromEnv(env);
  if (port !== undefined) await startHealthServer({ port, ready: () => c.ready() });
  log.info('kernelcampaign controller running', { watchNamespace: env['GRAMFLEET_WATCH_NAMESPACE'] ?? '(all)' });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await c.stop();
  return 0;
}
