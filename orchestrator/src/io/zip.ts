/**
 * A minimal ZIP reader and writer, enough for `.npz` archives: stored and deflated
 * entries, zip64 on read (numpy writes zip64 local headers), CRC-32 checked on read.
 * Writes are deterministic (fixed 1980-01-01 timestamps), so equal inputs give equal bytes.
 *
 * The reader trusts nothing in the archive: the uncompressed sizes the central directory
 * declares are added up and checked against `maxBytes` before any entry is inflated, and
 * each entry is inflated with `maxOutputLength` set to its declared size, so an archive that
 * lies about its sizes (a zip bomb) stops one byte past its claim instead of filling memory.
 */
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { GramfleetError } from '@gramfleet/core';

/** One file inside a ZIP archive. */
export interface ZipEntry {
  /** Path inside the archive. */
  readonly name: string;
  /** Uncompressed bytes. */
  readonly data: Uint8Array;
}

/** Options of {@link writeZip}. */
export interface WriteZipOptions {
  /**
   * Deflate the entries (as `numpy.savez_compressed`) instead of storing them (as `numpy.savez`).
   * @default false
   */
  readonly compress?: boolean;
}

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

/**
 * Writes a ZIP archive of the entries, stored or deflated. Archives are limited to
 * 4 GiB and 65,535 entries (no zip64 on write); beyond that throws `INPUT_TOO_LARGE`.
 */
export function writeZip(entries: readonly ZipEntry[], opts: WriteZipOptions = {}): Uint8Array {
  if (entries.length >= U16_MAX)
    throw new GramfleetError('INPUT_TOO_LARGE', `zip entries must be fewer than ${U16_MAX}, got ${entries.length}`, {
      field: 'entries',
      bound: U16_MAX,
      value: entries.length,
    });
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data) >>> 0;
    const body = opts.compress === true ? deflateRawSync(e.data) : Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    const method = opts.compress === true ? 8 : 0;
    if (e.data.byteLength >= U32_MAX || body.byteLength >= U32_MAX || offset >= U32_MAX) {
      throw new GramfleetError('INPUT_TOO_LARGE', `zip archive must stay below 4 GiB (no zip64 on write); entry ${e.name} would not fit`, {
        field: 'entries',
        bound: U32_MAX,
        value: offset,
      });
    }
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(SIG_LOCAL, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0x0800, 6); // UTF-8 names
    lh.writeUInt16LE(method, 8);
    lh.writeUInt16LE(0, 10);
    lh.writeUInt16LE(DOS_DATE, 12);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.byteLength, 18);
    lh.writeUInt32LE(e.data.byteLength, 22);
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(0, 28);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(SIG_CENTRAL, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0x0800, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt16LE(0, 12);
    ch.writeUInt16LE(DOS_DATE, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.byteLength, 20);
    ch.writeUInt32LE(e.data.byteLength, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, body);
    centrals.push(ch, name);
    offset += 30 + name.length + body.byteLength;
  }
  const cdSize = centrals.reduce((s, b) => s + b.byteLength, 0);
  if (offset + cdSize >= U32_MAX)
    throw new GramfleetError('INPUT_TOO_LARGE', 'zip archive must stay below 4 GiB (no zip64 on write)', {
      field: 'entries',
      bound: U32_MAX,
      value: offset + cdSize,
    });
  const end = Buffer.alloc(22);
  end.writeUInt32LE(SIG_EOCD, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(offset, 16);
  const all = Buffer.concat([...locals, ...centrals, end]);
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}
