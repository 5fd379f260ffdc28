/**
 * Exact-answer checks of the 3-D data-generation families: the pruned inverse 3-D FFT against
 * a direct DFT, the discrete eigenvector of the 7-point Laplacian, second-order convergence of
 * manufactured Poisson and Darcy solutions on the cube, every 3-D family's `datagen-solve`
 * against a dense float64 LU solve on 4³–6³, true residuals recomputed independently along a
 * recycled chain, output shapes, determinism, typed errors naming the field and bound, and
 * the `recycleEvery` option (fewer recycled-space updates) meeting rtol.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ndarray, type CsrArrays } from '../array';
import { isGramfleetError } from '../errors';
import { csrSpmvOp } from '../ops/csr-spmv';
import { datagenSolve, datagenSolveOp } from '../ops/datagen-solve';
import { fft3dInverseCorner } from './fft';
import { gcrodr } from './gcrodr';
import { compileDatagenParams, pdeSpecOf, type DatagenParams } from './params';
import { assembleSevenPoint, generateInstance, instanceFeatures, PDE_KINDS, pdeDim, type PdeKind } from './pde';
import { buildPreconditioner } from './precond';
import { sortInstances } from './sort';
import { DATAGEN_WORKLOAD } from './workload';

const KINDS_3D = PDE_KINDS.filter((k) => pdeDim(k) === 3);

/** ‖b − Ax‖/‖b‖ through the catalogue's csr-spmv reference (not the solver's loop). */
function trueRelres(a: CsrArrays, x: Float64Array, b: Float64Array): number {
  const n = a.shape[0];
  const [y] = csrSpmvOp.reference(csrSpmvOp.parseAttrs({}), [
    ndarray('i32', [n + 1], a.indptr),
    ndarray('i32', [a.indices.length], a.indices),
    ndarray('f64', [a.data.length], a.data),
    ndarray('f64', [n], x),
  ]);
  let rr = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    rr += ((b[i] as number) - ((y?.data[i] as number) ?? NaN)) ** 2;
    bb += (b[i] as number) ** 2;
  }
  return Math.sqrt(rr / bb);
}

/** Dense float64 solve by LU with partial pivoting, written apart from the library. */
function denseSolve(a: CsrArrays, b: Float64Array): Float64Array {
  const n = b.length;
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let p = a.indptr[i] as number; p < (a.indptr[i + 1] as number); p++) m[i * n + (a.indices[p] as number)] = a.data[p] as number;
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c] as number) > Math.abs(m[piv * n + c] as number)) piv = r;
    if (piv !== c) {
      for (let t = 0; t < n; t++) {
        const s = m[c * n + t] as number;
        m[c * n + t] = m[piv * n + t] as number;
        m[piv * n + t] = s;
      }
      const s = x[c] as number;
      x[c] = x[piv] as number;
      x[piv] = s;
    }
    const d = m[c * n + c] as number;
    for (let r = c + 1; r < n; r++) {
      const f = (m[r * n + c] as number) / d;
      if (f === 0) continue;
      for (let t = c; t < n; t++) m[r * n + t] = (m[r * n + t] as number) - f * (m[c * n + t] as number);
      x[r] = (x[r] as number) - f * (x[c] as number);
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r] as number;
    for (let t = r + 1; t < n; t++) s -= (m[r * n + t] as number) * (x[t] as number);
    x[r] = s / (m[r * n + r] as number);
  }
  return x;
}

const none = (a: CsrArrays) => buildPreconditioner('none', a);

test('fft3dInverseCorner matches a direct inverse DFT on the kept corner', () => {
  const m = 8;
  const side = 5;
  const re = new Float64Array(m * m * m).map((_, i) => Math.sin(i * 1.3) + 0.01 * i);
  const im = new Float64Array(m * m * m).map((_, i) => Math.cos(i * 0.7));
  const r2 = Float64Array.from(re);
  const i2 = Float64Array.from(im);
  fft3dInverseCorner(r2, i2, m, side);
  for (const [x, y, z] of [
    [0, 0, 0],
    [1, 3, 4],
    [4, 2, 0],
    [4, 4, 4],
  ] as const) {
    let sr = 0;
    let si = 0;
    for (let r = 0; r < m; r++)
      for (let q = 0; q < m; q++)
        for (let p = 0; p < m; p++) {
          const ang = (2 * Math.PI * (p * x + q * y + r * z)) / m;
          const at = (r * m + q) * m + p;
          sr += (re[at] as number) * Math.cos(ang) - (im[at] as number) * Math.sin(ang);
          si += (re[at] as number) * Math.sin(ang) + (im[at] as number) * Math.cos(ang);
        }
    const at = (z * m + y) * m + x;
    assert.ok(Math.abs(sr - (r2[at] as number)) < 1e-9 && Math.abs(si - (i2[at] as number)) < 1e-9, `point (${x},${y},${z})`);
  }
});

function sin3(N: number): Float64Array {
  const h = 1 / (N + 1);
  const u = new Float64Array(N * N * N);
  for (let l = 1; l <= N; l++)
    for (let j = 1; j <= N; j++)
      for (let i = 1; i <= N; i++) u[i - 1 + N * (j - 1 + N * (l - 1))] = Math.sin(Math.PI * i * h) * Math.sin(Math.PI * j * h) * Math.sin(Math.PI * l * h);
  return u;
}

test('7-point Laplacian: b = λ_h sin(πx)sin(πy)sin(πz) returns the same vector to rtol', () => {
  for (const N of [7, 15]) {
    const h = 1 / (N + 1);
    const lam = (12 / (h * h)) * Math.sin((Math.PI * h) / 2) ** 2;
    const u = sin3(N);
    const a = assembleSevenPoint({ grid: N });
    assert.equal(a.data.length, 7 * N ** 3 - 6 * N ** 2);
    const rtol = 1e-10;
    for (const k of [0, 10]) {
      const r = gcrodr(
        a,
        u.map((v) => lam * v),
        { m: 20, k, rtol, maxMatvecs: 1000, precond: none(a) },
      );
      let err = 0;
      for (let i = 0; i < u.length; i++) err = Math.max(err, Math.abs((r.x[i] as number) - (u[i] as number)));
      assert.ok(err <= rtol, `N=${N} k=${k}: max error ${err}`);
    }
  }
});

test('manufactured Poisson and Darcy solutions on the cube converge at second order', () => {
  const errs: Record<string, number[]> = { poisson: [], darcy: [] };
  for (const N of [7, 15, 31]) {
    const h = 1 / (N + 1);
    const side = N + 2;
    const u = sin3(N);
    const ap = assembleSevenPoint({ grid: N });
    // Darcy: a = exp(x + 2y − z), f = −∇·(a∇u) = a (3π² u − (u_x + 2u_y − u_z)).
    const aNode = new Float64Array(side ** 3);
    for (let l = 0; l < side; l++)
      for (let j = 0; j < side; j++) for (let i = 0; i < side; i++) aNode[i + side * (j + side * l)] = Math.exp(i * h + 2 * j * h - l * h);
    const ad = assembleSevenPoint({ grid: N, aNode });
    const fp = new Float64Array(N ** 3);
    const fd = new Float64Array(N ** 3);
    const s = (t: number): number => Math.sin(Math.PI * t);
    const c = (t: number): number => Math.PI * Math.cos(Math.PI * t);
    for (let l = 1; l <= N; l++)
      for (let j = 1; j <= N; j++)
        for (let i = 1; i <= N; i++) {
          const [x, y, z] = [i * h, j * h, l * h];
          const uu = s(x) * s(y) * s(z);
          const row = i - 1 + N * (j - 1 + N * (l - 1));
          fp[row] = 3 * Math.PI ** 2 * uu;
          fd[row] = Math.exp(x + 2 * y - z) * (3 * Math.PI ** 2 * uu - (c(x) * s(y) * s(z) + 2 * s(x) * c(y) * s(z) - s(x) * s(y) * c(z)));
        }
    for (const [name, a, f] of [
      ['poisson', ap, fp],
      ['darcy', ad, fd],
    ] as const) {
      const r = gcrodr(a, f, { m: 40, k: 10, rtol: 1e-11, maxMatvecs: 20000, precond: buildPreconditioner('ilu0', a) });
      assert.ok(trueRelres(a, r.x, f) <= 1e-11);
      let err = 0;
      for (let i = 0; i < u.length; i++) err = Math.max(err, Math.abs((r.x[i] as number) - (u[i] as number)));
      errs[name]?.push(err);
    }
  }
  for (const e of Object.values(errs)) {
    for (let i = 0; i < 2; i++) {
      const order = Math.log2((e[i] as number) / (e[i + 1] as number));
      assert.ok(order > 1.85 && order < 2.15, `observed order ${order} (errors ${e.join(', ')})`);
    }
  }
  // The Poisson error is the 1-D symbol's: u (1 − λ/λ_h) with λ = 3π².
  for (const [i, N] of [7, 15, 31].entries()) {
    const h = 1 / (N + 1);
    const lamH = (12 / (h * h)) * Math.sin((Math.PI * h) / 2) ** 2;
    const umax = Math.max(...sin3(N));
    const want = umax * Math.abs(1 - (3 * Math.PI ** 2) / lamH);
    assert.ok(Math.abs((errs['poisson']?.[i] as number) / want - 1) < 1e-6, `poisson N=${N}: ${errs['poisson']?.[i]} vs ${want}`);
  }
});

test('every 3-D family on 4³–6³: datagen-solve equals a dense float64 LU solve', () => {
  for (const pde of KINDS_3D) {
    for (const grid of [4, 5, 6]) {
      const params = compileDatagenParams({ pde, grid, count: 3, seed: 11, rtol: 1e-13 });
      for (const index of [0, 2]) {
        const inst = generateInstance(pdeSpecOf(params), index);
        const xd = denseSolve(inst.a, inst.b);
        const [x] = datagenSolve({ params, index }, []);
        let num = 0;
        let den = 0;
        for (let i = 0; i < xd.length; i++) {
          num += ((x?.data[i] as number) - (xd[i] as number)) ** 2;
          den += (xd[i] as number) ** 2;
        }
        assert.ok(Math.sqrt(num / den) < 1e-9, `${pde} ${grid}³ #${index}: relative error ${Math.sqrt(num / den)}`);
        assert.ok(trueRelres(inst.a, xd, inst.b) < 1e-12, 'the dense solve itself');
      }
    }
  }
});

test('3-D chains: every stored solution has true relative residual ≤ rtol along a recycled chain; shapes', () => {
  for (const pde of KINDS_3D) {
    for (const precond of ['none', 'jacobi', 'ilu0'] as const) {
      const N = 7;
      const n = N ** 3;
      const params = compileDatagenParams({ pde, grid: N, count: 4, seed: 7, rtol: 1e-8, precond });
      let u = new Float64Array(0);
      let k = 0;
      for (let index = 0; index < 4; index++) {
        const rec = [];
        for (let i = 0; i < k; i++) rec.push(u.slice(i * n, (i + 1) * n));
        const [x, un, fld, b, stats] = datagenSolve({ params, index }, rec);
        assert.deepEqual(x?.shape, [N, N, N]);
        assert.deepEqual(b?.shape, [N, N, N]);
        assert.deepEqual(fld?.shape, [N + 2, N + 2, N + 2]);
        const inst = generateInstance(pdeSpecOf(params), index);
        const rr = trueRelres(inst.a, x?.data as Float64Array, inst.b);
        assert.ok(rr <= params.rtol, `${pde}/${precond}/${index}: ${rr}`);
        assert.ok(Math.abs((stats?.data[3] as number) - rr) < 1e-12);
        if (index > 0 && precond !== 'none') assert.ok((un?.shape[0] ?? 0) > 0, 'a recycled space is carried');
        u = (un?.data as Float64Array).slice();
        k = un?.shape[0] ?? 0;
      }
    }
  }
});

test('3-D: recycling a sorted Darcy chain needs fewer mat-vecs than reset; features without the field equal the sampled ones', () => {
  const params = compileDatagenParams({ pde: 'darcy-3d', grid: 20, count: 6, seed: 3 });
  const spec = pdeSpecOf(params);
  const insts = Array.from({ length: 6 }, (_, i) => generateInstance(spec, i));
  for (const s of insts) assert.deepEqual(instanceFeatures(spec, s.index), s.features);
  const order = sortInstances(
    insts.map((s) => s.features),
    'greedy',
  );
  const total = (carry: boolean): number => {
    let rec: Float64Array[] = [];
    let mv = 0;
    for (const i of order) {
      const s = insts[i];
      if (s === undefined) throw new Error('instance');
      const r = gcrodr(s.a, s.b, { m: 40, k: 20, rtol: 1e-8, maxMatvecs: 1e6, precond: none(s.a) }, carry ? rec : []);
      rec = r.recycle;
      mv += r.matvecs;
    }
    return mv;
  };
  const reset = total(false);
  const recycled = total(true);
  assert.ok(recycled < reset, `mat-vecs: reset ${reset}, recycled ${recycled}`);
  // Deterministic, and the 3-D advection direction is a unit vector scaled by the speed.
  const a = datagenSolve({ params, index: 1 }, []);
  const b = datagenSolve({ params, index: 1 }, []);
  a.forEach((x, i) => assert.deepEqual(x.data, b[i]?.data));
  const adv = generateInstance(pdeSpecOf(compileDatagenParams({ pde: 'advection-diffusion-3d', grid: 5, count: 1 })), 0);
  assert.equal(adv.scalars.length, 3);
  const [r0, r1, r2] = adv.features;
  const speedScaled = (adv.scalars[0] as number) / 20;
  assert.ok(Math.abs(Math.hypot(r0 as number, r1 as number, r2 as number) - speedScaled) < 1e-12);
});

test('3-D bad input: typed errors naming the field and the bound, before any work', () => {
  const base: DatagenParams = { pde: 'darcy-3d', grid: 16, count: 4 };
  const cases: [Partial<DatagenParams>, string, string][] = [
    [{ grid: 2 }, 'INPUT_OUT_OF_RANGE', 'grid'],
    [{ grid: 161 }, 'INPUT_OUT_OF_RANGE', 'grid'],
    [{ pde: 'helmholtz-3d', grid: 200 }, 'INPUT_OUT_OF_RANGE', 'grid'],
    [{ pde: 'darcy-4d' }, 'INPUT_INVALID', 'pde'],
    [{ count: 0 }, 'INPUT_OUT_OF_RANGE', 'count'],
    [{ rtol: 1 }, 'INPUT_OUT_OF_RANGE', 'rtol'],
    [{ restart: 20, recycle: 20 }, 'INPUT_OUT_OF_RANGE', 'restart'],
  ];
  for (const [patch, code, field] of cases) {
    assert.throws(
      () => compileDatagenParams({ ...base, ...patch }),
      (e: unknown) => {
        assert.ok(isGramfleetError(e));
        assert.equal(e.code, code, JSON.stringify(patch));
        assert.equal(e.details['field'], field);
        assert.ok(e.message.includes(field));
        if (patch.grid !== undefined && patch.grid > 3) assert.ok(e.message.includes('160'), e.message);
        return true;
      },
    );
  }
  // The 2-D bound is unchanged, and 3-D defaults follow the unknowns.
  assert.equal(compileDatagenParams({ pde: 'darcy', grid: 1000, count: 1 }).grid, 1000);
  const p3 = compileDatagenParams(base);
  assert.equal(p3.maxMatvecs, 20 * 16 ** 3 + 1000);
  assert.deepEqual(p3.wavenumber, [4, 8]);
  // A recycled space of the 2-D size is refused by the op's input check.
  const attrs = datagenSolveOp.parseAttrs({ params: { pde: 'darcy-3d', grid: 5, count: 1 }, index: 0 });
  assert.throws(
    () => datagenSolveOp.checkInputs(attrs, [ndarray('f64', [2, 25], new Float64Array(50))]),
    (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_SHAPE_MISMATCH' && e.details['field'] === 'U',
  );
  // A campaign run is compiled by the same validation, its field prefixed by the run.
  DATAGEN_WORKLOAD.compileRun({ pde: 'helmholtz-3d', grid: 32, count: 100 }, 'runs[0]');
  assert.throws(
    () => DATAGEN_WORKLOAD.compileRun({ pde: 'helmholtz-3d', grid: 161, count: 100 }, 'runs[2]'),
    (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_OUT_OF_RANGE' && e.details['field'] === 'runs[2].grid' && e.message.includes('160'),
  );
  assert.ok(DATAGEN_WORKLOAD.params['pde']?.enum?.includes('poisson-rhs-3d'));
  const kinds: PdeKind[] = [...KINDS_3D];
  assert.deepEqual(kinds, ['darcy-3d', 'helmholtz-3d', 'advection-diffusion-3d', 'poisson-rhs-3d']);
});

test('recycleEvery: fewer recycled-space updates still meet rtol along a chain; 1 is the default and leaves the parameters (job id) unchanged', () => {
  for (const pde of ['darcy', 'helmholtz', 'darcy-3d'] as const) {
    const grid = pdeDim(pde) === 3 ? 10 : 31;
    const spec = pdeSpecOf(compileDatagenParams({ pde, grid, count: 4, seed: 2 }));
    for (const every of [2, 1000]) {
      let rec: Float64Array[] = [];
      for (let i = 0; i < 4; i++) {
        const s = generateInstance(spec, i);
        const r = gcrodr(s.a, s.b, { m: 40, k: 20, rtol: 1e-8, maxMatvecs: 1e6, precond: none(s.a), recycleEvery: every }, rec);
        assert.ok(trueRelres(s.a, r.x, s.b) <= 1e-8, `${pde} every ${every} #${i}`);
        assert.ok(r.recycle.length > 0, 'a space is formed and carried');
        rec = r.recycle;
      }
    }
  }
  const base = { pde: 'darcy', grid: 8, count: 2 };
  assert.equal('recycleEvery' in compileDatagenParams(base), false);
  assert.equal('recycleEvery' in compileDatagenParams({ ...base, recycleEvery: 1 }), false);
  assert.equal(compileDatagenParams({ ...base, recycleEvery: 3 }).recycleEvery, 3);
  const p3 = compileDatagenParams({ ...base, recycleEvery: 3 });
  const [x] = datagenSolve({ params: p3, index: 1 }, []);
  assert.ok(trueRelres(generateInstance(pdeSpecOf(p3), 1).a, x?.data as Float64Array, generateInstance(pdeSpecOf(p3), 1).b) <= p3.rtol);
  for (const bad of [0, 1001, 1.5])
    assert.throws(
      () => compileDatagenParams({ ...base, recycleEvery: bad }),
      (e: unknown) => isGramfleetError(e) && e.details['field'] === 'recycleEvery' && e.message.includes('recycleEvery'),
    );
});
