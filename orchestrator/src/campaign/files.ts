/**
 * The input files of a campaign spec, before it starts: every input a run names (each workload's
 * `ParamDoc.file: 'read'` parameters, in `runs[i]`, `grid.base` and `grid.axes`) is either an
 * object reference (`gf:file:<digest>:<bytes>`) or a path.
 *
 * - A reference must name a file the cluster holds: one that does not is `STORE_MISSING_OBJECT`
 *   naming the field (`runs[2].graph`, `grid.axes.train[1]`) before the campaign starts, so no
 *   run is scheduled.
 * - With `upload`, a path is a file on the client's disk (relative paths from `cwd`): it is
 *   uploaded by content digest (./../io/objects.ts: a file the cluster already holds is not sent
 *   again) and the run names the reference instead; the orchestrator fetches it into its file
 *   cache (../io/file-cache.ts). A client of a remote cluster uploads by default; without
 *   `upload` a path is one on the orchestrator's disk, inside its data roots, as before.
 * - Output directories (`'write'`: datagen's `out`) stay paths on the orchestrator.
 * - The same path named by several runs is uploaded once.
 */
import * as path from 'node:path';
import { GramfleetError, isGramfleetError, workloadDef, type CompiledCampaignSpec } from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';
import { checkFileRef } from '../io/file-cache';
import { isFileRef, putFile, type ObjectProgress, type PutFileResult } from '../io/objects';

/** Options of {@link prepareCampaignFiles}. */
export interface CampaignFilesOptions {
  readonly store: ArrayStore;
  /** The bucket of the store's arrays. */
  readonly bucket: string;
  /** Upload input paths from this machine (see the module doc). */
  readonly upload: boolean;
  /** Where relative paths are taken from when uploading. @default process.cwd() */
  readonly cwd?: string;
  /** Called as each uploaded file progresses. */
  readonly progress?: (file: string, done: number, total: number) => void;
  /** Called with each checked reference's file size; throws to refuse it (the orchestrator's cache bound). */
  readonly checkSize?: (field: string, ref: string, size: number) => void;
}

/** What {@link prepareCampaignFiles} did. */
export interface CampaignFilesResult {
  /** The spec with every uploaded path replaced by its reference. */
  readonly spec: CompiledCampaignSpec;
  /** Each file uploaded (or found already stored), by the path named in the spec. */
  readonly uploaded: ReadonlyMap<string, PutFileResult>;
  /** How many distinct references were checked (each is read once). */
  readonly checked: number;
}

/** Checks the references of a compiled spec and, with `upload`, uploads its input paths (see the module doc). */
export async function prepareCampaignFiles(spec: CompiledCampaignSpec, o: CampaignFilesOptions): Promise<CampaignFilesResult> {
  const cwd = o.cwd ?? process.cwd();
  const uploads = new Map<string, Promise<PutFileResult>>();
  const done = new Map<string, PutFileResult>();
  const checked = new Map<string, Promise<void>>();

  const one = async (field: string, v: unknown): Promise<unknown> => {
    if (typeof v !== 'string') return v;
    if (isFileRef(v)) {
      let c = checked.get(v);
      if (c === undefined) {
        c = checkFileRef(o.store, o.bucket, field, v).then(({ size }) => o.checkSize?.(field, v, size));
        checked.set(v, c);
      }
      await c;
      return v;
    }
    if (!o.upload) return v;
    const file = path.resolve(cwd, v);
    let p = uploads.get(file);
    if (p === undefined) {
      const progress: ObjectProgress | undefined = o.progress !== undefined ? (d, t) => o.progress?.(v, d, t) : undefined;
      p = putFile(o.store, file, { ...(progress !== undefined ? { progress } : {}) }).catch((e: unknown) => {
        // The field, not putFile's generic 'file', is what the user must fix.
        if (!isGramfleetError(e)) throw e;
        throw new GramfleetError(
          e.code,
          `${field}: ${e.message.replace(/^\[[A-Z_]+\] /, '')} (a local file, uploaded because this client uploads campaign inputs)`,
          {
            ...e.details,
            field,
          },
        );
      });
      uploads.set(file, p);
    }
    const r = await p;
    done.set(v, r);
    return r.ref;
  };

  const params = async (kind: string, ps: Readonly<Record<string, unknown>>, where: string): Promise<Readonly<Record<string, unknown>>> => {
    const def = workloadDef(kind);
    const out: Record<string, unknown> = { ...ps };
    for (const [k, doc] of Object.entries(def.params)) {
      if (doc.file !== 'read' || !Object.prototype.hasOwnProperty.call(ps, k)) continue;
      out[k] = await one(`${where}.${k}`, ps[k]);
    }
    return out;
  };

  const runs = [];
  for (const [i, r] of spec.runs.entries()) runs.push({ ...r, params: await params(r.kind, r.params, `runs[${i}]`) });
  let grid = spec.grid;
  if (grid !== undefined) {
    const g = grid;
    const files = workloadDef(g.kind).params;
    const axes: (readonly [string, readonly unknown[]])[] = [];
    for (const [k, vs] of g.axes) {
      if (files[k]?.file !== 'read') {
        axes.push([k, vs]);
        continue;
      }
      const mapped: unknown[] = [];
      for (const [i, v] of vs.entries()) mapped.push(await one(`grid.axes.${k}[${i}]`, v));
      axes.push([k, mapped]);
    }
    grid = { kind: g.kind, base: await params(g.kind, g.base, 'grid.base'), axes };
  }
  return { spec: { ...spec, runs, grid }, uploaded: done, checked: checked.size };
}
