/**
 * The orchestrator half of a workload definition (the pure half is `WorkloadDef` in
 * core/src/workload.ts): how a spec becomes a workflow input (validation, files read, arrays
 * uploaded by digest), how the workflow's answers become what the SDK returns, the activities
 * the worker host registers for it, how a campaign run is prepared and turned into a result
 * row, and its command-line commands. The registry of these is `./registry.ts`.
 */
import type { ArrayRef, CsrRef, WorkerRecord, WorkloadDef } from '@gramfleet/core';
import type { ArrayStore, DataPlane } from '@gramfleet/workers';
import type { ActivityDeps } from './host/activities';
import type { CliCommand } from './cli/command';

/** What a workload's orchestrator side may use. */
export interface WorkloadContext {
  readonly dp: DataPlane;
  readonly store: ArrayStore;
  /** Memory budget a job must fit, bytes. */
  readonly memoryBudgetBytes: number;
  /** The live workers' registry entries from a view kept up to date (no round trip); absent: read the registry. */
  readonly workers?: () => Promise<WorkerRecord[]>;
}

/** The types of one workload: its kind, the spec users submit, the workflow input, the result, progress and events. */
export interface WorkloadTypes {
  readonly kind: string;
  readonly spec: { readonly kind: string; readonly jobId?: string };
  readonly input: { readonly jobId: string };
  readonly result: unknown;
  readonly progress: unknown;
  readonly event: unknown;
}

/** Scalar metrics and artifact references of a finished campaign run (one result row). */
export interface RunExtract {
  readonly metrics: Record<string, number | string>;
  readonly artifacts: Record<string, ArrayRef | CsrRef>;
}

/** How a job's raw workflow answers become what the SDK returns; one per handle (it may cache). */
export interface JobReader<T extends WorkloadTypes> {
  /** The progress query's answer as the user sees it. */
  progress(raw: unknown): Promise<T['progress']>;
  /** The workflow's result as the user sees it. */
  result(raw: unknown): Promise<T['result']>;
}

/** The campaign entry of a workload. */
export interface CampaignEntry<T extends WorkloadTypes> {
  /**
   * The child workflow's input for one attempt of a run whose child (and job) id is `childId`;
   * the parameters were validated by the workload's `compileRun`. Idempotent: arrays go to the
   * store by digest, so a retried activity changes nothing.
   */
  prepare(params: Readonly<Record<string, unknown>>, childId: string, timeoutMs: number, ctx: WorkloadContext): Promise<T['input']>;
  /** Scalar metrics and artifact references from the child workflow's (raw) result. */
  extract(result: unknown, params: Readonly<Record<string, unknown>>, ctx: WorkloadContext): Promise<RunExtract>;
}

/** The orchestrator side of one workload. */
export interface Workload<T extends WorkloadTypes> {
  /** The pure definition (kind, workflow type, parameters, campaign validation). */
  readonly def: WorkloadDef<T['kind']>;
  /** Validates a spec and uploads its arrays; returns the workflow input. Nothing is scheduled when it throws. */
  prepare(spec: T['spec'], ctx: WorkloadContext): Promise<T['input']>;
  /** Fields of the `job submitted` log line. */
  summary(input: T['input']): Record<string, unknown>;
  /** A job whose id already runs is attached to instead of refused (datagen: a rerun resumes). @default false */
  readonly attachToRunning?: boolean;
  /** @default the workflow's answers as they come */
  reader?(ctx: WorkloadContext, jobId: string): JobReader<T>;
  /**
   * Calls `onEvent` with the job's progress events until `result()` settles, and returns the
   * result. @default each change of `progress()`, polled
   */
  watch?(ctx: WorkloadContext, jobId: string, onEvent: (e: T['event']) => void, result: () => Promise<T['result']>): Promise<T['result']>;
  /** Activities the worker host registers for this workload, beside the cluster's shard activities. */
  activities?(deps: ActivityDeps): object;
  readonly campaign: CampaignEntry<T>;
  /** The workload's `gramfleet` commands. */
  readonly commands: readonly CliCommand[];
}

/** The type bundle of a workload object. */
export type TypesOf<W> = W extends Workload<infer T> ? T : never;
