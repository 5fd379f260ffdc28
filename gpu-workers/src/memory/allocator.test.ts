import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { GramfleetError, isGramfleetError } from '@gramfleet/core';
import { DeviceAllocator, sizeClass, type RawDeviceMemory } from './allocator';

/** A raw allocator that hands out distinct addresses and can run out of device memory. */
function fakeDevice(deviceBytes = Number.MAX_SAFE_INTEGER): RawDeviceMemory & { live: Map<bigint, number>; allocs: number; frees: number } {
  let next = 0x7f0000000000n;
  const live = new Map<bigint, number>();
  const d = {
    live,
    allocs: 0,
    frees: 0,
    alloc(bytes: number): bigint {
      const used = [...live.values()].reduce((a, b) => a + b, 0);
      if (used + bytes > deviceBytes) throw new GramfleetError('GPU_OUT_OF_MEMORY', `fake device full (${used} + ${bytes} > ${deviceBytes})`);
      const p = next;
      next += BigInt(bytes) + 4096n;
      live.set(p, bytes);
      d.allocs++;
      return p;
    },
    free(ptr: bigint): void {
      assert.ok(live.delete(ptr), `free of unknown 0x${ptr.toString(16)}`);
      d.frees++;
    },
  };
  return d;
}

const code =
  (c: string) =>
  (e: unknown): boolean =>
    isGramfleetError(e) && e.code === c;

describe('device allocator (byte budget, free list)', () => {
  it('size classes: 512-byte steps up to 1 MiB, 2 MiB steps above', () => {
    assert.equal(sizeClass(0), 0);
    assert.equal(sizeClass(1), 512);
    assert.equal(sizeClass(512), 512);
    assert.equal(sizeClass(513), 1024);
    assert.equal(sizeClass(1 << 20), 1 << 20);
    assert.equal(sizeClass((1 << 20) + 1), 2 << 20);
    assert.equal(sizeClass((5 << 20) + 7), 6 << 20);
  });

  it('accounts live bytes by size class and reuses released blocks of the same class', () => {
    const dev = fakeDevice();
    const a = new DeviceAllocator(dev, { budgetBytes: 1 << 20 });
    const b1 = a.alloc(1000, 'x');
    assert.equal(b1.capacity, 1024);
    assert.equal(a.stats().liveBytes, 1024);
    a.release(b1);
    assert.equal(a.stats().liveBytes, 0);
    assert.equal(a.stats().cachedBytes, 1024);
    const b2 = a.alloc(1024, 'y');
    assert.equal(b2.ptr, b1.ptr, 'same class: the cached block is reused');
    assert.equal(a.stats().reuses, 1);
    assert.equal(dev.allocs, 1);
    const b3 = a.alloc(4000, 'z');
    assert.notEqual(b3.ptr, b1.ptr);
    assert.equal(dev.allocs, 2);
    assert.equal(a.stats().peakLiveBytes, 1024 + 4096);
  });

  it('a request over the budget is GPU_OUT_OF_MEMORY naming the bytes and the budget, before touching the device', () => {
    const dev = fakeDevice();
    const a = new DeviceAllocator(dev, { budgetBytes: 10_000 });
    const keep = a.alloc(8000, 'x');
    assert.throws(
      () => a.alloc(3000, 'kernel tile'),
      (e: unknown) => {
        assert.ok(isGramfleetError(e));
        assert.equal(e.code, 'GPU_OUT_OF_MEMORY');
        assert.equal(e.retryable, true);
        assert.match(e.message, /kernel tile: 3000 bytes would exceed the GPU memory budget of 10000 bytes \(8192 bytes live\)/);
        return true;
      },
    );
    assert.equal(dev.allocs, 1);
    a.release(keep);
    assert.doesNotThrow(() => a.alloc(3000, 'kernel tile'));
  });

  it('cached blocks are trimmed to keep live + cached within the budget', () => {
    const dev = fakeDevice();
    const a = new DeviceAllocator(dev, { budgetBytes: 8192, maxCachedBytes: 8192 });
    const blocks = [a.alloc(2048, 'a'), a.alloc(2048, 'b'), a.alloc(2048, 'c')];
    for (const b of blocks) a.release(b);
    assert.equal(a.stats().cachedBytes, 6144);
    a.alloc(4096, 'd'); // another class: 6144 cached + 4096 > 8192 → trim
    assert.ok(a.stats().cachedBytes + a.stats().liveBytes <= 8192, JSON.stringify(a.stats()));
    assert.ok(dev.frees >= 1);
  });

  it('the free list keeps at most maxCachedBytes; the rest goes back to the device', () => {
    const dev = fakeDevice();
    const a = new DeviceAllocator(dev, { budgetBytes: 1 << 20, maxCachedBytes: 1024 });
    const x = a.alloc(1024, 'x'),
      y = a.alloc(1024, 'y');
    a.release(x);
    a.release(y);
    assert.equal(a.stats().cachedBytes, 1024);
    assert.equal(dev.frees, 1);
  });

  it('when the device itself is full, the cache is dropped and the allocation retried once', () => {
    const dev = fakeDevice(3 * 1024);
    const a = new DeviceAllocator(dev, { budgetBytes: 1 << 20, maxCachedBytes: 1 << 20 });
    const small = [a.alloc(1024, 'a'), a.alloc(1024, 'b')];
    for (const b of small) a.release(b);
    const big = a.alloc(2048, 'big');
    assert.equal(big.capacity, 2048);
    assert.equal(a.stats().cachedBytes, 0);
    assert.throws(() => a.alloc(4096, 'huge'), code('GPU_OUT_OF_MEMORY'));
  });

  it('zero-byte blocks cost nothing; double release and bad sizes are typed errors; close frees everything', () => {
    const dev = fakeDevice();
    const a = new DeviceAllocator(dev, { budgetBytes: 1 << 20 });
    const z = a.alloc(0, 'empty');
    assert.equal(z.ptr, 0n);
    a.release(z);
    const b = a.alloc(100, 'b');
    a.release(b);
    assert.throws(() => a.release(b), code('GPU_CUDA_ERROR'));
    assert.throws(() => a.alloc(-1, 'neg'), code('INPUT_OUT_OF_RANGE'));
    assert.throws(() => a.alloc(1.5, 'frac'), code('INPUT_OUT_OF_RANGE'));
    assert.throws(() => new DeviceAllocator(dev, { budgetBytes: 0 }), code('INPUT_OUT_OF_RANGE'));
    a.alloc(5000, 'c');
    a.close();
    assert.equal(dev.live.size, 0);
    assert.equal(a.stats().liveBytes, 0);
  });
});
