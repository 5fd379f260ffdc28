/**
 * Workflows that continue as new, on real servers: the Temporal dev server here suggests
 * continuing as new after a few dozen history events (its `limit.historyCount.suggestContinueAsNew`
 * dynamic config), so every job below runs as several workflow runs. Each must finish with the
 * same answer as an uninterrupted computation, each shard counted once:
 *
 * - GRF: Φ byte for byte equal to the float64 reference (a continued run must not cancel the
 *   job's shards on the workers, which would leave the next run waiting for dropped tasks);
 * - datagen: every system once, byte-identical to the same chains solved in this process;
 * - the Kronecker fit on the slab route: it continues between evaluations and replays the ones
 *   before into the (deterministic) optimiser; before this, `runSharded` launched nothing once
 *   the suggestion came and the fit looped on it forever.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { compileKronGp, datagenSolve, type DatagenJobResult } from '@gramfleet/core';
import { fitKron } from '@gramfleet/core/internal';
import type { DatagenJobSpec } from '@gramfleet/orchestrator';
import { prepareDatagen } from '@gramfleet/orchestrator/internal';
import { kernelsWasmPath } from '@gramfleet/wasm';
import { WasmArena, createWasmKronLinalg } from '@gramfleet/workers';
import { createWasmKrylovDense } from '@gramfleet/workers/internal';
import { grfReference, sharedGraph, startTestCluster, type TestCluster } from './harness';

const suffix = randomBytes(3).toString('hex');
/** History events after which the server suggests continuing as new (the default is thousands). */
const SUGGEST_AFTER = 30;

describe('workflows that continue as new (real Temporal + NATS, suggestion after 30 events)', () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('can', { workers: 2, temporalDynamicConfig: { 'limit.historyCount.suggestContinueAsNew': SUGGEST_AFTER } });
  });
  after(async () => {
    await t?.stop();
  });

  /** The number of runs a workflow id has had (1: it never continued as new). */
  async function runs(workflowId: string): Promise<number> {
    const conn = await Connection.connect({ address: t.cluster.state.temporalAddress });
    try {
      let n = 0;
      for await (const w of new Client({ connection: conn }).workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        n++;
        process.stdout.write(`# ${workflowId} run ${w.runId}: ${w.status.name}, ${w.historyLength} events\n`);
      }
      return n;
    } finally {
      await conn.close();
    }
  }

  it('GRF over 17 batches: Φ equals the float64 reference byte for byte, every shard once', async () => {
    const spec = {
      kind: 'grf' as const,
      jobId: `can-grf-${suffix}`,
      graph: sharedGraph('karate.adjlist'),
      kernel: 'reg-laplacian',
      scale: 0.25,
      walks: 16,
      pHalt: 0.5,
      seed: 7,
      shardNodes: 2,
      batchShards: 1,
      window: 2,
    };
    const r = await (await t.fleet.submit(spec)).result();
    const n = await runs(spec.jobId);
    assert.ok(n > 1, `the job continued as new (${n} runs)`);
    assert.equal(r.shards, 17);
    assert.equal(
      Object.values(r.workers).reduce((a, b) => a + b, 0),
      17,
      'every shard counted once',
    );
    const phi = await t.fleet.getCsr(r.phi[0]!);
    const ref = (await grfReference(spec)).phi;
    assert.deepEqual(phi.indptr, ref[0]!.data);
    assert.deepEqual(phi.indices, ref[1]!.data);
    assert.deepEqual(phi.data, ref[2]!.data);
    process.stdout.write(`# GRF: ${n} workflow runs\n`);
  });

  it('datagen over 6 chunks: every system once, byte-identical to the chains solved in this process', async () => {
    const spec: DatagenJobSpec = { kind: 'datagen', pde: 'darcy', grid: 9, count: 24, seed: 3, chunkSize: 4, rtol: 1e-8, jobId: `can-dg-${suffix}` };
    const input = prepareDatagen(spec);
    const r: DatagenJobResult = await (await t.fleet.submit(spec)).result();
    const n = await runs(spec.jobId as string);
    assert.ok(n > 1, `the job continued as new (${n} runs)`);
    assert.equal(r.systems.length, 24);
    assert.equal(new Set(r.systems.map((s) => `${s.chunk}/${s.position}`)).size, 24, 'every (chunk, position) once');
    const arena = new WasmArena(new WebAssembly.Module(fs.readFileSync(kernelsWasmPath)));
    for (const [ci, chunk] of input.chunks.entries()) {
      let rec: Float64Array[] = [];
      for (const [pos, index] of chunk.entries()) {
        arena.reset();
        const [x, u] = datagenSolve({ params: input.params, index }, rec, createWasmKrylovDense(arena));
        const got = r.systems.find((s) => s.chunk === ci && s.position === pos);
        assert.ok(got !== undefined, `chunk ${ci} position ${pos} present`);
        const stored = await t.fleet.getArray(got.outputs[0] as NonNullable<(typeof got.outputs)[0]>);
        assert.deepEqual(stored.data, x?.data, `chunk ${ci} position ${pos}`);
        const k = u?.shape[0] ?? 0;
        const m = u?.shape[1] ?? 0;
        rec = Array.from({ length: k }, (_, i) => (u?.data as Float64Array).slice(i * m, (i + 1) * m));
      }
    }
    process.stdout.write(`# datagen: ${n} workflow runs\n`);
  });

  it('Kronecker fit on the slab route: continues between evaluations; evaluations, LML history and fitted LML equal the in-process fit', async () => {
    const lin = (a: number, b: number, m: number): number[] => Array.from({ length: m }, (_, i) => a + ((b - a) * i) / (m - 1));
    const small = { axes: [lin(0, 1, 12), lin(0, 2, 10)], kernel: 'rbf', lengthscales: [0.5, 0.5], outputscale: 1, noise: 0.05 };
    const y = Float64Array.from({ length: 120 }, (_, i) => Math.sin((3 * (i % 10)) / 5) * Math.cos((2 * Math.floor(i / 10)) / 11) + 0.05 * Math.sin(17.3 * i));
    const jobId = `can-kron-${suffix}`;
    const r = await (await t.fleet.submit({ kind: 'kron-gp', jobId, ...small, y, slabs: 2, fit: { optimizer: 'lbfgs', iters: 6 } })).result();
    const n = await runs(jobId);
    assert.ok(n > 1, `the job continued as new (${n} runs)`);
    const p = compileKronGp({ ...small, y });
    const local = fitKron(createWasmKronLinalg(), p.model, p.y, { optimizer: 'lbfgs', iters: 6 });
    assert.ok(r.fit !== undefined);
    assert.equal(r.fit.evaluations, local.evaluations, 'each evaluation once');
    assert.equal(r.fit.history.length, local.history.length);
    r.fit.history.forEach((v, i) => assert.ok(Math.abs(v - (local.history[i] as number)) <= 1e-8 * Math.abs(v), `history[${i}] ${v} vs ${local.history[i]}`));
    assert.ok(Math.abs(r.candidates[0]!.lml - local.lml) <= 1e-8 * Math.abs(local.lml), `fitted LML ${r.candidates[0]!.lml} vs ${local.lml}`);
    process.stdout.write(`# Kronecker slab fit: ${n} workflow runs, ${r.fit.evaluations} evaluations\n`);
  });
});
