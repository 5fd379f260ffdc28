// dst (c × r, row pitch ldd) = srcᵀ for an f32 matrix src (r × c, row pitch lds): the kernel-row
// cache's mirror entries (workers/src/row-jobs.ts) — the cached rows of known points, read at the
// new rows' columns, become the new rows' entries at the known columns. Values are copied, not
// computed: the same bits in every build.
import { GF_BAD_LD, GF_BAD_SIZE, GF_OK } from './gemm';

/** Transposes the 4×4 block at src (pitch ldsB bytes) into dst (pitch lddB bytes). */
@inline function block4(src: usize, ldsB: usize, dst: usize, lddB: usize): void {
  const a = v128.load(src), b = v128.load(src + ldsB), c = v128.load(src + 2 * ldsB), d = v128.load(src + 3 * ldsB);
  // Interleave pairs of rows, then pairs of pairs.
  const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5), ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5), cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(dst, i64x2.shuffle(ab0, cd0, 0, 2));
  v128.store(dst + lddB, i64x2.shuffle(ab0, cd0, 1, 3));
  v128.store(dst + 2 * lddB, i64x2.shuffle(ab1, cd1, 0, 2));
  v128.store(dst + 3 * lddB, i64x2.shuffle(ab1, cd1, 1, 3));
}

/** Side of the tiles walked so that a tile's rows of src and of dst stay in L1. */
const TILE: i32 = 32;

/** dst[j, i] = src[i, j] for i < r, j < c; see the file comment. */
export function gf_f32_transpose(r: i32, c: i32, src: usize, lds: i32, dst: usize, ldd: i32): i32 {
  if (r < 0 || c < 0) return GF_BAD_SIZE;
  if (lds < max(1, c) || ldd < max(1, r)) return GF_BAD_LD;
  const ldsB = <usize>lds << 2, lddB = <usize>ldd << 2;
  for (let i0 = 0; i0 < r; i0 += TILE) {
    const i1 = min(r, i0 + TILE);
    for (let j0 = 0; j0 < c; j0 += TILE) {
      const j1 = min(c, j0 + TILE);
      let i = i0;
      for (; i + 4 <= i1; i += 4) {
        let j = j0;
        for (; j + 4 <= j1; j += 4) block4(src + <usize>i * ldsB + (<usize>j << 2), ldsB, dst + <usize>j * lddB + (<usize>i << 2), lddB);
        for (; j < j1; j++) for (let q = i; q < i + 4; q++) store<f32>(dst + <usize>j * lddB + (<usize>q << 2), load<f32>(src + <usize>q * ldsB + (<usize>j << 2)));
      }
      for (; i < i1; i++) for (let j = j0; j < j1; j++) store<f32>(dst + <usize>j * lddB + (<usize>i << 2), load<f32>(src + <usize>i * ldsB + (<usize>j << 2)));
    }
  }
  return GF_OK;
}
