/**
 * The configuration of the SDK and the CLI in a user's process: the environment variables they
 * read (the local cluster's directory, the demo's graph, the kernel-row cache budget a local
 * cluster hands its workers, and how a remote Temporal is secured: TLS files and an API key file),
 * validated when a command or `connect()` first needs them.
 * docs/config.md lists them (generated from here).
 */
import * as path from 'node:path';
import { OTLP_ENDPOINT_ENV, OTLP_SAMPLE_RATIO_ENV, envGroup, envRaw, envString, parseEnvNumber, readEnv, type Env, type EnvValues } from '@gramfleet/core';
import { NATS_AUTH_ENV } from '@gramfleet/workers';
import { repoRoot } from '../cluster/binaries';
import { TEMPORAL_SECURITY_ENV } from '../security/temporal';

/** The SDK's and the CLI's variables. */
export const CLIENT_ENV = {
  home: envString('GRAMFLEET_HOME', {
    meaning: "the local cluster's directory (state file, server data, logs), where `gramfleet up` and `connect()` start or find it",
    shownDefault: '<repo>/.gramfleet/local',
  }),
  demoGraph: envString('GRAMFLEET_DEMO_GRAPH', {
    meaning: 'the graph `npm run demo` runs on (.npz or adjacency list)',
    shownDefault: '../shared/data/graphs/cora.npz',
  }),
  /** The context `connect()` and every command use (client/context.ts). */
  context: envString('GRAMFLEET_CONTEXT', {
    meaning: 'the cluster context commands and `connect()` use (a name from `gramfleet context list`, or local); overrides the current context, not --context',
    shownDefault: "the contexts file's current context, else local",
  }),
  contextsFile: envString('GRAMFLEET_CONTEXTS_FILE', {
    meaning: 'the file `gramfleet context add|use|remove` write and every command reads (JSON, mode 0600; paths of credential files, never secrets)',
    shownDefault: '$XDG_CONFIG_HOME/gramfleet/contexts.json (~/.config/gramfleet/contexts.json)',
  }),
  /** Overrides of a remote context's fields (client/context.ts); both addresses with the local context: a remote cluster without a context. */
  temporalAddress: envString('GRAMFLEET_TEMPORAL_ADDRESS', {
    meaning:
      "overrides the context's Temporal address (host:port); set with GRAMFLEET_NATS_URL while the context is local: that remote cluster, no context needed",
    shownDefault: "the context's",
  }),
  natsUrl: envString('GRAMFLEET_NATS_URL', {
    meaning: "overrides the context's NATS URL(s) (nats:// or tls://); see GRAMFLEET_TEMPORAL_ADDRESS",
    shownDefault: "the context's",
  }),
  namespace: envString('GRAMFLEET_NAMESPACE', { meaning: "overrides the remote context's Temporal namespace", shownDefault: "the context's, else default" }),
  taskQueue: envString('GRAMFLEET_TASK_QUEUE', { meaning: "overrides the remote context's task queue", shownDefault: "the context's, else gramfleet" }),
  prefix: envString('GRAMFLEET_PREFIX', { meaning: "overrides the remote context's NATS resource prefix", shownDefault: "the context's, else gf" }),
  /** How `connect()` to a given Temporal address is secured (a local cluster's is plaintext on loopback). */
  temporalSecurity: TEMPORAL_SECURITY_ENV,
  /** The identity and TLS trust of connections to a remote cluster's NATS (a local cluster's are made at `up`). */
  natsAuth: NATS_AUTH_ENV,
  /** Tracing of `submit` (and the Temporal client's calls) when set. */
  otlpEndpoint: OTLP_ENDPOINT_ENV,
  /** The share of submitted jobs traced (with `otlpEndpoint`). */
  otlpSampleRatio: OTLP_SAMPLE_RATIO_ENV,
  kernelCacheMB: envGroup(
    [
      {
        name: 'GRAMFLEET_KERNEL_CACHE_MB',
        default: 'a quarter of the host memory, split over the workers',
        meaning: "a local cluster's workers inherit it as their kernel-row cache budget, a number ≥ 0 (see the WASM worker)",
      },
    ],
    (env): number | undefined => {
      const v = envRaw(env, 'GRAMFLEET_KERNEL_CACHE_MB');
      return v === undefined ? undefined : parseEnvNumber('GRAMFLEET_KERNEL_CACHE_MB', v, 0, 'MB');
    },
  ),
} as const;

/** The SDK's and the CLI's configuration, with the defaults that depend on the checkout filled in. */
export interface ClientConfig extends Omit<EnvValues<typeof CLIENT_ENV>, 'home' | 'demoGraph'> {
  readonly home: string;
  readonly demoGraph: string;
}

/** The variables that pick a connection's cluster (client/context.ts), read without the security checks a local cluster does not need. */
export interface TargetEnv {
  readonly context: string | undefined;
  readonly contextsFile: string | undefined;
  /** XDG_CONFIG_HOME: where the contexts file lives by default. */
  readonly configHome: string | undefined;
  readonly temporalAddress: string | undefined;
  readonly natsUrl: string | undefined;
  readonly namespace: string | undefined;
  readonly taskQueue: string | undefined;
  readonly prefix: string | undefined;
}

/** Reads the {@link TargetEnv} variables (empty = unset). */
export function targetEnv(env: Env = process.env): TargetEnv {
  const { context, contextsFile, temporalAddress, natsUrl, namespace, taskQueue, prefix } = readEnv(
    {
      context: CLIENT_ENV.context,
      contextsFile: CLIENT_ENV.contextsFile,
      temporalAddress: CLIENT_ENV.temporalAddress,
      natsUrl: CLIENT_ENV.natsUrl,
      namespace: CLIENT_ENV.namespace,
      taskQueue: CLIENT_ENV.taskQueue,
      prefix: CLIENT_ENV.prefix,
    },
    env,
  );
  const xdg = env['XDG_CONFIG_HOME'];
  return { context, contextsFile, configHome: xdg === '' ? undefined : xdg, temporalAddress, natsUrl, namespace, taskQueue, prefix };
}

/** Reads and validates the SDK's and the CLI's configuration (a typed error names the first bad variable). */
export function clientConfig(env: Env = process.env): ClientConfig {
  const c = readEnv(CLIENT_ENV, env);
  return {
    ...c,
    home: c.home ?? path.join(repoRoot(), '.gramfleet', 'local'),
    demoGraph: c.demoGraph ?? path.join(repoRoot(), '..', 'shared', 'data', 'graphs', 'cora.npz'),
  };
}

/** GRAMFLEET_OTLP_ENDPOINT alone (`connect()` reads it for any cluster, local or remote). */
export function clientOtlpEndpoint(env: Env = process.env): string | undefined {
  return CLIENT_ENV.otlpEndpoint.read(env);
}

/** GRAMFLEET_OTLP_SAMPLE_RATIO alone (`connect()` reads it with the endpoint). */
export function clientOtlpSampleRatio(env: Env = process.env): number {
  return CLIENT_ENV.otlpSampleRatio.read(env);
}
