/**
 * Environment variables, declared once per process kind. A process's config module (the only
 * module of that process that reads `process.env`) declares the variables it reads as an
 * {@link EnvSpec} — each with its meaning and default, which docs/config.md is generated from —
 * and reads them all with {@link readEnv} before anything starts. A value outside its bound is a
 * typed error naming the variable and the bound: `INPUT_OUT_OF_RANGE` (a number outside its
 * range) or `INPUT_INVALID` (not a number, not one of the allowed words, a required variable
 * unset), with `details.field` the variable's name. An empty value counts as unset.
 * Pure (the environment is passed in), so it is usable and testable anywhere.
 */
import { GramfleetError } from './errors';

/** An environment, as `process.env` is one. */
export type Env = Readonly<Record<string, string | undefined>>;

/** What docs/config.md says of one variable. */
export interface EnvVarDoc {
  readonly name: string;
  /** The default, as a reader should see it ('' when the variable is required or has none). */
  readonly default: string;
  readonly meaning: string;
}

/** A value read from one or more variables, with their docs. */
export interface EnvField<T> {
  readonly vars: readonly EnvVarDoc[];
  read(env: Env): T;
}

/** A process kind's variables: one field per configuration value. */
export type EnvSpec = Readonly<Record<string, EnvField<unknown>>>;

/** The values of an {@link EnvSpec}. */
export type EnvValues<S extends EnvSpec> = { readonly [K in keyof S]: S[K] extends EnvField<infer T> ? T : never };

/** Reads every field of `spec` from `env` (the first bad value throws its typed error). */
export function readEnv<S extends EnvSpec>(spec: S, env: Env): EnvValues<S> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(spec)) out[k] = f.read(env);
  return Object.freeze(out) as EnvValues<S>;
}

/** The variables an {@link EnvSpec} reads, in declaration order. */
export function envVars(spec: EnvSpec): EnvVarDoc[] {
  return Object.values(spec).flatMap((f) => f.vars);
}

/** The raw value of `name`, undefined when unset or empty. */
export function envRaw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** `INPUT_OUT_OF_RANGE` for a variable outside its bound. */
export function envOutOfRange(name: string, bound: string, raw: string): GramfleetError {
  return new GramfleetError('INPUT_OUT_OF_RANGE', `environment variable ${name} must be ${bound}, got ${JSON.stringify(raw)}`, {
    field: name,
    bound,
    value: raw,
  });
}

/** `INPUT_INVALID` for a variable that is not what it must be (or is unset where required). */
export function envInvalid(name: string, expected: string, raw: string | undefined): GramfleetError {
  return new GramfleetError(
    'INPUT_INVALID',
    `environment variable ${name} must be ${expected}, got ${raw === undefined ? 'nothing (unset)' : JSON.stringify(raw)}`,
    { field: name, expected, value: raw ?? null },
  );
}

interface Described {
  readonly meaning: string;
}

/** A required string (its absence is `INPUT_INVALID`). */
export function envRequired(name: string, o: Described & { readonly expected: string; readonly pattern?: RegExp }): EnvField<string> {
  return {
    vars: [{ name, default: '', meaning: `${o.meaning} (required)` }],
    read(env) {
      const v = envRaw(env, name);
      if (v === undefined || (o.pattern !== undefined && !o.pattern.test(v))) throw envInvalid(name, o.expected, v);
      return v;
    },
  };
}

/** A string with a default. */
export function envString(
  name: string,
  o: Described & { readonly default: string; readonly shownDefault?: string; readonly expected?: string; readonly pattern?: RegExp },
): EnvField<string>;
/** An optional string (undefined when unset). */
export function envString(
  name: string,
  o: Described & { readonly shownDefault?: string; readonly expected?: string; readonly pattern?: RegExp },
): EnvField<string | undefined>;
export function envString(
  name: string,
  o: Described & { readonly default?: string; readonly shownDefault?: string; readonly expected?: string; readonly pattern?: RegExp },
): EnvField<string | undefined> {
  return {
    vars: [{ name, default: o.shownDefault ?? o.default ?? '', meaning: o.meaning }],
    read(env) {
      const v = envRaw(env, name);
      if (v === undefined) return o.default;
      if (o.pattern !== undefined && !o.pattern.test(v)) throw envInvalid(name, o.expected ?? `of the form ${String(o.pattern)}`, v);
      return v;
    },
  };
}

/** Bounds of an integer variable. */
interface IntBounds extends Described {
  readonly min: number;
  readonly max: number;
  /** The unit shown in messages and docs ('ms', 'MB', …). */
  readonly unit?: string;
}

/** An integer in [min, max] with a default. */
export function envInt(name: string, o: IntBounds & { readonly default: number; readonly shownDefault?: string }): EnvField<number>;
/** An optional integer in [min, max] (undefined when unset). */
export function envInt(name: string, o: IntBounds & { readonly shownDefault?: string }): EnvField<number | undefined>;
export function envInt(name: string, o: IntBounds & { readonly default?: number; readonly shownDefault?: string }): EnvField<number | undefined> {
  return {
    vars: [{ name, default: o.shownDefault ?? (o.default !== undefined ? `${o.default}${o.unit !== undefined ? ` ${o.unit}` : ''}` : ''), meaning: o.meaning }],
    read(env) {
      const v = envRaw(env, name);
      if (v === undefined) return o.default;
      return parseEnvInt(name, v, o.min, o.max, o.unit);
    },
  };
}

/** `raw` as an integer in [min, max], or the typed error naming `name` and the bound. */
export function parseEnvInt(name: string, raw: string, min: number, max: number, unit?: string): number {
  const n = Number(raw);
  const bound = `an integer in [${min}, ${max}]${unit !== undefined ? ` (${unit})` : ''}`;
  if (!/^\s*[-+]?\d+\s*$/.test(raw) || !Number.isSafeInteger(n)) throw envInvalid(name, bound, raw);
  if (n < min || n > max) throw envOutOfRange(name, bound, raw);
  return n;
}

/** A number ≥ min (not necessarily an integer), or the typed error naming `name` and the bound. */
export function parseEnvNumber(name: string, raw: string, min: number, unit?: string): number {
  const n = Number(raw);
  const bound = `a number ≥ ${min}${unit !== undefined ? ` (${unit})` : ''}`;
  if (raw.trim() === '' || !Number.isFinite(n)) throw envInvalid(name, bound, raw);
  if (n < min) throw envOutOfRange(name, bound, raw);
  return n;
}

/** One of `choices`, with a default. */
export function envChoice<C extends string>(name: string, choices: readonly C[], o: Described & { readonly default: C }): EnvField<C> {
  const expected = `one of ${choices.join(', ')}`;
  return {
    vars: [{ name, default: o.default, meaning: `${o.meaning}: ${choices.join(' | ')}` }],
    read(env) {
      const v = envRaw(env, name);
      if (v === undefined) return o.default;
      if (!(choices as readonly string[]).includes(v)) throw envInvalid(name, expected, v);
      return v as C;
    },
  };
}

/** A switch: `1` on, `0` (or unset) off. */
export function envFlag(name: string, o: Described): EnvField<boolean> {
  return {
    vars: [{ name, default: '0', meaning: `${o.meaning} (1 = on, 0 = off)` }],
    read(env) {
      const v = envRaw(env, name);
      if (v === undefined || v === '0') return false;
      if (v === '1') return true;
      throw envInvalid(name, '0 or 1', v);
    },
  };
}

/** A list of non-empty strings separated by `sep` (empty when unset). */
export function envList(name: string, sep: string, o: Described): EnvField<string[]> {
  return {
    vars: [{ name, default: '', meaning: `${o.meaning} ('${sep}'-separated)` }],
    read(env) {
      return (envRaw(env, name) ?? '').split(sep).filter((s) => s !== '');
    },
  };
}

/** A value read by a function of its own from the variables `vars` (which it validates). */
export function envGroup<T>(vars: readonly EnvVarDoc[], read: (env: Env) => T): EnvField<T> {
  return { vars, read };
}

// ---- variables several process kinds read, declared once ----

/** Log levels of the JSON logger. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** GRAMFLEET_LOG_LEVEL. */
export const LOG_LEVEL_ENV = envChoice('GRAMFLEET_LOG_LEVEL', LOG_LEVELS, { meaning: 'the least severe log lines written', default: 'info' });

/** A resource prefix: streams, buckets and subjects are named after it (core/src/protocol.ts: resourceNames). */
export const PREFIX_PATTERN = /^[a-z][a-z0-9_-]*$/i;

/** GRAMFLEET_PREFIX, with the default every process but a worker takes. */
export const PREFIX_ENV = envString('GRAMFLEET_PREFIX', {
  meaning: 'prefix of the NATS streams, buckets and subjects',
  default: 'gf',
  pattern: PREFIX_PATTERN,
  expected: 'a letter, then letters, digits, - or _',
});

/** host:port of a server. */
export const HOST_PORT_PATTERN = /^(?:\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):\d{1,5}$/;

/** GRAMFLEET_TEMPORAL_ADDRESS. */
export const TEMPORAL_ADDRESS_ENV = envString('GRAMFLEET_TEMPORAL_ADDRESS', {
  meaning: 'the Temporal frontend, host:port',
  default: '127.0.0.1:7233',
  pattern: HOST_PORT_PATTERN,
  expected: 'host:port',
});

/** GRAMFLEET_NAMESPACE. */
export const TEMPORAL_NAMESPACE_ENV = envString('GRAMFLEET_NAMESPACE', { meaning: 'the Temporal namespace', default: 'default' });

/** GRAMFLEET_TASK_QUEUE. */
export const TASK_QUEUE_ENV = envString('GRAMFLEET_TASK_QUEUE', {
  meaning: 'the Temporal task queue of the orchestrator (workflows and activities)',
  default: 'gramfleet',
});

/** GRAMFLEET_HEALTH_PORT. */
export const HEALTH_PORT_ENV = envInt('GRAMFLEET_HEALTH_PORT', {
  meaning:
    "serve /healthz, /readyz and the Prometheus /metrics on this port (0: any free port; the orchestrator adds the Temporal SDK's metrics from a loopback port of its own); unset: no health server. Ready: the orchestrator while its Temporal worker runs, a worker while it pulls tasks (not while draining), the controller once it watches",
  min: 0,
  max: 65535,
});

/** GRAMFLEET_OTLP_ENDPOINT. */
export const OTLP_ENDPOINT_ENV = envString('GRAMFLEET_OTLP_ENDPOINT', {
  meaning:
    'send OpenTelemetry traces over OTLP/HTTP (protobuf) to this collector base URL (spans go to <url>/v1/traces): SDK submit, Temporal client, workflow and activity spans, and each task and kernel run on the workers, the context carried in NATS message headers (traceparent); unset: no tracing, nothing is recorded',
  pattern: /^https?:\/\/[^\s/]+(\/\S*)?$/,
  expected: 'an http(s) URL',
});

/** What share of jobs a tracing process traces when it starts their trace (GRAMFLEET_OTLP_SAMPLE_RATIO's default). */
export const DEFAULT_OTLP_SAMPLE_RATIO = 0.05;

/** GRAMFLEET_OTLP_SAMPLE_RATIO. */
export const OTLP_SAMPLE_RATIO_ENV = envGroup(
  [
    {
      name: 'GRAMFLEET_OTLP_SAMPLE_RATIO',
      default: String(DEFAULT_OTLP_SAMPLE_RATIO),
      meaning:
        "with GRAMFLEET_OTLP_ENDPOINT set: the share of jobs traced, a number in [0, 1], decided once at the trace's root (the SDK's submit, or the workflow when its client does not trace) from the trace id; a job is traced whole or not at all (the traceparent's sampled flag tells the orchestrator and the workers), and an untraced job costs no span work. 1: every job; `submit(spec, { trace: true })` traces one job whatever the ratio",
    },
  ],
  (env): number => {
    const name = 'GRAMFLEET_OTLP_SAMPLE_RATIO';
    const v = envRaw(env, name);
    if (v === undefined) return DEFAULT_OTLP_SAMPLE_RATIO;
    const n = parseEnvNumber(name, v, 0);
    if (n > 1) throw envOutOfRange(name, 'a number in [0, 1]', v);
    return n;
  },
);

/** The data plane's tunables (workers/src/dataplane/nats.ts): the durable task queue's consumer and the streams' and array store's limits. */
export const DATA_PLANE_ENV = envGroup(
  [
    { name: 'GRAMFLEET_ACK_WAIT_MS', default: '15000 ms', meaning: 'a task not acknowledged (nor marked in progress) for this long is delivered again' },
    { name: 'GRAMFLEET_MAX_DELIVER', default: '5', meaning: 'deliveries of a task before it is dead-lettered (WORKER_MAX_DELIVER)' },
    {
      name: 'GRAMFLEET_TASKS_MAX_MSGS',
      default: '2000000',
      meaning: 'tasks the durable queue holds; a publish beyond it is refused with QUEUE_FULL (retryable back-pressure)',
    },
    {
      name: 'GRAMFLEET_TASKS_MAX_BYTES',
      default: '2 GiB (lowered to fit the NATS store when unset)',
      meaning: 'bytes the durable queue holds (QUEUE_FULL beyond); JetStream reserves it from the server store',
    },
    { name: 'GRAMFLEET_RESULTS_MAX_BYTES', default: '2 GiB (as above)', meaning: 'bytes the results stream holds (results also expire after 7 days)' },
    {
      name: 'GRAMFLEET_ARRAYS_MAX_BYTES',
      default: '8 GiB (as above)',
      meaning: 'bytes the array object store holds; a put beyond it is refused with STORE_FULL',
    },
    {
      name: 'GRAMFLEET_NATS_REPLICAS',
      default: '1',
      meaning:
        'copies JetStream keeps of every stream, KV bucket and object store gramfleet creates: 1, 3 or 5 (more than 1 needs a NATS cluster of at least that many servers; the chart sets 3); an existing resource keeps its count',
    },
  ],
  (
    env,
  ): {
    ackWaitMs?: number;
    maxDeliver?: number;
    tasksMaxMsgs?: number;
    tasksMaxBytes?: number;
    resultsMaxBytes?: number;
    arraysMaxBytes?: number;
    replicas?: number;
  } => {
    const ack = envRaw(env, 'GRAMFLEET_ACK_WAIT_MS');
    const max = envRaw(env, 'GRAMFLEET_MAX_DELIVER');
    const bytes = (name: string): number | undefined => {
      const v = envRaw(env, name);
      return v === undefined ? undefined : parseEnvInt(name, v, 1024 * 1024, 2 ** 50, 'bytes');
    };
    const msgs = envRaw(env, 'GRAMFLEET_TASKS_MAX_MSGS');
    const tasksMaxBytes = bytes('GRAMFLEET_TASKS_MAX_BYTES');
    const resultsMaxBytes = bytes('GRAMFLEET_RESULTS_MAX_BYTES');
    const arraysMaxBytes = bytes('GRAMFLEET_ARRAYS_MAX_BYTES');
    const replicasRaw = envRaw(env, 'GRAMFLEET_NATS_REPLICAS');
    let replicas: number | undefined;
    if (replicasRaw !== undefined) {
      replicas = parseEnvInt('GRAMFLEET_NATS_REPLICAS', replicasRaw, 1, 5);
      if (replicas % 2 === 0) throw envOutOfRange('GRAMFLEET_NATS_REPLICAS', '1, 3 or 5', replicasRaw);
    }
    return {
      ...(ack !== undefined ? { ackWaitMs: parseEnvInt('GRAMFLEET_ACK_WAIT_MS', ack, 1, 24 * 3_600_000, 'ms') } : {}),
      ...(max !== undefined ? { maxDeliver: parseEnvInt('GRAMFLEET_MAX_DELIVER', max, 1, 10_000) } : {}),
      ...(msgs !== undefined ? { tasksMaxMsgs: parseEnvInt('GRAMFLEET_TASKS_MAX_MSGS', msgs, 1, 2 ** 40) } : {}),
      ...(tasksMaxBytes !== undefined ? { tasksMaxBytes } : {}),
      ...(resultsMaxBytes !== undefined ? { resultsMaxBytes } : {}),
      ...(arraysMaxBytes !== undefined ? { arraysMaxBytes } : {}),
      ...(replicas !== undefined ? { replicas } : {}),
    };
  },
);
