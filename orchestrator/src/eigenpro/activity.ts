/**
 * The EigenPro training activity (`trainEigenPro`): EigenPro 2 (ep2-activity.ts) when the job
 * trains on its own rows, EigenPro 3/4 (ep3-activity.ts) when it has separate centers. Each
 * runs its whole loop here, fanning the kernel products out to the workers over NATS,
 * heartbeating, checkpointing, and resuming from its checkpoint when retried; the steps both
 * share are in training.ts.
 */
import type { EigenProActivities, EigenProJobInput, EigenProJobResult } from '@gramfleet/core';
import { missingObjectFinal, toFailure, type ActivityDeps } from '../host/activities';
import { trainEigenPro2Cluster } from './ep2-activity';
import { trainEigenPro3Cluster } from './ep3-activity';

/** Builds the EigenPro activities over the same dependencies as the cluster activities. */
export function createEigenProActivities(deps: ActivityDeps): EigenProActivities {
  return {
    async trainEigenPro(input: EigenProJobInput): Promise<EigenProJobResult> {
      try {
        if (input.centers !== undefined) return await trainEigenPro3Cluster(deps, input);
        return await trainEigenPro2Cluster(deps, input);
      } catch (e) {
        throw toFailure(missingObjectFinal(e));
      }
    },
  };
}
