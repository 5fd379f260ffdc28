import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Philox,
  createKernelRegistry,
  grfWalksOp,
  modulation,
  ndarray,
  normalisedWeights,
  seedKey,
  type CsrArrays,
  type GrfVariance,
  type NdArray,
} from '@gramfleet/core';
import { csrFromEdges, walkLengthCap } from '@gramfleet/core/internal';
import { kernelsWasmPath } from '@gramfleet/wasm';
import { WasmArena } from './arena';
import { GRF_STATUS } from './grf-walks';
import { registerReferenceKernels, registerWasmKernels } from './register-all';

const root = path.resolve(__dirname, '../../../..');
function dataFile(rel: string): string | undefined {
  const dirs = [process.env['GRAMFLEET_DATA_DIR'], path.join(root, 'data'), path.join(root, '..', 'shared', 'data')];
  for (const d of dirs) if (d !== undefined && fs.existsSync(path.join(d, rel))) return path.join(d, rel);
  return undefined;
}

/** Karate from its 1-based adjacency list ("node neighbour neighbour …"). */
function karate(): CsrArrays | undefined {
  const f = dataFile('graphs/karate.adjlist');
  if (f === undefined) return undefined;
  const edges: [number, number][] = [];
  let n = 0;
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const xs = t.split(/\s+/).map(Number);
    const a = (xs[0] ?? 1) - 1;
    for (const b of xs.slice(1)) {
      if (b - 1 > a) edges.push([a, b - 1]);
      n = Math.max(n, a + 1, b);
    }
  }
  return csrFromEdges(n, edges);
}

/** A seeded random weighted graph with an isolated node and a hub. */
function randomGraph(n: number, seed: number): CsrArrays {
  const p = new Philox(seed);
  const edges: [number, number, number][] = [];
  for (let i = 0; i < n - 1; i++) {
    for (let j = i + 1; j < n - 1; j++) {
      const u = p.uniform(i, j, 0, 0);
      if (u < 0.12 || j === 1) edges.push([i, j, 0.5 + p.uniform(i, j, 1, 0, 1)]);
    }
  }
  return csrFromEdges(n, edges); // node n−1 is isolated, node 1 is a hub
}

const arenaOf = (() => {
  const mod = new WebAssembly.Module(fs.readFileSync(kernelsWasmPath));
  let a: WasmArena | undefined;
  return (): WasmArena => {
    if (a === undefined || a.poisoned) a = new WasmArena(mod);
    a.reset();
    return a;
  };
})();
const registry = createKernelRegistry();
registerReferenceKernels(registry);
registerWasmKernels(registry, arenaOf);

function inputsOf(adj: CsrArrays, c: number): NdArray[] {
  const w = normalisedWeights(adj, c);
  const n = adj.shape[0];
  return [ndarray('i32', [n + 1], adj.indptr), ndarray('i32', [adj.indices.length], adj.indices), ndarray('f64', [w.length], w)];
}

function bytesOf(a: NdArray): Buffer {
  return Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
}

function assertBitIdentical(a: readonly NdArray[], b: readonly NdArray[], what: string): void {
  assert.equal(a.length, b.length, `${what}: output count`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as NdArray;
    const y = b[i] as NdArray;
    assert.equal(x.dtype, y.dtype, `${what}: dtype of output ${i}`);
    assert.deepEqual(x.shape, y.shape, `${what}: shape of output ${i}`);
    assert.ok(bytesOf(x).equals(bytesOf(y)), `${what}: bytes of output ${i} differ`);
  }
}

async function run(backend: string, attrsRaw: Record<string, unknown>, inputs: NdArray[]): Promise<NdArray[]> {
  const attrs = grfWalksOp.parseAttrs(attrsRaw);
  grfWalksOp.checkInputs(attrs, inputs);
  return registry.get(backend, grfWalksOp.id)(attrs, inputs, {});
}

function concatShards(parts: readonly NdArray[][], streams: number): NdArray[] {
  const out: NdArray[] = [];
  for (let s = 0; s < streams; s++) {
    const ptrs: number[] = [0];
    const idx: number[] = [];
    const val: number[] = [];
    for (const p of parts) {
      const ip = p[3 * s]?.data as Int32Array;
      const base = idx.length;
      for (let r = 1; r < ip.length; r++) ptrs.push(base + (ip[r] ?? 0));
      idx.push(...(p[3 * s + 1]?.data as Int32Array));
      val.push(...(p[3 * s + 2]?.data as Float64Array));
    }
    out.push(
      ndarray('i32', [ptrs.length], Int32Array.from(ptrs)),
      ndarray('i32', [idx.length], Int32Array.from(idx)),
      ndarray('f64', [val.length], Float64Array.from(val)),
    );
  }
  return out;
}

const MODES: GrfVariance[] = ['none', 'antithetic', 'repelling'];

test('wasm grf-walks is bit-identical to the reference (random graph and Karate, 3 modes, 2 streams)', async (t) => {
  const graphs: [string, CsrArrays][] = [['random n=41', randomGraph(41, 3)]];
  const k = karate();
  if (k === undefined) t.diagnostic('karate.adjlist not found (set GRAMFLEET_DATA_DIR); Karate case skipped');
  else graphs.push(['karate', k]);
  for (const [name, adj] of graphs) {
    const n = adj.shape[0];
    for (const variance of MODES) {
      for (const [kernel, c, pHalt, walks] of [
        [{ kind: 'reg-laplacian', d: 1 }, 0.25, 0.5, 16],
        [{ kind: 'diffusion' }, 0.8, 0.2, 9],
      ] as const) {
        const f = Array.from(modulation(kernel, walkLengthCap(pHalt) + 1));
        const attrs = { seed: 2 ** 40 + 12345, walks, pHalt, f, streams: [7, 8], variance, nodeStart: 0, nodeEnd: n };
        const inputs = inputsOf(adj, c);
        const ref = await run('reference', attrs, inputs);
        const wasm = await run('wasm', attrs, inputs);
        assertBitIdentical(ref, wasm, `${name} ${variance} ${kernel.kind}`);
        assert.ok((ref[1]?.data.length ?? 0) > n, 'Φ is not trivially sparse');
        assert.ok(!bytesOf(ref[2] as NdArray).equals(bytesOf(ref[5] as NdArray)), 'the two streams differ');
      }
    }
  }
});

test('shard independence: [0,n) equals [0,k) ++ [k,n) on both backends', async () => {
  const adj = karate() ?? randomGraph(41, 5);
  const n = adj.shape[0];
  const inputs = inputsOf(adj, 0.25);
  const f = Array.from(modulation({ kind: 'reg-laplacian', d: 2 }, walkLengthCap(0.5) + 1));
  for (const variance of MODES) {
    for (const backend of ['reference', 'wasm']) {
      const base = { seed: 99, walks: 16, pHalt: 0.5, f, streams: [0, 1], variance };
      const whole = await run(backend, { ...base, nodeStart: 0, nodeEnd: n }, inputs);
      for (const k of [1, 13, n - 1]) {
        const a = await run(backend, { ...base, nodeStart: 0, nodeEnd: k }, inputs);
        const b = await run(backend, { ...base, nodeStart: k, nodeEnd: n }, inputs);
        assertBitIdentical(whole, concatShards([a, b], 2), `${backend} ${variance} split at ${k}`);
      }
    }
  }
});

test('kernel status: too small an output buffer returns CAPACITY and leaves the scratch clean', async () => {
  const adj = randomGraph(41, 9);
  const n = adj.shape[0];
  const inputs = inputsOf(adj, 0.25);
  const f = Float64Array.from(modulation({ kind: 'reg-laplacian', d: 1 }, 61));
  const a = arenaOf();
  const [k0, k1] = seedKey(5);
  const pIp = a.put(adj.indptr);
  const pIx = a.put(adj.indices);
  const pW = a.put(inputs[2]?.data as Float64Array);
  const pF = a.put(f);
  const pAcc = a.alloc(8 * n);
  const pMark = a.alloc(n);
  const pT = a.alloc(4 * n);
  const pOp = a.alloc(4 * (n + 1));
  const pOi = a.alloc(4 * 4);
  const pOv = a.alloc(8 * 4);
  assert.equal(a.call('gf_grf_walks', pIp, pIx, pW, n, pF, f.length, 8, 0.5, k0, k1, 0, 0, 0, n, pAcc, pMark, pT, pOp, pOi, pOv, 4), GRF_STATUS.CAPACITY);
  assert.ok(
    a.f64(pAcc, n).every((x) => x === 0),
    'acc is zero again',
  );
  assert.ok(
    new Uint8Array(a.memory.buffer, pMark, n).every((x) => x === 0),
    'mark is zero again',
  );
  assert.equal(a.call('gf_grf_walks', pIp, pIx, pW, n, pF, f.length, 8, 1.5, k0, k1, 0, 0, 0, n, pAcc, pMark, pT, pOp, pOi, pOv, 4), GRF_STATUS.BAD_ARGUMENT);
  assert.equal(
    a.call('gf_grf_walks', pIp, pIx, pW, n, pF, f.length, 8, 0.5, k0, k1, 0, 0, 3, n + 1, pAcc, pMark, pT, pOp, pOi, pOv, 4),
    GRF_STATUS.BAD_ARGUMENT,
  );
});
