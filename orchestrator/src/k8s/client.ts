/**
 * The one place that loads `@kubernetes/client-node`. The library ships as an ES module; this
 * package compiles to CommonJS, so the types come in through a `resolution-mode: import`
 * type import and the runtime through `require` (Node >= 20.19 loads ES modules with it).
 */
import type * as K8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

const k8s = require('@kubernetes/client-node') as typeof K8s;

export { k8s };
export type { K8s };
/** A loaded kubeconfig (cluster, user, context). */
export type KubeConfig = K8s.KubeConfig;
/** Any Kubernetes object as the client library types it. */
export type KubernetesObject = K8s.KubernetesObject;

/** Options of {@link kubeConfigFor}. */
export interface KubeConfigForOptions {
  /** API server URL, e.g. https://127.0.0.1:6443 */
  readonly server: string;
  /** Bearer token. */
  readonly token: string;
  /** Name of the user entry. @default 'user' */
  readonly user?: string;
  /** Skip TLS verification (test servers with self-generated certificates). @default false */
  readonly insecureSkipTlsVerify?: boolean;
  /** PEM of the CA that signed the server certificate. */
  readonly caData?: string;
}

/** A kubeconfig for one server and a bearer token. */
export function kubeConfigFor(o: KubeConfigForOptions): KubeConfig {
  const kc = new k8s.KubeConfig();
  const user = o.user ?? 'user';
  kc.loadFromOptions({
    clusters: [
      {
        name: 'cluster',
        server: o.server,
        skipTLSVerify: o.insecureSkipTlsVerify ?? false,
        ...(o.caData !== undefined ? { caData: Buffer.from(o.caData).toString('base64') } : {}),
      },
    ],
    users: [{ name: user, token: o.token }],
    contexts: [{ name: user, cluster: 'cluster', user }],
    currentContext: user,
  });
  return kc;
}

/** The kubeconfig from $KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
export function defaultKubeConfig(): KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return kc;
}
