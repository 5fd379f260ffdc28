/**
 * Work on kernel rows that the kernel-row cache (kernel-cache.ts) hands to its kernel threads,
 * over rows kept in shared memory, so the worker's main thread only coordinates:
 *
 * - `block`: f32 kernel rows K(X, Z) for n new rows, written into a new SharedArrayBuffer (n × m).
 *   The kernel runs on the columns `unknown` only (a run of Z, or a list); the other columns,
 *   `mirror.known`, are copied from the cached rows of those columns' own points,
 *   K(x_i, z_l) = K(x_l, z_i) — the f32 kernel block is bitwise symmetric. Features that are
 *   bytes (`bytes`: pixel values v·scale) run the byte kernel block instead (`gf_kernel_block_u8`:
 *   exact integer distances, also bitwise symmetric).
 * - `product`: K·A (f64, rows × c) for rows in shared memory (`gf_f32_rows_matmul`: f64 sums in
 *   ascending column order, so the bits do not depend on how rows are split over threads).
 */
import { KERNEL_FUNCTIONS, kernelBlockOp, type KernelFunction } from '@gramfleet/core';
import type { WasmArena } from './backends/wasm/arena';
import { allocBytes, callDense, putArray } from './backends/wasm/dense-host';

/** Rows in shared memory: row r is `m` floats of `buffers[buf[r]]` from float `off[r]`. */
export interface SharedRows {
  readonly buffers: readonly SharedArrayBuffer[];
  readonly buf: Int32Array;
  readonly off: Int32Array;
}

/** Kernel rows of new points; see the file comment. */
export interface BlockJob {
  readonly kind: 'block';
  readonly kernel: KernelFunction;
  readonly bandwidth: number;
  /** The new rows' points, n × d: f32 features, or their bytes with {@link BlockJob.bytes}. */
  readonly x: Float32Array | Uint8Array;
  readonly n: number;
  readonly d: number;
  /** Z's rows at the unknown columns, u × d (all of Z when nothing is mirrored); bytes with {@link BlockJob.bytes}. */
  readonly z: Float32Array | Uint8Array;
  /** x and z are bytes v of the features v·scale (core's `featureBytes`). */
  readonly bytes?: { readonly scale: number };
  readonly u: number;
  /** Z's row count: the width of a kernel row. */
  readonly m: number;
  /** The unknown columns: the first of a run of u, or the u columns. */
  readonly unknown: number | Int32Array;
  readonly mirror?: {
    /** Known columns, ascending, and the cached row of each column's own point. */
    readonly known: Int32Array;
    readonly src: SharedRows;
    /** Each new row's own column in Z (its entries of the known rows are read there). */
    readonly cols: Int32Array;
  };
}

/** K·A for rows in shared memory; see the file comment. */
export interface ProductJob {
  readonly kind: 'product';
  readonly rows: SharedRows;
  readonly count: number;
  readonly m: number;
  readonly c: number;
  /** A, m × c. */
  readonly a: Float64Array;
}

/** A job of the kernel-row cache for a kernel thread. */
export type RowJob = BlockJob | ProductJob;

/** Side of the tiles in which mirror entries are transposed into new rows. */
const MIRROR_TILE = 32;
/** Bytes of mirror stretches transposed per call of `gf_f32_transpose` (twice this in the arena). */
const TRANSPOSE_BYTES = 4 * 2 ** 20;
/** Zero rows of A between two nonzero ones that are still multiplied (shorter gaps are not worth a break in the copy). */
const ZERO_GAP = 8;
/** Rows of K·A per call of the product kernel (bounds the copy into the arena to ~64 MB). */
const PRODUCT_BYTES = 64 * 2 ** 20;

/** Runs a row job on this thread's arena: a `block` gives f32 rows in shared memory, a `product` f64 K·A. */
export function runRowJob(arena: WasmArena, job: RowJob): Float32Array | Float64Array {
  return job.kind === 'block' ? blockRows(arena, job) : rowsProduct(arena, job);
}

function blockRows(arena: WasmArena, j: BlockJob): Float32Array {
  const { n, m, u, d } = j;
  const out = new Float32Array(new SharedArrayBuffer(Math.max(4, n * m * 4)), 0, n * m);
  if (u > 0 && n > 0) {
    const k = allocBytes(arena, n * u * 4, false); // every entry written by the kernel
    const kind = KERNEL_FUNCTIONS.indexOf(j.kernel);
    if (j.bytes !== undefined) {
      const x = putArray(arena, j.x),
        z = putArray(arena, j.z);
      const ws = allocBytes(arena, arena.fn('gf_kernel_block_u8_workspace_bytes')(n, u, d));
      callDense(arena, kernelBlockOp.id, 'gf_kernel_block_u8', [
        kind,
        n,
        u,
        d,
        x,
        0,
        Math.max(1, d),
        z,
        0,
        Math.max(1, d),
        j.bytes.scale,
        j.bandwidth,
        k,
        0,
        Math.max(1, u),
        ws,
      ]);
    } else {
      const x = putArray(arena, j.x),
        z = putArray(arena, j.z);
      const ws = allocBytes(arena, arena.fn('gf_kernel_block_matmul_f32_workspace_bytes')(n, u, d));
      callDense(arena, kernelBlockOp.id, 'gf_kernel_block_f32', [
        kind,
        n,
        u,
        d,
        x,
        0,
        Math.max(1, d),
        z,
        0,
        Math.max(1, d),
        j.bandwidth,
        k,
        0,
        Math.max(1, u),
        ws,
      ]);
    }
    const kv = arena.f32(k, n * u);
    if (typeof j.unknown === 'number') {
      for (let r = 0; r < n; r++) out.set(kv.subarray(r * u, (r + 1) * u), r * m + j.unknown);
    } else {
      const cols = j.unknown;
      for (let r = 0; r < n; r++) {
        const o = r * m,
          i = r * u;
        for (let q = 0; q < u; q++) out[o + (cols[q] as number)] = kv[i + q] as number;
      }
    }
  }
  if (j.mirror !== undefined) mirrorFill(arena, out, n, m, j.mirror);
  return out;
}

/**
 * Column l of the new rows is row l's entries at the new rows' own columns: a transpose. When the
 * new rows' columns are one run (EigenPro 2's center layout) and the known columns come in runs,
 * the known rows' stretches are copied into the arena a chunk at a time, transposed there
 * (`gf_f32_transpose`, SIMD 4×4 blocks) and copied out row by row: ~1 ns an entry, where the
 * same transpose in JS over 240 KB rows scattered through the cache cost ~15 ns. Otherwise: in
 * JS, in tiles of MIRROR_TILE mirror rows × MIRROR_TILE new rows, the new rows taken in the
 * order of their columns so each mirror row is read forwards.
 */
function mirrorFill(arena: WasmArena, out: Float32Array, n: number, m: number, mr: NonNullable<BlockJob['mirror']>): void {
  const { known, src, cols } = mr;
  const views = src.buffers.map((b) => new Float32Array(b));
  const byCol = Int32Array.from({ length: n }, (_, r) => r).sort((x, y) => (cols[x] as number) - (cols[y] as number));
  const sortedCols = Int32Array.from(byCol, (r) => cols[r] as number);
  const outAt = Int32Array.from(byCol, (r) => r * m);
  if (n > 0 && (sortedCols[n - 1] as number) - (sortedCols[0] as number) === n - 1) {
    const c0 = sortedCols[0] as number;
    const chunk = Math.max(4, Math.floor(TRANSPOSE_BYTES / (n * 4)));
    const sp = allocBytes(arena, chunk * n * 4, false),
      dp = allocBytes(arena, chunk * n * 4, false);
    for (let k0 = 0; k0 < known.length;) {
      let k1 = k0 + 1;
      while (k1 < known.length && k1 - k0 < chunk && known[k1] === (known[k1 - 1] as number) + 1) k1++;
      const kc = k1 - k0;
      const sv = arena.f32(sp, kc * n);
      for (let k = k0; k < k1; k++) {
        const o = (src.off[k] as number) + c0;
        sv.set((views[src.buf[k] as number] as Float32Array).subarray(o, o + n), (k - k0) * n);
      }
      arena.check('gf_f32_transpose', kc, n, sp, n, dp, kc);
      const dv = arena.f32(dp, n * kc),
        l0 = known[k0] as number;
      for (let j = 0; j < n; j++) out.set(dv.subarray(j * kc, (j + 1) * kc), (outAt[j] as number) + l0);
      k0 = k1;
    }
    return;
  }
  const T = MIRROR_TILE;
  for (let k0 = 0; k0 < known.length; k0 += T) {
    const k1 = Math.min(known.length, k0 + T);
    for (let j0 = 0; j0 < n; j0 += T) {
      const j1 = Math.min(n, j0 + T);
      for (let k = k0; k < k1; k++) {
        const row = views[src.buf[k] as number] as Float32Array,
          base = src.off[k] as number,
          l = known[k] as number;
        for (let jj = j0; jj < j1; jj++) out[(outAt[jj] as number) + l] = row[base + (sortedCols[jj] as number)] as number;
      }
    }
  }
}

/**
 * Runs [start, end) of the rows of A (m × c) that are not all zero, in ascending order, gaps
 * shorter than {@link ZERO_GAP} rows merged.
 */
function nonzeroRuns(a: Float64Array, m: number, c: number): number[] {
  const runs: number[] = [];
  for (let j = 0; j < m; j++) {
    let nz = false;
    for (let q = j * c; q < (j + 1) * c; q++)
      if (a[q] !== 0) {
        nz = true;
        break;
      }
    if (!nz) continue;
    const last = runs.length - 1;
    if (last > 0 && j - (runs[last] as number) < ZERO_GAP) runs[last] = j + 1;
    else runs.push(j, j + 1);
  }
  return runs;
}

/**
 * K·A over the rows in shared memory. Rows of A that are zero add nothing to any sum (K is
 * finite and each sum starts at +0, so s + K·0 = s bit for bit), and in EigenPro 2's first epoch
 * half of A on average is the zero of rows not visited yet: when a quarter or more of A's rows
 * are zero, only the other columns of K are copied in and multiplied (same bits, same order).
 */
function rowsProduct(arena: WasmArena, j: ProductJob): Float64Array {
  const { count, m, c } = j;
  const res = new Float64Array(count * c);
  if (count === 0 || c === 0) return res;
  const views = j.rows.buffers.map((b) => new Float32Array(b));
  const runs = nonzeroRuns(j.a, m, c);
  let width = 0;
  for (let r = 0; r < runs.length; r += 2) width += (runs[r + 1] as number) - (runs[r] as number);
  const compact = width <= 0.75 * m;
  const w = compact ? width : m;
  const a = compact ? new Float64Array(w * c) : j.a;
  if (compact) {
    let o = 0;
    for (let r = 0; r < runs.length; r += 2) {
      const j0 = runs[r] as number,
        j1 = runs[r + 1] as number;
      a.set(j.a.subarray(j0 * c, j1 * c), o);
      o += (j1 - j0) * c;
    }
  }
  const ap = putArray(arena, a);
  const chunk = Math.max(1, Math.min(count, Math.floor(PRODUCT_BYTES / Math.max(1, w * 4))));
  const kp = allocBytes(arena, chunk * Math.max(1, w) * 4, false); // rows copied in, output written whole
  const op = allocBytes(arena, chunk * c * 8, false);
  const ws = allocBytes(arena, arena.fn('gf_f32_rows_matmul_workspace_bytes')(), false);
  for (let r0 = 0; r0 < count; r0 += chunk) {
    const rows = Math.min(chunk, count - r0);
    const kv = arena.f32(kp, rows * w);
    for (let i = 0; i < rows; i++) {
      const v = views[j.rows.buf[r0 + i] as number] as Float32Array,
        o = j.rows.off[r0 + i] as number;
      if (!compact) {
        kv.set(v.subarray(o, o + m), i * w);
        continue;
      }
      let at = i * w;
      for (let r = 0; r < runs.length; r += 2) {
        const j0 = o + (runs[r] as number),
          j1 = o + (runs[r + 1] as number);
        if (j1 - j0 >= 32) kv.set(v.subarray(j0, j1), at);
        else for (let q = j0; q < j1; q++) kv[at + q - j0] = v[q] as number;
        at += j1 - j0;
      }
    }
    arena.check('gf_f32_rows_matmul', rows, w, c, kp, Math.max(1, w), ap, Math.max(1, c), op, Math.max(1, c), ws);
    res.set(arena.f64(op, rows * c), r0 * c);
  }
  return res;
}
