/**
 * The workload registry (orchestrator half): one entry per workload kind, in the order of
 * core's `WORKLOAD_DEFS`. The SDK's `submit`, job handles, the worker host's activities,
 * campaign runs and rows, and the CLI iterate it. Adding a workload: a folder in each package
 * and one line here (see CONTRIBUTING.md, "How to add a workload").
 */
import { WORKLOAD_DEFS, workloadDef } from '@gramfleet/core';
import type { TypesOf, Workload, WorkloadTypes } from './workload';
import { createActivities, type ActivityDeps } from './host/activities';
import { grfWorkload } from './grf/workload';
import { eigenProWorkload } from './eigenpro/workload';
import { kronGpWorkload } from './kron/workload';
import { datagenWorkload } from './datagen/workload';

/** Every workload, one line each. */
export const WORKLOADS = [
  grfWorkload,
  eigenProWorkload,
  kronGpWorkload,
  datagenWorkload,
] as const;

/** The type bundles of every workload (a union). */
export type AnyWorkloadTypes = TypesOf<(typeof WORKLOADS)[number]>;
/** A workload kind. */
export type JobKind = AnyWorkloadTypes['kind'];
/** The type bundle of one kind. */
export type TypesFor<K extends JobKind> = Extract<AnyWorkloadTypes, { readonly kind: K }>;
/** Every job spec `fleet.submit` takes: a union discriminated by `kind`. */
export type JobSpec = AnyWorkloadTypes['spec'];
/** The spec of one kind. */
export type SpecFor<K extends JobKind> = TypesFor<K>['spec'];
/** The result of one kind. */
export type ResultFor<K extends JobKind> = TypesFor<K>['result'];
/** The progress of one kind. */
export type ProgressFor<K extends JobKind> = TypesFor<K>['progress'];
/** The progress events of one kind. */
export type EventFor<K extends JobKind> = TypesFor<K>['event'];

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
  if (core !== here) throw new Error(`internal: the workload registries disagree: core ${core}, orchestrator ${here}`);
}

/**
 * The activities the worker host registers: the cluster's shard activities and every
 * workload's own, checked against the definitions — an activity a workflow calls that nothing
 * provides, or one provided twice, is an error at start-up, not at run time.
 */
export function hostActivities(deps: ActivityDeps): Record<string, unknown> {
  checkRegistry();
  const all: Record<string, unknown> = { ...createActivities(deps) };
  for (const w of WORKLOADS) {
    const acts = (w.activities?.(deps) ?? {}) as Record<string, unknown>;
    for (const [name, f] of Object.entries(acts)) {
      if (name in all) throw new Error(`internal: activity ${name} of ${w.def.kind} is registered twice`);
      all[name] = f;
    }
  }
  for (const w of WORKLOADS) {
    for (const name of w.def.activities) if (typeof all[name] !== 'function') throw new Error(`internal: workflow ${w.def.workflowType} calls activity ${name}, which nothing provides`);
  }
  return all;
}
