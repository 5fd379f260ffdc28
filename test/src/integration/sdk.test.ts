/**
 * The Ray-like SDK on real servers: put/get (inline and by reference), registerWasm + map of
 * the AssemblyScript example kernel (the GRF modulation of custom kernels, checked against the
 * float64 reference), and the sandbox through a real worker: a module that reads a host file,
 * opens a socket, grows memory past its cap, loops forever, claims a huge output or asks for
 * more than the workers' sandbox limits fails with its typed error; a module flooding stdout and
 * stderr still answers; and the same worker keeps serving. The workers' memory bound is set by
 * policy here (GRAMFLEET_USER_WASM_MAX_MEMORY_MB=32, inherited by the cluster's processes).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { isGramfleetError, kernelAlpha, modulation, type ErrorCode, type GraphKernelSpec } from '@gramfleet/core';
import {
  WAT_DOUBLE,
  WAT_GROW,
  WAT_HUGE_OUTPUT,
  WAT_IMPORTS_SOCKET,
  WAT_LOG_FLOOD,
  WAT_READ_FILE,
  WAT_SOCKET,
  WAT_SPIN,
  WAT_UNCAPPED,
  assembleWat,
} from '@gramfleet/workers/testing';
import type { TaskRef } from '@gramfleet/orchestrator';
import { startTestCluster, type TestCluster } from './harness';

const repo = path.resolve(__dirname, '..', '..', '..');
/** The workers' sandbox memory bound in this file (policy, MiB). */
const MAX_MEMORY_MB = 32;

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, code, e.message);
    return true;
  });
}

describe('Ray-like SDK (real NATS + workers)', () => {
  let t: TestCluster;
  let modulationWasm: string;
  before(async () => {
    // The example kernel is built from its AssemblyScript source here, as a user would.
    modulationWasm = execFileSync(process.execPath, [path.join(repo, 'examples', 'user-kernel', 'build.js')], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    const saved = process.env['GRAMFLEET_USER_WASM_MAX_MEMORY_MB'];
    process.env['GRAMFLEET_USER_WASM_MAX_MEMORY_MB'] = String(MAX_MEMORY_MB);
    try {
      t = await startTestCluster('sdk', { workers: 1 });
    } finally {
      if (saved === undefined) delete process.env['GRAMFLEET_USER_WASM_MAX_MEMORY_MB'];
      else process.env['GRAMFLEET_USER_WASM_MAX_MEMORY_MB'] = saved;
    }
  });
  after(async () => {
    await t?.stop();
  });

  it('put/get: small values inline, arrays by reference through the object store', async () => {
    const small = await t.fleet.put(Float64Array.of(1.5));
    assert.ok(small.inline !== undefined && small.array === undefined);
    assert.deepEqual(Array.from((await t.fleet.get(small)) as Float64Array), [1.5]);
    assert.equal(await t.fleet.get(await t.fleet.put(42)), 42);
    const big = Float64Array.from({ length: 300_000 }, (_, i) => Math.sin(i));
    const ref = await t.fleet.put(big);
    assert.ok(ref.array !== undefined && ref.inline === undefined && ref.array.bytes > big.byteLength);
    assert.deepEqual(await t.fleet.get(ref), big);
  });

  it('the AssemblyScript example computes GRF modulation functions on the workers, equal to the float64 reference', async () => {
    const kern = await t.fleet.registerWasm(modulationWasm, { exports: ['modulation'] });
    assert.match(kern.digest, /^[0-9a-f]{64}$/);
    const specs: GraphKernelSpec[] = [
      { kind: 'diffusion', beta: 0.5 },
      { kind: 'diffusion', beta: 2 },
      { kind: 'reg-laplacian', d: 2 },
      { kind: 'p-step', p: 3 },
    ];
    const L = 40;
    const alphas = specs.map((s) => kernelAlpha(s, L));
    const big = await t.fleet.put(kernelAlpha({ kind: 'diffusion', beta: 1 }, 400)); // by reference (3.2 KB)
    const refs = t.fleet.map(kern, 'modulation', [...alphas, big], { class: 'wasm', memoryMB: 4, timeoutMs: 10_000 });
    const w = await t.fleet.wait(refs, { numReturns: refs.length, timeoutMs: 120_000 });
    assert.equal(w.ready.length, refs.length);
    for (let i = 0; i < specs.length; i++) {
      const f = (await t.fleet.get(refs[i]!)) as Float64Array;
      const ref = modulation(specs[i]!, L);
      for (let k = 0; k < L; k++)
        assert.ok(Math.abs(f[k]! - ref[k]!) <= 1e-12 * Math.max(1, Math.abs(ref[k]!)), `${specs[i]!.kind} f[${k}] ${f[k]} vs ${ref[k]}`);
    }
    const fBig = (await t.fleet.get(refs[specs.length]!)) as Float64Array;
    const refBig = modulation({ kind: 'diffusion', beta: 1 }, 400);
    assert.equal(fBig.length, 400);
    for (let k = 0; k < 400; k++) assert.ok(Math.abs(fBig[k]! - refBig[k]!) <= 1e-12, `diffusion β=1 f[${k}] ${fBig[k]} vs ${refBig[k]}`);
    // Bad input to map is rejected before anything is published.
    assert.throws(
      () => t.fleet.map(kern, 'nope', [Float64Array.of(1)]),
      (e) => isGramfleetError(e) && e.code === 'KERNEL_BAD_MODULE',
    );
    assert.throws(
      () => t.fleet.map(kern, 'modulation', [Float64Array.of(1)], { memoryMB: 0 }),
      (e) => isGramfleetError(e) && e.code === 'INPUT_OUT_OF_RANGE',
    );
  });

  it('sandbox through a worker: file, socket, memory and time violations fail with typed errors, the worker keeps serving', async () => {
    const workersBefore = (await t.fleet.workers()).map((w) => w.workerId).sort();
    const good = await t.fleet.registerWasm(await assembleWat(WAT_DOUBLE), { exports: ['double'] });
    const ok = async (): Promise<void> => {
      const [r] = t.fleet.map(good, 'double', [Float64Array.of(1, 2, 3)], { memoryMB: 1, timeoutMs: 10_000 });
      assert.deepEqual(Array.from((await t.fleet.get(r!)) as Float64Array), [2, 4, 6]);
    };
    const cases: [string, string, ErrorCode, { memoryMB?: number; timeoutMs?: number }][] = [
      [WAT_READ_FILE, 'steal', 'KERNEL_SANDBOX_DENIED', {}],
      [WAT_SOCKET, 'listen', 'KERNEL_SANDBOX_DENIED', {}],
      [WAT_GROW, 'hog', 'KERNEL_USER_MEMORY_LIMIT', { memoryMB: 4 }],
      [WAT_SPIN, 'spin', 'KERNEL_USER_TIMEOUT', { timeoutMs: 500 }],
      [WAT_HUGE_OUTPUT, 'spew', 'KERNEL_BAD_MODULE', {}],
    ];
    for (const [wat, fn, code, o] of cases) {
      const k = await t.fleet.registerWasm(await assembleWat(wat), { exports: [fn] });
      const [r] = t.fleet.map(k, fn, [Float64Array.of(1)], { memoryMB: o.memoryMB ?? 1, timeoutMs: o.timeoutMs ?? 10_000 });
      await rejectsWith(t.fleet.get(r as TaskRef), code);
      await ok();
    }
    // Refused at registration, before anything is scheduled.
    await rejectsWith(t.fleet.registerWasm(await assembleWat(WAT_IMPORTS_SOCKET), { exports: ['listen'] }), 'KERNEL_SANDBOX_DENIED');
    await rejectsWith(t.fleet.registerWasm(await assembleWat(WAT_UNCAPPED), { exports: ['f'] }), 'KERNEL_USER_MEMORY_LIMIT');
    await rejectsWith(t.fleet.registerWasm(Uint8Array.of(1, 2, 3), { exports: ['f'] }), 'KERNEL_BAD_MODULE');
    // A module flooding stdout and stderr (12.8 MB of forged log lines) still answers; the worker logs a bounded record.
    const flood = await t.fleet.registerWasm(await assembleWat(WAT_LOG_FLOOD), { exports: ['flood'] });
    const [fr] = t.fleet.map(flood, 'flood', [Float64Array.of(5, 6)], { memoryMB: 1, timeoutMs: 60_000 });
    assert.deepEqual(Array.from((await t.fleet.get(fr!)) as Float64Array), [10, 12]);
    await ok();
    // The same worker process served everything (none crashed or was replaced).
    assert.deepEqual((await t.fleet.workers()).map((w) => w.workerId).sort(), workersBefore);
    assert.ok(t.cluster.status().every((p) => p.alive));
  });

  it("the workers' sandbox limits: advertised in the registry, refused by map before anything is scheduled, and by the worker for a task that gets past the SDK", async () => {
    const [w] = await t.fleet.workers();
    assert.equal(w?.sandbox?.maxMemoryMB, MAX_MEMORY_MB);
    const good = await t.fleet.registerWasm(await assembleWat(WAT_DOUBLE), { exports: ['double'] });
    assert.equal(good.limits?.maxMemoryMB, MAX_MEMORY_MB);
    const overLimit = (e: unknown, where: RegExp): boolean => {
      assert.ok(isGramfleetError(e), String(e));
      assert.equal(e.code, 'KERNEL_USER_OVER_LIMIT', e.message);
      assert.deepEqual([e.details['field'], e.details['bound'], e.details['value']], ['memoryMB', MAX_MEMORY_MB, MAX_MEMORY_MB + 1]);
      assert.match(String(e.details['where']), where);
      assert.match(e.message, /GRAMFLEET_USER_WASM_MAX_MEMORY_MB/);
      return true;
    };
    assert.throws(
      () => t.fleet.map(good, 'double', [Float64Array.of(1)], { memoryMB: MAX_MEMORY_MB + 1 }),
      (e) => overLimit(e, /live WASM workers/),
    );
    // The default memory cap (64 MiB) is lowered to the workers' bound.
    const [d] = t.fleet.map(good, 'double', [Float64Array.of(4)]);
    assert.deepEqual(Array.from((await t.fleet.get(d!)) as Float64Array), [8]);
    // A kernel without the workers' limits (registered before they were known, or by hand): the worker refuses the task.
    const { limits: _limits, ...bare } = good;
    const [r] = t.fleet.map(bare, 'double', [Float64Array.of(1)], { memoryMB: MAX_MEMORY_MB + 1 });
    await assert.rejects(t.fleet.get(r!), (e) => overLimit(e, /^worker /));
    const [again] = t.fleet.map(good, 'double', [Float64Array.of(2)], { memoryMB: MAX_MEMORY_MB });
    assert.deepEqual(Array.from((await t.fleet.get(again!)) as Float64Array), [4]);
  });
});
