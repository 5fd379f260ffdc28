/**
 * Orders PDE instances so that neighbours in the chain are similar (SKR's sorting step):
 * a greedy nearest-neighbour chain on feature vectors, and for large N a grouping by a
 * Hilbert space-filling curve on the two leading features first, with a greedy chain inside
 * each group (groups joined in curve order).
 */

/** Sorting strategies. */
export const SORT_KINDS = ['greedy', 'none', 'fft-curve'] as const;
/** One of {@link SORT_KINDS}. */
export type SortKind = (typeof SORT_KINDS)[number];

function dist2(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    s += d * d;
  }
  return s;
}

/**
 * Greedy nearest-neighbour chain over `ids` (indices into `features`): start at the first
 * id, repeatedly step to the nearest unvisited one (ties to the smaller id). O(n²).
 */
export function greedyChain(features: readonly Float64Array[], ids: readonly number[]): number[] {
  if (ids.length === 0) return [];
  const left = new Set(ids.slice(1));
  const out = [ids[0] as number];
  let cur = ids[0] as number;
  while (left.size > 0) {
    let best = -1;
    let bestD = Infinity;
    for (const j of left) {
      const d = dist2(features[cur] as Float64Array, features[j] as Float64Array);
      if (d < bestD || (d === bestD && j < best)) {
        bestD = d;
        best = j;
      }
    }
    left.delete(best);
    out.push(best);
    cur = best;
  }
  return out;
}

/** Index of (x, y) ∈ [0, 2^order)² along the Hilbert curve. */
export function hilbertIndex(order: number, x0: number, y0: number): number {
  let x = x0;
  let y = y0;
  let d = 0;
  for (let s = 1 << (order - 1); s > 0; s >>= 1) {
    const rx = (x & s) > 0 ? 1 : 0;
    const ry = (y & s) > 0 ? 1 : 0;
    d += s * s * ((3 * rx) ^ ry);
    if (ry === 0) {
      if (rx === 1) {
        x = s - 1 - x;
        y = s - 1 - y;
      }
      const t = x;
      x = y;
      y = t;
    }
  }
  return d;
}

/**
 * The chain order of `features` (one vector per instance). `fft-curve` sorts by the Hilbert
 * index of the first two features (quantised on a 2^order grid over their range), cuts the
 * sequence into groups of `group`, and chains each group greedily.
 */
export function sortInstances(features: readonly Float64Array[], kind: SortKind, group = 256): number[] {
  const ids = features.map((_, i) => i);
  if (kind === 'none') return ids;
  if (kind === 'greedy') return greedyChain(features, ids);
  const order = 10;
  const cells = 1 << order;
  const coord = (d: number): number[] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const f of features) {
      lo = Math.min(lo, f[d] ?? 0);
      hi = Math.max(hi, f[d] ?? 0);
    }
    return features.map((f) => (hi > lo ? Math.min(cells - 1, Math.floor((((f[d] ?? 0) - lo) / (hi - lo)) * cells)) : 0));
  };
  const cx = coord(0);
  const cy = coord(1);
  const key = ids.map((i) => hilbertIndex(order, cx[i] as number, cy[i] as number));
  const curve = [...ids].sort((a, b) => (key[a] as number) - (key[b] as number) || a - b);
  const out: number[] = [];
  for (let s = 0; s < curve.length; s += group) out.push(...greedyChain(features, curve.slice(s, s + group)));
  return out;
}
