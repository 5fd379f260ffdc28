/**
 * The workload registry (orchestrator half): one entry per workload kind, in the order of
 * core's `WORKLOAD_DEFS`. The SDK's `submit`, job handles, the worker host's activities,
 * campaign runs and rows, and the CLI iterate it. Adding a workload: a folder in each package
 * and one line here plus its type bundle in `./job-types.ts` (see CONTRIBUTING.md, "How to add a workload").
 */
import { WORKLOAD_DEFS, workloadDef } from '@gramfleet/core';
import type { TypesOf, Workload, WorkloadTypes } from './workload';
import type { AnyWorkloadTypes } from './job-types';
import { createActivities, type ActivityDeps } from './host/activities';
import { createUploadActivities } from './io/upload';
import { grfWorkload } from './grf/workload';
import { eigenProWorkload } from './eigenpro/workload';
import { kronGpWorkload } from './kron/workload';
import { datagenWorkload } from './datagen/workload';

/** Every workload, one line each. */
export const WORKLOADS = [grfWorkload, eigenProWorkload, kronGpWorkload, datagenWorkload] as const;

/**
 * Both halves of the orchestrator's registry name the same type bundles: a workload added here
 * and not to `AnyWorkloadTypes` in `./job-types.ts` (or the other way round) fails to compile.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const registryTypesAgree: Same<TypesOf<(typeof WORKLOADS)[number]>, AnyWorkloadTypes> = true;

/** The workload of a kind; `INPUT_INVALID` naming `field` and the nearest kind when there is none. */
export function workloadFor(kind: unknown, field = 'kind'): Workload<WorkloadTypes> {
  const def = workloadDef(kind, field);
  const w = WORKLOADS.find((x) => x.def.kind === def.kind);
  if (w === undefined) throw new Error(`internal: workload ${def.kind} is in core's registry but not in the orchestrator's`);
  return w as unknown as Workload<WorkloadTypes>;
}

/** Checks that both halves of the registry list the same kinds in the same order (run at start-up and in tests). */
export function checkRegistry(): void {
  const core = WORKLOAD_DEFS.map((d) => d.kind).join(',');
  const here = WORKLOADS.map((w) => w.def.kind).join(',');
  if (!registryTypesAgree) throw new Error('internal: WORKLOADS and AnyWorkloadTypes disagree');
  if (core !== here) throw new Error(`internal: the workload registries disagree: core ${core}, orchestrator ${here}`);
}

/**
 * The activities the worker host registers: the cluster's shard activities and every
 * workload's own, checked against the definitions — an activity a workflow calls that nothing
 * provides, or one provided twice, is an error at start-up, not at run time.
 */
export function hostActivities(deps: ActivityDeps): Record<string, unknown> {
  checkRegistry();
  const all: Record<string, unknown> = { ...createActivities(deps), ...createUploadActivities({ store: deps.store, bucket: deps.dp.names.arraysBucket }) };
  for (const w of WORKLOADS) {
    const acts = (w.activities?.(deps) ?? {}) as Record<string, unknown>;
    for (const [name, f] of Object.entries(acts)) {
      if (name in all) throw new Error(`internal: activity ${name} of ${w.def.kind} is registered twice`);
      all[name] = f;
    }
  }
  for (const w of WORKLOADS) {
    for (const name of w.def.activities)
      if (typeof all[name] !== 'function') throw new Error(`internal: workflow ${w.def.workflowType} calls activity ${name}, which nothing provides`);
  }
  return all;
}
