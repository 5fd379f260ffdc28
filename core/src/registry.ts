/**
 * The workload registry (pure half): one definition per workload kind. The worker host, the
 * SDK, the CLI, campaigns and the KernelCampaign CRD schema all iterate it; the orchestrator's
 * half is `orchestrator/src/registry.ts`, in the same order. Adding a workload: a folder in
 * each package and one line here (see CONTRIBUTING.md, "How to add a workload").
 */
import { invalidField } from './errors';
import { nearestName } from './validate';
import type { WorkloadDef } from './workload';
import { GRF_WORKLOAD } from './grf/workload';
import { EIGENPRO_WORKLOAD } from './eigenpro/workload';
import { KRON_GP_WORKLOAD } from './kron/workload';
import { DATAGEN_WORKLOAD } from './datagen/workload';

/** Every workload, one line each. */
export const WORKLOAD_DEFS = [GRF_WORKLOAD, EIGENPRO_WORKLOAD, KRON_GP_WORKLOAD, DATAGEN_WORKLOAD] as const;

/** A workload kind (`grf`, `eigenpro`, `kron-gp`, `datagen`). */
export type WorkloadKind = (typeof WORKLOAD_DEFS)[number]['kind'];

/** The workload kinds, sorted. */
export function workloadKinds(): string[] {
  return WORKLOAD_DEFS.map((w) => w.kind).sort();
}

/** True when `kind` names a workload. */
export function isWorkloadKind(kind: unknown): kind is WorkloadKind {
  return WORKLOAD_DEFS.some((w) => w.kind === kind);
}

/** The definition of a kind; `INPUT_INVALID` naming `field` and the nearest kind when there is none. */
export function workloadDef<K extends WorkloadKind>(kind: K, field?: string): Extract<(typeof WORKLOAD_DEFS)[number], { kind: K }>;
export function workloadDef(kind: unknown, field?: string): WorkloadDef;
export function workloadDef(kind: unknown, field = 'kind'): WorkloadDef {
  const w = WORKLOAD_DEFS.find((d) => d.kind === kind);
  if (w !== undefined) return w;
  const near = typeof kind === 'string' ? nearestName(kind, workloadKinds()) : undefined;
  throw invalidField(
    field,
    `one of ${workloadKinds().join('|')}${near !== undefined && typeof kind === 'string' && kind.length > 0 ? ` (did you mean ${near}?)` : ''}`,
    kind,
  );
}

/** Validates one campaign run's parameters with its workload's compile step (`where` prefixes the fields). */
export function compileWorkloadParams(kind: string, params: Readonly<Record<string, unknown>>, where: string): void {
  workloadDef(kind, `${where}.kind`).compileRun(params, where);
}
