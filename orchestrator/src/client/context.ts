/**
 * Cluster contexts, like kubectl's: named sets of addresses and credentials of remote clusters
 * kept in one JSON file, one of which is current. The context `local` is built in: the local
 * cluster of `$GRAMFLEET_HOME` (or `--data-dir`), started or attached to as `connect()` always
 * did; it is the current context until `gramfleet context use` names another, so the README's
 * commands do not change.
 *
 * Where a connection's target comes from, first match wins:
 * 1. explicit addresses (`connect({ temporalAddress, natsUrl })`: both, or a typed error);
 * 2. `connect({ context })` / `--context NAME`;
 * 3. `connect({ dataDir })` / `--data-dir DIR`: the local cluster of that directory;
 * 4. `GRAMFLEET_CONTEXT`, else the file's current context, else `local`.
 *
 * Environment variables override a remote context field by field: `GRAMFLEET_TEMPORAL_ADDRESS`,
 * `GRAMFLEET_NATS_URL`, `GRAMFLEET_NAMESPACE`, `GRAMFLEET_TASK_QUEUE`, `GRAMFLEET_PREFIX`; the NATS
 * identity (`GRAMFLEET_NATS_*`) and the Temporal security (`GRAMFLEET_TEMPORAL_TLS_*`,
 * `GRAMFLEET_TEMPORAL_API_KEY_FILE`) as groups (any variable of a group set: the group comes
 * from the environment). When the selected context is `local` but not chosen explicitly,
 * `GRAMFLEET_TEMPORAL_ADDRESS` and `GRAMFLEET_NATS_URL` together name a remote cluster (one of
 * them alone is a typed error), so an in-cluster pod needs no context file.
 *
 * The file is `$GRAMFLEET_CONTEXTS_FILE`, else `$XDG_CONFIG_HOME/gramfleet/contexts.json`, else
 * `~/.config/gramfleet/contexts.json`; written atomically with mode 0600. It holds paths of
 * credential files (made absolute when added), never secrets.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GramfleetError, PREFIX_PATTERN, isGramfleetError, nearestName } from '@gramfleet/core';
import type { NatsAuth } from '@gramfleet/workers';
import type { TargetEnv } from './config';
import { checkTemporalSecurity, type CheckedTemporalSecurity, type TemporalSecurity, type TemporalSecurityNames } from '../security/temporal';

/** The built-in context: the local cluster. */
export const LOCAL_CONTEXT = 'local';

/** One remote cluster: what `gramfleet context add` records. */
export interface ClusterContext {
  /** Temporal frontend `host:port`. */
  readonly temporal: string;
  /** Temporal namespace. @default 'default' */
  readonly namespace?: string;
  /** NATS URL(s), comma-separated: `nats://host:port` or `tls://host:port` (or `host:port`). */
  readonly nats: string;
  /** The orchestrator's Temporal task queue. @default 'gramfleet' */
  readonly taskQueue?: string;
  /** Prefix of the cluster's NATS streams, buckets and subjects. @default 'gf' */
  readonly prefix?: string;
  /** NATS identity and trust (paths). */
  readonly natsAuth?: NatsAuth;
  /** Temporal TLS and API key (paths). */
  readonly temporalSecurity?: TemporalSecurity;
}

/** The contexts file. */
export interface ContextsDocument {
  /** The current context's name; absent: `local`. */
  readonly current?: string;
  readonly contexts: Readonly<Record<string, ClusterContext>>;
}

/** Where a connection goes: the local cluster or a remote one, with where each setting came from. */
export type ClusterTarget =
  | { readonly kind: 'local'; readonly context: typeof LOCAL_CONTEXT; readonly dataDir?: string }
  | {
      readonly kind: 'remote';
      /** The context's name; undefined when the addresses came from options or variables. */
      readonly context?: string;
      readonly temporalAddress: string;
      readonly namespace: string;
      readonly natsUrl: string;
      readonly taskQueue: string;
      readonly prefix: string;
      readonly natsAuth: NatsAuth;
      readonly temporalSecurity: CheckedTemporalSecurity | undefined;
      /** Where the Temporal address and the NATS URL came from (a flag, a variable, an option): errors say what to fix. */
      readonly origin: { readonly temporal: string; readonly nats: string; readonly namespace: string };
    };

/** What a context name may look like. */
export const CONTEXT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The contexts file's path (see the module's semantics). */
export function contextsFilePath(env: Pick<TargetEnv, 'contextsFile' | 'configHome'>): string {
  if (env.contextsFile !== undefined) return path.resolve(env.contextsFile);
  return path.join(env.configHome ?? path.join(os.homedir(), '.config'), 'gramfleet', 'contexts.json');
}

/** Reads the contexts file; a missing file is no contexts. A file that does not parse is `INPUT_FILE_UNREADABLE` naming it. */
export function readContexts(file: string): ContextsDocument {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `the contexts file ${file} cannot be read: ${(e as Error).message}`, {
      field: 'GRAMFLEET_CONTEXTS_FILE',
      path: file,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `the contexts file ${file} is not JSON (${(e as Error).message}); fix or remove it`, {
      field: 'GRAMFLEET_CONTEXTS_FILE',
      path: file,
    });
  }
  const d = doc as Partial<ContextsDocument> | null;
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.contexts !== 'object' ||
    d.contexts === null ||
    (d.current !== undefined && typeof d.current !== 'string')
  )
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `the contexts file ${file} does not hold { current?, contexts: {...} }; fix or remove it`, {
      field: 'GRAMFLEET_CONTEXTS_FILE',
      path: file,
    });
  return { ...(d.current !== undefined ? { current: d.current } : {}), contexts: d.contexts };
}

/** Writes the contexts file atomically (a temporary file renamed over it), mode 0600. */
export function writeContexts(file: string, doc: ContextsDocument): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Checks a context name: `INPUT_INVALID` naming `field` and the pattern. */
export function checkContextName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !CONTEXT_NAME_PATTERN.test(name))
    throw new GramfleetError(
      'INPUT_INVALID',
      `${field} must be a context name (a letter or digit, then up to 62 letters, digits, '.', '_' or '-'), got ${JSON.stringify(name)}`,
      { field, expected: String(CONTEXT_NAME_PATTERN) },
    );
  return name;
}

/** Checks a Temporal `host:port` (the port in [1, 65535]); errors name `field`. */
export function checkTemporalAddress(s: unknown, field: string): string {
  const m = typeof s === 'string' ? /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):(\d+)$/.exec(s) : null;
  if (m === null)
    throw new GramfleetError(
      'INPUT_INVALID',
      `${field} must be the Temporal frontend as host:port (e.g. temporal.example.com:7233), got ${JSON.stringify(s)}${typeof s === 'string' && s.includes('://') ? ' (no scheme: TLS is set by the Temporal TLS files)' : ''}`,
      { field, expected: 'host:port' },
    );
  const port = Number(m[2]);
  if (port < 1 || port > 65535)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `${field}: the port must be in [1, 65535], got ${port}`, { field, bound: '[1, 65535]', value: port });
  return s as string;
}

/** Checks NATS URL(s): comma-separated `nats://host:port`, `tls://host:port` or `host:port` (port in [1, 65535]); errors name `field`. */
export function checkNatsUrl(s: unknown, field: string): string {
  if (typeof s !== 'string' || s.trim() === '')
    throw new GramfleetError('INPUT_INVALID', `${field} must be a NATS URL such as nats://host:4222 or tls://host:4222, got ${JSON.stringify(s)}`, {
      field,
      expected: 'nats://host:port',
    });
  for (const part of s.split(',')) {
    const u = part.trim();
    const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(?:[^@/\s]+@)?(\[[0-9a-fA-F:.]+\]|[^\s:/[\]@]+)(?::(\d+))?\/?$/i.exec(u);
    if (m === null)
      throw new GramfleetError('INPUT_INVALID', `${field} must be a NATS URL such as nats://host:4222 or tls://host:4222, got ${JSON.stringify(u)}`, {
        field,
        expected: 'nats://host:port',
      });
    const scheme = (m[1] ?? 'nats').toLowerCase();
    if (scheme !== 'nats' && scheme !== 'tls')
      throw new GramfleetError('INPUT_INVALID', `${field}: the scheme must be nats:// or tls://, got ${scheme}:// in ${JSON.stringify(u)}`, {
        field,
        expected: 'nats:// or tls://',
      });
    if (m[3] !== undefined) {
      const port = Number(m[3]);
      if (port < 1 || port > 65535)
        throw new GramfleetError('INPUT_OUT_OF_RANGE', `${field}: the port must be in [1, 65535], got ${port}`, { field, bound: '[1, 65535]', value: port });
    }
  }
  return s;
}

/** How the flags of `gramfleet context add` name the Temporal security fields (errors name them). */
export const CONTEXT_TEMPORAL_SECURITY_FLAGS: TemporalSecurityNames = Object.freeze({
  caFile: '--temporal-ca',
  certFile: '--temporal-cert',
  keyFile: '--temporal-key',
  serverName: '--temporal-server-name',
  apiKeyFile: '--temporal-api-key-file',
});

/** How the flags of `gramfleet context add` name the NATS identity fields. */
export const CONTEXT_NATS_AUTH_FLAGS: Readonly<Record<keyof NatsAuth, string>> = Object.freeze({
  credsFile: '--nats-creds',
  caFile: '--nats-ca',
  certFile: '--nats-cert',
  keyFile: '--nats-key',
});

function checkNatsAuthFiles(a: NatsAuth, names: Readonly<Record<keyof NatsAuth, string>>): NatsAuth {
  const out: { -readonly [K in keyof NatsAuth]?: string } = {};
  for (const k of ['credsFile', 'caFile', 'certFile', 'keyFile'] as const) {
    const v = a[k];
    if (v === undefined) continue;
    const abs = path.resolve(v);
    try {
      fs.accessSync(abs, fs.constants.R_OK);
    } catch (e) {
      throw new GramfleetError('INPUT_FILE_UNREADABLE', `${names[k]} names ${abs}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
        field: names[k],
        path: abs,
      });
    }
    out[k] = abs;
  }
  if ((out.certFile === undefined) !== (out.keyFile === undefined))
    throw new GramfleetError('INPUT_INVALID', `${names.certFile} and ${names.keyFile} must be given together`, {
      field: out.certFile === undefined ? names.certFile : names.keyFile,
      expected: 'both or neither',
    });
  return out;
}

/**
 * Validates a context before it is recorded: addresses, prefix, readable credential files
 * (paths made absolute), a certificate with its key. Errors name the flag (`--temporal`, …).
 */
export function compileContext(c: ClusterContext): ClusterContext {
  const temporal = checkTemporalAddress(c.temporal, '--temporal');
  const nats = checkNatsUrl(c.nats, '--nats');
  if (c.namespace !== undefined && (typeof c.namespace !== 'string' || c.namespace === ''))
    throw new GramfleetError('INPUT_INVALID', '--namespace must be a non-empty Temporal namespace', { field: '--namespace' });
  if (c.taskQueue !== undefined && (typeof c.taskQueue !== 'string' || c.taskQueue === ''))
    throw new GramfleetError('INPUT_INVALID', '--task-queue must be a non-empty task queue name', { field: '--task-queue' });
  if (c.prefix !== undefined && (typeof c.prefix !== 'string' || !PREFIX_PATTERN.test(c.prefix)))
    throw new GramfleetError('INPUT_INVALID', `--prefix must be a letter, then letters, digits, - or _; got ${JSON.stringify(c.prefix)}`, {
      field: '--prefix',
      expected: String(PREFIX_PATTERN),
    });
  const natsAuth = checkNatsAuthFiles(c.natsAuth ?? {}, CONTEXT_NATS_AUTH_FLAGS);
  const abs = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(p));
  const ts = c.temporalSecurity ?? {};
  const security: TemporalSecurity = Object.fromEntries(
    Object.entries({
      caFile: abs(ts.caFile),
      certFile: abs(ts.certFile),
      keyFile: abs(ts.keyFile),
      serverName: ts.serverName,
      apiKeyFile: abs(ts.apiKeyFile),
    }).filter(([, v]) => v !== undefined),
  );
  checkTemporalSecurity(security, CONTEXT_TEMPORAL_SECURITY_FLAGS);
  return {
    temporal,
    nats,
    ...(c.namespace !== undefined ? { namespace: c.namespace } : {}),
    ...(c.taskQueue !== undefined ? { taskQueue: c.taskQueue } : {}),
    ...(c.prefix !== undefined ? { prefix: c.prefix } : {}),
    ...(Object.keys(natsAuth).length > 0 ? { natsAuth } : {}),
    ...(Object.keys(security).length > 0 ? { temporalSecurity: security } : {}),
  };
}

/** Adds (or replaces) context `name` in `file`; `use` makes it current. Returns the recorded context. */
export function addContext(file: string, name: string, c: ClusterContext, o: { readonly use?: boolean } = {}): ClusterContext {
  checkContextName(name);
  if (name === LOCAL_CONTEXT)
    throw new GramfleetError('INPUT_INVALID', `'${LOCAL_CONTEXT}' is the built-in context of the local cluster; name the remote cluster otherwise`, {
      field: 'name',
    });
  const compiled = compileContext(c);
  const doc = readContexts(file);
  writeContexts(file, {
    ...(o.use === true ? { current: name } : doc.current !== undefined ? { current: doc.current } : {}),
    contexts: { ...doc.contexts, [name]: compiled },
  });
  return compiled;
}

function unknownContext(name: string, doc: ContextsDocument, field: string, file: string): GramfleetError {
  const names = [LOCAL_CONTEXT, ...Object.keys(doc.contexts)];
  const near = nearestName(name, names);
  return new GramfleetError(
    'INPUT_INVALID',
    `${field} names context ${JSON.stringify(name)}, which ${file} does not hold${near !== undefined ? `; did you mean ${near}?` : ''} (contexts: ${names.join(', ')}; add one with 'gramfleet context add')`,
    { field, value: name, allowed: names, ...(near !== undefined ? { nearest: near } : {}) },
  );
}

/** Makes `name` (a recorded context or `local`) the current context. */
export function useContext(file: string, name: string): void {
  const doc = readContexts(file);
  if (name !== LOCAL_CONTEXT && doc.contexts[name] === undefined) throw unknownContext(name, doc, 'name', file);
  writeContexts(file, { current: name, contexts: doc.contexts });
}

/** Removes context `name`; when it was current, `local` becomes current. */
export function removeContext(file: string, name: string): void {
  const doc = readContexts(file);
  if (doc.contexts[name] === undefined) throw unknownContext(name, doc, 'name', file);
  const contexts = Object.fromEntries(Object.entries(doc.contexts).filter(([k]) => k !== name));
  writeContexts(file, { ...(doc.current !== undefined && doc.current !== name ? { current: doc.current } : {}), contexts });
}

/** What {@link resolveTarget} reads besides the environment (the subset of `connect()`'s options). */
export interface TargetOptions {
  readonly temporalAddress?: string;
  readonly natsUrl?: string;
  readonly namespace?: string;
  readonly taskQueue?: string;
  readonly prefix?: string;
  readonly natsAuth?: NatsAuth;
  readonly temporalSecurity?: TemporalSecurity;
  readonly context?: string;
  readonly contextsFile?: string;
  readonly dataDir?: string;
}

const ENV_OVERRIDES = {
  temporal: 'GRAMFLEET_TEMPORAL_ADDRESS',
  nats: 'GRAMFLEET_NATS_URL',
  namespace: 'GRAMFLEET_NAMESPACE',
  taskQueue: 'GRAMFLEET_TASK_QUEUE',
  prefix: 'GRAMFLEET_PREFIX',
} as const;

/**
 * Where a connection goes (see the module's semantics). `envSecurity` and `envNatsAuth` are the
 * client's checked variables (`clientConfig()`); every check happens here, before anything connects.
 */
export function resolveTarget(
  o: TargetOptions,
  env: TargetEnv,
  envConfig: () => { readonly temporalSecurity: CheckedTemporalSecurity | undefined; readonly natsAuth: NatsAuth },
): ClusterTarget {
  // Read only for a remote target: a local cluster ignores the remote security variables.
  let cached: ReturnType<typeof envConfig> | undefined;
  const fromEnv = (): ReturnType<typeof envConfig> => (cached ??= envConfig());
  // 1. Explicit addresses.
  if (o.temporalAddress !== undefined || o.natsUrl !== undefined) {
    if (o.temporalAddress === undefined || o.natsUrl === undefined)
      throw new GramfleetError(
        'INPUT_INVALID',
        `${o.temporalAddress === undefined ? 'temporalAddress' : 'natsUrl'} is missing: a remote cluster needs both temporalAddress and natsUrl (or give a context)`,
        { field: o.temporalAddress === undefined ? 'temporalAddress' : 'natsUrl' },
      );
    return {
      kind: 'remote',
      temporalAddress: checkTemporalAddress(o.temporalAddress, 'temporalAddress'),
      natsUrl: checkNatsUrl(o.natsUrl, 'natsUrl'),
      namespace: o.namespace ?? env.namespace ?? 'default',
      taskQueue: o.taskQueue ?? env.taskQueue ?? 'gramfleet',
      prefix: o.prefix ?? env.prefix ?? 'gf',
      natsAuth: o.natsAuth ?? fromEnv().natsAuth,
      temporalSecurity: o.temporalSecurity !== undefined ? checkTemporalSecurity(o.temporalSecurity) : fromEnv().temporalSecurity,
      origin: { temporal: 'the temporalAddress option', nats: 'the natsUrl option', namespace: 'the namespace option' },
    };
  }
  if (o.context !== undefined) checkContextName(o.context, 'context');
  // 3. A local directory, unless a remote context is asked for as well.
  if (o.dataDir !== undefined) {
    if (o.context === undefined || o.context === LOCAL_CONTEXT) return { kind: 'local', context: LOCAL_CONTEXT, dataDir: o.dataDir };
    throw new GramfleetError('INPUT_INVALID', `dataDir names a local cluster and context names ${o.context}: give one of them`, { field: 'context' });
  }
  const file = o.contextsFile ?? contextsFilePath(env);
  const envContext = env.context;
  let doc: ContextsDocument | undefined;
  const docOf = (): ContextsDocument => (doc ??= readContexts(file));
  const [name, field] =
    o.context !== undefined
      ? [o.context, 'context']
      : envContext !== undefined
        ? [checkContextName(envContext, 'GRAMFLEET_CONTEXT'), 'GRAMFLEET_CONTEXT']
        : [docOf().current ?? LOCAL_CONTEXT, `the current context of ${file}`];
  const overrides = { temporal: env.temporalAddress, nats: env.natsUrl, namespace: env.namespace, taskQueue: env.taskQueue, prefix: env.prefix };
  if (name === LOCAL_CONTEXT) {
    // 4. Variables naming a remote cluster (an in-cluster pod), unless `local` was asked for.
    if (o.context === undefined && (overrides.temporal !== undefined || overrides.nats !== undefined)) {
      if (overrides.temporal === undefined || overrides.nats === undefined)
        throw new GramfleetError(
          'INPUT_INVALID',
          `${overrides.temporal === undefined ? ENV_OVERRIDES.nats : ENV_OVERRIDES.temporal} is set but ${overrides.temporal === undefined ? ENV_OVERRIDES.temporal : ENV_OVERRIDES.nats} is not: a remote cluster needs both (or unset it to use the local cluster, or pick a context)`,
          { field: overrides.temporal === undefined ? ENV_OVERRIDES.temporal : ENV_OVERRIDES.nats },
        );
      return {
        kind: 'remote',
        temporalAddress: checkTemporalAddress(overrides.temporal, ENV_OVERRIDES.temporal),
        natsUrl: checkNatsUrl(overrides.nats, ENV_OVERRIDES.nats),
        namespace: o.namespace ?? overrides.namespace ?? 'default',
        taskQueue: o.taskQueue ?? overrides.taskQueue ?? 'gramfleet',
        prefix: o.prefix ?? overrides.prefix ?? 'gf',
        natsAuth: o.natsAuth ?? fromEnv().natsAuth,
        temporalSecurity: o.temporalSecurity !== undefined ? checkTemporalSecurity(o.temporalSecurity) : fromEnv().temporalSecurity,
        origin: { temporal: ENV_OVERRIDES.temporal, nats: ENV_OVERRIDES.nats, namespace: ENV_OVERRIDES.namespace },
      };
    }
    return { kind: 'local', context: LOCAL_CONTEXT };
  }
  const c = docOf().contexts[name];
  if (c === undefined) throw unknownContext(name, docOf(), field, file);
  const at = (flag: string): string => `context ${name}'s ${flag} (${file})`;
  let temporalSecurity: CheckedTemporalSecurity | undefined;
  try {
    temporalSecurity =
      o.temporalSecurity !== undefined
        ? checkTemporalSecurity(o.temporalSecurity)
        : fromEnv().temporalSecurity !== undefined
          ? fromEnv().temporalSecurity
          : checkTemporalSecurity(c.temporalSecurity, CONTEXT_TEMPORAL_SECURITY_FLAGS);
  } catch (e) {
    if (isGramfleetError(e) && o.temporalSecurity === undefined)
      throw new GramfleetError(e.code, `context ${name}: ${e.message} (fix it with 'gramfleet context add ${name} …')`, { ...e.details, context: name });
    throw e;
  }
  return {
    kind: 'remote',
    context: name,
    temporalAddress:
      overrides.temporal !== undefined ? checkTemporalAddress(overrides.temporal, ENV_OVERRIDES.temporal) : checkTemporalAddress(c.temporal, at('--temporal')),
    natsUrl: overrides.nats !== undefined ? checkNatsUrl(overrides.nats, ENV_OVERRIDES.nats) : checkNatsUrl(c.nats, at('--nats')),
    namespace: o.namespace ?? overrides.namespace ?? c.namespace ?? 'default',
    taskQueue: o.taskQueue ?? overrides.taskQueue ?? c.taskQueue ?? 'gramfleet',
    prefix: o.prefix ?? overrides.prefix ?? c.prefix ?? 'gf',
    natsAuth: o.natsAuth ?? (Object.keys(fromEnv().natsAuth).length > 0 ? fromEnv().natsAuth : (c.natsAuth ?? {})),
    temporalSecurity,
    origin: {
      temporal: overrides.temporal !== undefined ? ENV_OVERRIDES.temporal : at('--temporal'),
      nats: overrides.nats !== undefined ? ENV_OVERRIDES.nats : at('--nats'),
      namespace: o.namespace !== undefined ? 'the namespace option' : overrides.namespace !== undefined ? ENV_OVERRIDES.namespace : at('--namespace'),
    },
  };
}
