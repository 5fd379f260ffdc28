/**
 * The Temporal SDK's log records (its own, and the replay-aware `log` of workflows and
 * activities) as the orchestrator's JSON lines: Temporal's metadata names the workflow, whose
 * id is the job id, so each record about a job carries `jobId` and `gramfleet logs --job`
 * finds it.
 */
import type { LogEntry } from '@temporalio/worker';
import type { Logger } from '@gramfleet/core';

/** A `DefaultLogger` log function writing through `log`, with `jobId` = the record's workflow id. */
export function temporalLogFunction(log: Logger): (entry: LogEntry) => void {
  return (entry) => {
    // Plain JSON values only: a bigint would make the line unwritable, an Error would print as {}.
    const meta: Record<string, unknown> = { sdk: 'temporal' };
    for (const [k, v] of Object.entries(entry.meta ?? {}))
      meta[k] = typeof v === 'bigint' ? v.toString() : v instanceof Error ? { name: v.name, message: v.message } : v;
    if (typeof meta['workflowId'] === 'string' && meta['jobId'] === undefined) meta['jobId'] = meta['workflowId'];
    switch (entry.level) {
      case 'ERROR':
        log.error(entry.message, meta);
        break;
      case 'WARN':
        log.warn(entry.message, meta);
        break;
      case 'INFO':
        log.info(entry.message, meta);
        break;
      default:
        log.debug(entry.message, meta);
    }
  };
}
