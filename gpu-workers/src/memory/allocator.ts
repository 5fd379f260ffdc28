/**
 * The one device-memory allocator of a GPU worker: a byte budget over live allocations, a
 * free list of released blocks by size class (so repeated shards reuse memory instead of
 * calling cuMemAlloc/cuMemFree), and trimming of the free list when the budget or the
 * device needs the room. The raw allocator is injected, so the accounting is unit-tested
 * without a GPU.
 *
 * Size classes: requests up to 1 MiB round up to a multiple of 512 bytes, larger ones to a
 * multiple of 2 MiB. A block is reused only for a request of exactly its class.
 */
import { GramfleetError } from '@gramfleet/core';

/** Raw device memory: cuMemAlloc / cuMemFree, or a fake in tests. */
export interface RawDeviceMemory {
  /** Allocates `bytes` (> 0); throws `GPU_OUT_OF_MEMORY` when the device has no room. */
  alloc(bytes: number): bigint;
  free(ptr: bigint): void;
}

/** An allocated block. */
export interface DeviceBlock {
  /** Device address (0n for a zero-byte block). */
  readonly ptr: bigint;
  /** Bytes asked for. */
  readonly bytes: number;
  /** Bytes reserved (the size class). */
  readonly capacity: number;
}

/** Options of {@link DeviceAllocator}. */
export interface DeviceAllocatorOptions {
  /** Most bytes live (handed out, by capacity) at once. */
  readonly budgetBytes: number;
  /** Most bytes kept in the free list. @default budgetBytes / 4 */
  readonly maxCachedBytes?: number;
}

/** Counters of an allocator. */
export interface AllocatorStats {
  readonly liveBytes: number;
  readonly cachedBytes: number;
  readonly peakLiveBytes: number;
  readonly rawAllocs: number;
  readonly rawFrees: number;
  readonly reuses: number;
  readonly liveBlocks: number;
}

const SMALL_LIMIT = 1 << 20;
const SMALL_STEP = 512;
const LARGE_STEP = 2 << 20;

/** The size class of a request. */
export function sizeClass(bytes: number): number {
  if (bytes <= 0) return 0;
  const step = bytes <= SMALL_LIMIT ? SMALL_STEP : LARGE_STEP;
  return Math.ceil(bytes / step) * step;
}

/** The device allocator (see the module documentation). */
export class DeviceAllocator {
  private readonly free = new Map<number, bigint[]>();
  private readonly live = new Map<bigint, number>();
  private liveBytes = 0;
  private cachedBytes = 0;
  private peak = 0;
  private rawAllocs = 0;
  private rawFrees = 0;
  private reuses = 0;
  private readonly budget: number;
  private readonly maxCached: number;

  constructor(
    private readonly raw: RawDeviceMemory,
    o: DeviceAllocatorOptions,
  ) {
    if (!Number.isSafeInteger(o.budgetBytes) || o.budgetBytes <= 0)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `budgetBytes must be a positive integer, got ${o.budgetBytes}`, {
        field: 'budgetBytes',
        bound: '> 0',
        value: o.budgetBytes,
      });
    this.budget = o.budgetBytes;
    this.maxCached = o.maxCachedBytes ?? Math.floor(o.budgetBytes / 4);
  }

  /** The budget in bytes. */
  get budgetBytes(): number {
    return this.budget;
  }

  /**
   * Allocates at least `bytes`. Throws `GPU_OUT_OF_MEMORY` (naming the request, the budget and
   * what is live) when the live bytes would exceed the budget, or when the device has no room
   * even after the free list was released.
   */
  alloc(bytes: number, what = 'buffer'): DeviceBlock {
    if (!Number.isSafeInteger(bytes) || bytes < 0)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `${what}: bytes must be a non-negative integer, got ${bytes}`, {
        field: 'bytes',
        bound: '>= 0',
        value: bytes,
      });
    const cls = sizeClass(bytes);
    if (cls === 0) return { ptr: 0n, bytes: 0, capacity: 0 };
    if (this.liveBytes + cls > this.budget) {
      throw new GramfleetError(
        'GPU_OUT_OF_MEMORY',
        `${what}: ${bytes} bytes would exceed the GPU memory budget of ${this.budget} bytes (${this.liveBytes} bytes live)`,
        { what, bytes, budgetBytes: this.budget, liveBytes: this.liveBytes },
      );
    }
    const list = this.free.get(cls);
    let ptr = list?.pop();
    if (ptr !== undefined) {
      this.cachedBytes -= cls;
      this.reuses++;
    } else {
      // Keep live + cached within the budget: release cached blocks of other classes first.
      if (this.liveBytes + this.cachedBytes + cls > this.budget) this.trim(this.budget - this.liveBytes - cls);
      ptr = this.rawAlloc(cls, what, bytes);
    }
    this.live.set(ptr, cls);
    this.liveBytes += cls;
    this.peak = Math.max(this.peak, this.liveBytes);
    return { ptr, bytes, capacity: cls };
  }

  /** Returns a block to the free list (or to the device when the list is full). */
  release(block: DeviceBlock): void {
    if (block.capacity === 0) return;
    const cls = this.live.get(block.ptr);
    if (cls === undefined)
      throw new GramfleetError('GPU_CUDA_ERROR', `release of a block that is not live (address 0x${block.ptr.toString(16)}): double free or foreign block`, {
        ptr: block.ptr.toString(16),
      });
    this.live.delete(block.ptr);
    this.liveBytes -= cls;
    if (this.cachedBytes + cls <= this.maxCached) {
      let list = this.free.get(cls);
      if (list === undefined) this.free.set(cls, (list = []));
      list.push(block.ptr);
      this.cachedBytes += cls;
    } else {
      this.raw.free(block.ptr);
      this.rawFrees++;
    }
  }

  /** Frees cached blocks (largest classes first) until at most `keepBytes` stay cached. */
  trim(keepBytes = 0): void {
    const classes = [...this.free.keys()].sort((a, b) => b - a);
    for (const cls of classes) {
      const list = this.free.get(cls) ?? [];
      while (list.length > 0 && this.cachedBytes > Math.max(0, keepBytes)) {
        this.raw.free(list.pop() as bigint);
        this.rawFrees++;
        this.cachedBytes -= cls;
      }
      if (list.length === 0) this.free.delete(cls);
    }
  }

  /** Frees everything, live blocks included (worker shutdown). */
  close(): void {
    this.trim(0);
    for (const ptr of this.live.keys()) {
      this.raw.free(ptr);
      this.rawFrees++;
    }
    this.live.clear();
    this.liveBytes = 0;
  }

  /** Counters. */
  stats(): AllocatorStats {
    return {
      liveBytes: this.liveBytes,
      cachedBytes: this.cachedBytes,
      peakLiveBytes: this.peak,
      rawAllocs: this.rawAllocs,
      rawFrees: this.rawFrees,
      reuses: this.reuses,
      liveBlocks: this.live.size,
    };
  }

  private rawAlloc(cls: number, what: string, bytes: number): bigint {
    try {
      const p = this.raw.alloc(cls);
      this.rawAllocs++;
      return p;
    } catch (e) {
      // The device itself is full (other processes, fragmentation): drop the cache, try once more.
      if (this.cachedBytes === 0) throw oom(e, what, bytes, this.budget, this.liveBytes);
      this.trim(0);
      try {
        const p = this.raw.alloc(cls);
        this.rawAllocs++;
        return p;
      } catch (e2) {
        throw oom(e2, what, bytes, this.budget, this.liveBytes);
      }
    }
  }
}

function oom(e: unknown, what: string, bytes: number, budget: number, live: number): GramfleetError {
  return new GramfleetError(
    'GPU_OUT_OF_MEMORY',
    `${what}: the device could not allocate ${bytes} bytes (${live} bytes live, budget ${budget}): ${(e as Error).message}`,
    { what, bytes, budgetBytes: budget, liveBytes: live },
  );
}
