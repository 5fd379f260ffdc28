import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { Philox } from '../rng/philox';
import { choleskyReference } from '../ops/cholesky';
import { isGramfleetError } from '../errors';
import { checkEigenProData, compileEigenProParams, planEigenProMemory, type EigenProParams } from './params';
import { createReferenceCompute, kernelMatmulReference } from './reference';
import { eigenSolverFor, epochOrder, seededPermutation, topOfFullEigh } from './setup';
import { eighReference } from '../ops/eigh';
import { eighTopkReference } from '../ops/eigh-topk';
import { oneHot, trainEigenPro2, type EigenProCheckpoint } from './train';
import { trainEigenPro3Reference } from './ep3';

function points(n: number, d: number, seed: number): Float64Array {
  const rng = new Philox(seed);
  const x = new Float64Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(i, 0, 0, 0);
  return x;
}

/** Solves K a = Y (K SPD) by the reference Cholesky. */
function solveSpd(k: Float64Array, n: number, y: Float64Array, c: number): Float64Array {
  const l = choleskyReference(n, k);
  const a = Float64Array.from(y);
  for (let j = 0; j < c; j++) {
    for (let i = 0; i < n; i++) {
      let s = a[i * c + j] as number;
      for (let t = 0; t < i; t++) s -= (l[i * n + t] as number) * (a[t * c + j] as number);
      a[i * c + j] = s / (l[i * n + i] as number);
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = a[i * c + j] as number;
      for (let t = i + 1; t < n; t++) s -= (l[t * n + i] as number) * (a[t * c + j] as number);
      a[i * c + j] = s / (l[i * n + i] as number);
    }
  }
  return a;
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num += ((a[i] as number) - (b[i] as number)) ** 2;
    den += (b[i] as number) ** 2;
  }
  return Math.sqrt(num / den);
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isGramfleetError(e)) return `${e.code}:${String(e.details['field'])}`;
    throw e;
  }
  return 'no error';
}

describe('EigenPro 2 (f64 reference compute)', () => {
  it('run to convergence matches the interpolating solution K⁻¹Y (n = 200, Laplacian)', async () => {
    const n = 200,
      d = 4,
      c = 3;
    const x = points(n, d, 1);
    const labels = new Int32Array(n).map((_, i) => ((x[i * d] as number) + (x[i * d + 1] as number) > 1 ? 1 : 0) + ((x[i * d + 2] as number) > 0.7 ? 1 : 0));
    const y = oneHot(labels, c);
    const params = compileEigenProParams({ kernel: 'laplacian', bandwidth: 0.5, epochs: 150, seed: 3, trainEvalRows: 0 });
    const shape = checkEigenProData({ x: { rows: n, cols: d, data: x }, y: { rows: n, cols: 1, data: labels } }, params);
    const compute = createReferenceCompute({ kernel: params.kernel, bandwidth: params.bandwidth, d, x, c });
    const r = await trainEigenPro2({ compute, params, shape, targets: { y, labels } });
    const eye = new Float64Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    const k = kernelMatmulReference(params.kernel, params.bandwidth, d, x, null, n, x, n, eye, n);
    const exact = solveSpd(k, n, y, c);
    const fit = kernelMatmulReference(params.kernel, params.bandwidth, d, x, null, n, x, n, r.a, c);
    // Stated tolerances: predictions within 1e-8 of Y, coefficients within 1e-5 of K⁻¹Y (relative).
    const ea = relErr(r.a, exact);
    const ef = relErr(fit, y);
    assert.ok(r.setup.q >= 5 && r.setup.batch >= 1, `setup picked q=${r.setup.q}, m=${r.setup.batch}`);
    assert.ok(ef < 1e-8, `‖Ka − Y‖/‖Y‖ = ${ef}`);
    assert.ok(ea < 1e-5, `‖a − K⁻¹Y‖/‖K⁻¹Y‖ = ${ea} (q=${r.setup.q}, m=${r.setup.batch}, η=${r.setup.step})`);
  });

  it('a run resumed from a mid-epoch checkpoint is bit-identical to an uninterrupted run', async () => {
    const n = 200,
      d = 3,
      c = 2;
    const x = points(n, d, 5);
    const labels = new Int32Array(n).map((_, i) => ((x[i * d] as number) > 0.5 ? 1 : 0));
    const y = oneHot(labels, c);
    const params = compileEigenProParams({ kernel: 'gaussian', bandwidth: 0.5, epochs: 3, seed: 9, batchSize: 32, trainEvalRows: 50 });
    const shape = checkEigenProData({ x: { rows: n, cols: d, data: x }, y: { rows: n, cols: 1, data: labels } }, params);
    const compute = createReferenceCompute({ kernel: params.kernel, bandwidth: params.bandwidth, d, x, c });
    let t = 0;
    const now = (): number => t++;
    const full = await trainEigenPro2({ compute, params, shape, targets: { y, labels }, now });
    let cp: EigenProCheckpoint | undefined;
    await trainEigenPro2({
      compute,
      params,
      shape,
      targets: { y, labels },
      now,
      onBatch: (take, tag) => {
        if (tag.epoch === 1 && tag.batch === 2) cp = take();
      },
    });
    assert.ok(cp !== undefined);
    assert.deepEqual([cp.epoch, cp.batch], [1, 3]);
    const resumed = await trainEigenPro2({ compute, params, shape, targets: { y, labels }, resume: cp, now });
    assert.deepEqual(resumed.resumedFrom, { epoch: 1, batch: 3 });
    assert.deepEqual(Array.from(resumed.a), Array.from(full.a));
    assert.deepEqual(
      resumed.history.map((h) => h.trainAccuracy),
      full.history.map((h) => h.trainAccuracy),
    );
  });

  it('seeded permutations are permutations and reproducible', () => {
    const p = seededPermutation(1000, 7, 3);
    assert.deepEqual(
      [...p].sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.deepEqual(Array.from(epochOrder(1000, 7, 2)), Array.from(epochOrder(1000, 7, 2)));
    assert.notDeepEqual(Array.from(epochOrder(1000, 7, 2)), Array.from(epochOrder(1000, 7, 3)));
  });
});

describe('EigenPro parameters and data checks', () => {
  const base: EigenProParams = { kernel: 'laplacian', bandwidth: 1 };
  const x = { rows: 4, cols: 2, data: [0, 0, 1, 0, 0, 1, 1, 1] };
  const y = { rows: 4, cols: 1, data: [0, 1, 1, 0] };
  const p = compileEigenProParams(base);
  it('bandwidth ≤ 0, bad kernel, bad epochs are typed errors naming the field', () => {
    assert.equal(
      code(() => compileEigenProParams({ ...base, bandwidth: 0 })),
      'INPUT_OUT_OF_RANGE:bandwidth',
    );
    assert.equal(
      code(() => compileEigenProParams({ ...base, bandwidth: -2 })),
      'INPUT_OUT_OF_RANGE:bandwidth',
    );
    assert.equal(
      code(() => compileEigenProParams({ ...base, kernel: 'rbf' as 'gaussian' })),
      'INPUT_INVALID:kernel',
    );
    assert.equal(
      code(() => compileEigenProParams({ ...base, epochs: 0 })),
      'INPUT_OUT_OF_RANGE:epochs',
    );
  });
  it("accumulate: 'f64' by default, 'f32' implies f32 features and refuses f64 ones", () => {
    assert.equal(p.accumulate, 'f64');
    assert.equal(p.featureDtype, 'f64');
    const f = compileEigenProParams({ ...base, accumulate: 'f32' });
    assert.equal(f.accumulate, 'f32');
    assert.equal(f.featureDtype, 'f32');
    assert.equal(
      code(() => compileEigenProParams({ ...base, accumulate: 'f32', featureDtype: 'f64' })),
      'INPUT_INVALID:accumulate',
    );
    assert.equal(
      code(() => compileEigenProParams({ ...base, accumulate: 'f16' as 'f32' })),
      'INPUT_INVALID:accumulate',
    );
  });
  it('label count ≠ row count, NaN features, centers / test with wrong d', () => {
    assert.equal(
      code(() => checkEigenProData({ x, y: { rows: 3, cols: 1, data: [0, 1, 1] } }, p)),
      'INPUT_SHAPE_MISMATCH:trainLabels',
    );
    assert.equal(
      code(() => checkEigenProData({ x: { ...x, data: [0, 0, 1, NaN, 0, 1, 1, 1] }, y }, p)),
      'INPUT_NOT_FINITE:train',
    );
    assert.equal(
      code(() => checkEigenProData({ x, y, centers: { rows: 2, cols: 3, data: [0, 0, 0, 1, 1, 1] } }, p)),
      'INPUT_SHAPE_MISMATCH:centers',
    );
    assert.equal(
      code(() => checkEigenProData({ x, y, xTest: { rows: 1, cols: 3, data: [0, 0, 0] }, yTest: { rows: 1, cols: 1, data: [0] } }, p)),
      'INPUT_SHAPE_MISMATCH:test',
    );
    assert.equal(
      code(() => checkEigenProData({ x, y, xTest: { rows: 1, cols: 2, data: [0, 0] }, yTest: { rows: 2, cols: 1, data: [0, 1] } }, p)),
      'INPUT_SHAPE_MISMATCH:testLabels',
    );
    assert.equal(
      code(() => checkEigenProData({ x, y: { rows: 4, cols: 1, data: [0, 1, 1.5, 0] } }, p)),
      'INPUT_OUT_OF_RANGE:trainLabels',
    );
    assert.deepEqual(checkEigenProData({ x, y }, p), { n: 4, d: 2, c: 2, p: 4, nTest: 0 });
  });
  it('memory planning refuses a job that cannot fit and says what would', () => {
    const shape = { n: 60_000, d: 784, c: 10, p: 60_000, nTest: 10_000 };
    const plan = planEigenProMemory(shape, p, 8 * 1024 ** 3);
    assert.ok(plan.workerBytes > 0 && plan.orchestratorBytes > 0);
    let err: unknown;
    try {
      planEigenProMemory(shape, p, 256 * 1024 ** 2);
    } catch (e) {
      err = e;
    }
    assert.ok(isGramfleetError(err) && err.code === 'INPUT_TOO_LARGE', String(err));
    assert.match((err as Error).message, /would fit: .*training rows/);
    assert.equal(typeof (err as { details: Record<string, unknown> }).details['fitRows'], 'number');
  });
});

describe('EigenPro 3 (exact projection, f64 reference)', () => {
  it('with the centers equal to the training rows it is EigenPro 2 (same iterates within 1e-9)', async () => {
    const n = 120,
      d = 3,
      c = 2;
    const x = points(n, d, 8);
    const labels = new Int32Array(n).map((_, i) => ((x[i * d] as number) > 0.5 ? 1 : 0));
    const y = oneHot(labels, c);
    const params = compileEigenProParams({ kernel: 'laplacian', bandwidth: 0.5, epochs: 5, batchSize: 40, seed: 4, trainEvalRows: 0 });
    const shape = checkEigenProData({ x: { rows: n, cols: d, data: x }, y: { rows: n, cols: 1, data: labels } }, params);
    const ep2 = await trainEigenPro2({ compute: createReferenceCompute({ kernel: params.kernel, bandwidth: 0.5, d, x, c }), params, shape, targets: { y } });
    const ep3 = await trainEigenPro3Reference({ kernel: params.kernel, bandwidth: 0.5, d, x, y, c, z: x, params });
    assert.ok(relErr(ep3.a, ep2.a) < 1e-9, `EP3(Z = X) vs EP2: ${relErr(ep3.a, ep2.a)}`);
  });

  it('full-batch EigenPro 3 on p < n centers approaches the least-squares model (K_XZᵀK_XZ)⁻¹K_XZᵀY', async () => {
    const n = 150,
      d = 3,
      c = 2,
      p = 30;
    const x = points(n, d, 21);
    const y = new Float64Array(n * c).map((_, i) => Math.sin(3 * (x[Math.floor(i / c) * d + (i % c)] as number)));
    const z = x.slice(0, p * d);
    const params = compileEigenProParams({ kernel: 'gaussian', bandwidth: 0.6, epochs: 400, batchSize: n, seed: 2, trainEvalRows: 0 });
    const r = await trainEigenPro3Reference({ kernel: params.kernel, bandwidth: 0.6, d, x, y, c, z, params });
    // Normal equations: (KᵀK) a = Kᵀ Y with K = K(X, Z).
    const eye = new Float64Array(p * p);
    for (let i = 0; i < p; i++) eye[i * p + i] = 1;
    const kxz = kernelMatmulReference(params.kernel, 0.6, d, x, null, n, z, p, eye, p);
    const ktk = new Float64Array(p * p);
    const kty = new Float64Array(p * c);
    for (let i = 0; i < n; i++)
      for (let u = 0; u < p; u++) {
        for (let v = 0; v < p; v++) ktk[u * p + v] = (ktk[u * p + v] as number) + (kxz[i * p + u] as number) * (kxz[i * p + v] as number);
        for (let j = 0; j < c; j++) kty[u * c + j] = (kty[u * c + j] as number) + (kxz[i * p + u] as number) * (y[i * c + j] as number);
      }
    const ls = solveSpd(ktk, p, kty, c);
    const fitLs = kernelMatmulReference(params.kernel, 0.6, d, x, null, n, z, p, ls, c);
    const fit = kernelMatmulReference(params.kernel, 0.6, d, x, null, n, z, p, r.a, c);
    // Stated tolerance: fitted values within 1e-2 (relative) of the least-squares fit after 400
    // full-batch epochs (measured 3.0e-3: the projected problem is ill-conditioned, so plain
    // full-batch iterations close the last digits slowly).
    assert.ok(relErr(fit, fitLs) < 1e-2, `‖f − f_LS‖/‖f_LS‖ = ${relErr(fit, fitLs)} (q=${r.setup.q}, γ=${r.setup.gamma})`);
  });
});

describe('EigenPro setup eigensolver choice', () => {
  it('takes the full eigh once r >= s/4, eigh-topk below', () => {
    assert.equal(eigenSolverFor(2000, 160), 'eigh-topk');
    assert.equal(eigenSolverFor(400, 100), 'eigh');
    assert.equal(eigenSolverFor(40, 39), 'eigh');
  });
  it('topOfFullEigh gives the top r pairs of a full eigh, descending, as eigh-topk lays them out', () => {
    const s = 30,
      r = 7;
    const x = points(s, 3, 21);
    const k = new Float64Array(s * s);
    for (let i = 0; i < s; i++)
      for (let j = 0; j < s; j++) {
        let d2 = 0;
        for (let t = 0; t < 3; t++) d2 += ((x[i * 3 + t] as number) - (x[j * 3 + t] as number)) ** 2;
        k[i * s + j] = Math.exp(-Math.sqrt(d2) / 0.7) / s;
      }
    const full = eighReference(s, k);
    const top = topOfFullEigh(s, r, full.w, full.v);
    const want = eighTopkReference(s, r, k);
    for (let j = 0; j < r; j++) assert.ok(Math.abs((top.w[j] as number) - (want.w[j] as number)) <= 1e-12, `eigenvalue ${j}`);
    for (let i = 0; i < s * r; i++) assert.ok(Math.abs((top.v[i] as number) - (want.v[i] as number)) <= 1e-10, `vector entry ${i}`);
  });
});
