/**
 * Secured Temporal connections: TLS (server-auth, or mutual with a client certificate) and API
 * keys, for every place that connects to Temporal — the SDK's `connect()`, the orchestrator's
 * worker host (`NativeConnection`), the KernelCampaign controller. One helper,
 * {@link temporalConnectionOptions}, builds the options both `Connection.connect` and
 * `NativeConnection.connect` take, so the two clients are secured the same way.
 *
 * Secrets come from files (the chart mounts Secrets as files at /etc/gramfleet/temporal/tls/ and
 * /etc/gramfleet/temporal/api-key), never from variable values: {@link TEMPORAL_SECURITY_ENV}
 * reads their paths from GRAMFLEET_TEMPORAL_TLS_CA / _CERT / _KEY / _SERVER_NAME and
 * GRAMFLEET_TEMPORAL_API_KEY_FILE. {@link checkTemporalSecurity} checks them before anything
 * connects (each file readable and of its kind, a certificate with its key, the key matching the
 * certificate) with a typed error naming the variable or option; the files are read again at each
 * connect, so a reconnecting worker host picks up a rotated certificate.
 *
 * Semantics: any TLS field or an API key turns TLS on (an API key is never sent in the clear);
 * without a CA file the system's roots check the server. A failed connect becomes a typed error
 * that says what to fix ({@link explainTemporalConnectError}): `CLUSTER_TLS_FAILED` (the server's
 * certificate is not trusted or names another host, or the server does not speak TLS),
 * `CLUSTER_UNAUTHENTICATED` (the server wants a client certificate or refused ours, or refused the
 * API key), else `CLUSTER_UNAVAILABLE`.
 *
 * The local cluster's Temporal dev server cannot terminate TLS: it listens on 127.0.0.1 only and
 * is reached in plaintext (see {@link LOCAL_TEMPORAL_TRANSPORT}).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { TLSConfig } from '@temporalio/client';
import { GramfleetError, envGroup, envRaw, isGramfleetError, type EnvField } from '@gramfleet/core';

/** How a Temporal connection is secured: paths of PEM files and of an API key file. */
export interface TemporalSecurity {
  /** PEM CA bundle the server's certificate is checked against. @default the system's roots (when TLS is on) */
  readonly caFile?: string;
  /** PEM client certificate (mTLS); needs {@link keyFile}. */
  readonly certFile?: string;
  /** PEM private key of {@link certFile}. */
  readonly keyFile?: string;
  /** The name the server's certificate must carry (and SNI). @default the host of the address */
  readonly serverName?: string;
  /** File holding an API key (e.g. Temporal Cloud's), sent as `Authorization: Bearer <key>`. */
  readonly apiKeyFile?: string;
}

/** What each {@link TemporalSecurity} field is called where it was set (variables, options or flags): errors name it. */
export type TemporalSecurityNames = { readonly [K in keyof Required<TemporalSecurity>]: string };

/** A checked {@link TemporalSecurity}, with the names its errors use. */
export interface CheckedTemporalSecurity extends TemporalSecurity {
  readonly names: TemporalSecurityNames;
}

/** The environment variables (the orchestrator, the controller and the SDK/CLI read them). */
export const TEMPORAL_SECURITY_VARS: TemporalSecurityNames = Object.freeze({
  caFile: 'GRAMFLEET_TEMPORAL_TLS_CA',
  certFile: 'GRAMFLEET_TEMPORAL_TLS_CERT',
  keyFile: 'GRAMFLEET_TEMPORAL_TLS_KEY',
  serverName: 'GRAMFLEET_TEMPORAL_TLS_SERVER_NAME',
  apiKeyFile: 'GRAMFLEET_TEMPORAL_API_KEY_FILE',
});

/** The names of `connect()`'s `temporalSecurity` option fields. */
export const TEMPORAL_SECURITY_OPTIONS: TemporalSecurityNames = Object.freeze({
  caFile: 'temporalSecurity.caFile',
  certFile: 'temporalSecurity.certFile',
  keyFile: 'temporalSecurity.keyFile',
  serverName: 'temporalSecurity.serverName',
  apiKeyFile: 'temporalSecurity.apiKeyFile',
});

/**
 * How the local cluster's Temporal dev server is reached (`gramfleet up` and `status` print it):
 * the dev server cannot terminate TLS, so it is started with `--ip 127.0.0.1` and every port it
 * opens (frontend, HTTP, metrics, membership) listens on loopback only.
 */
export const LOCAL_TEMPORAL_TRANSPORT = 'plaintext, loopback only';

/**
 * How a local cluster started with `up --bind` reaches its Temporal dev server: on every address,
 * still without TLS or authentication (the dev server can do neither), so only for a trusted network.
 */
export const LOCAL_TEMPORAL_TRANSPORT_BOUND = 'plaintext on every address (0.0.0.0), no TLS and no authentication: a trusted network only';

/** The transport line of a local cluster's Temporal server: loopback only, unless it was started with a bind address. */
export function localTemporalTransport(bindAddress: string | undefined): string {
  return bindAddress === undefined ? LOCAL_TEMPORAL_TRANSPORT : LOCAL_TEMPORAL_TRANSPORT_BOUND;
}

/**
 * The Temporal security variables, all empty (= unset): the environment of the local cluster's
 * orchestrator, which reaches the loopback dev server in plaintext whatever the shell that
 * started it sets for a remote cluster.
 */
export const PLAINTEXT_TEMPORAL_ENV: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Object.values(TEMPORAL_SECURITY_VARS).map((name) => [name, ''])),
);

const FIELDS = ['caFile', 'certFile', 'keyFile', 'serverName', 'apiKeyFile'] as const;

function readSecretFile(file: string, name: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `${name} names ${file}, which cannot be read (${why})`, { field: name, path: file, reason: why });
  }
}

function notPem(name: string, file: string, expected: string, why: string): GramfleetError {
  return new GramfleetError('INPUT_INVALID', `${name} must name a file holding ${expected}, but ${file} does not (${why})`, {
    field: name,
    path: file,
    expected,
  });
}

/**
 * Checks `s` (see the module's semantics): every file is readable and holds what it must, a
 * certificate comes with its key and the key is the certificate's. Returns undefined when no
 * field is set (a plaintext connection); typed errors name the field by `names`.
 */
export function checkTemporalSecurity(
  s: TemporalSecurity | undefined,
  names: TemporalSecurityNames = TEMPORAL_SECURITY_OPTIONS,
): CheckedTemporalSecurity | undefined {
  if (s === undefined) return undefined;
  const set: { -readonly [K in keyof TemporalSecurity]: string } = {};
  for (const k of FIELDS) {
    const v = s[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '')
      throw new GramfleetError('INPUT_INVALID', `${names[k]} must be a non-empty string, got ${JSON.stringify(v)}`, { field: names[k] });
    set[k] = v;
  }
  if (Object.keys(set).length === 0) return undefined;
  if (set.certFile !== undefined && set.keyFile === undefined)
    throw new GramfleetError('INPUT_INVALID', `${names.certFile} is set but ${names.keyFile} is not: a client certificate needs its private key`, {
      field: names.keyFile,
      with: names.certFile,
    });
  if (set.keyFile !== undefined && set.certFile === undefined)
    throw new GramfleetError('INPUT_INVALID', `${names.keyFile} is set but ${names.certFile} is not: a private key needs its client certificate`, {
      field: names.certFile,
      with: names.keyFile,
    });
  if (set.caFile !== undefined) {
    const pem = readSecretFile(set.caFile, names.caFile);
    try {
      new X509Certificate(pem);
    } catch (e) {
      throw notPem(names.caFile, set.caFile, 'a PEM CA certificate', (e as Error).message);
    }
  }
  if (set.certFile !== undefined && set.keyFile !== undefined) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(readSecretFile(set.certFile, names.certFile));
    } catch (e) {
      if (isGramfleetError(e)) throw e;
      throw notPem(names.certFile, set.certFile, 'a PEM certificate', (e as Error).message);
    }
    let key: ReturnType<typeof createPrivateKey>;
    try {
      key = createPrivateKey(readSecretFile(set.keyFile, names.keyFile));
    } catch (e) {
      if (isGramfleetError(e)) throw e;
      throw notPem(names.keyFile, set.keyFile, 'a PEM private key', (e as Error).message);
    }
    if (!cert.checkPrivateKey(key))
      throw new GramfleetError(
        'INPUT_INVALID',
        `${names.keyFile} (${set.keyFile}) is not the private key of the certificate in ${names.certFile} (${set.certFile})`,
        {
          field: names.keyFile,
          with: names.certFile,
        },
      );
  }
  if (set.apiKeyFile !== undefined && readSecretFile(set.apiKeyFile, names.apiKeyFile).toString('utf8').trim() === '')
    throw new GramfleetError('INPUT_INVALID', `${names.apiKeyFile} names ${set.apiKeyFile}, which is empty: it must hold the API key`, {
      field: names.apiKeyFile,
      path: set.apiKeyFile,
    });
  return Object.freeze({ ...set, names });
}

/** The variables of {@link TemporalSecurity}, as a config module declares them (docs/config.md). */
export const TEMPORAL_SECURITY_ENV: EnvField<CheckedTemporalSecurity | undefined> = envGroup(
  [
    {
      name: TEMPORAL_SECURITY_VARS.caFile,
      default: '',
      meaning:
        "PEM CA bundle the Temporal frontend's certificate is checked against; set (or any other GRAMFLEET_TEMPORAL_TLS_* or the API key) ⇒ TLS, unset with TLS on ⇒ the system's roots",
    },
    { name: TEMPORAL_SECURITY_VARS.certFile, default: '', meaning: 'PEM client certificate for mutual TLS with Temporal (needs GRAMFLEET_TEMPORAL_TLS_KEY)' },
    { name: TEMPORAL_SECURITY_VARS.keyFile, default: '', meaning: 'PEM private key of GRAMFLEET_TEMPORAL_TLS_CERT' },
    {
      name: TEMPORAL_SECURITY_VARS.serverName,
      default: 'the host of the Temporal address',
      meaning: "the name Temporal's certificate must carry (and the TLS SNI)",
    },
    {
      name: TEMPORAL_SECURITY_VARS.apiKeyFile,
      default: '',
      meaning: 'file holding a Temporal API key (e.g. Temporal Cloud), sent as a bearer token; turns TLS on',
    },
  ],
  (env) => {
    const s: { -readonly [K in keyof TemporalSecurity]: string } = {};
    for (const k of FIELDS) {
      const v = envRaw(env, TEMPORAL_SECURITY_VARS[k]);
      if (v !== undefined) s[k] = v;
    }
    return checkTemporalSecurity(s, TEMPORAL_SECURITY_VARS);
  },
);

/** The options `Connection.connect` (client) and `NativeConnection.connect` (worker) both take. */
export interface TemporalConnectionOptions {
  readonly address: string;
  /** Undefined: plaintext. */
  readonly tls?: TLSConfig;
  readonly apiKey?: string;
}

/**
 * The connection options for `address` secured by `s` (checked by {@link checkTemporalSecurity};
 * undefined: plaintext). Reads the files now, so call it at each (re)connect.
 */
export function temporalConnectionOptions(address: string, s: CheckedTemporalSecurity | undefined): TemporalConnectionOptions {
  if (s === undefined) return { address };
  const n = s.names;
  const tlsConfig: { -readonly [K in keyof TLSConfig]: TLSConfig[K] } = {};
  if (s.caFile !== undefined) tlsConfig.serverRootCACertificate = readSecretFile(s.caFile, n.caFile);
  if (s.certFile !== undefined && s.keyFile !== undefined)
    tlsConfig.clientCertPair = { crt: readSecretFile(s.certFile, n.certFile), key: readSecretFile(s.keyFile, n.keyFile) };
  if (s.serverName !== undefined) tlsConfig.serverNameOverride = s.serverName;
  const apiKey = s.apiKeyFile !== undefined ? readSecretFile(s.apiKeyFile, n.apiKeyFile).toString('utf8').trim() : undefined;
  return { address, tls: tlsConfig, ...(apiKey !== undefined ? { apiKey } : {}) };
}

/** One line on how a connection is secured, for logs and `status` (no secrets). */
export function describeTemporalSecurity(s: CheckedTemporalSecurity | undefined): string {
  if (s === undefined) return 'plaintext';
  const parts = [s.certFile !== undefined ? 'mutual TLS' : 'TLS', s.caFile !== undefined ? `CA ${s.caFile}` : 'system CAs'];
  if (s.serverName !== undefined) parts.push(`server name ${s.serverName}`);
  if (s.apiKeyFile !== undefined) parts.push('API key');
  return parts.join(', ');
}

/** What a bare TLS handshake with the server (the probe of {@link explainTemporalConnectError}) found. */
type Probe =
  | { readonly kind: 'ok' }
  | { readonly kind: 'refused'; readonly code: string; readonly message: string }
  | { readonly kind: 'untrusted'; readonly code: string; readonly message: string }
  | { readonly kind: 'not-tls'; readonly code: string; readonly message: string }
  | { readonly kind: 'unreachable'; readonly code: string; readonly message: string };

/** HTTP/2's connection preface and an empty SETTINGS frame: a TLS server that accepted our certificate answers it with its SETTINGS. */
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

const UNTRUSTED = /CERT|VERIFY|SELF_SIGNED|ISSUER|ALTNAME|EXPIRED|HOSTNAME/;
const NOT_TLS = /WRONG_VERSION_NUMBER|PACKET_LENGTH|UNKNOWN_PROTOCOL|RECORD_LAYER|HTTP_REQUEST|ECONNRESET|EPIPE/;

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/**
 * A TLS handshake with `address` as `o` would make it, then HTTP/2's preface: the server's first
 * bytes mean it accepted us; an alert or a close means it refused (TLS 1.3 servers check the
 * client certificate after the handshake, so the preface is what draws their verdict out).
 */
function probeTls(address: string, o: TemporalConnectionOptions, timeoutMs: number, verify = true): Promise<Probe> {
  const { host, port } = splitAddress(address);
  const t = o.tls;
  return new Promise<Probe>((resolve) => {
    let handshaken = false;
    let settled = false;
    const done = (p: Probe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(p);
    };
    const sock = tls.connect({
      host,
      port,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: verify,
      ...(t?.serverNameOverride !== undefined ? { servername: t.serverNameOverride } : net.isIP(host) === 0 ? { servername: host } : {}),
      ...(t?.serverRootCACertificate !== undefined ? { ca: Buffer.from(t.serverRootCACertificate) } : {}),
      ...(t?.clientCertPair !== undefined ? { cert: Buffer.from(t.clientCertPair.crt), key: Buffer.from(t.clientCertPair.key) } : {}),
    });
    const timer = setTimeout(
      () => done(handshaken ? { kind: 'ok' } : { kind: 'unreachable', code: 'ETIMEDOUT', message: `no TLS handshake within ${timeoutMs} ms` }),
      timeoutMs,
    );
    sock.once('secureConnect', () => {
      handshaken = true;
      sock.write(H2_PREFACE);
    });
    sock.once('data', () => done({ kind: 'ok' }));
    sock.once('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? 'ERR';
      if (handshaken || /ALERT/.test(code)) done({ kind: 'refused', code, message: e.message });
      else if (UNTRUSTED.test(code)) done({ kind: 'untrusted', code, message: e.message });
      else if (NOT_TLS.test(code)) done({ kind: 'not-tls', code, message: e.message });
      else done({ kind: 'unreachable', code, message: e.message });
    });
    sock.once('close', () =>
      done(
        handshaken
          ? { kind: 'refused', code: 'ECONNRESET', message: 'the server closed the connection after the handshake' }
          : { kind: 'not-tls', code: 'ECONNRESET', message: 'the server closed the connection during the handshake' },
      ),
    );
  });
}

/** The gRPC status code of a Temporal client error, if it carries one (ServiceError wraps it in `cause`). */
function grpcCode(e: unknown): number | undefined {
  for (let x: unknown = e, i = 0; x !== undefined && x !== null && i < 4; x = (x as { cause?: unknown }).cause, i++) {
    const c = (x as { code?: unknown }).code;
    if (typeof c === 'number') return c;
  }
  return undefined;
}

const GRPC_UNAUTHENTICATED = 16;
const GRPC_PERMISSION_DENIED = 7;

/**
 * The typed error for a failed connect to Temporal at `address` with options `o` (from
 * {@link temporalConnectionOptions} with `s`): a TLS probe finds out whether the server's
 * certificate is untrusted, the server wants (or refused) a client certificate, or it does not
 * speak TLS at all; a gRPC UNAUTHENTICATED or PERMISSION_DENIED status is a refused API key or
 * certificate. The message says which variable or option to fix, by `s.names`.
 */
export async function explainTemporalConnectError(
  e: unknown,
  o: TemporalConnectionOptions,
  s: CheckedTemporalSecurity | undefined,
  timeoutMs = 5_000,
): Promise<GramfleetError> {
  if (isGramfleetError(e)) return e;
  const n = s?.names ?? TEMPORAL_SECURITY_VARS;
  const address = o.address;
  const cause = (e as Error).message;
  const code = grpcCode(e);
  if (code === GRPC_UNAUTHENTICATED || code === GRPC_PERMISSION_DENIED) {
    const fix =
      s?.apiKeyFile !== undefined
        ? `the API key in ${s.apiKeyFile} (${n.apiKeyFile}) was refused: check that it is the whole key, not expired or revoked, and allowed on this namespace`
        : s?.certFile !== undefined
          ? `the client certificate in ${n.certFile} was refused for this namespace: check the namespace's accepted CAs and certificate filters, or set ${n.apiKeyFile}`
          : `the server wants credentials: set ${n.apiKeyFile} (an API key) or ${n.certFile} and ${n.keyFile} (a client certificate)`;
    return new GramfleetError('CLUSTER_UNAUTHENTICATED', `Temporal at ${address} refused this client: ${fix} (server said: ${cause})`, {
      address,
      field: s?.apiKeyFile !== undefined || s?.certFile === undefined ? n.apiKeyFile : n.certFile,
      grpcCode: code,
    });
  }
  if (o.tls === undefined) {
    // Plaintext was asked for: a server that speaks TLS there is the likely cause.
    const p = await probeTls(address, o, timeoutMs, false);
    if (p.kind === 'ok' || p.kind === 'refused')
      return new GramfleetError(
        'CLUSTER_TLS_FAILED',
        `Temporal at ${address} speaks TLS but this client connects in plaintext: set ${n.caFile} (the CA of its certificate), and ${n.certFile}/${n.keyFile} or ${n.apiKeyFile} if it asks for credentials (${cause})`,
        { address, field: n.caFile },
      );
    return new GramfleetError('CLUSTER_UNAVAILABLE', `Temporal at ${address} did not answer: ${cause}`, { address });
  }
  const p = await probeTls(address, o, timeoutMs);
  return (
    tlsProbeError(p, { ...o, tls: o.tls }, s) ??
    new GramfleetError(
      'CLUSTER_UNAVAILABLE',
      p.kind === 'ok'
        ? `Temporal at ${address} accepted TLS but the connection failed: ${cause}`
        : `Temporal at ${address} did not answer: ${p.message} (${cause})`,
      { address },
    )
  );
}

/**
 * The typed error for what a TLS probe of the server found with options `o` (TLS on), or
 * undefined when it found nothing wrong with TLS (the handshake and the server's first bytes came
 * back, or the server did not answer at all).
 */
function tlsProbeError(p: Probe, o: TemporalConnectionOptions & { tls: TLSConfig }, s: CheckedTemporalSecurity | undefined): GramfleetError | undefined {
  const n = s?.names ?? TEMPORAL_SECURITY_VARS;
  const address = o.address;
  switch (p.kind) {
    case 'untrusted': {
      const name = p.code === 'ERR_TLS_CERT_ALTNAME_INVALID';
      return new GramfleetError(
        'CLUSTER_TLS_FAILED',
        name
          ? `the certificate of Temporal at ${address} does not name ${o.tls.serverNameOverride ?? splitAddress(address).host}: set ${n.serverName} to a name it carries (${p.message})`
          : `the certificate of Temporal at ${address} is not trusted (${p.code}: ${p.message}): set ${n.caFile} to the CA that signed it${s?.caFile !== undefined ? ` (now ${s.caFile})` : ''}`,
        { address, field: name ? n.serverName : n.caFile, tlsCode: p.code },
      );
    }
    case 'refused':
      return o.tls.clientCertPair === undefined
        ? new GramfleetError(
            'CLUSTER_UNAUTHENTICATED',
            `Temporal at ${address} requires a client certificate (mutual TLS) and none was given: set ${n.certFile} and ${n.keyFile} (${p.code})`,
            { address, field: n.certFile, tlsCode: p.code },
          )
        : new GramfleetError(
            'CLUSTER_UNAUTHENTICATED',
            `Temporal at ${address} refused the client certificate in ${n.certFile} (${p.code}): it must be signed by a CA the server trusts, unexpired, and made for client auth`,
            { address, field: n.certFile, tlsCode: p.code },
          );
    case 'not-tls':
      return new GramfleetError(
        'CLUSTER_TLS_FAILED',
        `Temporal at ${address} does not speak TLS (${p.code}): unset ${n.caFile}, ${n.certFile}, ${n.keyFile}, ${n.serverName} and ${n.apiKeyFile} for a plaintext server, or use its TLS port`,
        { address, field: n.caFile, tlsCode: p.code },
      );
    case 'unreachable':
    case 'ok':
      return undefined;
  }
}

/**
 * Connects to Temporal at `address` secured by `s` with `connectFn` (`Connection.connect` or
 * `NativeConnection.connect`, given the options of {@link temporalConnectionOptions}, read from
 * the files now). With TLS on, one TLS handshake first finds a configuration error at once (an
 * untrusted or misnamed server certificate, a missing or refused client certificate, a server
 * without TLS) instead of after the client's connect timeout; any failure is the typed error of
 * {@link explainTemporalConnectError}.
 */
export async function connectTemporal<C>(
  address: string,
  s: CheckedTemporalSecurity | undefined,
  connectFn: (o: TemporalConnectionOptions) => Promise<C>,
  timeoutMs = 5_000,
): Promise<C> {
  const o = temporalConnectionOptions(address, s);
  if (o.tls !== undefined) {
    const bad = tlsProbeError(await probeTls(address, o, timeoutMs), { ...o, tls: o.tls }, s);
    if (bad !== undefined) throw bad;
  }
  try {
    return await connectFn(o);
  } catch (e) {
    throw await explainTemporalConnectError(e, o, s, timeoutMs);
  }
}
