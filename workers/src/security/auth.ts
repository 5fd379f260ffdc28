/**
 * The client side of a secured NATS connection: the files GRAMFLEET_NATS_CREDS / _CA / _CERT /
 * _KEY name, turned into nats.js connection options (an authenticator, TLS, and the inbox prefix
 * the identity is allowed to receive replies on).
 */
import * as fs from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import { GramfleetError, envGroup, envRaw, type Env } from '@gramfleet/core';

/** Where a process's NATS identity and trust come from (all paths; secrets are never env values). */
export interface NatsAuth {
  /** A NATS `.creds` file (user JWT + nkey seed) or an nkey seed file. */
  readonly credsFile?: string;
  /** PEM CA bundle the server certificate is checked against; set, TLS is required. */
  readonly caFile?: string;
  /** Client certificate (mTLS), with {@link keyFile}. */
  readonly certFile?: string;
  /** Client key (mTLS), with {@link certFile}. */
  readonly keyFile?: string;
}

/** The env variables of {@link NatsAuth}, shared by every process's config module. */
export const NATS_AUTH_VARS = [
  {
    name: 'GRAMFLEET_NATS_CREDS',
    default: '',
    meaning: 'path of a NATS .creds file (user JWT + nkey seed) or an nkey seed file: the identity this process connects as (local clusters: made at up)',
  },
  {
    name: 'GRAMFLEET_NATS_CA',
    default: '',
    meaning: "path of the PEM CA bundle the NATS server's certificate is checked against; set, TLS is required",
  },
  { name: 'GRAMFLEET_NATS_CERT', default: '', meaning: 'path of a PEM client certificate for mutual TLS (with GRAMFLEET_NATS_KEY)' },
  { name: 'GRAMFLEET_NATS_KEY', default: '', meaning: 'path of the PEM key of GRAMFLEET_NATS_CERT' },
] as const;

function readable(name: string, file: string): string {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `${name} names ${file}, which cannot be read: ${(e as Error).message}`, { field: name, path: file });
  }
  return file;
}

/** Reads GRAMFLEET_NATS_CREDS / _CA / _CERT / _KEY (files must be readable; CERT and KEY come together). */
export function natsAuthFromEnv(env: Env): NatsAuth {
  const get = (n: string): string | undefined => {
    const v = envRaw(env, n);
    return v === undefined || v === '' ? undefined : readable(n, v);
  };
  const credsFile = get('GRAMFLEET_NATS_CREDS');
  const caFile = get('GRAMFLEET_NATS_CA');
  const certFile = get('GRAMFLEET_NATS_CERT');
  const keyFile = get('GRAMFLEET_NATS_KEY');
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new GramfleetError('INPUT_INVALID', 'GRAMFLEET_NATS_CERT and GRAMFLEET_NATS_KEY must be set together', {
      field: certFile === undefined ? 'GRAMFLEET_NATS_CERT' : 'GRAMFLEET_NATS_KEY',
      expected: 'both or neither',
    });
  return {
    ...(credsFile !== undefined ? { credsFile } : {}),
    ...(caFile !== undefined ? { caFile } : {}),
    ...(certFile !== undefined ? { certFile } : {}),
    ...(keyFile !== undefined ? { keyFile } : {}),
  };
}

/**
 * The NatsAuth as the environment variables a child process reads: all four, empty where `a` has
 * none, so a child never inherits another cluster's identity from its parent's environment.
 */
export function natsAuthEnv(a: NatsAuth): Record<string, string> {
  return {
    GRAMFLEET_NATS_CREDS: a.credsFile ?? '',
    GRAMFLEET_NATS_CA: a.caFile ?? '',
    GRAMFLEET_NATS_CERT: a.certFile ?? '',
    GRAMFLEET_NATS_KEY: a.keyFile ?? '',
  };
}

/**
 * The token an owner id starts with on this connection (`<token>.`), so an identity allowed to
 * receive only on `<prefix>.owner.<token>.>` gets its tasks' results; empty on the default inbox.
 */
export function ownerIdPrefix(nc: object): string {
  // nats.js keeps the connection's options on the connection object (not in its interface).
  const p = (nc as { readonly options?: { readonly inboxPrefix?: string } }).options?.inboxPrefix;
  return p !== undefined && p.startsWith('_INBOX_') && p.length > 7 ? `${p.slice(7)}.` : '';
}

/**
 * The inbox prefix a user JWT allows replies on (a subscribe allow entry `_INBOX_<token>.>`), so
 * requests of a least-privilege identity get their replies; undefined when any inbox is allowed.
 */
export function inboxPrefixOfJwt(jwt: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { nats?: { sub?: { allow?: string[] } } };
    for (const s of claims.nats?.sub?.allow ?? []) {
      const m = /^(_INBOX_[A-Za-z0-9_-]+)\.>$/.exec(s);
      if (m !== null) return m[1];
    }
  } catch {
    /* not a JWT we can read: the default inbox */
  }
  return undefined;
}

/** nats.js connection options for `a` (authenticator, TLS, inbox prefix). */
export function natsConnectOptions(a: NatsAuth): Partial<ConnectionOptions> {
  const o: { -readonly [K in keyof ConnectionOptions]?: ConnectionOptions[K] } = {};
  if (a.credsFile !== undefined) {
    const text = fs.readFileSync(readable('GRAMFLEET_NATS_CREDS', a.credsFile), 'utf8');
    const jwt = /-----BEGIN NATS USER JWT-----\s*\n\s*([^\s-][^\n]*)\n/.exec(text)?.[1]?.trim();
    if (jwt !== undefined) {
      o.authenticator = credsAuthenticator(new TextEncoder().encode(text));
      const inbox = inboxPrefixOfJwt(jwt);
      if (inbox !== undefined) o.inboxPrefix = inbox;
    } else {
      const seed = /\bSU[A-Z2-7]{56}\b/.exec(text)?.[0];
      if (seed === undefined)
        throw new GramfleetError('INPUT_INVALID', `GRAMFLEET_NATS_CREDS (${a.credsFile}) holds neither a user JWT nor an nkey user seed`, {
          field: 'GRAMFLEET_NATS_CREDS',
          expected: 'a NATS .creds file or an nkey seed (SU...)',
        });
      o.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
    }
  }
  if (a.caFile !== undefined || a.certFile !== undefined) {
    o.tls = {
      ...(a.caFile !== undefined ? { caFile: readable('GRAMFLEET_NATS_CA', a.caFile) } : {}),
      ...(a.certFile !== undefined ? { certFile: readable('GRAMFLEET_NATS_CERT', a.certFile) } : {}),
      ...(a.keyFile !== undefined ? { keyFile: readable('GRAMFLEET_NATS_KEY', a.keyFile) } : {}),
    };
  }
  return o;
}

/**
 * What refused a connection: the TLS handshake (the server's certificate is not vouched for by the
 * CA, or TLS is missing on one side) or the server (no or wrong credentials); null for other errors.
 */
export function connectRefusal(e: unknown): 'CLUSTER_TLS_FAILED' | 'CLUSTER_UNAUTHENTICATED' | null {
  const m = e instanceof Error ? `${e.name} ${e.message} ${String((e as { code?: unknown }).code ?? '')}` : String(e);
  if (/authoriz|authentic|user.*expired/i.test(m)) return 'CLUSTER_UNAUTHENTICATED';
  if (/certificate|self.signed|\btls\b|ssl|handshake|UNABLE_TO_VERIFY|ERR_TLS/i.test(m)) return 'CLUSTER_TLS_FAILED';
  return null;
}

/**
 * `e` as the typed CLUSTER_FORBIDDEN when it is the server's permission refusal (NATS
 * "Permissions Violation", which nats.js reports as a PermissionViolationError or in a request's
 * error message); `e` itself otherwise. `what` names the refused operation.
 */
export function forbiddenError(e: unknown, what: string): unknown {
  const m = e instanceof Error ? e.message : String(e);
  const v = /Permissions Violation for (Publish|Subscription) to "?([^"\s]+)"?/i.exec(m);
  if (v === null && (e as { name?: unknown } | null)?.name !== 'PermissionViolationError') return e;
  const subject = v?.[2] ?? '';
  return new GramfleetError('CLUSTER_FORBIDDEN', `${what} was refused by the NATS server: this identity's role does not permit it (${m})`, {
    field: what,
    ...(subject !== '' ? { subject } : {}),
  });
}

/** GRAMFLEET_NATS_CREDS / _CA / _CERT / _KEY, read by every process that connects to NATS. */
export const NATS_AUTH_ENV = envGroup(NATS_AUTH_VARS, natsAuthFromEnv);
