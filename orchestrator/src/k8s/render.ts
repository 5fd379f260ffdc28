/**
 * Renders the gramfleet manifests from a values object — the same objects the Helm chart in
 * deploy/helm/gramfleet renders, for users who do not use Helm (`gramfleet k8s render|apply`).
 * NATS and Temporal are not rendered: they come from their official charts (the Helm chart
 * declares them as dependencies) and are reached through `nats.url` / `temporal.address`.
 */
import { GramfleetError, resourceNames, consumerName, type WorkerClass } from '@gramfleet/core';
import { kernelCampaignCrd } from './crd';
import type { KubernetesObject } from './client';

/** Requests and limits of one container. */
export interface Resources {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

/** A pod toleration. */
export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

/** KEDA autoscaling of one worker class on its JetStream consumer lag. */
export interface ClassScaling {
  /** @default wasm: 1, gpu: 0 (scale to zero when idle) */
  readonly minReplicas?: number;
  /** @default wasm: 16, gpu: 4 */
  readonly maxReplicas?: number;
  /** Pending shards per replica. @default 8 */
  readonly lagThreshold?: number;
}

/** Values of the chart / renderer. Every field is optional; see {@link compileValues}. */
export interface DeployValues {
  /** Namespace of every namespaced object. @default 'gramfleet' */
  readonly namespace?: string;
  /** Name prefix of every object. @default 'gramfleet' */
  readonly fullname?: string;
  readonly image?: { readonly registry?: string; readonly tag?: string; readonly pullPolicy?: 'Always' | 'IfNotPresent' | 'Never' };
  readonly temporal?: { readonly address?: string; readonly namespace?: string; readonly taskQueue?: string };
  /**
   * NATS: `url`, or a Secret holding the URL with credentials (`nats://user:pass@host:4222`);
   * `monitoringEndpoint` is the HTTP monitoring host:port KEDA reads consumer lag from.
   */
  readonly nats?: {
    readonly url?: string;
    readonly urlSecret?: { readonly name: string; readonly key: string };
    readonly monitoringEndpoint?: string;
    readonly account?: string;
  };
  /** Resource prefix of the JetStream streams/buckets. @default 'gf' */
  readonly prefix?: string;
  readonly orchestrator?: { readonly replicas?: number; readonly resources?: Resources };
  readonly wasmWorker?: {
    readonly replicas?: number;
    readonly threads?: number;
    readonly kernelCacheMB?: number;
    readonly resources?: Resources;
    readonly nodeSelector?: Readonly<Record<string, string>>;
    readonly tolerations?: readonly Toleration[];
  };
  readonly gpuWorker?: {
    readonly enabled?: boolean;
    readonly replicas?: number;
    readonly gpus?: number;
    readonly resources?: Resources;
    readonly nodeSelector?: Readonly<Record<string, string>>;
    readonly tolerations?: readonly Toleration[];
  };
  /** The KernelCampaign controller. */
  readonly controller?: { readonly enabled?: boolean; readonly watchNamespace?: string; readonly resources?: Resources };
  readonly keda?: {
    readonly enabled?: boolean;
    readonly pollingInterval?: number;
    readonly cooldownPeriod?: number;
    readonly wasm?: ClassScaling;
    readonly gpu?: ClassScaling;
  };
  /**
   * The host store of each orchestrator and worker pod: an `emptyDir` in memory (medium Memory,
   * counted against the pod's memory limit) where the pod's processes keep sealed arrays. `sizeMB`
   * is both the volume's size limit and the store's own limit (arrays with a durable copy are
   * evicted when it is full). With `peerSecret` (a Secret holding the peers' shared secret), each
   * pod also serves its store to the others on `peerPort` (readers check every leaf; a pull must
   * prove the secret); without one, arrays between pods go through the object store.
   */
  readonly hostStore?: {
    readonly enabled?: boolean;
    readonly sizeMB?: number;
    readonly peerPort?: number;
    readonly peerSecret?: { readonly name: string; readonly key: string };
  };
  /** Port of the /healthz and /readyz endpoints in every process. @default 8080 */
  readonly healthPort?: number;
  /** Render the KernelCampaign CRD too (Helm installs it from crds/). @default true */
  readonly crds?: boolean;
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function bad(field: string, bound: string, value: unknown): never {
  throw new GramfleetError('INPUT_INVALID', `values.${field} ${bound} (got ${JSON.stringify(value)})`, { field, bound });
}
function count(field: string, v: number | undefined, dflt: number, min: number, max: number): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < min || n > max) bad(field, `must be an integer in [${min}, ${max}]`, n);
  return n;
}
function name(field: string, v: string | undefined, dflt: string): string {
  const s = v ?? dflt;
  if (s.length > 52 || !DNS1123.test(s)) bad(field, 'must be a DNS-1123 label of at most 52 characters', s);
  return s;
}

/** Validated values with every default filled in. */
export type CompiledValues = ReturnType<typeof compileValues>;

/** Fills in defaults and validates; bad values throw INPUT_INVALID naming the field. */
export function compileValues(v: DeployValues = {}) {
  const gpuOn = v.gpuWorker?.enabled ?? false;
  const kedaOn = v.keda?.enabled ?? false;
  const scaling = (cls: WorkerClass, s: ClassScaling | undefined) => {
    const min = count(`keda.${cls}.minReplicas`, s?.minReplicas, cls === 'gpu' ? 0 : 1, 0, 1000);
    return {
      min,
      max: count(`keda.${cls}.maxReplicas`, s?.maxReplicas, cls === 'gpu' ? 4 : 16, Math.max(1, min), 1000),
      lagThreshold: count(`keda.${cls}.lagThreshold`, s?.lagThreshold, 8, 1, 1_000_000),
    };
  };
  const prefix = v.prefix ?? 'gf';
  try {
    resourceNames(prefix);
  } catch {
    bad('prefix', 'must match [a-z][a-z0-9_-]*', prefix);
  }
  if (v.nats?.url !== undefined && v.nats.urlSecret !== undefined) bad('nats', 'takes url or urlSecret, not both', v.nats);
  return Object.freeze({
    namespace: name('namespace', v.namespace, 'gramfleet'),
    fullname: name('fullname', v.fullname, 'gramfleet'),
    image: { registry: v.image?.registry ?? 'ghcr.io/gramfleet', tag: v.image?.tag ?? '0.1.0', pullPolicy: v.image?.pullPolicy ?? 'IfNotPresent' },
    temporal: {
      address: v.temporal?.address ?? 'temporal-frontend.temporal.svc:7233',
      namespace: v.temporal?.namespace ?? 'default',
      taskQueue: v.temporal?.taskQueue ?? 'gramfleet',
    },
    nats: {
      url: v.nats?.url ?? 'nats://nats.nats.svc:4222',
      urlSecret: v.nats?.urlSecret,
      monitoringEndpoint: v.nats?.monitoringEndpoint ?? 'nats.nats.svc:8222',
      account: v.nats?.account ?? '$G',
    },
    prefix,
    orchestrator: {
      replicas: count('orchestrator.replicas', v.orchestrator?.replicas, 1, 0, 100),
      resources: v.orchestrator?.resources ?? { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '2Gi' } },
    },
    wasmWorker: {
      replicas: count('wasmWorker.replicas', v.wasmWorker?.replicas, 2, 0, 1000),
      threads: count('wasmWorker.threads', v.wasmWorker?.threads, 1, 1, 256),
      // Unset: the worker takes a quarter of its memory limit (workers/src/kernel-cache.ts).
      kernelCacheMB: v.wasmWorker?.kernelCacheMB === undefined ? undefined : count('wasmWorker.kernelCacheMB', v.wasmWorker.kernelCacheMB, 0, 0, 16_777_216),
      resources: v.wasmWorker?.resources ?? { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '4Gi' } },
      nodeSelector: v.wasmWorker?.nodeSelector ?? {},
      tolerations: v.wasmWorker?.tolerations ?? [],
    },
    gpuWorker: {
      enabled: gpuOn,
      replicas: count('gpuWorker.replicas', v.gpuWorker?.replicas, 1, 0, 1000),
      gpus: count('gpuWorker.gpus', v.gpuWorker?.gpus, 1, 1, 16),
      resources: v.gpuWorker?.resources ?? { requests: { cpu: '1', memory: '4Gi' }, limits: { memory: '16Gi' } },
      nodeSelector: v.gpuWorker?.nodeSelector ?? { 'nvidia.com/gpu.present': 'true' },
      tolerations: v.gpuWorker?.tolerations ?? [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    },
    controller: {
      enabled: v.controller?.enabled ?? true,
      watchNamespace: v.controller?.watchNamespace,
      resources: v.controller?.resources ?? { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    },
    keda: {
      enabled: kedaOn,
      pollingInterval: count('keda.pollingInterval', v.keda?.pollingInterval, 10, 1, 3600),
      cooldownPeriod: count('keda.cooldownPeriod', v.keda?.cooldownPeriod, 300, 0, 86400),
      wasm: scaling('wasm', v.keda?.wasm),
      gpu: scaling('gpu', v.keda?.gpu),
    },
    hostStore: {
      enabled: v.hostStore?.enabled ?? true,
      sizeMB: count('hostStore.sizeMB', v.hostStore?.sizeMB, 1024, 1, 1_048_576),
      peerPort: count('hostStore.peerPort', v.hostStore?.peerPort, 7450, 1024, 65535),
      peerSecret: v.hostStore?.peerSecret,
    },
    healthPort: count('healthPort', v.healthPort, 8080, 1024, 65535),
    crds: v.crds ?? true,
  });
}

type Obj = KubernetesObject & Record<string, unknown>;

/** Where the host store's volume is mounted in orchestrator and worker containers. */
export const HOST_STORE_MOUNT = '/var/run/gramfleet/arrays';

/** Renders every manifest for the values, CRD first, in apply order. */
export function renderManifests(values: DeployValues = {}): Obj[] {
  const v = compileValues(values);
  const ns = v.namespace;
  const labels = (component: string) => ({
    'app.kubernetes.io/name': 'gramfleet',
    'app.kubernetes.io/instance': v.fullname,
    'app.kubernetes.io/component': component,
  });
  const meta = (n: string, component: string) => ({ name: `${v.fullname}-${n}`, namespace: ns, labels: labels(component) });
  const out: Obj[] = [];
  if (v.crds) out.push(kernelCampaignCrd() as Obj);

  const natsEnv =
    v.nats.urlSecret !== undefined
      ? { name: 'GRAMFLEET_NATS_URL', valueFrom: { secretKeyRef: { name: v.nats.urlSecret.name, key: v.nats.urlSecret.key } } }
      : { name: 'GRAMFLEET_NATS_URL', value: v.nats.url };
  const commonEnv = [
    natsEnv,
    { name: 'GRAMFLEET_PREFIX', value: v.prefix },
    { name: 'GRAMFLEET_HEALTH_PORT', value: String(v.healthPort) },
    { name: 'GRAMFLEET_LOG_LEVEL', value: 'info' },
  ];
  const temporalEnv = [
    { name: 'GRAMFLEET_TEMPORAL_ADDRESS', value: v.temporal.address },
    { name: 'GRAMFLEET_NAMESPACE', value: v.temporal.namespace },
    { name: 'GRAMFLEET_TASK_QUEUE', value: v.temporal.taskQueue },
  ];
  const hs = v.hostStore;
  const peers = hs.enabled && hs.peerSecret !== undefined;
  const storeEnv = hs.enabled
    ? [
        { name: 'GRAMFLEET_HOST_STORE_DIR', value: HOST_STORE_MOUNT },
        { name: 'GRAMFLEET_HOST_STORE_MB', value: String(hs.sizeMB) },
        ...(hs.peerSecret !== undefined
          ? [
              { name: 'GRAMFLEET_PEER_PORT', value: String(hs.peerPort) },
              { name: 'GRAMFLEET_PEER_ADVERTISE', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
              { name: 'GRAMFLEET_PEER_SECRET', valueFrom: { secretKeyRef: { name: hs.peerSecret.name, key: hs.peerSecret.key } } },
            ]
          : []),
      ]
    : [];
  /** A container; `store`: it keeps a host store (orchestrator and workers). */
  const container = (cname: string, image: string, env: object[], resources: Resources, args: string[] = [], store = false) => ({
    name: cname,
    image: `${v.image.registry}/${image}:${v.image.tag}`,
    imagePullPolicy: v.image.pullPolicy,
    ...(args.length > 0 ? { args } : {}),
    env: store ? [...env, ...storeEnv] : env,
    resources,
    ports: [{ name: 'health', containerPort: v.healthPort }, ...(store && peers ? [{ name: 'peer', containerPort: hs.peerPort }] : [])],
    livenessProbe: { httpGet: { path: '/healthz', port: 'health' }, periodSeconds: 10, failureThreshold: 6 },
    readinessProbe: { httpGet: { path: '/readyz', port: 'health' }, periodSeconds: 5 },
    securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(store && hs.enabled ? [{ name: 'arrays', mountPath: HOST_STORE_MOUNT }] : [])],
  });
  const deployment = (n: string, component: string, replicas: number, c: object, pod: Record<string, unknown> = {}, store = false) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(n, component),
    spec: {
      replicas,
      selector: { matchLabels: labels(component) },
      template: {
        metadata: { labels: labels(component) },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
          terminationGracePeriodSeconds: 60,
          containers: [c],
          volumes: [
            { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
            ...(store && hs.enabled ? [{ name: 'arrays', emptyDir: { medium: 'Memory', sizeLimit: `${hs.sizeMB}Mi` } }] : []),
          ],
          ...pod,
        },
      },
    },
  });

  out.push(
    deployment(
      'orchestrator',
      'orchestrator',
      v.orchestrator.replicas,
      container('orchestrator', 'gramfleet-orchestrator', [...commonEnv, ...temporalEnv], v.orchestrator.resources, [], true),
      {},
      true,
    ),
  );
  const wasmReplicas = v.keda.enabled ? Math.max(v.keda.wasm.min, 1) : v.wasmWorker.replicas;
  out.push(
    deployment(
      'wasm-worker',
      'wasm-worker',
      wasmReplicas,
      container(
        'worker',
        'gramfleet-wasm-worker',
        [
          ...commonEnv,
          { name: 'GRAMFLEET_THREADS', value: String(v.wasmWorker.threads) },
          ...(v.wasmWorker.kernelCacheMB !== undefined ? [{ name: 'GRAMFLEET_KERNEL_CACHE_MB', value: String(v.wasmWorker.kernelCacheMB) }] : []),
        ],
        v.wasmWorker.resources,
        [],
        true,
      ),
      {
        ...(Object.keys(v.wasmWorker.nodeSelector).length > 0 ? { nodeSelector: v.wasmWorker.nodeSelector } : {}),
        ...(v.wasmWorker.tolerations.length > 0 ? { tolerations: v.wasmWorker.tolerations } : {}),
      },
      true,
    ),
  );
  if (v.gpuWorker.enabled) {
    const gpu = String(v.gpuWorker.gpus);
    const r = v.gpuWorker.resources;
    out.push(
      deployment(
        'gpu-worker',
        'gpu-worker',
        v.keda.enabled ? v.keda.gpu.min : v.gpuWorker.replicas,
        container(
          'worker',
          'gramfleet-gpu-worker',
          commonEnv,
          { requests: { ...r.requests, 'nvidia.com/gpu': gpu }, limits: { ...r.limits, 'nvidia.com/gpu': gpu } },
          [],
          true,
        ),
        { nodeSelector: v.gpuWorker.nodeSelector, tolerations: v.gpuWorker.tolerations },
        true,
      ),
    );
  }
  if (v.keda.enabled) {
    const classes: WorkerClass[] = v.gpuWorker.enabled ? ['wasm', 'gpu'] : ['wasm'];
    for (const cls of classes) {
      const s = v.keda[cls];
      out.push({
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: meta(`${cls}-worker`, `${cls}-worker`),
        spec: {
          scaleTargetRef: { name: `${v.fullname}-${cls}-worker` },
          minReplicaCount: s.min,
          maxReplicaCount: s.max,
          pollingInterval: v.keda.pollingInterval,
          cooldownPeriod: v.keda.cooldownPeriod,
          triggers: [
            {
              type: 'nats-jetstream',
              metadata: {
                natsServerMonitoringEndpoint: v.nats.monitoringEndpoint,
                account: v.nats.account,
                stream: resourceNames(v.prefix).tasksStream,
                consumer: consumerName(cls),
                lagThreshold: String(s.lagThreshold),
                activationLagThreshold: '0',
              },
            },
          ],
        },
      });
    }
  }
  if (v.controller.enabled) out.push(...controllerObjects(v, meta, labels, container, deployment, temporalEnv));
  return out;
}

function controllerObjects(
  v: CompiledValues,
  meta: (n: string, c: string) => { name: string; namespace: string; labels: Record<string, string> },
  labels: (c: string) => Record<string, string>,
  container: (n: string, image: string, env: object[], r: Resources, args?: string[]) => object,
  deployment: (
    n: string,
    c: string,
    replicas: number,
    c2: object,
    pod?: Record<string, unknown>,
  ) => { spec: { template: { spec: Record<string, unknown> } } } & Obj,
  temporalEnv: object[],
): Obj[] {
  const sa = `${v.fullname}-controller`;
  const rules = controllerRules();
  const scoped = v.controller.watchNamespace;
  const env = [
    ...temporalEnv,
    { name: 'GRAMFLEET_HEALTH_PORT', value: String(v.healthPort) },
    ...(scoped !== undefined ? [{ name: 'GRAMFLEET_WATCH_NAMESPACE', value: scoped }] : []),
  ];
  const dep = deployment('controller', 'controller', 1, container('controller', 'gramfleet-orchestrator', env, v.controller.resources, ['k8s', 'controller']));
  // one reconciler at a time: the workflow id makes a second one harmless, but Recreate avoids the overlap
  (dep.spec as Record<string, unknown>)['strategy'] = { type: 'Recreate' };
  dep.spec.template.spec['serviceAccountName'] = sa;
  dep.spec.template.spec['automountServiceAccountToken'] = true;
  const role =
    scoped !== undefined
      ? { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { ...meta('controller', 'controller'), namespace: scoped }, rules }
      : {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: `${v.fullname}-controller`, labels: labels('controller') },
          rules,
        };
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: scoped !== undefined ? 'RoleBinding' : 'ClusterRoleBinding',
    metadata:
      scoped !== undefined ? { ...meta('controller', 'controller'), namespace: scoped } : { name: `${v.fullname}-controller`, labels: labels('controller') },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: role.kind, name: `${v.fullname}-controller` },
    subjects: [{ kind: 'ServiceAccount', name: sa, namespace: v.namespace }],
  };
  return [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('controller', 'controller') } as Obj, role as Obj, binding as Obj, dep];
}

/**
 * The controller's RBAC rules, least privilege: read and watch KernelCampaigns, update them
 * only to add/remove its finalizer, write their status subresource, and record Events.
 */
export function controllerRules(): object[] {
  return [
    { apiGroups: ['gramfleet.io'], resources: ['kernelcampaigns'], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
    { apiGroups: ['gramfleet.io'], resources: ['kernelcampaigns/status'], verbs: ['get', 'update', 'patch'] },
    { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  ];
}
