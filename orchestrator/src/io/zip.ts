/**
 * A minimal ZIP reader and writer, enough for `.npz` archives: stored and deflated
 * entries, zip64 on read (numpy writes zip64 local headers) and on write (archives, entries
 * and offsets past 4 GiB, more than 65,534 entries), CRC-32 checked on read.
 * Writes are deterministic (fixed 1980-01-01 timestamps), so equal inputs give equal bytes.
 *
 * The reader trusts nothing in the archive: the uncompressed sizes the central directory
 * declares are added up and checked against `maxBytes` before any entry is inflated, and
 * each entry is inflated with `maxOutputLength` set to its declared size, so an archive that
 * lies about its sizes (a zip bomb) stops one byte past its claim instead of filling memory.
 */
import { open } from 'node:fs/promises';
import { createDeflateRaw, crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { GramfleetError } from '@gramfleet/core';

/** One file inside a ZIP archive. */
export interface ZipEntry {
  /** Path inside the archive. */
  readonly name: string;
  /** Uncompressed bytes. */
  readonly data: Uint8Array;
}

/** One file to write into a ZIP archive: its bytes whole, or in parts written one after another (never joined). */
export interface ZipSource {
  /** Path inside the archive. */
  readonly name: string;
  /** Uncompressed bytes, or their parts in order (e.g. a `.npy` header and the array's own memory). */
  readonly data: Uint8Array | readonly Uint8Array[];
}

/** Options of {@link writeZip} and {@link writeZipFile}. */
export interface WriteZipOptions {
  /**
   * Deflate the entries (as `numpy.savez_compressed`) instead of storing them (as `numpy.savez`).
   * @default false
   */
  readonly compress?: boolean;
  /**
   * Sizes and offsets from this many bytes on are written in zip64 records (the 32-bit field
   * saturated to 0xFFFFFFFF, the value in the zip64 extra field / end record), as the format
   * requires from 0xFFFFFFFF on. Lower only to exercise the zip64 path with small archives:
   * 0 writes every entry and the end of the archive as zip64 (like Python's `force_zip64`).
   * @default ZIP64_FROM (0xFFFFFFFF)
   */
  readonly zip64From?: number;
}

/** Sizes and offsets from which {@link writeZip} writes zip64 records: 0xFFFFFFFF bytes (4 GiB - 1). */
export const ZIP64_FROM = 0xffffffff;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;
/** DOS date for 1980-01-01 (day 1, month 1, year offset 0). */
const DOS_DATE = (1 << 5) | 1;

function unreadable(what: string, why: string): GramfleetError {
  return new GramfleetError('INPUT_FILE_UNREADABLE', `${what}: not a readable ZIP archive (${why})`, { what, why });
}

/** Options of {@link readZip}. */
export interface ReadZipOptions {
  /**
   * Most bytes the entries may hold uncompressed, all together (`INPUT_TOO_LARGE` beyond, before
   * anything is inflated).
   * @default ZIP_DEFAULT_MAX_BYTES
   */
  readonly maxBytes?: number;
}

/** The uncompressed total {@link readZip} accepts when the caller names no budget: 256 MiB. */
export const ZIP_DEFAULT_MAX_BYTES = 256 * 2 ** 20;

/** Deflate cannot compress more than 1032:1; an entry declaring more is lying about its sizes. */
const DEFLATE_MAX_RATIO = 1032;

function u64(view: DataView, off: number, what: string): number {
  const v = view.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw unreadable(what, 'zip64 size beyond 2^53');
  return Number(v);
}

/**
 * Reads every entry of a ZIP archive (stored or deflated, zip64 aware) and checks its
 * CRC-32. `what` names the file in errors. Throws `INPUT_FILE_UNREADABLE` for anything
 * malformed or unsupported (encryption, other compression methods, an entry whose data
 * inflates to more or less than it declares) and `INPUT_TOO_LARGE` when the declared
 * uncompressed sizes add up to more than `maxBytes` (checked before anything is inflated).
 */
export function readZip(bytes: Uint8Array, what = 'archive', opts: ReadZipOptions = {}): ZipEntry[] {
  const maxBytes = opts.maxBytes ?? ZIP_DEFAULT_MAX_BYTES;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.byteLength;
  if (len < 22) throw unreadable(what, `only ${len} bytes`);
  let eocd = -1;
  for (let p = len - 22; p >= Math.max(0, len - 22 - U16_MAX); p--) {
    if (view.getUint32(p, true) === SIG_EOCD) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw unreadable(what, 'no end-of-central-directory record');
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOff = view.getUint32(eocd + 16, true);
  if ((count === U16_MAX || cdSize === U32_MAX || cdOff === U32_MAX) && eocd >= 20 && view.getUint32(eocd - 20, true) === SIG_ZIP64_LOCATOR) {
    const z = u64(view, eocd - 20 + 8, what);
    if (z + 56 > len || view.getUint32(z, true) !== SIG_ZIP64_EOCD) throw unreadable(what, 'bad zip64 end-of-central-directory record');
    count = u64(view, z + 32, what);
    cdSize = u64(view, z + 40, what);
    cdOff = u64(view, z + 48, what);
  }
  if (cdOff + cdSize > len) throw unreadable(what, 'central directory beyond end of file');
  // Each central directory entry takes at least 46 bytes: a count beyond that is a lie.
  if (count > cdSize / 46) throw unreadable(what, `central directory of ${cdSize} bytes cannot hold ${count} entries`);
  const found: { name: string; method: number; crc: number; csize: number; usize: number; start: number }[] = [];
  let declared = 0;
  let p = cdOff;
  for (let e = 0; e < count; e++) {
    if (p + 46 > len || view.getUint32(p, true) !== SIG_CENTRAL) throw unreadable(what, `bad central directory entry ${e}`);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let csize = view.getUint32(p + 20, true);
    let usize = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let lho = view.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > len) throw unreadable(what, `central directory entry ${e} runs past the end`);
    const name = Buffer.from(bytes.buffer, bytes.byteOffset + p + 46, nameLen).toString('utf8');
    // zip64 extended information: present fields are those whose 32-bit value is saturated.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = view.getUint16(x, true);
      const sz = view.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        const fieldEnd = Math.min(xEnd, x + 4 + sz);
        const next = (): number => {
          if (q + 8 > fieldEnd) throw unreadable(what, `entry ${name}: zip64 field too short`);
          const v = u64(view, q, what);
          q += 8;
          return v;
        };
        if (usize === U32_MAX) usize = next();
        if (csize === U32_MAX) csize = next();
        if (lho === U32_MAX) lho = next();
      }
      x += 4 + sz;
    }
    p = xEnd + commentLen;
    if ((flags & 1) !== 0) throw unreadable(what, `entry ${name} is encrypted`);
    if (method !== 0 && method !== 8) throw unreadable(what, `entry ${name} uses compression method ${method} (only stored and deflate are supported)`);
    if (lho + 30 > len || view.getUint32(lho, true) !== SIG_LOCAL) throw unreadable(what, `bad local header for ${name}`);
    const start = lho + 30 + view.getUint16(lho + 26, true) + view.getUint16(lho + 28, true);
    if (start + csize > len) throw unreadable(what, `entry ${name} is truncated`);
    if (method === 0 && usize !== csize) throw unreadable(what, `stored entry ${name} declares ${usize} bytes but holds ${csize}`);
    if (method === 8 && usize > Math.max(64, csize * DEFLATE_MAX_RATIO))
      throw unreadable(what, `entry ${name} declares ${usize} bytes from ${csize} compressed, more than deflate can produce`);
    declared += usize;
    if (declared > maxBytes)
      throw new GramfleetError('INPUT_TOO_LARGE', `${what}: the archive's entries hold ${declared}+ bytes uncompressed, more than the ${maxBytes} allowed`, {
        field: 'maxBytes',
        path: what,
        bound: maxBytes,
        value: declared,
      });
    found.push({ name, method, crc, csize, usize, start });
  }
  const out: ZipEntry[] = [];
  for (const f of found) {
    const raw = bytes.subarray(f.start, f.start + f.csize);
    let data: Uint8Array;
    if (f.method === 0) data = raw.slice();
    else {
      try {
        // Never more than the declared size (+1 so that a longer stream is seen as an error).
        const b = inflateRawSync(raw, { maxOutputLength: Math.max(1, f.usize + 1) });
        data = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (err) {
        throw unreadable(what, `entry ${f.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (data.byteLength !== f.usize) throw unreadable(what, `entry ${f.name} has ${data.byteLength}+ bytes, expected ${f.usize}`);
    if (crc32(data) >>> 0 !== f.crc) throw unreadable(what, `entry ${f.name} fails its CRC-32 check`);
    out.push({ name: f.name, data });
  }
  return out;
}

function partsOf(data: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  return data instanceof Uint8Array ? [data] : data;
}

/** CRC-32 of the parts one after another. Empty parts are skipped: node's crc32 of an empty view returns 0, dropping the running value. */
function crcOf(parts: readonly Uint8Array[]): number {
  return parts.reduce((c, p) => (p.byteLength === 0 ? c : crc32(p, c)), 0) >>> 0;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** The local file header of an entry; zip64 (sizes in the extra field) when `zip64`. */
function localHeader(name: Buffer, method: number, crc: number, csize: number, usize: number, zip64: boolean): Buffer {
  const lh = Buffer.alloc(30 + name.length + (zip64 ? 20 : 0));
  lh.writeUInt32LE(SIG_LOCAL, 0);
  lh.writeUInt16LE(zip64 ? 45 : 20, 4);
  lh.writeUInt16LE(0x0800, 6); // UTF-8 names
  lh.writeUInt16LE(method, 8);
  lh.writeUInt16LE(0, 10);
  lh.writeUInt16LE(DOS_DATE, 12);
  lh.writeUInt32LE(crc, 14);
  lh.writeUInt32LE(zip64 ? U32_MAX : csize, 18);
  lh.writeUInt32LE(zip64 ? U32_MAX : usize, 22);
  lh.writeUInt16LE(name.length, 26);
  lh.writeUInt16LE(zip64 ? 20 : 0, 28);
  name.copy(lh, 30);
  if (zip64) {
    const x = 30 + name.length;
    lh.writeUInt16LE(0x0001, x);
    lh.writeUInt16LE(16, x + 2);
    lh.writeBigUInt64LE(BigInt(usize), x + 4);
    lh.writeBigUInt64LE(BigInt(csize), x + 12);
  }
  return lh;
}

/** The central directory header of an entry: each of usize, csize, offset at or past `from` goes in the zip64 extra field. */
function centralHeader(name: Buffer, method: number, crc: number, csize: number, usize: number, offset: number, from: number): Buffer {
  const big = [usize, csize, offset].filter((v) => v >= from);
  const extra = big.length === 0 ? 0 : 4 + 8 * big.length;
  const ch = Buffer.alloc(46 + name.length + extra);
  ch.writeUInt32LE(SIG_CENTRAL, 0);
  ch.writeUInt16LE(big.length > 0 ? 45 : 20, 4);
  ch.writeUInt16LE(big.length > 0 ? 45 : 20, 6);
  ch.writeUInt16LE(0x0800, 8);
  ch.writeUInt16LE(method, 10);
  ch.writeUInt16LE(0, 12);
  ch.writeUInt16LE(DOS_DATE, 14);
  ch.writeUInt32LE(crc, 16);
  ch.writeUInt32LE(csize >= from ? U32_MAX : csize, 20);
  ch.writeUInt32LE(usize >= from ? U32_MAX : usize, 24);
  ch.writeUInt16LE(name.length, 28);
  ch.writeUInt16LE(extra, 30);
  ch.writeUInt32LE(offset >= from ? U32_MAX : offset, 42);
  name.copy(ch, 46);
  if (extra > 0) {
    let x = 46 + name.length;
    ch.writeUInt16LE(0x0001, x);
    ch.writeUInt16LE(extra - 4, x + 2);
    x += 4;
    for (const v of big) {
      ch.writeBigUInt64LE(BigInt(v), x);
      x += 8;
    }
  }
  return ch;
}

/** The end of the archive: zip64 end record and locator when needed, then the end-of-central-directory record. */
function endRecords(count: number, cdSize: number, cdOff: number, from: number): Buffer {
  const zip64 = count >= U16_MAX || cdSize >= from || cdOff >= from;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(SIG_EOCD, 0);
  end.writeUInt16LE(zip64 ? U16_MAX : count, 8);
  end.writeUInt16LE(zip64 ? U16_MAX : count, 10);
  end.writeUInt32LE(zip64 ? U32_MAX : cdSize, 12);
  end.writeUInt32LE(zip64 ? U32_MAX : cdOff, 16);
  if (!zip64) return end;
  const z = Buffer.alloc(56 + 20);
  z.writeUInt32LE(SIG_ZIP64_EOCD, 0);
  z.writeBigUInt64LE(44n, 4);
  z.writeUInt16LE(45, 12);
  z.writeUInt16LE(45, 14);
  z.writeBigUInt64LE(BigInt(count), 24);
  z.writeBigUInt64LE(BigInt(count), 32);
  z.writeBigUInt64LE(BigInt(cdSize), 40);
  z.writeBigUInt64LE(BigInt(cdOff), 48);
  z.writeUInt32LE(SIG_ZIP64_LOCATOR, 56);
  z.writeBigUInt64LE(BigInt(cdOff + cdSize), 64);
  z.writeUInt32LE(1, 72);
  return Buffer.concat([z, end]);
}

function zip64From(opts: WriteZipOptions): number {
  const from = opts.zip64From ?? ZIP64_FROM;
  if (!Number.isSafeInteger(from) || from < 0 || from > ZIP64_FROM)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `zip64From must be an integer in [0, ${ZIP64_FROM}], got ${from}`, {
      field: 'zip64From',
      bound: ZIP64_FROM,
      value: from,
    });
  return from;
}

/**
 * Writes a ZIP archive of the entries in memory, stored or deflated. Entries, sizes and
 * offsets past 4 GiB and more than 65,534 entries are written with zip64 records (an archive
 * that large does not fit one Node buffer: write it with {@link writeZipFile}). Equal inputs
 * give equal bytes.
 */
export function writeZip(entries: readonly ZipSource[], opts: WriteZipOptions = {}): Uint8Array {
  const from = zip64From(opts);
  const out: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const parts = partsOf(e.data);
    const crc = crcOf(parts);
    const usize = parts.reduce((s, p) => s + p.byteLength, 0);
    const whole = parts.length === 1 && parts[0] !== undefined ? asBuffer(parts[0]) : Buffer.concat(parts.map(asBuffer));
    const body = opts.compress === true ? deflateRawSync(whole) : whole;
    const method = opts.compress === true ? 8 : 0;
    const lh = localHeader(name, method, crc, body.byteLength, usize, usize >= from || body.byteLength >= from);
    out.push(lh, body);
    centrals.push(centralHeader(name, method, crc, body.byteLength, usize, offset, from));
    offset += lh.byteLength + body.byteLength;
  }
  const cdSize = centrals.reduce((s, b) => s + b.byteLength, 0);
  const all = Buffer.concat([...out, ...centrals, endRecords(entries.length, cdSize, offset, from)]);
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

/** Most bytes handed to one write() call or to the deflate stream at once. */
const WRITE_CHUNK = 64 * 2 ** 20;

function* chunks(parts: readonly Uint8Array[]): Generator<Uint8Array> {
  for (const p of parts) for (let i = 0; i < p.byteLength; i += WRITE_CHUNK) yield p.subarray(i, Math.min(p.byteLength, i + WRITE_CHUNK));
}

/** Deflates the parts with a streaming deflater (no joined copy of the input); returns the compressed pieces. */
async function deflateParts(parts: readonly Uint8Array[]): Promise<Buffer[]> {
  const z = createDeflateRaw();
  const outChunks: Buffer[] = [];
  z.on('data', (b: Buffer) => outChunks.push(b));
  const done = new Promise<void>((resolve, reject) => {
    z.on('end', resolve);
    z.on('error', reject);
  });
  for (const c of chunks(parts)) {
    if (!z.write(c)) await new Promise<void>((resolve) => z.once('drain', resolve));
  }
  z.end();
  await done;
  return outChunks;
}

/**
 * Writes a ZIP archive of the entries to `path`, part by part (an entry's parts are never
 * joined, so an array is written from its own memory), stored or deflated; zip64 records for
 * entries, sizes and offsets past 4 GiB and more than 65,534 entries, so archives of any size
 * are written. Gives the same bytes as {@link writeZip}. A write error is `INPUT_FILE_UNREADABLE`
 * naming the path and the errno.
 */
export async function writeZipFile(path: string, entries: readonly ZipSource[], opts: WriteZipOptions = {}): Promise<void> {
  const from = zip64From(opts);
  let fh;
  try {
    fh = await open(path, 'w');
  } catch (err) {
    throw writeFailed(path, err);
  }
  try {
    const centrals: Buffer[] = [];
    let offset = 0;
    const put = async (b: Uint8Array): Promise<void> => {
      let done = 0;
      while (done < b.byteLength) {
        const { bytesWritten } = await fh.write(b, done, b.byteLength - done);
        done += bytesWritten;
      }
      offset += b.byteLength;
    };
    for (const e of entries) {
      const name = Buffer.from(e.name, 'utf8');
      const parts = partsOf(e.data);
      const crc = crcOf(parts);
      const usize = parts.reduce((s, p) => s + p.byteLength, 0);
      const method = opts.compress === true ? 8 : 0;
      const body = opts.compress === true ? await deflateParts(parts) : [...chunks(parts)];
      const csize = body.reduce((s, p) => s + p.byteLength, 0);
      const start = offset;
      // Same choice as writeZip: zip64 when either size reaches the bound (both are known here).
      await put(localHeader(name, method, crc, csize, usize, usize >= from || csize >= from));
      for (const b of body) await put(b);
      centrals.push(centralHeader(name, method, crc, csize, usize, start, from));
    }
    const cdOff = offset;
    const cdSize = centrals.reduce((s, b) => s + b.byteLength, 0);
    for (const c of centrals) await put(c);
    await put(endRecords(entries.length, cdSize, cdOff, from));
  } catch (err) {
    throw writeFailed(path, err);
  } finally {
    await fh.close();
  }
}

function writeFailed(path: string, err: unknown): GramfleetError {
  if (err instanceof GramfleetError) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'EIO';
  return new GramfleetError('INPUT_FILE_UNREADABLE', `${path}: cannot write the archive (${code})`, { path, errno: code });
}
