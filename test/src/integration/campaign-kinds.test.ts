/**
 * Campaigns of every workload kind on real servers (Temporal dev server, nats-server, 2 WASM
 * workers): one campaign mixes kinds (an EigenPro bandwidth × epochs grid beside GRF,
 * Kronecker GP and datagen runs); a Kronecker lengthscale grid reads y from a `.npy` file.
 * Every row is checked against the same job submitted on its own: EigenPro's test accuracy
 * and coefficient bytes, the Kronecker LML and α bytes, GRF's Φ digest, datagen's solutions.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { isGramfleetError, type ArrayRef, type CampaignRow, type CampaignSpec } from '@gramfleet/core';
import { writeNpy } from '@gramfleet/orchestrator';
import { sharedGraph, startTestCluster, type TestCluster } from './harness';
import { mnistDigits } from '../eigenpro/mnist-data';

const rid = (): string => randomBytes(3).toString('hex');

/** Every k-th row of `rows` (a test set holding every class, in a few hundred rows). */
function everyKth(x: { rows: number; cols: number; data: Float64Array }, k: number): { rows: number; cols: number; data: Float64Array } {
  const rows = Math.floor(x.rows / k);
  const data = new Float64Array(rows * x.cols);
  for (let i = 0; i < rows; i++) data.set(x.data.subarray(i * k * x.cols, (i * k + 1) * x.cols), i * x.cols);
  return { rows, cols: x.cols, data };
}

describe('campaigns of every workload kind (real Temporal + NATS)', () => {
  let t: TestCluster;
  const files = { xtr: '', ytr: '', xte: '', yte: '' };
  before(async () => {
    t = await startTestCluster('kinds', { workers: 2 });
    // 300 MNIST digits to train on, 200 to test, written as .npy files the runs name.
    const d = mnistDigits(300);
    const test = everyKth(d.test, Math.floor(d.test.rows / 200));
    const testLabels = everyKth(d.testLabels, Math.floor(d.testLabels.rows / 200));
    for (const [name, m] of [
      ['xtr', d.train],
      ['ytr', d.trainLabels],
      ['xte', test],
      ['yte', testLabels],
    ] as const) {
      files[name] = path.join(t.dir, `${name}.npy`);
      await writeNpy(files[name], { dtype: 'f64', shape: [m.rows, m.cols], data: m.data });
    }
  });
  after(async () => {
    await t?.stop();
  });

  it('one campaign mixes kinds: an EigenPro bandwidth × epochs grid beside GRF, Kronecker GP and datagen runs, each row equal to its job run alone', async () => {
    const eigenpro = { train: files.xtr, trainLabels: files.ytr, test: files.xte, testLabels: files.yte, kernel: 'laplacian', shards: 2, seed: 1 };
    const grf = { graph: sharedGraph('karate.adjlist'), kernel: 'reg-laplacian', scale: 0.25, walks: 16, pHalt: 0.5, seed: 3 };
    const kron = {
      axes: [
        [0, 0.25, 0.5, 0.75, 1],
        [0, 0.5, 1],
      ],
      y: [0.1, 0.4, 0.2, 0.5, 0.3, 0.6, 0.2, 0.1, 0.4, 0.3, 0.5, 0.2, 0.1, 0.2, 0.3],
      kernel: 'rbf',
      lengthscales: [0.3, 0.5],
      noise: 0.05,
    };
    const datagen = { pde: 'poisson-rhs', grid: 8, count: 3, seed: 2, chunkSize: 3 };
    const spec: CampaignSpec = {
      id: `mixed-${rid()}`,
      concurrency: 3,
      runs: [
        { kind: 'grf', ...grf },
        { kind: 'kron-gp', ...kron },
        { kind: 'datagen', ...datagen },
      ],
      grid: { kind: 'eigenpro', base: eigenpro, axes: { bandwidth: [5, 10], epochs: [1, 2] } },
    };
    const h = await t.fleet.campaigns.start(spec);
    const s = await h.result();
    const rows = await h.rows();
    assert.deepEqual([s.runsTotal, s.runsDone, s.runsFailed], [7, 7, 0], JSON.stringify(rows.filter((r) => r.status === 'failed').map((r) => r.error)));
    assert.deepEqual(
      rows.map((r) => r.kind),
      ['grf', 'kron-gp', 'datagen', 'eigenpro', 'eigenpro', 'eigenpro', 'eigenpro'],
    );

    // EigenPro: the grid's rows, last axis fastest, each equal to the job submitted alone.
    const ep = rows.filter((r) => r.kind === 'eigenpro');
    assert.deepEqual(
      ep.map((r) => [r.params['bandwidth'], r.params['epochs']]),
      [
        [5, 1],
        [5, 2],
        [10, 1],
        [10, 2],
      ],
    );
    for (const r of ep) {
      const alone = await (
        await t.fleet.submit({
          kind: 'eigenpro',
          ...eigenpro,
          kernel: 'laplacian',
          bandwidth: Number(r.params['bandwidth']),
          epochs: Number(r.params['epochs']),
        })
      ).result();
      const last = alone.history[alone.history.length - 1]!;
      assert.equal(r.metrics['epochs'], r.params['epochs']);
      assert.equal(r.metrics['testAccuracy'], last.testAccuracy, `σ=${String(r.params['bandwidth'])}, ${String(r.params['epochs'])} epochs`);
      assert.equal(r.metrics['trainMse'], last.trainMse);
      assert.equal((r.artifacts['coefficients'] as ArrayRef).digest, alone.coefficients.digest, 'the same coefficient bytes');
      assert.ok(Number(r.metrics['testAccuracy']) > 0.6, `test accuracy ${String(r.metrics['testAccuracy'])} on 300 digits`);
    }

    assert.equal(new Set(ep.map((r) => (r.artifacts['coefficients'] as ArrayRef).digest)).size, 4, 'each bandwidth × epochs pair is its own model');
    process.stdout.write(
      `# EigenPro grid (${String(ep[0]!.metrics['n'])} training digits): ${ep.map((r) => `σ=${String(r.params['bandwidth'])} ${String(r.params['epochs'])} ep: test acc ${String(r.metrics['testAccuracy'])}`).join('; ')}\n`,
    );
    const [g, k, dg] = rows as [CampaignRow, CampaignRow, CampaignRow];
    const grfAlone = await (await t.fleet.submit({ kind: 'grf', ...grf })).result();
    assert.equal(g.metrics['phiDigest'], grfAlone.phi.map((p) => p.data.digest.slice(0, 16)).join('+'));
    const kronAlone = await (await t.fleet.submit({ kind: 'kron-gp', ...kron })).result();
    assert.equal(k.metrics['lml'], kronAlone.candidates[0]!.lml);
    assert.equal((k.artifacts['alpha'] as ArrayRef).digest, kronAlone.candidates[0]!.alpha.digest);
    const dgAlone = await (await t.fleet.submit({ kind: 'datagen', ...datagen, jobId: `dg-alone-${rid()}` })).result();
    assert.equal(dg.metrics['systems'], 3);
    assert.equal(
      dg.metrics['solutionsDigest'],
      createHash('sha256')
        .update(dgAlone.systems.map((x) => x.outputs[0]!.digest).join(','))
        .digest('hex')
        .slice(0, 32),
      'byte-identical solutions',
    );
  });

  it("a Kronecker lengthscale grid with y from a .npy file: every row's LML equals the job run alone, and the LML picks a lengthscale", async () => {
    const nx = 12;
    const ny = 9;
    const axes = [Array.from({ length: nx }, (_, i) => i / (nx - 1)), Array.from({ length: ny }, (_, j) => (2 * j) / (ny - 1))];
    const y = Float64Array.from(
      { length: nx * ny },
      (_, idx) => Math.sin(3 * axes[0]![Math.floor(idx / ny)]!) * Math.cos(1.5 * axes[1]![idx % ny]!) + 0.05 * Math.sin(17 * idx),
    );
    const yFile = path.join(t.dir, 'kron-y.npy');
    await writeNpy(yFile, { dtype: 'f64', shape: [nx, ny], data: y });
    const lengthscales = [
      [0.05, 0.1],
      [0.2, 0.4],
      [0.5, 1],
      [2, 4],
    ];
    const base = { axes, y: yFile, kernel: 'matern52', outputscale: 1, noise: 0.01 };
    const h = await t.fleet.campaigns.start({ id: `kgrid-${rid()}`, concurrency: 2, grid: { kind: 'kron-gp', base, axes: { lengthscales } } });
    const s = await h.result();
    assert.deepEqual([s.runsDone, s.runsFailed], [4, 0]);
    const rows = await h.rows();
    assert.deepEqual(
      rows.map((r) => r.params['lengthscales']),
      lengthscales,
    );
    const lml: number[] = [];
    for (const r of rows) {
      const alone = await (await t.fleet.submit({ kind: 'kron-gp', ...base, y, lengthscales: r.params['lengthscales'] as number[] })).result();
      assert.equal(alone.route, 'direct');
      assert.equal(r.metrics['route'], 'direct');
      assert.equal(r.metrics['lml'], alone.candidates[0]!.lml, `ℓ=${JSON.stringify(r.params['lengthscales'])}`);
      assert.equal(r.metrics['lengthscales'], (r.params['lengthscales'] as number[]).join(','));
      assert.equal((r.artifacts['alpha'] as ArrayRef).digest, alone.candidates[0]!.alpha.digest);
      lml.push(Number(r.metrics['lml']));
    }
    process.stdout.write(
      `# Kronecker lengthscale grid: ${rows.map((r, i) => `ℓ=${JSON.stringify(r.params['lengthscales'])} LML ${lml[i]!.toFixed(3)}`).join('; ')}\n`,
    );
    // A smooth field: the tiny and the huge lengthscales explain it worse than a middle one.
    const best = lml.indexOf(Math.max(...lml));
    assert.ok(best === 1 || best === 2, `LML by lengthscale: ${lml.join(', ')}`);
  });

  it('bad runs of any kind are typed errors naming the run and field, before anything starts', async () => {
    const bad = async (spec: CampaignSpec, code: string, field: string): Promise<void> => {
      await assert.rejects(t.fleet.campaigns.start(spec), (e: unknown) => isGramfleetError(e) && e.code === code && e.message.includes(field), field);
    };
    const ep = { train: files.xtr, trainLabels: files.ytr, kernel: 'laplacian' };
    await bad({ grid: { kind: 'eigenpro', base: ep, axes: { bandwidth: [5, -1] } } }, 'INPUT_OUT_OF_RANGE', 'grid.axes.bandwidth[1]');
    await bad({ runs: [{ kind: 'eigenpro', ...ep, bandwith: 5 }] }, 'INPUT_INVALID', 'did you mean bandwidth?');
    await bad(
      { grid: { kind: 'kron-gp', base: { axes: [[0, 1, 2]], y: [1, 2, 3], kernel: 'rbf' }, axes: { lengthscales: [[0.5], [0, 1]] } } },
      'INPUT_SHAPE_MISMATCH',
      'grid.axes.lengthscales[1]',
    );
    await bad({ runs: [{ kind: 'kron-gp', axes: [[0, 1, 2]], y: [1, 2], kernel: 'rbf' }] }, 'INPUT_SHAPE_MISMATCH', 'runs[0].y');
    await bad({ runs: [{ kind: 'kronn-gp', axes: [[0, 1]] }] }, 'INPUT_INVALID', 'runs[0].kind');
  });
});
