import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkVarianceBound, kernelAlpha, modulation, modulationFromAlpha, parseKernelSpec, walkLengthCap, type GraphKernelSpec } from './kernels';

const codeOf = (e: unknown): unknown => (e as { code?: unknown }).code;

function selfConv(f: Float64Array): Float64Array {
  const out = new Float64Array(f.length);
  for (let k = 0; k < f.length; k++) {
    let s = 0;
    for (let j = 0; j <= k; j++) s += (f[j] ?? 0) * (f[k - j] ?? 0);
    out[k] = s;
  }
  return out;
}

const SPECS: GraphKernelSpec[] = [
  { kind: 'reg-laplacian', d: 1 },
  { kind: 'reg-laplacian', d: 2 },
  { kind: 'reg-laplacian', d: 3 },
  { kind: 'diffusion' },
  { kind: 'diffusion', beta: 2.5 },
  { kind: 'p-step', p: 2 },
  { kind: 'p-step', p: 3 },
  { kind: 'cosine' },
  { kind: 'custom', alpha: [2, 0.5, -0.1, 0.3, 0, 0.01] },
];

test('modulation f ∗ f = α for every family', () => {
  for (const spec of SPECS) {
    const len = 24;
    const f = modulation(spec, len);
    const a = kernelAlpha(spec, len);
    const c = selfConv(f);
    for (let k = 0; k < len; k++) {
      const tol = 1e-12 * Math.max(1, Math.abs(a[k] ?? 0));
      assert.ok(Math.abs((c[k] ?? 0) - (a[k] ?? 0)) <= tol, `${JSON.stringify(spec)} k=${k}: f∗f=${c[k]} α=${a[k]}`);
    }
    // The closed forms agree with the generic recursion.
    const g = modulationFromAlpha(a, len);
    for (let k = 0; k < len; k++) assert.ok(Math.abs((g[k] ?? 0) - (f[k] ?? 0)) <= 1e-12 * Math.max(1, Math.abs(f[k] ?? 0)), `${spec.kind} recursion k=${k}`);
  }
});

test('closed forms: d=1 is C(2k,k)/4^k, d=2 is all ones, diffusion 1/(2^k k!)', () => {
  const f1 = modulation({ kind: 'reg-laplacian', d: 1 }, 6);
  assert.deepEqual(
    [...f1].map((x) => +x.toFixed(12)),
    [1, 0.5, 0.375, 0.3125, 0.2734375, 0.24609375],
  );
  assert.deepEqual([...modulation({ kind: 'reg-laplacian', d: 2 }, 5)], [1, 1, 1, 1, 1]);
  const fd = modulation({ kind: 'diffusion' }, 4);
  assert.deepEqual(
    [...fd].map((x) => +x.toFixed(12)),
    [1, 0.5, 0.125, +(1 / 48).toFixed(12)],
  );
  assert.deepEqual(
    [...modulation({ kind: 'p-step', p: 2 }, 4)].map((x) => x + 0),
    [1, 1, 0, 0],
  );
});

test('non-positive α₀ is a typed error', () => {
  assert.throws(
    () => modulationFromAlpha([0, 1, 2]),
    (e) => codeOf(e) === 'INPUT_OUT_OF_RANGE',
  );
  assert.throws(
    () => modulation({ kind: 'custom', alpha: [-1, 2] }, 3),
    (e) => codeOf(e) === 'INPUT_OUT_OF_RANGE' && /alpha\[0\]/.test((e as Error).message),
  );
});

test('walkLengthCap leaves survival below 1e-18 and caps at 4096', () => {
  for (const p of [0.5, 0.1, 0.02]) {
    const L = walkLengthCap(p);
    assert.ok(Math.pow(1 - p, L) < 1e-18 && Math.pow(1 - p, L - 1) >= 1e-18, `p=${p} L=${L}`);
  }
  assert.equal(walkLengthCap(0.5), 60);
  assert.equal(walkLengthCap(1e-6), 4096);
  assert.throws(
    () => walkLengthCap(1),
    (e) => codeOf(e) === 'INPUT_OUT_OF_RANGE',
  );
});

test('variance bound: c² ≥ 1 − pHalt is rejected naming `scale`', () => {
  checkVarianceBound({ kind: 'reg-laplacian', d: 1 }, 0.9, 0.1);
  checkVarianceBound({ kind: 'reg-laplacian', d: 2 }, 0.25, 0.5);
  checkVarianceBound({ kind: 'diffusion' }, 2, 0.5);
  assert.throws(
    () => checkVarianceBound({ kind: 'reg-laplacian', d: 1 }, 0.95, 0.1),
    (e) => codeOf(e) === 'INPUT_OUT_OF_RANGE' && (e as { details: { field?: unknown } }).details.field === 'scale' && /scale/.test((e as Error).message),
  );
});

test('parseKernelSpec validates with typed errors naming the field', () => {
  assert.deepEqual(parseKernelSpec({ kind: 'reg-laplacian', d: 2 }), { kind: 'reg-laplacian', d: 2 });
  assert.deepEqual(parseKernelSpec({ kind: 'diffusion' }), { kind: 'diffusion' });
  assert.deepEqual(parseKernelSpec({ kind: 'custom', alpha: [1, 0.5] }), { kind: 'custom', alpha: [1, 0.5] });
  assert.throws(
    () => parseKernelSpec({ kind: 'heat' }),
    (e) => codeOf(e) === 'INPUT_INVALID' && /kernel\.kind/.test((e as Error).message),
  );
  assert.throws(
    () => parseKernelSpec({ kind: 'reg-laplacian', d: -1 }),
    (e) => codeOf(e) === 'INPUT_OUT_OF_RANGE' && /kernel\.d/.test((e as Error).message),
  );
  assert.throws(
    () => parseKernelSpec({ kind: 'p-step', p: 1.5 }),
    (e) => codeOf(e) === 'INPUT_INVALID',
  );
  assert.throws(
    () => parseKernelSpec({ kind: 'custom', alpha: [0, 1] }),
    (e) => codeOf(e) === 'INPUT_OUT_OF_RANGE',
  );
  assert.throws(
    () => parseKernelSpec(null),
    (e) => codeOf(e) === 'INPUT_INVALID',
  );
});
