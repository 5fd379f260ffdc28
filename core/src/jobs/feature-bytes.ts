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
 * 1/255 or 1 (computed as `v * scale`, as the loaders compute it); undefined otherwise.
 */
export function featureBytes(data: ArrayLike<number>): FeatureBytes | undefined {
  for (const scale of SCALES) {
    const bytes = new Uint8Array(data.length);
    let ok = true;
    for (let i = 0; i < data.length; i++) {
      const x = data[i] as number;
      const v = Math.round(x / scale);
      if (!(v >= 0 && v <= 255 && v * scale === x)) {
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
