import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { isGramfleetError } from '@gramfleet/core';
import { main } from '../cli/main';
import type { CliContext } from '../cli/command';
import { formatJobLogLine, gatherJobLogs } from './logs';

const rec = (t: string, msg: string, f: Record<string, unknown>): string => JSON.stringify({ t, level: 'info', msg, ...f });

/** A data dir whose logs hold two jobs' lines spread over three processes. */
function cluster(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-logs-'));
  fs.mkdirSync(path.join(dir, 'logs'));
  fs.writeFileSync(
    path.join(dir, 'logs', 'orchestrator.log'),
    [
      rec('2026-12-07T10:00:00.000Z', 'job submitted', { proc: 'orchestrator', jobId: 'grf-1' }),
      rec('2026-12-07T10:00:00.500Z', 'job submitted', { proc: 'orchestrator', jobId: 'grf-10' }),
      rec('2026-12-07T10:00:03.000Z', 'batch done', { proc: 'orchestrator', jobId: 'grf-1', shards: 2 }),
      rec('2026-12-07T10:00:04.000Z', 'workflow log', { proc: 'orchestrator', workflowId: 'grf-1' }),
      // A record that only mentions the id in its text is another job's.
      rec('2026-12-07T10:00:05.000Z', 'not about grf-1', { proc: 'orchestrator', jobId: 'grf-10' }),
    ].join('\n') + '\n',
  );
  fs.writeFileSync(
    path.join(dir, 'logs', 'worker-0.log'),
    [
      rec('2026-12-07T10:00:01.000Z', 'shard done', { proc: 'worker', jobId: 'grf-1', shardId: 's0' }),
      rec('2026-12-07T10:00:02.000Z', 'shard failed; it will be tried again', { proc: 'worker', jobId: 'grf-1', shardId: 's1' }),
      '    at a stack frame of grf-1',
      rec('2026-12-07T10:00:02.500Z', 'shard done', { proc: 'worker', jobId: 'grf-10', shardId: 's0' }),
    ].join('\n') + '\n',
  );
  fs.writeFileSync(path.join(dir, 'logs', 'temporal.log'), 'time=2026-12-07 WorkflowID=grf-1 started\nWorkflowID=grf-10 started\n');
  fs.writeFileSync(path.join(dir, 'logs', 'not-a-log.txt'), rec('2026-12-07T10:00:00.000Z', 'x', { jobId: 'grf-1' }) + '\n');
  return dir;
}

function sink(): { s: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    s: new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString());
        cb();
      },
    }),
    text: () => chunks.join(''),
  };
}

describe('gatherJobLogs', () => {
  it("returns one job's lines from every process, merged in time order, and none of a job whose id extends it", async () => {
    const dir = cluster();
    const lines = await gatherJobLogs(dir, 'grf-1');
    assert.deepEqual(
      lines.map((l) => [l.proc, l.record?.['msg'] ?? l.line]),
      [
        ['temporal', 'time=2026-12-07 WorkflowID=grf-1 started'],
        ['orchestrator', 'job submitted'],
        ['worker-0', 'shard done'],
        ['worker-0', 'shard failed; it will be tried again'],
        ['worker-0', '    at a stack frame of grf-1'],
        ['orchestrator', 'batch done'],
        ['orchestrator', 'workflow log'],
      ],
    );
    // The stack frame keeps the time of the record above it.
    assert.equal(lines[4]?.at, Date.parse('2026-12-07T10:00:02.000Z'));
    assert.match(
      formatJobLogLine(lines[5] as (typeof lines)[number]),
      /^2026-12-07T10:00:03.000Z orchestrator info batch done \{"proc":"orchestrator","jobId":"grf-1","shards":2\}$/,
    );
    const other = await gatherJobLogs(dir, 'grf-10', { unstructured: false, procs: ['worker-0', 'orchestrator'] });
    assert.deepEqual(
      other.map((l) => [l.proc, l.record?.['msg']]),
      [
        ['orchestrator', 'job submitted'],
        ['worker-0', 'shard done'],
        ['orchestrator', 'not about grf-1'],
      ],
    );
  });

  it('a directory without logs is CLUSTER_NOT_RUNNING naming it; an empty id is INPUT_INVALID', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-logs-'));
    await assert.rejects(gatherJobLogs(dir, 'x'), (e: unknown) => isGramfleetError(e) && e.code === 'CLUSTER_NOT_RUNNING' && e.details['dataDir'] === dir);
    await assert.rejects(gatherJobLogs(dir, ''), (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_INVALID' && e.details['field'] === 'jobId');
  });

  it('gramfleet logs --job prints the lines (text and --json), exits 1 with none and 2 without --job', async () => {
    const dir = cluster();
    const out = sink();
    const err = sink();
    const ctx: CliContext = { out: out.s, err: err.s, withFleet: () => Promise.reject(new Error('logs needs no connection')) };
    assert.equal(await main(['logs', '--job', 'grf-1', '--data-dir', dir, '--json', '--proc', 'worker-0'], ctx), 0);
    const recs = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      recs.map((r) => [r['log'], r['shardId'] ?? r['line']]),
      [
        ['worker-0', 's0'],
        ['worker-0', 's1'],
        ['worker-0', '    at a stack frame of grf-1'],
      ],
    );
    assert.equal(await main(['logs', '--job', 'nope', '--data-dir', dir], ctx), 1);
    assert.match(err.text(), /no log line of job nope/);
    assert.equal(await main(['logs', '--data-dir', dir], ctx), 2);
  });
});
