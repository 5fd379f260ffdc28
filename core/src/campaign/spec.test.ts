import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError, type ErrorCode } from '../errors';
import { campaignAttemptId, campaignRunAt, campaignRunId, compileCampaignSpec, CAMPAIGN_MAX_LIST_RUNS } from './spec';
import { campaignRowKey } from './contract';

const grfBase = { graph: 'karate.adjlist', kernel: 'reg-laplacian', scale: 0.25, pHalt: 0.5 };

function expectCode(f: () => unknown, code: ErrorCode, field: string): void {
  try {
    f();
  } catch (e) {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(field), `message names ${field}: ${e.message}`);
    return;
  }
  assert.fail(`expected ${code}`);
}

describe('campaign spec', () => {
  it('expands list runs then the grid, last axis fastest, with deterministic ids', () => {
    const c = compileCampaignSpec({
      id: 'sweep1',
      concurrency: 3,
      runs: [{ kind: 'grf', ...grfBase, walks: 2 }],
      grid: { kind: 'grf', base: grfBase, axes: { walks: [4, 8], seed: [1, 2, 3] } },
    });
    assert.equal(c.runsTotal, 7);
    assert.equal(c.concurrency, 3);
    assert.deepEqual(c.retry, { maxAttempts: 2, backoffMs: 1000 });
    assert.deepEqual(campaignRunAt(c, 0), { kind: 'grf', params: { ...grfBase, walks: 2 } });
    const grid = [1, 2, 3, 4, 5, 6].map((i) => campaignRunAt(c, i).params);
    assert.deepEqual(
      grid.map((p) => [p['walks'], p['seed']]),
      [
        [4, 1],
        [4, 2],
        [4, 3],
        [8, 1],
        [8, 2],
        [8, 3],
      ],
    );
    assert.equal(campaignRunId('sweep1', 5), 'sweep1-r000005');
    assert.equal(campaignAttemptId('sweep1-r000005', 2), 'sweep1-r000005-a2');
    assert.equal(campaignRowKey('sweep1', 5), 'sweep1.000005');
    expectCode(() => campaignRunAt(c, 7), 'INPUT_OUT_OF_RANGE', 'index');
  });

  it('uses the default id when the spec has none', () => {
    assert.equal(compileCampaignSpec({ runs: [{ kind: 'grf', ...grfBase, walks: 2 }] }, 'c-x').id, 'c-x');
  });

  it('rejects bad input with typed errors naming the field, before anything runs', () => {
    expectCode(() => compileCampaignSpec({ runs: [] }, 'x'), 'INPUT_INVALID', 'at least one run');
    expectCode(() => compileCampaignSpec({ id: 'a.b', runs: [{ kind: 'grf', ...grfBase, walks: 2 }] }), 'INPUT_INVALID', 'id');
    expectCode(() => compileCampaignSpec({ runs: [{ kind: 'grf', ...grfBase, walks: 2 }], concurrency: 0 }, 'x'), 'INPUT_OUT_OF_RANGE', 'concurrency');
    expectCode(
      () => compileCampaignSpec({ runs: [{ kind: 'grf', ...grfBase, walks: 2 }], retry: { maxAttempts: 0 } }, 'x'),
      'INPUT_OUT_OF_RANGE',
      'retry.maxAttempts',
    );
    expectCode(() => compileCampaignSpec({ runs: [{ kind: 'grf', ...grfBase, walks: 2 }], bogus: 1 }, 'x'), 'INPUT_INVALID', 'campaign.bogus');
    expectCode(() => compileCampaignSpec({ runs: [{ kind: 'nope', ...grfBase }] }, 'x'), 'INPUT_INVALID', 'runs[0].kind');
    expectCode(
      () =>
        compileCampaignSpec(
          {
            runs: [
              { kind: 'grf', ...grfBase, walks: 2 },
              { kind: 'grf', ...grfBase, walks: 0 },
            ],
          },
          'x',
        ),
      'INPUT_OUT_OF_RANGE',
      'runs[1].walks',
    );
    expectCode(() => compileCampaignSpec({ runs: [{ kind: 'grf', ...grfBase, walks: 2, wlaks: 3 }] }, 'x'), 'INPUT_INVALID', 'runs[0].wlaks');
    expectCode(() => compileCampaignSpec({ runs: [{ kind: 'grf', ...grfBase, graph: 3, walks: 2 }] }, 'x'), 'INPUT_INVALID', 'runs[0].graph');
    expectCode(() => compileCampaignSpec({ grid: { kind: 'grf', base: grfBase, axes: { walks: [4, -1] } } }, 'x'), 'INPUT_OUT_OF_RANGE', 'grid.axes.walks[1]');
    expectCode(
      () => compileCampaignSpec({ grid: { kind: 'grf', base: grfBase, axes: { pHalt: [0.5, 1.5], walks: [2] } } }, 'x'),
      'INPUT_OUT_OF_RANGE',
      'grid.axes.pHalt[1]',
    );
    expectCode(() => compileCampaignSpec({ grid: { kind: 'grf', base: grfBase, axes: { seed: [1] } } }, 'x'), 'INPUT_INVALID', 'grid.walks');
    expectCode(() => compileCampaignSpec({ grid: { kind: 'grf', base: grfBase, axes: { walks: [] } } }, 'x'), 'INPUT_INVALID', 'grid.axes.walks');
    expectCode(
      () => compileCampaignSpec({ grid: { kind: 'grf', base: grfBase, axes: { a: Array(1001).fill(4), b: Array(1001).fill(4) } } }, 'x'),
      'INPUT_OUT_OF_RANGE',
      'grid.axes',
    );
    const many = Array.from({ length: CAMPAIGN_MAX_LIST_RUNS + 1 }, () => ({ kind: 'grf', ...grfBase, walks: 2 }));
    expectCode(() => compileCampaignSpec({ runs: many }, 'x'), 'INPUT_OUT_OF_RANGE', 'runs');
  });

  it('a 10,000-run grid stays a small workflow input', () => {
    const c = compileCampaignSpec(
      { grid: { kind: 'grf', base: grfBase, axes: { walks: Array.from({ length: 100 }, (_, i) => i + 1), seed: Array.from({ length: 100 }, (_, i) => i) } } },
      'big',
    );
    assert.equal(c.runsTotal, 10_000);
    assert.ok(JSON.stringify(c).length < 4096);
    assert.deepEqual(campaignRunAt(c, 9_999).params, { ...grfBase, walks: 100, seed: 99 });
  });
});
