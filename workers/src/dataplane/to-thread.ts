/**
 * Arrays sent to a kernel thread without a copy where possible. A message to a worker thread
 * copies a typed array (structured clone) unless its memory is shared; an array read from the host
 * store is a view of a mapped file, which the thread can map itself instead. So an input a worker
 * reads from its host goes to a kernel thread as a reference to its file, and the only copy it
 * sees is the kernel's own (into its WebAssembly memory). Arrays in shared memory travel as they
 * are (the message shares them); others are copied by the message, as before.
 */
import * as fs from 'node:fs';
import { GramfleetError, type DType, type NdArray, type TypedArrayOf } from '@gramfleet/core';
import { mapFile, mappedFileOf } from './mmap';

/** An input as a kernel thread receives it: the array, or where its bytes are mapped from. */
export type ThreadInput =
  | NdArray
  | {
      readonly dtype: DType;
      readonly shape: readonly number[];
      readonly file: { readonly path: string; readonly offset: number; readonly byteLength: number };
    };

/** Inputs for a message to a thread: views of mapped files (still present) become references to the files. */
export function toThread(inputs: readonly NdArray[]): ThreadInput[] {
  return inputs.map((a) => {
    const m = mappedFileOf(a.data);
    if (m === undefined || m.kind !== 'private' || !fs.existsSync(m.path)) return a;
    return { dtype: a.dtype, shape: [...a.shape], file: { path: m.path, offset: m.offset, byteLength: a.data.byteLength } };
  });
}

/** Code of the error a thread answers when a referenced file is gone (evicted): the pool sends the bytes instead. */
export const THREAD_INPUT_GONE = 'STORE_MISSING_OBJECT';

/**
 * Inputs received by a thread, as arrays: file references are mapped here (no copy). A file that
 * is gone throws STORE_MISSING_OBJECT with `details.threadInput`, so the sender can send the bytes.
 */
export function fromThread(inputs: readonly ThreadInput[]): NdArray[] {
  return inputs.map((x) => {
    if (!('file' in x)) return x;
    const { path, offset, byteLength } = x.file;
    let bytes: Uint8Array;
    try {
      // Mapped from the start of the file (an offset into a mapping need not be page-aligned).
      const whole = mapFile(path, offset + byteLength, 'private');
      bytes = whole !== undefined ? whole.subarray(offset, offset + byteLength) : readBytes(path, offset, byteLength);
    } catch (e) {
      throw new GramfleetError(THREAD_INPUT_GONE, `input file ${path} is gone: ${(e as Error).message}`, { threadInput: true, path });
    }
    return { dtype: x.dtype, shape: [...x.shape], data: view(x.dtype, bytes) } as NdArray;
  });
}

function view<D extends DType>(dtype: D, b: Uint8Array): TypedArrayOf[D] {
  const n = b.byteLength / (dtype === 'f64' ? 8 : dtype === 'u8' ? 1 : 4);
  switch (dtype) {
    case 'f64':
      return new Float64Array(b.buffer, b.byteOffset, n) as TypedArrayOf[D];
    case 'f32':
      return new Float32Array(b.buffer, b.byteOffset, n) as TypedArrayOf[D];
    case 'i32':
      return new Int32Array(b.buffer, b.byteOffset, n) as TypedArrayOf[D];
    case 'u32':
      return new Uint32Array(b.buffer, b.byteOffset, n) as TypedArrayOf[D];
    default:
      return b as TypedArrayOf[D];
  }
}

/** Where mapping is unavailable: the bytes read from the file (one copy, as a message would make). */
function readBytes(path: string, offset: number, byteLength: number): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(byteLength));
  const fd = fs.openSync(path, 'r');
  try {
    fs.readSync(fd, out, 0, byteLength, offset);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}
