/**
 * The local cluster's supervisor (`gramfleet supervise`, started detached by `gramfleet up`):
 * every second it reads the cluster's state file and starts again, on the same addresses and
 * stores, each process that died (nats-server, the Temporal dev server, the orchestrator, a
 * worker), so a running job finishes by itself. What it did goes to
 * `<dataDir>/supervisor-events.json` (the last {@link MAX_EVENTS}), which `gramfleet status`
 * prints. It never gives a process up, as Kubernetes does not: a week-long campaign must outlive
 * a cause that lasts minutes (a port taken, a full disk). Instead it backs off: a process that has
 * died more than {@link QUICK_RESTARTS} times within {@link RESTART_WINDOW_MS} is restarted only
 * after a delay that doubles with each further death (5 s, 10 s, … up to {@link MAX_BACKOFF_MS};
 * reported once as `backing-off`), and a restart that fails is tried again after 1 s, 2 s, … up to
 * {@link MAX_BACKOFF_MS} (each failure reported). A failed restart is not a death: only a process
 * that was running and died counts. It stops on SIGTERM (`gramfleet down` stops it first) or when
 * the state file is gone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '@gramfleet/core';
import { LocalCluster, stateFile } from './local-cluster';
import { sleep } from './proc';

/** One thing the supervisor saw or did. */
export interface SupervisorEvent {
  readonly at: string;
  readonly process: string;
  readonly what: 'restarted' | 'restart-failed' | 'backing-off';
  readonly detail?: string;
}

const POLL_MS = 1_000;
const MAX_EVENTS = 50;
/** Deaths within {@link RESTART_WINDOW_MS} restarted at once; more are restarted after a backoff. */
const QUICK_RESTARTS = 3;
const RESTART_WINDOW_MS = 5 * 60_000;
/** The longest wait before a restart (a process that keeps dying, or a restart that keeps failing). */
const MAX_BACKOFF_MS = 60_000;

/** What the supervisor knows of one process between polls. */
interface Tracked {
  /** When it was seen dead after running (deaths; failed restarts are not counted). */
  deaths: number[];
  /** Consecutive failed restarts since it last ran. */
  failures: number;
  /** Not restarted before this time (epoch ms). */
  notBefore: number;
  /** Whether the current death has been counted (it stays dead while restarts fail or wait). */
  counted: boolean;
}

/**
 * When the supervisor may next restart a process that died at `now`: at once for the first
 * {@link QUICK_RESTARTS} deaths in the window, then after 5 s doubling per further death, capped.
 * Exported for the unit test.
 */
export function deathBackoffMs(deathsInWindow: number): number {
  if (deathsInWindow <= QUICK_RESTARTS) return 0;
  return Math.min(MAX_BACKOFF_MS, 5_000 * 2 ** (deathsInWindow - QUICK_RESTARTS - 1));
}

/** The wait after the `failures`-th consecutive failed restart: 1 s doubling, capped. Exported for the unit test. */
export function failureBackoffMs(failures: number): number {
  return Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.max(0, failures - 1));
}

/** Path of the supervisor's event file in a data directory. */
export function supervisorEventsFile(dataDir: string): string {
  return path.join(dataDir, 'supervisor-events.json');
}

/** The supervisor's recorded events (oldest first); empty when there are none. */
export function readSupervisorEvents(dataDir: string): SupervisorEvent[] {
  try {
    return JSON.parse(fs.readFileSync(supervisorEventsFile(dataDir), 'utf8')) as SupervisorEvent[];
  } catch {
    return [];
  }
}

function record(dataDir: string, e: SupervisorEvent): void {
  const all = [...readSupervisorEvents(dataDir), e].slice(-MAX_EVENTS);
  const f = supervisorEventsFile(dataDir);
  fs.writeFileSync(f + '.tmp', JSON.stringify(all, null, 2));
  fs.renameSync(f + '.tmp', f);
}

/** Runs the supervision loop of the cluster in `dataDir` until SIGTERM/SIGINT or the cluster is gone. */
export async function runSupervisor(dataDir: string, log: Logger): Promise<void> {
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const tracked = new Map<string, Tracked>();
  log.info('supervising the local cluster', { dataDir });
  while (!stopping) {
    await sleep(POLL_MS);
    if (stopping || !fs.existsSync(stateFile(dataDir))) break;
    const c = await LocalCluster.find(dataDir, { detached: true, log });
    if (c === null) break;
    const status = c.status().filter((p) => p.name !== 'supervisor');
    for (const p of status) {
      const t = tracked.get(p.name);
      if (p.alive && t !== undefined) t.counted = false; // it runs: its next death is a new one
    }
    const dead = status.filter((p) => !p.alive);
    if (dead.length === 0) continue;
    const now = Date.now();
    const due: string[] = [];
    for (const p of dead) {
      const t = tracked.get(p.name) ?? { deaths: [], failures: 0, notBefore: 0, counted: false };
      tracked.set(p.name, t);
      if (!t.counted) {
        // A new death (it ran since the last one): count it and set when it may be restarted.
        t.counted = true;
        t.failures = 0;
        t.deaths = [...t.deaths.filter((d) => now - d < RESTART_WINDOW_MS), now];
        const wait = deathBackoffMs(t.deaths.length);
        t.notBefore = now + wait;
        if (wait > 0) {
          record(dataDir, {
            at: new Date().toISOString(),
            process: p.name,
            what: 'backing-off',
            detail: `died ${t.deaths.length} times in ${RESTART_WINDOW_MS / 60_000} min; restarted in ${wait / 1000} s`,
          });
          log.error('process keeps dying; restarting it after a backoff', { process: p.name, waitMs: wait });
        }
      }
      if (now >= t.notBefore) due.push(p.name);
    }
    if (stopping || due.length === 0) continue;
    // Servers first (the orchestrator and workers connect to them); one failure does not hold up the rest.
    for (const name of c.restartOrder(due)) {
      if (stopping) break;
      const t = tracked.get(name)!;
      try {
        await c.restart(name);
        t.failures = 0;
        t.counted = false;
        record(dataDir, { at: new Date().toISOString(), process: name, what: 'restarted' });
        log.warn('process died; restarted on the same address and store', { process: name });
      } catch (e) {
        t.failures++;
        const wait = failureBackoffMs(t.failures);
        t.notBefore = Date.now() + wait;
        record(dataDir, {
          at: new Date().toISOString(),
          process: name,
          what: 'restart-failed',
          detail: `${(e as Error).message} (failure ${t.failures} in a row; next try in ${wait / 1000} s)`,
        });
        log.error('restart failed; trying again after a backoff', { process: name, failures: t.failures, waitMs: wait, err: (e as Error).message });
      }
    }
  }
  log.info('supervisor stopped', { dataDir });
}
