/**
 * Poison inputs end, they do not loop (issue 22 item 7): the real campaign workflow on a real
 * Temporal dev server, with campaign activities that fail the way a poison input makes them
 * fail. A preparation that keeps throwing an untyped error (a parser bug, an orchestrator
 * killed by the input) is attempted CAMPAIGN_ACTIVITY_MAX_ATTEMPTS times and the run is
 * recorded as failed with that error — not retried forever, and not prepared again by the
 * run's own retry policy; a typed permanent error is attempted once; a row whose extraction
 * keeps failing is recorded as failed instead of failing the campaign. The other runs finish.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { CAMPAIGN_WORKFLOW, compileCampaignSpec, type CampaignActivities, type CampaignSummary } from '@gramfleet/core';
import { CAMPAIGN_ACTIVITY_MAX_ATTEMPTS } from '@gramfleet/workflows';
import { binaryPath } from '@gramfleet/orchestrator/internal';

type CampaignRecordInput = Parameters<CampaignActivities['campaignRecordRun']>[0];

const grf = { kind: 'grf', graph: 'g.adjlist', kernel: 'reg-laplacian', scale: 0.25, pHalt: 0.5, walks: 2 };

describe('campaign with poison inputs (real Temporal dev server)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: binaryPath('temporal') } } });
  });
  after(async () => {
    await env?.teardown();
  });

  it('a poison run fails after bounded attempts with its error; the campaign finishes', async () => {
    const prepares = new Map<string, number>();
    const records: CampaignRecordInput[] = [];
    const childCampaign = compileCampaignSpec({ id: `child-${randomBytes(3).toString('hex')}`, runs: [grf] });
    const activities: CampaignActivities = {
      campaignRegister: (r) => Promise.resolve({ bucket: 'rows', keyPrefix: `${r.campaignId}.` }),
      campaignCheckFiles: () => Promise.resolve({ refs: 0 }),
      campaignPrepareRun: (p) => {
        const key = `${p.campaignId}/${p.index}`;
        prepares.set(key, (prepares.get(key) ?? 0) + 1);
        if (p.campaignId === childCampaign.id)
          throw ApplicationFailure.create({ type: 'INPUT_FILE_UNREADABLE', message: '[INPUT_FILE_UNREADABLE] child input', nonRetryable: true });
        if (p.index === 0) throw new RangeError('poison: the parser ran off the end of the file');
        if (p.index === 1)
          throw ApplicationFailure.create({ type: 'INPUT_FILE_UNREADABLE', message: '[INPUT_FILE_UNREADABLE] g.adjlist: line 1', nonRetryable: true });
        // Run 2 succeeds with a child workflow (a one-run campaign of its own), whose row then fails to extract.
        return Promise.resolve({ workflowType: CAMPAIGN_WORKFLOW, args: [{ spec: childCampaign }] });
      },
      campaignRecordRun: (r) => {
        records.push(r);
        if (r.campaignId !== childCampaign.id && r.index === 2 && r.error === undefined) throw new TypeError('poison result: cannot read metrics');
        return Promise.resolve({ written: true });
      },
    };
    const taskQueue = `poison-${randomBytes(3).toString('hex')}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('@gramfleet/workflows'),
      activities,
    });
    const spec = compileCampaignSpec({
      id: `poison-${randomBytes(3).toString('hex')}`,
      concurrency: 3,
      retry: { maxAttempts: 3, backoffMs: 0 },
      runs: [grf, grf, grf],
    });
    const summary = await worker.runUntil(
      env.client.workflow.execute<(i: { spec: typeof spec }) => Promise<CampaignSummary>>(CAMPAIGN_WORKFLOW, {
        args: [{ spec }],
        taskQueue,
        workflowId: spec.id,
      }),
    );
    assert.deepEqual([summary.runsTotal, summary.runsDone, summary.runsFailed], [3, 0, 3]);

    // Run 0: an untyped error, attempted CAMPAIGN_ACTIVITY_MAX_ATTEMPTS times, not prepared again by the run's retry policy.
    assert.equal(prepares.get(`${spec.id}/0`), CAMPAIGN_ACTIVITY_MAX_ATTEMPTS);
    const last = (i: number): CampaignRecordInput => records.filter((r) => r.campaignId === spec.id && r.index === i).at(-1)!;
    assert.equal(last(0).error?.code, 'JOB_FAILED');
    assert.match(last(0).error?.message ?? '', /campaignPrepareRun failed: poison: the parser ran off the end.*at most 5 attempts/);
    assert.equal(last(0).attempts, 1);
    // Run 1: a typed permanent error, attempted once, recorded with its code.
    assert.equal(prepares.get(`${spec.id}/1`), 1);
    assert.equal(last(1).error?.code, 'INPUT_FILE_UNREADABLE');
    // Run 2: its child finished, the row's extraction failed CAMPAIGN_ACTIVITY_MAX_ATTEMPTS times, then the run is recorded failed.
    const run2 = records.filter((r) => r.campaignId === spec.id && r.index === 2);
    assert.equal(run2.filter((r) => r.error === undefined).length, CAMPAIGN_ACTIVITY_MAX_ATTEMPTS);
    assert.equal(run2.at(-1)?.error?.code, 'JOB_FAILED');
    assert.match(run2.at(-1)?.error?.message ?? '', /campaignRecordRun failed: poison result/);
  });
});
