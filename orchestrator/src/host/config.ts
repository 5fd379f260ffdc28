/**
 * The orchestrator's configuration (host/worker-host.ts: the Temporal worker hosting the
 * workflows and activities): every environment variable it reads, validated before anything
 * starts. docs/config.md lists them (generated from here).
 */
import {
  DATA_PLANE_ENV,
  HEALTH_PORT_ENV,
  OTLP_ENDPOINT_ENV,
  OTLP_SAMPLE_RATIO_ENV,
  LOG_LEVEL_ENV,
  PREFIX_ENV,
  TASK_QUEUE_ENV,
  TEMPORAL_ADDRESS_ENV,
  TEMPORAL_NAMESPACE_ENV,
  envGroup,
  envInt,
  envInvalid,
  envRaw,
  envString,
  readEnv,
  type Env,
  type EnvValues,
} from '@gramfleet/core';
import { NATS_AUTH_ENV, STORE_TIERS_ENV } from '@gramfleet/workers';
import { TEMPORAL_SECURITY_ENV } from '../security/temporal';

const DATA_ROOTS_VAR = 'GRAMFLEET_DATA_ROOTS';

/** The orchestrator's variables. */
export const HOST_ENV = {
  temporalAddress: TEMPORAL_ADDRESS_ENV,
  temporalNamespace: TEMPORAL_NAMESPACE_ENV,
  temporalSecurity: TEMPORAL_SECURITY_ENV,
  taskQueue: TASK_QUEUE_ENV,
  natsUrl: envString('GRAMFLEET_NATS_URL', { meaning: 'the NATS server(s) to connect to', default: 'nats://127.0.0.1:4222' }),
  natsAuth: NATS_AUTH_ENV,
  prefix: PREFIX_ENV,
  logLevel: LOG_LEVEL_ENV,
  dataPlane: DATA_PLANE_ENV,
  healthPort: HEALTH_PORT_ENV,
  otlpEndpoint: OTLP_ENDPOINT_ENV,
  /** The share of traces started here (workflows whose client does not trace) that are recorded. */
  otlpSampleRatio: OTLP_SAMPLE_RATIO_ENV,
  store: STORE_TIERS_ENV,
  spillAfterMs: envInt('GRAMFLEET_SPILL_AFTER_MS', {
    meaning: 'a task that waits this long for a free worker lane goes to the durable queue, where KEDA sees it as consumer lag and scales workers up',
    min: 0,
    max: 24 * 3_600_000,
    unit: 'ms',
    shownDefault: '30000 ms',
  }),
  dataRoots: envGroup(
    [
      {
        name: DATA_ROOTS_VAR,
        default: 'the working directory, ../shared/data beside it, the OS temp directory',
        meaning:
          "directories (absolute, ':'-separated) whose files campaign and KernelCampaign runs may read (graph, train, y, …) and write under (out); a path outside them, by '..' or a symlink, is refused with INPUT_PATH_OUTSIDE_ROOTS",
      },
    ],
    (env) => {
      const raw = envRaw(env, DATA_ROOTS_VAR);
      if (raw === undefined) return undefined;
      const roots = raw.split(':').filter((r) => r !== '');
      if (roots.length === 0 || roots.some((r) => !r.startsWith('/'))) throw envInvalid(DATA_ROOTS_VAR, "absolute directories separated by ':'", raw);
      return roots;
    },
  ),
  fileCacheDir: envString('GRAMFLEET_FILE_CACHE_DIR', {
    meaning:
      "where inputs that campaign and KernelCampaign runs name by object reference (gf:file:…, from 'gramfleet put' or a remote client's upload) are fetched to, once per digest, and kept up to GRAMFLEET_FILE_CACHE_MAX_BYTES (an absolute directory of this process alone: the chart mounts an emptyDir)",
    shownDefault: '<OS temp directory>/gramfleet-file-cache',
    pattern: /^\//,
    expected: 'an absolute directory',
  }),
  fileCacheMaxBytes: envInt('GRAMFLEET_FILE_CACHE_MAX_BYTES', {
    meaning:
      'bytes the file cache (GRAMFLEET_FILE_CACHE_DIR) may hold: files no run is reading are removed least recently used first to make room; a campaign naming one input larger than this is refused with INPUT_TOO_LARGE before any run starts',
    min: 2 ** 20,
    max: 2 ** 50,
    unit: 'bytes',
    default: 8 * 2 ** 30,
  }),
  eigenproProfile: envString('GRAMFLEET_EIGENPRO_PROFILE', {
    meaning: "append EigenPro 2's per-epoch time breakdown to this file, one JSON line per epoch (bench/eigenpro sets it)",
  }),
} as const;

/** The orchestrator's configuration. */
export type HostConfig = EnvValues<typeof HOST_ENV>;

/** Reads and validates the orchestrator's configuration (a typed error names the first bad variable). */
export function hostConfig(env: Env = process.env): HostConfig {
  return readEnv(HOST_ENV, env);
}
