/**
 * The EigenPro workflow: one long training activity (docs/design.md §1 rule 4). The activity talks
 * to the workers over NATS, heartbeats, checkpoints to the object store and resumes from the
 * checkpoint when Temporal retries it (a killed orchestrator, a lost heartbeat).
 */
import { defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type { EigenProActivities, EigenProJobInput, EigenProJobResult, JobProgress } from '@gramfleet/core';
import { longLoopActivityOptions } from './policies';

/** Query answering the job's phase (per-epoch metrics come as progress events over NATS). */
export const eigenProProgressQuery = defineQuery<JobProgress>('progress');

/** Trains an EigenPro model. */
export async function eigenProWorkflow(input: EigenProJobInput): Promise<EigenProJobResult> {
  let phase: JobProgress['phase'] = 'running';
  setHandler(eigenProProgressQuery, () => ({
    phase,
    shardsTotal: input.params.epochs,
    shardsDone: phase === 'done' ? input.params.epochs : 0,
    batchesRunning: phase === 'running' ? 1 : 0,
    generation: 0,
  }));
  const acts = proxyActivities<EigenProActivities>(longLoopActivityOptions(input.timeoutMs, input.heartbeatTimeoutMs ?? 15_000));
  try {
    const r = await acts.trainEigenPro(input);
    phase = 'done';
    return r;
  } catch (e) {
    phase = 'failed';
    throw e;
  }
}
