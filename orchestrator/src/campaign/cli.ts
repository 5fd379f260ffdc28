/**
 * `gramfleet campaign start spec.yaml | status <id> [--watch] | results <id> --out f.csv|.json|.parquet
 * | cancel <id> | list`. Talks to a running cluster through the SDK connection.
 */
import type { CampaignProgress } from '@gramfleet/core';
import type { ConnectOptions, Fleet } from '../client/fleet';
import * as path from 'node:path';
import * as fs from 'node:fs/promises';
import type { CampaignRow } from '@gramfleet/core';
import { CLUSTER_FLAGS, JSON_FLAG, connectOptionsOf, runCommand, usageError, type CliCommand, type CliContext, type ParsedArgs } from '../cli/command';
import { isCsrRef } from '../io/objects';
import { readCampaignFile, type CampaignHandle } from './client';
import { writeRows } from './export';
import { createProgressBar, type ProgressBar } from '../cli/progress';

/** Uploaded input files from this size on draw a progress bar. */
const UPLOAD_BAR_FROM_BYTES = 16 * 2 ** 20;

/** Campaign commands talk to a running cluster: they never start one. */
function connectOptions(a: ParsedArgs): ConnectOptions {
  return { startLocal: false, ...connectOptionsOf(a) };
}

/** `gramfleet campaign`. */
export const CAMPAIGN_COMMAND: CliCommand = {
  name: 'campaign',
  summary: 'experiment campaigns (grids and lists of runs of any workload kind) that survive restarts',
  subcommands: [
    {
      name: 'start',
      summary: 'validate a campaign spec (YAML or JSON) and start it',
      args: 'SPEC.yaml|SPEC.json',
      arity: [1, 1],
      flags: {
        id: { type: 'string', value: 'ID', description: "campaign id (default the spec's, else generated)" },
        wait: { type: 'boolean', description: 'draw the progress and wait for the end' },
        upload: { type: 'boolean', description: "upload the input files the runs name from this machine (the default with a remote cluster's context)" },
        'no-upload': { type: 'boolean', description: "input paths are files on the orchestrator's disk, inside its data roots (the local cluster's default)" },
        json: JSON_FLAG,
        ...CLUSTER_FLAGS,
      },
      notes:
        'Input files (graph, train, y, …) are named by path or by object reference (gf:file:…, from gramfleet put). With a\n' +
        "remote cluster's context (or --upload) each path is a file on this machine, relative to the working directory: it is\n" +
        'uploaded by content digest (a file the cluster already holds is not sent again) and the run names its reference.\n' +
        'A reference the cluster does not hold is refused, naming the field, before anything starts.',
      run: (a, ctx) =>
        ctx.withFleet(connectOptions(a), async (fleet) => {
          const spec = readCampaignFile(a.positionals[0] as string);
          const id = a.string('id');
          const json = a.flag('json');
          if (a.flag('upload') && a.flag('no-upload')) throw usageError('give --upload or --no-upload, not both');
          const upload = a.flag('upload') ? true : a.flag('no-upload') ? false : undefined;
          const bars = new Map<string, ProgressBar>();
          const uploads: Record<string, unknown>[] = [];
          const h = await fleet.campaigns.start(id !== undefined ? { ...spec, id } : spec, {
            ...(upload !== undefined ? { uploadFiles: upload } : {}),
            onUpload: (file, done, total) => {
              if (json || total < UPLOAD_BAR_FROM_BYTES) return;
              let bar = bars.get(file);
              if (bar === undefined) {
                bar = createProgressBar(`upload ${file}`, ctx.err as NodeJS.WriteStream);
                bars.set(file, bar);
              }
              bar.update(done, total);
              if (done >= total) bar.finish();
            },
            onUploaded: (file, r) => {
              uploads.push({ file, ref: r.ref, size: r.size, parts: r.parts, partsFound: r.partsFound, bytesUploaded: r.bytesUploaded });
              if (!json)
                ctx.err.write(
                  `${file}: ${r.ref} (${r.size} bytes; ${r.partsFound} of ${r.parts} part(s) already stored, ${(r.bytesUploaded / 2 ** 20).toFixed(1)} MiB uploaded)\n`,
                );
            },
          });
          ctx.out.write(json ? JSON.stringify({ campaignId: h.campaignId, workflowId: h.workflowId, uploads }) + '\n' : `campaign ${h.campaignId} started\n`);
          if (a.flag('wait')) {
            await watch(h, ctx.out, false);
            const s = await h.result();
            ctx.out.write(json ? JSON.stringify(s) + '\n' : `done: ${s.runsDone} ok, ${s.runsFailed} failed of ${s.runsTotal}\n`);
          }
          return 0;
        }),
    },
    {
      name: 'status',
      summary: 'progress of a campaign and of its runs in flight',
      args: 'ID',
      arity: [1, 1],
      flags: { watch: { type: 'boolean', description: 'redraw every second until the campaign ends' }, json: JSON_FLAG, ...CLUSTER_FLAGS },
      run: (a, ctx) =>
        ctx.withFleet(connectOptions(a), async (fleet) => {
          const h = await fleet.campaigns.get(a.positionals[0] as string);
          if (a.flag('json')) {
            ctx.out.write(JSON.stringify({ progress: await h.progress(), running: await h.running() }) + '\n');
            return 0;
          }
          await watch(h, ctx.out, !a.flag('watch'));
          return 0;
        }),
    },
    {
      name: 'results',
      summary: "write the result table (one row per finished run) and/or fetch the runs' artifact arrays",
      args: 'ID',
      arity: [1, 1],
      flags: {
        out: { type: 'string', value: 'FILE', description: 'results.csv, results.json or results.parquet (the extension picks the format)' },
        artifacts: {
          type: 'string',
          value: 'DIR',
          description: "fetch every finished run's artifacts into DIR/<runId>/<name>.npy (arrays) or .npz (CSR matrices, scipy's layout)",
        },
        ...CLUSTER_FLAGS,
      },
      notes: 'At least one of --out and --artifacts.',
      run: (a, ctx) =>
        ctx.withFleet(connectOptions(a), async (fleet) => {
          const file = a.string('out');
          const dir = a.string('artifacts');
          if (file === undefined && dir === undefined)
            throw usageError("'gramfleet campaign results' needs --out FILE, --artifacts DIR or both", { field: 'out', command: 'gramfleet campaign results' });
          const h = await fleet.campaigns.get(a.positionals[0] as string);
          const rows = await h.rows();
          if (file !== undefined) {
            await writeRows(file, rows);
            ctx.out.write(
              `${rows.length} rows (${rows.filter((r) => r.status === 'done').length} done, ${rows.filter((r) => r.status === 'failed').length} failed) written to ${file}\n`,
            );
          }
          if (dir !== undefined) {
            const written = await writeArtifacts(fleet, rows, dir);
            ctx.out.write(`${written} artifact file(s) of ${rows.filter((r) => r.status === 'done').length} finished run(s) written under ${dir}\n`);
          }
          return 0;
        }),
    },
    {
      name: 'cancel',
      summary: 'cancel a campaign (running runs are cancelled; written rows stay)',
      args: 'ID',
      arity: [1, 1],
      flags: { ...CLUSTER_FLAGS },
      run: (a, ctx) =>
        ctx.withFleet(connectOptions(a), async (fleet) => {
          const h = await fleet.campaigns.get(a.positionals[0] as string);
          await h.cancel();
          ctx.out.write(`campaign ${h.campaignId} cancel requested\n`);
          return 0;
        }),
    },
    {
      name: 'list',
      summary: 'every campaign in the result table',
      flags: { json: JSON_FLAG, ...CLUSTER_FLAGS },
      run: (a, ctx) =>
        ctx.withFleet(connectOptions(a), async (fleet) => {
          const recs = await fleet.campaigns.list();
          if (a.flag('json')) {
            ctx.out.write(
              JSON.stringify(
                recs.map((r) => ({ campaignId: r.campaignId, name: r.name, workflowId: r.workflowId, runsTotal: r.runsTotal, createdAt: r.createdAt })),
              ) + '\n',
            );
            return 0;
          }
          ctx.out.write('campaign                          runs  created                   name\n');
          for (const r of recs)
            ctx.out.write(`${r.campaignId.padEnd(32)} ${String(r.runsTotal).padStart(5)}  ${new Date(r.createdAt).toISOString()}  ${r.name}\n`);
          return 0;
        }),
    },
  ],
};

/**
 * Runs a campaign subcommand (`args` without the leading `campaign`) against a connected
 * fleet, writing to `out`; returns the exit code. Errors are thrown, typed.
 */
export function campaignCommand(fleet: Fleet, args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const ctx: CliContext = { out, err: process.stderr, withFleet: (_o, f) => f(fleet) };
  return runCommand(CAMPAIGN_COMMAND, args, ctx, ['gramfleet', 'campaign']);
}

/**
 * Writes each finished run's artifacts under `dir`: `<runId>/<name>.npy` for an array,
 * `<runId>/<name>.npz` (scipy CSR) for a CSR matrix. Returns the number of files written.
 */
export async function writeArtifacts(fleet: Fleet, rows: readonly CampaignRow[], dir: string): Promise<number> {
  let n = 0;
  for (const r of rows) {
    if (r.status !== 'done') continue;
    const runDir = path.join(dir, safeName(r.runId));
    await fs.mkdir(runDir, { recursive: true });
    for (const [name, ref] of Object.entries(r.artifacts)) {
      const file = path.join(runDir, `${safeName(name)}${isCsrRef(ref) ? '.npz' : '.npy'}`);
      await fleet.objects.getRefs(new Map([['', ref]]), file);
      n++;
    }
  }
  return n;
}

/** A run id or artifact name as one path component (no separators, no `..`). */
function safeName(s: string): string {
  const t = s.replace(/[^A-Za-z0-9._-]/g, '_');
  return t === '' || t === '.' || t === '..' ? `_${t}` : t;
}

/** Draws the campaign bar and one bar per running run; once, or until the campaign ends. */
async function watch(h: CampaignHandle, out: NodeJS.WritableStream, once: boolean): Promise<void> {
  const tty = (out as NodeJS.WriteStream).isTTY === true;
  let drawn = 0;
  for (;;) {
    const p: CampaignProgress = await h.progress();
    const running = p.phase === 'running' ? await h.running() : [];
    const lines = [
      `${p.campaignId} ${p.phase} ${bar(p.runsDone + p.runsFailed, p.runsTotal)} ${p.runsDone + p.runsFailed}/${p.runsTotal} (${p.runsDone} ok, ${p.runsFailed} failed, ${p.runsRunning} running, generation ${p.generation})`,
      ...running
        .sort((a, b) => a.index - b.index)
        .map((r) => {
          const pr = r.progress;
          return `  ${r.runId} a${r.attempt} ${pr === undefined ? bar(0, 1) + ' starting' : `${bar(pr.shardsDone, pr.shardsTotal)} ${pr.shardsDone}/${pr.shardsTotal} ${pr.phase}`}`;
        }),
    ];
    if (tty && drawn > 0) out.write(`\x1b[${drawn}F\x1b[J`);
    out.write(lines.join('\n') + '\n');
    drawn = lines.length;
    if (once || p.phase !== 'running') return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function bar(done: number, total: number, width = 24): string {
  const f = total > 0 ? Math.min(1, done / total) : 0;
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}
