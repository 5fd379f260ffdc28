/**
 * The kernel library through the real worker runtime: a LocalCluster (real nats-server and
 * Temporal dev server) whose one WASM worker process runs one shard at a time over 2 threads
 * (`threadsPerShard: 2`, backend `wasm-mt`) and loads the FMA kernel build where its Node
 * accepts relaxed SIMD (the launcher adds the V8 flag on Node 20). Shards of a planned gemm and
 * kernel block are published as raw tasks; their assembled outputs must equal the f64
 * reference, and each result must name the backend that ran it.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { OPS, PROTOCOL_VERSION, resourceNames, taskSubject, type NdArray, type TaskResult, type WorkerRecord } from '@gramfleet/core';
import { planOpShards, taskMsgId } from '@gramfleet/core/internal';
import { LocalCluster } from '@gramfleet/orchestrator';
import { connectNats, createArrayStore, openDataPlane, relaxedSimdNodeArgs, type ArrayStore, type DataPlane } from '@gramfleet/workers';
import { kernelsFmaWasmPath, relaxedSimdAvailable } from '@gramfleet/workers/internal';
import { until } from './harness';

function rand(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

describe('kernel library through the worker runtime (threads per shard, kernel build)', () => {
  let dir: string;
  let cluster: LocalCluster;
  let dp: DataPlane;
  let store: ArrayStore;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-kernels-'));
    cluster = await LocalCluster.start({
      dataDir: dir,
      workers: 1,
      threadsPerWorker: 1,
      threadsPerShard: 2,
      taskQueue: `kernels-${randomBytes(3).toString('hex')}`,
      dataPlane: { ackWaitMs: 5000, maxDeliver: 3 },
      logLevel: 'info',
    });
    const nc = await connectNats(cluster.state.natsUrl, 'kernels-test', cluster.natsAuth('admin'));
    dp = await openDataPlane(nc, resourceNames(cluster.state.prefix), { ackWaitMs: 5000, maxDeliver: 3 });
    store = createArrayStore(dp.arrays, dp.names.arraysBucket, { chunkBytes: dp.chunkBytes });
  });
  after(async () => {
    await dp?.close();
    await cluster?.stop();
    if (process.env['GRAMFLEET_KEEP_TEST_DIRS'] === undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Publishes one task per shard of the plan and waits for every result. */
  async function runShards(op: string, attrs: Record<string, unknown>, inputs: NdArray[], parts: number): Promise<{ out: NdArray[]; results: TaskResult[] }> {
    const plan = planOpShards(OPS, op, attrs, inputs, { parts });
    const jobId = `kern-${randomBytes(4).toString('hex')}`;
    const results: TaskResult[] = [];
    for (let i = 0; i < plan.shards.length; i++) {
      const s = plan.shards[i]!;
      const refs = [];
      for (const a of s.inputs) refs.push(await store.put({ dtype: a.dtype, shape: [...a.shape], data: a.data.slice() } as NdArray));
      const shardId = `s${String(i).padStart(6, '0')}`;
      const task = { v: PROTOCOL_VERSION, jobId, shardId, op, attrs: s.attrs as Record<string, unknown>, inputs: refs, deadline: Date.now() + 120_000 };
      await dp.js.publish(taskSubject(dp.names.prefix, 'wasm', op, jobId), JSON.stringify(task), { msgID: taskMsgId(jobId, shardId) });
    }
    for (let i = 0; i < plan.shards.length; i++) {
      const subj = `${dp.names.prefix}.result.${jobId}.s${String(i).padStart(6, '0')}`;
      let r: TaskResult | undefined;
      await until(
        async () => {
          try {
            const m = await dp.jsm.streams.getMessage(dp.names.resultsStream, { last_by_subj: subj });
            if (m !== null) r = m.json<TaskResult>();
          } catch {
            /* not there yet */
          }
          return r !== undefined;
        },
        60_000,
        `result ${subj}`,
      );
      results.push(r!);
    }
    const outs: NdArray[][] = [];
    for (const r of results) {
      if (r.error !== undefined) return { out: [], results };
      const o: NdArray[] = [];
      for (const ref of r.outputs) o.push(await store.get(ref));
      outs.push(o);
    }
    return { out: plan.assemble(outs), results };
  }

  it('the registry entry names the kernel build the worker loaded and its threads per shard', async () => {
    let rec: WorkerRecord | undefined;
    for await (const k of await dp.workers.keys()) {
      const e = await dp.workers.get(k);
      if (e !== null && e.operation === 'PUT') rec = e.json<WorkerRecord>();
    }
    assert.ok(rec !== undefined, 'one worker registered');
    const expectFma = fs.existsSync(kernelsFmaWasmPath) && (relaxedSimdAvailable() || relaxedSimdNodeArgs().length > 0);
    process.stdout.write(
      `# worker kernel build: ${rec.kernels?.build} (relaxed SIMD here: ${relaxedSimdAvailable()}, node args: ${JSON.stringify(relaxedSimdNodeArgs())})\n`,
    );
    const { cacheMB, ...kernels } = rec.kernels ?? { build: undefined, threadsPerShard: undefined };
    assert.deepEqual(kernels, { build: expectFma ? 'fma' : 'simd', threadsPerShard: 2 });
    assert.equal(typeof cacheMB, 'number', 'the kernel-row cache budget is registered');
  });

  it('the array store: a put of bytes being deleted waits for the delete and uploads them again', async () => {
    // EigenPro deletes a round's objects without waiting; a later round may put the same bytes.
    for (let k = 0; k < 5; k++) {
      const a = { dtype: 'f64' as const, shape: [64 * 1024], data: Float64Array.from({ length: 64 * 1024 }, (_, i) => i * 0.5 + k) };
      const ref = await store.put(a);
      const gone = store.delete(ref.digest);
      const again = await store.put(a);
      assert.equal(await gone, true);
      assert.equal(await store.has(again.digest), true, `round ${k}: the object is there after the delete and the put`);
    }
    // Chunks as large as the server's messages allow (~1 MB by default), not the client's 128 KiB.
    const big = await store.put({ dtype: 'f64', shape: [300_000], data: Float64Array.from({ length: 300_000 }, (_, i) => i) });
    const info = await dp.arrays.info(big.digest);
    assert.equal(info?.options?.max_chunk_size, dp.chunkBytes);
    assert.ok(dp.chunkBytes > 512 * 1024 && (info?.chunks ?? 0) <= 3, `${info?.chunks} chunks of ${dp.chunkBytes} bytes`);
  });

  it('the array store: a patched array travels as its changed rows, a reader holding the base rebuilds it, one without fails typed', async () => {
    const rows = 500,
      cols = 10;
    const base = { dtype: 'f64' as const, shape: [rows, cols], data: rand(rows * cols, 91) };
    const baseRef = await store.put(base);
    const next = Float64Array.from(base.data);
    for (const i of [0, 7, 8, 250, 499]) for (let q = 0; q < cols; q++) next[i * cols + q] = (next[i * cols + q] as number) + 1;
    next[100 * cols + 3] = -0; // a sign-only change of a zero counts
    base.data[100 * cols + 3] = 0;
    const baseRef0 = await store.put(base);
    const ref = await store.putPatched({ dtype: 'f64', shape: [rows, cols], data: next }, baseRef0);
    assert.ok(ref.patch !== undefined, 'stored as a patch');
    assert.equal(ref.patch.base, baseRef0.digest);
    assert.deepEqual(ref.patch.rows.shape, [6, 1 + cols], 'six changed rows, each with its index');
    assert.equal(await store.has(ref.digest), false, 'the whole array is not stored');
    // The same digest as a whole put of the array (content addressing holds).
    const reader = createArrayStore(dp.arrays, dp.names.arraysBucket, { chunkBytes: dp.chunkBytes });
    await assert.rejects(reader.get(ref), (e: Error & { code?: string }) => e.code === 'STORE_PATCH_BASE_MISSING');
    await reader.get(baseRef0);
    const got = await reader.get(ref);
    assert.deepEqual(Array.from(new Uint32Array((got.data as Float64Array).buffer)), Array.from(new Uint32Array(next.buffer)), 'bit for bit, −0 included');
    const whole = await createArrayStore(dp.arrays, dp.names.arraysBucket).put({ dtype: 'f64', shape: [rows, cols], data: next });
    assert.equal(whole.digest, ref.digest);
    // More than half of the rows changed, or no base held: stored whole.
    const many = Float64Array.from(next).map((v, i) => (i < 260 * cols ? v + 1 : v));
    const wholeRef = await store.putPatched({ dtype: 'f64', shape: [rows, cols], data: many }, ref);
    assert.equal(wholeRef.patch, undefined);
    assert.equal(await store.has(wholeRef.digest), true);
    assert.equal((await reader.putPatched({ dtype: 'f64', shape: [rows, cols], data: many }, baseRef)).patch, undefined, 'a base this store never saw');
    // A base that does not fit (other shape) is refused as a patch, rebuilt bytes are checked.
    const bad = { ...ref, patch: { base: baseRef.digest, rows: ref.patch.rows }, digest: ref.digest.replace(/^./, (ch) => (ch === '0' ? '1' : '0')) };
    await reader.get(baseRef);
    await assert.rejects(reader.get(bad), (e: Error & { code?: string }) => e.code === 'STORE_DIGEST_MISMATCH');
  });

  it('gemm 157×131×97 in 3 shards runs on wasm-mt and equals the f64 reference', async () => {
    const [m, n, k] = [157, 131, 97];
    const inputs: NdArray[] = [
      { dtype: 'f64', shape: [m, k], data: rand(m * k, 1) },
      { dtype: 'f64', shape: [k, n], data: rand(k * n, 2) },
      { dtype: 'f64', shape: [m, n], data: rand(m * n, 3) },
    ];
    const attrs = { alpha: 1.5, beta: -0.25 };
    const { out, results } = await runShards('gemm', attrs, inputs, 3);
    for (const r of results) {
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.stats.backend, 'wasm-mt');
    }
    const ref = OPS.get('gemm').reference(OPS.get('gemm').parseAttrs(attrs), inputs)[0]!;
    assert.deepEqual(out[0]!.shape, [m, n]);
    for (let i = 0; i < ref.data.length; i++) assert.ok(Math.abs((out[0]!.data[i] as number) - (ref.data[i] as number)) <= 1e-14 * (k + 1), `C[${i}]`);
  });

  it('kernel-block runs on wasm-mt, cholesky falls back to the single-thread wasm kernel', async () => {
    const x: NdArray = { dtype: 'f64', shape: [67, 11], data: rand(67 * 11, 4) };
    const z: NdArray = { dtype: 'f64', shape: [45, 11], data: rand(45 * 11, 5) };
    const attrs = { kernel: 'laplacian', bandwidth: 0.8 };
    const kb = await runShards('kernel-block', attrs, [x, z], 2);
    assert.deepEqual(
      kb.results.map((r) => r.stats.backend),
      ['wasm-mt', 'wasm-mt'],
    );
    const ref = OPS.get('kernel-block').reference(OPS.get('kernel-block').parseAttrs(attrs), [x, z])[0]!;
    for (let i = 0; i < ref.data.length; i++) assert.ok(Math.abs((kb.out[0]!.data[i] as number) - (ref.data[i] as number)) <= 1e-12, `K[${i}]`);
    const n = 9;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = i === j ? n + 1 : 1 / (1 + i + j);
    const ch = await runShards('cholesky', {}, [{ dtype: 'f64', shape: [n, n], data: a }], 2);
    assert.equal(ch.results[0]!.stats.backend, 'wasm');
    const l = ch.out[0]!.data as Float64Array;
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let p = 0; p <= j; p++) s += (l[i * n + p] as number) * (l[j * n + p] as number);
        assert.ok(Math.abs(s - (a[i * n + j] as number)) <= 1e-13 * (n + 1));
      }
  });

  it('a non-SPD matrix to cholesky comes back as a typed KERNEL_STATUS result, not NaNs', async () => {
    const a = Float64Array.from([1, 2, 2, 1]);
    const { results } = await runShards('cholesky', {}, [{ dtype: 'f64', shape: [2, 2], data: a }], 1);
    assert.equal(results[0]!.error?.code, 'KERNEL_STATUS');
  });
});

describe('threadsPerShard is validated before anything starts', () => {
  it('0 and 1.5 are INPUT_OUT_OF_RANGE naming threadsPerShard', async () => {
    for (const bad of [0, 1.5]) {
      await assert.rejects(
        LocalCluster.start({ dataDir: path.join(os.tmpdir(), `gf-never-${randomBytes(3).toString('hex')}`), threadsPerShard: bad }),
        (e: Error & { code?: string }) => e.code === 'INPUT_OUT_OF_RANGE' && e.message.includes('threadsPerShard'),
      );
    }
  });
});
