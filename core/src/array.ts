/**
 * In-memory arrays, references to stored arrays, and the `.npy` byte format in which
 * arrays are stored (so that a user can `np.load` any result).
 */
import { GramfleetError } from './errors';

/** Element types that cross the wire. */
export type DType = 'f64' | 'f32' | 'i32' | 'u32' | 'u8';

/** The typed array behind each dtype. */
export interface TypedArrayOf {
  f64: Float64Array;
  f32: Float32Array;
  i32: Int32Array;
  u32: Uint32Array;
  u8: Uint8Array;
}

/** Any typed array gramfleet stores. */
export type AnyTypedArray = TypedArrayOf[DType];

/** A dense row-major (C order) array held in memory. */
export interface NdArray<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayOf[D];
}

/**
 * A reference to an array, addressed by the digest of its `.npy` bytes. Workflows carry these,
 * never the bytes. The JetStream object store (`bucket`) is the durable tier; faster tiers (a
 * host-local store in shared memory, peers' host stores) may hold the same bytes, and every
 * read is checked against `digest`.
 */
export interface ArrayRef {
  readonly bucket: string;
  /**
   * The content digest of the stored `.npy` bytes (also the object name). Arrays of at most
   * {@link TREE_LEAF_BYTES} bytes: the lower-case hex sha256 of the bytes. Larger ones: a tree
   * digest, {@link TREE_DIGEST_PREFIX} followed by hex, computed over the sha256 of each
   * {@link TREE_LEAF_BYTES} leaf (so leaves are hashed in parallel and each chunk is checked as it
   * arrives). References written before tree digests (plain sha256 of a large array) stay valid:
   * a digest's form says how it is checked.
   */
  readonly digest: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Size of the stored `.npy` bytes. */
  readonly bytes: number;
  /**
   * The array is `base` with some rows replaced, and only those rows are stored: a reader that
   * holds `base` rebuilds it (and checks `digest`); one that does not fails with
   * STORE_PATCH_BASE_MISSING, and the sender sends the array whole. The sender's coefficients
   * batch after batch (EigenPro: ~3.7k of 60k rows change) travel this way.
   */
  readonly patch?: ArrayPatch;
  /**
   * The stored `.npy` bytes themselves, base64, for small arrays (at most {@link INLINE_ARRAY_MAX_BYTES}):
   * they travel inside the task or result message that carries the reference, so reading them
   * costs no round trip. `digest` still names (and checks) them; such an array need not be in the
   * bucket at all.
   */
  readonly inline?: string;
}

/** The largest `.npy` (header included) that an {@link ArrayRef} carries inline: 64 KiB. */
export const INLINE_ARRAY_MAX_BYTES = 64 * 1024;

/** Prefix of a tree digest (see {@link ArrayRef.digest}); a plain sha256 digest is 64 hex digits. */
export const TREE_DIGEST_PREFIX = 't1-';

/** Leaf size of a tree digest: 4 MiB. */
export const TREE_LEAF_BYTES = 4 * 1024 * 1024;

/** Whether a digest is a tree digest (otherwise it is the plain sha256 of the bytes). */
export function isTreeDigest(digest: string): boolean {
  return digest.startsWith(TREE_DIGEST_PREFIX);
}

/** Number of tree-digest leaves of `bytes` bytes (at least one). */
export function treeLeafCount(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / TREE_LEAF_BYTES));
}

/** How a patched {@link ArrayRef} is rebuilt: see {@link ArrayRef.patch}. */
export interface ArrayPatch {
  /** Digest of the array the rows replace rows of (same dtype f64, same shape). */
  readonly base: string;
  /** The stored rows: f64, k × (1 + columns), each row's index in its first column, ascending. */
  readonly rows: ArrayRef;
}

/** A sparse matrix in CSR layout, as three arrays. */
export interface CsrArrays {
  readonly shape: readonly [number, number];
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly data: Float64Array;
}

/** CSR matrix whose arrays live in the object store. */
export interface CsrRef {
  readonly shape: readonly [number, number];
  readonly indptr: ArrayRef;
  readonly indices: ArrayRef;
  readonly data: ArrayRef;
}

const DESCR: Record<DType, string> = { f64: '<f8', f32: '<f4', i32: '<i4', u32: '<u4', u8: '|u1' };
const FROM_DESCR: Record<string, DType> = { '<f8': 'f64', '<f4': 'f32', '<i4': 'i32', '<u4': 'u32', '|u1': 'u8', '<u1': 'u8' };

/** Bytes per element. */
export function dtypeSize(d: DType): number {
  return d === 'f64' ? 8 : d === 'u8' ? 1 : 4;
}

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Allocates a zeroed typed array for a dtype. */
export function allocTyped<D extends DType>(dtype: D, n: number): TypedArrayOf[D] {
  switch (dtype) {
    case 'f64':
      return new Float64Array(n) as TypedArrayOf[D];
    case 'f32':
      return new Float32Array(n) as TypedArrayOf[D];
    case 'i32':
      return new Int32Array(n) as TypedArrayOf[D];
    case 'u32':
      return new Uint32Array(n) as TypedArrayOf[D];
    default:
      return new Uint8Array(n) as TypedArrayOf[D];
  }
}

/** Builds an {@link NdArray}, checking that data length matches the shape. */
export function ndarray<D extends DType>(dtype: D, shape: readonly number[], data: TypedArrayOf[D]): NdArray<D> {
  if (shapeSize(shape) !== data.length) {
    throw new GramfleetError('INPUT_SHAPE_MISMATCH', `array of shape [${shape.join(',')}] needs ${shapeSize(shape)} elements, got ${data.length}`, {
      shape: [...shape],
      length: data.length,
    });
  }
  return { dtype, shape: [...shape], data };
}

/**
 * The `.npy` version 1.0 header of an array (magic, version, header length, the padded header
 * dictionary): its length is a multiple of 64, so the data that follows stays aligned.
 */
export function npyHeader(dtype: DType, shape: readonly number[]): Uint8Array {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const preamble = 10;
  const total = preamble + header.length + 1;
  header = header + ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const hlen = header.length;
  const out = new Uint8Array(preamble + hlen);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, hlen & 0xff, (hlen >> 8) & 0xff], 0);
  for (let i = 0; i < hlen; i++) out[preamble + i] = header.charCodeAt(i);
  return out;
}

/** The data bytes of an array (a view, no copy). */
export function dataBytes(a: NdArray): Uint8Array {
  return new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
}

/** Encodes an array as `.npy` version 1.0 bytes (little-endian, C order). */
export function encodeNpy(a: NdArray): Uint8Array {
  const head = npyHeader(a.dtype, a.shape);
  const body = dataBytes(a);
  const out = new Uint8Array(head.byteLength + body.byteLength);
  out.set(head, 0);
  out.set(body, head.byteLength);
  return out;
}

/** The parsed header of a `.npy` file: {@link parseNpyHeader}. */
export interface NpyHeader {
  /** The dtype descriptor as written (`'<f8'`, `'>i2'`, `'|S3'`, …). */
  readonly descr: string;
  readonly shape: number[];
  /** Elements (the product of `shape`, a safe integer). */
  readonly n: number;
  /** Byte offset of the data. */
  readonly offset: number;
  /**
   * The data is stored in Fortran (column-major) order, as numpy writes an F-contiguous array
   * (`np.save` of `a.T`, `np.asfortranarray`). {@link decodeNpy} returns it in C order.
   */
  readonly fortranOrder: boolean;
}

/** Longest `.npy` header accepted (numpy itself writes a few hundred bytes; it refuses > 10,000 by default). */
export const NPY_MAX_HEADER_BYTES = 1 << 20;

/**
 * Parses the preamble and header dictionary of `.npy` bytes (versions 1.0, 2.0 and 3.0)
 * without trusting any length in it: the declared header length must lie inside `bytes`
 * (and under {@link NPY_MAX_HEADER_BYTES}), every dimension is a non-negative integer and
 * their product a safe integer. Throws `INPUT_FILE_UNREADABLE` naming `what`; nothing but
 * the header's own bytes is read or allocated.
 */
export function parseNpyHeader(bytes: Uint8Array, what = 'array'): NpyHeader {
  const bad = (why: string): GramfleetError => new GramfleetError('INPUT_FILE_UNREADABLE', `${what}: not a readable .npy (${why})`, { what, why });
  if (bytes.length < 10 || bytes[0] !== 0x93 || bytes[1] !== 0x4e || bytes[2] !== 0x55 || bytes[3] !== 0x4d || bytes[4] !== 0x50 || bytes[5] !== 0x59)
    throw bad('bad magic');
  const major = bytes[6] ?? 0;
  let hlen: number;
  let start: number;
  if (major === 1) {
    hlen = (bytes[8] ?? 0) | ((bytes[9] ?? 0) << 8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad('truncated preamble');
    hlen = ((bytes[8] ?? 0) | ((bytes[9] ?? 0) << 8) | ((bytes[10] ?? 0) << 16) | ((bytes[11] ?? 0) << 24)) >>> 0;
    start = 12;
  } else throw bad(`version ${major}`);
  if (hlen > NPY_MAX_HEADER_BYTES) throw bad(`header of ${hlen} bytes, at most ${NPY_MAX_HEADER_BYTES}`);
  if (hlen > bytes.length - start) throw bad(`header of ${hlen} bytes but only ${bytes.length - start} follow`);
  const header = latin1(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeM = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeM === undefined) throw bad('bad header');
  const shape: number[] = [];
  for (const t of shapeM.split(',')) {
    const s = t.trim();
    if (s.length === 0) continue;
    if (!/^[0-9]{1,16}L?$/.test(s)) throw bad('bad shape');
    shape.push(Number(s.replace('L', '')));
  }
  const n = shapeSize(shape);
  if (!Number.isSafeInteger(n)) throw bad(`shape (${shape.join(', ')}) has more than 2^53 elements`);
  return { descr, shape, n, offset: start + hlen, fortranOrder: fortran === 'True' };
}

/** Bytes as a latin-1 string, in chunks (no per-byte concatenation, no argument-count limit). */
function latin1(b: Uint8Array): string {
  let s = '';
  // `apply` over the typed array, not a spread: no iterator per byte (a 128-byte header in ~2 µs instead of ~16).
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
  return s;
}

/**
 * Copies `src`, whose elements lie in Fortran (column-major) order for `shape`, into `out` in
 * C (row-major) order. `out` must not be `src`; both hold `shapeSize(shape)` elements.
 */
export function fortranToC<T extends { [i: number]: unknown; readonly length: number }>(src: T, shape: readonly number[], out: T): T {
  const n = shapeSize(shape);
  const nd = shape.length;
  const fs: number[] = [];
  let stride = 1;
  for (let k = 0; k < nd; k++) {
    fs.push(stride);
    stride *= shape[k] ?? 1;
  }
  const idx = new Array<number>(nd).fill(0);
  let f = 0;
  for (let c = 0; c < n; c++) {
    out[c] = src[f];
    for (let k = nd - 1; k >= 0; k--) {
      const dim = shape[k] ?? 1;
      const st = fs[k] ?? 1;
      idx[k] = (idx[k] ?? 0) + 1;
      f += st;
      if ((idx[k] ?? 0) < dim) break;
      f -= st * dim;
      idx[k] = 0;
    }
  }
  return out;
}

/** A numeric `.npy` descriptor taken apart: kind (`b` bool, `i`, `u`, `f`), byte width and byte order. */
interface NumericDescr {
  readonly kind: 'b' | 'i' | 'u' | 'f';
  readonly width: number;
  readonly little: boolean;
}

/** Integers beyond ±2^53 are not exact in float64, the widest gramfleet dtype. */
const MAX_EXACT = 2 ** 53;

function numericDescr(descr: string): NumericDescr | undefined {
  const m = /^([<>|=])([biuf])(1|2|4|8)$/.exec(descr);
  if (m === null) return undefined;
  const kind = m[2] as NumericDescr['kind'];
  const width = Number(m[3]);
  if (kind === 'b' && width !== 1) return undefined;
  if (kind === 'f' && width === 1) return undefined;
  return { kind, width, little: m[1] !== '>' };
}

/** IEEE 754 binary16 (numpy float16) to a number; exact. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * Decodes `.npy` bytes as numpy means them: every bool, int (8 to 64 bits), uint (8 to 64) and
 * float (16, 32, 64) dtype, either byte order, C or Fortran order (returned in C order).
 * Native little-endian `<f8 <f4 <i4 <u4 |u1` come back as they are; the others are widened to
 * the gramfleet dtype that holds every value exactly: bool → u8 (0/1); int8/int16 → i32;
 * uint16 → u32; float16 → f32; int64/uint64 → i32 when every value fits, else u32 (uint64),
 * else f64 when every value lies within ±2^53, else `INPUT_OUT_OF_RANGE` naming the element
 * and the bound. Long double, complex, string (see the orchestrator's `decodeNpyValue`),
 * structured and object arrays are `INPUT_FILE_UNREADABLE` naming the dtype. The data is
 * copied unless `view` is set and it is native, C order and aligned in `bytes`: then the
 * array is a view of `bytes` (which must then not be a pooled Node Buffer, nor be written
 * afterwards).
 */
export function decodeNpy(bytes: Uint8Array, what = 'array', o: { readonly view?: boolean } = {}): NdArray {
  const bad = (why: string): GramfleetError => new GramfleetError('INPUT_FILE_UNREADABLE', `${what}: not a readable .npy (${why})`, { what, why });
  const { descr, shape, n, offset: off, fortranOrder } = parseNpyHeader(bytes, what);
  // Own entries only: a descriptor such as 'constructor' must not find Object's.
  const dt = Object.prototype.hasOwnProperty.call(FROM_DESCR, descr) ? FROM_DESCR[descr] : undefined;
  if (dt !== undefined) {
    const need = n * dtypeSize(dt);
    if (bytes.length - off < need) throw bad('truncated data');
    const size = dtypeSize(dt);
    if (o.view === true && !fortranOrder && (bytes.byteOffset + off) % size === 0) {
      const b = bytes.buffer,
        at = bytes.byteOffset + off;
      const data =
        dt === 'f64'
          ? new Float64Array(b, at, n)
          : dt === 'f32'
            ? new Float32Array(b, at, n)
            : dt === 'i32'
              ? new Int32Array(b, at, n)
              : dt === 'u32'
                ? new Uint32Array(b, at, n)
                : new Uint8Array(b, at, n);
      return { dtype: dt, shape, data };
    }
    // An explicit copy: `bytes` may be a Node Buffer, whose slice() is a view into a pool.
    const copy = new Uint8Array(need);
    copy.set(bytes.subarray(off, off + need));
    const data =
      dt === 'f64'
        ? new Float64Array(copy.buffer)
        : dt === 'f32'
          ? new Float32Array(copy.buffer)
          : dt === 'i32'
            ? new Int32Array(copy.buffer)
            : dt === 'u32'
              ? new Uint32Array(copy.buffer)
              : copy;
    const a: NdArray = { dtype: dt, shape, data };
    return fortranOrder ? inCOrder(a) : a;
  }
  const d = numericDescr(descr);
  if (d === undefined) {
    const hint = /^[<>|=]?(f(12|16)|g)$/.test(descr)
      ? ' (long double; save it as float64: a.astype(np.float64))'
      : /^[<>|=]?c\d+$/.test(descr)
        ? ' (complex; save the real and imaginary parts as two float64 arrays)'
        : '';
    throw bad(`dtype ${descr} is not supported${hint}`);
  }
  if (bytes.length - off < n * d.width) throw bad('truncated data');
  const view = new DataView(bytes.buffer, bytes.byteOffset + off, n * d.width);
  const a = convert(view, n, d, what);
  return fortranOrder ? inCOrder({ ...a, shape }) : { ...a, shape };
}

/** The same array in C order, from data in Fortran order. */
function inCOrder(a: NdArray): NdArray {
  if (a.shape.length < 2) return a;
  const out = allocTyped(a.dtype, a.data.length);
  return { dtype: a.dtype, shape: a.shape, data: fortranToC(a.data, a.shape, out) };
}

function convert(view: DataView, n: number, d: NumericDescr, what: string): Omit<NdArray, 'shape'> {
  const le = d.little;
  if (d.kind === 'b' || (d.kind === 'u' && d.width === 1)) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = view.getUint8(i);
      out[i] = d.kind === 'b' ? (v === 0 ? 0 : 1) : v;
    }
    return { dtype: 'u8', data: out };
  }
  if (d.kind === 'f') {
    if (d.width === 8) {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, le);
      return { dtype: 'f64', data: out };
    }
    const out = new Float32Array(n);
    if (d.width === 4) for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, le);
    else for (let i = 0; i < n; i++) out[i] = halfToNumber(view.getUint16(i * 2, le));
    return { dtype: 'f32', data: out };
  }
  if (d.width < 8) {
    if (d.kind === 'u' && d.width >= 2) {
      const out = new Uint32Array(n);
      if (d.width === 2) for (let i = 0; i < n; i++) out[i] = view.getUint16(i * 2, le);
      else for (let i = 0; i < n; i++) out[i] = view.getUint32(i * 4, le);
      return { dtype: 'u32', data: out };
    }
    const out = new Int32Array(n);
    if (d.width === 1) for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
    else if (d.width === 2) for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, le);
    else for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, le);
    return { dtype: 'i32', data: out };
  }
  // 64-bit integers: the narrowest gramfleet dtype that holds every value exactly.
  const signed = d.kind === 'i';
  let lo = 0n;
  let hi = 0n;
  let worst = -1;
  for (let i = 0; i < n; i++) {
    const v = signed ? view.getBigInt64(i * 8, le) : view.getBigUint64(i * 8, le);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    if (worst < 0 && (v > BigInt(MAX_EXACT) || v < -BigInt(MAX_EXACT))) worst = i;
  }
  const read = (i: number): number => Number(signed ? view.getBigInt64(i * 8, le) : view.getBigUint64(i * 8, le));
  if (worst >= 0) {
    const v = signed ? view.getBigInt64(worst * 8, le) : view.getBigUint64(worst * 8, le);
    throw new GramfleetError(
      'INPUT_OUT_OF_RANGE',
      `${what}: ${signed ? 'int64' : 'uint64'} element ${worst} is ${v}, beyond ±2^53 (the largest integers float64, the widest gramfleet dtype, holds exactly)`,
      { field: what, bound: MAX_EXACT, value: v.toString(), index: worst },
    );
  }
  if (lo >= -2147483648n && hi <= 2147483647n) {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = read(i);
    return { dtype: 'i32', data: out };
  }
  if (lo >= 0n && hi <= 4294967295n) {
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = read(i);
    return { dtype: 'u32', data: out };
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = read(i);
  return { dtype: 'f64', data: out };
}
