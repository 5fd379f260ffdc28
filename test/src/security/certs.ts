/**
 * Test certificates: a CA and the certificates it signs (ECDSA P-256), made by the `openssl`
 * command line into a directory as PEM files. For the TLS tests only; a production cluster's
 * certificates come from its operator's CA (cert-manager, Secrets).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A certificate and its key, as files and PEM text. */
export interface TestCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Whether the `openssl` command line runs here (the TLS tests print why they skip otherwise). */
export function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function read(certFile: string, keyFile: string): TestCert {
  fs.chmodSync(keyFile, 0o600);
  return { certFile, keyFile, certPem: fs.readFileSync(certFile, 'utf8'), keyPem: fs.readFileSync(keyFile, 'utf8') };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A self-signed CA written to `dir/<name>.crt` and `dir/<name>.key`. */
export function createTestCa(dir: string, name = 'ca', cn = 'gramfleet test CA'): TestCert {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '7',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return read(certFile, keyFile);
}

/**
 * A leaf certificate signed by `ca`, written to `dir/<name>.crt` and `.key`: a server's (with
 * its DNS names and IP addresses) or a client's.
 */
export function issueTestCert(
  ca: TestCert,
  dir: string,
  name: string,
  o: { cn: string; server?: { dns?: string[]; ips?: string[] }; client?: boolean },
): TestCert {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  const usages = [...(o.server !== undefined ? ['serverAuth'] : []), ...(o.client === true ? ['clientAuth'] : [])];
  const sans = o.server !== undefined ? [...(o.server.dns ?? []).map((d) => `DNS:${d}`), ...(o.server.ips ?? []).map((i) => `IP:${i}`)] : [];
  fs.writeFileSync(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      `extendedKeyUsage=${usages.join(',')}`,
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
    ].join('\n') + '\n',
  );
  openssl(['req', '-new', ...EC, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${o.cn}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-set_serial',
    `0x${randomBytes(8)
      .toString('hex')
      .replace(/^[89a-f]/, '1')}`,
    '-days',
    '7',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    certFile,
  ]);
  fs.rmSync(csr);
  fs.rmSync(ext);
  return read(certFile, keyFile);
}

/** Writes `content` to `dir/name` (mode 0600) and returns the path. */
export function writeSecret(dir: string, name: string, content: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content, { mode: 0o600 });
  return p;
}
