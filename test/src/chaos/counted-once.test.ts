/**
 * The "counted once" check (counted-once.ts) fails when the counts show a shard counted twice,
 * left out, taken without a run, or answered differently by two runs — and passes on a job whose
 * shards ran again after a fault but were each taken once per owner and assembled once.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { CountRecord } from '@gramfleet/workers';
import { checkCountedOnce, countedOnceProblems } from './counted-once';

const J = 'job-1';
const SHARDS = ['s000000', 's000001'];
let t = 0;
const at = <E extends object>(e: E): E & { t: number; pid: number } => ({ ...e, t: t++, pid: 1 });
const exec = (shardId: string, attempt: number, workerId: string, outputs = [`d-${shardId}`]): CountRecord =>
  at({ ev: 'exec', jobId: J, shardId, attempt, delivery: 1, workerId, outcome: 'ok', outputs, startedAt: 0 }) as CountRecord;
const accept = (shardId: string, attempt: number, workerId: string, owner = 'o1', outputs = [`d-${shardId}`]): CountRecord =>
  at({ ev: 'accept', owner, jobId: J, shardId, attempt, workerId, outputs }) as CountRecord;
const assemble = (shards: string[], activityAttempt = 1): CountRecord => at({ ev: 'assemble', jobId: J, shards, activityAttempt }) as CountRecord;

/** A clean job: both shards run on w1, taken once, assembled once. */
const clean = (): CountRecord[] => [
  exec('s000000', 1, 'w1'),
  exec('s000001', 1, 'w1'),
  accept('s000000', 1, 'w1'),
  accept('s000001', 1, 'w1'),
  assemble(SHARDS),
];

describe('counted once (the check itself)', () => {
  it('passes a clean job and one whose shard ran again after a fault (a retry on another worker, a second owner after a restart)', () => {
    const r = checkCountedOnce(clean(), J, SHARDS);
    assert.equal(r.execsOk, 2);
    const again = [
      ...clean(),
      at({
        ev: 'exec',
        jobId: J,
        shardId: 's000001',
        attempt: 1,
        delivery: 1,
        workerId: 'w1',
        outcome: 'retryable',
        code: 'KERNEL_TIMEOUT',
        startedAt: 0,
      }) as CountRecord,
      exec('s000001', 2, 'w2'),
      accept('s000001', 2, 'w2', 'o2'),
    ];
    const r2 = checkCountedOnce(again, J, SHARDS);
    assert.equal(r2.shardsRunAgain, 1);
    assert.deepEqual(r2.errors, { KERNEL_TIMEOUT: 1 });
  });

  const fails = (name: string, events: CountRecord[], pattern: RegExp): void => {
    it(`fails: ${name}`, () => {
      const { problems } = countedOnceProblems(events, J, SHARDS);
      assert.ok(
        problems.some((p) => pattern.test(p)),
        JSON.stringify(problems),
      );
      assert.throws(() => checkCountedOnce(events, J, SHARDS), pattern);
    });
  };
  fails('a shard assembled twice', [...clean().slice(0, 4), assemble(['s000000', 's000001', 's000001'])], /used shard s000001 2 times/);
  fails('a shard left out of the assembly', [...clean().slice(0, 4), assemble(['s000000'])], /left out shard s000001/);
  fails('no assembly', clean().slice(0, 4), /no assembly/);
  fails('a result taken that no worker ran', [...clean(), accept('s000001', 3, 'w9', 'o2')], /no worker recorded running ok/);
  fails('one owner taking a shard twice', [...clean(), exec('s000000', 2, 'w2'), accept('s000000', 2, 'w2')], /owner o1 took shard s000000 2 times/);
  fails('two runs of a shard with different bytes', [...clean(), exec('s000000', 2, 'w2', ['other'])], /runs gave different outputs/);
  fails(
    'a taken result whose outputs its run did not produce',
    [...clean().slice(0, 2), accept('s000000', 1, 'w1', 'o1', ['x']), accept('s000001', 1, 'w1'), assemble(SHARDS)],
    /outputs its run did not produce/,
  );
  fails('a shard that never ran', [exec('s000000', 1, 'w1'), accept('s000000', 1, 'w1'), assemble(SHARDS)], /shard s000001 never ran ok/);
});
