/** Retrying Temporal client calls across a server restart. */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { GramfleetError } from '@gramfleet/core';

/** gRPC status codes that mean "not reachable right now": UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (a server still starting). */
const TRANSIENT_GRPC_CODES = new Set([14, 4, 8]);

/**
 * True for errors that mean "the server is not reachable right now", not a real answer: a gRPC
 * UNAVAILABLE / DEADLINE_EXCEEDED anywhere in the cause chain (the client wraps them, e.g. in
 * "ServiceError: Failed to get Workflow execution history" while a killed server comes back),
 * or a connection failure by message.
 */
export function isTransientTemporalError(e: unknown): boolean {
  if (e instanceof WorkflowFailedError || e instanceof WorkflowExecutionAlreadyStartedError || e instanceof WorkflowNotFoundError) return false;
  for (let c: unknown = e, depth = 0; c !== undefined && c !== null && depth < 8; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'number' && TRANSIENT_GRPC_CODES.has(code)) return true;
    const msg = (c as Error).message ?? '';
    if (/UNAVAILABLE|ECONNREFUSED|ECONNRESET|connection|transport|Deadline|deadline|14 |Failed to get Workflow execution history/.test(msg)) return true;
  }
  return false;
}

/**
 * Retries a Temporal client call while the server is unavailable (e.g. restarting), for up to
 * `timeoutMs` from the first failure; past it, CLUSTER_UNAVAILABLE saying how long the server has
 * been unreachable.
 */
export async function retrying<T>(f: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  let since: number | undefined; // the first failure of the current outage (a long poll may have run for hours before it)
  for (let wait = 200; ; wait = Math.min(wait * 2, 3_000)) {
    try {
      return await f();
    } catch (e) {
      if (!isTransientTemporalError(e)) throw e;
      since ??= Date.now();
      const start = since;
      if (Date.now() - start > timeoutMs)
        throw new GramfleetError(
          'CLUSTER_UNAVAILABLE',
          `the Temporal server has not answered for ${Math.round((Date.now() - start) / 1000)} s (${(e as Error).message}); the job itself is kept by the server and its result can be read once it is back`,
          { timeoutMs },
        );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
