/**
 * Krylov-recycled data generation on real servers: a dataset from 1 worker equals the one
 * from 3 workers for the same chunking (byte-identical solutions and recycled spaces, by
 * content digest); every stored solution's true residual, recomputed from the stored CSR A
 * and b, is ≤ rtol; a rerun of the same job re-solves nothing; a worker killed with SIGKILL
 * mid-chunk leaves a complete dataset, equal to an in-process solve of the same chain, with
 * every system present exactly once. Results are paged: the workflow returns one object-store
 * page reference per chunk (no per-system references), and a 10,000-system job is accepted.
 * The 3-D families go through the CLI the same way (N³ solutions, residuals from the stored systems).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { datagenSolve, decodeNpy, isGramfleetError, type DatagenJobResult, type DatagenWorkflowResult } from '@gramfleet/core';
import { readCsrNpz, type DatagenJobSpec, type DatasetManifest } from '@gramfleet/orchestrator';
import { prepareDatagen } from '@gramfleet/orchestrator/internal';
import { kernelsWasmPath } from '@gramfleet/wasm';
import { WasmArena } from '@gramfleet/workers';
import { createWasmKrylovDense } from '@gramfleet/workers/internal';
import { runGramfleet, startTestCluster, until, type TestCluster } from './harness';

const suffix = randomBytes(3).toString('hex');
function digests(r: DatagenJobResult): string[] {
  return [...r.systems]
    .sort((a, b) => a.chunk - b.chunk || a.position - b.position)
    .map((s) => `${s.chunk}/${s.position}/${s.index}:${s.outputs[0]?.digest}:${s.outputs[1]?.digest}`);
}

function assertEachOnce(r: DatagenJobResult, count: number): void {
  const keys = new Set(r.systems.map((s) => `${s.chunk}/${s.position}`));
  assert.equal(r.systems.length, count);
  assert.equal(keys.size, count, 'every (chunk, position) exactly once');
  assert.deepEqual(
    r.systems.map((s) => s.index).sort((a, b) => a - b),
    Array.from({ length: count }, (_, i) => i),
  );
}

describe('datagen on a real cluster', () => {
  let t: TestCluster;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-datagen-out-'));
  before(async () => {
    t = await startTestCluster('datagen', { workers: 1, dataPlane: { ackWaitMs: 2000, maxDeliver: 5 } });
  });
  after(async () => {
    await t?.stop();
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('1 worker and 3 workers give the same dataset; residuals ≤ rtol from the stored systems; a rerun re-solves nothing', async () => {
    const spec: DatagenJobSpec = { kind: 'datagen', pde: 'darcy', grid: 15, count: 12, seed: 5, chunkSize: 4, rtol: 1e-8 };
    const input = prepareDatagen({ ...spec, jobId: `dg-one-${suffix}` });
    const one = await (await t.fleet.submit({ ...spec, jobId: `dg-one-${suffix}` })).result();
    assertEachOnce(one, 12);
    await t.cluster.addWorker();
    await t.cluster.addWorker();
    await t.cluster.waitForWorkers(3);
    const h3 = await t.fleet.submit({ ...spec, jobId: `dg-three-${suffix}` });
    const three = await h3.result();
    assertEachOnce(three, 12);
    assert.deepEqual(digests(three), digests(one), 'same solutions and recycled spaces, byte for byte');
    const prog = await h3.progress();
    assert.equal(prog.systemsDone, 12);
    assert.ok(prog.matvecs > 0 && Number.isFinite(prog.matvecsSaved));

    // The workflow's own result holds only page references, one per chunk.
    const conn = await Connection.connect({ address: t.cluster.state.temporalAddress });
    let pages: DatagenWorkflowResult['pages'] = [];
    try {
      const raw = (await new Client({ connection: conn }).workflow.getHandle(`dg-one-${suffix}`).result()) as DatagenWorkflowResult;
      pages = raw.pages;
      assert.equal(raw.pages.length, 3);
      assert.equal((raw as unknown as { systems?: unknown }).systems, undefined);
      assert.ok(raw.pages.every((p) => p.dtype === 'u8'));
    } finally {
      await conn.close();
    }

    const m: DatasetManifest = await t.fleet.writeDataset(input, one, out, { storeSystems: true });
    assert.equal(m.systems.length, 12);
    assert.equal(m.chunks.length, 3);
    for (const c of m.chunks) {
      const xs = decodeNpy(fs.readFileSync(path.join(out, c.solutions)));
      assert.deepEqual(xs.shape, [c.indices.length, 15, 15]);
      const ins = decodeNpy(fs.readFileSync(path.join(out, c.inputs)));
      assert.deepEqual(ins.shape, [c.indices.length, 17, 17]);
      for (let p = 0; p < c.indices.length; p++) {
        const tag = String(c.indices[p]).padStart(6, '0');
        const a = await readCsrNpz(path.join(out, 'systems', `A_${tag}.npz`));
        const b = decodeNpy(fs.readFileSync(path.join(out, 'systems', `b_${tag}.npy`))).data as Float64Array;
        const x = (xs.data as Float64Array).subarray(p * 225, (p + 1) * 225);
        let rr = 0;
        let bb = 0;
        for (let i = 0; i < 225; i++) {
          let ax = 0;
          for (let q = a.indptr[i] as number; q < (a.indptr[i + 1] as number); q++) ax += (a.data[q] as number) * (x[a.indices[q] as number] as number);
          rr += ((b[i] as number) - ax) ** 2;
          bb += (b[i] as number) ** 2;
        }
        assert.ok(Math.sqrt(rr / bb) <= 1e-8, `system ${c.indices[p]}: ${Math.sqrt(rr / bb)}`);
      }
    }
    for (const s of m.systems) assert.ok(s.relres <= 1e-8 && s.matvecs > 0 && s.iterations > 0);
    // Systems after the first of each chunk start from the carried space.
    assert.ok(m.systems.filter((s) => s.position > 0).every((s) => s.recycled > 0));

    const again = await (await t.fleet.submit({ ...spec, jobId: `dg-one-${suffix}` })).result();
    assert.equal(again.publishedTasks, 0, 'a rerun publishes no task');
    assert.deepEqual(digests(again), digests(one));

    // Page GC: once the dataset is written the job's page objects are deleted; the solutions stay.
    const h1 = t.fleet.job('datagen', `dg-one-${suffix}`);
    assert.equal(await t.fleet.releaseDatagenPages(h1.jobId), 3);
    for (const ref of pages) await assert.rejects(t.fleet.getArray(ref), (e: unknown) => isGramfleetError(e) && e.code === 'STORE_MISSING_OBJECT');
    await assert.rejects(h1.result(), (e: unknown) => isGramfleetError(e) && e.code === 'STORE_MISSING_OBJECT');
    assert.equal(await t.fleet.releaseDatagenPages(h1.jobId), 0, 'idempotent');
    assert.ok((await t.fleet.getArray(one.systems[0]!.outputs[0]!)).data.length === 225, 'solutions are kept');
    // Submitting the job again rewrites its pages without solving anything again.
    const back = await (await t.fleet.submit({ ...spec, jobId: `dg-one-${suffix}` })).result();
    assert.equal(back.publishedTasks, 0);
    assert.deepEqual(digests(back), digests(one));
  });

  it('a 10,000-system job is accepted; payload bounds are typed errors before anything is scheduled', () => {
    const big = prepareDatagen({ kind: 'datagen', pde: 'darcy', grid: 8, count: 10_000, seed: 1 });
    assert.equal(big.chunks.flat().length, 10_000);
    assert.ok(JSON.stringify(big).length < 200_000, 'the chain is a small workflow input');
    const bad = (spec: Partial<DatagenJobSpec>, field: string): void => {
      assert.throws(
        () => prepareDatagen({ kind: 'datagen', pde: 'darcy', grid: 8, count: 10_000, seed: 1, ...spec }),
        (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_TOO_LARGE' && e.details['field'] === field,
      );
    };
    bad({ count: 20_001 }, 'count');
    bad({ chunkSize: 2 }, 'chunkSize'); // 5,000 chunks
    bad({ chunkSize: 512, window: 8 }, 'chunkSize'); // 4,096 unpaged outcomes
  });

  it("CLI: writes the dataset and releases the job's pages; a rerun re-solves nothing; --keep-pages keeps them", async () => {
    const dir = path.join(out, 'cli');
    const args = [
      'datagen',
      '--pde',
      'advection-diffusion',
      '--grid',
      '10',
      '--count',
      '6',
      '--chunk-size',
      '3',
      '--seed',
      '4',
      '--out',
      dir,
      '--data-dir',
      t.dir,
      '--json',
    ];
    const run = async (extra: string[]): Promise<Record<string, unknown>> => {
      const r = await runGramfleet([...args, ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
    };
    const first = await run([]);
    assert.equal(first['systems'], 6);
    assert.equal(first['pagesReleased'], 2);
    assert.ok(Number(first['maxRelres']) <= 1e-8);
    assert.ok(fs.existsSync(path.join(dir, 'manifest.json')));
    const jobId = String(first['jobId']);
    await assert.rejects(t.fleet.job('datagen', jobId).result(), (e: unknown) => isGramfleetError(e) && e.code === 'STORE_MISSING_OBJECT');
    const again = await run(['--keep-pages']);
    assert.equal(again['jobId'], jobId);
    assert.equal(again['publishedTasks'], 0, 'nothing solved again');
    assert.equal(again['pagesReleased'], 0);
    const kept = await t.fleet.job('datagen', jobId).result();
    assert.equal(kept.systems.length, 6);
  });

  it('CLI, 3-D families: N³ solutions and (N+2)³ inputs, each true residual ≤ rtol from the stored A and b; a bad 3-D grid is a typed error', async () => {
    const N = 6;
    const n = N ** 3;
    for (const pde of ['helmholtz-3d', 'advection-diffusion-3d']) {
      const dir = path.join(out, `cli-${pde}`);
      const r = await runGramfleet([
        'datagen',
        '--pde',
        pde,
        '--grid',
        String(N),
        '--count',
        '4',
        '--chunk-size',
        '2',
        '--seed',
        '2',
        '--store-systems',
        '--out',
        dir,
        '--data-dir',
        t.dir,
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as DatasetManifest;
      assert.equal(m.params.pde, pde);
      assert.equal(m.systems.length, 4);
      for (const c of m.chunks) {
        const xs = decodeNpy(fs.readFileSync(path.join(dir, c.solutions)));
        assert.deepEqual(xs.shape, [c.indices.length, N, N, N]);
        assert.deepEqual(decodeNpy(fs.readFileSync(path.join(dir, c.inputs))).shape, [c.indices.length, N + 2, N + 2, N + 2]);
        for (let p = 0; p < c.indices.length; p++) {
          const tag = String(c.indices[p]).padStart(6, '0');
          const a = await readCsrNpz(path.join(dir, 'systems', `A_${tag}.npz`));
          assert.deepEqual(a.shape, [n, n]);
          const b = decodeNpy(fs.readFileSync(path.join(dir, 'systems', `b_${tag}.npy`))).data as Float64Array;
          const x = (xs.data as Float64Array).subarray(p * n, (p + 1) * n);
          let rr = 0;
          let bb = 0;
          for (let i = 0; i < n; i++) {
            let ax = 0;
            for (let q = a.indptr[i] as number; q < (a.indptr[i + 1] as number); q++) ax += (a.data[q] as number) * (x[a.indices[q] as number] as number);
            rr += ((b[i] as number) - ax) ** 2;
            bb += (b[i] as number) ** 2;
          }
          assert.ok(Math.sqrt(rr / bb) <= 1e-8, `${pde} system ${c.indices[p]}: ${Math.sqrt(rr / bb)}`);
        }
      }
      assert.ok(m.systems.every((s) => s.relres <= 1e-8));
    }
    const bad = await runGramfleet(['datagen', '--pde', 'darcy-3d', '--grid', '161', '--count', '4', '--out', path.join(out, 'bad'), '--data-dir', t.dir]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /grid/);
    assert.match(bad.stderr, /160/);
    assert.ok(!fs.existsSync(path.join(out, 'bad', 'manifest.json')));
  });

  it('a worker killed with SIGKILL mid-chunk: the dataset completes, each system once, equal to an in-process solve', async () => {
    await t.cluster.kill('worker-2', 'SIGKILL');
    await t.cluster.kill('worker-1', 'SIGKILL');
    const spec: DatagenJobSpec = { kind: 'datagen', pde: 'helmholtz', grid: 23, count: 10, seed: 9, chunkSize: 5, rtol: 1e-8, jobId: `dg-kill-${suffix}` };
    const input = prepareDatagen(spec);
    const h = await t.fleet.submit(spec);
    await until(async () => ((await h.progress().catch(() => undefined))?.systemsDone ?? 0) >= 2, 120_000, 'two systems solved');
    const mid = await h.progress();
    await t.cluster.kill('worker-0', 'SIGKILL'); // the only worker: it holds the chunks' next systems
    await t.cluster.addWorker();
    const r = await h.result();
    assert.ok(mid.systemsDone < mid.systemsTotal, `killed mid-job (${mid.systemsDone}/${mid.systemsTotal})`);
    assertEachOnce(r, 10);
    const redelivered = r.systems.filter((s) => s.stats.deliveryCount > 1).length;
    process.stdout.write(`# killed after ${mid.systemsDone}/10 systems; ${redelivered} system(s) redelivered; duplicate results ${r.duplicateResults}\n`);
    // The same chains solved in this process, carrying U, on the wasm dense backend as the
    // workers run it (plain kernel build here; the workers may run the FMA build: the Krylov
    // kernels give the same bits on both): byte-identical solutions.
    const arena = new WasmArena(new WebAssembly.Module(fs.readFileSync(kernelsWasmPath)));
    for (const [ci, chunk] of input.chunks.entries()) {
      let rec: Float64Array[] = [];
      for (const [pos, index] of chunk.entries()) {
        arena.reset();
        const [x, u] = datagenSolve({ params: input.params, index }, rec, createWasmKrylovDense(arena));
        const got = r.systems.find((s) => s.chunk === ci && s.position === pos);
        assert.ok(got !== undefined);
        const stored = await t.fleet.getArray(got.outputs[0] as NonNullable<(typeof got.outputs)[0]>);
        assert.deepEqual(stored.data, x?.data, `chunk ${ci} position ${pos}`);
        const k = u?.shape[0] ?? 0;
        const n = u?.shape[1] ?? 0;
        rec = Array.from({ length: k }, (_, i) => (u?.data as Float64Array).slice(i * n, (i + 1) * n));
      }
    }
  });
});
