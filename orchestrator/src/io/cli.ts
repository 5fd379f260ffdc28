/**
 * `gramfleet put FILE` and `gramfleet get REF --out FILE`: files into and out of the cluster's
 * object store by content digest (see ./objects.ts), and the arrays that results and campaign
 * artifacts reference out of it as `.npy` / `.npz`.
 */
import * as fs from 'node:fs';
import { GramfleetError } from '@gramfleet/core';
import type { ConnectOptions } from '../client/fleet';
import { CLUSTER_FLAGS, JSON_FLAG, connectOptionsOf, type CliCommand, type ParsedArgs } from '../cli/command';
import { createProgressBar } from '../cli/progress';
import { collectRefs, isFileRef } from './objects';

/** Files smaller than this put and get without a progress bar. */
const BAR_FROM_BYTES = 16 * 2 ** 20;

/** put/get talk to a running cluster: they never start one. */
function connectOptions(a: ParsedArgs): ConnectOptions {
  return { startLocal: false, ...connectOptionsOf(a) };
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** `gramfleet put FILE`. */
export const PUT_COMMAND: CliCommand = {
  name: 'put',
  summary: 'upload a file to the cluster by content digest (deduplicated, resumable) and print its reference',
  args: 'FILE',
  arity: [1, 1],
  flags: { json: JSON_FLAG, ...CLUSTER_FLAGS },
  notes:
    'The reference (gf:file:<digest>:<bytes>) names the file in campaign specs, KernelCampaign resources and workload\n' +
    'parameters that take files. The same bytes give the same reference; a second put uploads nothing, and a put that\n' +
    'was interrupted uploads only the parts still missing when run again.',
  run: (a, ctx) =>
    ctx.withFleet(connectOptions(a), async (fleet) => {
      const file = a.positionals[0] as string;
      const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
      const bar = size >= BAR_FROM_BYTES && !a.flag('json') ? createProgressBar(`put ${file}`, ctx.err as NodeJS.WriteStream) : undefined;
      const r = await fleet.objects.putFile(file, bar !== undefined ? { progress: (d, t) => bar.update(d, t) } : {});
      bar?.finish();
      if (a.flag('json')) ctx.out.write(JSON.stringify(r) + '\n');
      else {
        ctx.err.write(`${file}: ${r.size} bytes, sha256 ${r.sha256}; ${r.parts} part(s), ${r.partsFound} already stored, ${mib(r.bytesUploaded)} uploaded\n`);
        ctx.out.write(`${r.ref}\n`);
      }
      return 0;
    }),
};

/** The JSON a `get` REF names: inline JSON, or `@file.json`. */
function refJson(ref: string): unknown {
  const text = ref.startsWith('@') ? readText(ref.slice(1)) : ref;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new GramfleetError(
      'INPUT_INVALID',
      `REF must be a gf:file: reference, JSON holding array references (a result, a campaign artifact) or @FILE.json, got ${JSON.stringify(ref.slice(0, 80))}`,
      { field: 'ref' },
    );
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = String((e as { code?: unknown }).code ?? 'EIO');
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `${file}: cannot read file (${code})`, { field: 'ref', path: file, errno: code });
  }
}

/** `gramfleet get REF --out FILE`. */
export const GET_COMMAND: CliCommand = {
  name: 'get',
  summary: 'fetch a stored file, an array or a whole result from the cluster into a local file (.npy/.npz)',
  args: 'REF',
  arity: [1, 1],
  flags: {
    out: {
      type: 'string',
      value: 'FILE',
      required: true,
      description: 'where to write: the file itself, or .npy (one array) / .npz (several, or a CSR matrix)',
    },
    ...CLUSTER_FLAGS,
  },
  notes:
    "REF: a gf:file: reference (as 'gramfleet put' prints); or JSON holding array references (an ArrayRef, a CsrRef,\n" +
    "a job's result, a campaign artifact cell), inline or as @FILE.json. One array gives a .npy; a CSR matrix a scipy\n" +
    '.npz (scipy.sparse.load_npz reads it); several arrays a .npz with one entry per JSON path (phi.indptr, …).',
  run: (a, ctx) =>
    ctx.withFleet(connectOptions(a), async (fleet) => {
      const ref = a.positionals[0] as string;
      const out = a.need('out');
      if (isFileRef(ref)) {
        const m = await fleet.objects.manifest(ref);
        const bar = m.size >= BAR_FROM_BYTES ? createProgressBar(`get ${out}`, ctx.err as NodeJS.WriteStream) : undefined;
        await fleet.objects.getFile(ref, out, bar !== undefined ? { progress: (d, t) => bar.update(d, t) } : {});
        bar?.finish();
        ctx.out.write(`${out}: ${m.size} bytes, sha256 ${m.sha256}\n`);
        return 0;
      }
      const r = await fleet.objects.getRefs(collectRefs(refJson(ref)), out);
      ctx.out.write(`${out}: ${r.arrays} array(s)\n`);
      return 0;
    }),
};
