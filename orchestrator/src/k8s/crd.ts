/**
 * The `KernelCampaign` custom resource (group gramfleet.io, v1alpha1): its CustomResourceDefinition
 * with an OpenAPI v3 schema that mirrors the campaign spec (core/src/campaign/spec.ts) and is
 * generated from the workload registry (core/src/registry.ts): the kinds a run may have and
 * every kind's documented parameters, typed where every kind that takes one agrees on its type
 * (with the union of their enums). So the API server rejects malformed objects (a bogus kind,
 * a mistyped parameter) before the controller sees them; the controller then runs the full
 * campaign validation (every workload's `compileRun`: required parameters, bounds, unknown
 * names) before it starts anything, and reports a failure in `.status`. Per-kind required
 * parameters are not schema rules: CEL cannot read parameters of any type, and the API
 * server's `anyOf` errors name the wrong branch.
 */
import { CAMPAIGN_MAX_CONCURRENCY, CAMPAIGN_MAX_LIST_RUNS, WORKLOAD_DEFS, type ParamDoc, type WorkloadDef } from '@gramfleet/core';

/** API group of gramfleet's custom resources. */
export const GROUP = 'gramfleet.io';
/** Served and stored version. */
export const VERSION = 'v1alpha1';
/** Kind, plural and the finalizer the controller puts on every KernelCampaign. */
export const KERNEL_CAMPAIGN = {
  kind: 'KernelCampaign',
  plural: 'kernelcampaigns',
  singular: 'kernelcampaign',
  finalizer: 'gramfleet.io/campaign-workflow',
} as const;

/** Phases of `.status.phase`. */
export const KERNEL_CAMPAIGN_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Cancelled'] as const;
/** A `.status.phase` value. */
export type KernelCampaignPhase = (typeof KERNEL_CAMPAIGN_PHASES)[number];

/** A status condition (the Kubernetes `metav1.Condition` shape). */
export interface KernelCampaignCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

/** `.status` of a KernelCampaign, written only by the controller. */
export interface KernelCampaignStatus {
  readonly phase?: KernelCampaignPhase;
  readonly campaignId?: string;
  readonly workflowId?: string;
  /** Run id of the workflow execution the controller started (a restart must not change it). */
  readonly workflowRunId?: string;
  readonly runsTotal?: number;
  readonly runsDone?: number;
  readonly runsFailed?: number;
  readonly runsRunning?: number;
  /** Where the result table is: NATS KV bucket and the key prefix of this campaign's rows. */
  readonly resultRef?: { readonly bucket: string; readonly keyPrefix: string };
  readonly observedGeneration?: number;
  readonly conditions?: readonly KernelCampaignCondition[];
}

/** A KernelCampaign as read from the API server. `spec` is a campaign spec without `id`. */
export interface KernelCampaign {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    finalizers?: string[];
    deletionTimestamp?: string | Date;
    labels?: Record<string, string>;
  };
  spec?: Readonly<Record<string, unknown>>;
  status?: KernelCampaignStatus;
}

const int = (minimum: number, maximum: number) => ({ type: 'integer', format: 'int64', minimum, maximum });
const anyValue = { 'x-kubernetes-preserve-unknown-fields': true };

/** The structural schema of one parameter type. */
function typeSchema(t: ParamDoc['type']): Record<string, unknown> {
  switch (t) {
    case 'integer':
      return { type: 'integer', format: 'int64' };
    case 'number':
    case 'string':
    case 'boolean':
      return { type: t };
    case 'array':
      return { type: 'array', items: anyValue };
    case 'object':
      return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    default:
      return { ...anyValue };
  }
}

/**
 * The parameters of a run of any kind: each name once, typed when every kind that takes it
 * gives it the same type (else any value), with one enum when every kind gives one, and a
 * description per kind. Parameters only the SDK takes (in-memory arrays, job ids) are left out.
 */
export function runParamsSchema(defs: readonly WorkloadDef[] = WORKLOAD_DEFS): Record<string, Record<string, unknown>> {
  const byName = new Map<string, { kind: string; doc: ParamDoc }[]>();
  for (const d of defs) {
    for (const [name, doc] of Object.entries(d.params)) {
      if (doc.only === 'sdk') continue;
      byName.set(name, [...(byName.get(name) ?? []), { kind: d.kind, doc }]);
    }
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const name of [...byName.keys()].sort()) {
    const uses = byName.get(name) ?? [];
    const types = new Set(uses.map((u) => u.doc.type));
    const t = types.size === 1 ? ([...types][0] as ParamDoc['type']) : 'any';
    const enums = uses.every((u) => u.doc.enum !== undefined) ? [...new Set(uses.flatMap((u) => u.doc.enum ?? []))] : undefined;
    out[name] = {
      ...typeSchema(t),
      ...(t === 'string' && enums !== undefined ? { enum: enums } : {}),
      description: uses.map((u) => `${u.kind}: ${u.doc.description}`).join('; '),
    };
  }
  return out;
}

/** What a run of each kind requires, for the schema's description. */
function requiredText(defs: readonly WorkloadDef[]): string {
  return defs
    .map(
      (d) =>
        `${d.kind} needs ${Object.entries(d.params)
          .filter(([, p]) => p.required === true && p.only !== 'sdk')
          .map(([k]) => k)
          .join(', ')}`,
    )
    .join('; ');
}

/** The OpenAPI v3 schema of `.spec` (structural), generated from the workload registry. */
export function kernelCampaignSpecSchema(defs: readonly WorkloadDef[] = WORKLOAD_DEFS): Record<string, unknown> {
  const kinds = defs.map((d) => d.kind);
  const kind = { type: 'string', enum: kinds, description: `workload kind: ${defs.map((d) => `${d.kind} (${d.title})`).join('; ')}` };
  const params = runParamsSchema(defs);
  return {
    type: 'object',
    description: 'A campaign spec (see gramfleet campaigns) without its id: the controller derives the id from the resource uid.',
    properties: {
      name: { type: 'string', maxLength: 253, description: 'Free-form name shown by `gramfleet campaign list`.' },
      concurrency: { ...int(1, CAMPAIGN_MAX_CONCURRENCY), description: 'Runs in flight at once (default 4).' },
      retry: {
        type: 'object',
        properties: { maxAttempts: int(1, 20), backoffMs: int(0, 3_600_000) },
      },
      runTimeoutMs: { ...int(1000, 30 * 24 * 3_600_000), description: 'Wall-clock limit of one run attempt, ms (default 1 h).' },
      runs: {
        type: 'array',
        maxItems: CAMPAIGN_MAX_LIST_RUNS,
        description: `Explicit runs: each a workload kind plus its parameters; kinds may mix (${requiredText(defs)}).`,
        items: { type: 'object', required: ['kind'], properties: { kind, ...params }, 'x-kubernetes-preserve-unknown-fields': true },
      },
      grid: {
        type: 'object',
        required: ['kind', 'axes'],
        description: `Every combination of the axis values merged over base (${requiredText(defs)}, in base or axes).`,
        properties: {
          kind,
          base: { type: 'object', properties: params, 'x-kubernetes-preserve-unknown-fields': true },
          axes: { type: 'object', minProperties: 1, additionalProperties: { type: 'array', minItems: 1, items: anyValue } },
        },
      },
    },
    'x-kubernetes-validations': [
      { rule: 'has(self.runs) || has(self.grid)', message: 'a campaign needs runs or grid' },
      { rule: 'self == oldSelf', message: 'spec is immutable: delete the KernelCampaign and create a new one' },
    ],
  };
}

/** The KernelCampaign CustomResourceDefinition. */
export function kernelCampaignCrd(
  defs: readonly WorkloadDef[] = WORKLOAD_DEFS,
): Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> } } {
  const condition = {
    type: 'object',
    required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
    properties: {
      type: { type: 'string', maxLength: 316 },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
      reason: { type: 'string', maxLength: 1024 },
      message: { type: 'string', maxLength: 32768 },
      lastTransitionTime: { type: 'string', format: 'date-time' },
      observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
    },
  };
  const count = { type: 'integer', format: 'int64', minimum: 0 };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${KERNEL_CAMPAIGN.plural}.${GROUP}`, labels: { 'app.kubernetes.io/name': 'gramfleet' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: KERNEL_CAMPAIGN.kind,
        listKind: `${KERNEL_CAMPAIGN.kind}List`,
        plural: KERNEL_CAMPAIGN.plural,
        singular: KERNEL_CAMPAIGN.singular,
        shortNames: ['kc'],
        categories: ['gramfleet'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Done', type: 'integer', jsonPath: '.status.runsDone' },
            { name: 'Failed', type: 'integer', jsonPath: '.status.runsFailed' },
            { name: 'Total', type: 'integer', jsonPath: '.status.runsTotal' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: kernelCampaignSpecSchema(defs),
                status: {
                  type: 'object',
                  properties: {
                    phase: { type: 'string', enum: [...KERNEL_CAMPAIGN_PHASES] },
                    campaignId: { type: 'string' },
                    workflowId: { type: 'string' },
                    workflowRunId: { type: 'string' },
                    runsTotal: count,
                    runsDone: count,
                    runsFailed: count,
                    runsRunning: count,
                    resultRef: { type: 'object', properties: { bucket: { type: 'string' }, keyPrefix: { type: 'string' } } },
                    observedGeneration: count,
                    conditions: { type: 'array', items: condition, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}
