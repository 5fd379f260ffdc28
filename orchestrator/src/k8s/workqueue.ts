/**
 * A de-duplicating work queue of object keys, after client-go's: a key added while it waits is
 * queued once; a key added while it is being processed is queued again when `done` is called
 * (never processed by two workers at once); `addAfter` schedules a later add; `addRateLimited`
 * backs off per key exponentially until `forget` resets it.
 */

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** First retry delay of {@link WorkQueue.addRateLimited}, ms. @default 200 */
  readonly baseDelayMs?: number;
  /** Largest retry delay, ms. @default 30000 */
  readonly maxDelayMs?: number;
}

/** The queue. */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiters: ((k: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly base: number;
  private readonly max: number;

  constructor(o: WorkQueueOptions = {}) {
    this.base = o.baseDelayMs ?? 200;
    this.max = o.maxDelayMs ?? 30_000;
  }

  /** Queues `key` unless it is already waiting. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const w = this.waiters.shift();
    if (w !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      w(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Adds `key` after `ms` (an earlier pending timer for the key wins if sooner). */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    if (this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  /** Adds `key` after its per-key exponential backoff. */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, Math.min(this.max, this.base * 2 ** n));
  }

  /** Resets the backoff of `key`. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Next key to process (undefined once shut down). Call {@link done} after processing it. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` processed; re-queues it if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  /** Keys waiting (not counting ones being processed or timers). */
  get length(): number {
    return this.queue.length;
  }

  /** Stops handing out keys; pending `get`s resolve with undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
