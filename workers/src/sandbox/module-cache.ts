/**
 * A least-recently-used map of compiled user modules by content digest, bounded both in entries
 * and in the modules' byte sizes (compiled code grows with the module, so a count alone would let
 * a few 16 MiB modules hold gigabytes).
 */
export class ModuleLru<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly bytes: number }>();
  private total = 0;

  /** At most `maxEntries` entries whose sizes add up to at most `maxBytes` (a larger one alone is not kept). */
  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  /** The value under `key`, now the most recently used. */
  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  /** Keeps `value` (of `bytes` bytes) under `key`, evicting the least recently used as needed. */
  set(key: string, value: V, bytes: number): void {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.total -= old.bytes;
    }
    if (bytes > this.maxBytes) return;
    while (this.entries.size > 0 && (this.entries.size >= this.maxEntries || this.total + bytes > this.maxBytes)) {
      const [k, e] = this.entries.entries().next().value as [string, { bytes: number }];
      this.entries.delete(k);
      this.total -= e.bytes;
    }
    this.entries.set(key, { value, bytes });
    this.total += bytes;
  }

  /** Entries kept. */
  get size(): number {
    return this.entries.size;
  }

  /** Sum of the kept entries' sizes. */
  get bytes(): number {
    return this.total;
  }
}
