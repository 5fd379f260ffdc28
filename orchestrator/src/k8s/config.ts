/**
 * The KernelCampaign controller's configuration (`gramfleet k8s controller`, the controller
 * container's entrypoint): every environment variable it reads, validated before it starts.
 * docs/config.md lists them (generated from here).
 */
import {
  HEALTH_PORT_ENV,
  LOG_LEVEL_ENV,
  PREFIX_ENV,
  TASK_QUEUE_ENV,
  TEMPORAL_ADDRESS_ENV,
  TEMPORAL_NAMESPACE_ENV,
  envInt,
  envString,
  readEnv,
  type Env,
  type EnvValues,
} from '@gramfleet/core';
import { TEMPORAL_SECURITY_ENV } from '../security/temporal';

/** A Kubernetes namespace name (an RFC 1123 label). */
const K8S_NAMESPACE = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The controller's variables. */
export const CONTROLLER_ENV = {
  temporalAddress: TEMPORAL_ADDRESS_ENV,
  temporalNamespace: TEMPORAL_NAMESPACE_ENV,
  temporalSecurity: TEMPORAL_SECURITY_ENV,
  taskQueue: TASK_QUEUE_ENV,
  prefix: PREFIX_ENV,
  watchNamespace: envString('GRAMFLEET_WATCH_NAMESPACE', {
    meaning: 'watch KernelCampaigns of this Kubernetes namespace only',
    shownDefault: 'all namespaces',
    pattern: K8S_NAMESPACE,
    expected: 'a Kubernetes namespace name',
  }),
  pollIntervalMs: envInt('GRAMFLEET_POLL_MS', {
    meaning: "how often a running campaign's progress is mirrored into .status",
    min: 100,
    max: 3_600_000,
    unit: 'ms',
    shownDefault: '5000 ms',
  }),
  leaderElectionNamespace: envString('GRAMFLEET_LEADER_ELECTION_NAMESPACE', {
    meaning:
      'namespace of the Lease the controller replicas elect their leader with (only the leader reconciles; the chart sets the release namespace); unset: no election, run one replica only',
    shownDefault: 'no leader election',
    pattern: K8S_NAMESPACE,
    expected: 'a Kubernetes namespace name',
  }),
  leaderElectionLease: envString('GRAMFLEET_LEADER_ELECTION_LEASE', {
    meaning: 'name of that Lease',
    shownDefault: 'gramfleet-controller',
    pattern: /^(?=.{1,253}$)[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/,
    expected: 'a Kubernetes object name',
  }),
  leaderElectionLeaseMs: envInt('GRAMFLEET_LEADER_ELECTION_LEASE_MS', {
    meaning:
      "how long the leader's Lease holds without a renewal: a standby takes over this long after the leader died; the leader stops reconciling after 2/3 of it without a renewal",
    min: 1500,
    max: 600_000,
    unit: 'ms',
    shownDefault: '15000 ms',
  }),
  healthPort: HEALTH_PORT_ENV,
  logLevel: LOG_LEVEL_ENV,
} as const;

/** The controller's configuration. */
export type ControllerConfig = EnvValues<typeof CONTROLLER_ENV>;

/** Reads and validates the controller's configuration (a typed error names the first bad variable). */
export function controllerConfig(env: Env = process.env): ControllerConfig {
  return readEnv(CONTROLLER_ENV, env);
}
