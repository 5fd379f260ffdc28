/** Retrying Temporal client calls across a server restart. */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';

/** True for errors that mean "the server is not reachable right now", not a real answer. */
export function isTransientTemporalError(e: unknown): boolean {
  if (e instanceof WorkflowFailedError || e instanceof WorkflowExecutionAlreadyStartedError || e instanceof WorkflowNotFoundError) return false;
  const msg = (e as Error | undefined)?.message ?? '';
  return /UNAVAILABLE|ECONNREFUSED|connection|transport|Deadline|deadline|14 /.test(msg);
}

/** Retries a Temporal client call while the server is unavailable (e.g. restarting), up to `timeoutMs`. */
export async function retrying<T>(f: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (let wait = 200; ; wait = Math.min(wait * 2, 3_000)) {
    try {
      return await f();
    } catch (e) {
      if (!isTransientTemporalError(e) || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
