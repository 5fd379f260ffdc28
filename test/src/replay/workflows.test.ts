/**
 * Replay of recorded workflow histories (test/fixtures/histories/*.json, recorded from a real
 * local cluster by scripts/record-histories.js): every workflow of every workload and route,
 * and a campaign, replayed against the current workflow code with the Temporal SDK's replayer.
 * A change that makes a workflow issue different commands than it did when the history was
 * recorded (a reordered activity, a new one without `patched()`) fails here, before it reaches a
 * running cluster where it would fail the workflows in flight. A workflow changed on purpose is
 * re-recorded (CONTRIBUTING, "Workflow histories").
 */
import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { CAMPAIGN_WORKFLOW, WORKLOAD_DEFS } from '@gramfleet/core';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const DIR = path.join(ROOT, 'test', 'fixtures', 'histories');

/** A history as the recorder wrote it (proto JSON), with the fields this test reads. */
interface HistoryJson {
  events: {
    eventType?: string;
    workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } };
    activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
  }[];
}

const fixtures = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const load = (file: string): HistoryJson => JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as HistoryJson;
const workflowTypeOf = (h: HistoryJson): string => h.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?';

describe('workflow histories replay against the current workflow code', () => {
  let bundle: WorkflowBundle;
  before(async () => {
    // The same workflows the orchestrator's Temporal worker runs (host/worker-host.ts).
    bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('@gramfleet/workflows'),
      logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
  });

  it("every workflow type has a recorded history (the registry's workloads and the campaign)", () => {
    const recorded = new Set(fixtures.map((f) => workflowTypeOf(load(f))));
    for (const type of [...WORKLOAD_DEFS.map((w) => w.workflowType), CAMPAIGN_WORKFLOW]) {
      assert.ok(recorded.has(type), `no history of ${type} in test/fixtures/histories (record one: node scripts/record-histories.js)`);
    }
  });

  for (const file of fixtures) {
    it(`${file}: replays without a determinism violation`, async () => {
      const history = load(file);
      assert.ok(history.events.length > 3, `${file} holds ${history.events.length} events`);
      await Worker.runReplayHistory({ workflowBundle: bundle, replayName: `replay-${file}` }, history, path.basename(file, '.json'));
    });
  }

  it('a history whose commands no longer match the code fails the replay (the check is live)', async () => {
    // kron-direct schedules runShardBatch then kronReadSmall: renaming the second in the history
    // is what a workflow calling another activity at that point would look like.
    const history = load('kron-direct.json');
    const scheduled = history.events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'kronReadSmall');
    assert.equal(scheduled.length, 1);
    (scheduled[0]!.activityTaskScheduledEventAttributes!.activityType as { name: string }).name = 'kronReadSmallRenamed';
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: bundle, replayName: 'replay-broken' }, history, 'kron-direct-broken'),
      (e: unknown) => (e as Error).name === 'DeterminismViolationError',
    );
  });
});
