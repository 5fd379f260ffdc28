/**
 * Block pairs of EigenPro 2's symmetric kernel matrix, for workers that cache kernel rows.
 *
 * The centers are the training rows, so K(X, X) is symmetric. With the centers in Q = 2P row
 * blocks, each unordered block pair {u, v} is given to one of the P workers: that worker computes
 * K(x_i, X_v) for the batch rows i of block u *and* K(x_l, X_u) for the rows l of block v, so its
 * kernel-row cache (workers/src/kernel-cache.ts) computes every entry of the pair once and reads
 * the mirror entry K(x_l, x_i) = K(x_i, x_l) from the row it already holds. Without pairs each
 * worker held a column slice and computed both triangles of every off-diagonal block, so an
 * epoch-1 pass cost twice the kernel entries it needed.
 *
 * The pairs are dealt by the circle method of a round-robin tournament on 2P blocks: 2P − 1 rounds
 * of P disjoint pairs, pair k of every round to worker k, and the diagonal blocks 2w, 2w + 1 to
 * worker w — every worker gets 2P − 1 off-diagonal pairs and two diagonal blocks, the same number
 * of kernel entries to keep and to compute.
 */

/** Which worker owns each block pair: `owner(u, v)` = `owner(v, u)` in [0, workers). */
export interface BlockPairs {
  /** Number of workers P. */
  readonly workers: number;
  /** Number of row blocks Q = 2P. */
  readonly blocks: number;
  owner(u: number, v: number): number;
}

/** The pair ownership for `workers` ≥ 1 workers over 2·`workers` blocks. */
export function blockPairs(workers: number): BlockPairs {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be an integer ≥ 1, got ${workers}`);
  const q = 2 * workers;
  const own = new Int32Array(q * q).fill(-1);
  const set = (u: number, v: number, w: number): void => {
    own[u * q + v] = w;
    own[v * q + u] = w;
  };
  const ring = q - 1;
  for (let r = 0; r < ring; r++) {
    set(q - 1, r, 0);
    for (let k = 1; k < workers; k++) set((r + k) % ring, (r - k + ring) % ring, k);
  }
  for (let b = 0; b < q; b++) set(b, b, Math.floor(b / 2));
  return { workers, blocks: q, owner: (u, v) => own[u * q + v] as number };
}
