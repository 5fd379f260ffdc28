/**
 * How a job's result travels over the jobs HTTP API: as JSON, with every array in it replaced by
 * a reference to an API object that the client downloads (`GET /v1/objects/{id}`).
 *
 * Semantics: the result is walked once; an {@link ArrayRef} (read from the cluster's array
 * store) and an in-memory typed array become a `.npy` object; a {@link CsrRef} (GRF's Φ) becomes
 * a `.npz` that `scipy.sparse.load_npz` reads. Each is replaced by
 * `{ "$object": id, "format": "npy"|"npz", "dtype"?, "shape", "sparse"? }` ({@link ObjectMarker}).
 * Objects are content-addressed, so asking for the same result again writes nothing new.
 * Everything else (numbers, strings, nested objects, arrays of them) is kept as it is.
 */
import type { ArrayRef, CsrArrays, CsrRef, DType, NdArray } from '@gramfleet/core';
import { encodeNpy } from '@gramfleet/core';
import { encodeCsrNpz } from '../io/npz';
import type { ObjectStore } from './objects';

/** What replaces an array in a result. */
export interface ObjectMarker {
  readonly $object: string;
  readonly format: 'npy' | 'npz';
  readonly shape: readonly number[];
  readonly dtype?: DType;
  /** `csr` for a scipy CSR matrix. */
  readonly sparse?: 'csr';
}

/** Reads arrays out of the cluster's store. */
export interface ResultArrays {
  getArray(ref: ArrayRef): Promise<NdArray>;
  getCsr(ref: CsrRef): Promise<CsrArrays>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isArrayRef(v: unknown): v is ArrayRef {
  return isRecord(v) && typeof v['digest'] === 'string' && typeof v['bucket'] === 'string' && typeof v['dtype'] === 'string' && Array.isArray(v['shape']);
}

function isCsrRef(v: unknown): v is CsrRef {
  return isRecord(v) && Array.isArray(v['shape']) && isArrayRef(v['indptr']) && isArrayRef(v['indices']) && isArrayRef(v['data']);
}

const TYPED: readonly [new (...a: never[]) => ArrayBufferView, DType][] = [
  [Float64Array, 'f64'],
  [Float32Array, 'f32'],
  [Int32Array, 'i32'],
  [Uint32Array, 'u32'],
  [Uint8Array, 'u8'],
];

/** Replaces every array in `v` by an {@link ObjectMarker}, storing the arrays in `objects`. */
export async function exportResult(v: unknown, arrays: ResultArrays, objects: ObjectStore, made: string[] = []): Promise<unknown> {
  if (ArrayBuffer.isView(v)) {
    const t = TYPED.find(([C]) => v instanceof C);
    if (t === undefined) return Array.from(v as unknown as ArrayLike<number>);
    const a = { dtype: t[1], shape: [(v as unknown as ArrayLike<number>).length], data: v } as unknown as NdArray;
    const o = await objects.putBytes(encodeNpy(a));
    return { $object: o.id, format: 'npy', dtype: a.dtype, shape: a.shape } satisfies ObjectMarker;
  }
  if (Array.isArray(v)) return Promise.all(v.map((x) => exportResult(x, arrays, objects, made)));
  if (!isRecord(v)) return v;
  if (isCsrRef(v)) {
    const csr = await arrays.getCsr(v);
    const o = await objects.putBytes(encodeCsrNpz(csr));
    made.push(o.id);
    return { $object: o.id, format: 'npz', sparse: 'csr', shape: [csr.shape[0], csr.shape[1]] } satisfies ObjectMarker;
  }
  if (isArrayRef(v)) {
    const a = await arrays.getArray(v);
    const o = await objects.putBytes(encodeNpy(a));
    made.push(o.id);
    return { $object: o.id, format: 'npy', dtype: a.dtype, shape: [...a.shape] } satisfies ObjectMarker;
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = await exportResult(x, arrays, objects, made);
  return out;
}
