/**
 * `gramfleet campaign start spec.yaml | status <id> [--watch] | results <id> --out f.csv|.json|.parquet
 * | cancel <id> | list`. Talks to the cluster through the SDK connection.
 */
import { parseArgs } from 'node:util';
import { GramfleetError, type CampaignProgress } from '@gramfleet/core';
import type { Fleet } from '../client/sdk';
import { readCampaignFile, type CampaignHandle } from './client';
import { writeRows } from './export';

/** Usage lines of the campaign commands. */
export const CAMPAIGN_USAGE = `  gramfleet campaign start SPEC.yaml|SPEC.json [--id ID] [--wait] [--json]
  gramfleet campaign status ID [--watch] [--json]
  gramfleet campaign results ID --out results.csv|results.json|results.parquet
  gramfleet campaign cancel ID
  gramfleet campaign list [--json]`;

/** Runs a campaign subcommand against a connected fleet; returns the exit code. */
export async function campaignCommand(fleet: Fleet, args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest, allowPositionals: true,
    options: { id: { type: 'string' }, wait: { type: 'boolean' }, json: { type: 'boolean' }, watch: { type: 'boolean' }, out: { type: 'string' }, 'data-dir': { type: 'string' } },
  });
  const arg = (what: string): string => {
    const v = positionals[0];
    if (v === undefined) throw new GramfleetError('INPUT_INVALID', `campaign ${sub ?? ''}: ${what} is required`, { field: what });
    return v;
  };
  switch (sub) {
    case 'start': {
      const spec = readCampaignFile(arg('spec file'));
      const h = await fleet.campaigns.start(values.id !== undefined ? { ...spec, id: values.id } : spec);
      out.write(values.json === true ? JSON.stringify({ campaignId: h.campaignId, workflowId: h.workflowId }) + '\n' : `campaign ${h.campaignId} started\n`);
      if (values.wait === true) {
        await watch(h, out, false);
        const s = await h.result();
        out.write(values.json === true ? JSON.stringify(s) + '\n' : `done: ${s.runsDone} ok, ${s.runsFailed} failed of ${s.runsTotal}\n`);
      }
      return 0;
    }
    case 'status': {
      const h = await fleet.campaigns.get(arg('campaign id'));
      if (values.json === true) {
        out.write(JSON.stringify({ progress: await h.progress(), running: await h.running() }) + '\n');
        return 0;
      }
      await watch(h, out, values.watch !== true);
      return 0;
    }
    case 'results': {
      const h = await fleet.campaigns.get(arg('campaign id'));
      const file = values.out;
      if (file === undefined) throw new GramfleetError('INPUT_INVALID', 'campaign results: --out FILE (.csv|.json|.parquet) is required', { field: 'out' });
      const rows = await h.rows();
      await writeRows(file, rows);
      out.write(`${rows.length} rows (${rows.filter((r) => r.status === 'done').length} done, ${rows.filter((r) => r.status === 'failed').length} failed) written to ${file}\n`);
      return 0;
    }
    case 'cancel': {
      const h = await fleet.campaigns.get(arg('campaign id'));
      await h.cancel();
      out.write(`campaign ${h.campaignId} cancel requested\n`);
      return 0;
    }
    case 'list': {
      const recs = await fleet.campaigns.list();
      if (values.json === true) {
        out.write(JSON.stringify(recs.map((r) => ({ campaignId: r.campaignId, name: r.name, workflowId: r.workflowId, runsTotal: r.runsTotal, createdAt: r.createdAt }))) + '\n');
        return 0;
      }
      out.write('campaign                          runs  created                   name\n');
      for (const r of recs) out.write(`${r.campaignId.padEnd(32)} ${String(r.runsTotal).padStart(5)}  ${new Date(r.createdAt).toISOString()}  ${r.name}\n`);
      return 0;
    }
    default:
      throw new GramfleetError('INPUT_INVALID', `campaign: unknown subcommand ${JSON.stringify(sub ?? '')}; one of start|status|results|cancel|list`, { field: 'subcommand' });
  }
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
      ...running.sort((a, b) => a.index - b.index).map((r) => {
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
