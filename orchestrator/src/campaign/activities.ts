/**
 * Campaign activities: register the campaign record, prepare a run's child workflow input,
 * record a finished run's row. All idempotent (records are create-if-absent, arrays are
 * stored by digest, rows are keyed by run index), so a retried activity changes nothing.
 */
import { Context } from '@temporalio/activity';
import { GramfleetError, isGramfleetError, type CampaignActivities, type CampaignRow, type Logger } from '@gramfleet/core';
import type { ArrayStore, DataPlane } from '@gramfleet/workers';
import { toFailure } from '../host/activities';
import type { CampaignTable } from './table';
import { workloadFor } from '../registry';
import type { WorkloadContext } from '../workload';
import { compileDataRoots, resolveRunFiles, type CompiledDataRoots } from '../io/data-roots';
import { createFileCache, fileTooLargeForCache, type FileCache } from '../io/file-cache';
import { prepareCampaignFiles } from './files';

/** Dependencies of the campaign activities. */
export interface CampaignActivityDeps {
  readonly dp: DataPlane;
  readonly store: ArrayStore;
  readonly table: CampaignTable;
  readonly log: Logger;
  /** @default 8 GiB */
  readonly memoryBudgetBytes?: number;
  /**
   * The directories a run's files may lie in (`io/data-roots.ts`): every file parameter is
   * resolved inside them before the workload reads or writes it.
   * @default compileDataRoots(undefined): the working directory, ../shared/data beside it, the OS temp directory
   */
  readonly dataRoots?: CompiledDataRoots;
  /**
   * Where an input a run names by object reference (`gf:file:…`) is fetched to and kept
   * (`io/file-cache.ts`); the run then reads that file.
   * @default <OS temp directory>/gramfleet-file-cache
   */
  readonly fileCacheDir?: string;
  /**
   * Bytes the file cache may hold; least recently used files no run is reading are removed to
   * make room, and an input larger than this alone is refused before the campaign starts.
   * @default unbounded
   */
  readonly fileCacheMaxBytes?: number;
}

/** Builds the campaign activities. */
export function createCampaignActivities(deps: CampaignActivityDeps): CampaignActivities {
  const { table, log } = deps;
  let rootsP: Promise<CompiledDataRoots> | undefined;
  const roots = (): Promise<CompiledDataRoots> => (deps.dataRoots !== undefined ? Promise.resolve(deps.dataRoots) : (rootsP ??= compileDataRoots(undefined)));
  const cache: FileCache = createFileCache({
    store: deps.store,
    bucket: deps.dp.names.arraysBucket,
    ...(deps.fileCacheDir !== undefined ? { dir: deps.fileCacheDir } : {}),
    ...(deps.fileCacheMaxBytes !== undefined ? { maxBytes: deps.fileCacheMaxBytes } : {}),
  });
  const ctx = (): WorkloadContext => ({ dp: deps.dp, store: deps.store, memoryBudgetBytes: deps.memoryBudgetBytes ?? 8 * 1024 ** 3 });
  // Each activity heartbeats while it runs: one cut off by a killed orchestrator is retried
  // after the heartbeat timeout, not after its whole start-to-close timeout.
  const wrap =
    <A, R>(f: (a: A) => Promise<R>) =>
    async (a: A): Promise<R> => {
      const activity = Context.current();
      const beat = setInterval(() => activity.heartbeat(), 2_000);
      try {
        return await f(a);
      } catch (e) {
        throw toFailure(e);
      } finally {
        clearInterval(beat);
      }
    };
  return {
    campaignCheckFiles: wrap(async ({ campaignId, spec }) => {
      try {
        const max = deps.fileCacheMaxBytes;
        const r = await prepareCampaignFiles(spec, {
          store: deps.store,
          bucket: deps.dp.names.arraysBucket,
          upload: false,
          ...(max !== undefined
            ? {
                checkSize: (field: string, ref: string, size: number) => {
                  if (size > max) throw fileTooLargeForCache(field, ref, size, max);
                },
              }
            : {}),
        });
        log.info('campaign inputs checked', { campaignId, refs: r.checked });
        return { refs: r.checked };
      } catch (e) {
        // A reference the store does not hold is final here: the campaign is refused, not retried.
        if (isGramfleetError(e) && e.code === 'STORE_MISSING_OBJECT') throw new GramfleetError(e.code, e.message, { ...e.details, final: true });
        throw e;
      }
    }),
    campaignRegister: wrap(async (r) => {
      await table.putRecord(r);
      log.info('campaign registered', { campaignId: r.campaignId, runsTotal: r.runsTotal });
      return { bucket: table.runsBucket, keyPrefix: `${r.campaignId}.` };
    }),
    campaignPrepareRun: wrap(async (p) => {
      const w = workloadFor(p.kind);
      // The run's files stay in the cache while it is prepared (read and stored).
      const lease = cache.lease();
      try {
        const params = await resolveRunFiles(w.def, p.params, await roots(), undefined, lease.resolve);
        const input = await w.campaign.prepare(params, p.childId, p.runTimeoutMs, ctx());
        return { workflowType: w.def.workflowType, args: [input] };
      } finally {
        lease.release();
      }
    }),
    campaignRecordRun: wrap(async (r) => {
      const w = workloadFor(r.kind);
      const lease = cache.lease();
      let ex;
      try {
        ex =
          r.error === undefined
            ? await w.campaign.extract(r.result, await resolveRunFiles(w.def, r.params, await roots(), undefined, lease.resolve), ctx())
            : { metrics: {}, artifacts: {} };
      } finally {
        lease.release();
      }
      const row: CampaignRow = {
        campaignId: r.campaignId,
        index: r.index,
        runId: r.runId,
        kind: r.kind,
        params: r.params,
        status: r.error === undefined ? 'done' : 'failed',
        metrics: ex.metrics,
        artifacts: ex.artifacts,
        ...(r.error !== undefined ? { error: r.error } : {}),
        attempts: r.attempts,
        childId: r.childId,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
      };
      const out = await table.putRow(row);
      log.info('campaign run recorded', { campaignId: r.campaignId, index: r.index, status: row.status, written: out.written });
      return out;
    }),
  };
}
