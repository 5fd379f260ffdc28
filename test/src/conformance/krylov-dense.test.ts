import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { kernelsWasmPath } from '@gramfleet/wasm';
import { WasmArena, relaxedSimdNodeArgs } from '@gramfleet/workers';
import { createWasmKrylovDense, kernelsFmaWasmPath, registerWasmKernels, relaxedSimdAvailable } from '@gramfleet/workers/internal';
import {
  OPS,
  compileDatagenParams,
  csrMatvec,
  datagenSolve,
  gcrodr,
  generateInstance,
  isGramfleetError,
  pdeSpecOf,
  type CsrArrays,
  type KrylovBlock,
  type KrylovDense,
  type NdArray,
} from '@gramfleet/core';
import { buildPreconditioner, jsKrylovDense } from '@gramfleet/core/internal';
import { assertClose, rand, randomCsr } from './dense-fixtures';
import { kernelModule, linalgRegistry, runOp } from './linalg-fixtures';

// The wasm Krylov dense backend (basis in wasm memory; gf_krylov_mgs, gf_gemv, gf_gemm,
// gf_eig_small) against the float64 reference jsKrylovDense. Tolerances: 1e-13 relative to
// the scale of each product (summation orders differ: SIMD lanes, packed GEMM panels).

const arena = (): WasmArena => {
  const a = new WasmArena(kernelModule());
  a.reset();
  return a;
};

/** One backend with a basis block A (rows × n), a second block B and work vectors, filled alike. */
function setup(d: KrylovDense, n: number, rows: number): { a: KrylovBlock; b: KrylovBlock; w: KrylovBlock } {
  const a = d.block(rows);
  const b = d.block(rows);
  const w = d.block(3);
  for (let i = 0; i < rows; i++) {
    a.row(i).set(rand(n, 100 + i));
    b.row(i).set(rand(n, 300 + i));
  }
  for (let i = 0; i < 3; i++) w.row(i).set(rand(n, 500 + i));
  return { a, b, w };
}

/** Orthonormal rows (MGS twice in plain JS), so Gram–Schmidt results are well conditioned. */
function orthonormalise(blk: KrylovBlock, rows: number): void {
  for (let i = 0; i < rows; i++) {
    const v = blk.row(i);
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        const q = blk.row(j);
        let s = 0;
        for (let t = 0; t < v.length; t++) s += (q[t] as number) * (v[t] as number);
        for (let t = 0; t < v.length; t++) v[t] = (v[t] as number) - s * (q[t] as number);
      }
    }
    let nn = 0;
    for (let t = 0; t < v.length; t++) nn += (v[t] as number) ** 2;
    for (let t = 0; t < v.length; t++) v[t] = (v[t] as number) / Math.sqrt(nn);
  }
}

describe('krylov dense backend conformance (wasm vs float64 reference)', () => {
  for (const [n, rows] of [
    [1, 1],
    [3, 2],
    [7, 5],
    [130, 9],
    [1001, 23],
  ] as const) {
    it(`n=${n}, ${rows} basis rows: mgs, dots, axpys, combine, gram`, () => {
      const ref = jsKrylovDense(n, 2 * rows + 3, rows + 2, 0);
      const was = createWasmKrylovDense(arena())(n, 2 * rows + 3, rows + 2, 0);
      assert.equal(was.name, 'wasm');
      const R = setup(ref, n, rows);
      const W = setup(was, n, rows);
      orthonormalise(R.a, Math.min(rows, n));
      orthonormalise(W.a, Math.min(rows, n));
      const q = Math.min(rows, n);
      for (const count of [0, 1, q]) {
        // mgs: strided h, returns ‖w‖²
        const hr = new Float64Array(3 * count + 2);
        const hw = new Float64Array(3 * count + 2);
        const nr = ref.mgs(R.a, 0, count, R.w.row(0), hr, 1, 3);
        const nw = was.mgs(W.a, 0, count, W.w.row(0), hw, 1, 3);
        assertClose(hw, hr, 1e-13 * n, 0, `mgs h count=${count}`);
        assert.ok(Math.abs(nw - nr) <= 1e-12 * n * Math.max(1, nr), `mgs ‖w‖² ${nw} vs ${nr}`);
        assertClose(W.w.row(0), R.w.row(0), 1e-13 * n, 0, `mgs w count=${count}`);
        // dots with offset and stride
        const or = new Float64Array(2 * count + 1);
        const ow = new Float64Array(2 * count + 1);
        ref.dots(R.b, 0, count, R.w.row(1), or, 1, 2);
        was.dots(W.b, 0, count, W.w.row(1), ow, 1, 2);
        assertClose(ow, or, 1e-13 * n, 0, `dots count=${count}`);
        // axpys
        const coef = rand(count, 7 + count);
        ref.axpys(R.b, 0, count, coef, R.w.row(2));
        was.axpys(W.b, 0, count, coef, W.w.row(2));
        assertClose(W.w.row(2), R.w.row(2), 1e-13 * (count + 1), 0, `axpys count=${count}`);
      }
      // combine from a row offset into B, fresh and accumulating
      for (const acc of [false, true]) {
        const first = rows > 1 ? 1 : 0;
        const count = rows - first;
        const ncol = Math.min(rows, 4 + (rows % 3));
        const mat = rand(count * ncol, 11);
        ref.combine(R.a, first, count, mat, ncol, R.b, 0, acc);
        was.combine(W.a, first, count, mat, ncol, W.b, 0, acc);
        for (let c = 0; c < ncol; c++) assertClose(W.b.row(c), R.b.row(c), 1e-13 * (count + 2), 0, `combine acc=${acc} col ${c}`);
      }
      // gram
      const ca = Math.max(1, rows - 1);
      const gr = new Float64Array(ca * rows);
      const gw = new Float64Array(ca * rows);
      ref.gram(R.a, rows - ca, ca, R.b, 0, rows, gr);
      was.gram(W.a, rows - ca, ca, W.b, 0, rows, gw);
      assertClose(gw, gr, 1e-13 * n * 4, 0, 'gram');
    });
  }

  it('eig: the harmonic-Ritz generalised eigenproblem matches eigSmallCore', () => {
    const s = 12;
    const ref = jsKrylovDense(4, 1, s, 0);
    const was = createWasmKrylovDense(arena())(4, 1, s, 0);
    const a = rand(s * s, 21);
    const b = rand(s * s, 22);
    for (let i = 0; i < s; i++) b[i * s + i] = (b[i * s + i] as number) + 4;
    const er = ref.eig(s, a, b);
    const ew = was.eig(s, a, b);
    assert.equal(ew.status, 0);
    assert.equal(er.status, 0);
    assertClose(ew.wr, er.wr, 1e-10, 1e-10, 'wr');
    assertClose(ew.wi, er.wi, 1e-10, 1e-10, 'wi');
  });

  for (const n of [1, 5, 97]) {
    it(`csr: y = A x bit for bit as csrMatvec (n=${n}); a bad column index is INPUT_OUT_OF_RANGE`, () => {
      const [ip, ix, dv] = randomCsr(n, n, 3, n + 7);
      const a: CsrArrays = { shape: [n, n], indptr: ip.data as Int32Array, indices: ix.data as Int32Array, data: dv.data as Float64Array };
      const was = createWasmKrylovDense(arena())(n, 2, 2, a.data.length);
      const blk = was.block(2);
      blk.row(0).set(rand(n, 3));
      was.csr(a)(blk.row(0), blk.row(1));
      const want = new Float64Array(n);
      csrMatvec(a, blk.row(0), want);
      assert.deepEqual(blk.row(1), want);
      if (a.data.length > 0) {
        const badIdx = Int32Array.from(a.indices);
        badIdx[badIdx.length - 1] = n;
        const w2 = createWasmKrylovDense(arena())(n, 2, 2, a.data.length);
        assert.throws(
          () => w2.csr({ ...a, indices: badIdx }),
          (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_OUT_OF_RANGE',
        );
      }
      if (a.data.length > 0)
        assert.throws(
          () => createWasmKrylovDense(arena())(n, 2, 2, 0).csr(a),
          (e: unknown) => isGramfleetError(e) && e.code === 'KERNEL_STATUS',
        );
    });
  }

  it('a vector outside the reservation is refused with KERNEL_STATUS', () => {
    const was = createWasmKrylovDense(arena())(8, 2, 4, 0);
    const blk = was.block(2);
    assert.throws(
      () => was.mgs(blk, 0, 1, new Float64Array(8), new Float64Array(1), 0, 1),
      (e: unknown) => isGramfleetError(e) && e.code === 'KERNEL_STATUS',
    );
    assert.throws(
      () => was.block(1),
      (e: unknown) => isGramfleetError(e) && e.code === 'KERNEL_STATUS',
    );
  });

  it('GCRO-DR on a sorted Darcy and a Helmholtz chain: wasm and reference both reach rtol with the same work (±2 %)', () => {
    for (const pde of ['darcy', 'helmholtz'] as const) {
      const params = compileDatagenParams({ pde, grid: 20, count: 4, seed: 3, rtol: 1e-8, restart: 20, recycle: 8 });
      const spec = pdeSpecOf(params);
      let recR: Float64Array[] = [];
      let recW: Float64Array[] = [];
      for (let i = 0; i < 4; i++) {
        const inst = generateInstance(spec, i);
        const opts = { m: 20, k: 8, rtol: 1e-8, maxMatvecs: params.maxMatvecs, precond: buildPreconditioner('none', inst.a) };
        const r = gcrodr(inst.a, inst.b, opts, recR);
        const w = gcrodr(inst.a, inst.b, { ...opts, dense: createWasmKrylovDense(arena()) }, recW);
        recR = r.recycle;
        recW = w.recycle;
        for (const [name, x] of [
          ['reference', r.x],
          ['wasm', w.x],
        ] as const) {
          const ax = new Float64Array(inst.b.length);
          csrMatvec(inst.a, x, ax);
          let num = 0;
          let den = 0;
          for (let t = 0; t < ax.length; t++) {
            num += ((inst.b[t] as number) - (ax[t] as number)) ** 2;
            den += (inst.b[t] as number) ** 2;
          }
          assert.ok(Math.sqrt(num / den) <= 1e-8, `${pde} #${i} ${name}: true relres ${Math.sqrt(num / den)}`);
        }
        assert.ok(Math.abs(w.matvecs - r.matvecs) <= Math.max(2, 0.02 * r.matvecs), `${pde} #${i}: mat-vecs wasm ${w.matvecs} vs reference ${r.matvecs}`);
        assert.equal(w.recycle.length, r.recycle.length);
        assertClose(w.x, r.x, 1e-5, 1e-5, `${pde} #${i} x`);
      }
    }
  });

  it('the worker registry runs datagen-solve on wasm; same outputs shape, same instance, rtol met', async () => {
    const reg = linalgRegistry(
      OPS.ids().map((id) => OPS.get(id)),
      registerWasmKernels,
    );
    const params = compileDatagenParams({ pde: 'darcy', grid: 16, count: 2, seed: 5, restart: 20, recycle: 6 });
    const op = OPS.get('datagen-solve');
    const attrs = { params, index: 1 };
    const ref = datagenSolve(op.parseAttrs(attrs) as never, []);
    const out: NdArray[] = await runOp(reg, 'wasm', op, attrs, []);
    assert.equal(out.length, ref.length);
    out.forEach((o, i) => assert.deepEqual(o.shape, ref[i]?.shape, `output ${i}`));
    assert.deepEqual(out[2]?.data, ref[2]?.data, 'input field');
    assert.deepEqual(out[3]?.data, ref[3]?.data, 'b');
    assert.ok((out[4]?.data[3] as number) <= params.rtol, 'relres');
    const again: NdArray[] = await runOp(reg, 'wasm', op, attrs, [out[1] as NdArray]);
    assert.ok((again[4]?.data[3] as number) <= params.rtol, 'relres with a carried U');
    const twice: NdArray[] = await runOp(reg, 'wasm', op, attrs, [out[1] as NdArray]);
    again.forEach((o, i) => assert.deepEqual(twice[i]?.data, o.data, `deterministic output ${i}`));
  });

  it('the FMA and the plain kernel builds give byte-identical datagen solutions (a retried shard writes the same bytes on either)', { skip: fmaSkip() }, () => {
    // A sorted-chain Helmholtz solve carrying U, hashed; run here on the plain build and in a
    // child process on the FMA build (started as the launcher starts workers).
    const script = `
      const fs = require('node:fs');
      const { createHash } = require('node:crypto');
      const core = require(${JSON.stringify(require.resolve('@gramfleet/core'))});
      const { WasmArena } = require(${JSON.stringify(require.resolve('@gramfleet/workers'))});
      const { createWasmKrylovDense } = require(${JSON.stringify(require.resolve('@gramfleet/workers/internal'))});
      const file = process.argv[1];
      const arena = new WasmArena(new WebAssembly.Module(fs.readFileSync(file)));
      const params = core.compileDatagenParams({ pde: 'helmholtz', grid: 18, count: 3, seed: 2, restart: 20, recycle: 8 });
      let rec = [];
      const h = createHash('sha256');
      for (let i = 0; i < 3; i++) {
        arena.reset();
        const out = core.datagenSolve({ params, index: i }, rec, createWasmKrylovDense(arena));
        for (const o of out) h.update(new Uint8Array(o.data.buffer, o.data.byteOffset, o.data.byteLength));
        rec = core.recycleRows(out[1]);
      }
      process.stdout.write(h.digest('hex'));`;
    const run = (file: string, args: string[]): string => {
      const r = spawnSync(process.execPath, [...args, '-e', script, file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    const plain = run(kernelsWasmPath, []);
    const fma = run(kernelsFmaWasmPath, relaxedSimdAvailable() ? [] : relaxedSimdNodeArgs());
    assert.match(plain, /^[0-9a-f]{64}$/);
    assert.equal(fma, plain);
    assert.notEqual(plain, createHash('sha256').digest('hex'));
  });
});

function fmaSkip(): string | false {
  if (!fs.existsSync(kernelsFmaWasmPath)) return `skipped: ${kernelsFmaWasmPath} is missing (scripts/setup.sh builds it)`;
  if (!relaxedSimdAvailable() && relaxedSimdNodeArgs().length === 0)
    return 'skipped: this Node accepts relaxed SIMD neither by default nor with --experimental-wasm-relaxed-simd';
  return false;
}
