/**
 * The EigenPro 3 projection solve in wasm (`gf_cholesky_solve_rows`, bound by
 * `choleskyWasmSolver`) against the f64 reference loop `choleskySolveInPlace`: the same
 * substitutions in another summation order, so they agree to rounding (1e-12 relative on
 * well-conditioned factors), for column counts that hit the 8-, 2- and 1-column paths; the
 * factor's upper triangle is never read (NaN there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Philox, choleskySolveInPlace } from '@gramfleet/core';
import { choleskyWasmSolver } from '@gramfleet/orchestrator/internal';

test('wasm (L·Lᵀ)θ = h matches the reference solve; the upper triangle is not read', () => {
  const rng = new Philox(5);
  let k = 0;
  const u = (): number => rng.uniform(k++, 0, 0, 0);
  for (const [p, c] of [
    [1, 1],
    [2, 2],
    [7, 3],
    [64, 9],
    [300, 11],
    [501, 1],
    [1000, 10],
    [37, 17],
  ] as const) {
    const l = new Float64Array(p * p);
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < i; j++) l[i * p + j] = ((u() - 0.5) * 0.2) / Math.sqrt(p);
      l[i * p + i] = 1 + u();
      for (let j = i + 1; j < p; j++) l[i * p + j] = NaN;
    }
    const h = new Float64Array(p * c).map(() => u() - 0.5);
    const want = Float64Array.from(h);
    choleskySolveInPlace(l, p, want, c);
    const got = Float64Array.from(h);
    const solve = choleskyWasmSolver(l, p);
    solve(got, c);
    let err = 0,
      scale = 0;
    for (let i = 0; i < got.length; i++) {
      err = Math.max(err, Math.abs((got[i] as number) - (want[i] as number)));
      scale = Math.max(scale, Math.abs(want[i] as number));
    }
    assert.ok(err <= 1e-12 * scale, `p=${p} c=${c}: max |Δ| ${err} vs max |θ| ${scale}`);
    // The solver is reusable: a second right-hand side through the same bound factor.
    const again = Float64Array.from(h);
    solve(again, c);
    assert.deepEqual(Array.from(again), Array.from(got));
  }
});
