/**
 * Exact-answer checks of the data-generation numerics: FFT against a direct DFT, the
 * discrete eigenvector of the 5-point Laplacian, second-order convergence of manufactured
 * Poisson and Darcy solutions, true residuals recomputed independently of the solver,
 * GCRO-DR with k = 0 against an independent GMRES(m), recycling on a sorted Darcy chain,
 * determinism, sorting, ILU(0) on a tridiagonal matrix, and typed errors for bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ndarray, type CsrArrays } from '../array';
import { isGramfleetError } from '../errors';
import { csrFromTriplets } from '../graph';
import { csrSpmvOp } from '../ops/csr-spmv';
import { datagenSolve } from '../ops/datagen-solve';
import { fft2d } from './fft';
import { gcrodr } from './gcrodr';
import { compileDatagenParams, pdeSpecOf, type DatagenParams } from './params';
import { assembleFivePoint, generateInstance, instanceFeatures, PDE_KINDS, pdeDim } from './pde';
import { buildPreconditioner } from './precond';
import { greedyChain, sortInstances } from './sort';

/** ‖b − Ax‖/‖b‖ through the catalogue's csr-spmv reference (not the solver's loop). */
function trueRelres(a: CsrArrays, x: Float64Array, b: Float64Array): number {
  const n = a.shape[0];
  const attrs = csrSpmvOp.parseAttrs({});
  const [y] = csrSpmvOp.reference(attrs, [
    ndarray('i32', [n + 1], a.indptr),
    ndarray('i32', [a.indices.length], a.indices),
    ndarray('f64', [a.data.length], a.data),
    ndarray('f64', [n], x),
  ]);
  let rr = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    const r = (b[i] as number) - ((y?.data[i] as number) ?? NaN);
    rr += r * r;
    bb += (b[i] as number) ** 2;
  }
  return Math.sqrt(rr / bb);
}

const none = (a: CsrArrays) => buildPreconditioner('none', a);

test('fft2d matches a direct DFT and inverts', () => {
  const m = 8;
  const re = new Float64Array(m * m).map((_, i) => Math.sin(i * 1.3) + 0.1 * i);
  const im = new Float64Array(m * m).map((_, i) => Math.cos(i * 0.7));
  const r2 = Float64Array.from(re);
  const i2 = Float64Array.from(im);
  fft2d(r2, i2, m, false);
  for (const [u, v] of [
    [0, 0],
    [1, 3],
    [5, 2],
    [7, 7],
  ] as const) {
    let sr = 0;
    let si = 0;
    for (let y = 0; y < m; y++)
      for (let x = 0; x < m; x++) {
        const ang = (-2 * Math.PI * (u * x + v * y)) / m;
        const a = re[y * m + x] as number;
        const b = im[y * m + x] as number;
        sr += a * Math.cos(ang) - b * Math.sin(ang);
        si += a * Math.sin(ang) + b * Math.cos(ang);
      }
    assert.ok(Math.abs(sr - (r2[v * m + u] as number)) < 1e-10 && Math.abs(si - (i2[v * m + u] as number)) < 1e-10, `mode (${u},${v})`);
  }
  fft2d(r2, i2, m, true);
  for (let i = 0; i < m * m; i++) assert.ok(Math.abs((r2[i] as number) / (m * m) - (re[i] as number)) < 1e-12);
});

function sinsin(N: number): Float64Array {
  const h = 1 / (N + 1);
  const u = new Float64Array(N * N);
  for (let j = 1; j <= N; j++) for (let i = 1; i <= N; i++) u[i - 1 + N * (j - 1)] = Math.sin(Math.PI * i * h) * Math.sin(Math.PI * j * h);
  return u;
}

test('5-point Laplacian: b = λ_h sin(πx)sin(πy) returns sin(πx)sin(πy) to rtol', () => {
  for (const N of [15, 31]) {
    const h = 1 / (N + 1);
    const lam = (8 / (h * h)) * Math.sin((Math.PI * h) / 2) ** 2;
    const u = sinsin(N);
    const a = assembleFivePoint({ grid: N });
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

test('manufactured Poisson and Darcy solutions converge at second order', () => {
  const expectPoisson = [8.0e-4, 2.0e-4, 5.0e-5];
  const errs: Record<string, number[]> = { poisson: [], darcy: [] };
  for (const N of [31, 63, 127]) {
    const h = 1 / (N + 1);
    const u = sinsin(N);
    // Poisson: −Δu = 2π² u.
    const ap = assembleFivePoint({ grid: N });
    // Darcy: a = exp(xy), f = −∇·(a∇u) = 2π² a u − a (y u_x + x u_y).
    const side = N + 2;
    const aNode = new Float64Array(side * side);
    for (let j = 0; j < side; j++) for (let i = 0; i < side; i++) aNode[i + side * j] = Math.exp(i * h * j * h);
    const ad = assembleFivePoint({ grid: N, aNode });
    const fp = new Float64Array(N * N);
    const fd = new Float64Array(N * N);
    for (let j = 1; j <= N; j++)
      for (let i = 1; i <= N; i++) {
        const x = i * h;
        const y = j * h;
        const uu = Math.sin(Math.PI * x) * Math.sin(Math.PI * y);
        const ux = Math.PI * Math.cos(Math.PI * x) * Math.sin(Math.PI * y);
        const uy = Math.PI * Math.sin(Math.PI * x) * Math.cos(Math.PI * y);
        const av = Math.exp(x * y);
        fp[i - 1 + N * (j - 1)] = 2 * Math.PI ** 2 * uu;
        fd[i - 1 + N * (j - 1)] = 2 * Math.PI ** 2 * av * uu - av * (y * ux + x * uy);
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
  const p = errs['poisson'] as number[];
  const d = errs['darcy'] as number[];
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs((p[i] as number) / (expectPoisson[i] as number) - 1) < 0.05, `poisson error ${p[i]} vs ${expectPoisson[i]}`);
    assert.ok(
      (d[i] as number) > 0.25 * (expectPoisson[i] as number) && (d[i] as number) < 4 * (expectPoisson[i] as number),
      `darcy error ${d[i]} near ${expectPoisson[i]}`,
    );
  }
  for (let i = 0; i < 2; i++) {
    for (const e of [p, d]) {
      const order = Math.log2((e[i] as number) / (e[i + 1] as number));
      assert.ok(order > 1.9 && order < 2.1, `observed order ${order} (errors ${e.join(', ')})`);
    }
  }
});

const small = (pde: string, extra: Partial<DatagenParams> = {}) => compileDatagenParams({ pde, grid: 15, count: 6, seed: 7, rtol: 1e-8, ...extra });

test('every solution of every 2-D family has true relative residual ≤ rtol, recomputed independently (3-D: datagen3d.test.ts)', () => {
  for (const pde of PDE_KINDS.filter((k) => pdeDim(k) === 2)) {
    for (const precond of ['none', 'jacobi', 'ilu0'] as const) {
      const params = small(pde, { precond });
      let u = new Float64Array(0);
      let k = 0;
      for (let index = 0; index < 4; index++) {
        const rec = [];
        for (let i = 0; i < k; i++) rec.push(u.slice(i * 225, (i + 1) * 225));
        const [x, un, , b, stats] = datagenSolve({ params, index }, rec);
        const inst = generateInstance(pdeSpecOf(params), index);
        const rr = trueRelres(inst.a, x?.data as Float64Array, inst.b);
        assert.ok(rr <= params.rtol, `${pde}/${precond}/${index}: ${rr}`);
        assert.deepEqual(b?.data, inst.b);
        assert.ok(Math.abs((stats?.data[3] as number) - rr) < 1e-12);
        u = (un?.data as Float64Array).slice();
        k = un?.shape[0] ?? 0;
      }
    }
  }
});

/** Textbook right-preconditioned-free GMRES(m) with the same stopping rule, written apart from gcrodr. */
function plainGmres(a: CsrArrays, b: Float64Array, m: number, rtol: number): number {
  const n = b.length;
  const mv = (v: Float64Array): Float64Array => {
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++)
      for (let p = a.indptr[i] as number; p < (a.indptr[i + 1] as number); p++)
        y[i] = (y[i] as number) + (a.data[p] as number) * (v[a.indices[p] as number] as number);
    return y;
  };
  const nb = Math.hypot(...b);
  const x = new Float64Array(n);
  let r = Float64Array.from(b);
  let its = 0;
  for (let cycle = 0; cycle < 1000; cycle++) {
    const beta = Math.hypot(...r);
    if (cycle > 0 && beta / nb <= rtol) return its;
    const V = [r.map((t) => t / beta)];
    const H: number[][] = [];
    const g = [beta];
    const cs: number[] = [];
    const sn: number[] = [];
    let j = 0;
    for (; j < m; j++) {
      const w = mv(V[j] as Float64Array);
      its++;
      const col: number[] = [];
      for (let i = 0; i <= j; i++) {
        let s = 0;
        for (let t = 0; t < n; t++) s += (V[i]?.[t] as number) * (w[t] as number);
        col.push(s);
        for (let t = 0; t < n; t++) w[t] = (w[t] as number) - s * (V[i]?.[t] as number);
      }
      const hn = Math.hypot(...w);
      col.push(hn);
      V.push(w.map((t) => t / hn));
      for (let i = 0; i < j; i++) {
        const t1 = col[i] as number;
        const t2 = col[i + 1] as number;
        col[i] = (cs[i] as number) * t1 + (sn[i] as number) * t2;
        col[i + 1] = -(sn[i] as number) * t1 + (cs[i] as number) * t2;
      }
      const den = Math.hypot(col[j] as number, col[j + 1] as number);
      cs.push((col[j] as number) / den);
      sn.push((col[j + 1] as number) / den);
      col[j] = den;
      col[j + 1] = 0;
      g.push(-(sn[j] as number) * (g[j] as number));
      g[j] = (cs[j] as number) * (g[j] as number);
      H.push(col);
      if (Math.abs(g[j + 1] as number) <= rtol * nb) {
        j++;
        break;
      }
    }
    const yv = new Array<number>(j).fill(0);
    for (let i = j - 1; i >= 0; i--) {
      let s = g[i] as number;
      for (let c = i + 1; c < j; c++) s -= (H[c]?.[i] as number) * (yv[c] as number);
      yv[i] = s / (H[i]?.[i] as number);
    }
    for (let i = 0; i < j; i++) for (let t = 0; t < n; t++) x[t] = (x[t] as number) + (yv[i] as number) * (V[i]?.[t] as number);
    const ax = mv(x);
    r = b.map((bi, t) => bi - (ax[t] as number));
  }
  throw new Error('plain GMRES did not converge');
}

test('GCRO-DR with k = 0 reproduces the iteration counts of an independent GMRES(m)', () => {
  for (const pde of ['darcy', 'advection-diffusion', 'poisson-rhs'] as const) {
    const inst = generateInstance(pdeSpecOf(small(pde)), 3);
    for (const m of [10, 25]) {
      const r = gcrodr(inst.a, inst.b, { m, k: 0, rtol: 1e-8, maxMatvecs: 100000, precond: none(inst.a) });
      assert.equal(r.iterations, plainGmres(inst.a, inst.b, m, 1e-8), `${pde} m=${m}`);
      assert.ok(r.cycles > 1, 'restarts happen');
    }
  }
});

test('recycling along a sorted Darcy chain needs fewer mat-vecs than reset and GMRES', () => {
  const params = compileDatagenParams({ pde: 'darcy', grid: 31, count: 8, seed: 3 });
  const spec = pdeSpecOf(params);
  const insts = Array.from({ length: 8 }, (_, i) => generateInstance(spec, i));
  const order = sortInstances(
    insts.map((s) => s.features),
    'greedy',
  );
  const total = (k: number, carry: boolean): number => {
    let rec: Float64Array[] = [];
    let mv = 0;
    for (const i of order) {
      const s = insts[i];
      if (s === undefined) throw new Error('instance');
      const r = gcrodr(s.a, s.b, { m: 40, k, rtol: 1e-8, maxMatvecs: 1e6, precond: none(s.a) }, carry ? rec : []);
      rec = r.recycle;
      mv += r.matvecs;
    }
    return mv;
  };
  const gm = total(0, false);
  const reset = total(20, false);
  const recycled = total(20, true);
  assert.ok(recycled < reset && reset < gm, `mat-vecs: GMRES ${gm}, reset ${reset}, recycled ${recycled}`);
});

test('datagen-solve is deterministic; fields differ per instance', () => {
  const params = small('helmholtz');
  const a = datagenSolve({ params, index: 2 }, []);
  const b = datagenSolve({ params, index: 2 }, []);
  a.forEach((x, i) => assert.deepEqual(x.data, b[i]?.data));
  const c = datagenSolve({ params, index: 3 }, []);
  assert.notDeepEqual(a[2]?.data, c[2]?.data);
});

test('sorting: greedy chain and fft-curve grouping are permutations; the greedy chain steps to nearest', () => {
  const f = [0, 5, 1, 4, 2].map((v) => Float64Array.from([v, 0]));
  assert.deepEqual(greedyChain(f, [0, 1, 2, 3, 4]), [0, 2, 4, 3, 1]);
  const params = compileDatagenParams({ pde: 'darcy', grid: 7, count: 50, seed: 1 });
  const feats = Array.from({ length: 50 }, (_, i) => generateInstance(pdeSpecOf(params), i).features);
  for (const pde of PDE_KINDS) {
    const spec = pdeSpecOf({ ...params, pde });
    assert.deepEqual(instanceFeatures(spec, 4), generateInstance(spec, 4).features, pde);
  }
  for (const kind of ['greedy', 'none', 'fft-curve'] as const) {
    const o = sortInstances(feats, kind, 8);
    assert.deepEqual(
      [...o].sort((x, y) => x - y),
      feats.map((_, i) => i),
      kind,
    );
  }
});

test('ILU(0) of a tridiagonal matrix is its exact LU', () => {
  const n = 9;
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < n; i++) {
    rows.push(i);
    cols.push(i);
    vals.push(4 + i);
    if (i > 0) {
      rows.push(i);
      cols.push(i - 1);
      vals.push(-1 - 0.1 * i);
    }
    if (i < n - 1) {
      rows.push(i);
      cols.push(i + 1);
      vals.push(-2);
    }
  }
  const a = csrFromTriplets([n, n], Int32Array.from(rows), Int32Array.from(cols), Float64Array.from(vals));
  const x = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++)
    for (let p = a.indptr[i] as number; p < (a.indptr[i + 1] as number); p++)
      b[i] = (b[i] as number) + (a.data[p] as number) * (x[a.indices[p] as number] as number);
  const out = new Float64Array(n);
  buildPreconditioner('ilu0', a).apply(b, out);
  for (let i = 0; i < n; i++) assert.ok(Math.abs((out[i] as number) - (x[i] as number)) < 1e-13);
});

test('bad input: typed errors naming the field and the bound', () => {
  const base: DatagenParams = { pde: 'darcy', grid: 16, count: 4 };
  const cases: [Partial<DatagenParams>, string, string][] = [
    [{ grid: 2 }, 'INPUT_OUT_OF_RANGE', 'grid'],
    [{ count: 0 }, 'INPUT_OUT_OF_RANGE', 'count'],
    [{ rtol: 0 }, 'INPUT_OUT_OF_RANGE', 'rtol'],
    [{ rtol: 1 }, 'INPUT_OUT_OF_RANGE', 'rtol'],
    [{ rtol: -1e-3 }, 'INPUT_OUT_OF_RANGE', 'rtol'],
    [{ restart: 20, recycle: 20 }, 'INPUT_OUT_OF_RANGE', 'restart'],
    [{ restart: 10, recycle: 30 }, 'INPUT_OUT_OF_RANGE', 'restart'],
    [{ pde: 'heat' }, 'INPUT_INVALID', 'pde'],
    [{ precond: 'amg' as never }, 'INPUT_INVALID', 'precond'],
    [{ sort: 'random' as never }, 'INPUT_INVALID', 'sort'],
  ];
  for (const [patch, code, field] of cases) {
    assert.throws(
      () => compileDatagenParams({ ...base, ...patch }),
      (e: unknown) => {
        assert.ok(isGramfleetError(e));
        assert.equal(e.code, code, JSON.stringify(patch));
        assert.equal(e.details['field'], field);
        assert.ok(e.message.includes(field));
        return true;
      },
    );
  }
  // GMRES has no recycled space, so restart ≤ recycle does not apply to it.
  assert.equal(compileDatagenParams({ ...base, solver: 'gmres', restart: 20, recycle: 20 }).recycle, 0);
});
