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
  KERNEL_BLOCK_MATMUL_OP_ID, KERNEL_BLOCK_OP_ID, KERNEL_ROWS_MATMUL_OP_ID, OPS, kernelRowsMatmulInputs, markFinite, requireFinite,
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
  /** Missed rows a task found already computed by a prefetch (counted in `misses` too). */
  readonly prefetchedRows: number;
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
  /** Rows computed ahead of the task that will ask for them: row id → its mirrored entries. */
  readonly prefetched: Map<number, number>;
  /** The running prefetch, awaited by the table's next task. */
  prefetch: Promise<void> | undefined;
}

/** Kernel rows computed in parts: rows [t·per, (t + 1)·per) are part t (row-major, m wide). */
interface RowBlocks {
  readonly parts: readonly Float32Array[];
  readonly per: number;
  readonly m: number;
  readonly bytes: number;
  /** Entries of each row read from mirror rows rather than computed. */
  readonly mirroredPerRow: number;
}

/** Row r of a {@link RowBlocks}, as a view. */
function rowOf(b: RowBlocks, r: number): Float32Array {
  const t = Math.floor(r / b.per), q = r - t * b.per;
  return (b.parts[t] as Float32Array).subarray(q * b.m, (q + 1) * b.m);
}

/** Centre sets kept in shared memory for the kernel threads. */
const SHARED_Z = 4;

/** Side of the tiles in which mirror entries are transposed into new rows. */
const MIRROR_TILE = 32;

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
  let bytes = 0, hits = 0, misses = 0, evictedTables = 0, mirroredEntries = 0, prefetchedRows = 0;
  let arena: WasmArena | undefined;
  const minFree = o.minFreeBytes ?? 2 ** 30;
  const idleMs = o.evictIdleMs ?? 120_000;
  const now = o.now ?? Date.now;

  const arenaNow = (): WasmArena => {
    if (arena === undefined || arena.poisoned) arena = new WasmArena(o.module, { maxBytes: 2 ** 31 });
    arena.reset();
    return arena;
  };

  /**
   * Z in shared memory, by digest (the last {@link SHARED_Z} of them): a kernel thread receives a
   * SharedArrayBuffer's views without a copy, where a structured clone of a plain Z (up to
   * hundreds of MB) cost a copy on each side of every kernel-block call.
   */
  const sharedZ = new Map<string, NdArray>();
  function sharedCopy(z: NdArray, digest: string): NdArray {
    const hit = sharedZ.get(digest);
    if (hit !== undefined && hit.data.length === z.data.length) {
      sharedZ.delete(digest);
      sharedZ.set(digest, hit);
      return hit;
    }
    const data = new Float32Array(new SharedArrayBuffer(z.data.byteLength));
    data.set(z.data as Float32Array);
    const copy = { dtype: z.dtype, shape: [...z.shape], data } as NdArray;
    markFinite(copy);
    sharedZ.set(digest, copy);
    for (const k of sharedZ.keys()) if (sharedZ.size > SHARED_Z) sharedZ.delete(k);
    return copy;
  }

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
      // Rows of xb and rows of Z: checked by the task's own checks (cached).
      const run = await pool.run(KERNEL_BLOCK_OP_ID, { kernel: attrs.kernel, bandwidth: attrs.bandwidth, accumulate: 'f32' }, [gatherRows(xb, rows.slice(t * per, (t + 1) * per)), z], undefined, { checked: true });
      return (run.outputs[0] as NdArray).data as Float32Array;
    }));
    return { parts, per, m, bytes: rows.length * m * 4, mirroredPerRow: 0 };
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
      // so there the unknown columns are one run of Z's rows: a view of Z's shared copy, which a
      // kernel thread receives without a copy.
      const u0 = unknown[0] as number, run = unknown[unknown.length - 1] === u0 + unknown.length - 1;
      const d = z.shape[1] as number;
      const zu = run ? { dtype: z.dtype, shape: [unknown.length, d], data: (z.data as Float32Array).subarray(u0 * d, (u0 + unknown.length) * d) } as NdArray : gatherRows(z, unknown);
      const part = await kernelRows(attrs, xb, rows, zu);
      const u = unknown.length;
      for (let r = 0; r < n; r++) {
        const o = r * m, row = rowOf(part, r);
        if (run) out.set(row, o + u0);
        else for (let k = 0; k < u; k++) out[o + (unknown[k] as number)] = row[k] as number;
      }
    }
    // Column l of the new rows is row l's entries at the new rows' own columns: a transpose,
    // done in tiles of MIRROR_TILE mirror rows × MIRROR_TILE new rows, the new rows taken in the
    // order of their columns so each mirror row is read forwards (2.4–3 ns an entry measured,
    // against 13 ns for a column at a time over the whole batch).
    const cols = Int32Array.from(rows, (i) => idOf(i) - mirror);
    const byCol = Int32Array.from({ length: n }, (_, r) => r).sort((x, y) => (cols[x] as number) - (cols[y] as number));
    const sortedCols = Int32Array.from(byCol, (r) => cols[r] as number);
    const outAt = Int32Array.from(byCol, (r) => r * m);
    const T = MIRROR_TILE;
    for (let k0 = 0; k0 < known.length; k0 += T) {
      const k1 = Math.min(known.length, k0 + T);
      for (let j0 = 0; j0 < n; j0 += T) {
        const j1 = Math.min(n, j0 + T);
        for (let k = k0; k < k1; k++) {
          const row = srcs[k] as Float32Array, l = known[k] as number;
          for (let j = j0; j < j1; j++) out[(outAt[j] as number) + l] = row[sortedCols[j] as number] as number;
        }
      }
    }
    return { parts: [out], per: n, m, bytes: out.byteLength, mirroredPerRow: known.length };
  }

  /**
   * Computes the rows `set` (positions into `xb`; row ids `idOf`) of `table` and keeps them while
   * there is room: rows of Z's own points read their known entries from mirror rows when enough
   * of Z's points have their rows cached (mirroredRows), the others are computed whole.
   */
  async function computeRows(table: Table, attrs: KernelBlockAttrs, xb: NdArray, set: readonly number[], z: NdArray, mirror: number | undefined, idOf: (i: number) => number): Promise<{ rows: Map<number, Float32Array>; mirrored: number; mirroredOf: Map<number, number>; kept: boolean }> {
    const m = z.shape[0] as number;
    const inZ = (i: number): boolean => mirror !== undefined && idOf(i) >= mirror && idOf(i) < mirror + m;
    const own = set.filter(inZ);
    const known = own.length > 0 ? knownColumns(table, mirror as number, m) : [];
    const mirrored = known.length > 0 && known.length * 16 >= m ? own : [];
    const whole = mirrored.length === 0 ? [...set] : set.filter((i) => !inZ(i));
    const rows = new Map<number, Float32Array>();
    const mirroredOf = new Map<number, number>();
    let mirroredCount = 0, kept = true;
    for (const [part, compute] of [
      [whole, () => kernelRows(attrs, xb, whole, z)],
      [mirrored, () => mirroredRows(attrs, xb, mirrored, z, table, mirror as number, known, idOf)],
    ] as const) {
      if (part.length === 0) continue;
      const block = await compute();
      const keep = room(table, block.bytes);
      kept &&= keep;
      part.forEach((i, r) => {
        const row = rowOf(block, r);
        rows.set(i, row);
        if (keep) table.rows.set(idOf(i), row);
      });
      mirroredCount += part.length * block.mirroredPerRow;
      if (block.mirroredPerRow > 0) for (const i of part) mirroredOf.set(i, block.mirroredPerRow);
      if (keep) {
        table.bytes += block.bytes;
        bytes += block.bytes;
      }
    }
    return { rows, mirrored: mirroredCount, mirroredOf, kept };
  }

  /**
   * The rows a first pass over the row blocks asks for next: when a task's rows, sorted, are
   * contiguous runs, one per row block (EigenPro 2's first epoch in the center layout), the
   * next batch is the run of the same length after each; ids already cached are left out.
   */
  function nextRuns(table: Table, ids: Int32Array, blocks: readonly NdArray[]): number[] {
    const sorted = Int32Array.from(ids).sort();
    const starts: number[] = [];
    let total = 0;
    for (const b of blocks) {
      starts.push(total);
      total += b.shape[0] as number;
    }
    const next: number[] = [];
    let runs = 0;
    for (let a = 0; a < sorted.length;) {
      let b = a + 1;
      while (b < sorted.length && sorted[b] === (sorted[b - 1] as number) + 1) b++;
      const first = sorted[a] as number, end = (sorted[b - 1] as number) + 1;
      let blk = 0;
      while (blk + 1 < starts.length && (starts[blk + 1] as number) <= first) blk++;
      const blockEnd = (starts[blk] as number) + ((blocks[blk] as NdArray).shape[0] as number);
      if (end > blockEnd || ++runs > blocks.length) return [];
      for (let id = end; id < Math.min(blockEnd, end + (b - a)); id++) if (!table.rows.has(id)) next.push(id);
      a = b;
    }
    return next;
  }

  /**
   * Computes the rows `next` of `table` on the kernel threads while the current task's product
   * runs here and the orchestrator prepares the next batch; the table's next task waits for it
   * and counts the rows it finds this way as its misses (computed for it), so the statistics
   * and the bits are those of computing them on demand. Skipped when they would not fit.
   */
  function startPrefetch(table: Table, attrs: KernelBlockAttrs, inputs: readonly NdArray[], next: number[], z: NdArray, mirror: number | undefined): void {
    const m = z.shape[0] as number;
    const need = next.length * m * 4;
    if (next.length === 0 || bytes + need > o.budgetBytes || os.freemem() - need < minFree) return;
    const ids = Int32Array.from(next);
    table.prefetch = (async () => {
      const [xb] = kernelRowsMatmulInputs([{ dtype: 'i32', shape: [ids.length], data: ids }, ...inputs.slice(1)]);
      // No task has checked these rows yet; a non-finite one stops the prefetch (its task then
      // fails its own checks).
      requireFinite(KERNEL_ROWS_MATMUL_OP_ID, xb, 'x');
      const per = Math.max(1, Math.floor((o.missBlockBytes ?? MISS_BLOCK_BYTES) / Math.max(1, m * 4)));
      for (let w0 = 0; w0 < ids.length; w0 += per) {
        const set = Array.from({ length: Math.min(ids.length, w0 + per) - w0 }, (_, k) => w0 + k).filter((i) => !table.rows.has(ids[i] as number));
        const r = await computeRows(table, attrs, xb, set, z, mirror, (i) => ids[i] as number);
        if (!r.kept) return;
        for (const i of set) table.prefetched.set(ids[i] as number, r.mirroredOf.get(i) ?? 0);
      }
    })().catch((e: Error) => {
      o.log?.warn('kernel-row cache: prefetch failed; the rows will be computed on demand', { err: e.message });
    }).finally(() => {
      table.prefetch = undefined;
    });
  }

  async function cached(op: string, attrs: KernelBlockAttrs, inputs: NdArray[], keys: readonly string[]): Promise<KernelRun> {
    const t0 = performance.now();
    // The same validation as the op's own kernels, before any work.
    const rowsOp = op === KERNEL_ROWS_MATMUL_OP_ID;
    const [xb, z, a] = rowsOp ? kernelRowsMatmulInputs(inputs) : [inputs[0] as NdArray, inputs[1] as NdArray, inputs[2] as NdArray];
    OPS.get(KERNEL_BLOCK_MATMUL_OP_ID).checkInputs(attrs, [xb, z, a]);
    // Z is one of the worker's cached inputs, named by digest batch after batch and never
    // written: checked once.
    markFinite(z);
    const zk = sharedCopy(z, keys[1] ?? '');
    const n = xb.shape[0] as number, m = z.shape[0] as number, c = a.shape[1] as number;
    const ids = rowsOp ? (inputs[0] as NdArray).data as Int32Array : undefined;
    const source = rowsOp ? `rows:${keys.slice(3).join(',')}` : `x:${keys[0] ?? ''}`;
    const key = `${attrs.kernel}|${attrs.bandwidth}|${keys[1] ?? ''}|${source}`;
    let table = tables.get(key);
    if (table === undefined) {
      table = { key, m, rows: new Map(), bytes: 0, usedAt: 0, prefetched: new Map(), prefetch: undefined };
      tables.set(key, table);
    }
    table.usedAt = now();
    if (table.prefetch !== undefined) await table.prefetch;
    const idOf = (i: number): number => (ids !== undefined ? ids[i] as number : i);
    // Z is one of the resident row blocks (EigenPro 2's centers are X's own row blocks): new
    // rows of Z's own block may read entries from the cached rows of their mirror points.
    const mirror = rowsOp ? mirrorStart(inputs, keys, m) : undefined;
    const out = new Float64Array(n * c);
    let missed = 0, mirrored = 0;
    // Windows of at most MISS_BLOCK_BYTES of kernel rows: a window's missing rows are computed
    // (kernel-block calls: own points mirrored, the others whole, each split over the kernel
    // threads), kept while there is room, and multiplied before the next window, so an uncached
    // task holds one window of rows, never its whole block.
    const per = Math.max(1, Math.floor((o.missBlockBytes ?? MISS_BLOCK_BYTES) / Math.max(1, m * 4)));
    for (let w0 = 0; w0 < n; w0 += per) {
      const w1 = Math.min(n, w0 + per);
      const miss: number[] = [];
      for (let i = w0; i < w1; i++) {
        const id = idOf(i);
        if (!table.rows.has(id)) miss.push(i);
        else if (table.prefetched.has(id)) {
          // Computed ahead for this task: a miss, as if computed now.
          missed++;
          prefetchedRows++;
          mirrored += table.prefetched.get(id) as number;
          table.prefetched.delete(id);
        }
      }
      missed += miss.length;
      const fresh = miss.length > 0 ? await computeRows(table, attrs, xb, miss, zk, mirror, idOf) : undefined;
      mirrored += fresh?.mirrored ?? 0;
      // The next batch's rows are computed on the kernel threads while this product runs.
      if (w1 === n && ids !== undefined && missed > 0) startPrefetch(table, attrs, inputs, nextRuns(table, ids, inputs.slice(3)), zk, mirror);
      product(out, w0, w1, m, c, (i) => fresh?.rows.get(i) ?? (table.rows.get(idOf(i)) as Float32Array), a.data as Float64Array);
    }
    hits += n - missed;
    misses += missed;
    mirroredEntries += mirrored;
    return { outputs: [{ dtype: 'f64', shape: [n, c], data: out }], backend: 'wasm-cache', computeMs: performance.now() - t0, rowHits: n - missed, rowMisses: missed, mirroredEntries: mirrored };
  }

  return {
    threads: pool.threads,
    close: () => pool.close(),
    stats: () => ({ hits, misses, bytes, tables: tables.size, evictedTables, mirroredEntries, prefetchedRows }),
    async run(op: string, attrs: unknown, inputs: NdArray[], keys?: readonly string[]): Promise<KernelRun> {
      if (op !== KERNEL_ROWS_MATMUL_OP_ID && op !== KERNEL_BLOCK_MATMUL_OP_ID) return pool.run(op, attrs, inputs, keys);
      const parsed = OPS.get(op).parseAttrs(attrs) as KernelBlockAttrs;
      const plain = parsed.n === undefined && (op === KERNEL_ROWS_MATMUL_OP_ID || inputs.length === 3);
      if (!parsed.cache || !plain || keys === undefined || keys.length !== inputs.length) return pool.run(op, attrs, inputs, keys);
      return cached(op, parsed, inputs, keys);
    },
  };
}
