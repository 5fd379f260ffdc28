/**
 * The host-local tier of the array store: sealed, immutable objects as files in one directory
 * that every process of a host shares (a tmpfs: /dev/shm, or a Kubernetes `emptyDir` with medium
 * Memory), read as memory-mapped views.
 *
 * - A put writes the bytes once into a temporary file, hashes its leaves on the hash threads while
 *   the rest is still being written, and renames the file to its digest ("seals" it). Nothing
 *   renames over a sealed file, so a sealed file never changes.
 * - Every byte that enters the store is checked: a put hashes the file it wrote, a received
 *   object is checked leaf by leaf. Sealing records the file's inode, size and change time
 *   (`<digest>.seal`), so a reader checks that the file is still the one sealed, unchanged (any
 *   chmod, write or replacement changes them), instead of hashing it again; a file that does not
 *   match its record is hashed (and removed if its bytes do not match the digest).
 * - A read maps the file (no copy; copy-on-write, so a reader that writes into its array never
 *   changes the file).
 * - Files: `<digest>` (the `.npy` bytes, mode 0444), `<digest>.leaves` (the leaf table of a tree
 *   digest, written before the data, served to peers), `<digest>.seal` (the seal record),
 *   `<digest>.durable` (present once the object has a durable copy in the object store: only such
 *   objects are evicted, least recently read first by its change time), `.tmp-*` (writes in
 *   progress), `.host-id` (the host's id in the holders directory). The directory is mode 0700.
 * - Capacity: at most `maxBytes` in sealed, free and in-progress files. A write that does not fit
 *   drops free files, then evicts durable objects, least recently used first; if that is not
 *   enough it fails with STORE_HOST_FULL and the caller uses another tier.
 * - Reuse: a deleted object's file is kept as `.free-*` (up to `spareBytes`) and taken over by a
 *   later write once no reader maps it (flock: readers shared, reuse exclusive), so a host that
 *   keeps receiving arrays writes into memory it already has.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { GramfleetError, TREE_LEAF_BYTES, isTreeDigest } from '@gramfleet/core';
import { LEAF_HASH_BYTES, checkLeafTable, digestFromLeaves, sha256Hex, usesTree } from './digest';
import { hashPool } from './hash-pool';
import { canMap, claimUnmapped, mapFile, mapSealed } from './mmap';

/** Objects smaller than this are freed, not kept for reuse. */
const REUSE_MIN_BYTES = 1024 * 1024;

/** Options of {@link openHostStore}. */
export interface HostStoreOptions {
  /** The directory (created if missing). Every process of a host that names it shares its objects. */
  readonly dir: string;
  /** Most bytes the store holds, sealed and in progress. */
  readonly maxBytes: number;
  /**
   * How a process checks an object the first time it reads it: `'seal'` trusts a file whose
   * inode, size, mode and change time are those recorded when it was sealed (its bytes were
   * hashed as they were written, or checked leaf by leaf as they were received, and nothing has
   * changed the file since), and hashes it otherwise; `'hash'` always hashes it. @default 'seal'
   */
  readonly verifyReads?: 'seal' | 'hash';
  /**
   * Memory of deleted objects kept for new ones, bytes: a deleted object's file becomes a free file
   * (counted in the store's bytes) that a later put or receive takes over once no process maps it
   * any more (readers hold a shared lock while they map; reuse takes an exclusive one), writing into
   * pages the system already gave this host instead of fresh ones (which cost ~0.5-1 s of system
   * time per GB on the VMs measured here). 0 frees deleted objects at once. Needs mapping
   * (koffi). @default a quarter of `maxBytes`
   */
  readonly spareBytes?: number;
}

/** A file being received (a peer pull, an object-store read), filled in place and then sealed. */
export interface Incoming {
  /** Memory to write the object's bytes into (a shared mapping of the file, or shared memory). */
  readonly view: Uint8Array;
  /** Hashes of leaves `leaves` of what has been written so far, 32 bytes each (in order asked). */
  hashLeaves(leaves: readonly number[]): Promise<Uint8Array>;
  /**
   * Seals the file under its digest and returns a read view. Every leaf must have been checked
   * (by the caller, with {@link hashLeaves}) unless `table` is omitted: then the whole object is
   * checked here.
   */
  seal(table?: Uint8Array): Promise<Uint8Array>;
  /** Drops the file. */
  abort(): void;
}

/** A host's store. */
export interface HostStore {
  readonly dir: string;
  /** This host's id in the holders directory (the same for every process sharing `dir`). */
  readonly hostId: string;
  readonly maxBytes: number;
  /** Size of a sealed object, or undefined when this host does not hold it. */
  size(digest: string): number | undefined;
  /** The bytes of a sealed object (mapped, no copy), checked against the digest on this process's first read; undefined when absent. */
  read(digest: string): Promise<Uint8Array | undefined>;
  /** The path of an object's file (present or not). */
  pathOf(digest: string): string;
  /** The bytes of a sealed object, mapped and not checked: for serving to peers, which check what they receive. */
  serve(digest: string): Uint8Array | undefined;
  /** Writes an object given as consecutive parts (e.g. an `.npy` header and the data), seals it under its digest. */
  write(parts: readonly Uint8Array[]): Promise<{ readonly digest: string; readonly bytes: number }>;
  /** Starts receiving `bytes` bytes named `digest`; STORE_HOST_FULL when they do not fit. */
  receive(digest: string, bytes: number): Incoming;
  /** The leaf table of a sealed object (read from its side file, or hashed now). */
  leafTable(digest: string): Promise<Uint8Array | undefined>;
  /** Records that an object has a durable copy (so it may be evicted). */
  markDurable(digest: string): void;
  /** Removes an object; false when it was not here. */
  delete(digest: string): boolean;
  /** Bytes held now (sealed and in progress), as last counted. */
  usage(): number;
  /** How this process's first reads were checked: by the seal record, or by hashing the file. */
  readonly checks: { sealed: number; hashed: number };
}

/** Digests are the only names in the directory: hex, or the tree prefix and hex. */
function checkName(digest: string): void {
  if (!/^(t1-)?[0-9a-f]{64}$/.test(digest)) throw new GramfleetError('INPUT_INVALID', `not an array digest: ${JSON.stringify(digest)}`, { field: 'digest' });
}

/** Opens (creating if needed) the host store in `o.dir`. */
export function openHostStore(o: HostStoreOptions): HostStore {
  const dir = path.resolve(o.dir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const verifyReads = o.verifyReads ?? 'seal';
  const spareBytes = canMap() ? (o.spareBytes ?? Math.floor(o.maxBytes / 4)) : 0;
  removeStaleTemporaries(dir);
  hashPool(); // start the hash threads now, not on the first put (they keep no process alive)
  const hostId = readHostId(dir);
  const verified = new Set<string>();
  const touched = new Map<string, number>();
  let counted = { at: 0, bytes: 0 };
  const checks = { sealed: 0, hashed: 0 };
  let reserved = 0;
  const file = (digest: string, ext = ''): string => path.join(dir, digest + ext);

  /** Counts the bytes of every file in the directory (at most once a second unless forced). */
  function count(force: boolean): number {
    const now = Date.now();
    if (!force && now - counted.at < 1000) return counted.bytes;
    let bytes = 0;
    for (const name of safeReaddir(dir)) {
      try {
        bytes += fs.statSync(path.join(dir, name)).size;
      } catch {
        /* removed meanwhile */
      }
    }
    counted = { at: now, bytes };
    return bytes;
  }

  /** Free files (deleted objects' memory) with their sizes. */
  function freeFiles(): { name: string; bytes: number }[] {
    const out: { name: string; bytes: number }[] = [];
    for (const name of safeReaddir(dir)) {
      if (!name.startsWith('.free-')) continue;
      try {
        out.push({ name, bytes: fs.statSync(path.join(dir, name)).size });
      } catch {
        /* taken meanwhile */
      }
    }
    return out;
  }

  /**
   * Takes over a free file for `bytes` bytes: the smallest that holds them, else the largest;
   * renamed to `tmp`, exclusively locked (no reader maps it), cut or grown to `bytes`. Returns the
   * locked fd and the bytes it already held, or undefined (a fresh file is made).
   */
  function claimFree(tmp: string, bytes: number): { fd: number; had: number } | undefined {
    if (spareBytes === 0 || bytes < REUSE_MIN_BYTES) return undefined;
    const free = freeFiles().sort((a, b) => a.bytes - b.bytes);
    const fits = free.filter((f) => f.bytes >= bytes);
    const order = fits.length > 0 ? fits : free.reverse();
    for (const f of order) {
      try {
        fs.renameSync(path.join(dir, f.name), tmp); // atomic: one process gets it
      } catch {
        continue;
      }
      const fd = claimUnmapped(tmp);
      if (fd === undefined) {
        // Still mapped somewhere: back to the pool for later.
        try {
          fs.renameSync(tmp, path.join(dir, `.free-${randomBytes(8).toString('hex')}`));
        } catch {
          fs.rmSync(tmp, { force: true });
        }
        continue;
      }
      fs.ftruncateSync(fd, bytes);
      counted.at = 0;
      return { fd, had: Math.min(f.bytes, bytes) };
    }
    return undefined;
  }

  /** Drops free files until `over` bytes are gone; returns the bytes dropped. */
  function dropFree(over: number): number {
    let dropped = 0;
    for (const f of freeFiles()) {
      if (dropped >= over) break;
      fs.rmSync(path.join(dir, f.name), { force: true });
      dropped += f.bytes;
    }
    counted.at = 0;
    return dropped;
  }

  /** Drops free files, then evicts durable objects least recently used first, until `need` more bytes fit; false if they cannot. */
  function makeRoom(need: number): boolean {
    if (count(false) + reserved + need <= o.maxBytes) return true;
    if (count(true) + reserved + need <= o.maxBytes) return true;
    dropFree(counted.bytes + reserved + need - o.maxBytes);
    if (count(true) + reserved + need <= o.maxBytes) return true;
    const candidates: { digest: string; used: number; bytes: number }[] = [];
    for (const name of safeReaddir(dir)) {
      if (!name.endsWith('.durable')) continue;
      const digest = name.slice(0, -'.durable'.length);
      try {
        const used = fs.statSync(file(digest, '.durable')).mtimeMs;
        candidates.push({ digest, used, bytes: fs.statSync(file(digest)).size });
      } catch {
        fs.rmSync(file(digest, '.durable'), { force: true });
      }
    }
    candidates.sort((a, b) => a.used - b.used);
    let over = counted.bytes + reserved + need - o.maxBytes;
    for (const c of candidates) {
      if (over <= 0) break;
      if (api.delete(c.digest)) over -= c.bytes;
    }
    return count(true) + reserved + need <= o.maxBytes;
  }

  function reserve(bytes: number, what: string): () => void {
    if (!makeRoom(bytes)) {
      throw new GramfleetError(
        'STORE_HOST_FULL',
        `${what}: the host store in ${dir} holds ${counted.bytes + reserved} of its ${o.maxBytes} bytes and ${bytes} more do not fit (only objects with a durable copy are evicted)`,
        { field: 'hostStoreBytes', bound: o.maxBytes, need: bytes, dir },
      );
    }
    reserved += bytes;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      reserved -= bytes;
      counted.at = 0;
    };
  }

  /** Renames a finished temporary file to its digest; drops it when the digest is already sealed. */
  function sealFile(tmp: string, digest: string, table: Uint8Array | undefined): void {
    const final = file(digest);
    if (fs.existsSync(final)) {
      fs.rmSync(tmp, { force: true });
      return;
    }
    if (table !== undefined && isTreeDigest(digest)) {
      const t = `${tmp}.leaves`;
      fs.writeFileSync(t, table);
      fs.renameSync(t, file(digest, '.leaves'));
    }
    fs.chmodSync(tmp, 0o444);
    fs.renameSync(tmp, final);
    const st = fs.statSync(final, { bigint: true });
    const rec = `${tmp}.seal`;
    fs.writeFileSync(rec, sealRecord(st));
    fs.renameSync(rec, file(digest, '.seal'));
  }

  /** Whether the file at `at` (stat `st`) is the one sealed under `digest`, unchanged since. */
  function sealHolds(digest: string, st: fs.BigIntStats): boolean {
    try {
      return fs.readFileSync(file(digest, '.seal'), 'utf8') === sealRecord(st);
    } catch {
      return false;
    }
  }

  async function verify(digest: string, bytes: Uint8Array, at: string): Promise<boolean> {
    if (isTreeDigest(digest)) {
      if (!usesTree(bytes.byteLength)) return false;
      const table = await hashPool().leaves({ kind: 'file', path: at }, bytes.byteLength);
      return digestFromLeaves(table, bytes.byteLength) === digest;
    }
    return sha256Hex(bytes) === digest;
  }

  const api: HostStore = {
    dir,
    hostId,
    maxBytes: o.maxBytes,
    checks,
    size(digest) {
      checkName(digest);
      try {
        return fs.statSync(file(digest)).size;
      } catch {
        return undefined;
      }
    },
    async read(digest) {
      checkName(digest);
      const at = file(digest);
      let st: fs.BigIntStats;
      let bytes: Uint8Array;
      try {
        if (canMap()) {
          // Mapped with a shared lock held while the mapping lives: the file's memory is not reused meanwhile.
          const m = mapSealed(at, () => true);
          if (m === undefined) return undefined;
          ({ bytes, stat: st } = m);
        } else {
          st = fs.statSync(at, { bigint: true });
          bytes = new Uint8Array(fs.readFileSync(at));
        }
      } catch {
        return undefined; // evicted meanwhile
      }
      if (!verified.has(digest)) {
        const sealed = verifyReads === 'seal' && sealHolds(digest, st);
        if (sealed) checks.sealed++;
        else checks.hashed++;
        if (!sealed && !(await verify(digest, bytes, at))) {
          // Removed only if the name still names the file just read.
          if (sameFile(at, st)) api.delete(digest);
          throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${digest} in the host store ${dir} does not match its digest; removed it`, { digest, dir });
        }
        verified.add(digest);
      }
      const now = Date.now();
      if (now - (touched.get(digest) ?? 0) > 10_000) {
        touched.set(digest, now);
        try {
          // The LRU time is the marker's (touching the data file would change its change time).
          if (fs.existsSync(file(digest, '.durable'))) fs.utimesSync(file(digest, '.durable'), now / 1000, now / 1000);
        } catch {
          /* not ours to touch, or gone: the LRU order is a hint */
        }
      }
      return bytes;
    },
    pathOf(digest) {
      checkName(digest);
      return file(digest);
    },
    serve(digest) {
      checkName(digest);
      const at = file(digest);
      try {
        if (canMap()) return mapSealed(at, () => true)?.bytes;
        return new Uint8Array(fs.readFileSync(at));
      } catch {
        return undefined;
      }
    },
    async write(parts) {
      const total = parts.reduce((s, p) => s + p.byteLength, 0);
      const tmp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
      const reused = claimFree(tmp, total);
      let release: () => void;
      try {
        release = reserve(total - (reused?.had ?? 0), 'put');
      } catch (e) {
        if (reused !== undefined) {
          fs.closeSync(reused.fd);
          fs.rmSync(tmp, { force: true });
        }
        throw e;
      }
      try {
        const fd = reused?.fd ?? fs.openSync(tmp, 'wx', 0o644);
        const tree = usesTree(total);
        const leafHashes: Promise<Uint8Array>[] = [];
        const small = tree ? undefined : createHash('sha256');
        try {
          // Leaf by leaf, so the hash threads hash leaf i while leaf i+1 is written.
          let at = 0,
            leaf = 0;
          for (const p of parts) {
            small?.update(p);
            for (let off = 0; off < p.byteLength;) {
              const n = fs.writeSync(fd, p, off, Math.min(p.byteLength - off, TREE_LEAF_BYTES - (at % TREE_LEAF_BYTES)), at);
              off += n;
              at += n;
              if (tree && (at % TREE_LEAF_BYTES === 0 || at === total)) leafHashes.push(hashPool().leaves({ kind: 'file', path: tmp }, total, [leaf++]));
            }
          }
        } catch (e) {
          void Promise.allSettled(leafHashes);
          throw e;
        } finally {
          fs.closeSync(fd);
        }
        let table: Uint8Array;
        if (tree) {
          const hashes = await Promise.all(leafHashes);
          table = new Uint8Array(hashes.length * LEAF_HASH_BYTES);
          hashes.forEach((h, i) => table.set(h, i * LEAF_HASH_BYTES));
        } else table = new Uint8Array((small as ReturnType<typeof createHash>).digest());
        const digest = digestFromLeaves(table, total);
        sealFile(tmp, digest, table);
        verified.add(digest);
        return { digest, bytes: total };
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
          throw new GramfleetError('STORE_HOST_FULL', `put: the file system of the host store ${dir} is full (${total} bytes did not fit)`, {
            field: 'hostStoreBytes',
            bound: o.maxBytes,
            need: total,
            dir,
          });
        }
        throw e;
      } finally {
        release();
      }
    },
    receive(digest, bytes) {
      checkName(digest);
      const tmp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
      const reused = claimFree(tmp, bytes);
      let release: () => void;
      try {
        release = reserve(bytes - (reused?.had ?? 0), `receiving ${digest}`);
      } catch (e) {
        if (reused !== undefined) {
          fs.closeSync(reused.fd);
          fs.rmSync(tmp, { force: true });
        }
        throw e;
      }
      // The exclusive lock on a reused file is held until the file is sealed or dropped.
      const lockFd = reused?.fd;
      let view: Uint8Array;
      let sab: SharedArrayBuffer | undefined;
      try {
        if (reused === undefined) {
          const fd = fs.openSync(tmp, 'wx', 0o644);
          try {
            fs.ftruncateSync(fd, bytes);
          } finally {
            fs.closeSync(fd);
          }
        }
        // Every page mapped at once: the socket writes into them without a fault per page.
        const m = mapFile(tmp, bytes, 'shared', 0, true);
        if (m !== undefined) view = m;
        else {
          sab = new SharedArrayBuffer(bytes);
          view = new Uint8Array(sab);
        }
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        if (lockFd !== undefined) fs.closeSync(lockFd);
        release();
        throw e;
      }
      let finished = false;
      const finish = (): void => {
        finished = true;
        if (lockFd !== undefined) fs.closeSync(lockFd);
        release();
      };
      return {
        view,
        hashLeaves: (leaves) =>
          hashPool().leaves(sab !== undefined ? { kind: 'shared', buffer: sab, byteOffset: 0 } : { kind: 'file', path: tmp }, bytes, leaves),
        async seal(table) {
          if (finished) throw new GramfleetError('STORE_MISSING_OBJECT', `receiving ${digest}: already sealed or aborted`, { digest });
          try {
            if (sab !== undefined) fs.writeFileSync(tmp, view);
            if (table === undefined) {
              const ok = await verify(digest, view, tmp);
              if (!ok) throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${digest} as received does not match its digest`, { digest });
            } else checkLeafTable(digest, bytes, table, `array ${digest}`);
            sealFile(tmp, digest, table);
            verified.add(digest);
          } catch (e) {
            fs.rmSync(tmp, { force: true });
            throw e;
          } finally {
            finish();
          }
          const v = await api.read(digest);
          if (v === undefined)
            throw new GramfleetError('STORE_MISSING_OBJECT', `array ${digest} left the host store as soon as it was sealed`, { digest, dir });
          return v;
        },
        abort() {
          if (finished) return;
          fs.rmSync(tmp, { force: true });
          finish();
        },
      };
    },
    async leafTable(digest) {
      checkName(digest);
      const size = api.size(digest);
      if (size === undefined) return undefined;
      if (isTreeDigest(digest)) {
        try {
          const t = new Uint8Array(fs.readFileSync(file(digest, '.leaves')));
          checkLeafTable(digest, size, t, `array ${digest}`);
          return t;
        } catch {
          /* missing or damaged side file: hash the leaves */
        }
      }
      if (!isTreeDigest(digest) && usesTree(size)) return undefined; // a plain sha256 of a large object: no leaf table names it
      const t = await hashPool().leaves({ kind: 'file', path: file(digest) }, size);
      if (digestFromLeaves(t, size) !== digest) return undefined;
      return t;
    },
    markDurable(digest) {
      checkName(digest);
      if (!fs.existsSync(file(digest))) return;
      try {
        fs.writeFileSync(file(digest, '.durable'), '');
      } catch {
        /* a marker only allows eviction */
      }
    },
    delete(digest) {
      checkName(digest);
      verified.delete(digest);
      fs.rmSync(file(digest, '.seal'), { force: true });
      fs.rmSync(file(digest, '.leaves'), { force: true });
      fs.rmSync(file(digest, '.durable'), { force: true });
      let size: number;
      try {
        size = fs.statSync(file(digest)).size;
      } catch {
        return false;
      }
      let kept = false;
      if (spareBytes > 0 && size >= REUSE_MIN_BYTES && freeFiles().reduce((n, f) => n + f.bytes, 0) + size <= spareBytes) {
        // Kept as a free file: a later write takes its memory over once no reader maps it.
        const free = path.join(dir, `.free-${randomBytes(8).toString('hex')}`);
        try {
          fs.renameSync(file(digest), free);
          fs.chmodSync(free, 0o644);
          kept = true;
        } catch {
          /* gone meanwhile */
        }
      }
      if (!kept) {
        try {
          fs.unlinkSync(file(digest));
        } catch {
          return false;
        }
      }
      counted.at = 0;
      return true;
    },
    usage: () => count(false) + reserved,
  };
  return api;
}

/**
 * An {@link Incoming} in this process's memory (shared, so the hash threads read it in place),
 * for a process with no host store or one that is full: sealing checks it and returns the memory.
 */
export function receiveInMemory(digest: string, bytes: number): Incoming {
  const sab = new SharedArrayBuffer(bytes);
  const view = new Uint8Array(sab);
  return {
    view,
    hashLeaves: (leaves) => hashPool().leaves({ kind: 'shared', buffer: sab, byteOffset: 0 }, bytes, leaves),
    async seal(table) {
      if (table !== undefined) checkLeafTable(digest, bytes, table, `array ${digest}`);
      else {
        const ok = isTreeDigest(digest)
          ? usesTree(bytes) && digestFromLeaves(await hashPool().leaves({ kind: 'shared', buffer: sab, byteOffset: 0 }, bytes), bytes) === digest
          : sha256Hex(view) === digest;
        if (!ok) throw new GramfleetError('STORE_DIGEST_MISMATCH', `array ${digest} as received does not match its digest`, { digest });
      }
      return view;
    },
    abort() {
      /* garbage-collected */
    },
  };
}

/** Whether `at` still names the file whose stat is `st`. */
function sameFile(at: string, st: fs.BigIntStats): boolean {
  try {
    const now = fs.statSync(at, { bigint: true });
    return now.ino === st.ino && now.dev === st.dev;
  } catch {
    return false;
  }
}

/** What a seal records of a sealed file: inode, size, mode and change time (ns). */
function sealRecord(st: fs.BigIntStats): string {
  return JSON.stringify({ ino: String(st.ino), size: String(st.size), mode: Number(st.mode & 0o7777n), ctimeNs: String(st.ctimeNs) });
}

/** Writes in progress left by processes that died (older than 10 minutes: a write takes seconds). */
function removeStaleTemporaries(dir: string): void {
  const before = Date.now() - 600_000;
  for (const name of safeReaddir(dir)) {
    if (!name.startsWith('.tmp-')) continue;
    try {
      if (fs.statSync(path.join(dir, name)).mtimeMs < before) fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      /* gone */
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The host id stored in the directory, created by whichever process gets there first. */
function readHostId(dir: string): string {
  const f = path.join(dir, '.host-id');
  if (!fs.existsSync(f)) {
    // Written whole under another name, then linked (which fails if another process won).
    const tmp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    fs.writeFileSync(tmp, randomBytes(8).toString('hex'));
    try {
      fs.linkSync(tmp, f);
    } catch {
      /* another process got there first */
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  return fs.readFileSync(f, 'utf8').trim();
}
