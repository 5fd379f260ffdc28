/**
 * Files mapped into memory (libc `mmap` through koffi), as Uint8Arrays with no copy. A mapping is
 * unmapped when its ArrayBuffer is garbage-collected (FinalizationRegistry), never before, so no
 * view can outlive the memory behind it.
 *
 * - `private` mappings read a sealed file: writable, but copy-on-write, so a caller that writes
 *   into the array changes its own pages and never the file other readers map.
 * - `shared` mappings fill a file being received (peer.ts); they are handed to nobody else.
 *
 * Where libc cannot be loaded (a runtime without koffi's prebuilt binary, a non-glibc/musl libc
 * we do not know) {@link mapFile} returns undefined and callers read the file into memory.
 */
import * as fs from 'node:fs';

interface Libc {
  mmap(addr: null, len: number, prot: number, flags: number, fd: number, off: number): unknown;
  munmap(addr: unknown, len: number): number;
  address(p: unknown): bigint;
  view(p: unknown, len: number): ArrayBuffer;
}

const PROT_READ = 0x1, PROT_WRITE = 0x2, MAP_SHARED = 0x1, MAP_PRIVATE = 0x2;
const MAP_FAILED = 0xffffffffffffffffn;

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  try {
    const koffi = require('koffi') as {
      load(name: string): { func(sig: string): (...a: unknown[]) => unknown };
      address(p: unknown): bigint;
      view(p: unknown, len: number): ArrayBuffer;
    };
    for (const name of ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1']) {
      try {
        const lib = koffi.load(name);
        const mmap = lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)');
        const munmap = lib.func('int munmap(void *addr, size_t len)');
        libc = {
          mmap: (addr, len, prot, flags, fd, off) => mmap(addr, len, prot, flags, fd, off),
          munmap: (addr, len) => munmap(addr, len) as number,
          address: (p) => koffi.address(p),
          view: (p, len) => koffi.view(p, len),
        };
        break;
      } catch {
        /* try the next name */
      }
    }
  } catch {
    libc = null;
  }
  return libc;
}

const unmapper = new FinalizationRegistry<{ ptr: unknown; len: number }>(({ ptr, len }) => {
  libc?.munmap(ptr, len);
});

/** Buffers this module mapped, with the file and the mapping kind. */
const mapped = new WeakMap<ArrayBufferLike, { readonly path: string; readonly offset: number; readonly kind: 'private' | 'shared' }>();

/** Whether files can be mapped in this process. */
export function canMap(): boolean {
  return load() !== null;
}

/**
 * Maps `length` bytes of a file from `offset` (a multiple of the page size). Returns undefined when
 * mapping is unavailable here; throws the system error when the file cannot be opened or mapped.
 */
export function mapFile(path: string, length: number, kind: 'private' | 'shared', offset = 0): Uint8Array | undefined {
  const c = load();
  if (c === null) return undefined;
  if (length === 0) return new Uint8Array(0);
  const fd = fs.openSync(path, kind === 'shared' ? 'r+' : 'r');
  try {
    const ptr = c.mmap(null, length, PROT_READ | PROT_WRITE, kind === 'shared' ? MAP_SHARED : MAP_PRIVATE, fd, offset);
    if (ptr === null || c.address(ptr) === MAP_FAILED) throw new Error(`mmap of ${path} (${length} bytes) failed`);
    const ab = c.view(ptr, length);
    unmapper.register(ab, { ptr, len: length });
    mapped.set(ab, { path, offset, kind });
    return new Uint8Array(ab);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Calls `f` with `length` bytes of a file from `offset` (a multiple of the page size) mapped
 * read-only, and unmaps them when `f` returns: `f` must not keep the view. Returns undefined (and
 * does not call `f`) where mapping is unavailable.
 */
export function withMappedFile<T>(path: string, offset: number, length: number, f: (v: Uint8Array) => T): T | undefined {
  const c = load();
  if (c === null) return undefined;
  if (length === 0) return f(new Uint8Array(0));
  const fd = fs.openSync(path, 'r');
  let ptr: unknown;
  try {
    ptr = c.mmap(null, length, PROT_READ, MAP_SHARED, fd, offset);
  } finally {
    fs.closeSync(fd);
  }
  if (ptr === null || c.address(ptr) === MAP_FAILED) throw new Error(`mmap of ${path} (${length} bytes at ${offset}) failed`);
  try {
    return f(new Uint8Array(c.view(ptr, length)));
  } finally {
    c.munmap(ptr, length);
  }
}

/**
 * The file behind a mapped view (and the view's offset in that file), or undefined for memory
 * this module did not map. Lets a consumer that cannot share the view (another thread) map the
 * same file instead of copying the bytes.
 */
export function mappedFileOf(v: ArrayBufferView): { readonly path: string; readonly offset: number; readonly kind: 'private' | 'shared' } | undefined {
  const m = mapped.get(v.buffer);
  return m === undefined ? undefined : { path: m.path, offset: m.offset + v.byteOffset, kind: m.kind };
}
