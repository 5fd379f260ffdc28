import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError, type ErrorCode } from './errors';
import { WORKLOAD_DEFS, compileWorkloadParams, workloadDef, workloadKinds } from './registry';
import { paramNames } from './workload';
import { nearestName } from './validate';

function expectCode(f: () => unknown, code: ErrorCode, ...inMessage: string[]): void {
  try {
    f();
  } catch (e) {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, code, e.message);
    for (const s of inMessage) assert.ok(e.message.includes(s), `message names ${s}: ${e.message}`);
    return;
  }
  assert.fail(`expected ${code}`);
}

/** A minimal valid campaign run of each kind (arrays inline or as file paths). */
const GOOD: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  grf: { graph: 'karate.adjlist', kernel: 'reg-laplacian', scale: 0.25, walks: 4, pHalt: 0.5 },
  eigenpro: { train: 'x.npy', trainLabels: { rows: 2, cols: 1, data: [0, 1] }, kernel: 'laplacian', bandwidth: 2, epochs: 1 },
  'kron-gp': {
    axes: [
      [0, 0.5, 1],
      [0, 1],
    ],
    y: [1, 2, 3, 4, 5, 6],
    kernel: 'rbf',
    lengthscales: [0.3, 0.5],
  },
  datagen: { pde: 'darcy', grid: 8, count: 4 },
};

describe('workload registry (pure half)', () => {
  it('one definition per kind: unique kinds and workflow types, every parameter documented', () => {
    const kinds = WORKLOAD_DEFS.map((w) => w.kind);
    assert.deepEqual(workloadKinds(), [...kinds].sort());
    assert.equal(new Set(kinds).size, kinds.length);
    assert.equal(new Set(WORKLOAD_DEFS.map((w) => w.workflowType)).size, kinds.length);
    for (const w of WORKLOAD_DEFS) {
      assert.match(w.workflowType, /^[a-z][A-Za-z]*Workflow$/, w.kind);
      assert.ok(w.activities.length > 0 && w.title.length > 0, w.kind);
      for (const [name, p] of Object.entries(w.params)) assert.ok(p.description.length > 0, `${w.kind}.${name} has a description`);
      assert.ok(GOOD[w.kind] !== undefined, `a good run of ${w.kind} in this test`);
    }
  });

  it('a good run of every kind compiles; an unknown field names the nearest parameter', () => {
    for (const w of WORKLOAD_DEFS) {
      const good = GOOD[w.kind] as Record<string, unknown>;
      compileWorkloadParams(w.kind, good, 'runs[0]');
      const [first] = Object.keys(good) as [string];
      const typo = first.slice(0, -1);
      expectCode(
        () => compileWorkloadParams(w.kind, { ...good, [typo]: good[first] }, 'runs[2]'),
        'INPUT_INVALID',
        `runs[2].${typo}`,
        `did you mean ${first}?`,
      );
      // SDK-only fields (in-memory arrays, the job id) are not campaign parameters.
      if (paramNames(w, 'sdk').includes('jobId'))
        expectCode(() => compileWorkloadParams(w.kind, { ...good, jobId: 'x' }, 'runs[0]'), 'INPUT_INVALID', 'runs[0].jobId');
    }
  });

  it('bad values are typed errors naming the run and the field', () => {
    expectCode(() => compileWorkloadParams('eigenpro', { ...GOOD['eigenpro'], bandwidth: 0 }, 'grid'), 'INPUT_OUT_OF_RANGE', 'grid.bandwidth');
    expectCode(() => compileWorkloadParams('eigenpro', { ...GOOD['eigenpro'], bandwidth: undefined }, 'runs[1]'), 'INPUT_INVALID', 'runs[1].bandwidth');
    expectCode(() => compileWorkloadParams('eigenpro', { ...GOOD['eigenpro'], train: 3 }, 'runs[1]'), 'INPUT_INVALID', 'runs[1].train');
    expectCode(
      () => compileWorkloadParams('eigenpro', { ...GOOD['eigenpro'], centers: 10, centersFile: 'z.npy' }, 'runs[0]'),
      'INPUT_INVALID',
      'runs[0]: give centers',
    );
    expectCode(
      () => compileWorkloadParams('kron-gp', { ...GOOD['kron-gp'], lengthscales: [0.3, -1] }, 'runs[0]'),
      'INPUT_OUT_OF_RANGE',
      'runs[0].lengthscales[1]',
    );
    expectCode(() => compileWorkloadParams('kron-gp', { ...GOOD['kron-gp'], y: [1, 2] }, 'runs[0]'), 'INPUT_SHAPE_MISMATCH', 'runs[0].y');
    expectCode(() => compileWorkloadParams('kron-gp', { ...GOOD['kron-gp'], fit: { optimizer: 'sgd' } }, 'runs[0]'), 'INPUT_INVALID', 'runs[0].fit.optimizer');
    // A vector given as a .npy path stands in as a valid vector of the grid's size.
    compileWorkloadParams('kron-gp', { ...GOOD['kron-gp'], y: 'y.npy', mask: 'mask.npy' }, 'runs[0]');
    expectCode(() => compileWorkloadParams('datagen', { ...GOOD['datagen'], grid: 2 }, 'runs[0]'), 'INPUT_OUT_OF_RANGE', 'runs[0].grid');
    expectCode(() => compileWorkloadParams('grf', { ...GOOD['grf'], backend: 'auto' }, 'runs[0]'), 'INPUT_INVALID', 'runs[0].backend');
  });

  it('an unknown kind names the nearest kind', () => {
    expectCode(() => workloadDef('eigenpr', 'runs[0].kind'), 'INPUT_INVALID', 'runs[0].kind', 'did you mean eigenpro?');
    assert.equal(workloadDef('kron-gp').workflowType, 'kronGpWorkflow');
  });

  it('nearestName: edits, transpositions and prefixes', () => {
    assert.equal(nearestName('walk', ['workers', 'walks', 'out']), 'walks');
    assert.equal(nearestName('p-hlat', ['p-halt', 'p', 'scale']), 'p-halt');
    assert.equal(nearestName('Bandwith', ['batch', 'bandwidth']), 'bandwidth');
    assert.equal(nearestName('x', []), undefined);
  });
});
