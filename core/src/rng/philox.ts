/**
 * Philox4x32-10, the counter-based generator of Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3" (SC 2011), as specified by Random123. A draw is a pure function of a
 * 2-word key and a 4-word counter, so any shard can compute any draw without replaying a
 * sequence: results are bit-identical for 1 or N workers and across retries.
 *
 * Conventions used across gramfleet (the AssemblyScript kernels copy them exactly):
 * - a seed is an integer in [0, 2^53); key = [seed mod 2^32, floor(seed / 2^32)];
 * - a uniform double in [0, 1) takes 53 bits from two output words `a`, `b`:
 *   `((a >>> 5) * 2^26 + (b >>> 6)) * 2^-53` — exact, so every backend gets the same bits.
 */
import { int } from '../validate';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO32 = 4294967296;

/** High 32 bits of the 64-bit product of two u32 (exact in float64 arithmetic). */
export function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const t = aLo * b; // < 2^48, exact
  const u = aHi * b; // < 2^48, exact
  const uHi = Math.floor(u / 65536);
  const uLo = u - uHi * 65536;
  return (uHi + Math.floor((uLo * 65536 + t) / TWO32)) >>> 0;
}

/**
 * Philox4x32-10 of one counter block. Writes the four output words into `out` (which may
 * alias nothing else) and returns it.
 */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array = new Uint32Array(4)): Uint32Array {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi32(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
  return out;
}

/** 2^-53. */
export const TWO_POW_M53 = 1.1102230246251565e-16;

/** The uniform double in [0, 1) made of 53 bits of two words (see module doc). */
export function u53(a: number, b: number): number {
  return ((a >>> 5) * 67108864 + (b >>> 6)) * TWO_POW_M53;
}

/** The two key words of a seed; throws `INPUT_*` unless the seed is an integer in [0, 2^53). */
export function seedKey(seed: number, field = 'seed'): [number, number] {
  int(field, seed, 0, Number.MAX_SAFE_INTEGER);
  const hi = Math.floor(seed / TWO32);
  return [(seed - hi * TWO32) >>> 0, hi >>> 0];
}

/**
 * A keyed Philox stream addressed by counter. `block(c0..c3)` returns the four words of that
 * counter (a shared buffer, overwritten by the next call); `uniform(c0..c3, lane)` the
 * uniform double of words (2·lane, 2·lane+1), lane ∈ {0, 1}.
 */
export class Philox {
  /** Key word 0 (low 32 bits of the seed). */
  readonly k0: number;
  /** Key word 1 (high bits of the seed). */
  readonly k1: number;
  private readonly buf = new Uint32Array(4);

  constructor(seed: number) {
    [this.k0, this.k1] = seedKey(seed);
  }

  /** The four output words of counter (c0, c1, c2, c3), in a buffer reused by the next call. */
  block(c0: number, c1: number, c2: number, c3: number): Uint32Array {
    return philox4x32(c0, c1, c2, c3, this.k0, this.k1, this.buf);
  }

  /** Uniform double in [0, 1) from words (2·lane, 2·lane+1) of counter (c0..c3). */
  uniform(c0: number, c1: number, c2: number, c3: number, lane: 0 | 1 = 0): number {
    const w = this.block(c0, c1, c2, c3);
    return lane === 0 ? u53(w[0] ?? 0, w[1] ?? 0) : u53(w[2] ?? 0, w[3] ?? 0);
  }
}
