/**
 * The NATS security material of a local cluster, made at `up` in `<dataDir>/security/` (directory
 * 0700, files 0600) and reused by later starts of the same data directory:
 *
 * - `ca.crt` / `ca.key`: the cluster's own certificate authority (ECDSA P-256, x509.ts);
 *   `nats-server.crt` / `.key`: the server certificate it signs (127.0.0.1, ::1, localhost, and
 *   the address the cluster is bound to when not loopback).
 * - Decentralised JWT auth: an operator, a system account and the cluster's account
 *   (`operator.jwt`, `account.jwt`, `system.jwt`); the account's seed `account.nk` signs user
 *   JWTs, so a new identity (one per worker) needs no server restart or reload.
 * - `creds/<role>.creds` for every role of roles.ts; per-process identities under
 *   `creds/ids/<name>.creds`.
 * - `nats-server.conf`: TLS required, operator mode with the accounts preloaded, JetStream on for
 *   the cluster's account.
 *
 * Production deployments do not use this: their certificates and credentials come from Secrets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createAccount, createOperator, createUser, fromSeed, type KeyPair } from '@nats-io/nkeys';
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { GramfleetError } from '@gramfleet/core';
import { createCertificateAuthority, issueCertificate } from './x509';
import { NATS_ROLES, identityToken, rolePermissions, type NatsRole } from './roles';

/** Paths of a local cluster's NATS security material. */
export interface LocalNatsSecurity {
  /** The security directory. */
  readonly dir: string;
  /** CA certificate every client checks the server against (GRAMFLEET_NATS_CA). */
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** `.creds` file per role (GRAMFLEET_NATS_CREDS). */
  readonly creds: Readonly<Record<NatsRole, string>>;
  /** The resource prefix the role permissions were written for. */
  readonly prefix: string;
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

function writeSecret(file: string, content: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: FILE_MODE });
  fs.chmodSync(tmp, FILE_MODE);
  fs.renameSync(tmp, file);
}

function mkdirPrivate(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  fs.chmodSync(dir, DIR_MODE);
}

interface Stored {
  readonly version: 1;
  readonly prefix: string;
  readonly operatorJwt: string;
  readonly accountPub: string;
  readonly accountJwt: string;
  readonly systemPub: string;
  readonly systemJwt: string;
}

/** The security directory of a data directory. */
export function securityDir(dataDir: string): string {
  return path.join(dataDir, 'security');
}

function paths(dir: string): {
  meta: string;
  ca: string;
  caKey: string;
  cert: string;
  key: string;
  accountSeed: string;
  creds: Record<NatsRole, string>;
} {
  return {
    meta: path.join(dir, 'nats-auth.json'),
    ca: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    cert: path.join(dir, 'nats-server.crt'),
    key: path.join(dir, 'nats-server.key'),
    accountSeed: path.join(dir, 'account.nk'),
    creds: Object.fromEntries(NATS_ROLES.map((r) => [r, path.join(dir, 'creds', `${r}.creds`)])) as Record<NatsRole, string>,
  };
}

/**
 * Makes (or finds, when a previous start made it for the same prefix) the NATS security material
 * of the local cluster in `<dataDir>/security/`. A server certificate close to expiry is reissued.
 */
export async function ensureLocalNatsSecurity(dataDir: string, prefix: string, extraHosts: readonly string[] = []): Promise<LocalNatsSecurity> {
  const dir = securityDir(dataDir);
  mkdirPrivate(dir);
  mkdirPrivate(path.join(dir, 'creds'));
  mkdirPrivate(path.join(dir, 'creds', 'ids'));
  const p = paths(dir);
  let stored: Stored | null = null;
  if (fs.existsSync(p.meta) && fs.existsSync(p.accountSeed) && fs.existsSync(p.ca) && fs.existsSync(p.caKey)) {
    const s = JSON.parse(fs.readFileSync(p.meta, 'utf8')) as Stored;
    if (s.version === 1 && s.prefix === prefix) stored = s;
  }
  if (stored === null) {
    const ca = createCertificateAuthority(`gramfleet local CA ${path.basename(dataDir)}`);
    writeSecret(p.ca, ca.certPem);
    writeSecret(p.caKey, ca.keyPem);
    const a = await createNatsAccounts('gramfleet-local');
    const { operatorJwt, systemJwt, accountJwt } = a;
    writeSecret(p.accountSeed, a.accountSeed);
    stored = { version: 1, prefix, operatorJwt, accountPub: a.accountPub, accountJwt, systemPub: a.systemPub, systemJwt };
    writeSecret(p.meta, JSON.stringify(stored, null, 2));
    fs.rmSync(p.cert, { force: true });
    for (const r of NATS_ROLES) fs.rmSync(p.creds[r], { force: true });
  }
  // The loopback names, and the address the cluster listens on besides (`gramfleet up --bind`).
  const hosts = [...new Set(['127.0.0.1', '::1', 'localhost', ...extraHosts])];
  if (!fs.existsSync(p.cert) || !fs.existsSync(p.key) || expiresWithin(p.cert, 30) || !certNamesAll(p.cert, hosts)) {
    const srv = issueCertificate(
      { certPem: fs.readFileSync(p.ca, 'utf8'), keyPem: fs.readFileSync(p.caKey, 'utf8') },
      { commonName: 'gramfleet-nats', hosts, usage: 'server' },
    );
    writeSecret(p.cert, srv.certPem);
    writeSecret(p.key, srv.keyPem);
  }
  const sec: LocalNatsSecurity = { dir, caFile: p.ca, serverCertFile: p.cert, serverKeyFile: p.key, creds: p.creds, prefix };
  for (const r of NATS_ROLES) if (!fs.existsSync(p.creds[r])) await writeIdentity(sec, r, `gramfleet-${r}`, p.creds[r]);
  return sec;
}

/** Whether the certificate names every host (IP addresses and DNS names). */
function certNamesAll(certFile: string, hosts: readonly string[]): boolean {
  try {
    const c = new X509Certificate(fs.readFileSync(certFile));
    return hosts.every((h) => c.checkIP(h) !== undefined || c.checkHost(h) !== undefined);
  } catch {
    return false;
  }
}

function expiresWithin(certFile: string, days: number): boolean {
  try {
    return Date.parse(new X509Certificate(fs.readFileSync(certFile)).validTo) < Date.now() + days * 86_400_000;
  } catch {
    return true;
  }
}

function accountKey(sec: LocalNatsSecurity): KeyPair {
  return fromSeed(new TextEncoder().encode(fs.readFileSync(paths(sec.dir).accountSeed, 'utf8').trim()));
}

async function writeIdentity(sec: LocalNatsSecurity, role: NatsRole, name: string, file: string, pin?: string): Promise<void> {
  writeSecret(file, await roleCreds(accountKey(sec), sec.prefix, role, name, pin));
}

/**
 * A new identity of `role` named `name` (one per worker process): its own `.creds` file under
 * `creds/ids/`, signed by the account (the server needs no reload). Workers may be given the lane
 * token (`pin`) they serve so they subscribe to no other lane. Returns the file's path.
 */
export async function issueLocalIdentity(sec: LocalNatsSecurity, role: NatsRole, name: string, pin?: string): Promise<string> {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name))
    throw new GramfleetError('INPUT_INVALID', `identity name must be 1-128 letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`, {
      field: 'name',
      value: name,
    });
  const file = path.join(sec.dir, 'creds', 'ids', `${name}.creds`);
  await writeIdentity(sec, role, name, file, pin);
  return file;
}

/** The nats-server configuration of the local cluster (TLS required, operator mode, JetStream). */
export function localNatsServerConfig(
  sec: LocalNatsSecurity,
  o: {
    readonly host: string;
    readonly port: number;
    readonly monitorPort: number;
    /** Where the monitoring endpoint listens. @default `host` */
    readonly monitorHost?: string;
    readonly storeDir: string;
    readonly serverName: string;
  },
): string {
  const s = JSON.parse(fs.readFileSync(paths(sec.dir).meta, 'utf8')) as Stored;
  const q = (v: string): string => JSON.stringify(v);
  return [
    `server_name: ${q(o.serverName)}`,
    `host: ${q(o.host)}`,
    `port: ${o.port}`,
    `http: ${q(`${o.monitorHost ?? o.host}:${o.monitorPort}`)}`,
    `tls {`,
    `  cert_file: ${q(sec.serverCertFile)}`,
    `  key_file: ${q(sec.serverKeyFile)}`,
    `  ca_file: ${q(sec.caFile)}`,
    `  timeout: 5`,
    `}`,
    ...natsOperatorConfig(s),
    `jetstream {`,
    `  store_dir: ${q(o.storeDir)}`,
    `}`,
    '',
  ].join('\n');
}

/** A NATS operator, its system account and the cluster's account (decentralised JWT auth), with their seeds. */
export interface NatsAccounts {
  readonly operatorJwt: string;
  readonly operatorSeed: string;
  readonly accountPub: string;
  readonly accountJwt: string;
  /** Signs the user JWTs (a new identity needs no server reload). */
  readonly accountSeed: string;
  readonly systemPub: string;
  readonly systemJwt: string;
  readonly systemSeed: string;
}

/** Makes an operator named `operatorName`, a system account and the cluster's account (JetStream on, no limits). */
export async function createNatsAccounts(operatorName: string): Promise<NatsAccounts> {
  const op = createOperator();
  const acct = createAccount();
  const sys = createAccount();
  const seed = (k: KeyPair): string => new TextDecoder().decode(k.getSeed());
  const operatorJwt = await encodeOperator(operatorName, op, { system_account: sys.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', sys, {}, { signer: op });
  const accountJwt = await encodeAccount(
    'GRAMFLEET',
    acct,
    {
      limits: {
        subs: -1,
        data: -1,
        payload: -1,
        imports: -1,
        exports: -1,
        wildcards: true,
        conn: -1,
        leaf: -1,
        mem_storage: -1,
        disk_storage: -1,
        streams: -1,
        consumer: -1,
        max_ack_pending: -1,
        mem_max_stream_bytes: -1,
        disk_max_stream_bytes: -1,
        max_bytes_required: false,
      },
    },
    { signer: op },
  );
  return {
    operatorJwt,
    operatorSeed: seed(op),
    accountPub: acct.getPublicKey(),
    accountJwt,
    accountSeed: seed(acct),
    systemPub: sys.getPublicKey(),
    systemJwt,
    systemSeed: seed(sys),
  };
}

/**
 * The `.creds` text (user JWT + seed) of a new identity of `role` named `name`, signed by
 * `account` (its key pair or seed), with the role's permissions (roles.ts) for resource prefix `prefix`.
 */
export async function roleCreds(account: KeyPair | string, prefix: string, role: NatsRole, name: string, pin?: string): Promise<string> {
  const signer = typeof account === 'string' ? fromSeed(new TextEncoder().encode(account.trim())) : account;
  const user = createUser();
  const token = identityToken(name);
  const perms = rolePermissions(role, { prefix, token, ...(pin !== undefined ? { pin } : {}) });
  const jwt = await encodeUser(
    name,
    user,
    signer,
    {
      pub: { allow: [...perms.pub.allow], deny: [...perms.pub.deny] },
      sub: { allow: [...perms.sub.allow], deny: [...perms.sub.deny] },
      ...(perms.resp !== undefined ? { resp: { max: perms.resp.max, ttl: perms.resp.ttl } } : {}),
      subs: -1,
      data: -1,
      payload: -1,
      tags: [`role:${role}`],
    },
    {},
  );
  return new TextDecoder().decode(fmtCreds(jwt, user));
}

/**
 * The longest protocol line a server accepts from a client. A user JWT travels in the client's
 * CONNECT line with its permissions in it, and a client's (roles.ts: its arrays buckets' streams
 * named one by one) comes near the server's default of 4 KiB.
 */
export const NATS_MAX_CONTROL_LINE = 16 * 1024;

/**
 * The nats-server configuration lines of operator mode: the operator, the system account, both
 * accounts preloaded, and a control line long enough for the identities' JWTs ({@link NATS_MAX_CONTROL_LINE}).
 */
export function natsOperatorConfig(a: Pick<NatsAccounts, 'operatorJwt' | 'systemPub' | 'systemJwt' | 'accountPub' | 'accountJwt'>): string[] {
  const q = (v: string): string => JSON.stringify(v);
  return [
    `max_control_line: ${NATS_MAX_CONTROL_LINE}`,
    `operator: ${q(a.operatorJwt)}`,
    `system_account: ${q(a.systemPub)}`,
    `resolver: MEMORY`,
    `resolver_preload: {`,
    `  ${a.systemPub}: ${q(a.systemJwt)}`,
    `  ${a.accountPub}: ${q(a.accountJwt)}`,
    `}`,
  ];
}
