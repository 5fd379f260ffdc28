/**
 * The local cluster's supervisor (`gramfleet supervise`, started detached by `gramfleet up`):
 * every second it reads the cluster's state file and starts again, on the same addresses and
 * stores, each process that died (nats-server, the Temporal dev server, the orchestrator, a
 * worker), so a running job finishes by itself. What it did goes to
 * `<dataDir>/supervisor-events.json` (the last {@link MAX_EVENTS}), which `gramfleet status`
 * prints. A process that dies {@link MAX_RESTARTS} times within {@link RESTART_WINDOW_MS} is
 * left dead (and reported): something is wrong with it that a restart does not mend. It stops
 * on SIGTERM (`gramfleet down` stops it first) or when the state file is gone.
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
  readonly what: 'restarted' | 'restart-failed' | 'gave-up';
  readonly detail?: string;
}

const POLL_MS = 1_000;
const MAX_EVENTS = 50;
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 5 * 60_000;

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
  const restarts = new Map<string, number[]>();
  const givenUp = new Set<string>();
  log.info('supervising the local cluster', { dataDir });
  while (!stopping) {
    await sleep(POLL_MS);
    if (stopping || !fs.existsSync(stateFile(dataDir))) break;
    const c = await LocalCluster.find(dataDir, { detached: true, log });
    if (c === null) break;
    const dead = c.status().filter((p) => !p.alive && p.name !== 'supervisor' && !givenUp.has(p.name));
    if (dead.length === 0) continue;
    const now = Date.now();
    for (const p of dead) {
      const times = (restarts.get(p.name) ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
      if (times.length >= MAX_RESTARTS) {
        givenUp.add(p.name);
        record(dataDir, {
          at: new Date().toISOString(),
          process: p.name,
          what: 'gave-up',
          detail: `died ${times.length} times in ${RESTART_WINDOW_MS / 60_000} min`,
        });
        log.error('process keeps dying; left dead', { process: p.name });
      }
      restarts.set(p.name, [...times, now]);
    }
    if (stopping) break;
    try {
      // restartDead restarts every dead process; those given up on are dropped from the state first.
      for (const name of givenUp) if (c.status().some((p) => p.name === name && !p.alive)) await c.kill(name);
      const done = await c.restartDead();
      for (const name of done) {
        record(dataDir, { at: new Date().toISOString(), process: name, what: 'restarted' });
        log.warn('process died; restarted on the same address and store', { process: name });
      }
    } catch (e) {
      const names = dead.map((p) => p.name).join(', ');
      record(dataDir, { at: new Date().toISOString(), process: names, what: 'restart-failed', detail: (e as Error).message });
      log.error('restart failed; trying again', { process: names, err: (e as Error).message });
    }
  }
  log.info('supervisor stopped', { dataDir });
}
