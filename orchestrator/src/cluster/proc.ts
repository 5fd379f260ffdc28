/**
 * Child processes the launcher owns: spawn with logs to files, wait for readiness, stop
 * exactly what was started (checked by pid and command line), free ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { GramfleetError } from '@gramfleet/core';

/** A process started by the launcher. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
}

/** Options of {@link spawnManaged}. */
export interface SpawnOptions {
  readonly name: string;
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly logFile: string;
  /** Detach so the process outlives its parent (`gramfleet up`). */
  readonly detached?: boolean;
  readonly cwd?: string;
}

/** Spawns a process with stdout and stderr appended to `logFile`. */
export function spawnManaged(o: SpawnOptions): ManagedProcess {
  fs.mkdirSync(path.dirname(o.logFile), { recursive: true });
  const fd = fs.openSync(o.logFile, 'a');
  const child = spawn(o.cmd, [...o.args], {
    ...(o.env !== undefined ? { env: o.env } : {}),
    stdio: ['ignore', fd, fd],
    detached: o.detached ?? false,
    ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
  });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new GramfleetError('CLUSTER_START_FAILED', `could not start ${o.name} (${o.cmd})`, { name: o.name, cmd: o.cmd });
  if (o.detached === true) child.unref();
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  return { name: o.name, pid: child.pid, child, exited };
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port (of `host`, 127.0.0.1 by default). */
export async function waitForPort(port: number, timeoutMs: number, what: string, alive: () => boolean = () => true, host = '127.0.0.1'): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect({ port, host });
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new GramfleetError('CLUSTER_START_FAILED', `${what} exited before listening on port ${port}`, { what, port });
    if (Date.now() > until) throw new GramfleetError('CLUSTER_START_FAILED', `${what} did not listen on port ${port} within ${timeoutMs} ms`, { what, port });
    await sleep(100);
  }
}

/** Whether a pid is alive (and, when `marker` is given, its command line contains it). */
export function pidAlive(pid: number, marker?: string): boolean {
  if (!(pid > 0)) return false; // a placeholder for a process whose start failed (kill(0) would signal our group)
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (marker === undefined) return true;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false; // zombie
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return true;
  }
}

/** Sends `signal`, waits up to `graceMs`, then SIGKILLs. Only touches pids matching `marker`. */
export async function stopPid(pid: number, marker: string, graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!pidAlive(pid, marker)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    if (!pidAlive(pid, marker)) return;
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  while (pidAlive(pid, marker)) await sleep(20);
}

/** Promise-based sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
