/**
 * The EigenPro workflow: one long training activity (DESIGN §1 rule 4). The activity talks
 * to the workers over NATS, heartbeats, checkpoints to the object store and resumes from the
 * checkpoint when Temporal retries it (a killed orchestrator, a lost heartbeat).
 */
import { defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import { ERROR_CODES, type EigenProActivities, type EigenProJobInput, type EigenProJobResult, type JobProgress } from '@gramfleet/core';

const PERMANENT = Object.entries(ERROR_CODES).filter(([, v]) => !v.retryable).map(([k]) => k);

/** Query answering the job's phase (per-epoch metrics come as progress events over NATS). */
export const eigenProProgressQuery = defineQuery<JobProgress>('progress');

/** Trains an EigenPro model. */
export async function eigenProWorkflow(input: EigenProJobInput): Promise<EigenProJobResult> {
  let phase: JobProgress['phase'] = 'running';
  setHandler(eigenProProgressQuery, () => ({ phase, shardsTotal: input.params.epochs, shardsDone: phase === 'done' ? input.params.epochs : 0, batchesRunning: phase === 'running' ? 1 : 0, generation: 0 }));
  const acts = proxyActivities<EigenProActivities>({
    startToCloseTimeout: Math.max(60_000, input.timeoutMs),
    heartbeatTimeout: input.heartbeatTimeoutMs ?? 15_000,
    retry: { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 10_000, maximumAttempts: 20, nonRetryableErrorTypes: PERMANENT },
  });
  try {
    const r = await acts.trainEigenPro(input);
    phase = 'done';
    return r;
  } catch (e) {
    phase = 'failed';
    throw e;
  }
}
