/**
 * The kernel-row cache: EigenPro multiplies K(X_B, Z_j) by new coefficients every batch, and
 * every epoch visits the same rows again, so a worker that keeps the f32 kernel rows it has
 * computed turns the later epochs from a d-deep kernel evaluation into one pass over memory.
 *
 * It serves `kernel-rows-matmul` and `kernel-block-matmul` tasks with `cache: true` (which
 * implies `accumulate: 'f32'`; no view attrs, no out0). A table holds the rows of one
 * (kernel, σ, Z, row source) — the row source being the resident row blocks (rows op, rows
 * named by index) or the x input (block op, rows by position), all named by digest. Rows live
 * in shared memory and every piece of work on them runs on the kernel threads as a row job
 * (row-jobs.ts), split over the threads by rows: missing rows from the f32 kernel block (the
 * same tiles and epilogue as the fused f32 matmul), and K·A over cached and fresh rows alike
 * (`gf_f32_rows_matmul`, f64 sums in a fixed order), so a task's bits never depend on what was
 * cached or on the thread count. This thread only validates, looks up and coordinates. Misses
 * are computed in windows of at most {@link MISS_BLOCK_BYTES}, so a 10k-row scoring task never
 * holds its whole block. When the budget is full, only tables idle for `evictIdleMs` are
 * evicted (least recently used first); rows that find no room are computed and not kept, so
 * one job's tables never evict each other batch after batch. The orchestrator routes a shard's
 * tasks to the same worker every batch (pinned subjects) so the rows a worker caches are the
 * ones it is asked for again.
 *
 * When Z is one of the resident row blocks (EigenPro 2: the centers are the training rows) and a
 * new row x_i is itself one of Z's points, it needs K(x_i, x_l) for Z's points x_l, and wherever
 * x_l's own row is cached that entry is already there as K(x_l, x_i): such entries are copied,
 * only the rest are computed (`kernelRows` with `mirror`). The f32 kernel block is bitwise
 * symmetric, so the bits do not change. EigenPro 2 keeps its centers in the first epoch's
 * visiting order, dealt round robin over the shards (orchestrator/src/eigenpro/rows.ts), so a
 * batch's own points are a contiguous run of Z and the points seen before are the run before
 * it: the mirror entries are read as contiguous stretches and the columns still to compute are
 * one slice of Z. One shard: half of the first epoch's entries are read; P shards: 1/(2P).
 *
 * Image features — every value of Z and of the row source is a byte v times 1/255 (or 1), as
 * core's `featureBytes` reads them from f32 — take the byte kernel block (`gf_kernel_block_u8`):
 * x·z as exact integer sums of byte products (eight a step in i16 lanes, where the f32 tile does
 * four), so distances are exact and only the kernel's f32 epilogue rounds. The choice is the
 * table's (its Z and row source), so every row of a table comes from the same block and the
 * mirror stays bitwise symmetric; the one-pass check of an array is kept by digest.
 *
 * In that first epoch the next batches are predictable — the runs after this task's — and their
 * rows do not depend on the coefficients, so they are computed ahead ({@link PREFETCH_DEPTH}
 * batches) while this task's product runs and the orchestrator prepares the next round; the
 * kernel threads do not wait for the round trip.
 */
import * as os from 'node:os';
import {
  KERNEL_BLOCK_MATMUL_OP_ID,
  KERNEL_ROWS_MATMUL_OP_ID,
  OPS,
  featureBytes,
  kernelRowsMatmulInputs,
  markFinite,
  requireFinite,
  type KernelBlockAttrs,
  type Logger,
  type NdArray,
} from '@gramfleet/core';
import type { BlockJob, RowJob, SharedRows } from './row-jobs';
import type { KernelPool, KernelRun, KernelTaskContext } from './pool';

/** Options of {@link withKernelRowCache}. */
export interface KernelRowCacheOptions {
  /** Bytes of f32 kernel rows kept at most (0 disables the cache; tasks still compute). */
  readonly budgetBytes: number;
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
  /** Tables whose rows come from the byte kernel block (byte features: exact integer distances). */
  readonly byteTables: number;
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
  /** Rows queued or being computed ahead: row id → the run computing it (awaited by its task). */
  readonly ahead: Map<number, Promise<void>>;
  /** The last run queued ahead (runs are computed one after the other). */
  chain: Promise<void>;
  /** Z's bytes when Z and the row source are byte features of one scale: rows come from the byte kernel block. */
  readonly grid: Grid | undefined;
}

/** Features that are bytes v of v·scale (core's `featureBytes`), in shared memory. */
interface Grid {
  readonly bytes: Uint8Array;
  readonly scale: number;
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
  const t = Math.floor(r / b.per),
    q = r - t * b.per;
  return (b.parts[t] as Float32Array).subarray(q * b.m, (q + 1) * b.m);
}

/** Batches of rows computed ahead of the task that asks for them (a first pass, kernel-cache prefetch). */
const PREFETCH_DEPTH = 2;

/** Centre sets kept in shared memory for the kernel threads. */
const SHARED_Z = 4;

/** Arrays whose byte-feature verdict (and bytes) are kept, by digest. */
const GRIDS = 8;

/** The byte kernel block's largest d (GF_U8_MAX_D: d·255² < 2³¹, its distances are i32). */
const U8_MAX_D = 33025;

/** Missing rows are split over the kernel threads only in parts of at least this many rows. */
const MIN_ROWS_PER_THREAD = 64;

/** Bytes of f32 kernel rows computed per `kernel-block` call for a task's missing rows. */
export const MISS_BLOCK_BYTES = 256 * 2 ** 20;

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

/** Where f32 rows in shared memory are, for a kernel thread (row-jobs.ts). */
function sharedRows(rows: readonly Float32Array[]): SharedRows {
  const index = new Map<SharedArrayBuffer, number>();
  const buffers: SharedArrayBuffer[] = [];
  const buf = new Int32Array(rows.length),
    off = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    const b = r.buffer;
    if (!(b instanceof SharedArrayBuffer)) throw new Error('kernel-row cache: a row outside shared memory');
    let k = index.get(b);
    if (k === undefined) {
      k = buffers.length;
      index.set(b, k);
      buffers.push(b);
    }
    buf[i] = k;
    off[i] = r.byteOffset / 4;
  });
  return { buffers, buf, off };
}

/** Rows `rows` of a row-major array with rows of d entries, as a new array of its type. */
function gatherRows<T extends Float32Array | Uint8Array>(src: T, d: number, rows: readonly number[]): T {
  const out = (src instanceof Float32Array ? new Float32Array(rows.length * d) : new Uint8Array(rows.length * d)) as T;
  rows.forEach((i, r) => out.set(src.subarray(i * d, (i + 1) * d), r * d));
  return out;
}

/** The bytes v of features v·scale known to be bytes (the source arrays passed `featureBytes`). */
function bytesOf(x: Float32Array, scale: number): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.round((x[i] as number) / scale);
  return out;
}

/** Wraps `pool` (which must run `kernel-block` and, unwrapped, the matmul ops) with the cache. */
export function withKernelRowCache(pool: KernelPool, o: KernelRowCacheOptions): KernelRowCache {
  const runRows = pool.runRows?.bind(pool);
  if (runRows === undefined) throw new Error('the kernel-row cache needs a pool of wasm kernel threads (KernelPool.runRows)');
  return new KernelRowCacheImpl(pool, runRows, o);
}

/** The cache's counters ({@link KernelRowCacheStats} less what the tables hold). */
interface Counters {
  hits: number;
  misses: number;
  evictedTables: number;
  mirroredEntries: number;
  prefetchedRows: number;
  byteTables: number;
}

/** The options with their defaults applied. */
interface CacheSettings {
  readonly budgetBytes: number;
  readonly minFree: number;
  readonly idleMs: number;
  readonly missBlockBytes: number;
  readonly now: () => number;
  readonly log: Logger | undefined;
}

function settingsOf(o: KernelRowCacheOptions): CacheSettings {
  return {
    budgetBytes: o.budgetBytes,
    minFree: o.minFreeBytes ?? 2 ** 30,
    idleMs: o.evictIdleMs ?? 120_000,
    missBlockBytes: o.missBlockBytes ?? MISS_BLOCK_BYTES,
    now: o.now ?? Date.now,
    log: o.log,
  };
}

/** Rows of m f32 entries per window of at most `missBlockBytes` (a task's misses, a prefetch run). */
function rowsPerWindow(s: CacheSettings, m: number): number {
  return Math.max(1, Math.floor(s.missBlockBytes / Math.max(1, m * 4)));
}

/**
 * Arrays the kernel threads read from shared memory, by digest: copies of Z (the last
 * {@link SHARED_Z}), and whether an array holds byte features, with its bytes (the last
 * {@link GRIDS} verdicts, so the one-pass check runs once per array, not per task).
 */
class SharedInputs {
  private readonly z = new Map<string, NdArray>();
  private readonly grids = new Map<string, Grid | null>();

  /**
   * Z in shared memory: a kernel thread receives a SharedArrayBuffer's views without a copy,
   * where a structured clone of a plain Z (up to hundreds of MB) cost a copy on each side of
   * every kernel-block call.
   */
  sharedCopy(z: NdArray, digest: string): NdArray {
    const hit = this.z.get(digest);
    if (hit !== undefined && hit.data.length === z.data.length) {
      this.z.delete(digest);
      this.z.set(digest, hit);
      return hit;
    }
    const data = new Float32Array(new SharedArrayBuffer(z.data.byteLength));
    data.set(z.data as Float32Array);
    const copy = { dtype: z.dtype, shape: [...z.shape], data } as NdArray;
    markFinite(copy);
    this.z.set(digest, copy);
    for (const k of this.z.keys()) if (this.z.size > SHARED_Z) this.z.delete(k);
    return copy;
  }

  /** The byte features of an array (by digest) in shared memory, or undefined when it holds none. */
  gridOf(a: NdArray, digest: string): Grid | undefined {
    let g = this.grids.get(digest);
    if (g === undefined) {
      g = a.dtype === 'f32' ? (featureBytes(a.data, new Uint8Array(new SharedArrayBuffer(Math.max(1, a.data.length)), 0, a.data.length)) ?? null) : null;
      for (const k of this.grids.keys()) if (this.grids.size >= GRIDS) this.grids.delete(k);
    } else this.grids.delete(digest);
    this.grids.set(digest, g);
    return g ?? undefined;
  }
}

/**
 * The tables and the byte budget they share: rows kept (`bytes`) and rows being computed ahead
 * (`aheadBytes`). Room is made by evicting tables idle for `idleMs`, least recently used first.
 */
class TableStore {
  readonly tables = new Map<string, Table>();
  /** Bytes of rows kept in the tables. */
  bytes = 0;
  /** Bytes of rows queued or being computed ahead (the prefetch). */
  aheadBytes = 0;

  constructor(
    private readonly s: CacheSettings,
    private readonly counters: Counters,
  ) {}

  /** Makes room for `need` bytes in `keep`, evicting idle tables least recently used first. */
  room(keep: Table, need: number): boolean {
    const s = this.s;
    if (need > s.budgetBytes - keep.bytes) return false;
    const idleBefore = s.now() - s.idleMs;
    while (this.bytes + need > s.budgetBytes) {
      let lru: Table | undefined;
      for (const t of this.tables.values()) if (t !== keep && t.usedAt <= idleBefore && (lru === undefined || t.usedAt < lru.usedAt)) lru = t;
      if (lru === undefined) return false;
      this.tables.delete(lru.key);
      this.bytes -= lru.bytes;
      this.counters.evictedTables++;
      s.log?.info('kernel-row cache: evicted a table', { rows: lru.rows.size, bytes: lru.bytes });
    }
    return os.freemem() - need >= s.minFree;
  }

  /** Whether `need` more bytes may be computed ahead: within the budget and the host's free memory, counting what is already ahead. */
  roomAhead(need: number): boolean {
    return this.bytes + this.aheadBytes + need <= this.s.budgetBytes && os.freemem() - this.aheadBytes - need >= this.s.minFree;
  }

  /** Keeps the rows of a block in `table` (room was made for them). */
  add(table: Table, bytes: number): void {
    table.bytes += bytes;
    this.bytes += bytes;
  }
}

/** Rows of a table computed for a set of positions ({@link RowWork.computeRows}). */
interface ComputedRows {
  /** Position → its row. */
  readonly rows: Map<number, Float32Array>;
  /** Entries read from mirror rows rather than computed, in all. */
  readonly mirrored: number;
  /** Position → entries of its row read from mirror rows (rows that had any). */
  readonly mirroredOf: Map<number, number>;
  /** Whether every row was kept in the table (false: some found no room). */
  readonly kept: boolean;
}

/** Where a new row's mirror entries are: Z's own points, the table's cached rows of them. */
interface MirrorSource {
  readonly table: Table;
  /** Row id of Z's row 0. */
  readonly start: number;
  /** Z's columns whose own point's row is cached. */
  readonly known: readonly number[];
  readonly idOf: (i: number) => number;
}

/** The row work on the kernel threads: kernel rows (whole or from mirrors) and products K·A, split over the threads by rows. */
class RowWork {
  constructor(
    private readonly runRows: (job: RowJob) => Promise<Float32Array | Float64Array>,
    private readonly threads: number,
    private readonly store: TableStore,
  ) {}

  /** Parts of `count` rows for the kernel threads: at least MIN_ROWS_PER_THREAD rows each. */
  private split(count: number): { parts: number; per: number } {
    const parts = Math.max(1, Math.min(this.threads, Math.floor(count / MIN_ROWS_PER_THREAD)));
    return { parts, per: Math.ceil(count / parts) };
  }

  /** Rows [i0, i1) of out (n×c) = K·A over the f32 rows `krow(i)` (each m long), on the kernel threads. */
  async product(out: Float64Array, i0: number, i1: number, m: number, c: number, krow: (i: number) => Float32Array, a: Float64Array): Promise<void> {
    if (i1 <= i0 || c === 0) return;
    const { parts, per } = this.split(i1 - i0);
    await Promise.all(
      Array.from({ length: parts }, async (_, t) => {
        const r0 = i0 + t * per,
          r1 = Math.min(i1, r0 + per);
        if (r1 <= r0) return;
        const rows = sharedRows(Array.from({ length: r1 - r0 }, (_, i) => krow(r0 + i)));
        out.set(await this.runRows({ kind: 'product', rows, count: r1 - r0, m, c, a }), r0 * c);
      }),
    );
  }

  /**
   * K(X[rows], Z) for new rows as f32 rows (rows × m) in shared memory, from the f32 kernel block
   * on the kernel threads (row-jobs.ts), split over them by rows; entries do not depend on the
   * split. With `mirror`, the rows are Z's own points (row id mirror + l for Z's row l): the
   * entries of the columns in `known` are read from the cached rows of those columns' own
   * points, K(x_i, z_l) = K(x_l, z_i) — the f32 kernel block is bitwise symmetric (the same
   * products summed in the same order, the same norms and epilogue) — and only the other columns
   * are computed, so a row costs what its unknown columns cost.
   */
  async kernelRows(
    attrs: KernelBlockAttrs,
    xb: NdArray,
    rows: readonly number[],
    z: NdArray,
    grid: Grid | undefined,
    mirror?: MirrorSource,
  ): Promise<RowBlocks> {
    const m = z.shape[0] as number,
      d = z.shape[1] as number;
    let zu: Float32Array | Uint8Array = grid?.bytes ?? (z.data as Float32Array),
      unknown: number | Int32Array = 0,
      u = m,
      mr: BlockJob['mirror'];
    if (mirror !== undefined) {
      const isKnown = new Uint8Array(m);
      for (const l of mirror.known) isKnown[l] = 1;
      const unknownCols: number[] = [];
      for (let l = 0; l < m; l++) if (isKnown[l] === 0) unknownCols.push(l);
      u = unknownCols.length;
      // EigenPro 2 keeps Z in the first epoch's visiting order (orchestrator/src/eigenpro/rows.ts),
      // so there the unknown columns are one run of Z's rows: a view of Z's shared copy, which a
      // kernel thread receives without a copy.
      const u0 = unknownCols[0] ?? 0,
        run = u === 0 || unknownCols[u - 1] === u0 + u - 1;
      zu = run ? zu.subarray(u0 * d, (u0 + u) * d) : gatherRows(zu, d, unknownCols);
      unknown = run ? u0 : Int32Array.from(unknownCols);
      const { table, start } = mirror;
      mr = {
        known: Int32Array.from(mirror.known),
        src: sharedRows(mirror.known.map((l) => table.rows.get(start + l) as Float32Array)),
        cols: new Int32Array(0),
      };
    }
    const { parts, per } = this.split(rows.length);
    const blocks = await Promise.all(
      Array.from({ length: parts }, async (_, t) => {
        const part = rows.slice(t * per, (t + 1) * per);
        const x = gatherRows(xb.data as Float32Array, d, part);
        const job: BlockJob = {
          kind: 'block',
          kernel: attrs.kernel,
          bandwidth: attrs.bandwidth,
          n: part.length,
          d,
          u,
          m,
          unknown,
          ...(grid !== undefined ? { x: bytesOf(x, grid.scale), z: zu, bytes: { scale: grid.scale } } : { x, z: zu }),
          ...(mr !== undefined && mirror !== undefined ? { mirror: { ...mr, cols: Int32Array.from(part, (i) => mirror.idOf(i) - mirror.start) } } : {}),
        };
        return (await this.runRows(job)) as Float32Array;
      }),
    );
    return { parts: blocks, per, m, bytes: rows.length * m * 4, mirroredPerRow: mirror?.known.length ?? 0 };
  }

  /**
   * Computes the rows `set` (positions into `xb`; row ids `idOf`) of `table` and keeps them while
   * there is room: rows of Z's own points read their known entries from mirror rows when enough
   * of Z's points have their rows cached (1/16 of Z), the others are computed whole.
   */
  async computeRows(
    table: Table,
    attrs: KernelBlockAttrs,
    xb: NdArray,
    set: readonly number[],
    z: NdArray,
    mirror: number | undefined,
    idOf: (i: number) => number,
  ): Promise<ComputedRows> {
    const m = z.shape[0] as number;
    const inZ = (i: number): boolean => mirror !== undefined && idOf(i) >= mirror && idOf(i) < mirror + m;
    const own = set.filter(inZ);
    const known = own.length > 0 ? knownColumns(table, mirror as number, m) : [];
    const mirrored = known.length > 0 && known.length * 16 >= m ? own : [];
    const whole = mirrored.length === 0 ? [...set] : set.filter((i) => !inZ(i));
    const rows = new Map<number, Float32Array>();
    const mirroredOf = new Map<number, number>();
    let mirroredCount = 0,
      kept = true;
    for (const [part, compute] of [
      [whole, () => this.kernelRows(attrs, xb, whole, z, table.grid)],
      [mirrored, () => this.kernelRows(attrs, xb, mirrored, z, table.grid, { table, start: mirror as number, known, idOf })],
    ] as const) {
      if (part.length === 0) continue;
      const block = await compute();
      const keep = this.store.room(table, block.bytes);
      kept &&= keep;
      part.forEach((i, r) => {
        const row = rowOf(block, r);
        rows.set(i, row);
        if (keep) table.rows.set(idOf(i), row);
      });
      mirroredCount += part.length * block.mirroredPerRow;
      if (block.mirroredPerRow > 0) for (const i of part) mirroredOf.set(i, block.mirroredPerRow);
      if (keep) this.store.add(table, block.bytes);
    }
    return { rows, mirrored: mirroredCount, mirroredOf, kept };
  }
}

/**
 * The rows a first pass over the row blocks asks for k batches after a task's: when the task's
 * rows, sorted, are contiguous runs, one per row block (EigenPro 2's first epoch in the center
 * layout), the k-th next batch is the k-th run of the same length after each; ids already
 * cached or queued are left out.
 */
function nextRuns(table: Table, ids: Int32Array, blocks: readonly NdArray[], k: number): number[] {
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
    const first = sorted[a] as number,
      end = (sorted[b - 1] as number) + 1,
      len = b - a;
    let blk = 0;
    while (blk + 1 < starts.length && (starts[blk + 1] as number) <= first) blk++;
    const blockEnd = (starts[blk] as number) + ((blocks[blk] as NdArray).shape[0] as number);
    if (end > blockEnd || ++runs > blocks.length) return [];
    for (let id = end + (k - 1) * len; id < Math.min(blockEnd, end + k * len); id++) if (!table.rows.has(id) && !table.ahead.has(id)) next.push(id);
    a = b;
  }
  return next;
}

/** A cached task, validated and bound to its table ({@link KernelRowCacheImpl.prepare}). */
interface CachedTask {
  readonly attrs: KernelBlockAttrs;
  readonly inputs: NdArray[];
  readonly table: Table;
  /** The rows (block op: x; rows op: gathered from the resident row blocks). */
  readonly xb: NdArray;
  /** Z's shared copy. */
  readonly z: NdArray;
  readonly a: NdArray;
  readonly n: number;
  readonly m: number;
  readonly c: number;
  /** Row ids of the rows op (indices into the resident row blocks); undefined for the block op, whose row ids are positions. */
  readonly ids: Int32Array | undefined;
  readonly idOf: (i: number) => number;
  /** Row id of Z's first row when Z is one of the resident row blocks (mirror entries), else undefined. */
  readonly mirror: number | undefined;
}

/** A task's rows that were computed for it (now, or ahead by a prefetch) and their mirrored entries. */
interface MissCount {
  missed: number;
  mirrored: number;
}

class KernelRowCacheImpl implements KernelRowCache {
  readonly threads: number;
  private readonly s: CacheSettings;
  private readonly counters: Counters = { hits: 0, misses: 0, evictedTables: 0, mirroredEntries: 0, prefetchedRows: 0, byteTables: 0 };
  private readonly store: TableStore;
  private readonly shared = new SharedInputs();
  private readonly work: RowWork;

  constructor(
    private readonly pool: KernelPool,
    runRows: (job: RowJob) => Promise<Float32Array | Float64Array>,
    o: KernelRowCacheOptions,
  ) {
    this.threads = pool.threads;
    this.s = settingsOf(o);
    this.store = new TableStore(this.s, this.counters);
    this.work = new RowWork(runRows, pool.threads, this.store);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  stats(): KernelRowCacheStats {
    const c = this.counters;
    return {
      hits: c.hits,
      misses: c.misses,
      bytes: this.store.bytes,
      tables: this.store.tables.size,
      evictedTables: c.evictedTables,
      mirroredEntries: c.mirroredEntries,
      prefetchedRows: c.prefetchedRows,
      byteTables: c.byteTables,
    };
  }

  async run(op: string, attrs: unknown, inputs: NdArray[], keys?: readonly string[], task?: KernelTaskContext): Promise<KernelRun> {
    if (op !== KERNEL_ROWS_MATMUL_OP_ID && op !== KERNEL_BLOCK_MATMUL_OP_ID) return this.pool.run(op, attrs, inputs, keys, task);
    const parsed = OPS.get(op).parseAttrs(attrs) as KernelBlockAttrs;
    const plain = parsed.n === undefined && (op === KERNEL_ROWS_MATMUL_OP_ID || inputs.length === 3);
    if (!parsed.cache || !plain || keys === undefined || keys.length !== inputs.length) return this.pool.run(op, attrs, inputs, keys, task);
    return this.cached(op, parsed, inputs, keys);
  }

  /** A cached task: validate and find its table, wait for its rows being computed ahead, multiply window by window. */
  private async cached(op: string, attrs: KernelBlockAttrs, inputs: NdArray[], keys: readonly string[]): Promise<KernelRun> {
    const t0 = performance.now();
    const task = this.prepare(op, attrs, inputs, keys);
    await this.awaitRowsAhead(task);
    const out = new Float64Array(task.n * task.c);
    const { missed, mirrored } = await this.multiplyInWindows(task, out);
    const c = this.counters;
    c.hits += task.n - missed;
    c.misses += missed;
    c.mirroredEntries += mirrored;
    return {
      outputs: [{ dtype: 'f64', shape: [task.n, task.c], data: out }],
      backend: 'wasm-cache',
      computeMs: performance.now() - t0,
      rowHits: task.n - missed,
      rowMisses: missed,
      mirroredEntries: mirrored,
    };
  }

  /** Validates the task as the op's own kernels do, before any work, and binds it to its table (made on first use). */
  private prepare(op: string, attrs: KernelBlockAttrs, inputs: NdArray[], keys: readonly string[]): CachedTask {
    const rowsOp = op === KERNEL_ROWS_MATMUL_OP_ID;
    const [xb, z, a] = rowsOp ? kernelRowsMatmulInputs(inputs) : [inputs[0] as NdArray, inputs[1] as NdArray, inputs[2] as NdArray];
    OPS.get(KERNEL_BLOCK_MATMUL_OP_ID).checkInputs(attrs, [xb, z, a]);
    // Z is one of the worker's cached inputs, named by digest batch after batch and never
    // written: checked once.
    markFinite(z);
    const zk = this.shared.sharedCopy(z, keys[1] ?? '');
    const n = xb.shape[0] as number,
      m = z.shape[0] as number,
      c = a.shape[1] as number;
    const ids = rowsOp ? ((inputs[0] as NdArray).data as Int32Array) : undefined;
    const table = this.tableFor(attrs, zk, keys, rowsOp ? inputs.slice(3) : [xb], rowsOp);
    table.usedAt = this.s.now();
    return {
      attrs,
      inputs,
      table,
      xb,
      z: zk,
      a,
      n,
      m,
      c,
      ids,
      idOf: (i) => (ids !== undefined ? (ids[i] as number) : i),
      // Z is one of the resident row blocks (EigenPro 2's centers are X's own row blocks): new
      // rows of Z's own block may read entries from the cached rows of their mirror points.
      mirror: rowsOp ? mirrorStart(inputs, keys, m) : undefined,
    };
  }

  /**
   * The table of one (kernel, σ, Z, row source): the resident row blocks (rows op) or the x input
   * (block op), all by digest. A new table takes the byte kernel block when Z and every array of
   * the row source are byte features of one scale.
   */
  private tableFor(attrs: KernelBlockAttrs, z: NdArray, keys: readonly string[], sources: readonly NdArray[], rowsOp: boolean): Table {
    const source = rowsOp ? `rows:${keys.slice(3).join(',')}` : `x:${keys[0] ?? ''}`;
    const key = `${attrs.kernel}|${attrs.bandwidth}|${keys[1] ?? ''}|${source}`;
    let table = this.store.tables.get(key);
    if (table === undefined) {
      const grid = this.tableGrid(z, keys[1] ?? '', sources, rowsOp ? keys.slice(3) : keys.slice(0, 1));
      table = { key, m: z.shape[0] as number, rows: new Map(), bytes: 0, usedAt: 0, prefetched: new Map(), ahead: new Map(), chain: Promise.resolve(), grid };
      this.store.tables.set(key, table);
    }
    return table;
  }

  /** Z's bytes when Z and every array of the row source are byte features of one scale. */
  private tableGrid(z: NdArray, zKey: string, sources: readonly NdArray[], keys: readonly string[]): Grid | undefined {
    const g = (z.shape[1] as number) <= U8_MAX_D ? this.shared.gridOf(z, zKey) : undefined;
    if (g === undefined || sources.some((a, i) => this.shared.gridOf(a, keys[i] ?? '')?.scale !== g.scale)) return undefined;
    this.s.log?.info('kernel-row cache: byte features, rows from exact integer distances', { scale: g.scale, rows: z.shape[0] });
    this.counters.byteTables++;
    return g;
  }

  /** Rows of this task being computed ahead: waits for their runs (not for later ones). */
  private async awaitRowsAhead(task: CachedTask): Promise<void> {
    const { ids, table } = task;
    if (ids === undefined || table.ahead.size === 0) return;
    const runs = new Set<Promise<void>>();
    for (const id of ids) {
      const r = table.ahead.get(id);
      if (r !== undefined) runs.add(r);
    }
    await Promise.all(runs);
  }

  /**
   * out = K·A in windows of at most MISS_BLOCK_BYTES of kernel rows: a window's missing rows are
   * computed (kernel-block calls: own points mirrored, the others whole, each split over the
   * kernel threads), kept while there is room, and multiplied before the next window, so an
   * uncached task holds one window of rows, never its whole block. The last window queues the
   * next batches' rows ahead before its product.
   */
  private async multiplyInWindows(task: CachedTask, out: Float64Array): Promise<MissCount> {
    const { table, n, m, c, ids, idOf } = task;
    const count: MissCount = { missed: 0, mirrored: 0 };
    const per = rowsPerWindow(this.s, m);
    for (let w0 = 0; w0 < n; w0 += per) {
      const w1 = Math.min(n, w0 + per);
      const miss = this.missesOf(task, w0, w1, count);
      count.missed += miss.length;
      const fresh = miss.length > 0 ? await this.work.computeRows(table, task.attrs, task.xb, miss, task.z, task.mirror, idOf) : undefined;
      count.mirrored += fresh?.mirrored ?? 0;
      // The next batch's rows are computed on the kernel threads while this product runs.
      if (w1 === n && ids !== undefined && count.missed > 0) this.prefetch(task, ids);
      await this.work.product(out, w0, w1, m, c, (i) => fresh?.rows.get(i) ?? (table.rows.get(idOf(i)) as Float32Array), task.a.data as Float64Array);
    }
    return count;
  }

  /**
   * Positions [w0, w1) whose rows are not in the table. Rows a prefetch computed for this task
   * are counted as its misses (computed for it), with their mirrored entries, as if computed now.
   */
  private missesOf(task: CachedTask, w0: number, w1: number, count: MissCount): number[] {
    const { table, idOf } = task;
    const miss: number[] = [];
    for (let i = w0; i < w1; i++) {
      const id = idOf(i);
      if (!table.rows.has(id)) miss.push(i);
      else if (table.prefetched.has(id)) {
        count.missed++;
        this.counters.prefetchedRows++;
        count.mirrored += table.prefetched.get(id) as number;
        table.prefetched.delete(id);
      }
    }
    return miss;
  }

  /**
   * Queues the next {@link PREFETCH_DEPTH} batches' rows of the task's table (nextRuns) to be
   * computed on the kernel threads, one run after the other, while this thread multiplies and
   * the orchestrator prepares the next batch. A task waits only for the runs holding its rows,
   * and counts the rows it finds this way as its misses (computed for it), so the statistics and
   * the bits are those of computing them on demand. Runs that would not fit are not queued.
   */
  private prefetch(task: CachedTask, taskIds: Int32Array): void {
    const { table, attrs, inputs, z, mirror, m } = task;
    for (let k = 1; k <= PREFETCH_DEPTH; k++) {
      const next = nextRuns(table, taskIds, inputs.slice(3), k);
      const need = next.length * m * 4;
      if (next.length === 0 || !this.store.roomAhead(need)) return;
      const ids = Int32Array.from(next);
      this.store.aheadBytes += need;
      const run = table.chain
        .then(() => this.computeAhead(table, attrs, inputs, ids, z, mirror))
        .catch((e: Error) => {
          this.s.log?.warn('kernel-row cache: rows computed ahead failed; they will be computed on demand', { err: e.message });
        })
        .finally(() => {
          this.store.aheadBytes -= need;
          for (const id of ids) table.ahead.delete(id);
        });
      for (const id of ids) table.ahead.set(id, run);
      table.chain = run;
    }
  }

  /** One prefetch run: the rows `ids` of `table` in windows, marked as computed ahead for the task that will ask for them. */
  private async computeAhead(
    table: Table,
    attrs: KernelBlockAttrs,
    inputs: readonly NdArray[],
    ids: Int32Array,
    z: NdArray,
    mirror: number | undefined,
  ): Promise<void> {
    const m = z.shape[0] as number;
    const [xb] = kernelRowsMatmulInputs([{ dtype: 'i32', shape: [ids.length], data: ids }, ...inputs.slice(1)]);
    // No task has checked these rows yet; a non-finite one stops the run (its task then fails
    // its own checks).
    requireFinite(KERNEL_ROWS_MATMUL_OP_ID, xb, 'x');
    const per = rowsPerWindow(this.s, m);
    for (let w0 = 0; w0 < ids.length; w0 += per) {
      const set = Array.from({ length: Math.min(ids.length, w0 + per) - w0 }, (_, q) => w0 + q).filter((i) => !table.rows.has(ids[i] as number));
      const r = await this.work.computeRows(table, attrs, xb, set, z, mirror, (i) => ids[i] as number);
      if (!r.kept) return;
      for (const i of set) table.prefetched.set(ids[i] as number, r.mirroredOf.get(i) ?? 0);
    }
  }
}
