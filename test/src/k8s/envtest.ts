/**
 * A real Kubernetes control plane for tests, in the manner of controller-runtime's envtest:
 * `etcd` and `kube-apiserver` (built by scripts/k8s-envtest.sh into .gramfleet/bin) on free
 * ports in a throwaway directory; no kubelet, no controller-manager. The apiserver serves TLS
 * with a certificate it generates itself, authenticates static bearer tokens and authorises
 * with RBAC: `admin` is in `system:masters`; `controller` is the controller's service
 * account, with no rights beyond what the manifests under test grant it (so the tests prove
 * the RBAC is sufficient).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { kubeConfigFor } from '@gramfleet/orchestrator/internal';
import type { KubeConfig } from '@gramfleet/orchestrator/internal';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, '.gramfleet', 'bin');

/** Namespace and name of the service account the controller runs as in tests. */
export const CONTROLLER_SA = { namespace: 'gramfleet', name: 'gramfleet-controller' } as const;

/** A started control plane. */
export interface EnvTest {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** Kubeconfig of the cluster admin (system:masters). */
  readonly admin: KubeConfig;
  /** Kubeconfig of the controller's service account (RBAC-limited). */
  readonly controller: KubeConfig;
  readonly dir: string;
  /** Stops kube-apiserver and starts it again on the same port and etcd (watches break). */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Why the control plane cannot start here, or undefined when it can. Runs the project's
 * install script once (it is idempotent and quick when the binaries exist).
 */
export function envTestUnavailable(): string | undefined {
  const have = (): boolean => fs.existsSync(path.join(BIN, 'kube-apiserver')) && fs.existsSync(path.join(BIN, 'etcd'));
  if (!have() && process.env['GRAMFLEET_K8S_ENVTEST_INSTALL'] !== '0') {
    spawnSync('bash', [path.join(ROOT, 'scripts', 'k8s-envtest.sh')], { stdio: 'inherit' });
  }
  return have()
    ? undefined
    : 'kube-apiserver/etcd are not in .gramfleet/bin and scripts/k8s-envtest.sh could not build them (needs Go and the Go module proxy)';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

function start(name: string, cmd: string, args: string[], dir: string): ChildProcess {
  const fd = fs.openSync(path.join(dir, `${name}.log`), 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  return child;
}

function get(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
  });
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** Starts etcd + kube-apiserver and waits until /readyz answers 200. */
export async function startEnvTest(name: string): Promise<EnvTest> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gf-k8s-${name}-`));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const adminToken = randomBytes(16).toString('hex');
  const ctrlToken = randomBytes(16).toString('hex');
  const sa = `system:serviceaccount:${CONTROLLER_SA.namespace}:${CONTROLLER_SA.name}`;
  fs.writeFileSync(
    path.join(dir, 'tokens.csv'),
    `${adminToken},admin,admin,"system:masters"\n${ctrlToken},${sa},${randomBytes(8).toString('hex')},"system:serviceaccounts,system:serviceaccounts:${CONTROLLER_SA.namespace}"\n`,
  );
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  fs.writeFileSync(path.join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const etcd = start(
    'etcd',
    path.join(BIN, 'etcd'),
    [
      '--data-dir',
      path.join(dir, 'etcd'),
      '--name',
      'envtest',
      '--listen-client-urls',
      `http://127.0.0.1:${etcdPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${etcdPort}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-cluster',
      `envtest=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync',
      '--log-level',
      'warn',
    ],
    dir,
  );
  const apiArgs = [
    '--etcd-servers',
    `http://127.0.0.1:${etcdPort}`,
    '--bind-address',
    '127.0.0.1',
    '--advertise-address',
    '127.0.0.1',
    '--secure-port',
    String(apiPort),
    '--cert-dir',
    path.join(dir, 'certs'),
    '--token-auth-file',
    path.join(dir, 'tokens.csv'),
    '--authorization-mode',
    'RBAC',
    '--service-account-key-file',
    path.join(dir, 'sa.pub'),
    '--service-account-signing-key-file',
    path.join(dir, 'sa.key'),
    '--service-account-issuer',
    'https://kubernetes.default.svc',
    '--service-cluster-ip-range',
    '10.0.0.0/24',
    '--disable-admission-plugins',
    'ServiceAccount',
    '--allow-privileged=true',
    '--v',
    '0',
  ];
  let api = start('kube-apiserver', path.join(BIN, 'kube-apiserver'), apiArgs, dir);
  const server = `https://127.0.0.1:${apiPort}`;
  const stop = async (): Promise<void> => {
    await stopChild(api);
    await stopChild(etcd);
    if (process.env['GRAMFLEET_KEEP_TEST_DIRS'] === undefined) fs.rmSync(dir, { recursive: true, force: true });
  };
  const waitReady = async (): Promise<void> => {
    const deadline = Date.now() + 120_000;
    while ((await get(`${server}/readyz`, adminToken)) !== 200) {
      if (api.exitCode !== null || etcd.exitCode !== null || Date.now() > deadline) {
        const tail = (f: string): string => {
          try {
            return fs.readFileSync(path.join(dir, f), 'utf8').slice(-2000);
          } catch {
            return '';
          }
        };
        const msg = `kube-apiserver did not become ready:\n${tail('kube-apiserver.log')}\n${tail('etcd.log')}`;
        await stop();
        throw new Error(msg);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  await waitReady();
  return {
    server,
    dir,
    stop,
    async restartApiServer() {
      await stopChild(api);
      api = start('kube-apiserver', path.join(BIN, 'kube-apiserver'), apiArgs, dir);
      await waitReady();
    },
    admin: kubeConfigFor({ server, token: adminToken, user: 'admin', insecureSkipTlsVerify: true }),
    controller: kubeConfigFor({ server, token: ctrlToken, user: 'controller', insecureSkipTlsVerify: true }),
  };
}
