/**
 * Per-epoch time breakdown of the EigenPro training activity: object-store puts and gets,
 * rounds (publish → last result), the workers' own fetch and compute times (from the task
 * stats), and the coordinator's share. Logged at info level after each epoch and, when the
 * orchestrator is given a file (GRAMFLEET_EIGENPRO_PROFILE, host/config.ts), appended there as
 * one JSON line per epoch (bench/eigenpro sets it).
 */
import { appendFileSync } from 'node:fs';
import type { Logger, TaskResult } from '@gramfleet/core';

/** Accumulated milliseconds and counts per named phase. */
export interface EigenProProfiler {
  /** Times `f` under `name`. */
  time<T>(name: string, f: () => Promise<T>): Promise<T>;
  /** Adds `ms` (and one count) under `name`. */
  add(name: string, ms: number, count?: number): void;
  /** Adds the workers' fetch and compute times of a round's results. */
  tasks(prefix: string, results: readonly TaskResult[]): void;
  /** Logs (and appends to the profile file) the totals since the last flush, then resets them. */
  flush(fields: Readonly<Record<string, unknown>>): void;
}

/** Creates a profiler writing through `log` (and appending to `file` when given). */
export function createProfiler(log: Logger, file: string | undefined): EigenProProfiler {
  let ms: Record<string, number> = {};
  let counts: Record<string, number> = {};
  let since = performance.now();
  const add = (name: string, t: number, count = 1): void => {
    ms[name] = (ms[name] ?? 0) + t;
    counts[name] = (counts[name] ?? 0) + count;
  };
  return {
    add,
    async time(name, f) {
      const t0 = performance.now();
      try {
        return await f();
      } finally {
        add(name, performance.now() - t0);
      }
    },
    tasks(prefix, results) {
      for (const r of results) {
        add(`${prefix}.workerFetch`, r.stats.fetchMs);
        add(`${prefix}.workerCompute`, r.stats.computeMs);
        if (r.stats.rowHits !== undefined) add(`${prefix}.kernelRowHits`, 0, r.stats.rowHits);
        if (r.stats.rowMisses !== undefined) add(`${prefix}.kernelRowMisses`, 0, r.stats.rowMisses);
        if (r.stats.mirroredEntries !== undefined) add(`${prefix}.kernelMirroredEntries`, 0, r.stats.mirroredEntries);
      }
    },
    flush(fields) {
      const round = (o: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v * 10) / 10]));
      const line = { ...fields, wallMs: Math.round(performance.now() - since), ms: round(ms), counts };
      log.info('eigenpro profile', line);
      if (file !== undefined && file !== '') {
        try {
          appendFileSync(file, JSON.stringify(line) + '\n');
        } catch (e) {
          log.warn('profile not written', { file, err: (e as Error).message });
        }
      }
      ms = {};
      counts = {};
      since = performance.now();
    },
  };
}
