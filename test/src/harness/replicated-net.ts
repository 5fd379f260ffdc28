/**
 * Simulated hosts on one machine: each host is a Linux network namespace with one veth link to
 * a bridge in the root namespace, on a private /24 (the bridge is `.1`, host i is `.(10+i)`).
 * Each host has its own loopback and port space, so every server listens on its usual port at
 * its host's address; the test process (root namespace) reaches every host through the bridge.
 *
 * Needs root and `ip netns` ({@link netnsUnavailable} says why not, for the skip message).
 * Everything created is recorded in a ledger file under /run/gramfleet-r3 (or the OS temp
 * directory) with the creating pid; {@link HostNetwork.destroy} removes it all, a process exit
 * hook does it synchronously when the test process dies first, and {@link sweepStaleNetworks}
 * removes what a killed process (SIGKILL, no hook) left, recognised by its dead owner pid.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** One simulated host. */
export interface SimHost {
  /** Short name given by the caller (`n1`, `w1`, …). */
  readonly name: string;
  /** Network namespace name (`ip netns exec <netns> …`). */
  readonly netns: string;
  /** Its address on the bridge. */
  readonly ip: string;
  /** Its end of the veth link, inside the namespace. */
  readonly dev: string;
}

/** The bridge, the hosts and how to take them down. */
export interface HostNetwork {
  readonly id: string;
  readonly bridge: string;
  /** The bridge's own address (the root namespace's, where the test process runs). */
  readonly gateway: string;
  readonly hosts: readonly SimHost[];
  host(name: string): SimHost;
  /** Takes a host's link down (`up` false: a network partition of that host) or brings it back up. */
  setLink(name: string, up: boolean): void;
  /** Deletes every namespace, link and the bridge (idempotent). */
  destroy(): void;
}

interface Ledger {
  readonly pid: number;
  readonly bridge: string;
  readonly netns: readonly string[];
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

const LEDGER_DIR = fs.existsSync('/run') ? '/run/gramfleet-r3' : path.join(os.tmpdir(), 'gramfleet-r3');

function ip(args: readonly string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error !== undefined) {
    if (allowFail) return '';
    throw r.error;
  }
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')} failed (${String(r.status)}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Why simulated hosts cannot be made here (not root, no `ip`, namespaces refused); undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root (run npm test as root for the replicated-topology test)';
  const probe = `gfr3probe-${randomBytes(3).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.error !== undefined) return `the ip command (iproute2) is not available: ${add.error.message}`;
  if (add.status !== 0) return `'ip netns add' failed: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  const br = `gfp${randomBytes(3).toString('hex')}`;
  const b = spawnSync('ip', ['link', 'add', 'name', br, 'type', 'bridge'], { encoding: 'utf8' });
  if (b.status !== 0) return `cannot create a Linux bridge: ${b.stderr.trim()}`;
  spawnSync('ip', ['link', 'del', br]);
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeLedger(l: Ledger): void {
  for (const ns of l.netns) {
    // Deleting a namespace does not end its processes: whatever still runs in it is killed first.
    for (const pid of ip(['netns', 'pids', ns], true)
      .split(/\s+/)
      .filter((x) => /^\d+$/.test(x))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    ip(['netns', 'del', ns], true);
  }
  ip(['link', 'del', l.bridge], true);
}

/** Removes the namespaces and bridges of ledgers whose creating process is dead. Returns how many it removed. */
export function sweepStaleNetworks(): number {
  if (!fs.existsSync(LEDGER_DIR)) return 0;
  let n = 0;
  for (const f of fs.readdirSync(LEDGER_DIR)) {
    const file = path.join(LEDGER_DIR, f);
    let l: Ledger;
    try {
      l = JSON.parse(fs.readFileSync(file, 'utf8')) as Ledger;
    } catch {
      continue;
    }
    if (pidAlive(l.pid)) continue;
    removeLedger(l);
    fs.rmSync(file, { force: true });
    n++;
  }
  return n;
}

/** A /24 under 10.0.0.0/8 that no interface or route of this machine uses. */
function freeSubnet(): string {
  const used = ip(['-4', 'addr']) + ip(['-4', 'route']);
  for (let i = 0; i < 64; i++) {
    const a = 100 + Math.floor(Math.random() * 150);
    const b = Math.floor(Math.random() * 256);
    const net = `10.${a}.${b}.`;
    if (!used.includes(net)) return net;
  }
  throw new Error('no free 10.x.y.0/24 subnet found for the simulated hosts');
}

/**
 * Creates a bridge and one namespace per name in `hostNames`, linked to it. On any failure
 * what was made so far is removed before the error is rethrown.
 */
export function createHostNetwork(hostNames: readonly string[]): HostNetwork {
  sweepStaleNetworks();
  const id = randomBytes(3).toString('hex');
  const bridge = `gfb${id}`;
  const net = freeSubnet();
  const gateway = `${net}1`;
  const hosts: SimHost[] = hostNames.map((name, i) => ({ name, netns: `gfr3-${id}-${name}`, ip: `${net}${10 + i}`, dev: 'eth0' }));
  const ledger: Ledger = { pid: process.pid, bridge, netns: hosts.map((h) => h.netns) };
  fs.mkdirSync(LEDGER_DIR, { recursive: true });
  const ledgerFile = path.join(LEDGER_DIR, `${id}.json`);
  fs.writeFileSync(ledgerFile, JSON.stringify(ledger));
  let destroyed = false;
  const destroy = (): void => {
    if (destroyed) return;
    destroyed = true;
    removeLedger(ledger);
    fs.rmSync(ledgerFile, { force: true });
    process.removeListener('exit', destroy);
    for (const sig of SIGNALS) process.removeListener(sig, onSignal);
  };
  // A test process ended by a signal runs no 'exit' listeners unless it exits itself.
  const onSignal = (sig: NodeJS.Signals): void => {
    destroy();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', destroy);
  for (const sig of SIGNALS) process.once(sig, onSignal);
  try {
    ip(['link', 'add', 'name', bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    hosts.forEach((h, i) => {
      const outer = `gfv${id}${i}`;
      const inner = `gfi${id}${i}`;
      ip(['netns', 'add', h.netns]);
      ip(['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
      ip(['link', 'set', outer, 'master', bridge]);
      ip(['link', 'set', outer, 'up']);
      ip(['link', 'set', inner, 'netns', h.netns]);
      const inNs = (args: string[]): string => ip(['-n', h.netns, ...args]);
      inNs(['link', 'set', 'lo', 'up']);
      inNs(['link', 'set', inner, 'name', h.dev]);
      inNs(['addr', 'add', `${h.ip}/24`, 'dev', h.dev]);
      inNs(['link', 'set', h.dev, 'up']);
      inNs(['route', 'add', 'default', 'via', gateway]);
    });
  } catch (e) {
    destroy();
    throw e;
  }
  const byName = (name: string): SimHost => {
    const h = hosts.find((x) => x.name === name);
    if (h === undefined) throw new Error(`no simulated host named ${name}`);
    return h;
  };
  return {
    id,
    bridge,
    gateway,
    hosts,
    host: byName,
    setLink(name, up) {
      const h = byName(name);
      ip(['-n', h.netns, 'link', 'set', h.dev, up ? 'up' : 'down']);
      if (up) ip(['-n', h.netns, 'route', 'replace', 'default', 'via', gateway]);
    },
    destroy,
  };
}
