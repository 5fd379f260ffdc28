/**
 * The campaign client used by the SDK (`fleet.campaigns`) and the CLI: start a campaign from
 * a spec (object, YAML or JSON file), watch its progress, read its result table, cancel it,
 * list campaigns. Everything a campaign produces is read from the result table (NATS KV),
 * not from the workflow history.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { parseDocument } from 'yaml';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  CAMPAIGN_PROGRESS_QUERY,
  CAMPAIGN_RUNNING_QUERY,
  CAMPAIGN_WORKFLOW,
  GramfleetError,
  compileCampaignSpec,
  type CampaignProgress,
  type CampaignRecord,
  type CampaignRow,
  type CampaignRunningRun,
  type CampaignSpec,
  type CampaignSummary,
  type CampaignWorkflowInput,
  type CompiledCampaignSpec,
  type JobProgress,
} from '@gramfleet/core';
import { fromTemporal } from '../client/failure';
import { retrying } from '../client/temporal-retry';
import { openCampaignTable, type CampaignTable } from './table';
import { prepareCampaignFiles } from './files';
import type { ArrayStore } from '@gramfleet/workers';
import type { PutFileResult } from '../io/objects';

/** A started campaign. */
export interface CampaignHandle {
  readonly campaignId: string;
  /** Workflow id of the campaign. */
  readonly workflowId: string;
  /** The `campaignProgress` query (retried while Temporal restarts). */
  progress(): Promise<CampaignProgress>;
  /** The runs in flight, each with its child's own progress when it answers. */
  running(): Promise<(CampaignRunningRun & { progress?: JobProgress })[]>;
  /** Waits for the end; a failed or cancelled campaign rejects with a typed error. */
  result(): Promise<CampaignSummary>;
  /** The result table: one row per finished run, by index. */
  rows(): Promise<CampaignRow[]>;
  /** Cancels the campaign (running children are cancelled; written rows stay). */
  cancel(): Promise<void>;
}

/** Options of {@link CampaignClient.start}. */
export interface CampaignStartOptions {
  /** Workflow id. @default the campaign id */
  readonly workflowId?: string;
  /** History events per generation before continue-as-new (tests make this small). */
  readonly historyLimit?: number;
  /**
   * Upload the input files the runs name from this machine, by content digest, and give the runs
   * their object references (./files.ts). Inputs named by reference (`gf:file:…`) are checked
   * either way.
   * @default true for a client of a remote cluster (a context), false for the local cluster
   */
  readonly uploadFiles?: boolean;
  /** Where relative input paths are taken from when uploading. @default process.cwd() */
  readonly cwd?: string;
  /** Progress of each uploaded file, bytes. */
  readonly onUpload?: (file: string, done: number, total: number) => void;
  /** Called once per uploaded file (as the spec names it) with what its upload did, before the campaign starts. */
  readonly onUploaded?: (file: string, r: PutFileResult) => void;
}

/** Campaign operations of a connection. */
export interface CampaignClient {
  /** Validates the spec (typed errors before anything runs) and starts the campaign workflow. */
  start(spec: CampaignSpec | CompiledCampaignSpec, o?: CampaignStartOptions): Promise<CampaignHandle>;
  /** A handle for a campaign started earlier (by campaign id; its record names the workflow). */
  get(campaignId: string): Promise<CampaignHandle>;
  /** Every campaign in the table. */
  list(): Promise<CampaignRecord[]>;
}

/** Reads a campaign spec from a `.yaml`/`.yml`/`.json` file (not yet validated): {@link parseCampaignText}. */
export function readCampaignFile(file: string): CampaignSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `campaign file ${file} cannot be read: ${(e as Error).message}`, { field: 'spec', file });
  }
  return parseCampaignText(text, file);
}

/** Longest campaign file read: a spec is a few kilobytes; list runs beyond this belong in a grid. */
export const CAMPAIGN_FILE_MAX_BYTES = 4 * 2 ** 20;

/**
 * Parses the text of a campaign file (JSON when `file` ends in `.json`, else YAML; not yet
 * validated: {@link compileCampaignSpec} does that). YAML aliases are expanded at most 100
 * times (no "billion laughs"); duplicate keys, unknown tags or directives, a text over
 * {@link CAMPAIGN_FILE_MAX_BYTES} and any syntax error are `INPUT_FILE_UNREADABLE` naming the file.
 */
export function parseCampaignText(text: string, file: string): CampaignSpec {
  const isJson = path.extname(file).toLowerCase() === '.json';
  if (text.length > CAMPAIGN_FILE_MAX_BYTES)
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `campaign file ${file} holds ${text.length} characters, more than ${CAMPAIGN_FILE_MAX_BYTES}`, {
      field: 'spec',
      file,
      bound: CAMPAIGN_FILE_MAX_BYTES,
    });
  try {
    if (isJson) return JSON.parse(text) as CampaignSpec;
    const doc = parseDocument(text, { uniqueKeys: true, logLevel: 'silent' });
    // Unknown tags and directives are refused too: a spec holds plain maps, lists and scalars.
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem !== undefined) throw problem;
    return doc.toJS({ maxAliasCount: 100 }) as CampaignSpec;
  } catch (e) {
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `campaign file ${file} is not valid ${isJson ? 'JSON' : 'YAML'}: ${(e as Error).message}`, {
      field: 'spec',
      file,
    });
  }
}

/** A fresh campaign id: `c-<time>-<random>`. */
export function newCampaignId(): string {
  return `c-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Builds the campaign client over a Temporal client and a NATS connection. */
export function createCampaignClient(o: {
  readonly client: Client;
  readonly nc: NatsConnection;
  readonly prefix: string;
  readonly taskQueue: string;
  /** The cluster's array store and its bucket: input files are checked and uploaded there. */
  readonly store: ArrayStore;
  readonly bucket: string;
  /** Whether `start` uploads input paths unless told otherwise (a remote cluster's client does). @default false */
  readonly uploadFiles?: boolean;
}): CampaignClient {
  let tableP: Promise<CampaignTable> | undefined;
  const table = (): Promise<CampaignTable> => (tableP ??= openCampaignTable(o.nc, o.prefix));
  const handle = (campaignId: string, workflowId: string): CampaignHandle => {
    const h: WorkflowHandle = o.client.workflow.getHandle(workflowId);
    return {
      campaignId,
      workflowId,
      progress: () => retrying(() => h.query<CampaignProgress>(CAMPAIGN_PROGRESS_QUERY)),
      async running() {
        const rs = await retrying(() => h.query<CampaignRunningRun[]>(CAMPAIGN_RUNNING_QUERY));
        return Promise.all(
          rs.map(async (r) => {
            const p = await o.client.workflow
              .getHandle(r.childId)
              .query<JobProgress>('progress')
              .catch(() => undefined);
            return p === undefined ? r : { ...r, progress: p };
          }),
        );
      },
      async result() {
        try {
          return await retrying(() => h.result() as Promise<CampaignSummary>);
        } catch (e) {
          throw fromTemporal(e, campaignId);
        }
      },
      rows: async () => (await table()).rows(campaignId),
      cancel: () => retrying(() => h.cancel()).then(() => undefined),
    };
  };
  return {
    async start(spec, so = {}) {
      const checked = 'runsTotal' in spec ? compileCampaignSpec(stripCompiled(spec)) : compileCampaignSpec(spec, spec.id ?? newCampaignId());
      // References checked and local inputs uploaded before anything is scheduled.
      const { spec: compiled, uploaded } = await prepareCampaignFiles(checked, {
        store: o.store,
        bucket: o.bucket,
        upload: so.uploadFiles ?? o.uploadFiles ?? false,
        ...(so.cwd !== undefined ? { cwd: so.cwd } : {}),
        ...(so.onUpload !== undefined ? { progress: so.onUpload } : {}),
      });
      for (const [file, r] of uploaded) so.onUploaded?.(file, r);
      const workflowId = so.workflowId ?? compiled.id;
      const input: CampaignWorkflowInput & { historyLimit?: number } = {
        spec: compiled,
        ...(so.historyLimit !== undefined ? { historyLimit: so.historyLimit } : {}),
      };
      if ((await (await table()).record(compiled.id)) !== null)
        throw new GramfleetError('INPUT_INVALID', `campaign id ${compiled.id} is already in use`, { field: 'id', value: compiled.id });
      try {
        // A finished campaign's id is never reused: its rows would be overwritten.
        await retrying(() =>
          o.client.workflow.start(CAMPAIGN_WORKFLOW, { taskQueue: o.taskQueue, workflowId, args: [input], workflowIdReusePolicy: 'REJECT_DUPLICATE' }),
        );
      } catch (e) {
        if (e instanceof WorkflowExecutionAlreadyStartedError)
          throw new GramfleetError('INPUT_INVALID', `campaign id ${compiled.id} is already in use (workflow ${workflowId})`, {
            field: 'id',
            value: compiled.id,
          });
        throw e;
      }
      return handle(compiled.id, workflowId);
    },
    async get(campaignId) {
      const rec = await (await table()).record(campaignId);
      if (rec === null) {
        // Not registered yet (the workflow's first activity has not run): the id is the workflow id.
        try {
          await o.client.workflow.getHandle(campaignId).describe();
        } catch (e) {
          if (e instanceof WorkflowNotFoundError)
            throw new GramfleetError('INPUT_INVALID', `no campaign ${campaignId}`, { field: 'campaignId', value: campaignId });
          throw e;
        }
        return handle(campaignId, campaignId);
      }
      return handle(campaignId, rec.workflowId);
    },
    list: async () => (await table()).records(),
  };
}

/** A compiled spec given back to `start` is recompiled from its user-facing fields. */
function stripCompiled(c: CompiledCampaignSpec): CampaignSpec {
  return {
    id: c.id,
    name: c.name,
    concurrency: c.concurrency,
    retry: c.retry,
    runTimeoutMs: c.runTimeoutMs,
    ...(c.runs.length > 0 ? { runs: c.runs.map((r) => ({ kind: r.kind, ...r.params })) } : {}),
    ...(c.grid !== undefined ? { grid: { kind: c.grid.kind, base: c.grid.base, axes: Object.fromEntries(c.grid.axes) } } : {}),
  };
}
