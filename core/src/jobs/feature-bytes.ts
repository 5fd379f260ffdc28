/**
 * Features that are bytes: images load as v·(1/255) for pixel bytes v (IDX and u8 `.npy`
 * files, orchestrator/src/eigenpro/data-files.ts), or as the integers v themselves. Such
 * features travel to the object store as their bytes (an eighth of f64) and are expanded
 * back to exactly the same f64 values.
 */

/** Scales a byte can be multiplied by, in the order tried. */
const SCALES = [1 / 255, 1] as const;

/** Bytes `bytes` with features `bytes[i] · scale`. */
export interface FeatureBytes {
  readonly bytes: Uint8Array;
  readonly scale: number;
}

/**
 * The bytes of `data` when every value is v·scale for an integer v in [0, 255] and one scale of
 * 1/255 or 1 (computed as `v * scale`, as the loaders compute it, and rounded to f32 when `data`
 * is a Float32Array: the features a job re-put as f32); undefined otherwise. The bytes are
 * written to `into` when given (its length must be `data.length`).
 */
export function featureBytes(data: ArrayLike<number>, into?: Uint8Array): FeatureBytes | undefined {
  const f32 = data instanceof Float32Array;
  if (into !== undefined && into.length !== data.length) throw new RangeError(`featureBytes: into has ${into.length} entries, data ${data.length}`);
  for (const scale of SCALES) {
    const bytes = into ?? new Uint8Array(data.length);
    // The 256 values a byte can stand for, as stored.
    const value = Float64Array.from({ length: 256 }, (_, v) => (f32 ? Math.fround(v * scale) : v * scale));
    const inv = 1 / scale;
    let ok = true;
    for (let i = 0; i < data.length; i++) {
      const x = data[i] as number;
      const v = Math.round(x * inv); // the nearest byte (the comparison below is exact)
      if (!(v >= 0 && v <= 255 && value[v] === x)) {
        ok = false;
        break;
      }
      bytes[i] = v;
    }
    if (ok) return { bytes, scale };
  }
  return undefined;
}

/** The f64 features of bytes: `bytes[i] · scale`, the same values {@link featureBytes} read. */
export function expandFeatureBytes(bytes: ArrayLike<number>, scale: number): Float64Array {
  const out = new Float64Array(bytes.length);
  for (let i = 0; i < out.length; i++) out[i] = (bytes[i] as number) * scale;
  return out;
}
