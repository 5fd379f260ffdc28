import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { KERNEL_FUNCTIONS, kernelBlockMatmulOp, kernelBlockOp, kernelRowsMatmulOp, type KernelFunction, type NdArray } from '@gramfleet/core';
import { kernelOfSquaredDistance } from '@gramfleet/core/internal';
import { WasmArena, createKernelPool } from '@gramfleet/workers';
import {
  registerWasmKernels,
  withHostGather,
  kernelCacheBudgetFromEnv,
  withKernelRowCache,
  type KernelRowCache,
  type KernelRowCacheOptions,
} from '@gramfleet/workers/internal';
import { kernelModule, linalgRegistry } from './linalg-fixtures';
import { BACKENDS, arr, rand, rand32, rejectsNaming, runOp } from './dense-fixtures';
import { f32KernelBounds } from './kernel-f32-fixtures';

// The f32 kernel block (`kernel-block` with accumulate 'f32') and the workers' kernel-row cache
// built on it (workers/src/kernel-cache.ts): cached rows give the same bits as fresh ones.
const reg = linalgRegistry([kernelBlockOp, kernelBlockMatmulOp, kernelRowsMatmulOp], registerWasmKernels);

/** Σ_j K[i,j]·A[j,q] in f64, j ascending, multiply then add: what gf_f32_rows_matmul computes. */
function rowsTimes(k: Float32Array, a: Float64Array, n: number, m: number, c: number): Float64Array {
  const out = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let q = 0; q < c; q++) {
      let s = 0;
      for (let j = 0; j < m; j++) s = s + (k[i * m + j] as number) * (a[j * c + q] as number);
      out[i * c + q] = s;
    }
  }
  return out;
}

/** gf_kernel_block_u8 on bytes (n×d, m×d): the f32 block of the features bytes·scale. */
function byteBlock(
  ar: WasmArena,
  kernel: KernelFunction,
  xb: Uint8Array,
  zb: Uint8Array,
  n: number,
  m: number,
  d: number,
  scale: number,
  sigma: number,
): Float32Array {
  ar.reset();
  const xp = ar.alloc(Math.max(8, n * d), 64),
    zp = ar.alloc(Math.max(8, m * d), 64);
  new Uint8Array(ar.memory.buffer, xp, n * d).set(xb);
  new Uint8Array(ar.memory.buffer, zp, m * d).set(zb);
  const op = ar.alloc(Math.max(8, n * m * 4), 64),
    ws = ar.alloc(ar.fn('gf_kernel_block_u8_workspace_bytes')(n, m, d), 64);
  ar.check(
    'gf_kernel_block_u8',
    KERNEL_FUNCTIONS.indexOf(kernel),
    n,
    m,
    d,
    xp,
    0,
    Math.max(1, d),
    zp,
    0,
    Math.max(1, d),
    scale,
    sigma,
    op,
    0,
    Math.max(1, m),
    ws,
  );
  return Float32Array.from(ar.f32(op, n * m));
}

/** Bytes with image-like statistics: about half zeros, the rest uniform. */
function randBytes(len: number, seed: number): Uint8Array {
  const u = rand(2 * len, seed); // uniform on [−0.5, 0.5)
  return Uint8Array.from({ length: len }, (_, i) => ((u[2 * i] as number) < 0 ? 0 : Math.min(255, Math.floor(256 * ((u[2 * i + 1] as number) + 0.5)))));
}

/** The f32 features of bytes, as a job re-puts pixel/255 features. */
const pixelsOf = (b: Uint8Array): Float32Array => Float32Array.from(b, (v) => v * (1 / 255));

describe('gf_kernel_block_u8 (byte features)', () => {
  it('is the f64 kernel of the features within the f32 epilogue, for every kernel and remainder of tiles, panels and slices', () => {
    const ar = new WasmArena(kernelModule());
    for (const kernel of KERNEL_FUNCTIONS) {
      for (const [n, m, d, scale] of [
        [1, 1, 1, 1 / 255],
        [4, 8, 0, 1 / 255],
        [13, 7, 3, 1],
        [37, 45, 300, 1 / 255],
        [197, 1030, 64, 1 / 255],
        [5, 11, 1101, 1 / 255],
        [3, 17, 8201, 1 / 255],
      ] as const) {
        const xb = randBytes(n * d, n + d),
          zb = randBytes(m * d, m + 7);
        const sigma = scale * 60 * Math.sqrt(Math.max(d, 1));
        const k = byteBlock(ar, kernel, xb, zb, n, m, d, scale, sigma);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < m; j++) {
            let d2 = 0;
            for (let q = 0; q < d; q++) d2 += ((xb[i * d + q] as number) * scale - (zb[j * d + q] as number) * scale) ** 2;
            const want = kernelOfSquaredDistance(kernel, d2, sigma);
            // Exact distances: only the f32 epilogue rounds (D to f32, r, the kernel function).
            const tol = (Math.sqrt(d2) / sigma + d2 / sigma ** 2) * 2 ** -21 + 1e-6;
            const got = k[i * m + j] as number;
            assert.ok(Math.abs(got - want) <= tol, `${kernel} ${n}×${m}×${d}: K[${i},${j}] = ${got}, reference ${want}`);
          }
      }
    }
  });
  it('is bitwise symmetric with k(x, x) = 1, and refuses d beyond i32 distances and a scale ≤ 0', () => {
    const ar = new WasmArena(kernelModule());
    const n = 45,
      d = 784;
    const xb = randBytes(n * d, 3);
    for (const kernel of KERNEL_FUNCTIONS) {
      const k = byteBlock(ar, kernel, xb, xb, n, n, d, 1 / 255, 10);
      for (let i = 0; i < n; i++) {
        assert.equal(k[i * n + i], 1, `${kernel}: K[${i},${i}]`);
        for (let j = 0; j < i; j++) assert.equal(k[i * n + j], k[j * n + i], `${kernel}: K[${i},${j}]`);
      }
    }
    ar.reset();
    const p = ar.alloc(1 << 20, 64);
    assert.notEqual(ar.call('gf_kernel_block_u8', 0, 1, 1, 33026, p, 0, 33026, p, 0, 33026, 1, 1, p, 0, 1, p), 0, 'd·255² past 2³¹');
    assert.notEqual(ar.call('gf_kernel_block_u8', 0, 1, 1, 4, p, 0, 4, p, 0, 4, 0, 1, p, 0, 1, p), 0, 'scale 0');
  });
});

describe("kernel-block accumulate: 'f32'", () => {
  for (const backend of BACKENDS) {
    for (const kernel of KERNEL_FUNCTIONS) {
      for (const [n, m, d] of [
        [1, 1, 1],
        [4, 8, 0],
        [13, 7, 3],
        [37, 45, 300],
        [197, 1030, 64],
        [3, 9, 4100],
      ] as const) {
        it(`${backend} ${kernel}: ${n}×${m}, d=${d}, f32 block within the f32 bound`, async () => {
          const x = rand32(n * d, n + d);
          const z = rand32(m * d, m + 3);
          const sigma = 0.4 * Math.sqrt(Math.max(d, 1));
          const [out] = await runOp(reg, backend, kernelBlockOp, { kernel, bandwidth: sigma, accumulate: 'f32' }, [
            arr('f32', [n, d], x),
            arr('f32', [m, d], z),
          ]);
          assert.ok(out !== undefined);
          assert.equal(out.dtype, 'f32');
          assert.deepEqual(out.shape, [n, m]);
          const { k, tol } = f32KernelBounds(x, z, n, m, d, sigma, kernel);
          for (let i = 0; i < n * m; i++) {
            const err = Math.abs((out.data[i] as number) - (k[i] as number));
            assert.ok(err <= (tol[i] as number) + 6e-8, `K[${i}] = ${out.data[i]}, reference ${k[i]}: |Δ| ${err} > ${tol[i]}`);
          }
        });
      }
    }
  }
  it('wasm: the block holds exactly the values the fused f32 matmul multiplies into A (K·I), and k(x, x) = 1', async () => {
    const n = 45,
      d = 784;
    const x = rand32(n * d, 9).map((v) => 255 * v);
    const eye = new Float64Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    for (const kernel of KERNEL_FUNCTIONS) {
      const attrs = { kernel, bandwidth: 1500, accumulate: 'f32' };
      const [blk] = await runOp(reg, 'wasm', kernelBlockOp, attrs, [arr('f32', [n, d], x), arr('f32', [n, d], x)]);
      const [fused] = await runOp(reg, 'wasm', kernelBlockMatmulOp, attrs, [arr('f32', [n, d], x), arr('f32', [n, d], x), arr('f64', [n, n], eye)]);
      assert.ok(blk !== undefined && fused !== undefined);
      assert.deepEqual(Array.from(blk.data), Array.from(fused.data), kernel);
      for (let i = 0; i < n; i++) assert.equal(blk.data[i * n + i], 1, `${kernel}: K[${i},${i}]`);
    }
  });
  it('rejects cache without accumulate f32 and a non-boolean cache, naming the attribute', async () => {
    const x32 = arr('f32', [2, 3], rand32(6, 1));
    const a = arr('f64', [2, 1], rand(2, 2));
    await rejectsNaming(runOp(reg, 'wasm', kernelBlockMatmulOp, { kernel: 'gaussian', bandwidth: 1, cache: true }, [x32, x32, a]), 'INPUT_INVALID', 'cache');
    await rejectsNaming(
      runOp(reg, 'wasm', kernelRowsMatmulOp, { kernel: 'gaussian', bandwidth: 1, accumulate: 'f32', cache: 'yes' }, [
        arr('i32', [1], Int32Array.from([0])),
        x32,
        a,
        x32,
      ]),
      'INPUT_INVALID',
      'cache',
    );
    await rejectsNaming(runOp(reg, 'wasm', kernelBlockOp, { kernel: 'gaussian', bandwidth: 1, cache: true }, [x32, x32]), 'INPUT_INVALID', 'cache');
  });
});

describe('kernel-row cache (workers)', () => {
  const d = 31,
    c = 3;
  const blocks = [arr('f32', [40, d], rand32(40 * d, 11)), arr('f32', [25, d], rand32(25 * d, 12))];
  const all = new Float32Array(65 * d);
  all.set(blocks[0]?.data as Float32Array, 0);
  all.set(blocks[1]?.data as Float32Array, 40 * d);
  const zData = rand32(70 * d, 13);
  const z = arr('f32', [70, d], zData);
  const keys = (rows: NdArray): string[] =>
    ['rows-digest', 'z-digest', 'a-digest', 'x0-digest', 'x1-digest'].slice(0, 3 + blocks.length).map((k, i) => (i === 0 ? `${k}-${rows.shape[0]}` : k));
  const attrs = { kernel: 'laplacian', bandwidth: 2.5, accumulate: 'f32', cache: true };
  const withCache = async <T>(
    budgetBytes: number,
    f: (p: KernelRowCache) => Promise<T>,
    more: Partial<KernelRowCacheOptions> = {},
    threads = 1,
  ): Promise<T> => {
    const p = withKernelRowCache(withHostGather(createKernelPool({ module: kernelModule(), threads })), { budgetBytes, minFreeBytes: 0, ...more });
    try {
      return await f(p);
    } finally {
      await p.close();
    }
  };
  const gathered = (rows: Int32Array): Float32Array => {
    const g = new Float32Array(rows.length * d);
    rows.forEach((r, i) => g.set(all.subarray(r * d, (r + 1) * d), i * d));
    return g;
  };

  it('serves repeated rows from the cache with the same bits, equal to the f32 block times A', async () => {
    await withCache(1 << 20, async (p) => {
      const rows1 = Int32Array.from([64, 3, 41, 0, 39, 40, 17, 60]);
      const rows2 = Int32Array.from([3, 5, 64, 17, 2]); // three cached, two new
      const a1 = arr('f64', [70, c], rand(70 * c, 14));
      const a2 = arr(
        'f64',
        [70, c],
        rand(70 * c, 15).map((v) => v - 0.5),
      );
      const task = (rows: Int32Array, a: NdArray) => {
        const r = arr('i32', [rows.length], rows);
        return p.run(kernelRowsMatmulOp.id, attrs, [r, z, a, ...blocks], keys(r));
      };
      const first = await task(rows1, a1);
      assert.equal(first.rowHits, 0);
      assert.equal(first.rowMisses, rows1.length);
      const again = await task(rows1, a1);
      assert.equal(again.rowHits, rows1.length);
      assert.deepEqual(Array.from((again.outputs[0] as NdArray).data), Array.from((first.outputs[0] as NdArray).data), 'cached rows give the same bits');
      const mixed = await task(rows2, a2);
      assert.equal(mixed.rowHits, 3);
      assert.equal(mixed.rowMisses, 2);
      // Against the f32 block (a kernel thread's kernel-block) times A, summed as the cache sums.
      for (const [rows, a, run] of [
        [rows1, a1, again],
        [rows2, a2, mixed],
      ] as const) {
        const [blk] = await runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian', bandwidth: 2.5, accumulate: 'f32' }, [
          arr('f32', [rows.length, d], gathered(rows)),
          z,
        ]);
        const want = rowsTimes(blk?.data as Float32Array, a.data as Float64Array, rows.length, 70, c);
        assert.deepEqual(Array.from((run.outputs[0] as NdArray).data), Array.from(want));
        // …and within the f32 bound of the f64 reference.
        const [ref] = await runOp(reg, 'reference', kernelBlockMatmulOp, { kernel: 'laplacian', bandwidth: 2.5 }, [
          arr('f32', [rows.length, d], gathered(rows)),
          z,
          a,
        ]);
        const { tol } = f32KernelBounds(gathered(rows), zData, rows.length, 70, d, 2.5, 'laplacian');
        for (let i = 0; i < rows.length; i++)
          for (let q = 0; q < c; q++) {
            let bound = 1e-12;
            for (let j = 0; j < 70; j++) bound += (tol[i * 70 + j] as number) * Math.abs(a.data[j * c + q] as number);
            assert.ok(Math.abs((run.outputs[0]?.data[i * c + q] as number) - (ref?.data[i * c + q] as number)) <= bound);
          }
      }
      assert.equal(p.stats().hits, 11);
      assert.equal(p.stats().tables, 1);
      assert.equal(p.stats().bytes, (rows1.length + 2) * 70 * 4);
    });
  });
  it('K·A equals the j-ascending f64 sum bit for bit for every column count and row remainder', async () => {
    const rows = Int32Array.from([9, 64, 3, 41, 0, 39, 40, 17, 60, 5, 2]);
    const r = arr('i32', [rows.length], rows);
    const [blk] = await runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian', bandwidth: 2.5, accumulate: 'f32' }, [
      arr('f32', [rows.length, d], gathered(rows)),
      z,
    ]);
    for (const cols of [1, 2, 3, 4, 5, 6, 7, 10, 13]) {
      const a = arr(
        'f64',
        [70, cols],
        rand(70 * cols, 30 + cols).map((v) => v - 0.3),
      );
      const want = rowsTimes(blk?.data as Float32Array, a.data as Float64Array, rows.length, 70, cols);
      await withCache(1 << 20, async (p) => {
        for (let k = 0; k < 2; k++) {
          const run = await p.run(kernelRowsMatmulOp.id, attrs, [r, z, a, ...blocks], keys(r));
          assert.equal(run.rowHits, k === 0 ? 0 : rows.length);
          assert.deepEqual(Array.from(run.outputs[0]?.data ?? []), Array.from(want), `c = ${cols}, pass ${k}`);
        }
      });
    }
  });
  it("multiplies only the nonzero rows of A (EigenPro 2's first epoch) with the bits of the whole sum", async () => {
    const rows = Int32Array.from([9, 64, 3, 41, 0, 39, 40, 17, 60, 5, 2]);
    const r = arr('i32', [rows.length], rows);
    const [blk] = await runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian', bandwidth: 2.5, accumulate: 'f32' }, [
      arr('f32', [rows.length, d], gathered(rows)),
      z,
    ]);
    // A visited prefix, scattered subsample rows (one after a gap shorter than the merge), −0, and all zero.
    const live = new Set([...Array.from({ length: 21 }, (_, j) => j), 26, 33, 34, 50, 69]);
    const sparse = rand(70 * c, 81).map((v, i) => (live.has(Math.floor(i / c)) ? v - 0.5 : 0));
    sparse[45 * c + 1] = -0;
    for (const [data, what] of [
      [sparse, 'sparse'],
      [new Float64Array(70 * c), 'zero'],
    ] as const) {
      const a = arr('f64', [70, c], data);
      const want = rowsTimes(blk?.data as Float32Array, data, rows.length, 70, c);
      await withCache(1 << 20, async (p) => {
        for (let k = 0; k < 2; k++) {
          const run = await p.run(kernelRowsMatmulOp.id, attrs, [r, z, a, ...blocks], keys(r));
          assert.deepEqual(Array.from(run.outputs[0]?.data ?? []), Array.from(want), `${what}, pass ${k}`);
        }
      });
    }
  });
  it('computes the same bits with no budget (nothing kept) and keys the block op by x', async () => {
    const rows = Int32Array.from([1, 2, 3, 50]);
    const r = arr('i32', [rows.length], rows);
    const a = arr('f64', [70, c], rand(70 * c, 16));
    const want = await withCache(1 << 20, async (p) => (await p.run(kernelRowsMatmulOp.id, attrs, [r, z, a, ...blocks], keys(r))).outputs[0]?.data);
    await withCache(0, async (p) => {
      for (let k = 0; k < 2; k++) {
        const run = await p.run(kernelRowsMatmulOp.id, attrs, [r, z, a, ...blocks], keys(r));
        assert.equal(run.rowHits, 0);
        assert.deepEqual(Array.from(run.outputs[0]?.data ?? []), Array.from(want ?? []));
      }
      assert.equal(p.stats().bytes, 0);
    });
    await withCache(1 << 20, async (p) => {
      const x = arr('f32', [rows.length, d], gathered(rows));
      const one = await p.run(kernelBlockMatmulOp.id, attrs, [x, z, a], ['x-digest', 'z-digest', 'a-digest']);
      const two = await p.run(kernelBlockMatmulOp.id, attrs, [x, z, a], ['x-digest', 'z-digest', 'a-digest']);
      assert.equal(two.rowHits, rows.length);
      assert.deepEqual(Array.from(one.outputs[0]?.data ?? []), Array.from(want ?? []), 'x rows by position give what the rows op gives');
      assert.deepEqual(Array.from(two.outputs[0]?.data ?? []), Array.from(want ?? []));
    });
  });
  it('takes the byte kernel block when Z and x are pixel features, the f32 block when either is not', async () => {
    const ar = new WasmArena(kernelModule());
    const dd = 100,
      n = 23,
      m = 70;
    const xb = randBytes(n * dd, 71),
      zb = randBytes(m * dd, 72);
    const zp = arr('f32', [m, dd], pixelsOf(zb));
    const a = arr('f64', [m, c], rand(m * c, 73));
    const sig = { ...attrs, bandwidth: 3 };
    for (const [x, bytes] of [
      [arr('f32', [n, dd], pixelsOf(xb)), true],
      [
        arr(
          'f32',
          [n, dd],
          pixelsOf(xb).map((v, i) => (i === 5 ? v + 1e-3 : v)),
        ),
        false,
      ],
    ] as const) {
      await withCache(1 << 20, async (p) => {
        const one = await p.run(kernelBlockMatmulOp.id, sig, [x, zp, a], ['x-px', 'z-px', 'a']);
        const two = await p.run(kernelBlockMatmulOp.id, sig, [x, zp, a], ['x-px', 'z-px', 'a']);
        assert.equal(two.rowHits, n);
        const blk = bytes
          ? byteBlock(ar, 'laplacian', xb, zb, n, m, dd, 1 / 255, 3)
          : ((await runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian', bandwidth: 3, accumulate: 'f32' }, [x, zp]))[0]?.data as Float32Array);
        const want = Array.from(rowsTimes(blk, a.data as Float64Array, n, m, c));
        assert.deepEqual(Array.from(one.outputs[0]?.data ?? []), want, `bytes ${bytes}`);
        assert.deepEqual(Array.from(two.outputs[0]?.data ?? []), want);
        assert.equal(p.stats().byteTables, bytes ? 1 : 0);
      });
    }
    // Byte features with d·255² past 2³¹ (the byte block's i32 distances): the f32 block.
    const wide = 33026;
    const xw = arr('f32', [3, wide], pixelsOf(randBytes(3 * wide, 74))),
      zw = arr('f32', [5, wide], pixelsOf(randBytes(5 * wide, 75)));
    const aw = arr('f64', [5, 1], rand(5, 76));
    await withCache(1 << 20, async (p) => {
      const run = await p.run(kernelBlockMatmulOp.id, sig, [xw, zw, aw], ['xw', 'zw', 'aw']);
      const [blk] = await runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian', bandwidth: 3, accumulate: 'f32' }, [xw, zw]);
      assert.deepEqual(Array.from(run.outputs[0]?.data ?? []), Array.from(rowsTimes(blk?.data as Float32Array, aw.data as Float64Array, 3, 5, 1)));
      assert.equal(p.stats().byteTables, 0);
    });
  });
  it('evicts only idle tables, least recently used first; rows with no room are computed and not kept', async () => {
    let t = 0;
    await withCache(
      8 * 70 * 4,
      async (p) => {
        const rows = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
        const r = arr('i32', [8], rows);
        const a = arr('f64', [70, c], rand(70 * c, 17));
        const sigma3 = { ...attrs, bandwidth: 3 };
        await p.run(kernelRowsMatmulOp.id, attrs, [r, z, a, ...blocks], keys(r));
        t = 10_000; // the first table was used 10 s ago: busy, so the second finds no room
        const b1 = await p.run(kernelRowsMatmulOp.id, sigma3, [r, z, a, ...blocks], keys(r));
        const b2 = await p.run(kernelRowsMatmulOp.id, sigma3, [r, z, a, ...blocks], keys(r));
        assert.equal(b2.rowHits, 0, 'not kept');
        assert.deepEqual(Array.from(b2.outputs[0]?.data ?? []), Array.from(b1.outputs[0]?.data ?? []));
        assert.deepEqual({ evicted: p.stats().evictedTables, bytes: p.stats().bytes }, { evicted: 0, bytes: 8 * 70 * 4 });
        const a1 = await p.run(kernelRowsMatmulOp.id, attrs, [r, z, a, ...blocks], keys(r));
        assert.equal(a1.rowHits, 8, 'the first table kept its rows');
        t = 10_000 + 120_000; // now idle for the eviction window: evicted for the second
        await p.run(kernelRowsMatmulOp.id, sigma3, [r, z, a, ...blocks], keys(r));
        const b3 = await p.run(kernelRowsMatmulOp.id, sigma3, [r, z, a, ...blocks], keys(r));
        assert.equal(b3.rowHits, 8);
        assert.deepEqual(Array.from(b3.outputs[0]?.data ?? []), Array.from(b1.outputs[0]?.data ?? []));
        assert.deepEqual({ evicted: p.stats().evictedTables, bytes: p.stats().bytes }, { evicted: 1, bytes: 8 * 70 * 4 });
        const plain = await p.run(kernelRowsMatmulOp.id, { kernel: 'laplacian', bandwidth: 2.5, accumulate: 'f32' }, [r, z, a, ...blocks], keys(r));
        assert.equal(plain.rowHits, undefined, 'no cache attr: the fused kernel');
        await rejectsNaming(
          p.run(kernelRowsMatmulOp.id, attrs, [arr('i32', [1], Int32Array.from([65])), z, a, ...blocks], keys(arr('i32', [1], Int32Array.from([65])))),
          'INPUT_OUT_OF_RANGE',
          'rows',
        );
      },
      { now: () => t },
    );
  });
  it("reads the entries of new rows that are Z's own points from their cached mirror rows, with the bits of the whole block", async () => {
    // EigenPro 2's centers are X's own row blocks: Z = block 1 (same digest). Batches of block 1's
    // rows mirror; batches mixing both blocks compute whole rows. Every task against the f32 block.
    const dd = 784,
      n0 = 40,
      n1 = 197;
    const ar = new WasmArena(kernelModule());
    const bytesOf = (f: Float32Array): Uint8Array => Uint8Array.from(f, (v) => Math.round(v * 255));
    for (const pixels of [true, false]) {
      const b0 = rand32(n0 * dd, 21),
        b1 = rand32(n1 * dd, 22);
      if (pixels) for (const b of [b0, b1]) for (let i = 0; i < b.length; i++) b[i] = Math.round(255 * ((b[i] as number) + 0.5)) * (1 / 255);
      const xs = [arr('f32', [n0, dd], b0), arr('f32', [n1, dd], b1)];
      const zz = xs[1] as NdArray;
      const allRows = (ids: Int32Array): Float32Array => {
        const g = new Float32Array(ids.length * dd);
        ids.forEach((id, i) => g.set(id < n0 ? b0.subarray(id * dd, (id + 1) * dd) : b1.subarray((id - n0) * dd, (id - n0 + 1) * dd), i * dd));
        return g;
      };
      const shuffled = (ids: number[], s0: number): number[] => {
        const order = [...ids];
        let seed = s0;
        for (let i = order.length - 1; i > 0; i--) {
          seed = (seed * 1103515245 + 12345) % 2147483648;
          const j = seed % (i + 1);
          [order[i], order[j]] = [order[j] as number, order[i] as number];
        }
        return order;
      };
      const own = shuffled(
        Array.from({ length: n1 }, (_, i) => n0 + i),
        pixels ? 23 : 24,
      );
      const mixed = shuffled(
        Array.from({ length: n0 + n1 }, (_, i) => i),
        25,
      );
      const sig = { ...attrs, bandwidth: pixels ? 10 : 4 };
      // Two kernel threads split a window's missing rows (≥ 64 rows a part): batches of 150.
      for (const [missBlockBytes, threads, bs] of [
        [undefined, 1, 37],
        [11 * n1 * 4, 1, 37],
        [undefined, 2, 150],
      ] as const) {
        await withCache(
          1 << 24,
          async (p) => {
            let k = 0,
              reported = 0;
            for (const [order, what] of [
              [own, 'own'],
              [mixed, 'mixed'],
            ] as const) {
              for (let b0i = 0; b0i < order.length; b0i += bs, k++) {
                const ids = Int32Array.from(order.slice(b0i, b0i + bs));
                const r = arr('i32', [ids.length], ids);
                const a = arr(
                  'f64',
                  [n1, 2],
                  rand(n1 * 2, 40 + k).map((v) => v - 0.5),
                );
                const run = await p.run(kernelRowsMatmulOp.id, sig, [r, zz, a, ...xs], [`rows-${k}`, 'x1', `a-${k}`, 'x0', 'x1']);
                // Pixel features (bytes/255) take the byte kernel block, the others the f32 block.
                const blk = pixels
                  ? byteBlock(ar, 'laplacian', bytesOf(allRows(ids)), bytesOf(b1), ids.length, n1, dd, 1 / 255, sig.bandwidth)
                  : ((
                      await runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian', bandwidth: sig.bandwidth, accumulate: 'f32' }, [
                        arr('f32', [ids.length, dd], allRows(ids)),
                        zz,
                      ])
                    )[0]?.data as Float32Array);
                assert.deepEqual(
                  Array.from(run.outputs[0]?.data ?? []),
                  Array.from(rowsTimes(blk, a.data as Float64Array, ids.length, n1, 2)),
                  `pixels ${pixels}, ${what} batch at ${b0i}`,
                );
                reported += run.mirroredEntries ?? 0;
              }
              // Half of block 1's n1² entries at best (the first batches find too few known columns);
              // batches of 150: the second batch of 47 rows mirrors 150 columns of each.
              if (what === 'own') assert.ok(p.stats().mirroredEntries >= (bs === 150 ? 150 * 47 : 0.4 * n1 * n1), `mirrored ${p.stats().mirroredEntries}`);
            }
            assert.deepEqual(
              { misses: p.stats().misses, hits: p.stats().hits, reported, byteTables: p.stats().byteTables },
              { misses: n0 + n1, hits: n1, reported: p.stats().mirroredEntries, byteTables: pixels ? 1 : 0 },
            );
          },
          missBlockBytes !== undefined ? { missBlockBytes } : {},
          threads,
        );
      }
    }
  });
  it('computes the next run of rows ahead of its task (a first pass in the center layout), with the bits and counts of computing it on demand', async () => {
    // Two row blocks, Z = block 1 (mirrors) and Z = another array (no mirrors); batches are one
    // contiguous run per block, as EigenPro 2's first epoch sends them (interleaved ids).
    const dd = 300,
      n0 = 150,
      n1 = 120;
    const b0 = rand32(n0 * dd, 51),
      b1 = rand32(n1 * dd, 52);
    const xs = [arr('f32', [n0, dd], b0), arr('f32', [n1, dd], b1)];
    const other = arr('f32', [90, dd], rand32(90 * dd, 53));
    const allRows = (ids: Int32Array): Float32Array => {
      const g = new Float32Array(ids.length * dd);
      ids.forEach((id, i) => g.set(id < n0 ? b0.subarray(id * dd, (id + 1) * dd) : b1.subarray((id - n0) * dd, (id - n0 + 1) * dd), i * dd));
      return g;
    };
    const sig = { ...attrs, bandwidth: 4 };
    for (const [zz, zkey] of [
      [xs[1] as NdArray, 'x1'],
      [other, 'other'],
    ] as const) {
      for (const threads of [1, 2]) {
        await withCache(
          1 << 24,
          async (p) => {
            const m = zz.shape[0] as number;
            let reported = 0,
              k = 0;
            // Runs of 30 then 30 in block 0 and of 24 in block 1; the last batch is short.
            for (let t = 0; t * 30 < n0; t++, k++) {
              const ids: number[] = [];
              for (let i = 0; i < 30; i++) {
                if (t * 30 + i < n0) ids.push(t * 30 + i);
                if (i < 24 && t * 24 + i < n1) ids.push(n0 + t * 24 + i);
              }
              const idArr = Int32Array.from(ids);
              const a = arr(
                'f64',
                [m, 2],
                rand(m * 2, 60 + k).map((v) => v - 0.5),
              );
              const run = await p.run(kernelRowsMatmulOp.id, sig, [arr('i32', [ids.length], idArr), zz, a, ...xs], [`rows-${k}`, zkey, `a-${k}`, 'x0', 'x1']);
              const [blk] = await runOp(reg, 'wasm', kernelBlockOp, { kernel: 'laplacian', bandwidth: 4, accumulate: 'f32' }, [
                arr('f32', [ids.length, dd], allRows(idArr)),
                zz,
              ]);
              assert.deepEqual(
                Array.from(run.outputs[0]?.data ?? []),
                Array.from(rowsTimes(blk?.data as Float32Array, a.data as Float64Array, ids.length, m, 2)),
                `${zkey}, ${threads} threads, batch ${t}`,
              );
              assert.deepEqual(
                { hits: run.rowHits, misses: run.rowMisses },
                { hits: 0, misses: ids.length },
                'rows computed ahead count as computed for their task',
              );
              reported += run.mirroredEntries ?? 0;
            }
            const st = p.stats();
            assert.ok(st.prefetchedRows >= 200, `prefetched ${st.prefetchedRows} of 270 rows`);
            assert.deepEqual({ misses: st.misses, reported }, { misses: 270, reported: st.mirroredEntries });
            if (zkey === 'x1') assert.ok(st.mirroredEntries > 0);
          },
          {},
          threads,
        );
      }
    }
    // A non-finite row ahead stops the prefetch; its own task then fails naming x.
    await withCache(1 << 24, async (p) => {
      const bad = rand32(60 * dd, 54);
      bad[45 * dd + 7] = Number.NaN;
      const xb = [arr('f32', [60, dd], bad)];
      const a = arr('f64', [90, 1], rand(90, 55));
      const first = Int32Array.from({ length: 30 }, (_, i) => i);
      await p.run(kernelRowsMatmulOp.id, sig, [arr('i32', [30], first), other, a, ...xb], ['r0', 'other', 'a', 'xbad']);
      const second = Int32Array.from({ length: 30 }, (_, i) => 30 + i);
      await rejectsNaming(
        p.run(kernelRowsMatmulOp.id, sig, [arr('i32', [30], second), other, a, ...xb], ['r1', 'other', 'a', 'xbad']),
        'INPUT_NOT_FINITE',
        'x',
      );
      assert.equal(p.stats().prefetchedRows, 0);
    });
  });
  it('gf_f32_transpose copies every entry to its transposed place, for every remainder of the 4×4 blocks and tiles', () => {
    const ar = new WasmArena(kernelModule());
    for (const [r, c, lds, ldd] of [
      [1, 1, 1, 1],
      [3, 5, 7, 4],
      [4, 4, 4, 4],
      [37, 70, 70, 40],
      [65, 33, 35, 66],
      [0, 5, 5, 1],
    ] as const) {
      ar.reset();
      const src = rand32(Math.max(1, r * lds), r + c);
      const sp = ar.put(src),
        dp = ar.alloc(Math.max(4, c * ldd * 4));
      ar.check('gf_f32_transpose', r, c, sp, lds, dp, ldd);
      const dst = ar.f32(dp, c * ldd);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) assert.equal(dst[j * ldd + i], src[i * lds + j], `${r}×${c}: [${i},${j}]`);
    }
    assert.notEqual(ar.call('gf_f32_transpose', 3, 5, 64, 4, 64, 3), 0, 'a row pitch below the width is refused');
  });
  it('takes its budget from GRAMFLEET_KERNEL_CACHE_MB, else a quarter of the memory limit (cgroup or host)', () => {
    const GiB = 2 ** 30;
    assert.equal(kernelCacheBudgetFromEnv({ GRAMFLEET_KERNEL_CACHE_MB: '100' }, { total: 64 * GiB }), 100 * 2 ** 20);
    assert.equal(kernelCacheBudgetFromEnv({ GRAMFLEET_KERNEL_CACHE_MB: '0' }, { total: 64 * GiB }), 0);
    assert.equal(kernelCacheBudgetFromEnv({}, { total: 64 * GiB, constrained: 4 * GiB }), GiB, 'a pod limited to 4 GiB');
    assert.equal(kernelCacheBudgetFromEnv({}, { total: 64 * GiB, constrained: 2 ** 64 }), 16 * GiB, 'no cgroup limit');
    assert.equal(kernelCacheBudgetFromEnv({}, { total: 64 * GiB, constrained: 0 }), 16 * GiB);
    assert.throws(() => kernelCacheBudgetFromEnv({ GRAMFLEET_KERNEL_CACHE_MB: 'lots' }, { total: GiB }), /GRAMFLEET_KERNEL_CACHE_MB/);
    assert.throws(() => kernelCacheBudgetFromEnv({ GRAMFLEET_KERNEL_CACHE_MB: '-1' }, { total: GiB }), /GRAMFLEET_KERNEL_CACHE_MB/);
  });
  it("computes a task's missing rows in windows with the same bits as one block", async () => {
    const rows = Int32Array.from([9, 64, 3, 41, 0, 39, 40, 17, 60, 5, 2]);
    const r = arr('i32', [rows.length], rows);
    const a = arr('f64', [70, c], rand(70 * c, 18));
    const whole = await withCache(1 << 20, async (p) => (await p.run(kernelRowsMatmulOp.id, attrs, [r, z, a, ...blocks], keys(r))).outputs[0]?.data);
    // Windows of 3 rows (3 · 70 · 4 bytes): 4 kernel-block calls; 2 rows kept of 11 with a 2-row budget.
    await withCache(
      2 * 70 * 4,
      async (p) => {
        for (let k = 0; k < 2; k++) {
          const run = await p.run(kernelRowsMatmulOp.id, attrs, [r, z, a, ...blocks], keys(r));
          assert.deepEqual(Array.from(run.outputs[0]?.data ?? []), Array.from(whole ?? []));
          assert.equal(run.rowHits, k === 0 ? 0 : 2);
        }
        assert.equal(p.stats().bytes, 2 * 70 * 4);
      },
      { missBlockBytes: 3 * 70 * 4 + 5 },
    );
  });
});
