/**
 * The configuration of the SDK and the CLI in a user's process: the environment variables they
 * read (the local cluster's directory, the demo's graph, the kernel-row cache budget a local
 * cluster hands its workers, and how a remote Temporal is secured: TLS files and an API key file),
 * validated when a command or `connect()` first needs them.
 * docs/config.md lists them (generated from here).
 */
import * as path from 'node:path';
import { envGroup, envRaw, envString, parseEnvNumber, readEnv, type Env, type EnvValues } from '@gramfleet/core';
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
  /** How `connect()` to a given Temporal address is secured (a local cluster's is plaintext on loopback). */
  temporalSecurity: TEMPORAL_SECURITY_ENV,
  /** The identity and TLS trust of connections to a remote cluster's NATS (a local cluster's are made at `up`). */
  natsAuth: NATS_AUTH_ENV,
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

/** Reads and validates the SDK's and the CLI's configuration (a typed error names the first bad variable). */
export function clientConfig(env: Env = process.env): ClientConfig {
  const c = readEnv(CLIENT_ENV, env);
  return {
    ...c,
    home: c.home ?? path.join(repoRoot(), '.gramfleet', 'local'),
    demoGraph: c.demoGraph ?? path.join(repoRoot(), '..', 'shared', 'data', 'graphs', 'cora.npz'),
  };
}
