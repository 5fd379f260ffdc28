import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { expandFeatureBytes, featureBytes } from './feature-bytes';

describe('feature bytes (image features stored as their bytes)', () => {
  it('finds the bytes of pixel/255 and of integer features and expands them to the same f64 values', () => {
    const pixels = Uint8Array.from({ length: 256 * 3 }, (_, i) => (i * 37) % 256);
    // As the IDX and u8 .npy loaders compute them: byte · (1/255).
    const scaled = Float64Array.from(pixels, (v) => v * (1 / 255));
    const a = featureBytes(scaled);
    assert.ok(a !== undefined);
    assert.equal(a.scale, 1 / 255);
    assert.deepEqual(Array.from(a.bytes), Array.from(pixels));
    assert.deepEqual(Array.from(expandFeatureBytes(a.bytes, a.scale)), Array.from(scaled), 'bit for bit');
    const ints = Float64Array.from(pixels);
    const b = featureBytes(ints);
    assert.ok(b !== undefined);
    assert.equal(b.scale, 1);
    assert.deepEqual(Array.from(expandFeatureBytes(b.bytes, b.scale)), Array.from(ints));
    assert.deepEqual(featureBytes(new Float64Array(0))?.bytes.length, 0);
  });
  it('finds the bytes of the same features re-put as f32 (rounded), into a given array', () => {
    const pixels = Uint8Array.from({ length: 256 * 2 }, (_, i) => (i * 91) % 256);
    const f32 = Float32Array.from(pixels, (v) => v * (1 / 255));
    const into = new Uint8Array(f32.length);
    const a = featureBytes(f32, into);
    assert.ok(a !== undefined);
    assert.equal(a.scale, 1 / 255);
    assert.equal(a.bytes, into, 'written into the given array');
    assert.deepEqual(Array.from(into), Array.from(pixels));
    assert.deepEqual(Array.from(Float32Array.from(expandFeatureBytes(a.bytes, a.scale))), Array.from(f32), 'f32 of the expansion is the data');
    // f64 values of v/255 are not their f32 roundings: a Float64Array holding f32 values is not bytes.
    assert.equal(featureBytes(Float64Array.from(f32)), undefined);
    // An f32 one ulp off v/255 is not a byte.
    const off = Float32Array.from(f32);
    const bits = new Uint32Array(off.buffer);
    bits[7] = (bits[7] as number) + 1;
    assert.equal(featureBytes(off), undefined);
    assert.throws(() => featureBytes(f32, new Uint8Array(3)), RangeError);
  });
  it('leaves other features alone: out of range, fractional, negative, NaN, a near miss of v/255', () => {
    for (const bad of [[0, 256], [0.5, 1], [-1 / 255], [Number.NaN], [3 / 255 + 1e-12], [2.0000001]]) {
      assert.equal(featureBytes(Float64Array.from(bad)), undefined, String(bad));
    }
    // A mixture: some values k/255 and some integers > 1: neither scale fits all.
    assert.equal(featureBytes(Float64Array.of(1 / 255, 7)), undefined);
  });
});
