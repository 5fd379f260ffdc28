// f32 GEMM accumulated in f32: C = alpha·op(A)·op(B) + beta·C with A, B and C all f32,
// row-major, packed panels and a 4×8 f32x4 register tile (twice the lanes of gemm.ts's f64
// tile; the same tile as kernel-block-f32.ts). This is `gemm` with `accumulate: 'f32'`
// (core/src/ops/gemm.ts states its error bound): every entry is one f32 sum over k in
// ascending p (each KC slice summed in registers, then added into C in order), so with alpha·a
// rounded once, |Δ| ≤ (k + 2)·2⁻²⁴·(|alpha|·|A|·|B| + |beta·C|) entry for entry against the
// exact product (to first order), as for any BLAS sgemm.
// Loop order BLIS jc → pc → ic → jr → ir. Kernels never allocate and never throw.
import { GF_BAD_LD, GF_OK, checkGemmArgs } from './gemm';

const MR: i32 = 4;
const NR: i32 = 8;
const MC: i32 = 128;
const KC: i32 = 384;
const NC: i32 = 2048;

/** Workspace bytes of {@link gf_gemm_f32} (packed A block + packed B panel + one C tile). */
export function gf_gemm_f32_workspace_bytes(): usize {
  return <usize>(MC * KC + KC * (NC + NR) + MR * NR + 64) * 4;
}

/** c + a·b per lane: fused (relaxed-SIMD) in the GF_FMA build, mul + add otherwise. */
// @ts-ignore: GF_FMA is defined only by `asc --use GF_FMA=1`
@inline function fmadd32(a: v128, b: v128, c: v128): v128 {
  // @ts-ignore
  if (isDefined(GF_FMA)) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** alpha·v formed in f64 and rounded once to f32. */
@inline function sc(v: f32, alpha: f64): f32 {
  return <f32>(<f64>v * alpha);
}

/** Packs op(A)[i0:i0+mc, p0:p0+kc]·alpha into MR-row micro-panels (MR values per p; rows past mc zero). */
function packA(a: usize, lda: i32, trans: bool, i0: i32, p0: i32, mc: i32, kc: i32, alpha: f64, out: usize): void {
  let o = out;
  for (let ir = 0; ir < mc; ir += MR) {
    const rows = min(MR, mc - ir);
    if (!trans && rows == MR) {
      const r0 = a + ((<usize>(i0 + ir) * <usize>lda + <usize>p0) << 2);
      const s = <usize>lda << 2;
      for (let p = 0; p < kc; p++) {
        const q = r0 + (<usize>p << 2);
        store<f32>(o, sc(load<f32>(q), alpha));
        store<f32>(o, sc(load<f32>(q + s), alpha), 4);
        store<f32>(o, sc(load<f32>(q + 2 * s), alpha), 8);
        store<f32>(o, sc(load<f32>(q + 3 * s), alpha), 12);
        o += 16;
      }
    } else if (trans && rows == MR) {
      // A(i,p) = a[p*lda + i]: MR consecutive values per p
      for (let p = 0; p < kc; p++) {
        const q = a + ((<usize>(p0 + p) * <usize>lda + <usize>(i0 + ir)) << 2);
        if (alpha == 1.0) v128.store(o, v128.load(q));
        else for (let i = 0; i < MR; i++) store<f32>(o + (<usize>i << 2), sc(load<f32>(q + (<usize>i << 2)), alpha));
        o += 16;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let i = 0; i < MR; i++) {
          let v: f32 = 0;
          if (i < rows) {
            const ii = <usize>(i0 + ir + i), pp = <usize>(p0 + p);
            v = sc(load<f32>(a + ((trans ? pp * <usize>lda + ii : ii * <usize>lda + pp) << 2)), alpha);
          }
          store<f32>(o + (<usize>i << 2), v);
        }
        o += <usize>MR << 2;
      }
    }
  }
}

/** Packs op(B)[p0:p0+kc, j0:j0+nc] into NR-column micro-panels (NR values per p; columns past nc zero). */
function packB(b: usize, ldb: i32, trans: bool, p0: i32, j0: i32, kc: i32, nc: i32, out: usize): void {
  let o = out;
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    if (!trans && cols == NR) {
      for (let p = 0; p < kc; p++) {
        const src = b + ((<usize>(p0 + p) * <usize>ldb + <usize>(j0 + jr)) << 2);
        v128.store(o, v128.load(src));
        v128.store(o, v128.load(src, 16), 16);
        o += 32;
      }
    } else if (trans && cols == NR) {
      // B(p,j) = b[j*ldb + p]: gather NR rows of b
      const c0 = b + ((<usize>(j0 + jr) * <usize>ldb + <usize>p0) << 2);
      const s = <usize>ldb << 2;
      for (let p = 0; p < kc; p++) {
        const q = c0 + (<usize>p << 2);
        store<f32>(o, load<f32>(q));
        store<f32>(o, load<f32>(q + s), 4);
        store<f32>(o, load<f32>(q + 2 * s), 8);
        store<f32>(o, load<f32>(q + 3 * s), 12);
        store<f32>(o, load<f32>(q + 4 * s), 16);
        store<f32>(o, load<f32>(q + 5 * s), 20);
        store<f32>(o, load<f32>(q + 6 * s), 24);
        store<f32>(o, load<f32>(q + 7 * s), 28);
        o += 32;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let j = 0; j < NR; j++) {
          let v: f32 = 0;
          if (j < cols) {
            const jj = <usize>(j0 + jr + j), pp = <usize>(p0 + p);
            v = load<f32>(b + ((trans ? jj * <usize>ldb + pp : pp * <usize>ldb + jj) << 2));
          }
          store<f32>(o + (<usize>j << 2), v);
        }
        o += <usize>NR << 2;
      }
    }
  }
}

/** C[0:4, 0:8] (f32, row pitch ldcB bytes) += Ap·Bp over kc steps, summed in f32. */
@inline function micro4x8(kc: i32, pa: usize, pb: usize, c: usize, ldcB: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = fmadd32(a, b0, c00);
    c01 = fmadd32(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = fmadd32(a, b0, c10);
    c11 = fmadd32(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = fmadd32(a, b0, c20);
    c21 = fmadd32(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = fmadd32(a, b0, c30);
    c31 = fmadd32(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  let r = c;
  v128.store(r, f32x4.add(v128.load(r), c00));
  v128.store(r, f32x4.add(v128.load(r, 16), c01), 16);
  r += ldcB;
  v128.store(r, f32x4.add(v128.load(r), c10));
  v128.store(r, f32x4.add(v128.load(r, 16), c11), 16);
  r += ldcB;
  v128.store(r, f32x4.add(v128.load(r), c20));
  v128.store(r, f32x4.add(v128.load(r, 16), c21), 16);
  r += ldcB;
  v128.store(r, f32x4.add(v128.load(r), c30));
  v128.store(r, f32x4.add(v128.load(r, 16), c31), 16);
}

/**
 * f32 GEMM, f32 accumulation: C[m×n] (f32) = alpha·op(A)·op(B) + beta·C, A, B, C f32 byte
 * pointers with element offsets and leading dimensions; alpha·a and beta·c are formed in f64
 * and rounded once. beta = 0 overwrites C (NaN in C does
 * not propagate). Workspace: {@link gf_gemm_f32_workspace_bytes}. Returns a status (0 = ok).
 */
export function gf_gemm_f32(
  transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f64,
  a: usize, offA: i32, lda: i32, b: usize, offB: i32, ldb: i32,
  beta: f64, c: usize, offC: i32, ldc: i32, work: usize,
): i32 {
  const s = checkGemmArgs(transA != 0, transB != 0, m, n, k, lda, ldb, ldc);
  if (s != GF_OK) return s;
  if (offA < 0 || offB < 0 || offC < 0) return GF_BAD_LD;
  const A = a + (<usize>offA << 2), B = b + (<usize>offB << 2), C = c + (<usize>offC << 2);
  const ldcB = <usize>ldc << 2;
  if (beta != 1.0) {
    for (let i = 0; i < m; i++) {
      const row = C + <usize>i * ldcB;
      if (beta == 0.0) memory.fill(row, 0, <usize>n << 2);
      else for (let j = 0; j < n; j++) store<f32>(row + (<usize>j << 2), sc(load<f32>(row + (<usize>j << 2)), beta));
    }
  }
  if (m == 0 || n == 0 || k == 0 || alpha == 0.0) return GF_OK;
  const pa = (work + 63) & ~(<usize>63);
  const pb = pa + (<usize>(MC * KC) << 2);
  const tmp = pb + (<usize>(KC * (NC + NR)) << 2);
  const ta = transA != 0, tb = transB != 0;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      packB(B, ldb, tb, pc, jc, kc, nc, pb);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(A, lda, ta, ic, pc, mc, kc, alpha, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min(NR, nc - jr);
          const pbj = pb + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            const pai = pa + (<usize>(ir * kc) << 2);
            const ct = C + <usize>(ic + ir) * ldcB + (<usize>(jc + jr) << 2);
            if (rows == MR && cols == NR) {
              micro4x8(kc, pai, pbj, ct, ldcB);
            } else {
              memory.fill(tmp, 0, <usize>(MR * NR) << 2);
              micro4x8(kc, pai, pbj, tmp, <usize>NR << 2);
              for (let i = 0; i < rows; i++) {
                for (let j = 0; j < cols; j++) {
                  const q = ct + <usize>i * ldcB + (<usize>j << 2);
                  store<f32>(q, load<f32>(q) + load<f32>(tmp + (<usize>(i * NR + j) << 2)));
                }
              }
            }
          }
        }
      }
    }
  }
  return GF_OK;
}
