/**
 * `gramfleet creds generate`: everything a production deployment needs to be secure, made once
 * offline and handed to Kubernetes as Secrets under the names the chart's values give them
 * (orchestrator/src/k8s/render.ts compileValues, deploy/helm/gramfleet/values.yaml):
 *
 * - a CA (ECDSA P-256, workers/src/security/x509.ts) that signs every certificate below;
 * - NATS: the server certificate (the host of `nats.url`, `tls.certManager.natsDnsNames` and the
 *   `--nats-host` names) in Secret `nats.tls.secretName` (kubernetes.io/tls: ca.crt, tls.crt,
 *   tls.key); an operator, a system account and the cluster's account with the server's
 *   operator-mode configuration (`nats/auth.conf`, also Secret `nats.auth.secretName`, key
 *   auth.conf, for the NATS servers to include); a `.creds` identity per role of
 *   workers/src/security/roles.ts (Secrets `<nats.creds.secretPrefix>-<role>`, key
 *   `<role>.creds`, for the pods' roles; the client and admin identities only as files, for
 *   people and CI); with `nats.tls.clientSecretName` a client certificate there;
 * - Temporal: gramfleet's client certificate (Secret `temporal.tls.secretName`) and the Temporal
 *   chart's frontend and internode certificates (`temporal.server.tls.*.secretName`, DNS names
 *   their serverName and, for the frontend, the host of `temporal.address`).
 *
 * The output directory must be new or empty (keys are never overwritten); it is 0700 and every
 * file 0600. `secrets.yaml` holds every Secret; the CA key and the account seeds (`keys/`) stay
 * offline: they issue more identities and certificates.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GramfleetError } from '@gramfleet/core';
import {
  NATS_ROLES,
  createCertificateAuthority,
  createNatsAccounts,
  issueCertificate,
  natsOperatorConfig,
  roleCreds,
  type IssuedCert,
  type NatsRole,
} from '@gramfleet/workers';
import { POD_NATS_ROLES, compileValues, type DeployValues } from '../k8s/render';
import { toYamlStream } from '../k8s/raw';

/** What to generate. */
export interface CredsOptions {
  /** Output directory (created; must be empty). */
  readonly out: string;
  /** The deployment's values (the chart's values.yaml shape): Secret names, hosts, prefix, namespace. */
  readonly values?: DeployValues;
  /** More names (DNS or IP) for the NATS server certificate. */
  readonly natsHosts?: readonly string[];
  /** Validity of the certificates, days. @default 825 */
  readonly days?: number;
}

/** What was generated. */
export interface GeneratedCreds {
  readonly dir: string;
  /** `secrets.yaml`: every Secret the chart mounts, in the deployment's namespace. */
  readonly secretsFile: string;
  /** The Secret names, by what they hold. */
  readonly secretNames: readonly string[];
  /** `.creds` file of each role. */
  readonly creds: Readonly<Record<NatsRole, string>>;
  /** The CA certificate (trusted by every client and server). */
  readonly caFile: string;
  /** NATS server certificate and key, and the operator-mode configuration to include. */
  readonly nats: { readonly certFile: string; readonly keyFile: string; readonly authConf: string };
  /** Public key of the cluster's NATS account (the `account` of KEDA's nats-jetstream scaler). */
  readonly accountPublicKey: string;
}

const FILE_MODE = 0o600;

function write(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, text, { mode: FILE_MODE, flag: 'wx' });
  return file;
}

const b64 = (t: string): string => Buffer.from(t, 'utf8').toString('base64');

/** Generates the credentials, certificates and Secret manifests of a production deployment in `o.out`. */
export async function generateProductionCreds(o: CredsOptions): Promise<GeneratedCreds> {
  const v = compileValues(o.values ?? {});
  const days = o.days ?? 825;
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new GramfleetError('INPUT_INVALID', `--days must be an integer from 1 to 3650, got ${days}`, { field: 'days', bound: 3650, value: days });
  const dir = path.resolve(o.out);
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0)
    throw new GramfleetError('INPUT_INVALID', `--out ${dir} is not empty: credentials are never overwritten; name a new directory`, {
      field: 'out',
      path: dir,
    });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const f = (...p: string[]): string => path.join(dir, ...p);

  const ca = createCertificateAuthority(`${v.fullname} CA`, Math.max(days, 3650));
  write(f('ca.crt'), ca.certPem);
  write(f('keys', 'ca.key'), ca.keyPem);
  const issue = (file: string, req: Parameters<typeof issueCertificate>[1]): IssuedCert => {
    const c = issueCertificate(ca, { ...req, days });
    write(f(`${file}.crt`), c.certPem);
    write(f(`${file}.key`), c.keyPem);
    return c;
  };
  const tlsSecret = (name: string, c: IssuedCert): object => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name, namespace: v.namespace, labels: { 'app.kubernetes.io/name': 'gramfleet', 'app.kubernetes.io/instance': v.fullname } },
    data: { 'ca.crt': b64(ca.certPem), 'tls.crt': b64(c.certPem), 'tls.key': b64(c.keyPem) },
  });
  const opaque = (name: string, data: Record<string, string>): object => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name, namespace: v.namespace, labels: { 'app.kubernetes.io/name': 'gramfleet', 'app.kubernetes.io/instance': v.fullname } },
    data: Object.fromEntries(Object.entries(data).map(([k, t]) => [k, b64(t)])),
  });
  const secrets: object[] = [];

  // NATS: server certificate, operator mode, one identity per role.
  const natsHosts = [...new Set([...(v.nats.host !== '' ? [v.nats.host] : []), ...(o.values?.tls?.certManager?.natsDnsNames ?? []), ...(o.natsHosts ?? [])])];
  if (natsHosts.length === 0)
    throw new GramfleetError('INPUT_INVALID', 'the NATS server certificate needs a name: nats.url has no host and no --nats-host was given', {
      field: 'nats-host',
    });
  const natsServer = issue(path.join('nats', 'nats-server'), { commonName: natsHosts[0] ?? 'nats', hosts: natsHosts, usage: 'server' });
  secrets.push(tlsSecret(v.nats.tls.secretName, natsServer));
  if (v.nats.tls.clientSecretName !== undefined)
    secrets.push(
      tlsSecret(v.nats.tls.clientSecretName, issue(path.join('nats', 'client'), { commonName: `${v.fullname}-nats-client`, hosts: [], usage: 'client' })),
    );
  const accounts = await createNatsAccounts(`${v.fullname}-operator`);
  write(f('keys', 'operator.nk'), accounts.operatorSeed + '\n');
  write(f('keys', 'account.nk'), accounts.accountSeed + '\n');
  write(f('keys', 'system.nk'), accounts.systemSeed + '\n');
  const authConf = write(f('nats', 'auth.conf'), natsOperatorConfig(accounts).join('\n') + '\n');
  secrets.push(opaque(v.nats.auth.secretName, { 'auth.conf': fs.readFileSync(authConf, 'utf8') }));
  const prefix = o.values?.prefix ?? 'gf';
  const creds = {} as Record<NatsRole, string>;
  for (const role of NATS_ROLES) {
    const text = await roleCreds(accounts.accountSeed, prefix, role, `${v.fullname}-${role}`);
    creds[role] = write(f('nats', 'creds', `${role}.creds`), text);
    if ((Object.values(POD_NATS_ROLES) as string[]).includes(role)) secrets.push(opaque(`${v.nats.creds.secretPrefix}-${role}`, { [`${role}.creds`]: text }));
  }

  // Temporal: gramfleet's client certificate; the Temporal chart's frontend and internode.
  const t = v.temporal;
  secrets.push(
    tlsSecret(t.tls.secretName, issue(path.join('temporal', 'client'), { commonName: `${v.fullname}-temporal-client`, hosts: [], usage: 'client' })),
  );
  const addressHost = t.address.replace(/:\d+$/, '');
  for (const which of ['frontend', 'internode'] as const) {
    const s = t.server[which];
    if (!s.enabled) continue;
    const hosts = [...new Set([s.serverName, ...(which === 'frontend' && addressHost !== '' ? [addressHost] : [])])];
    secrets.push(tlsSecret(s.secretName, issue(path.join('temporal', which), { commonName: s.serverName, hosts, usage: 'both' })));
  }

  const secretsFile = write(f('secrets.yaml'), toYamlStream(secrets));
  return {
    dir,
    secretsFile,
    secretNames: secrets.map((x) => (x as { metadata: { name: string } }).metadata.name),
    creds,
    caFile: f('ca.crt'),
    nats: { certFile: f('nats', 'nats-server.crt'), keyFile: f('nats', 'nats-server.key'), authConf },
    accountPublicKey: accounts.accountPub,
  };
}
