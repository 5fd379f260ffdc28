/**
 * The dense backend of the Krylov solvers: every O(n·m·k) product of GCRO-DR (Gram–Schmidt
 * against the basis, V y, the recycled-space projections, the Gram and combination products
 * of the recycle update) and the small generalised eigenproblem, behind one interface. The
 * solver asks for all its vectors once (`KrylovDenseFactory(n, vectors, small)`), so a
 * backend can keep the whole Krylov basis resident in its own memory (the wasm backend in
 * `workers/` keeps it in the kernel module's linear memory and runs gemv/gemm kernels on it).
 *
 * core/ holds the interface and the float64 reference ({@link jsKrylovDense}, plain loops);
 * a worker injects a fast one through `GcrodrOptions.dense`. Vectors handed to a backend's
 * operations must be rows of that backend's blocks.
 */
import type { CsrArrays } from '../array';
import { eigSmallCore, type EigSmallCoreResult } from '../ops/eig-small-core';
import { accumulate, combineInto, dots as denseDots, mgs as denseMgs } from './dense';
import { csrMatvec } from './precond';

/** `rows` contiguous vectors of length `n` owned by a {@link KrylovDense}. */
export interface KrylovBlock {
  readonly rows: number;
  readonly n: number;
  /** Row `i` (a live view; stays valid for the backend's lifetime). */
  row(i: number): Float64Array;
}

/** Dense operations on blocks of vectors (rows `first … first+count−1` of a block). */
export interface KrylovDense {
  /** Backend name, for reports. */
  readonly name: string;
  /** A block of `rows` zeroed vectors, taken from the reservation made by the factory. */
  block(rows: number): KrylovBlock;
  /**
   * Modified Gram–Schmidt of `w` against rows `first…first+count−1` of `a`, in order:
   * h_i = q_i·w, w −= h_i q_i. Writes h_i to `h[off + i·stride]`; returns ‖w‖² of the result.
   */
  mgs(a: KrylovBlock, first: number, count: number, w: Float64Array, h: Float64Array, off: number, stride: number): number;
  /** out[off + i·stride] = a_{first+i}·x for i < count. */
  dots(a: KrylovBlock, first: number, count: number, x: Float64Array, out: Float64Array, off: number, stride: number): void;
  /** y += Σ_{i<count} coef[i]·a_{first+i}. */
  axpys(a: KrylovBlock, first: number, count: number, coef: Float64Array, y: Float64Array): void;
  /**
   * out_{outFirst+c} = (accumulate ? out_{outFirst+c} : 0) + Σ_{i<count} mat[i·ncol + c]·a_{first+i}
   * for c < ncol (`mat` is count × ncol row-major). `out` must not be `a`.
   */
  combine(a: KrylovBlock, first: number, count: number, mat: Float64Array, ncol: number, out: KrylovBlock, outFirst: number, accumulate: boolean): void;
  /** g[i·countB + j] = a_{firstA+i}·b_{firstB+j}. */
  gram(a: KrylovBlock, firstA: number, countA: number, b: KrylovBlock, firstB: number, countB: number, g: Float64Array): void;
  /** Eigenpairs of B⁻¹A (s×s row-major), as {@link eigSmallCore}. */
  eig(s: number, a: Float64Array, b: Float64Array): EigSmallCoreResult;
  /**
   * y = A x for a CSR A of at most the `nnz` given to the factory (rows summed in order, as
   * {@link csrMatvec}: the same bits on every backend). A is copied once; x and y are rows of
   * this backend's blocks.
   */
  csr(a: CsrArrays): (x: Float64Array, y: Float64Array) => void;
}

/**
 * Creates a backend for vectors of length `n` with room for `vectors` vectors in all, small
 * matrices of order up to `small` (eigenproblems, coefficient matrices) and one CSR matrix
 * of up to `nnz` entries.
 */
export type KrylovDenseFactory = (n: number, vectors: number, small: number, nnz: number) => KrylovDense;

class JsBlock implements KrylovBlock {
  readonly rowsOf: Float64Array[] = [];
  constructor(
    readonly rows: number,
    readonly n: number,
  ) {
    const data = new Float64Array(rows * n);
    for (let i = 0; i < rows; i++) this.rowsOf.push(data.subarray(i * n, (i + 1) * n));
  }
  row(i: number): Float64Array {
    const r = this.rowsOf[i];
    if (r === undefined) throw new RangeError(`block row ${i} of ${this.rows}`);
    return r;
  }
}

const rowsOf = (a: KrylovBlock, first: number, count: number): Float64Array[] => (a as JsBlock).rowsOf.slice(first, first + count);

/** The float64 reference backend: plain loops over JS arrays (the fused passes of `dense.ts`). */
export const jsKrylovDense: KrylovDenseFactory = (n: number): KrylovDense => ({
  name: 'js',
  block: (rows) => new JsBlock(rows, n),
  mgs: (a, first, count, w, h, off, stride) => denseMgs(rowsOf(a, first, count), count, w, h, off, stride),
  dots: (a, first, count, x, out, off, stride) => denseDots(rowsOf(a, first, count), count, x, out, off, stride),
  axpys: (a, first, count, coef, y) => accumulate(y, rowsOf(a, first, count), count, (i) => coef[i] as number),
  combine: (a, first, count, mat, ncol, out, outFirst, acc) => {
    const dst = rowsOf(out, outFirst, ncol);
    if (!acc) for (const d of dst) d.fill(0);
    combineInto(rowsOf(a, first, count), mat, ncol, dst);
  },
  gram: (a, firstA, countA, b, firstB, countB, g) => {
    const ra = rowsOf(a, firstA, countA);
    for (let j = 0; j < countB; j++) denseDots(ra, countA, b.row(firstB + j), g, j, countB);
  },
  eig: (s, a, b) => eigSmallCore(s, a, b),
  csr: (a) => (x, y) => csrMatvec(a, x, y),
});
