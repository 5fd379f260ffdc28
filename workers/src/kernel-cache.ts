/**
 * The kernel-row cache: EigenPro multiplies K(X_B, Z_j) by new coefficients every batch, and
 * every epoch visits the same rows again, so a worker that keeps the f32 kernel rows it has
 * computed turns the later epochs from a d-deep kernel evaluation into one pass over memory.
 *
 * It serves `kernel-rows-matmul` and `kernel-block-matmul` tasks with `cache: true` (which
 * implies `accumulate: 'f32'`; no view attrs, no out0). A table holds the rows of one
 * (kernel, σ, Z, row source) — the row source being the resident row blocks (rows op, rows
 * named by index) or the x input (block op, rows by position), all named by digest. Missing
 * rows are computed by the f32 `kernel-block` on a kernel thread (the same tiles and epilogue
 * as the fused f32 matmul) and inserted while the byte budget allows; K·A then runs on this
 * thread over cached and fresh rows alike (`gf_f32_rows_matmul`, f64 sums in a fixed order), so
 * a task's bits never depend on what was cached. Misses are computed in blocks of at most
 * {@link MISS_BLOCK_BYTES}, so a 10k-row scoring task never grows a kernel thread's memory by
 * its whole block. When the budget is full, only tables idle for `evictIdleMs` are evicted
 * (least recently used first); rows that find no room are computed and not kept, so one job's
 * tables never evict each other batch after batch.
 * The orchestrator routes a shard's tasks to the same worker every batch (pinned subjects) so
 * the rows a worker caches are the ones it is asked for again.
 *
 * When Z is one of the resident row blocks (EigenPro 2: the centers are the training rows) and a
 * new row x_i is itself one of Z's points, it needs K(x_i, x_l) for Z's points x_l, and wherever
 * x_l's own row is cached that entry is already there as K(x_l, x_i): such entries are copied,
 * only the rest are computed (`mirroredRows`). The f32 kernel block is bitwise symmetric, so the
 * bits do not change. EigenPro 2 keeps its centers in the first epoch's visiting order, dealt
 * round robin over the shards (orchestrator/src/eigenpro/rows.ts), so a batch's own points are
 * a contiguous run of Z and the points seen before are the run before it: the mirror entries are
 * read as contiguous stretches and the columns still to compute are one slice of Z. One shard:
 * half of the first epoch's entries are read; P shards: 1/(2P).
 */
import * as os from 'node:os';
import {
  KERNEL_BLOCK_MATMUL_OP_ID, KERNEL_BLOCK_OP_ID, KERNEL_ROWS_MATMUL_OP_ID, OPS, kernelRowsMatmulInputs,
  type KernelBlockAttrs, type Logger, type NdArray,
} from '@gramfleet/core';
import { WasmArena } from './backends/wasm/arena';
import type { KernelPool, KernelRun } from './pool';

/** Options of {@link withKernelRowCache}. */
export interface KernelRowCacheOptions {
  /** Bytes of f32 kernel rows kept at most (0 disables the cache; tasks still compute). */
  readonly budgetBytes: number;
  /** The compiled kernel module (K·A runs on an instance on this thread). */
  readonly module: WebAssembly.Module;
  /** Rows are not inserted while the host's available memory is below this. @default 1 GiB */
  readonly minFreeBytes?: number;
  /** A table may be evicted to make room once it has not been used for this long. @default 120000 */
  readonly evictIdleMs?: number;
  /** Bytes of kernel rows computed per kernel-block call for a task's missing rows. @default {@link MISS_BLOCK_BYTES} */
  readonly missBlockBytes?: number;
  /** Clock (tests). @default Date.now */
  readonly now?: () => number;
  readonly log?: Logger;
}

/** Counters of a {@link KernelRowCache}. */
export interface KernelRowCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly bytes: number;
  readonly tables: number;
  readonly evictedTables: number;
  /** Kernel entries of new rows read from the cached rows of their mirror (symmetric) entries instead of computed. */
  readonly mirroredEntries: number;
}

/** A pool with a kernel-row cache in front. */
export interface KernelRowCache extends KernelPool {
  stats(): KernelRowCacheStats;
}

interface Table {
  readonly key: string;
  readonly m: number;
  readonly rows: Map<number, Float32Array>;
  bytes: number;
  usedAt: number;
}

/** Kernel rows computed in parts: rows [t·per, (t + 1)·per) are part t (row-major, m wide). */
interface RowBlocks {
  readonly parts: readonly Float32Array[];
  readonly per: number;
  readonly m: number;
  readonly bytes: number;
}

/** Row r of a {@link RowBlocks}, as a view. */
function rowOf(b: RowBlocks, r: number): Float32Array {
  const t = Math.floor(r / b.per), q = r - t * b.per;
  return (b.parts[t] as Float32Array).subarray(q * b.m, (q + 1) * b.m);
}

/** Missing rows are split over the kernel threads only in parts of at least this many rows. */
const MIN_ROWS_PER_THREAD = 64;

/** Rows of K·A per call of the product kernel (bounds the copy into the arena to ~64 MB). */
const PRODUCT_BYTES = 64 * 2 ** 20;
/** Bytes of f32 kernel rows computed per `kernel-block` call for a task's missing rows. */
export const MISS_BLOCK_BYTES = 256 * 2 ** 20;

/**
 * Budget from GRAMFLEET_KERNEL_CACHE_MB, or a quarter of the memory this process may use when
 * unset: the host's, or the container's cgroup limit where one is set (a pod limited to 4 GiB
 * on a 64 GB node gets 1 GiB, not 16).
 */
export function kernelCacheBudgetFromEnv(env: NodeJS.ProcessEnv, memory: { total: number; constrained?: number } = hostMemory()): number {
  const v = env['GRAMFLEET_KERNEL_CACHE_MB'];
  if (v === undefined || v === '') {
    const limit = memory.constrained !== undefined && memory.constrained > 0 && memory.constrained < memory.total ? memory.constrained : memory.total;
    return Math.floor(limit / 4);
  }
  const mb = Number(v);
  if (!Number.isFinite(mb) || mb < 0) throw new Error(`GRAMFLEET_KERNEL_CACHE_MB must be a number ≥ 0 (got ${v})`);
  return Math.floor(mb * 2 ** 20);
}

function hostMemory(): { total: number; constrained?: number } {
  // process.constrainedMemory(): the cgroup limit (2^64 or 0 when there is none), Node ≥ 19.6.
  const c = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return { total: os.totalmem(), ...(c !== undefined ? { constrained: c } : {}) };
}

/**
 * Where Z's rows sit among the resident row blocks of a `kernel-rows-matmul` task: the id of
 * Z's first row when Z is one of the blocks (same digest and row count), else undefined.
 */
function mirrorStart(inputs: readonly NdArray[], keys: readonly string[], m: number): number | undefined {
  let start = 0;
  for (let b = 3; b < inputs.length; b++) {
    const rowsOfBlock = (inputs[b] as NdArray).shape[0] as number;
    if (keys[b] === keys[1] && rowsOfBlock === m) return start;
    start += rowsOfBlock;
  }
  return undefined;
}

/** Z's columns l (0 ≤ l < m) whose own point, row id mirror + l, has its row in `table`. */
function knownColumns(table: Table, mirror: number, m: number): number[] {
  const known: number[] = [];
  for (let l = 0; l < m; l++) if (table.rows.has(mirror + l)) known.push(l);
  return known;
}

/** Rows `rows` of a 2-D array, as a new array of its dtype. */
function gatherRows(a: NdArray, rows: readonly number[]): NdArray {
  const d = a.shape[1] as number;
  const src = a.data as Float32Array | Float64Array;
  const out = src instanceof Float32Array ? new Float32Array(rows.length * d) : new Float64Array(rows.length * d);
  rows.forEach((i, r) => out.set(src.subarray(i * d, (i + 1) * d), r * d));
  return { dtype: a.dtype, shape: [rows.length, d], data: out } as NdArray;
}

/** Wraps `pool` (which must run `kernel-block` and, unwrapped, the matmul ops) with the cache. */
export function withKernelRowCache(pool: KernelPool, o: KernelRowCacheOptions): KernelRowCache {
  const tables = new Map<string, Table>();
  let bytes = 0, hits = 0, misses = 0, evictedTables = 0, mirroredEntries = 0;
  let arena: WasmArena | undefined;
  const minFree = o.minFreeBytes ?? 2 ** 30;
  const idleMs = o.evictIdleMs ?? 120_000;
  const now = o.now ?? Date.now;

  const arenaNow = (): WasmArena => {
    if (arena === undefined || arena.poisoned) arena = new WasmArena(o.module, { maxBytes: 2 ** 31 });
    arena.reset();
    return arena;
  };

  /** Makes room for `need` bytes in `keep`, evicting idle tables least recently used first. */
  function room(keep: Table, need: number): boolean {
    if (need > o.budgetBytes - keep.bytes) return false;
    const idleBefore = now() - idleMs;
    while (bytes + need > o.budgetBytes) {
      let lru: Table | undefined;
      for (const t of tables.values()) if (t !== keep && t.usedAt <= idleBefore && (lru === undefined || t.usedAt < lru.usedAt)) lru = t;
      if (lru === undefined) return false;
      tables.delete(lru.key);
      bytes -= lru.bytes;
      evictedTables++;
      o.log?.info('kernel-row cache: evicted a table', { rows: lru.rows.size, bytes: lru.bytes });
    }
    return os.freemem() - need >= minFree;
  }

  /** Rows [i0, i1) of out (n×c) = K·A over the f32 rows `krow(i)` (each m long). */
  function product(out: Float64Array, i0: number, i1: number, m: number, c: number, krow: (i: number) => Float32Array, a: Float64Array): void {
    if (i1 <= i0 || c === 0) return;
    const ar = arenaNow();
    const ap = ar.put(a);
    const chunk = Math.max(1, Math.min(i1 - i0, Math.floor(PRODUCT_BYTES / Math.max(1, m * 4))));
    const kp = ar.alloc(chunk * Math.max(1, m) * 4);
    const op = ar.alloc(chunk * c * 8);
    for (let r0 = i0; r0 < i1; r0 += chunk) {
      const rows = Math.min(chunk, i1 - r0);
      const kv = ar.f32(kp, rows * m);
      for (let i = 0; i < rows; i++) kv.set(krow(r0 + i), i * m);
      ar.check('gf_f32_rows_matmul', rows, m, c, kp, Math.max(1, m), ap, Math.max(1, c), op, Math.max(1, c));
      out.set(ar.f64(op, rows * c), r0 * c);
    }
  }

  /** K(X[rows], Z) as f32 rows (rows × m) from the f32 `kernel-block` on a kernel thread. */
  async function kernelRows(attrs: KernelBlockAttrs, xb: NdArray, rows: readonly number[], z: NdArray): Promise<RowBlocks> {
    // Split over the pool's kernel threads (a worker started with GRAMFLEET_THREADS=T), each
    // part a kernel-block call of its own; entries do not depend on the split.
    const k = Math.max(1, Math.min(pool.threads, Math.floor(rows.length / MIN_ROWS_PER_THREAD)));
    const per = Math.ceil(rows.length / k);
    const m = z.shape[0] as number;
    const parts = await Promise.all(Array.from({ length: k }, async (_, t) => {
      const run = await pool.run(KERNEL_BLOCK_OP_ID, { kernel: attrs.kernel, bandwidth: attrs.bandwidth, accumulate: 'f32' }, [gatherRows(xb, rows.slice(t * per, (t + 1) * per)), z]);
      return (run.outputs[0] as NdArray).data as Float32Array;
    }));
    return { parts, per, m, bytes: rows.length * m * 4 };
  }

  /**
   * K(X[rows], Z) for new rows that are Z's own points (row id mirror + l for Z's row l): the
   * entries of the columns in `known` are read from the cached rows of those columns' own
   * points, K(x_i, z_l) = K(x_l, z_i) — the f32 kernel block is bitwise symmetric (the same
   * products summed in the same order, the same norms and epilogue) — and only the other columns
   * are computed, so a row costs what its unknown columns cost.
   */
  async function mirroredRows(attrs: KernelBlockAttrs, xb: NdArray, rows: readonly number[], z: NdArray, table: Table, mirror: number, known: readonly number[], idOf: (i: number) => number): Promise<RowBlocks> {
    const m = z.shape[0] as number, n = rows.length;
    const isKnown = new Uint8Array(m);
    for (const l of known) isKnown[l] = 1;
    const unknown: number[] = [];
    for (let l = 0; l < m; l++) if (isKnown[l] === 0) unknown.push(l);
    const srcs = known.map((l) => table.rows.get(mirror + l) as Float32Array);
    const out = new Float32Array(n * m);
    if (unknown.length > 0) {
      // EigenPro 2 keeps Z in the first epoch's visiting order (orchestrator/src/eigenpro/rows.ts),
      // so there the unknown columns are one run of Z's rows: one slice. (Not a view: a kernel
      // thread receives its inputs by structured clone, which copies a view's whole buffer.)
      const u0 = unknown[0] as number, run = unknown[unknown.length - 1] === u0 + unknown.length - 1;
      const d = z.shape[1] as number;
      const zu = run ? { dtype: z.dtype, shape: [unknown.length, d], data: (z.data as Float32Array).slice(u0 * d, (u0 + unknown.length) * d) } as NdArray : gatherRows(z, unknown);
      const part = await kernelRows(attrs, xb, rows, zu);
      const u = unknown.length;
      for (let r = 0; r < n; r++) {
        const o = r * m, row = rowOf(part, r);
        for (let k = 0; k < u; k++) out[o + (unknown[k] as number)] = row[k] as number;
      }
    }
    // Column l of the new rows is row l's entries at the new rows' own columns. Per tile of 32
    // mirror rows: read each mirror row at the new rows' columns in ascending order (a forward
    // stream through the row) into a 32 × n buffer, then write the buffer's columns into the new
    // rows (32 entries close together per row). Reading all mirror rows at one column per new row
    // instead missed the cache on every entry (~20 ns an entry at 60k).
    const cols = Int32Array.from(rows, (i) => idOf(i) - mirror);
    const byCol = Int32Array.from({ length: n }, (_, r) => r).sort((x, y) => (cols[x] as number) - (cols[y] as number));
    const sortedCols = Int32Array.from(byCol, (r) => cols[r] as number);
    const T = 32;
    const tile = new Float32Array(T * n);
    for (let k0 = 0; k0 < known.length; k0 += T) {
      const k1 = Math.min(known.length, k0 + T);
      for (let k = k0; k < k1; k++) {
        const row = srcs[k] as Float32Array, t = (k - k0) * n;
        for (let j = 0; j < n; j++) tile[t + (byCol[j] as number)] = row[sortedCols[j] as number] as number;
      }
      for (let r = 0; r < n; r++) {
        const o = r * m;
        for (let k = k0; k < k1; k++) out[o + (known[k] as number)] = tile[(k - k0) * n + r] as number;
      }
    }
    mirroredEntries += n * known.length;
    return { parts: [out], per: n, m, bytes: out.byteLength };
  }

  async function cached(op: string, attrs: KernelBlockAttrs, inputs: NdArray[], keys: readonly string[]): Promise<KernelRun> {
    const t0 = performance.now();
    // The same validation as the op's own kernels, before any work.
    const rowsOp = op === KERNEL_ROWS_MATMUL_OP_ID;
    const [xb, z, a] = rowsOp ? kernelRowsMatmulInputs(inputs) : [inputs[0] as NdArray, inputs[1] as NdArray, inputs[2] as NdArray];
    OPS.get(KERNEL_BLOCK_MATMUL_OP_ID).checkInputs(attrs, [xb, z, a]);
    const n = xb.shape[0] as number, d = xb.shape[1] as number, m = z.shape[0] as number, c = a.shape[1] as number;
    const ids = rowsOp ? (inputs[0] as NdArray).data as Int32Array : undefined;
    const source = rowsOp ? `rows:${keys.slice(3).join(',')}` : `x:${keys[0] ?? ''}`;
    const key = `${attrs.kernel}|${attrs.bandwidth}|${keys[1] ?? ''}|${source}`;
    let table = tables.get(key);
    if (table === undefined) {
      table = { key, m, rows: new Map(), bytes: 0, usedAt: 0 };
      tables.set(key, table);
    }
    table.usedAt = now();
    const idOf = (i: number): number => (ids !== undefined ? ids[i] as number : i);
    // Z is one of the resident row blocks (EigenPro 2's centers are X's own row blocks): new
    // rows of Z's own block may read entries from the cached rows of their mirror points.
    const mirror = rowsOp ? mirrorStart(inputs, keys, m) : undefined;
    const out = new Float64Array(n * c);
    let missed = 0;
    const mirroredBefore = mirroredEntries;
    // Windows of at most MISS_BLOCK_BYTES of kernel rows: a window's missing rows are computed
    // (kernel-block calls: own points mirrored, the others whole, each split over the kernel
    // threads), kept while there is room, and multiplied before the next window, so an uncached
    // task holds one window of rows, never its whole block.
    const per = Math.max(1, Math.floor((o.missBlockBytes ?? MISS_BLOCK_BYTES) / Math.max(1, m * 4)));
    for (let w0 = 0; w0 < n; w0 += per) {
      const w1 = Math.min(n, w0 + per);
      const miss: number[] = [];
      for (let i = w0; i < w1; i++) if (!table.rows.has(idOf(i))) miss.push(i);
      missed += miss.length;
      const fresh = new Map<number, Float32Array>();
      // Missing rows that are Z's own points, when enough of Z's points have their rows cached,
      // read those entries from them (mirroredRows); the others are computed whole.
      const inZ = (i: number): boolean => mirror !== undefined && idOf(i) >= mirror && idOf(i) < mirror + m;
      const own = miss.filter(inZ);
      const known = own.length > 0 ? knownColumns(table, mirror as number, m) : [];
      const mirrored = known.length > 0 && known.length * 16 >= m ? own : [];
      const whole = mirrored.length === 0 ? miss : miss.filter((i) => !inZ(i));
      for (const [set, compute] of [
        [whole, () => kernelRows(attrs, xb, whole, z)],
        [mirrored, () => mirroredRows(attrs, xb, mirrored, z, table, mirror as number, known, idOf)],
      ] as const) {
        if (set.length === 0) continue;
        const block = await compute();
        const keep = room(table, block.bytes);
        set.forEach((i, r) => {
          const row = rowOf(block, r);
          fresh.set(i, row);
          if (keep) table.rows.set(idOf(i), row);
        });
        if (keep) {
          table.bytes += block.bytes;
          bytes += block.bytes;
        }
      }
      product(out, w0, w1, m, c, (i) => fresh.get(i) ?? (table.rows.get(idOf(i)) as Float32Array), a.data as Float64Array);
    }
    hits += n - missed;
    misses += missed;
    return { outputs: [{ dtype: 'f64', shape: [n, c], data: out }], backend: 'wasm-cache', computeMs: performance.now() - t0, rowHits: n - missed, rowMisses: missed, mirroredEntries: mirroredEntries - mirroredBefore };
  }

  return {
    threads: pool.threads,
    close: () => pool.close(),
    stats: () => ({ hits, misses, bytes, tables: tables.size, evictedTables, mirroredEntries }),
    async run(op: string, attrs: unknown, inputs: NdArray[], keys?: readonly string[]): Promise<KernelRun> {
      if (op !== KERNEL_ROWS_MATMUL_OP_ID && op !== KERNEL_BLOCK_MATMUL_OP_ID) return pool.run(op, attrs, inputs, keys);
      const parsed = OPS.get(op).parseAttrs(attrs) as KernelBlockAttrs;
      const plain = parsed.n === undefined && (op === KERNEL_ROWS_MATMUL_OP_ID || inputs.length === 3);
      if (!parsed.cache || !plain || keys === undefined || keys.length !== inputs.length) return pool.run(op, attrs, inputs, keys);
      return cached(op, parsed, inputs, keys);
    },
  };
}
