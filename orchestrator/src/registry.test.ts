import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as workflows from '@gramfleet/workflows';
import { WORKLOAD_DEFS } from '@gramfleet/core';
import type { ActivityDeps } from './host/activities';
import { WORKLOADS, checkRegistry, hostActivities, workloadFor } from './registry';

describe('workload registry (orchestrator half)', () => {
  it("lists the kinds of core's registry, in its order, each with its definition", () => {
    checkRegistry();
    assert.deepEqual(
      WORKLOADS.map((w) => w.def),
      [...WORKLOAD_DEFS],
    );
    for (const w of WORKLOADS) assert.equal(workloadFor(w.def.kind), w);
    assert.throws(
      () => workloadFor('grff'),
      (e: Error & { code?: string }) => e.code === 'INPUT_INVALID' && e.message.includes('did you mean grf?'),
    );
  });

  it('every workflow type is a workflow the orchestrator worker hosts', () => {
    const exported = workflows as unknown as Record<string, unknown>;
    for (const w of WORKLOADS)
      assert.equal(typeof exported[w.def.workflowType], 'function', `${w.def.kind}: @gramfleet/workflows exports ${w.def.workflowType}`);
  });

  it('the worker host registers every activity the workflows call, each once', () => {
    // The factories only keep their dependencies; nothing is called here.
    const deps = { dp: { names: { prefix: 'gf' } }, store: {}, log: { debug() {}, info() {}, warn() {}, error() {} } } as unknown as ActivityDeps;
    const acts = hostActivities(deps);
    for (const w of WORKLOADS) for (const a of w.def.activities) assert.equal(typeof acts[a], 'function', `${w.def.kind} needs ${a}`);
  });
});
