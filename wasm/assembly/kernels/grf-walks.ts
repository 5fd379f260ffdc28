// Graph random features: the walk kernels of op `grf-walks`. Same algorithm, same random
// numbers and the same float64 accumulation order as the TypeScript reference
// (core/src/ops/grf-walks.ts), so the output is bit-identical. Kernels never allocate and
// never throw: they return 0 (ok), 1 (bad argument) or 2 (output capacity too small — the
// host grows the output buffers and calls again; scratch is left clean).

const M0: u32 = 0xd2511f53;
const M1: u32 = 0xcd9e8d57;
const W0: u32 = 0x9e3779b9;
const W1: u32 = 0xbb67ae85;
const TWO_POW_M53: f64 = 1.1102230246251565e-16;

/** Status: success. */
export const GRF_OK: i32 = 0;
/** Status: an argument is out of range. */
export const GRF_BAD_ARGUMENT: i32 = 1;
/** Status: the output buffers are too small. */
export const GRF_CAPACITY: i32 = 2;

let B0: u32 = 0;
let B1: u32 = 0;
let B2: u32 = 0;
let B3: u32 = 0;

// Philox4x32-10 of counter (c0..c3) under key (k0, k1); the result lands in B0..B3.
// @ts-ignore: decorator
@inline
function philox(c0: u32, c1: u32, c2: u32, c3: u32, k0: u32, k1: u32): void {
  let x0 = c0, x1 = c1, x2 = c2, x3 = c3, key0 = k0, key1 = k1;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      key0 += W0;
      key1 += W1;
    }
    const p0: u64 = <u64>M0 * <u64>x0;
    const p1: u64 = <u64>M1 * <u64>x2;
    const y0 = <u32>(p1 >> 32) ^ x1 ^ key0;
    const y2 = <u32>(p0 >> 32) ^ x3 ^ key1;
    x1 = <u32>p1;
    x3 = <u32>p0;
    x0 = y0;
    x2 = y2;
  }
  B0 = x0;
  B1 = x1;
  B2 = x2;
  B3 = x3;
}

// @ts-ignore: decorator
@inline
function u53(a: u32, b: u32): f64 {
  return <f64>((<u64>(a >>> 5) << 26) | <u64>(b >>> 6)) * TWO_POW_M53;
}

// @ts-ignore: decorator
@inline
function addTo(acc: usize, mark: usize, touched: usize, nt: i32, v: i32, x: f64): i32 {
  const mp = mark + <usize>v;
  if (load<u8>(mp) == 0) {
    store<u8>(mp, 1);
    store<i32>(touched + (<usize>nt << 2), v);
    nt++;
  }
  const ap = acc + (<usize>v << 3);
  store<f64>(ap, load<f64>(ap) + x);
  return nt;
}

// In-place heapsort of `len` i32 at p (ascending).
function sortI32(p: usize, len: i32): void {
  if (len < 2) return;
  if (len <= 24) {
    for (let i = 1; i < len; i++) {
      const x = load<i32>(p + (<usize>i << 2));
      let j = i - 1;
      while (j >= 0 && load<i32>(p + (<usize>j << 2)) > x) {
        store<i32>(p + (<usize>(j + 1) << 2), load<i32>(p + (<usize>j << 2)));
        j--;
      }
      store<i32>(p + (<usize>(j + 1) << 2), x);
    }
    return;
  }
  for (let start = (len >> 1) - 1; start >= 0; start--) siftDown(p, start, len);
  for (let end = len - 1; end > 0; end--) {
    const t = load<i32>(p);
    store<i32>(p, load<i32>(p + (<usize>end << 2)));
    store<i32>(p + (<usize>end << 2), t);
    siftDown(p, 0, end);
  }
}

function siftDown(p: usize, start: i32, end: i32): void {
  let root = start;
  while (true) {
    let child = 2 * root + 1;
    if (child >= end) break;
    if (child + 1 < end && load<i32>(p + (<usize>(child + 1) << 2)) > load<i32>(p + (<usize>child << 2))) child++;
    const rv = load<i32>(p + (<usize>root << 2));
    const cv = load<i32>(p + (<usize>child << 2));
    if (rv >= cv) break;
    store<i32>(p + (<usize>root << 2), cv);
    store<i32>(p + (<usize>child << 2), rv);
    root = child;
  }
}

// Writes the row held in acc/touched to the output at position `nOut`, resets the scratch and
// returns the new output count, or -1 (scratch reset, nothing written past capacity) when the
// row does not fit.
function flushRow(acc: usize, mark: usize, touched: usize, nt: i32, outIndices: usize, outData: usize, nOut: i32, outCap: i32): i32 {
  sortI32(touched, nt);
  let q = nOut;
  let ok = true;
  for (let z = 0; z < nt; z++) {
    const v = load<i32>(touched + (<usize>z << 2));
    const ap = acc + (<usize>v << 3);
    const x = load<f64>(ap);
    if (x != 0 && ok) {
      if (q >= outCap) ok = false;
      else {
        store<i32>(outIndices + (<usize>q << 2), v);
        store<f64>(outData + (<usize>q << 3), x);
        q++;
      }
    }
    store<f64>(ap, 0);
    store<u8>(mark + <usize>v, 0);
  }
  return ok ? q : -1;
}

// @ts-ignore: decorator
@inline
function argsOk(n: i32, fLen: i32, walks: i32, pHalt: f64, nodeStart: i32, nodeEnd: i32): bool {
  return n >= 1 && fLen >= 1 && walks >= 1 && walks <= 65536 && pHalt > 0 && pHalt < 1 && nodeStart >= 0 && nodeStart <= nodeEnd && nodeEnd <= n;
}

// @ts-ignore: decorator
@inline
function effectiveSteps(f: usize, fLen: i32): i32 {
  let l = fLen - 1;
  while (l > 0 && load<f64>(f + (<usize>l << 3)) == 0) l--;
  return l;
}

/**
 * Φ rows of origins [nodeStart, nodeEnd) on one stream, independent or antithetic walkers.
 * Graph: CSR (indptr i32[n+1], indices i32[nnz], weights f64[nnz] = W). f: f64[fLen].
 * Scratch (host-owned, zero on entry, zero again on return): acc f64[n], mark u8[n],
 * touched i32[n]. Output: outIndptr i32[rows+1], outIndices i32[outCap], outData f64[outCap].
 */
export function gf_grf_walks(
  indptr: usize, indices: usize, weights: usize, n: i32,
  f: usize, fLen: i32, walks: i32, pHalt: f64,
  seedLo: u32, seedHi: u32, stream: u32, antithetic: i32,
  nodeStart: i32, nodeEnd: i32,
  acc: usize, mark: usize, touched: usize,
  outIndptr: usize, outIndices: usize, outData: usize, outCap: i32,
): i32 {
  if (!argsOk(n, fLen, walks, pHalt, nodeStart, nodeEnd) || outCap < 0) return GRF_BAD_ARGUMENT;
  const L = effectiveSteps(f, fLen);
  const q: f64 = 1 / (1 - pHalt);
  const mf = <f64>walks;
  let nOut: i32 = 0;
  store<i32>(outIndptr, 0);
  for (let i = nodeStart; i < nodeEnd; i++) {
    let nt: i32 = 0;
    for (let w = 0; w < walks; w++) {
      const odd = antithetic != 0 && (w & 1) == 1;
      let v = i;
      let ld: f64 = 1;
      for (let t = 0; ; t++) {
        nt = addTo(acc, mark, touched, nt, v, ld * (load<f64>(f + (<usize>t << 3)) / mf));
        if (t == L) break;
        const s = load<i32>(indptr + (<usize>v << 2));
        const deg = load<i32>(indptr + (<usize>(v + 1) << 2)) - s;
        if (deg == 0) break;
        let u: f64;
        if (odd) {
          philox(<u32>i, <u32>(w - 1), <u32>t, stream, seedLo, seedHi);
          u = u53(B0, B1);
          u = u < 0.5 ? u + 0.5 : u - 0.5;
          philox(<u32>i, <u32>w, <u32>t, stream, seedLo, seedHi);
        } else {
          philox(<u32>i, <u32>w, <u32>t, stream, seedLo, seedHi);
          u = u53(B0, B1);
        }
        if (u < pHalt) break;
        let k = <i32>(u53(B2, B3) * <f64>deg);
        if (k >= deg) k = deg - 1;
        const p = s + k;
        ld = ld * ((<f64>deg * load<f64>(weights + (<usize>p << 3))) * q);
        v = load<i32>(indices + (<usize>p << 2));
      }
    }
    nOut = flushRow(acc, mark, touched, nt, outIndices, outData, nOut, outCap);
    if (nOut < 0) return GRF_CAPACITY;
    store<i32>(outIndptr + (<usize>(i - nodeStart + 1) << 2), nOut);
  }
  return GRF_OK;
}

/**
 * Φ rows with repelling walks (walkers of one origin step in lock step; walkers on the same
 * node take distinct neighbours). Arguments as {@link gf_grf_walks}, plus `scratch`, laid out
 * as f64 load[m], f64 um[m], i32 pos[m], i32 alive[m], i32 nxt[m], i32 newPos[m],
 * i32 head[n] (all −1 on entry), i32 perm[permCap] (all −1 on entry), i32 permTouched[2·permCap];
 * permCap must be ≥ the largest degree. head and perm are −1 again on return.
 */
export function gf_grf_walks_repelling(
  indptr: usize, indices: usize, weights: usize, n: i32,
  f: usize, fLen: i32, walks: i32, pHalt: f64,
  seedLo: u32, seedHi: u32, stream: u32, permCap: i32,
  nodeStart: i32, nodeEnd: i32,
  acc: usize, mark: usize, touched: usize, scratch: usize,
  outIndptr: usize, outIndices: usize, outData: usize, outCap: i32,
): i32 {
  if (!argsOk(n, fLen, walks, pHalt, nodeStart, nodeEnd) || outCap < 0 || permCap < 1) return GRF_BAD_ARGUMENT;
  const m = walks;
  const sLoad = scratch;
  const sUm = sLoad + (<usize>m << 3);
  const sPos = sUm + (<usize>m << 3);
  const sAlive = sPos + (<usize>m << 2);
  const sNxt = sAlive + (<usize>m << 2);
  const sNew = sNxt + (<usize>m << 2);
  const sHead = sNew + (<usize>m << 2);
  const sPerm = sHead + (<usize>n << 2);
  const sPt = sPerm + (<usize>permCap << 2);
  const L = effectiveSteps(f, fLen);
  const q: f64 = 1 / (1 - pHalt);
  const mf = <f64>m;
  let nOut: i32 = 0;
  store<i32>(outIndptr, 0);
  for (let i = nodeStart; i < nodeEnd; i++) {
    let nt: i32 = 0;
    for (let w = 0; w < m; w++) {
      store<i32>(sPos + (<usize>w << 2), i);
      store<f64>(sLoad + (<usize>w << 3), 1);
      store<i32>(sAlive + (<usize>w << 2), w);
    }
    let na = m;
    for (let t = 0; ; t++) {
      const ft = load<f64>(f + (<usize>t << 3)) / mf;
      for (let a = 0; a < na; a++) {
        const w = load<i32>(sAlive + (<usize>a << 2));
        nt = addTo(acc, mark, touched, nt, load<i32>(sPos + (<usize>w << 2)), load<f64>(sLoad + (<usize>w << 3)) * ft);
      }
      if (t == L) break;
      let nn = 0;
      for (let a = 0; a < na; a++) {
        const w = load<i32>(sAlive + (<usize>a << 2));
        const v = load<i32>(sPos + (<usize>w << 2));
        if (load<i32>(indptr + (<usize>(v + 1) << 2)) - load<i32>(indptr + (<usize>v << 2)) == 0) continue;
        philox(<u32>i, <u32>w, <u32>t, stream, seedLo, seedHi);
        if (u53(B0, B1) < pHalt) continue;
        store<f64>(sUm + (<usize>w << 3), u53(B2, B3));
        store<i32>(sAlive + (<usize>nn << 2), w);
        nn++;
      }
      na = nn;
      if (na == 0) break;
      for (let a = na - 1; a >= 0; a--) {
        const w = load<i32>(sAlive + (<usize>a << 2));
        const hp = sHead + (<usize>load<i32>(sPos + (<usize>w << 2)) << 2);
        store<i32>(sNxt + (<usize>w << 2), load<i32>(hp));
        store<i32>(hp, w);
      }
      for (let a = 0; a < na; a++) {
        const v = load<i32>(sPos + (<usize>load<i32>(sAlive + (<usize>a << 2)) << 2));
        const hp = sHead + (<usize>v << 2);
        let x = load<i32>(hp);
        if (x < 0) continue;
        store<i32>(hp, -1);
        const s = load<i32>(indptr + (<usize>v << 2));
        const d = load<i32>(indptr + (<usize>(v + 1) << 2)) - s;
        if (d > permCap) {
          // Leave scratch clean before reporting the bad argument.
          cleanRepel(sHead, sPos, sAlive, a + 1, na, acc, mark, touched, nt);
          return GRF_BAD_ARGUMENT;
        }
        let j = 0;
        let npt = 0;
        while (x >= 0) {
          if (j == d) {
            for (let z = 0; z < npt; z++) store<i32>(sPerm + (<usize>load<i32>(sPt + (<usize>z << 2)) << 2), -1);
            npt = 0;
            j = 0;
          }
          let r = <i32>(load<f64>(sUm + (<usize>x << 3)) * <f64>(d - j));
          if (r > d - j - 1) r = d - j - 1;
          r += j;
          const pjp = sPerm + (<usize>j << 2);
          const prp = sPerm + (<usize>r << 2);
          const pjr = load<i32>(pjp);
          const pj = pjr < 0 ? j : pjr;
          const prr = load<i32>(prp);
          const pr = prr < 0 ? r : prr;
          store<i32>(pjp, pr);
          store<i32>(prp, pj);
          store<i32>(sPt + (<usize>npt << 2), j);
          npt++;
          store<i32>(sPt + (<usize>npt << 2), r);
          npt++;
          const p = s + pr;
          store<i32>(sNew + (<usize>x << 2), load<i32>(indices + (<usize>p << 2)));
          const lp = sLoad + (<usize>x << 3);
          store<f64>(lp, load<f64>(lp) * ((<f64>d * load<f64>(weights + (<usize>p << 3))) * q));
          x = load<i32>(sNxt + (<usize>x << 2));
          j++;
        }
        for (let z = 0; z < npt; z++) store<i32>(sPerm + (<usize>load<i32>(sPt + (<usize>z << 2)) << 2), -1);
      }
      for (let a = 0; a < na; a++) {
        const w = load<i32>(sAlive + (<usize>a << 2));
        store<i32>(sPos + (<usize>w << 2), load<i32>(sNew + (<usize>w << 2)));
      }
    }
    nOut = flushRow(acc, mark, touched, nt, outIndices, outData, nOut, outCap);
    if (nOut < 0) return GRF_CAPACITY;
    store<i32>(outIndptr + (<usize>(i - nodeStart + 1) << 2), nOut);
  }
  return GRF_OK;
}

// Resets head entries of the not-yet-processed groups and the row scratch (error path).
function cleanRepel(sHead: usize, sPos: usize, sAlive: usize, from: i32, na: i32, acc: usize, mark: usize, touched: usize, nt: i32): void {
  for (let a = from; a < na; a++) {
    const v = load<i32>(sPos + (<usize>load<i32>(sAlive + (<usize>a << 2)) << 2));
    store<i32>(sHead + (<usize>v << 2), -1);
  }
  for (let z = 0; z < nt; z++) {
    const v = load<i32>(touched + (<usize>z << 2));
    store<f64>(acc + (<usize>v << 3), 0);
    store<u8>(mark + <usize>v, 0);
  }
}
