/**
 * The objects of the jobs HTTP API: `.npy` and `.npz` files uploaded by clients (job inputs)
 * and written by the server (job results), kept by content digest in `<dataDir>/api/objects/`.
 *
 * Semantics: an object's id is the lower-case hex sha256 of its bytes, so uploading the same
 * bytes twice keeps one file (and returns the same id). An upload is streamed to a temporary
 * file while it is hashed and its first bytes are checked (`.npy` magic or a zip archive, else
 * `INPUT_INVALID`); at most `maxBytes` are taken (`INPUT_TOO_LARGE` naming the bound); only a
 * complete upload is renamed into place, so a reader never sees part of one. The file keeps its
 * format as extension (`<id>.npy`, `<id>.npz`), which is how the workloads' file readers tell
 * them apart when a job names the object as its input.
 *
 * Garbage collection ({@link ObjectStore.gc}): an object's modification time is its last use (set
 * when it is uploaded or made, refreshed each time a request names it), and an object unused for
 * longer than the time to live is deleted, as is an upload left half-written in `tmp/` for as
 * long. A campaign's inputs do not depend on them (the API sends those to the cluster's object
 * store); a job's inputs are read while it is submitted.
 *
 * Objects also go with their job: the inputs a submission names and the results made for a job
 * are recorded as the job's ({@link ObjectStore.ownedBy}, `jobs/<sha256 of the id>.json`); once
 * the job is deleted from the cluster (its history past retention, or deleted by hand), the sweep
 * deletes them, except those another recorded job still names and those used in the last
 * {@link JOB_GONE_GRACE_MS} (an upload about to be submitted again).
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { GramfleetError } from '@gramfleet/core';

/** Format of a stored object. */
export type ObjectFormat = 'npy' | 'npz';

/** What the store knows about one object. */
export interface ObjectInfo {
  /** Hex sha256 of the bytes. */
  readonly id: string;
  readonly format: ObjectFormat;
  readonly bytes: number;
}

const ID_RE = /^[0-9a-f]{64}$/;
const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/** The format of a file from its first bytes; undefined when it is neither `.npy` nor a zip (`.npz`). */
export function sniffFormat(head: Uint8Array): ObjectFormat | undefined {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length >= 6 && b.subarray(0, 6).equals(NPY_MAGIC)) return 'npy';
  if (b.length >= 4 && b.subarray(0, 4).equals(ZIP_MAGIC)) return 'npz';
  return undefined;
}

/** Objects of a deleted job used more recently than this stay (until their time to live). */
export const JOB_GONE_GRACE_MS = 10 * 60_000;

/** What one sweep deleted. */
export interface GcResult {
  /** Objects deleted past their time to live. */
  readonly objects: number;
  readonly bytes: number;
  /** Half-written uploads deleted. */
  readonly partial: number;
  /** Objects deleted because every job that named them is gone. */
  readonly jobObjects?: number;
  /** Deleted jobs whose records were removed. */
  readonly jobsGone?: number;
}

/** The content-addressed object directory of the API. */
export class ObjectStore {
  constructor(
    readonly dir: string,
    /** Largest object taken, bytes. */
    readonly maxBytes: number,
  ) {
    fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  }

  /** Checks an object id's form (`INPUT_INVALID` naming `field`). */
  static checkId(id: unknown, field = 'id'): string {
    if (typeof id !== 'string' || !ID_RE.test(id))
      throw new GramfleetError(
        'INPUT_INVALID',
        `${field} must be an object id (64 lower-case hex digits, the sha256 of its bytes), got ${JSON.stringify(id)}`,
        {
          field,
        },
      );
    return id;
  }

  /** The object's path and info; `API_NOT_FOUND` when there is none. */
  async find(id: string, field = 'id'): Promise<ObjectInfo & { readonly path: string }> {
    ObjectStore.checkId(id, field);
    for (const format of ['npy', 'npz'] as const) {
      const p = path.join(this.dir, `${id}.${format}`);
      const st = await fsp.stat(p).catch(() => undefined);
      if (st !== undefined) {
        // Named by a request: used now, so kept another time to live.
        const now = new Date();
        await fsp.utimes(p, now, now).catch(() => undefined);
        return { id, format, bytes: st.size, path: p };
      }
    }
    throw new GramfleetError('API_NOT_FOUND', `${field}: no object ${id} (upload it first: PUT /v1/objects)`, { field, id });
  }

  /** Stores a stream of bytes (an upload). */
  async put(body: Readable): Promise<ObjectInfo> {
    const tmp = path.join(this.dir, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let bytes = 0;
    let head = Buffer.alloc(0);
    const max = this.maxBytes;
    const check = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > max) {
          cb(new GramfleetError('INPUT_TOO_LARGE', `object: larger than the API's limit of ${max} bytes`, { field: 'body', bound: max }));
          return;
        }
        if (head.length < 8) head = Buffer.concat([head, chunk.subarray(0, 8 - head.length)]);
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, check, fs.createWriteStream(tmp, { mode: 0o600 }));
      const format = sniffFormat(head);
      if (format === undefined)
        throw new GramfleetError('INPUT_INVALID', 'object: the body is neither a .npy file (\\x93NUMPY) nor a .npz (zip) archive', { field: 'body' });
      const id = hash.digest('hex');
      await fsp.rename(tmp, path.join(this.dir, `${id}.${format}`));
      return { id, format, bytes };
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  /** Records `ids` as objects of job `jobId` (its inputs, its results), for {@link gc}. */
  async ownedBy(jobId: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const dir = path.join(this.dir, 'jobs');
    await fsp.mkdir(dir, { recursive: true });
    const file = path.join(dir, `${createHash('sha256').update(jobId).digest('hex')}.json`);
    const old = await fsp
      .readFile(file, 'utf8')
      .then((t) => (JSON.parse(t) as { objects: string[] }).objects)
      .catch(() => [] as string[]);
    const tmp = path.join(this.dir, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
    await fsp.writeFile(tmp, JSON.stringify({ jobId, objects: [...new Set([...old, ...ids])].sort() }), { mode: 0o600 });
    await fsp.rename(tmp, file);
  }

  /**
   * Deletes every object unused for longer than `ttlMs` (its modification time is its last use)
   * and every upload left in `tmp/` as long; with `jobGone`, also the objects of recorded jobs
   * it says are gone (see the module doc); returns what was deleted.
   */
  async gc(ttlMs: number, now: number = Date.now(), o: { readonly jobGone?: (jobId: string) => Promise<boolean> } = {}): Promise<GcResult> {
    let objects = 0;
    let bytes = 0;
    let partial = 0;
    let jobObjects = 0;
    let jobsGone = 0;
    if (o.jobGone !== undefined) {
      const jobsDir = path.join(this.dir, 'jobs');
      const live = new Set<string>();
      const gone: { file: string; objects: string[] }[] = [];
      for (const name of await fsp.readdir(jobsDir).catch(() => [] as string[])) {
        const file = path.join(jobsDir, name);
        const rec = await fsp
          .readFile(file, 'utf8')
          .then((t) => JSON.parse(t) as { jobId: string; objects: string[] })
          .catch(() => undefined);
        if (rec === undefined) continue;
        if (await o.jobGone(rec.jobId)) gone.push({ file, objects: rec.objects });
        else for (const id of rec.objects) live.add(id);
      }
      for (const g of gone) {
        for (const id of g.objects) {
          if (live.has(id) || !ID_RE.test(id)) continue;
          for (const ext of ['npy', 'npz']) {
            const p = path.join(this.dir, `${id}.${ext}`);
            const st = await fsp.stat(p).catch(() => undefined);
            if (st === undefined || now - st.mtimeMs <= Math.min(ttlMs, JOB_GONE_GRACE_MS)) continue;
            await fsp.rm(p, { force: true });
            jobObjects++;
            bytes += st.size;
          }
        }
        await fsp.rm(g.file, { force: true });
        jobsGone++;
      }
    }
    const sweep = async (dir: string, keep: (name: string) => boolean, counted: boolean): Promise<void> => {
      for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
        if (keep(name)) continue;
        const p = path.join(dir, name);
        const st = await fsp.stat(p).catch(() => undefined);
        if (st === undefined || !st.isFile() || now - st.mtimeMs <= ttlMs) continue;
        await fsp.rm(p, { force: true });
        if (counted) {
          objects++;
          bytes += st.size;
        } else partial++;
      }
    };
    await sweep(this.dir, (name) => !/^[0-9a-f]{64}\.(npy|npz)$/.test(name), true);
    await sweep(path.join(this.dir, 'tmp'), () => false, false);
    return { objects, bytes, partial, ...(o.jobGone !== undefined ? { jobObjects, jobsGone } : {}) };
  }

  /** Stores bytes the server made (a job's result array). */
  async putBytes(b: Uint8Array): Promise<ObjectInfo> {
    const format = sniffFormat(b);
    if (format === undefined) throw new Error('internal: a result object is neither .npy nor .npz');
    const id = createHash('sha256').update(b).digest('hex');
    const p = path.join(this.dir, `${id}.${format}`);
    if (fs.existsSync(p)) {
      const now = new Date();
      await fsp.utimes(p, now, now).catch(() => undefined);
    } else {
      const tmp = path.join(this.dir, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
      await fsp.writeFile(tmp, b, { mode: 0o600 });
      await fsp.rename(tmp, p);
    }
    return { id, format, bytes: b.length };
  }
}
