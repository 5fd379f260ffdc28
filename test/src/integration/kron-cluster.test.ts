/**
 * The Kronecker GP through the real cluster (Temporal dev server + nats-server + 2 WASM
 * workers): the direct route against the in-process solve, a hyperparameter sweep fanned
 * out as independent shards, the slab-split solve (all-to-all transposes through the object
 * store) against the single-worker solve to 1e-12, and bad input rejected before anything is
 * scheduled.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { compileKronGp, isGramfleetError, resourceNames, solveKronCg, withHyper, type ErrorCode } from '@gramfleet/core';
import { fitKron, referenceKronLinalg, solveKron } from '@gramfleet/core/internal';
import { connectNats, createWasmKronLinalg, openDataPlane } from '@gramfleet/workers';
import { type KronGpJobSpec } from '@gramfleet/orchestrator';
import { kronCgCheckpointName, runCli } from '@gramfleet/orchestrator/internal';
import * as path from 'node:path';
import { readNpz, writeNpy } from '@gramfleet/orchestrator';
import { startTestCluster, until, type TestCluster } from './harness';

function linspace(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}
function relErr(a: Float64Array, b: Float64Array): number {
  let e = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    e += ((a[i] as number) - (b[i] as number)) ** 2;
    n += (b[i] as number) ** 2;
  }
  return Math.sqrt(e / n);
}

describe('Kronecker GP through the cluster (real Temporal + NATS)', () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('kron', { workers: 2 });
  });
  after(async () => {
    await t?.stop();
  });

  const axes = [linspace(0, 1, 14), linspace(0, 2, 11), linspace(-1, 1, 9)];
  const n = 14 * 11 * 9;
  const y = Float64Array.from({ length: n }, (_, i) => Math.sin(0.37 * i) + 0.1 * Math.cos(1.3 * i));
  const base = { axes, y, kernel: ['matern32', 'rbf', 'periodic'], lengthscales: [0.3, 0.5, 0.7], outputscale: 1.2, noise: 0.03 };

  it('direct route: α, LML and gradient equal the in-process solve; a 3-candidate sweep fans out as 3 shards', async () => {
    const candidates = [
      { lengthscales: [0.3, 0.5, 0.7], outputscale: 1.2, noise: 0.03 },
      { lengthscales: [0.1, 0.2, 0.3], outputscale: 1, noise: 0.1 },
      { lengthscales: [0.6, 1.0, 1.4], outputscale: 2, noise: 0.01 },
    ];
    const job = await t.fleet.submit({ kind: 'kron-gp', ...base, candidates });
    const r = await job.result();
    assert.equal(r.route, 'direct');
    assert.equal(r.shards, 3);
    assert.equal(r.candidates.length, 3);
    const p = compileKronGp(base);
    for (let i = 0; i < 3; i++) {
      const c = candidates[i]!;
      const local = solveKron(referenceKronLinalg, withHyper(p.model, c), p.y, { gradient: true });
      const got = r.candidates[i]!;
      const alpha = (await t.fleet.getArray(got.alpha)).data as Float64Array;
      assert.ok(relErr(alpha, local.alpha) <= 1e-11, `candidate ${i}: α rel err ${relErr(alpha, local.alpha)}`);
      assert.ok(Math.abs(got.lml - local.lml) <= 1e-10 * Math.abs(local.lml), `candidate ${i}: LML ${got.lml} vs ${local.lml}`);
      got.gradient!.lengthscales.forEach((g, d) => assert.ok(Math.abs(g - local.gradient!.lengthscales[d]!) <= 1e-8 * Math.max(1, Math.abs(g))));
    }
    assert.equal(
      r.best,
      r.candidates.reduce((b, c, i) => (c.lml > r.candidates[b]!.lml ? i : b), 0),
    );
  });

  it('slab route (3 slabs, 3 all-to-all transposes through the object store) equals the single-worker solve to 1e-12, its LML gradient to 1e-10', async () => {
    const single = await (await t.fleet.submit({ kind: 'kron-gp', ...base })).result();
    const slab = await (await t.fleet.submit({ kind: 'kron-gp', ...base, slabs: 3 })).result();
    assert.equal(slab.route, 'slab');
    assert.equal(single.route, 'direct');
    const a1 = (await t.fleet.getArray(single.candidates[0]!.alpha)).data as Float64Array;
    const a3 = (await t.fleet.getArray(slab.candidates[0]!.alpha)).data as Float64Array;
    assert.ok(relErr(a3, a1) <= 1e-12, `slab vs single α rel err ${relErr(a3, a1)}`);
    assert.ok(Math.abs(slab.candidates[0]!.lml - single.candidates[0]!.lml) <= 1e-12 * Math.abs(single.candidates[0]!.lml));
    // each transpose reads and writes the tensor twice (slabs, pieces): 4·N·8 bytes; the third moves α̃ for ∂ℓ_1
    assert.equal(slab.bytesMoved, 3 * 4 * n * 8);
    const gs = slab.candidates[0]!.gradient!;
    const g1 = single.candidates[0]!.gradient!;
    const close = (a: number, b: number, what: string): void =>
      assert.ok(Math.abs(a - b) <= 1e-10 * Math.max(1, Math.abs(b)), `${what}: slab ${a} vs single ${b}`);
    gs.lengthscales.forEach((g, d) => close(g, g1.lengthscales[d]!, `∂ℓ_${d}`));
    close(gs.outputscale, g1.outputscale, '∂s');
    close(gs.noise, g1.noise, '∂σ²');
    // and central finite differences of the in-process LML
    const p = compileKronGp(base);
    const h0 = { lengthscales: [0.3, 0.5, 0.7], outputscale: 1.2, noise: 0.03 };
    const lml = (h: typeof h0): number => solveKron(referenceKronLinalg, withHyper(p.model, h), p.y).lml;
    for (let d = 0; d < 3; d++) {
      const e = 1e-5;
      const fd =
        (lml({ ...h0, lengthscales: h0.lengthscales.map((l, i) => (i === d ? l + e : l)) }) -
          lml({ ...h0, lengthscales: h0.lengthscales.map((l, i) => (i === d ? l - e : l)) })) /
        (2 * e);
      assert.ok(Math.abs(fd - gs.lengthscales[d]!) <= 1e-6 * Math.max(1, Math.abs(fd)), `FD ∂ℓ_${d} ${fd} vs slab ${gs.lengthscales[d]}`);
    }
    assert.equal(slab.shards, 3 + 3 * 3);
    assert.deepEqual(slab.safeguards!.clamped.length, 3);
  });

  const mask = Uint8Array.from({ length: n }, (_, i) => ((i * 7919) % 10 < 3 ? 0 : 1)); // 30 % missing
  const noiseVector = Float64Array.from({ length: n }, (_, i) => 0.02 + (0.03 * ((i * 31) % 7)) / 6);
  for (const slabs of [1, 3]) {
    it(`PCG on the cluster (${slabs === 1 ? 'direct' : '3 slabs, transposes through the object store'}): masked grid + heteroscedastic noise equals the in-process PCG; iterations and residual reported`, async () => {
      // the slab case with 10× the noise: fewer iterations, each a round of 3 phases and 2 transposes
      const nv = slabs === 1 ? noiseVector : noiseVector.map((x) => 10 * x);
      const r = await (await t.fleet.submit({ kind: 'kron-gp', ...base, mask, noiseVector: nv, slabs, cgTol: 1e-11 })).result();
      const p = compileKronGp({ ...base, mask, noiseVector: nv });
      const local = solveKronCg(referenceKronLinalg, p.model, p.y, { mask, noise: nv, tol: 1e-11 });
      assert.ok(r.cg !== undefined);
      assert.equal(r.route, slabs === 1 ? 'direct' : 'slab');
      assert.equal(r.cg.observed, local.observed);
      assert.ok(r.cg.converged && r.cg.residual <= 1e-10, `residual ${r.cg.residual}`);
      assert.ok(Math.abs(r.cg.iterations - local.iterations) <= 2, `iterations ${r.cg.iterations} vs in-process ${local.iterations}`);
      assert.equal(r.cg.rounds, 2 * r.cg.iterations + 1, 'one preconditioner round to start, two rounds per iteration but the last, one final residual round');
      const alpha = (await t.fleet.getArray(r.candidates[0]!.alpha)).data as Float64Array;
      assert.ok(relErr(alpha, local.alpha) <= 1e-9, `α rel err ${relErr(alpha, local.alpha)}`);
      for (let i = 0; i < n; i++) if (mask[i] === 0) assert.equal(alpha[i], 0);
      if (slabs === 3) assert.ok(r.bytesMoved > 0);
      else assert.equal(r.bytesMoved, 0);
    });
  }

  it('hyperparameter fit on the cluster (direct: each LML + gradient a worker solve; slab route: each a slab solve) equals the in-process fit', async () => {
    const small = { axes: [linspace(0, 1, 12), linspace(0, 2, 10)], kernel: 'rbf', lengthscales: [0.5, 0.5], outputscale: 1, noise: 0.05 };
    const ys = Float64Array.from({ length: 120 }, (_, i) => Math.sin((3 * (i % 10)) / 5) * Math.cos((2 * Math.floor(i / 10)) / 11) + 0.05 * Math.sin(17.3 * i));
    const r = await (await t.fleet.submit({ kind: 'kron-gp', ...small, y: ys, fit: { optimizer: 'lbfgs', iters: 25 } })).result();
    const p = compileKronGp({ ...small, y: ys });
    const local = fitKron(createWasmKronLinalg(), p.model, p.y, { optimizer: 'lbfgs', iters: 25 });
    assert.ok(r.fit !== undefined);
    assert.equal(r.fit.restartedFrom, 0);
    assert.ok(Math.abs(r.fit.iterations - local.iterations) <= 3, `iterations ${r.fit.iterations} vs in-process ${local.iterations}`);
    const c = r.candidates[0]!;
    assert.ok(Math.abs(c.lml - local.lml) <= 1e-8 * Math.abs(local.lml), `LML ${c.lml} vs ${local.lml}`);
    c.hyper.lengthscales.forEach((l, d) =>
      assert.ok(Math.abs(l - local.model.kernels[d]!.lengthscale) <= 1e-4 * l, `ℓ_${d} ${l} vs ${local.model.kernels[d]!.lengthscale}`),
    );
    assert.ok(c.lml > r.fit.history[0]! - 1e-9 || r.fit.history.length === 0);
    assert.ok(c.gradient !== undefined && c.gradient.lengthscales.every((g) => Number.isFinite(g)));
    assert.equal(r.shards, r.fit.evaluations);
    // the slab route (2 slabs): the workflow drives the optimiser, each evaluation a slab solve with its gradient
    const rs = await (await t.fleet.submit({ kind: 'kron-gp', ...small, y: ys, slabs: 2, fit: { optimizer: 'lbfgs', iters: 6 } })).result();
    const local6 = fitKron(createWasmKronLinalg(), p.model, p.y, { optimizer: 'lbfgs', iters: 6 });
    assert.equal(rs.route, 'slab');
    assert.ok(rs.fit !== undefined && rs.bytesMoved > 0);
    assert.equal(rs.fit.evaluations, local6.evaluations);
    assert.ok(Math.abs(rs.candidates[0]!.lml - local6.lml) <= 1e-8 * Math.abs(local6.lml), `slab fit LML ${rs.candidates[0]!.lml} vs ${local6.lml}`);
    rs.candidates[0]!.hyper.lengthscales.forEach((l, d) =>
      assert.ok(Math.abs(l - local6.model.kernels[d]!.lengthscale) <= 1e-6 * l, `slab ℓ_${d} ${l} vs ${local6.model.kernels[d]!.lengthscale}`),
    );
  });

  it('CLI: kron-gp solve writes α, LML and gradient to a .npz equal to the in-process solve; predict with a mask runs PCG on the cluster; fit runs on the cluster; pde reports the error', async () => {
    const main = runCli;
    const yFile = path.join(t.dir, 'y.npy');
    await writeNpy(yFile, { dtype: 'f64', shape: [14, 11, 9], data: y });
    const out = path.join(t.dir, 'kron.npz');
    const grid = [
      '--grid',
      '14,11,9',
      '--bounds',
      '0:1,0:2,-1:1',
      '--kernel',
      'rbf',
      '--lengthscales',
      '0.3,0.5,0.7',
      '--outputscale',
      '1.2',
      '--noise',
      '0.03',
    ];
    assert.equal(await main(['kron-gp', 'solve', ...grid, '--y', yFile, '--out', out, '--json', '--data-dir', t.dir]), 0);
    const z = await readNpz(out);
    const p = compileKronGp({ ...base, kernel: 'rbf' });
    const local = solveKron(referenceKronLinalg, p.model, p.y, { gradient: true });
    const alpha = z['alpha'] as unknown as { data: Float64Array; shape: number[] };
    assert.deepEqual(alpha.shape, [14, 11, 9]);
    assert.ok(relErr(alpha.data, local.alpha) <= 1e-11);
    assert.ok(Math.abs(((z['lml'] as { data: Float64Array }).data[0] as number) - local.lml) <= 1e-10 * Math.abs(local.lml));
    assert.equal((z['grad_lengthscales'] as { data: Float64Array }).data.length, 3);
    const maskFile = path.join(t.dir, 'mask.npy');
    await writeNpy(maskFile, { dtype: 'u8', shape: [n], data: Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1)) });
    const out2 = path.join(t.dir, 'pred.npz');
    assert.equal(
      await main(['kron-gp', 'predict', ...grid, '--y', yFile, '--mask', maskFile, '--test-grid', '5,4,3', '--out', out2, '--json', '--data-dir', t.dir]),
      0,
    );
    const z2 = await readNpz(out2);
    assert.deepEqual((z2['mean'] as unknown as { shape: number[] }).shape, [5, 4, 3]);
    const m2 = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const localCg = solveKronCg(referenceKronLinalg, p.model, p.y, { mask: m2, tol: 1e-10 });
    assert.ok(relErr((z2['alpha'] as { data: Float64Array }).data, localCg.alpha) <= 1e-8, 'masked α from the cluster PCG equals the in-process PCG');
    // fit through the cluster: the fitted LML beats the starting one, history recorded
    const out3 = path.join(t.dir, 'fit.npz');
    assert.equal(
      await main(['kron-gp', 'fit', ...grid, '--y', yFile, '--optimizer', 'lbfgs', '--iters', '4', '--out', out3, '--json', '--data-dir', t.dir]),
      0,
    );
    const z3 = await readNpz(out3);
    const hist = (z3['lml_history'] as { data: Float64Array }).data;
    assert.ok(
      hist.length >= 1 && ((z3['lml'] as { data: Float64Array }).data[0] as number) >= local.lml,
      `fitted LML ${String((z3['lml'] as { data: Float64Array }).data[0])} vs start ${local.lml}`,
    );
    assert.equal((z3['lengthscales'] as { data: Float64Array }).data.length, 3);
    assert.equal(await main(['kron-gp', 'pde', '--problem', 'sine', '--grid', '24,24', '--lengthscale', '0.08', '--solution-check', '--json']), 0);
  });

  for (const fault of ['a worker killed with SIGKILL', 'the orchestrator killed with SIGKILL'] as const) {
    it(`slab route survives ${fault} mid-job: α equals the single-worker solve to 1e-12`, async () => {
      const big = {
        axes: [linspace(0, 1, 40), linspace(0, 1, 36), linspace(0, 1, 30)],
        y: Float64Array.from({ length: 40 * 36 * 30 }, (_, i) => Math.sin(0.11 * i)),
        kernel: 'matern52',
        lengthscales: [0.2, 0.3, 0.4],
        noise: 0.01,
      };
      const single = await (await t.fleet.submit({ kind: 'kron-gp', ...big, gradient: false })).result();
      const h = await t.fleet.submit({ kind: 'kron-gp', ...big, slabs: 8 });
      await until(async () => ((await h.progress().catch(() => undefined))?.shardsDone ?? 0) >= 3, 60_000, 'factor shards done');
      const mid = await h.progress();
      if (fault === 'a worker killed with SIGKILL') {
        const victim = t.cluster.state.processes.find((q) => q.name.startsWith('worker-'))?.name ?? 'worker-0';
        await t.cluster.kill(victim, 'SIGKILL');
        await t.cluster.addWorker();
      } else {
        await t.cluster.restartOrchestrator('SIGKILL');
      }
      const r = await h.result();
      assert.ok(mid.shardsDone < mid.shardsTotal, `fault injected mid-job (${mid.shardsDone}/${mid.shardsTotal})`);
      assert.equal(r.shards, 3 + 3 * 8);
      const a1 = (await t.fleet.getArray(single.candidates[0]!.alpha)).data as Float64Array;
      const a8 = (await t.fleet.getArray(r.candidates[0]!.alpha)).data as Float64Array;
      assert.ok(relErr(a8, a1) <= 1e-12, `α rel err ${relErr(a8, a1)}`);
    });
  }

  it('PCG survives the orchestrator killed with SIGKILL mid-solve: the retried activity resumes from its checkpoint, same α', async () => {
    const spec = { kind: 'kron-gp' as const, ...base, noise: 0.002, mask, heartbeatTimeoutMs: 4000, cgTol: 1e-11 };
    const p = compileKronGp(spec);
    const local = solveKronCg(referenceKronLinalg, p.model, p.y, { mask, tol: 1e-11 });
    const nc = await connectNats(t.cluster.state.natsUrl, 'kron-test', t.cluster.natsAuth('admin'));
    try {
      const dp = await openDataPlane(nc, resourceNames(t.cluster.state.prefix));
      const h = await t.fleet.submit(spec);
      const checkpoint = async (): Promise<boolean> => {
        const info = await dp.arrays.info(kronCgCheckpointName(h.jobId)).catch(() => null);
        return info !== null && info.deleted !== true;
      };
      await until(checkpoint, 120_000, 'first PCG checkpoint');
      await t.cluster.restartOrchestrator('SIGKILL');
      const r = await h.result();
      assert.ok(r.cg !== undefined && r.cg.resumedFrom > 0, `resumed from iteration ${r.cg?.resumedFrom}, not 0`);
      assert.ok(r.cg.resumedFrom < r.cg.iterations, `killed mid-solve (resumed at ${r.cg.resumedFrom} of ${r.cg.iterations})`);
      assert.ok(r.cg.residual <= 1e-10, `residual ${r.cg.residual}`);
      const alpha = (await t.fleet.getArray(r.candidates[0]!.alpha)).data as Float64Array;
      assert.ok(relErr(alpha, local.alpha) <= 1e-9, `α rel err ${relErr(alpha, local.alpha)} (${r.cg.iterations} vs ${local.iterations} iterations)`);
      assert.equal(await checkpoint(), false, 'the checkpoint is removed when the solve ends');
    } finally {
      await nc.close();
    }
  });

  it('bad input gets a typed error before anything is scheduled', async () => {
    const expect = async (spec: KronGpJobSpec, code: ErrorCode, field: string): Promise<void> => {
      try {
        await t.fleet.submit(spec);
      } catch (e) {
        assert.ok(isGramfleetError(e), String(e));
        assert.equal(e.code, code, e.message);
        assert.ok(e.message.includes(field), e.message);
        return;
      }
      assert.fail(`expected ${code}`);
    };
    await expect({ kind: 'kron-gp', ...base, y: y.subarray(1) }, 'INPUT_SHAPE_MISMATCH', 'y');
    await expect({ kind: 'kron-gp', ...base, axes: [[0, 1, 1, 2], axes[1]!, axes[2]!] }, 'INPUT_OUT_OF_RANGE', 'axes[0]');
    await expect({ kind: 'kron-gp', ...base, noise: -1 }, 'INPUT_OUT_OF_RANGE', 'noise');
    await expect(
      { kind: 'kron-gp', ...base, candidates: [{ lengthscales: [1, 1], outputscale: 1, noise: 0.1 }] },
      'INPUT_SHAPE_MISMATCH',
      'candidates[0].lengthscales',
    );
    await expect({ kind: 'kron-gp', ...base, mask: Uint8Array.from({ length: n }, () => 2) }, 'INPUT_OUT_OF_RANGE', 'mask[0]');
    await expect({ kind: 'kron-gp', ...base, mask, fit: { iters: 5 } }, 'INPUT_INVALID', 'mask');
    await expect({ kind: 'kron-gp', ...base, fit: { iters: 0 } }, 'INPUT_OUT_OF_RANGE', 'fit.iters');
    await expect({ kind: 'kron-gp', ...base, noiseVector: new Float64Array(n).fill(-1) }, 'INPUT_OUT_OF_RANGE', 'noiseVector[0]');
    const big = linspace(0, 1, 2000);
    await expect({ kind: 'kron-gp', axes: [big, big, big], y: [], kernel: 'rbf' }, 'INPUT_TOO_LARGE', 'axes');
  });
});
