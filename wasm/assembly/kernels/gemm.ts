// Dense GEMM: C = alpha·op(A)·op(B) + beta·C, row-major, with packed panels and a 4×4
// f64x2 register-blocked micro-kernel (BLIS loop order jc → pc → ic → jr → ir).
//
// A and B may be f64 or f32 (f32 is widened to f64 while packing, so every product and sum
// is f64); C is always f64. Pointers are byte addresses; offsets and leading dimensions are
// in elements. The host passes a workspace of at least gf_gemm_workspace_bytes() bytes.
// Kernels never allocate and never throw: they return a status (0 = ok).
//
// Multiply-add: the default build uses f64x2.mul + f64x2.add, which every Node accepts. A
// build with `--use GF_FMA=1` (build/kernels-fma.wasm) uses relaxed-SIMD f64x2.relaxed_madd
// instead: ~1.45× faster GEMM on Zen 3 (fewer µops, no temporary register), but Node 20
// validates it only under --experimental-wasm-relaxed-simd (Node ≥ 22 by default), so the
// host loads it only where WebAssembly.validate accepts it (workers/.../kernel-module.ts).

/** Status codes shared by the kernel-library kernels. */
export const GF_OK: i32 = 0;
export const GF_BAD_SIZE: i32 = 1;
export const GF_BAD_LD: i32 = 2;
export const GF_BAD_INDEX: i32 = 3;
export const GF_BAD_ATTR: i32 = 4;
export const GF_WORKSPACE: i32 = 5;

export const MR: i32 = 4;
export const NR: i32 = 4;
export const MC: i32 = 96;
export const KC: i32 = 256;
export const NC: i32 = 2048;


/** Workspace bytes the driver needs (packed A block + packed B panel + one C tile). */
export function gf_gemm_workspace_bytes(): usize {
  return <usize>(MC * KC + KC * (NC + NR) + MR * NR + 64) * 8;
}

/** c + a·b per lane: fused (relaxed-SIMD) in the GF_FMA build, mul + add otherwise. */
// @ts-ignore: GF_FMA is defined only by `asc --use GF_FMA=1`
@inline export function fmadd(a: v128, b: v128, c: v128): v128 {
  // @ts-ignore
  if (isDefined(GF_FMA)) return f64x2.relaxed_madd(a, b, c);
  return f64x2.add(c, f64x2.mul(a, b));
}

/** 1 when this module was built with relaxed-SIMD FMA (`--use GF_FMA=1`), else 0. */
export function gf_fma_build(): i32 {
  // @ts-ignore
  if (isDefined(GF_FMA)) return 1;
  return 0;
}

// ---------------------------------------------------------------- packing

@inline function ldA(p: usize, f32: bool): f64 {
  return f32 ? <f64>load<f32>(p) : load<f64>(p);
}

/**
 * Packs op(A)[i0:i0+mc, p0:p0+kc] (times alpha) into MR-row micro-panels: for each panel,
 * for each p, MR consecutive values; rows past mc are zero.
 */
function packA(a: usize, lda: i32, trans: bool, f32: bool, i0: i32, p0: i32, mc: i32, kc: i32, alpha: f64, out: usize): void {
  const es: usize = f32 ? 4 : 8;
  let o = out;
  for (let ir = 0; ir < mc; ir += MR) {
    const rows = min(MR, mc - ir);
    if (!trans) {
      // A(i,p) = a[i*lda + p]
      if (rows == MR) {
        const r0 = a + (<usize>(i0 + ir) * <usize>lda + <usize>p0) * es;
        const r1 = r0 + <usize>lda * es;
        const r2 = r1 + <usize>lda * es;
        const r3 = r2 + <usize>lda * es;
        if (f32) {
          for (let p = 0; p < kc; p++) {
            const q = <usize>p << 2;
            store<f64>(o, <f64>load<f32>(r0 + q) * alpha);
            store<f64>(o, <f64>load<f32>(r1 + q) * alpha, 8);
            store<f64>(o, <f64>load<f32>(r2 + q) * alpha, 16);
            store<f64>(o, <f64>load<f32>(r3 + q) * alpha, 24);
            o += 32;
          }
        } else {
          for (let p = 0; p < kc; p++) {
            const q = <usize>p << 3;
            store<f64>(o, load<f64>(r0 + q) * alpha);
            store<f64>(o, load<f64>(r1 + q) * alpha, 8);
            store<f64>(o, load<f64>(r2 + q) * alpha, 16);
            store<f64>(o, load<f64>(r3 + q) * alpha, 24);
            o += 32;
          }
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let i = 0; i < MR; i++) {
            let v: f64 = 0;
            if (i < rows) v = ldA(a + (<usize>(i0 + ir + i) * <usize>lda + <usize>(p0 + p)) * es, f32) * alpha;
            store<f64>(o + (<usize>i << 3), v);
          }
          o += <usize>MR << 3;
        }
      }
    } else {
      // A(i,p) = a[p*lda + i]: MR consecutive values per p
      for (let p = 0; p < kc; p++) {
        const src = a + (<usize>(p0 + p) * <usize>lda + <usize>(i0 + ir)) * es;
        if (rows == MR && !f32) {
          const al = f64x2.splat(alpha);
          v128.store(o, f64x2.mul(v128.load(src), al));
          v128.store(o, f64x2.mul(v128.load(src, 16), al), 16);
        } else {
          for (let i = 0; i < MR; i++) {
            let v: f64 = 0;
            if (i < rows) v = ldA(src + <usize>i * es, f32) * alpha;
            store<f64>(o + (<usize>i << 3), v);
          }
        }
        o += <usize>MR << 3;
      }
    }
  }
}

/**
 * Packs op(B)[p0:p0+kc, j0:j0+nc] into NR-column micro-panels: for each panel, for each p,
 * NR consecutive values; columns past nc are zero.
 */
function packB(b: usize, ldb: i32, trans: bool, f32: bool, p0: i32, j0: i32, kc: i32, nc: i32, out: usize): void {
  const es: usize = f32 ? 4 : 8;
  let o = out;
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    if (!trans) {
      // B(p,j) = b[p*ldb + j]
      for (let p = 0; p < kc; p++) {
        const src = b + (<usize>(p0 + p) * <usize>ldb + <usize>(j0 + jr)) * es;
        if (cols == NR) {
          if (f32) {
            v128.store(o, f64x2.promote_low_f32x4(v128.load64_zero(src)));
            v128.store(o, f64x2.promote_low_f32x4(v128.load64_zero(src, 8)), 16);
          } else {
            v128.store(o, v128.load(src));
            v128.store(o, v128.load(src, 16), 16);
          }
        } else {
          for (let j = 0; j < NR; j++) {
            let v: f64 = 0;
            if (j < cols) v = ldA(src + <usize>j * es, f32);
            store<f64>(o + (<usize>j << 3), v);
          }
        }
        o += <usize>NR << 3;
      }
    } else {
      // B(p,j) = b[j*ldb + p]
      if (cols == NR) {
        const c0 = b + (<usize>(j0 + jr) * <usize>ldb + <usize>p0) * es;
        const c1 = c0 + <usize>ldb * es;
        const c2 = c1 + <usize>ldb * es;
        const c3 = c2 + <usize>ldb * es;
        if (f32) {
          for (let p = 0; p < kc; p++) {
            const q = <usize>p << 2;
            store<f64>(o, <f64>load<f32>(c0 + q));
            store<f64>(o, <f64>load<f32>(c1 + q), 8);
            store<f64>(o, <f64>load<f32>(c2 + q), 16);
            store<f64>(o, <f64>load<f32>(c3 + q), 24);
            o += 32;
          }
        } else {
          for (let p = 0; p < kc; p++) {
            const q = <usize>p << 3;
            store<f64>(o, load<f64>(c0 + q));
            store<f64>(o, load<f64>(c1 + q), 8);
            store<f64>(o, load<f64>(c2 + q), 16);
            store<f64>(o, load<f64>(c3 + q), 24);
            o += 32;
          }
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let j = 0; j < NR; j++) {
            let v: f64 = 0;
            if (j < cols) v = ldA(b + (<usize>(j0 + jr + j) * <usize>ldb + <usize>(p0 + p)) * es, f32);
            store<f64>(o + (<usize>j << 3), v);
          }
          o += <usize>NR << 3;
        }
      }
    }
  }
}

// ---------------------------------------------------------------- micro-kernel

/**
 * C[0:4, 0:4] += Ap · Bp over kc steps (Ap: 4 values per step, Bp: 4 values per step).
 * `c` points at C(0,0) of the tile, ldcB is the row pitch in bytes. A plain (not unrolled)
 * loop measured fastest under V8 (k unrolled by 2: 12.5 vs 15 GFLOP/s; a 6×4 tile: 6 —
 * probably register spills, 12 accumulators plus operands exceed the 15 usable xmm).
 */
@inline function micro4x4(kc: i32, pa: usize, pb: usize, c: usize, ldcB: usize): void {
  let c00 = f64x2.splat(0), c01 = f64x2.splat(0);
  let c10 = f64x2.splat(0), c11 = f64x2.splat(0);
  let c20 = f64x2.splat(0), c21 = f64x2.splat(0);
  let c30 = f64x2.splat(0), c31 = f64x2.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load64_splat(pa);
    c00 = fmadd(a, b0, c00);
    c01 = fmadd(a, b1, c01);
    a = v128.load64_splat(pa, 8);
    c10 = fmadd(a, b0, c10);
    c11 = fmadd(a, b1, c11);
    a = v128.load64_splat(pa, 16);
    c20 = fmadd(a, b0, c20);
    c21 = fmadd(a, b1, c21);
    a = v128.load64_splat(pa, 24);
    c30 = fmadd(a, b0, c30);
    c31 = fmadd(a, b1, c31);
    pa += 32;
    pb += 32;
  }
  let r = c;
  v128.store(r, f64x2.add(v128.load(r), c00));
  v128.store(r, f64x2.add(v128.load(r, 16), c01), 16);
  r += ldcB;
  v128.store(r, f64x2.add(v128.load(r), c10));
  v128.store(r, f64x2.add(v128.load(r, 16), c11), 16);
  r += ldcB;
  v128.store(r, f64x2.add(v128.load(r), c20));
  v128.store(r, f64x2.add(v128.load(r, 16), c21), 16);
  r += ldcB;
  v128.store(r, f64x2.add(v128.load(r), c30));
  v128.store(r, f64x2.add(v128.load(r, 16), c31), 16);
}

// ---------------------------------------------------------------- epilogue hook

/** Applies the current epilogue to C[i0:i0+rows, j0:j0+cols] (global indices gi, gj). */
// Implemented in kernel-block.ts; gemm only calls it through this indirection.
export let epilogueFn: (c: usize, ldc: i32, rows: i32, cols: i32, gi: i32, gj: i32) => void = epiNone;
/** The no-op epilogue. */
export function epiNone(c: usize, ldc: i32, rows: i32, cols: i32, gi: i32, gj: i32): void {}
export function setEpilogue(f: (c: usize, ldc: i32, rows: i32, cols: i32, gi: i32, gj: i32) => void): void {
  epilogueFn = f;
}

// ---------------------------------------------------------------- driver

/**
 * C[m×n] (f64, at c, ldc) = alpha·op(A)·op(B) + beta·C. `a`/`b` are byte pointers to the
 * first element; lda/ldb/ldc in elements. `epi` != 0 applies {@link epilogueFn} to every
 * finished tile (global row offset gi0 for the hook).
 */
export function gemmCore(
  transA: bool, transB: bool, f32: bool, m: i32, n: i32, k: i32,
  alpha: f64, a: usize, lda: i32, b: usize, ldb: i32, beta: f64, c: usize, ldc: i32,
  work: usize, epi: bool, gi0: i32,
): void {
  const ldcB = <usize>ldc << 3;
  // C = beta·C (beta == 0 overwrites, so NaN in C does not propagate, as BLAS does).
  if (beta != 1.0) {
    for (let i = 0; i < m; i++) {
      const row = c + <usize>i * ldcB;
      if (beta == 0.0) memory.fill(row, 0, <usize>n << 3);
      else for (let j = 0; j < n; j++) store<f64>(row + (<usize>j << 3), load<f64>(row + (<usize>j << 3)) * beta);
    }
  }
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0) {
    if (epi) epilogueFn(c, ldc, m, n, gi0, 0);
    return;
  }
  const pa = (work + 63) & ~(<usize>63);
  const pb = pa + <usize>(MC * KC) * 8;
  const tmp = pb + <usize>(KC * (NC + NR)) * 8;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const last = epi && pc + kc >= k;
      packB(b, ldb, transB, f32, pc, jc, kc, nc, pb);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(a, lda, transA, f32, ic, pc, mc, kc, alpha, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min(NR, nc - jr);
          const pbj = pb + <usize>(jr * kc) * 8;
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            const pai = pa + <usize>(ir * kc) * 8;
            const ct = c + <usize>(ic + ir) * ldcB + (<usize>(jc + jr) << 3);
            if (rows == MR && cols == NR) {
              micro4x4(kc, pai, pbj, ct, ldcB);
            } else {
              memory.fill(tmp, 0, <usize>(MR * NR) * 8);
              micro4x4(kc, pai, pbj, tmp, <usize>NR << 3);
              for (let i = 0; i < rows; i++) {
                for (let j = 0; j < cols; j++) {
                  const q = ct + <usize>i * ldcB + (<usize>j << 3);
                  store<f64>(q, load<f64>(q) + load<f64>(tmp + (<usize>(i * NR + j) << 3)));
                }
              }
            }
            if (last) epilogueFn(ct, ldc, rows, cols, gi0 + ic + ir, jc + jr);
          }
        }
      }
    }
  }
}

/** Checks sizes and leading dimensions; returns a status. */
export function checkGemmArgs(transA: bool, transB: bool, m: i32, n: i32, k: i32, lda: i32, ldb: i32, ldc: i32): i32 {
  if (m < 0 || n < 0 || k < 0) return GF_BAD_SIZE;
  const aCols = transA ? m : k;
  const bCols = transB ? k : n;
  if (lda < max(1, aCols) || ldb < max(1, bCols) || ldc < max(1, n)) return GF_BAD_LD;
  return GF_OK;
}

/**
 * f64 GEMM. `dtype` 0 = A and B are f64, 1 = A and B are f32 (widened while packing; all
 * accumulation in f64). C is f64. Offsets and leading dimensions in elements.
 */
export function gf_gemm(
  transA: i32, transB: i32, dtype: i32, m: i32, n: i32, k: i32, alpha: f64,
  a: usize, offA: i32, lda: i32, b: usize, offB: i32, ldb: i32,
  beta: f64, c: usize, offC: i32, ldc: i32, work: usize,
): i32 {
  const s = checkGemmArgs(transA != 0, transB != 0, m, n, k, lda, ldb, ldc);
  if (s != GF_OK) return s;
  if (dtype != 0 && dtype != 1) return GF_BAD_ATTR;
  const es: usize = dtype == 1 ? 4 : 8;
  setEpilogue(epiNone);
  gemmCore(transA != 0, transB != 0, dtype == 1, m, n, k, alpha, a + <usize>offA * es, lda, b + <usize>offB * es, ldb, beta, c + (<usize>offC << 3), ldc, work, false, 0);
  return GF_OK;
}
