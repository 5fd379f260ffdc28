/**
 * Renders the gramfleet manifests from a values object — the same objects the Helm chart in
 * deploy/helm/gramfleet renders, for users who do not use Helm (`gramfleet k8s render|apply`).
 * NATS and Temporal are not rendered: they come from their official charts (the Helm chart
 * declares them as dependencies) and are reached through `nats.url` / `temporal.address`.
 */
import { grafanaDashboardJson } from './grafana';
import { GramfleetError, resourceNames, consumerName, type WorkerClass } from '@gramfleet/core';
import { kernelCampaignCrd } from './crd';
import type { KubernetesObject } from './client';
import type { NatsRole } from '@gramfleet/workers';

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

/** A PodDisruptionBudget's bound: a count or a percentage ("25%"). */
export type Disruption = number | `${number}%`;

/** A NetworkPolicy peer (`from` entry), as Kubernetes spells it. */
export interface PolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
}

/** A label selector. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly {
    readonly key: string;
    readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    readonly values?: readonly string[];
  }[];
}

/** Where a server (NATS or Temporal) runs, for the NetworkPolicy that guards it. */
export interface ServerPolicy {
  /** Namespace of the server's pods. @default the release namespace when the chart installs the server, else 'nats' / 'temporal' */
  readonly namespace?: string;
  /** Labels of the server's pods. @default `app.kubernetes.io/name: nats|temporal` (+ `app.kubernetes.io/instance: <fullname>` when the chart installs it) */
  readonly podLabels?: Readonly<Record<string, string>>;
  /** The client port. @default NATS 4222, Temporal 7233 */
  readonly port?: number;
  /**
   * The server is outside the cluster (Temporal Cloud, a managed NATS): gramfleet's pods may reach
   * this CIDR on `port`, and no policy is rendered for the server's pods.
   */
  readonly cidr?: string;
}

/**
 * One TLS endpoint of the official Temporal chart (`temporal.server.tls.frontend|internode`, its
 * own values when `temporal.install`): read here for the cert-manager Certificate of its Secret.
 */
export interface TemporalServerTls {
  /** @default true */
  readonly enabled?: boolean;
  /** @default gramfleet-temporal-<frontend|internode>-tls */
  readonly secretName?: string;
  /** The name in the certificate (the Temporal chart's clients check it). @default `temporal-<frontend|internode>` */
  readonly serverName?: string;
  /** The Temporal chart's; not read here. */
  readonly requireClientAuth?: boolean;
}

/** Values of the chart / renderer. Every field is optional; see {@link compileValues}. */
export interface DeployValues {
  /** Namespace of every namespaced object. @default 'gramfleet' */
  readonly namespace?: string;
  /** Name prefix of every object. @default 'gramfleet' */
  readonly fullname?: string;
  readonly image?: { readonly registry?: string; readonly tag?: string; readonly pullPolicy?: 'Always' | 'IfNotPresent' | 'Never' };
  /**
   * Temporal: where it is, and how gramfleet's clients (orchestrator, controller) authenticate.
   * `tls`: a Secret with `ca.crt` (and `tls.crt`/`tls.key` when `mutual`) mounted read-only at
   * /etc/gramfleet/temporal/tls/; `apiKey`: a Secret whose key holds a Temporal Cloud API key,
   * mounted at /etc/gramfleet/temporal/api-key. `install`: the chart installs the official
   * Temporal chart (the renderer never renders it; it only places the NetworkPolicy as if it
   * were there).
   */
  readonly temporal?: {
    readonly install?: boolean;
    readonly address?: string;
    readonly namespace?: string;
    readonly taskQueue?: string;
    readonly tls?: { readonly enabled?: boolean; readonly secretName?: string; readonly mutual?: boolean; readonly serverName?: string };
    readonly apiKey?: { readonly secretName?: string; readonly key?: string };
    /** The Temporal chart's server TLS (with `install`; its Secrets come from cert-manager when `tls.certManager.enabled`). */
    readonly server?: { readonly tls?: { readonly frontend?: TemporalServerTls; readonly internode?: TemporalServerTls } };
  };
  /**
   * NATS: `url`; `creds`: per-role credentials from Secrets `<secretPrefix>-<role>` (key
   * `<role>.creds`), mounted read-only at /etc/gramfleet/nats/creds/<role>.creds; `tls`: the
   * Secret whose `ca.crt` the clients check the server against, mounted at
   * /etc/gramfleet/nats/tls/ca.crt (`tls.clientSecretName`: a kubernetes.io/tls Secret of a client
   * certificate for mutual TLS, its `tls.crt`/`tls.key` mounted beside it); `monitoringEndpoint` is the HTTP monitoring host:port KEDA
   * reads consumer lag from, `account` the account (its public key with JWT auth) of the streams.
   * `urlSecret` (a URL with user:password in an environment variable) is refused: use `creds`.
   * `replicas`: the copies JetStream keeps of every stream, KV bucket and object store gramfleet
   * creates (GRAMFLEET_NATS_REPLICAS: 1, 3 or 5; the NATS cluster needs at least that many servers).
   */
  readonly nats?: {
    readonly install?: boolean;
    readonly url?: string;
    /** @default 3 */
    readonly replicas?: number;
    readonly urlSecret?: unknown;
    readonly creds?: { readonly enabled?: boolean; readonly secretPrefix?: string };
    readonly tls?: { readonly enabled?: boolean; readonly secretName?: string; readonly clientSecretName?: string };
    readonly monitoringEndpoint?: string;
    readonly account?: string;
    /**
     * The servers' operator-mode accounts: Secret `secretName` (key `auth.conf`, made by `gramfleet
     * creds generate`), which the NATS chart (with `install`) mounts at /etc/nats-auth and includes
     * in its nats.conf (values.yaml: `nats.config.merge`, `nats.podTemplate.patch`, `nats.container.patch`).
     * @default 'gramfleet-nats-auth'
     */
    readonly auth?: { readonly secretName?: string };
  };
  /** Resource prefix of the JetStream streams/buckets. @default 'gf' */
  readonly prefix?: string;
  readonly orchestrator?: {
    readonly replicas?: number;
    readonly resources?: Resources;
    /**
     * The cache of inputs named by object reference (`gf:file:…`): an `emptyDir` of the pod
     * (`/var/cache/gramfleet/files`, size limit `sizeMB` + 256 MiB for a fetch a crash cut off),
     * bounded by the orchestrator at `sizeMB` (GRAMFLEET_FILE_CACHE_MAX_BYTES: least recently used
     * files no run reads are removed). @default { sizeMB: 8192 }
     */
    readonly fileCache?: { readonly sizeMB?: number };
  };
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
  readonly controller?: {
    readonly enabled?: boolean;
    readonly watchNamespace?: string;
    /**
     * Controller pods. With `leaderElection` on (the default) they elect one leader over a Lease
     * in the release namespace and the others stand by; off, only 1 is allowed. @default 2
     */
    readonly replicas?: number;
    /** Elect a leader over a `coordination.k8s.io` Lease (`<fullname>-controller`). @default true */
    readonly leaderElection?: boolean;
    readonly resources?: Resources;
  };
  readonly keda?: {
    readonly enabled?: boolean;
    readonly pollingInterval?: number;
    readonly cooldownPeriod?: number;
    readonly wasm?: ClassScaling;
    readonly gpu?: ClassScaling;
    /** Where KEDA's operator runs (the only pods that may read NATS's monitoring port). */
    readonly operator?: { readonly namespace?: string; readonly podLabels?: Readonly<Record<string, string>> };
  };
  /**
   * The host store of each orchestrator and worker pod: an `emptyDir` in memory (medium Memory,
   * counted against the pod's memory limit) where the pod's processes keep sealed arrays. `sizeMB`
   * is both the volume's size limit and the store's own limit (arrays with a durable copy are
   * evicted when it is full). With `peerSecret` (a Secret holding the peers' shared secret,
   * mounted as a file), each pod also serves its store to the others on `peerPort` (readers check
   * every leaf; a pull must prove the secret); without one, arrays between pods go through the
   * object store.
   */
  readonly hostStore?: {
    readonly enabled?: boolean;
    readonly sizeMB?: number;
    readonly peerPort?: number;
    readonly peerSecret?: { readonly name: string; readonly key: string };
  };
  /**
   * NetworkPolicies, default deny for every gramfleet pod (ingress and egress) plus the flows the
   * system needs: health probes in; DNS out; orchestrator and workers → NATS; orchestrator and
   * controller → Temporal; controller → the API server (`apiServer`: TCP 443/6443, to `cidr` when
   * set); the peer port between store pods. NATS and Temporal admit only gramfleet's pods, their
   * own pods, pods of the release namespace labelled `gramfleet.io/client: "true"` and `clients`
   * (KEDA's operator also reaches NATS's monitoring port when `keda.enabled`). @default enabled
   */
  readonly networkPolicy?: {
    readonly enabled?: boolean;
    readonly nats?: ServerPolicy & { readonly monitorPort?: number };
    readonly temporal?: ServerPolicy;
    readonly clients?: readonly PolicyPeer[];
    readonly apiServer?: { readonly cidr?: string; readonly ports?: readonly number[] };
  };
  /** PodDisruptionBudgets (maxUnavailable per component). @default enabled, 1 each, workers 25% */
  readonly podDisruptionBudget?: {
    readonly enabled?: boolean;
    readonly orchestrator?: { readonly maxUnavailable?: Disruption };
    readonly wasmWorker?: { readonly maxUnavailable?: Disruption };
    readonly gpuWorker?: { readonly maxUnavailable?: Disruption };
    readonly controller?: { readonly maxUnavailable?: Disruption };
  };
  /**
   * cert-manager: Issuer/Certificate objects for the NATS server certificate, gramfleet's
   * Temporal client certificate and (with `temporal.install`) the Temporal chart's frontend and
   * internode certificates, signed by `issuerRef` or by a CA the chart makes (self-signed Issuer → CA Certificate → CA
   * Issuer). Needs cert-manager installed. @default disabled
   */
  readonly tls?: {
    readonly certManager?: {
      readonly enabled?: boolean;
      readonly issuerRef?: { readonly name: string; readonly kind?: 'Issuer' | 'ClusterIssuer' };
      /** Extra DNS names of the NATS server certificate (the host of `nats.url` is always in it). */
      readonly natsDnsNames?: readonly string[];
      readonly duration?: string;
    };
  };
  /**
   * Prometheus: every gramfleet process serves /metrics on its health port. `serviceMonitor`: a
   * headless Service `<fullname>-metrics` over every gramfleet pod's health port and a Prometheus
   * Operator ServiceMonitor scraping /metrics on it every `interval` (needs the
   * monitoring.coreos.com CRDs; `labels` match the operator's serviceMonitorSelector).
   * `grafanaDashboard`: a ConfigMap `<fullname>-grafana-dashboard` holding the dashboard
   * (orchestrator/src/k8s/grafana.ts), labelled for Grafana's dashboard sidecar. @default both disabled
   */
  readonly metrics?: {
    readonly serviceMonitor?: { readonly enabled?: boolean; readonly interval?: string; readonly labels?: Readonly<Record<string, string>> };
    readonly grafanaDashboard?: { readonly enabled?: boolean; readonly labels?: Readonly<Record<string, string>> };
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

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A Secret name (a DNS-1123 subdomain); 200 characters leave room for suffixes such as `-<role>`. */
function secretName(field: string, v: string | undefined, dflt: string): string {
  const s = v ?? dflt;
  if (s.length > 200 || !DNS1123_SUBDOMAIN.test(s)) bad(field, 'must be a Secret name (a DNS-1123 subdomain of at most 200 characters)', s);
  return s;
}

const CIDR = /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;
/** An IPv4 or IPv6 CIDR (`10.0.0.0/8`). */
/** A Prometheus duration (`30s`, `1m`, `500ms`). */
function duration(field: string, v: string | undefined, dflt: string): string {
  if (v === undefined || v === '') return dflt;
  if (!/^[0-9]+(ms|s|m|h)$/.test(v)) bad(field, 'must be a Prometheus duration such as 30s or 1m', v);
  return v;
}

function cidr(field: string, v: string): string {
  if (!CIDR.test(v)) bad(field, 'must be a CIDR such as 10.0.0.0/8', v);
  return v;
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
  if (v.nats?.urlSecret !== undefined && v.nats.urlSecret !== null && v.nats.urlSecret !== '')
    bad(
      'nats.urlSecret',
      'is no longer supported (it put the NATS password in an environment variable): use nats.creds, per-role credentials mounted from Secrets',
      v.nats.urlSecret,
    );
  const ns = name('namespace', v.namespace, 'gramfleet');
  const fullname = name('fullname', v.fullname, 'gramfleet');
  const natsUrl = v.nats?.url ?? 'nats://nats.nats.svc:4222';
  // the host of the first server URL (a list is comma-separated): the NATS server certificate's name
  let natsHost = '';
  try {
    natsHost = new URL((natsUrl.split(',')[0] ?? '').trim()).hostname;
  } catch {
    natsHost = '';
  }
  const natsInstall = v.nats?.install ?? false;
  const natsReplicas = v.nats?.replicas ?? 3;
  if (![1, 3, 5].includes(natsReplicas)) bad('nats.replicas', 'must be 1, 3 or 5 (a JetStream replica count)', natsReplicas);
  const temporalInstall = v.temporal?.install ?? false;
  const serverPolicy = (which: 'nats' | 'temporal', p: ServerPolicy | undefined, install: boolean, port: number) => ({
    namespace: p?.namespace !== undefined && p.namespace !== '' ? name(`networkPolicy.${which}.namespace`, p.namespace, '') : install ? ns : which,
    podLabels:
      p?.podLabels !== undefined && Object.keys(p.podLabels).length > 0
        ? p.podLabels
        : { 'app.kubernetes.io/name': which, ...(install ? { 'app.kubernetes.io/instance': fullname } : {}) },
    port: count(`networkPolicy.${which}.port`, p?.port, port, 1, 65535),
    cidr: p?.cidr !== undefined && p.cidr !== '' ? cidr(`networkPolicy.${which}.cidr`, p.cidr) : undefined,
  });
  const pdb = (field: string, d: Disruption | undefined, dflt: Disruption): Disruption => {
    const x = d ?? dflt;
    if (typeof x === 'number' ? !Number.isInteger(x) || x < 0 : !/^(100|[1-9]?[0-9])%$/.test(x))
      bad(field, 'must be a count >= 0 or a percentage like "25%"', x);
    return x;
  };
  const apiKeySecret = v.temporal?.apiKey?.secretName;
  const serverTls = (which: 'frontend' | 'internode') => {
    const s = v.temporal?.server?.tls?.[which];
    return {
      enabled: s?.enabled ?? true,
      secretName: secretName(`temporal.server.tls.${which}.secretName`, s?.secretName, `gramfleet-temporal-${which}-tls`),
      serverName: s?.serverName !== undefined && s.serverName !== '' ? s.serverName : `temporal-${which}`,
    };
  };
  if ((v.tls?.certManager?.enabled ?? false) && (v.nats?.tls?.enabled ?? true) && natsHost === '' && (v.tls?.certManager?.natsDnsNames ?? []).length === 0)
    bad('tls.certManager.natsDnsNames', 'must name the NATS server (the first nats.url has no host)', []);
  return Object.freeze({
    namespace: ns,
    fullname,
    image: { registry: v.image?.registry ?? 'ghcr.io/gramfleet', tag: v.image?.tag ?? '0.1.0', pullPolicy: v.image?.pullPolicy ?? 'IfNotPresent' },
    temporal: {
      install: temporalInstall,
      address: v.temporal?.address ?? 'temporal-frontend.temporal.svc:7233',
      namespace: v.temporal?.namespace ?? 'default',
      taskQueue: v.temporal?.taskQueue ?? 'gramfleet',
      tls: {
        enabled: v.temporal?.tls?.enabled ?? true,
        secretName: secretName('temporal.tls.secretName', v.temporal?.tls?.secretName, 'gramfleet-temporal-client-tls'),
        mutual: v.temporal?.tls?.mutual ?? true,
        serverName: v.temporal?.tls?.serverName ?? '',
      },
      apiKey:
        apiKeySecret === undefined || apiKeySecret === ''
          ? undefined
          : { secretName: secretName('temporal.apiKey.secretName', apiKeySecret, ''), key: v.temporal?.apiKey?.key ?? 'api-key' },
      server: { frontend: serverTls('frontend'), internode: serverTls('internode') },
    },
    nats: {
      install: natsInstall,
      url: natsUrl,
      host: natsHost,
      creds: {
        enabled: v.nats?.creds?.enabled ?? true,
        secretPrefix: secretName('nats.creds.secretPrefix', v.nats?.creds?.secretPrefix, 'gramfleet-nats-creds'),
      },
      tls: {
        enabled: v.nats?.tls?.enabled ?? true,
        secretName: secretName('nats.tls.secretName', v.nats?.tls?.secretName, 'gramfleet-nats-tls'),
        clientSecretName:
          v.nats?.tls?.clientSecretName !== undefined && v.nats.tls.clientSecretName !== ''
            ? secretName('nats.tls.clientSecretName', v.nats.tls.clientSecretName, '')
            : undefined,
      },
      monitoringEndpoint: v.nats?.monitoringEndpoint ?? 'nats.nats.svc:8222',
      account: v.nats?.account ?? '$G',
      replicas: natsReplicas,
      auth: { secretName: secretName('nats.auth.secretName', v.nats?.auth?.secretName, 'gramfleet-nats-auth') },
    },
    networkPolicy: {
      enabled: v.networkPolicy?.enabled ?? true,
      nats: {
        ...serverPolicy('nats', v.networkPolicy?.nats, natsInstall, 4222),
        monitorPort: count('networkPolicy.nats.monitorPort', v.networkPolicy?.nats?.monitorPort, 8222, 1, 65535),
      },
      temporal: serverPolicy('temporal', v.networkPolicy?.temporal, temporalInstall, 7233),
      clients: v.networkPolicy?.clients ?? [],
      apiServer: {
        cidr:
          v.networkPolicy?.apiServer?.cidr !== undefined && v.networkPolicy.apiServer.cidr !== ''
            ? cidr('networkPolicy.apiServer.cidr', v.networkPolicy.apiServer.cidr)
            : undefined,
        ports: (v.networkPolicy?.apiServer?.ports ?? [443, 6443]).map((p, i) => count(`networkPolicy.apiServer.ports[${i}]`, p, 443, 1, 65535)),
      },
    },
    metrics: {
      serviceMonitor: {
        enabled: v.metrics?.serviceMonitor?.enabled ?? false,
        interval: duration('metrics.serviceMonitor.interval', v.metrics?.serviceMonitor?.interval, '30s'),
        labels: { ...v.metrics?.serviceMonitor?.labels },
      },
      grafanaDashboard: {
        enabled: v.metrics?.grafanaDashboard?.enabled ?? false,
        labels: { grafana_dashboard: '1', ...v.metrics?.grafanaDashboard?.labels },
      },
    },
    podDisruptionBudget: {
      enabled: v.podDisruptionBudget?.enabled ?? true,
      orchestrator: pdb('podDisruptionBudget.orchestrator.maxUnavailable', v.podDisruptionBudget?.orchestrator?.maxUnavailable, 1),
      wasmWorker: pdb('podDisruptionBudget.wasmWorker.maxUnavailable', v.podDisruptionBudget?.wasmWorker?.maxUnavailable, '25%'),
      gpuWorker: pdb('podDisruptionBudget.gpuWorker.maxUnavailable', v.podDisruptionBudget?.gpuWorker?.maxUnavailable, 1),
      controller: pdb('podDisruptionBudget.controller.maxUnavailable', v.podDisruptionBudget?.controller?.maxUnavailable, 1),
    },
    certManager: {
      enabled: v.tls?.certManager?.enabled ?? false,
      issuerRef:
        v.tls?.certManager?.issuerRef === undefined || v.tls.certManager.issuerRef.name === ''
          ? undefined
          : { name: v.tls.certManager.issuerRef.name, kind: v.tls.certManager.issuerRef.kind ?? 'Issuer' },
      natsDnsNames: v.tls?.certManager?.natsDnsNames ?? [],
      duration: v.tls?.certManager?.duration ?? '2160h',
    },
    prefix,
    orchestrator: {
      replicas: count('orchestrator.replicas', v.orchestrator?.replicas, 1, 0, 100),
      resources: v.orchestrator?.resources ?? { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '2Gi' } },
      fileCache: { sizeMB: count('orchestrator.fileCache.sizeMB', v.orchestrator?.fileCache?.sizeMB, 8192, 1, 1_048_576) },
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
      leaderElection: v.controller?.leaderElection ?? true,
      replicas: controllerReplicas(v.controller),
      resources: v.controller?.resources ?? { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    },
    keda: {
      enabled: kedaOn,
      pollingInterval: count('keda.pollingInterval', v.keda?.pollingInterval, 10, 1, 3600),
      cooldownPeriod: count('keda.cooldownPeriod', v.keda?.cooldownPeriod, 300, 0, 86400),
      wasm: scaling('wasm', v.keda?.wasm),
      gpu: scaling('gpu', v.keda?.gpu),
      operator: {
        namespace: name('keda.operator.namespace', v.keda?.operator?.namespace, 'keda'),
        podLabels:
          v.keda?.operator?.podLabels !== undefined && Object.keys(v.keda.operator.podLabels).length > 0
            ? v.keda.operator.podLabels
            : { 'app.kubernetes.io/name': 'keda-operator' },
      },
    },
    hostStore: {
      enabled: v.hostStore?.enabled ?? true,
      sizeMB: count('hostStore.sizeMB', v.hostStore?.sizeMB, 1024, 1, 1_048_576),
      peerPort: count('hostStore.peerPort', v.hostStore?.peerPort, 7450, 1024, 65535),
      peerSecret:
        v.hostStore?.peerSecret === undefined || v.hostStore.peerSecret === null
          ? undefined
          : { name: secretName('hostStore.peerSecret.name', v.hostStore.peerSecret.name, ''), key: v.hostStore.peerSecret.key },
    },
    healthPort: count('healthPort', v.healthPort, 8080, 1024, 65535),
    crds: v.crds ?? true,
  });
}

type Obj = KubernetesObject & Record<string, unknown>;

/** Where the host store's volume is mounted in orchestrator and worker containers. */
export const HOST_STORE_MOUNT = '/var/run/gramfleet/arrays';
/** Where the orchestrator's file cache (inputs named by object reference) is mounted. */
export const FILE_CACHE_MOUNT = '/var/cache/gramfleet/files';
/** Room the file cache's volume has beyond the cache's own bound (a fetch a crash cut off), MiB. */
export const FILE_CACHE_HEADROOM_MB = 256;
/** Where NATS credentials (`creds/<role>.creds`) and the CA (`tls/ca.crt`) are mounted. */
export const NATS_MOUNT = '/etc/gramfleet/nats';
/** Where Temporal's TLS files (`tls/ca.crt`, `tls/tls.crt`, `tls/tls.key`) and `api-key` are mounted. */
export const TEMPORAL_MOUNT = '/etc/gramfleet/temporal';
/** Where the peers' shared secret (`secret`) is mounted. */
export const PEER_MOUNT = '/etc/gramfleet/peer';
/** Mode of every mounted secret file: 0440 (owner and the pods' group, fsGroup 10001). */
const SECRET_MODE = 0o440;

/** The NATS identity (a role of workers/src/security/roles.ts) each gramfleet pod connects as; its credentials Secret is `<secretPrefix>-<role>`. */
export const POD_NATS_ROLES = { orchestrator: 'orchestrator', 'wasm-worker': 'wasm-worker', 'gpu-worker': 'gpu-worker' } as const satisfies Record<
  string,
  NatsRole
>;
/** A NATS role of a gramfleet pod. */
export type PodNatsRole = (typeof POD_NATS_ROLES)[keyof typeof POD_NATS_ROLES];

/** The labels of one component's pods. */
export function componentLabels(v: CompiledValues, component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'gramfleet', 'app.kubernetes.io/instance': v.fullname, 'app.kubernetes.io/component': component };
}

/** What a component's pods connect to and keep. */
interface PodKind {
  /** NATS identity; undefined: no NATS connection (the controller). */
  readonly natsRole?: PodNatsRole;
  /** A Temporal client (orchestrator, controller). */
  readonly temporal: boolean;
  /** Keeps a host store (orchestrator and workers). */
  readonly store: boolean;
  /** Caches inputs named by object reference (the orchestrator): its bound, MiB. */
  readonly fileCacheMB?: number;
}

/** Environment, volumes and mounts of one kind of pod: every secret is a read-only file, never an env value. */
function podWiring(v: CompiledValues, k: PodKind) {
  const env: object[] = [];
  const volumes: object[] = [{ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } }];
  const mounts: object[] = [{ name: 'tmp', mountPath: '/tmp' }];
  const natsEnv: object[] = [];
  if (k.natsRole !== undefined) {
    const role = k.natsRole;
    const sources: object[] = [];
    natsEnv.push({ name: 'GRAMFLEET_NATS_URL', value: v.nats.url });
    if (v.nats.creds.enabled) {
      sources.push({ secret: { name: `${v.nats.creds.secretPrefix}-${role}`, items: [{ key: `${role}.creds`, path: `creds/${role}.creds` }] } });
      natsEnv.push({ name: 'GRAMFLEET_NATS_CREDS', value: `${NATS_MOUNT}/creds/${role}.creds` });
    }
    if (v.nats.tls.enabled) {
      sources.push({ secret: { name: v.nats.tls.secretName, items: [{ key: 'ca.crt', path: 'tls/ca.crt' }] } });
      natsEnv.push({ name: 'GRAMFLEET_NATS_CA', value: `${NATS_MOUNT}/tls/ca.crt` });
      const client = v.nats.tls.clientSecretName;
      if (client !== undefined) {
        sources.push({
          secret: {
            name: client,
            items: [
              { key: 'tls.crt', path: 'tls/tls.crt' },
              { key: 'tls.key', path: 'tls/tls.key' },
            ],
          },
        });
        natsEnv.push({ name: 'GRAMFLEET_NATS_CERT', value: `${NATS_MOUNT}/tls/tls.crt` }, { name: 'GRAMFLEET_NATS_KEY', value: `${NATS_MOUNT}/tls/tls.key` });
      }
    }
    if (sources.length > 0) {
      volumes.push({ name: 'nats', projected: { defaultMode: SECRET_MODE, sources } });
      mounts.push({ name: 'nats', mountPath: NATS_MOUNT, readOnly: true });
    }
  }
  const temporalEnv: object[] = [];
  if (k.temporal) {
    const t = v.temporal;
    const sources: object[] = [];
    temporalEnv.push(
      { name: 'GRAMFLEET_TEMPORAL_ADDRESS', value: t.address },
      { name: 'GRAMFLEET_NAMESPACE', value: t.namespace },
      { name: 'GRAMFLEET_TASK_QUEUE', value: t.taskQueue },
    );
    if (t.tls.enabled) {
      const items = [
        { key: 'ca.crt', path: 'tls/ca.crt' },
        ...(t.tls.mutual
          ? [
              { key: 'tls.crt', path: 'tls/tls.crt' },
              { key: 'tls.key', path: 'tls/tls.key' },
            ]
          : []),
      ];
      sources.push({ secret: { name: t.tls.secretName, items } });
      temporalEnv.push({ name: 'GRAMFLEET_TEMPORAL_TLS_CA', value: `${TEMPORAL_MOUNT}/tls/ca.crt` });
      if (t.tls.mutual)
        temporalEnv.push(
          { name: 'GRAMFLEET_TEMPORAL_TLS_CERT', value: `${TEMPORAL_MOUNT}/tls/tls.crt` },
          { name: 'GRAMFLEET_TEMPORAL_TLS_KEY', value: `${TEMPORAL_MOUNT}/tls/tls.key` },
        );
    }
    // the server name also matters without a CA of ours (an API key alone: TLS with the system's roots)
    if (t.tls.serverName !== '' && (t.tls.enabled || t.apiKey !== undefined))
      temporalEnv.push({ name: 'GRAMFLEET_TEMPORAL_TLS_SERVER_NAME', value: t.tls.serverName });
    if (t.apiKey !== undefined) {
      sources.push({ secret: { name: t.apiKey.secretName, items: [{ key: t.apiKey.key, path: 'api-key' }] } });
      temporalEnv.push({ name: 'GRAMFLEET_TEMPORAL_API_KEY_FILE', value: `${TEMPORAL_MOUNT}/api-key` });
    }
    if (sources.length > 0) {
      volumes.push({ name: 'temporal', projected: { defaultMode: SECRET_MODE, sources } });
      mounts.push({ name: 'temporal', mountPath: TEMPORAL_MOUNT, readOnly: true });
    }
  }
  const storeEnv: object[] = [];
  const hs = v.hostStore;
  const peers = k.store && hs.enabled && hs.peerSecret !== undefined;
  if (k.store && hs.enabled) {
    storeEnv.push({ name: 'GRAMFLEET_HOST_STORE_DIR', value: HOST_STORE_MOUNT }, { name: 'GRAMFLEET_HOST_STORE_MB', value: String(hs.sizeMB) });
    volumes.push({ name: 'arrays', emptyDir: { medium: 'Memory', sizeLimit: `${hs.sizeMB}Mi` } });
    mounts.push({ name: 'arrays', mountPath: HOST_STORE_MOUNT });
    if (hs.peerSecret !== undefined) {
      storeEnv.push(
        { name: 'GRAMFLEET_PEER_PORT', value: String(hs.peerPort) },
        { name: 'GRAMFLEET_PEER_ADVERTISE', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'GRAMFLEET_PEER_SECRET_FILE', value: `${PEER_MOUNT}/secret` },
      );
      volumes.push({ name: 'peer', secret: { secretName: hs.peerSecret.name, defaultMode: SECRET_MODE, items: [{ key: hs.peerSecret.key, path: 'secret' }] } });
      mounts.push({ name: 'peer', mountPath: PEER_MOUNT, readOnly: true });
    }
  }
  const filesEnv: object[] = [];
  if (k.fileCacheMB !== undefined) {
    filesEnv.push(
      { name: 'GRAMFLEET_FILE_CACHE_DIR', value: FILE_CACHE_MOUNT },
      { name: 'GRAMFLEET_FILE_CACHE_MAX_BYTES', value: String(k.fileCacheMB * 1_048_576) },
    );
    volumes.push({ name: 'files', emptyDir: { sizeLimit: `${k.fileCacheMB + FILE_CACHE_HEADROOM_MB}Mi` } });
    mounts.push({ name: 'files', mountPath: FILE_CACHE_MOUNT });
  }
  env.push(...natsEnv, ...temporalEnv);
  return { natsEnv, temporalEnv, storeEnv, filesEnv, env, volumes, mounts, peers };
}

/** Renders every manifest for the values, CRD first, in apply order. */
export function renderManifests(values: DeployValues = {}): Obj[] {
  const v = compileValues(values);
  const ns = v.namespace;
  const labels = (component: string) => componentLabels(v, component);
  const meta = (n: string, component: string) => ({ name: `${v.fullname}-${n}`, namespace: ns, labels: labels(component) });
  const out: Obj[] = [];
  if (v.crds) out.push(kernelCampaignCrd() as Obj);
  out.push(...certManagerObjects(v));

  const base = [
    { name: 'GRAMFLEET_PREFIX', value: v.prefix },
    { name: 'GRAMFLEET_HEALTH_PORT', value: String(v.healthPort) },
    { name: 'GRAMFLEET_LOG_LEVEL', value: 'info' },
    { name: 'GRAMFLEET_NATS_REPLICAS', value: String(v.nats.replicas) },
  ];
  /** One Deployment whose single container is wired for `k`: `env` sits between the connection env and the host store's. */
  const deployment = (
    n: string,
    image: string,
    replicas: number,
    k: PodKind,
    env: object[],
    resources: Resources,
    pod: Record<string, unknown> = {},
    args: string[] = [],
  ) => {
    const w = podWiring(v, k);
    const container = {
      name: n === 'orchestrator' || n === 'controller' ? n : 'worker',
      image: `${v.image.registry}/${image}:${v.image.tag}`,
      imagePullPolicy: v.image.pullPolicy,
      ...(args.length > 0 ? { args } : {}),
      env: [...w.natsEnv, ...env, ...w.temporalEnv, ...w.storeEnv, ...w.filesEnv],
      resources,
      ports: [{ name: 'health', containerPort: v.healthPort }, ...(w.peers ? [{ name: 'peer', containerPort: v.hostStore.peerPort }] : [])],
      livenessProbe: { httpGet: { path: '/healthz', port: 'health' }, periodSeconds: 10, failureThreshold: 6 },
      readinessProbe: { httpGet: { path: '/readyz', port: 'health' }, periodSeconds: 5 },
      securityContext: {
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      },
      volumeMounts: w.mounts,
    };
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(n, n),
      spec: {
        replicas,
        selector: { matchLabels: labels(n) },
        template: {
          metadata: { labels: labels(n) },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
            terminationGracePeriodSeconds: 60,
            containers: [container],
            volumes: w.volumes,
            ...pod,
          },
        },
      },
    };
  };

  out.push(
    deployment(
      'orchestrator',
      'gramfleet-orchestrator',
      v.orchestrator.replicas,
      { natsRole: 'orchestrator', temporal: true, store: true, fileCacheMB: v.orchestrator.fileCache.sizeMB },
      base,
      v.orchestrator.resources,
    ),
  );
  const wasmReplicas = v.keda.enabled ? Math.max(v.keda.wasm.min, 1) : v.wasmWorker.replicas;
  out.push(
    deployment(
      'wasm-worker',
      'gramfleet-wasm-worker',
      wasmReplicas,
      { natsRole: 'wasm-worker', temporal: false, store: true },
      [
        ...base,
        { name: 'GRAMFLEET_THREADS', value: String(v.wasmWorker.threads) },
        ...(v.wasmWorker.kernelCacheMB !== undefined ? [{ name: 'GRAMFLEET_KERNEL_CACHE_MB', value: String(v.wasmWorker.kernelCacheMB) }] : []),
      ],
      v.wasmWorker.resources,
      {
        ...(Object.keys(v.wasmWorker.nodeSelector).length > 0 ? { nodeSelector: v.wasmWorker.nodeSelector } : {}),
        ...(v.wasmWorker.tolerations.length > 0 ? { tolerations: v.wasmWorker.tolerations } : {}),
      },
    ),
  );
  if (v.gpuWorker.enabled) {
    const gpu = String(v.gpuWorker.gpus);
    const r = v.gpuWorker.resources;
    out.push(
      deployment(
        'gpu-worker',
        'gramfleet-gpu-worker',
        v.keda.enabled ? v.keda.gpu.min : v.gpuWorker.replicas,
        { natsRole: 'gpu-worker', temporal: false, store: true },
        base,
        { requests: { ...r.requests, 'nvidia.com/gpu': gpu }, limits: { ...r.limits, 'nvidia.com/gpu': gpu } },
        { nodeSelector: v.gpuWorker.nodeSelector, tolerations: v.gpuWorker.tolerations },
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
  if (v.controller.enabled) {
    const scoped = v.controller.watchNamespace;
    const dep = deployment(
      'controller',
      'gramfleet-orchestrator',
      v.controller.replicas,
      { temporal: true, store: false },
      [
        { name: 'GRAMFLEET_HEALTH_PORT', value: String(v.healthPort) },
        ...(scoped !== undefined ? [{ name: 'GRAMFLEET_WATCH_NAMESPACE', value: scoped }] : []),
        ...(v.controller.leaderElection
          ? [
              { name: 'GRAMFLEET_LEADER_ELECTION_NAMESPACE', value: v.namespace },
              { name: 'GRAMFLEET_LEADER_ELECTION_LEASE', value: `${v.fullname}-controller` },
            ]
          : []),
      ],
      v.controller.resources,
      {},
      ['k8s', 'controller'],
    );
    out.push(...controllerObjects(v, meta, labels, dep));
  }
  out.push(...disruptionBudgets(v, meta, labels), ...networkPolicies(v, meta, labels), ...metricsObjects(v, meta));
  return out;
}

/**
 * Prometheus and Grafana (`metrics`): the headless Service over every gramfleet pod's health
 * port and the ServiceMonitor that scrapes /metrics through it; the dashboard's ConfigMap.
 */
function metricsObjects(v: CompiledValues, meta: Meta): Obj[] {
  const out: Obj[] = [];
  const m = v.metrics;
  if (m.serviceMonitor.enabled) {
    const svc = meta('metrics', 'metrics');
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: svc,
      spec: {
        clusterIP: 'None',
        selector: { 'app.kubernetes.io/name': 'gramfleet', 'app.kubernetes.io/instance': v.fullname },
        ports: [{ name: 'health', port: v.healthPort, targetPort: 'health' }],
      },
    });
    out.push({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { ...svc, labels: { ...svc.labels, ...m.serviceMonitor.labels } },
      spec: {
        selector: { matchLabels: svc.labels },
        namespaceSelector: { matchNames: [v.namespace] },
        endpoints: [{ port: 'health', path: '/metrics', interval: m.serviceMonitor.interval }],
      },
    });
  }
  if (m.grafanaDashboard.enabled) {
    const cm = meta('grafana-dashboard', 'metrics');
    out.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { ...cm, labels: { ...cm.labels, ...m.grafanaDashboard.labels } },
      data: { 'gramfleet.json': grafanaDashboardJson() },
    });
  }
  return out;
}

type Meta = (n: string, c: string) => { name: string; namespace: string; labels: Record<string, string> };
type Labels = (c: string) => Record<string, string>;

function controllerObjects(
  v: CompiledValues,
  meta: Meta,
  labels: Labels,
  dep: { spec: Record<string, unknown> & { template: { spec: Record<string, unknown> } } } & Record<string, unknown>,
): Obj[] {
  const sa = `${v.fullname}-controller`;
  const rules = controllerRules();
  const scoped = v.controller.watchNamespace;
  // One reconciler at a time: the Lease elects it; without election, Recreate avoids the overlap
  // (the workflow id makes a second one harmless either way).
  if (!v.controller.leaderElection) dep.spec['strategy'] = { type: 'Recreate' };
  dep.spec.template.spec['serviceAccountName'] = sa;
  // the only pod that talks to the Kubernetes API
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
  // The Lease, in the release namespace: create it (a create cannot name its object), get and
  // update only it.
  const lease = v.controller.leaderElection
    ? [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: meta('controller-leader', 'controller'),
          rules: leaderElectionRules(`${v.fullname}-controller`),
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: meta('controller-leader', 'controller'),
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${v.fullname}-controller-leader` },
          subjects: [{ kind: 'ServiceAccount', name: sa, namespace: v.namespace }],
        },
      ]
    : [];
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('controller', 'controller'), automountServiceAccountToken: false } as Obj,
    role as Obj,
    binding as Obj,
    ...(lease as Obj[]),
    dep as unknown as Obj,
  ];
}

/** The controller's replica count: 2 by default with leader election, at most 1 without. */
function controllerReplicas(c: DeployValues['controller']): number {
  const elect = c?.leaderElection ?? true;
  const n = count('controller.replicas', c?.replicas, elect ? 2 : 1, 0, 10);
  if (!elect && n > 1)
    bad('controller.replicas', 'must be at most 1 with controller.leaderElection false (replicas would reconcile the same campaigns at once)', n);
  return n;
}

/**
 * The leader-election rules (a Role in the release namespace): leases `create` (the first
 * candidate creates it; a create cannot be limited to a name), `get` and `update` of the one
 * Lease `lease` (read it, take or renew it with its resourceVersion). Nothing else.
 */
export function leaderElectionRules(lease: string): object[] {
  return [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [lease], verbs: ['get', 'update'] },
  ];
}

/**
 * The controller's RBAC rules, least privilege — each verb is one call the controller makes
 * (orchestrator/src/k8s/controller.ts):
 * - kernelcampaigns `list`, `watch`: its informer (list, then watch; relist on 410 Gone);
 * - kernelcampaigns `patch`: a merge patch of `metadata.finalizers` only (add its finalizer,
 *   remove it once the campaign's workflow has closed);
 * - kernelcampaigns/status `patch`: a merge patch of `.status` (phase, counts, conditions);
 * - events `create` (core group): an Event on the campaign for each transition.
 * No get (the informer's cache answers), no update, no delete, nothing on other resources; the
 * test suite runs the controller with exactly these rules.
 */
export function controllerRules(): object[] {
  return [
    { apiGroups: ['gramfleet.io'], resources: ['kernelcampaigns'], verbs: ['list', 'watch', 'patch'] },
    { apiGroups: ['gramfleet.io'], resources: ['kernelcampaigns/status'], verbs: ['patch'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  ];
}

/** PodDisruptionBudgets: at most `maxUnavailable` pods of each component evicted at a time. */
function disruptionBudgets(v: CompiledValues, meta: Meta, labels: Labels): Obj[] {
  if (!v.podDisruptionBudget.enabled) return [];
  const b = v.podDisruptionBudget;
  const list: [string, Disruption][] = [
    ['orchestrator', b.orchestrator],
    ['wasm-worker', b.wasmWorker],
    ...(v.gpuWorker.enabled ? ([['gpu-worker', b.gpuWorker]] as [string, Disruption][]) : []),
    ...(v.controller.enabled ? ([['controller', b.controller]] as [string, Disruption][]) : []),
  ];
  return list.map(([c, max]) => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(c, c),
    spec: { maxUnavailable: max, selector: { matchLabels: labels(c) } },
  }));
}

/**
 * NetworkPolicies.
 * - `<fullname>-<component>` for each gramfleet component: its pods deny everything (ingress and
 *   egress) but the health port in (kubelet probes), DNS out (kube-dns), NATS's client port out
 *   (orchestrator, workers), Temporal's frontend out (orchestrator, controller), the API server
 *   out (controller: `networkPolicy.apiServer`) and, with peers, the peer port between the
 *   orchestrator and worker pods.
 * - `<fullname>-nats` (in NATS's namespace, unless NATS is outside the cluster): NATS's pods admit
 *   the client port from the orchestrator and workers, from `gramfleet.io/client: "true"` pods of
 *   the release namespace and from `networkPolicy.clients`; the monitoring port from KEDA's
 *   operator (with `keda.enabled`); anything from NATS's own pods (routes, nats-box).
 * - `<fullname>-temporal` (in Temporal's namespace, unless outside): Temporal's pods admit the
 *   frontend port from the orchestrator and the controller, the labelled client pods and
 *   `networkPolicy.clients`; anything from Temporal's own pods (its services talk to each other).
 * NetworkPolicies add up: another policy can admit more (an ingress controller for the Web UI).
 */
function networkPolicies(v: CompiledValues, meta: Meta, labels: Labels): Obj[] {
  const np = v.networkPolicy;
  if (!np.enabled) return [];
  const tcp = (port: number) => ({ protocol: 'TCP', port });
  const inNs = (namespace: string) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } });
  const ours = (components: string[]) => ({
    ...inNs(v.namespace),
    podSelector: {
      matchLabels: { 'app.kubernetes.io/name': 'gramfleet', 'app.kubernetes.io/instance': v.fullname },
      matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: components }],
    },
  });
  const labelledClients = { ...inNs(v.namespace), podSelector: { matchLabels: { 'gramfleet.io/client': 'true' } } };
  const natsClients = ['orchestrator', 'wasm-worker', ...(v.gpuWorker.enabled ? ['gpu-worker'] : [])];
  const temporalClients = ['orchestrator', ...(v.controller.enabled ? ['controller'] : [])];
  const storePods = natsClients;
  const hs = v.hostStore;
  const peers = hs.enabled && hs.peerSecret !== undefined;
  const server = (s: { namespace: string; podLabels: Readonly<Record<string, string>>; port: number; cidr: string | undefined }) => ({
    to: [s.cidr !== undefined ? { ipBlock: { cidr: s.cidr } } : { ...inNs(s.namespace), podSelector: { matchLabels: s.podLabels } }],
    ports: [tcp(s.port)],
  });
  const dns = {
    to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
    ports: [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ],
  };
  const apiServer = { ...(np.apiServer.cidr !== undefined ? { to: [{ ipBlock: { cidr: np.apiServer.cidr } }] } : {}), ports: np.apiServer.ports.map(tcp) };
  const policy = (n: string, namespace: string, podSelector: object, types: string[], rules: { ingress?: object[]; egress?: object[] }) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { ...meta(n, 'network-policy'), namespace },
    spec: { podSelector, policyTypes: types, ...rules },
  });
  const components = [...natsClients, ...(v.controller.enabled ? ['controller'] : [])];
  const out: Obj[] = components.map((c) => {
    const store = storePods.includes(c);
    return policy(c, v.namespace, { matchLabels: labels(c) }, ['Ingress', 'Egress'], {
      ingress: [{ ports: [tcp(v.healthPort)] }, ...(store && peers ? [{ from: [ours(storePods)], ports: [tcp(hs.peerPort)] }] : [])],
      egress: [
        dns,
        ...(natsClients.includes(c) ? [server(np.nats)] : []),
        ...(temporalClients.includes(c) ? [server(np.temporal)] : []),
        ...(store && peers ? [{ to: [ours(storePods)], ports: [tcp(hs.peerPort)] }] : []),
        ...(c === 'controller' ? [apiServer] : []),
      ],
    });
  });
  if (np.nats.cidr === undefined)
    out.push(
      policy('nats', np.nats.namespace, { matchLabels: np.nats.podLabels }, ['Ingress'], {
        ingress: [
          { from: [ours(natsClients), labelledClients, ...np.clients], ports: [tcp(np.nats.port)] },
          ...(v.keda.enabled
            ? [{ from: [{ ...inNs(v.keda.operator.namespace), podSelector: { matchLabels: v.keda.operator.podLabels } }], ports: [tcp(np.nats.monitorPort)] }]
            : []),
          { from: [{ podSelector: { matchLabels: np.nats.podLabels } }] },
        ],
      }),
    );
  if (np.temporal.cidr === undefined)
    out.push(
      policy('temporal', np.temporal.namespace, { matchLabels: np.temporal.podLabels }, ['Ingress'], {
        ingress: [
          { from: [ours(temporalClients), labelledClients, ...np.clients], ports: [tcp(np.temporal.port)] },
          { from: [{ podSelector: { matchLabels: np.temporal.podLabels } }] },
        ],
      }),
    );
  return out;
}

/**
 * cert-manager objects (`tls.certManager.enabled`): the issuer (`issuerRef`, or a CA the chart
 * makes: a self-signed Issuer signs the CA Certificate, whose Secret backs a CA Issuer), then the
 * NATS server certificate (Secret `nats.tls.secretName`, DNS names: the host of `nats.url` and
 * `natsDnsNames`), gramfleet's Temporal client certificate (Secret `temporal.tls.secretName`,
 * with `temporal.tls.mutual`) and, with `temporal.install`, the Temporal chart's frontend and
 * internode certificates (`temporal.server.tls.*.secretName`). All in the release namespace.
 */
function certManagerObjects(v: CompiledValues): Obj[] {
  const cm = v.certManager;
  if (!cm.enabled) return [];
  const out: Obj[] = [];
  const meta = (n: string) => ({ name: `${v.fullname}-${n}`, namespace: v.namespace, labels: componentLabels(v, 'tls') });
  let issuerRef: { name: string; kind: string; group: string };
  if (cm.issuerRef !== undefined) {
    issuerRef = { name: cm.issuerRef.name, kind: cm.issuerRef.kind, group: 'cert-manager.io' };
  } else {
    out.push(
      { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: meta('selfsigned'), spec: { selfSigned: {} } },
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: meta('ca'),
        spec: {
          isCA: true,
          commonName: `${v.fullname}-ca`,
          secretName: `${v.fullname}-ca`,
          duration: '87600h',
          privateKey: { algorithm: 'ECDSA', size: 256 },
          issuerRef: { name: `${v.fullname}-selfsigned`, kind: 'Issuer', group: 'cert-manager.io' },
        },
      },
      { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: meta('ca'), spec: { ca: { secretName: `${v.fullname}-ca` } } },
    );
    issuerRef = { name: `${v.fullname}-ca`, kind: 'Issuer', group: 'cert-manager.io' };
  }
  const cert = (n: string, secret: string, usages: string[], names: { commonName: string; dnsNames?: string[] }) => ({
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: meta(n),
    spec: {
      secretName: secret,
      ...names,
      duration: cm.duration,
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      usages: ['digital signature', 'key encipherment', ...usages],
      issuerRef,
    },
  });
  if (v.nats.tls.enabled) {
    const dns = [...new Set([...(v.nats.host !== '' ? [v.nats.host] : []), ...cm.natsDnsNames])];
    out.push(cert('nats-server', v.nats.tls.secretName, ['server auth'], { commonName: dns[0] ?? '', dnsNames: dns }));
  }
  const t = v.temporal;
  if (t.tls.enabled && t.tls.mutual) out.push(cert('temporal-client', t.tls.secretName, ['client auth'], { commonName: `${v.fullname}-temporal-client` }));
  if (t.install) {
    // the Temporal chart's frontend and internode certificates (both ends of internode mTLS);
    // the frontend's also names the host gramfleet's clients dial (temporal.address)
    const addressHost = t.address.replace(/:\d+$/, '');
    for (const which of ['frontend', 'internode'] as const) {
      const s = t.server[which];
      if (!s.enabled) continue;
      const dns = [...new Set([s.serverName, ...(which === 'frontend' && addressHost !== '' ? [addressHost] : [])])];
      out.push(cert(`temporal-${which}`, s.secretName, ['server auth', 'client auth'], { commonName: s.serverName, dnsNames: dns }));
    }
  }
  return out;
}
