import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { Philox } from '../rng/philox';
import { isGramfleetError } from '../errors';
import { choleskyReference } from '../ops/cholesky';
import { checkEigenProData, compileEigenProParams, type EigenProParams } from './params';
import { kernelMatmulReference } from './reference';
import { oneHot } from './train';
import { trainEigenPro3Reference } from './ep3';
import { choleskySolveInPlace, createReferenceCompute3, trainEigenPro3 } from './ep3-train';
import { exactProjectionMaxCenters, planEigenPro3, sampleCenterRows } from './ep3-plan';

function points(n: number, d: number, seed: number): Float64Array {
  const rng = new Philox(seed);
  return new Float64Array(n * d).map((_, i) => rng.uniform(i, 0, 0, 0));
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

/** The least-squares fit on the centers, K(X,Z)·(K_XZᵀK_XZ)⁻¹K_XZᵀY. */
function leastSquaresFit(
  kernel: 'laplacian' | 'gaussian',
  sg: number,
  x: Float64Array,
  n: number,
  z: Float64Array,
  p: number,
  d: number,
  y: Float64Array,
  c: number,
): Float64Array {
  const eye = new Float64Array(p * p);
  for (let i = 0; i < p; i++) eye[i * p + i] = 1;
  const kxz = kernelMatmulReference(kernel, sg, d, x, null, n, z, p, eye, p);
  const ktk = new Float64Array(p * p);
  const kty = new Float64Array(p * c);
  for (let i = 0; i < n; i++)
    for (let u = 0; u < p; u++) {
      for (let v = 0; v < p; v++) ktk[u * p + v] = (ktk[u * p + v] as number) + (kxz[i * p + u] as number) * (kxz[i * p + v] as number);
      for (let j = 0; j < c; j++) kty[u * c + j] = (kty[u * c + j] as number) + (kxz[i * p + u] as number) * (y[i * c + j] as number);
    }
  choleskySolveInPlace(choleskyReference(p, ktk), p, kty, c);
  return kernelMatmulReference(kernel, sg, d, x, null, n, z, p, kty, c);
}

function problem(n: number, d: number, p: number, seed: number) {
  const x = points(n, d, seed);
  const labels = new Int32Array(n).map((_, i) => ((x[i * d] as number) + (x[i * d + 1] as number) > 1 ? 1 : 0) + ((x[i * d + 2] as number) > 0.7 ? 1 : 0));
  const c = 3;
  const y = oneHot(labels, c);
  const zRows = sampleCenterRows(n, p, seed);
  const z = new Float64Array(p * d);
  zRows.forEach((r, i) => z.set(x.subarray(r * d, (r + 1) * d), i * d));
  return { x, labels, y, z, c };
}

async function run(n: number, d: number, p: number, spec: Omit<EigenProParams, 'kernel' | 'bandwidth'>, seed = 5) {
  const { x, labels, y, z, c } = problem(n, d, p, seed);
  const params = compileEigenProParams({ kernel: 'laplacian', bandwidth: 0.5, trainEvalRows: 0, ...spec });
  const shape = checkEigenProData({ x: { rows: n, cols: d, data: x }, y: { rows: n, cols: 1, data: labels }, centers: { rows: p, cols: d, data: z } }, params);
  const plan = planEigenPro3(shape, params, 1 << 30);
  const r = await trainEigenPro3({
    compute: createReferenceCompute3({ kernel: params.kernel, bandwidth: 0.5, d, x, z, c }),
    params,
    shape,
    plan,
    targets: { y },
  });
  return { r, x, y, z, c, params };
}

describe('EigenPro 3/4 training loop (f64 reference compute)', () => {
  it('exact projection equals the ep3.ts reference (same jitter) to 1e-12', async () => {
    const n = 160,
      d = 4,
      p = 40;
    const { r, x, y, z, c, params } = await run(n, d, p, { epochs: 3, batchSize: 32, seed: 2, projection: 'exact' });
    assert.equal(r.projection.solver, 'cholesky');
    const ref = await trainEigenPro3Reference({ kernel: 'laplacian', bandwidth: 0.5, d, x, y, c, z, params, jitter: r.projection.jitter ?? 0 });
    assert.ok(relErr(r.a, ref.a) < 1e-12, `loop vs ep3.ts: ${relErr(r.a, ref.a)}`);
  });

  it('delayed with T = 1 is EigenPro 3 exactly', async () => {
    const n = 150,
      d = 3,
      p = 30;
    const exact = await run(n, d, p, { epochs: 4, batchSize: 50, seed: 3, projection: 'exact' });
    const d1 = await run(n, d, p, { epochs: 4, batchSize: 50, seed: 3, projection: 'delayed', projectionInterval: 1 });
    assert.equal(d1.r.projection.interval, 1);
    assert.deepEqual(Array.from(d1.r.a), Array.from(exact.r.a));
  });

  it('on targets the centers can fit exactly (Y = K(X,Z)a*), exact and delayed (T = 3) converge to a*', async () => {
    // The centers problem min ‖K(X,Z)a − Y‖ with Y in the range of K(X,Z): its solution is a*,
    // and every batch's residual vanishes there, so mini-batch iterations converge to it.
    const n = 300,
      d = 4,
      p = 60,
      c = 2,
      sg = 1;
    const x = points(n, d, 9);
    const zRows = sampleCenterRows(n, p, 1);
    const z = new Float64Array(p * d);
    zRows.forEach((r, i) => z.set(x.subarray(r * d, (r + 1) * d), i * d));
    const rng = new Philox(77);
    const aStar = new Float64Array(p * c).map((_, i) => rng.uniform(i, 1, 0, 0) - 0.5);
    const y = kernelMatmulReference('laplacian', sg, d, x, null, n, z, p, aStar, c);
    for (const spec of [{ projection: 'exact' }, { projection: 'delayed', projectionInterval: 3 }] as const) {
      const params = compileEigenProParams({
        kernel: 'laplacian',
        bandwidth: sg,
        trainEvalRows: 0,
        epochs: 100,
        batchSize: 100,
        seed: 2,
        task: 'regression',
        ...spec,
      });
      const shape = checkEigenProData({ x: { rows: n, cols: d, data: x }, y: { rows: n, cols: c, data: y }, centers: { rows: p, cols: d, data: z } }, params);
      const r = await trainEigenPro3({
        compute: createReferenceCompute3({ kernel: 'laplacian', bandwidth: sg, d, x, z, c }),
        params,
        shape,
        plan: planEigenPro3(shape, params, 1 << 30),
        targets: { y },
      });
      assert.equal(r.projection.interval, spec.projection === 'delayed' ? 3 : 1);
      // Stated tolerance: coefficients within 1e-5 of a* after 100 epochs (measured 2.8e-7).
      assert.ok(relErr(r.a, aStar) < 1e-5, `${spec.projection}: ‖a − a*‖/‖a*‖ = ${relErr(r.a, aStar)}`);
    }
  });

  it('eigenpro projection (EigenPro 2 on the centers) approaches the exact projection with more passes', async () => {
    const n = 150,
      d = 3,
      p = 60;
    const exact = await run(n, d, p, { epochs: 3, batchSize: 50, seed: 4, projection: 'exact' });
    const errs: number[] = [];
    for (const passes of [2, 10, 40]) {
      const ep = await run(n, d, p, { epochs: 3, batchSize: 50, seed: 4, projection: 'eigenpro', projectionEpochs: passes });
      assert.equal(ep.r.projection.solver, 'eigenpro');
      errs.push(relErr(ep.r.a, exact.r.a));
    }
    // Measured 0.39, 0.058, 0.0027: the inexact projection converges to the exact one.
    assert.ok(
      (errs[0] as number) > (errs[1] as number) && (errs[1] as number) > (errs[2] as number) && (errs[2] as number) < 1e-2,
      `errors ${errs.join(', ')}`,
    );
  });

  it('planning: exact when it fits, eigenpro above, typed errors', () => {
    const params = compileEigenProParams({ kernel: 'laplacian', bandwidth: 1 });
    const maxP = exactProjectionMaxCenters(1 << 30);
    assert.equal(planEigenPro3({ n: 100000, d: 10, c: 2, p: maxP, nTest: 0 }, params, 1 << 30).solver, 'cholesky');
    assert.equal(planEigenPro3({ n: 100000, d: 10, c: 2, p: maxP + 1, nTest: 0 }, params, 1 << 30).projection, 'eigenpro');
    let err: unknown;
    try {
      planEigenPro3(
        { n: 100000, d: 10, c: 2, p: maxP + 1, nTest: 0 },
        compileEigenProParams({ kernel: 'laplacian', bandwidth: 1, projection: 'exact' }),
        1 << 30,
      );
    } catch (e) {
      err = e;
    }
    assert.ok(isGramfleetError(err) && err.code === 'INPUT_TOO_LARGE' && err.details['fitCenters'] === maxP, String(err));
    assert.throws(
      () => sampleCenterRows(10, 11, 0),
      (e) => isGramfleetError(e) && e.code === 'INPUT_OUT_OF_RANGE' && e.details['field'] === 'centers',
    );
    assert.throws(
      () => compileEigenProParams({ kernel: 'laplacian', bandwidth: 1, projection: 'nope' as 'exact' }),
      (e) => isGramfleetError(e) && e.details['field'] === 'projection',
    );
  });
});
