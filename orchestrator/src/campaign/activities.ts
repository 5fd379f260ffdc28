/**
 * Campaign activities: register the campaign record, prepare a run's child workflow input,
 * record a finished run's row. All idempotent (records are create-if-absent, arrays are
 * stored by digest, rows are keyed by run index), so a retried activity changes nothing.
 */
import { workloadDef, type CampaignActivities, type CampaignRow, type Logger } from '@gramfleet/core';
import type { ArrayStore, DataPlane } from '@gramfleet/workers';
import { toFailure } from '../host/activities';
import type { CampaignTable } from './table';
import { workloadRunner, type WorkloadDeps } from './workloads';

/** Dependencies of the campaign activities. */
export interface CampaignActivityDeps {
  readonly dp: DataPlane;
  readonly store: ArrayStore;
  readonly table: CampaignTable;
  readonly log: Logger;
  /** @default 8 GiB */
  readonly memoryBudgetBytes?: number;
}

/** Builds the campaign activities. */
export function createCampaignActivities(deps: CampaignActivityDeps): CampaignActivities {
  const { table, log } = deps;
  const workloadDeps = (): WorkloadDeps => ({ dp: deps.dp, store: deps.store, memoryBudgetBytes: deps.memoryBudgetBytes ?? 8 * 1024 ** 3 });
  const wrap = <A, R>(f: (a: A) => Promise<R>) => async (a: A): Promise<R> => {
    try {
      return await f(a);
    } catch (e) {
      throw toFailure(e);
    }
  };
  return {
    campaignRegister: wrap(async (r) => {
      await table.putRecord(r);
      log.info('campaign registered', { campaignId: r.campaignId, runsTotal: r.runsTotal });
      return { bucket: table.runsBucket, keyPrefix: `${r.campaignId}.` };
    }),
    campaignPrepareRun: wrap(async (p) => {
      const w = workloadDef(p.kind);
      const args = await workloadRunner(p.kind).prepare(p.params, p.childId, p.runTimeoutMs, workloadDeps());
      return { workflowType: w.workflowType, args };
    }),
    campaignRecordRun: wrap(async (r) => {
      const ex = r.error === undefined ? await workloadRunner(r.kind).extract(r.result, r.params, workloadDeps()) : { metrics: {}, artifacts: {} };
      const row: CampaignRow = {
        campaignId: r.campaignId, index: r.index, runId: r.runId, kind: r.kind, params: r.params,
        status: r.error === undefined ? 'done' : 'failed', metrics: ex.metrics, artifacts: ex.artifacts,
        ...(r.error !== undefined ? { error: r.error } : {}),
        attempts: r.attempts, childId: r.childId, startedAt: r.startedAt, finishedAt: r.finishedAt,
      };
      const out = await table.putRow(row);
      log.info('campaign run recorded', { campaignId: r.campaignId, index: r.index, status: row.status, written: out.written });
      return out;
    }),
  };
}
