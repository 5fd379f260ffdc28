/**
 * The slab route's LML gradient pieces, run in-process on the float64 reference ops: the
 * `kron-slab` steps `keep`/`moments`/`quad` on slabs plus `kronGradientFromSums` equal the
 * single-worker gradient of `solveKron` (≤ 1e-10 relative) and central finite differences.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ndarray, type NdArray } from '../array';
import { kronFactorRun, kronSlabRun, type KronSlabStep } from '../ops/kron-gp';
import { slabRanges } from './job';
import { kronGradientFromSums, solveKron } from './gp';
import { compileKronGp, withHyper } from './params';
import { referenceKronLinalg as lin } from './tensor';

function linspace(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

describe('slab-route LML gradient pieces', () => {
  for (const [kernel, shape] of [
    ['rbf', [7, 6, 5]],
    ['matern32', [9, 8]],
  ] as const) {
    it(`${kernel} ${shape.join('x')}: quad/moments over slabs + trace terms = solveKron's gradient and finite differences`, () => {
      const axes = shape.map((n, d) => linspace(-1 + d * 0.1, 1 + 0.5 * d, n));
      const N = shape.reduce((a, b) => a * b, 1);
      const y = Float64Array.from({ length: N }, (_, i) => Math.sin(0.37 * i) + 0.2 * Math.cos(1.1 * i));
      const p = compileKronGp({ axes, y, kernel, lengthscales: shape.map((_, d) => 0.4 + 0.2 * d), outputscale: 1.3, noise: 0.05 });
      const m = p.model;
      const full = solveKron(lin, m, p.y, { gradient: true });
      const D = shape.length;
      const axisArrays: NdArray[] = m.axes.map((a) => ndarray('f64', [a.length], a));
      const facs = m.kernels.map((k, d) => kronFactorRun(lin, { axis: d, kernel: k, jitter: 0, eigFloor: 0, gradient: true }, axisArrays));
      const w = facs.map((f) => f[0] as NdArray);
      // α̃ on the full grid, then cut along axis 1 (stage b) and along axis 0 (stage c)
      const at = full.alphaTilde;
      const cut = (axis: number, r: { start: number; end: number }): Float64Array => {
        const out: number[] = [];
        const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
        for (let i = 0; i < N; i++) {
          const k = Math.floor(i / (strides[axis] as number)) % (shape[axis] as number);
          if (k >= r.start && k < r.end) out.push(at[i] as number);
        }
        return Float64Array.from(out);
      };
      const eig = w.map((_, d) => d + 1);
      let alphaSq = 0;
      let alphaLam = 0;
      const quad = new Array<number>(D).fill(0);
      for (const r of slabRanges(shape[1] as number, 3)) {
        const sh = shape.map((s, d) => (d === 1 ? r.end - r.start : s));
        const ds = shape.map((_, d) => d).filter((d) => d !== 1);
        const steps: KronSlabStep[] = [
          { kind: 'moments', slabAxis: 1, start: r.start, outputscale: m.outputscale, eigInputs: eig },
          ...ds.map((d, i): KronSlabStep => ({
            kind: 'quad',
            mode: d,
            input: 1 + D + i,
            slabAxis: 1,
            start: r.start,
            outputscale: m.outputscale,
            eigInputs: eig,
          })),
        ];
        const out = kronSlabRun(lin, { shape: sh, steps }, [ndarray('f64', sh, cut(1, r)), ...w, ...ds.map((d) => (facs[d] as NdArray[])[3] as NdArray)]);
        const st = (out[1] as NdArray).data as Float64Array;
        alphaSq += st[0] as number;
        alphaLam += st[1] as number;
        ds.forEach((d, i) => {
          quad[d] = (quad[d] as number) + (st[2 + i] as number);
        });
      }
      for (const r of slabRanges(shape[0] as number, 2)) {
        const sh = shape.map((s, d) => (d === 0 ? r.end - r.start : s));
        const x = ndarray('f64', sh, cut(0, r));
        const out = kronSlabRun(
          lin,
          {
            shape: sh,
            steps: [
              { kind: 'keep' },
              { kind: 'quad', mode: 1, input: D + 2, src: 1, slabAxis: 0, start: r.start, outputscale: m.outputscale, eigInputs: eig.map((e) => e + 1) },
            ],
          },
          [x, x, ...w, (facs[1] as NdArray[])[3] as NdArray],
        );
        assert.deepEqual(Array.from((out[1] as NdArray).data as Float64Array), Array.from(x.data as Float64Array), 'keep returns x');
        quad[1] = (quad[1] as number) + (((out[2] as NdArray).data as Float64Array)[0] as number);
      }
      const bdiag = facs.map((f) => {
        const b = (f[3] as NdArray).data as Float64Array;
        const n = Math.round(Math.sqrt(b.length));
        return Float64Array.from({ length: n }, (_, i) => b[i * n + i] as number);
      });
      const g = kronGradientFromSums(
        w.map((x) => x.data as Float64Array),
        bdiag,
        m.outputscale,
        m.noise,
        { quad, alphaSq, alphaLam },
      );
      const ref = full.gradient!;
      const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-10 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
      g.lengthscales.forEach((x, d) => close(x, ref.lengthscales[d] as number, `∂ℓ_${d}`));
      close(g.outputscale, ref.outputscale, '∂s');
      close(g.noise, ref.noise, '∂σ²');
      // central finite differences
      const h0 = { lengthscales: m.kernels.map((k) => k.lengthscale), outputscale: m.outputscale, noise: m.noise };
      const lml = (hh: typeof h0): number => solveKron(lin, withHyper(m, hh), p.y).lml;
      for (let d = 0; d < D; d++) {
        const e = 1e-5;
        const up = { ...h0, lengthscales: h0.lengthscales.map((l, i) => (i === d ? l + e : l)) };
        const dn = { ...h0, lengthscales: h0.lengthscales.map((l, i) => (i === d ? l - e : l)) };
        const fd = (lml(up) - lml(dn)) / (2 * e);
        assert.ok(Math.abs(fd - (g.lengthscales[d] as number)) <= 1e-6 * Math.max(1, Math.abs(fd)), `FD ∂ℓ_${d}: ${fd} vs ${g.lengthscales[d]}`);
      }
      const e = 1e-6;
      const fdN = (lml({ ...h0, noise: h0.noise + e }) - lml({ ...h0, noise: h0.noise - e })) / (2 * e);
      assert.ok(Math.abs(fdN - g.noise) <= 1e-6 * Math.max(1, Math.abs(fdN)), `FD ∂σ²: ${fdN} vs ${g.noise}`);
    });
  }
});
