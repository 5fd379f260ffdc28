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
  healthPort: HEALTH_PORT_ENV,
  logLevel: LOG_LEVEL_ENV,
} as const;

/** The controller's configuration. */
export type ControllerConfig = EnvValues<typeof CONTROLLER_ENV>;

/** Reads and validates the controller's configuration (a typed error names the first bad variable). */
export function controllerConfig(env: Env = process.env): ControllerConfig {
  return readEnv(CONTROLLER_ENV, env);
}
