/**
 * The `gramfleet eigenpro` and `gramfleet predict` commands as a user runs them: the CLI
 * binary is spawned against a real cluster (Temporal dev server, nats-server, 2 WASM workers)
 * on a tiny problem written as .npy files; the model it writes is checked against the f64
 * reference predictor, and `predict` must give K(X_test, Z)·a of that model and the test
 * accuracy the training run reported.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Philox, accuracy, npyHeader, resourceNames, type NdArray } from '@gramfleet/core';
import { kernelMatmulReference } from '@gramfleet/core/internal';
import { readNpy, readNpz, writeNpy } from '@gramfleet/orchestrator';
import { startTestCluster, type TestCluster } from './harness';

const BIN = path.join(path.dirname(require.resolve('@gramfleet/orchestrator')), '..', 'bin', 'gramfleet.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function numeric(v: unknown, what: string): NdArray {
  const a = v as NdArray | undefined;
  if (a === undefined || !(a.data instanceof Float64Array || a.data instanceof Float32Array)) throw new Error(`${what} is not a numeric array`);
  return a;
}

describe('gramfleet eigenpro / predict CLI against a real cluster', () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('eigenpro-cli', { workers: 2 });
  });
  after(async () => {
    await t?.stop();
  });

  const n = 160,
    nt = 60,
    d = 3,
    c = 3,
    sigma = 0.7;
  const rng = new Philox(11);
  const xAll = new Float64Array((n + nt) * d).map((_, i) => rng.uniform(i, 0, 0, 0));
  const label = (i: number): number => ((xAll[i * d] as number) + (xAll[i * d + 1] as number) > 1 ? 1 : 0) + ((xAll[i * d + 2] as number) > 0.6 ? 1 : 0);
  const xtr = xAll.slice(0, n * d);
  const xte = xAll.slice(n * d);
  const ytr = Float64Array.from({ length: n }, (_, i) => label(i));
  const yte = Float64Array.from({ length: nt }, (_, i) => label(n + i));

  it('trains through the cluster, writes a model, and predict reproduces it', async () => {
    const f = (name: string): string => path.join(t.dir, name);
    await writeNpy(f('xtr.npy'), { dtype: 'f64', shape: [n, d], data: xtr });
    await writeNpy(f('ytr.npy'), { dtype: 'f64', shape: [n], data: ytr });
    await writeNpy(f('xte.npy'), { dtype: 'f64', shape: [nt, d], data: xte });
    await writeNpy(f('yte.npy'), { dtype: 'f64', shape: [nt], data: yte });
    const train = await cli([
      'eigenpro',
      '--data-dir',
      t.dir,
      '--train',
      f('xtr.npy'),
      '--train-labels',
      f('ytr.npy'),
      '--test',
      f('xte.npy'),
      '--test-labels',
      f('yte.npy'),
      '--kernel',
      'laplacian',
      '--bandwidth',
      String(sigma),
      '--epochs',
      '3',
      '--seed',
      '2',
      '--shards',
      '2',
      '--out',
      f('model.npz'),
      '--json',
    ]);
    assert.equal(train.code, 0, `eigenpro exited ${train.code}: ${train.stderr}`);
    const lines = train.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(
      lines.some((l) => l['kind'] === 'setup'),
      'a setup line',
    );
    assert.deepEqual(
      lines.filter((l) => l['kind'] === 'epoch').map((l) => l['epoch']),
      [1, 2, 3],
    );
    const result = lines.find((l) => l['kind'] === 'result') as
      { final: { testAccuracy: number; testMse: number }; kernelRows?: { hits: number; misses: number } } | undefined;
    assert.ok(result !== undefined, 'a result line');
    // f64 products: no kernel-row cache, so the summary reports no rows served from it.
    assert.deepEqual(result.kernelRows, { hits: 0, misses: 0, mirroredEntries: 0 });

    const model = await readNpz(f('model.npz'));
    const centers = numeric(model['centers'], 'centers');
    const coef = numeric(model['coefficients'], 'coefficients');
    assert.deepEqual(centers.shape, [n, d]);
    assert.deepEqual(coef.shape, [n, c]);
    // Centers are the training rows (EigenPro 2), bit for bit.
    assert.deepEqual(Array.from(centers.data as Float64Array), Array.from(xtr));

    const pred = await cli(['predict', '--model', f('model.npz'), '--x', f('xte.npy'), '--out', f('yhat.npy'), '--json']);
    assert.equal(pred.code, 0, `predict exited ${pred.code}: ${pred.stderr}`);
    const yhat = numeric(await readNpy(f('yhat.npy')), 'yhat');
    assert.deepEqual(yhat.shape, [nt, c]);
    // predict (wasm f64 kernel) against the f64 reference K(X_test, Z)·a: relative 1e-10.
    const want = kernelMatmulReference('laplacian', sigma, d, xte, null, nt, centers.data as Float64Array, n, coef.data as Float64Array, c);
    let num = 0,
      den = 0;
    for (let i = 0; i < want.length; i++) {
      num += ((yhat.data[i] as number) - (want[i] as number)) ** 2;
      den += (want[i] as number) ** 2;
    }
    assert.ok(Math.sqrt(num / den) <= 1e-10, `predict vs reference relative error ${Math.sqrt(num / den)}`);
    // The accuracy and MSE the run reported for the test set are those of this model's predictions.
    assert.equal(accuracy(yhat.data as Float64Array, yte, c), result.final.testAccuracy);
    let se = 0;
    for (let i = 0; i < nt; i++) for (let j = 0; j < c; j++) se += ((yhat.data[i * c + j] as number) - (yte[i] === j ? 1 : 0)) ** 2;
    assert.ok(
      Math.abs(se / (nt * c) - result.final.testMse) <= 1e-9 * Math.max(1, result.final.testMse),
      `test MSE ${se / (nt * c)} vs reported ${result.final.testMse}`,
    );
    assert.ok(result.final.testAccuracy >= 0.6, `test accuracy ${result.final.testAccuracy}`);
  });

  it("image features (u8 .npy) travel as their bytes and come back as the f64 features: the model's centers are bytes/255 bit for bit", async () => {
    const f = (name: string): string => path.join(t.dir, name);
    const bytes = Uint8Array.from(xAll, (v) => Math.floor(v * 256));
    await writeNpy(f('btr.npy'), { dtype: 'u8', shape: [n, d], data: bytes.slice(0, n * d) });
    await writeNpy(f('bte.npy'), { dtype: 'u8', shape: [nt, d], data: bytes.slice(n * d) });
    await writeNpy(f('ytr.npy'), { dtype: 'f64', shape: [n], data: ytr });
    await writeNpy(f('yte.npy'), { dtype: 'f64', shape: [nt], data: yte });
    const train = await cli([
      'eigenpro',
      '--data-dir',
      t.dir,
      '--train',
      f('btr.npy'),
      '--train-labels',
      f('ytr.npy'),
      '--test',
      f('bte.npy'),
      '--test-labels',
      f('yte.npy'),
      '--kernel',
      'laplacian',
      '--bandwidth',
      String(sigma),
      '--epochs',
      '2',
      '--seed',
      '2',
      '--shards',
      '2',
      '--out',
      f('bmodel.npz'),
      '--json',
    ]);
    assert.equal(train.code, 0, `eigenpro exited ${train.code}: ${train.stderr}`);
    const result = JSON.parse(train.stdout.trim().split('\n').at(-1) as string) as { final: { testAccuracy: number } };
    const model = await readNpz(f('bmodel.npz'));
    const centers = numeric(model['centers'], 'centers');
    assert.equal(centers.dtype, 'f64');
    assert.deepEqual(
      Array.from(centers.data as Float64Array),
      Array.from(bytes.slice(0, n * d), (v) => v * (1 / 255)),
    );
    // The stored centers are the bytes themselves (an eighth of f64).
    const digest = (model['centers_digest'] as { data: readonly string[] }).data[0] as string;
    // A reference carries its .npy size (the store checks it): header + n·d bytes.
    const stored = await t.fleet.getArray({
      bucket: resourceNames().arraysBucket,
      digest,
      dtype: 'u8',
      shape: [n, d],
      bytes: npyHeader('u8', [n, d]).byteLength + n * d,
    });
    assert.equal(stored.dtype, 'u8');
    assert.deepEqual(Array.from(stored.data), Array.from(bytes.slice(0, n * d)));
    const pred = await cli(['predict', '--model', f('bmodel.npz'), '--x', f('bte.npy'), '--out', f('byhat.npy')]);
    assert.equal(pred.code, 0, `predict exited ${pred.code}: ${pred.stderr}`);
    assert.equal(accuracy(numeric(await readNpy(f('byhat.npy')), 'yhat').data as Float64Array, yte, c), result.final.testAccuracy);
  });

  it('EigenPro 3: --centers-file Z.npy --projection exact writes a model on Z, predict reproduces it; a centers file with the wrong d exits 1', async () => {
    const f = (name: string): string => path.join(t.dir, name);
    const p = 40;
    const z = xtr.slice(0, p * d).map((v, i) => v + 0.01 * ((i % 7) - 3));
    await writeNpy(f('z.npy'), { dtype: 'f64', shape: [p, d], data: z });
    await writeNpy(f('zbad.npy'), { dtype: 'f64', shape: [p, d + 1], data: new Float64Array(p * (d + 1)) });
    const bad = await cli([
      'eigenpro',
      '--data-dir',
      t.dir,
      '--train',
      f('xtr.npy'),
      '--train-labels',
      f('ytr.npy'),
      '--bandwidth',
      String(sigma),
      '--centers-file',
      f('zbad.npy'),
      '--out',
      f('bad3.npz'),
    ]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /INPUT_SHAPE_MISMATCH.*centers/);
    const train = await cli([
      'eigenpro',
      '--data-dir',
      t.dir,
      '--train',
      f('xtr.npy'),
      '--train-labels',
      f('ytr.npy'),
      '--test',
      f('xte.npy'),
      '--test-labels',
      f('yte.npy'),
      '--kernel',
      'laplacian',
      '--bandwidth',
      String(sigma),
      '--epochs',
      '3',
      '--seed',
      '2',
      '--shards',
      '2',
      '--centers-file',
      f('z.npy'),
      '--projection',
      'exact',
      '--out',
      f('model3.npz'),
      '--json',
    ]);
    assert.equal(train.code, 0, `eigenpro exited ${train.code}: ${train.stderr}`);
    const lines = train.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const setup = lines.find((l) => l['kind'] === 'setup') as { projection?: { projection: string; solver: string; jitter: number } } | undefined;
    assert.equal(setup?.projection?.projection, 'exact', 'the setup line reports the projection');
    assert.equal(setup?.projection?.solver, 'cholesky');
    const result = lines.find((l) => l['kind'] === 'result') as { final: { testAccuracy: number } } | undefined;
    assert.ok(result !== undefined, 'a result line');
    const model = await readNpz(f('model3.npz'));
    const centers = numeric(model['centers'], 'centers');
    const coef = numeric(model['coefficients'], 'coefficients');
    assert.deepEqual(Array.from(centers.data as Float64Array), Array.from(z), 'the model holds the given centers');
    assert.deepEqual(coef.shape, [p, c]);
    const pred = await cli(['predict', '--model', f('model3.npz'), '--x', f('xte.npy'), '--out', f('yhat3.npy')]);
    assert.equal(pred.code, 0, pred.stderr);
    const yhat = numeric(await readNpy(f('yhat3.npy')), 'yhat');
    const want = kernelMatmulReference('laplacian', sigma, d, xte, null, nt, z, p, coef.data as Float64Array, c);
    let num = 0,
      den = 0;
    for (let i = 0; i < want.length; i++) {
      num += ((yhat.data[i] as number) - (want[i] as number)) ** 2;
      den += (want[i] as number) ** 2;
    }
    assert.ok(Math.sqrt(num / den) <= 1e-10, `predict vs reference relative error ${Math.sqrt(num / den)}`);
    assert.equal(accuracy(yhat.data as Float64Array, yte, c), result.final.testAccuracy);
  });

  it('refuses a bad bandwidth with a typed error and exit code 1, before training', async () => {
    const f = (name: string): string => path.join(t.dir, name);
    const r = await cli(['eigenpro', '--data-dir', t.dir, '--train', f('xtr.npy'), '--train-labels', f('ytr.npy'), '--bandwidth', '0', '--out', f('bad.npz')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /bandwidth/);
    assert.equal(fs.existsSync(f('bad.npz')), false);
  });
});
