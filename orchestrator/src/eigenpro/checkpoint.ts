/**
 * EigenPro checkpoints in the object store under a fixed name per job (not by digest, so a
 * newer checkpoint replaces the older one): a JSON header (epoch, batch, seed, setup scalars,
 * history) followed by the raw f64/i32 arrays (coefficients, E, D, subsample rows).
 */
import { GramfleetError, type EigenProCheckpoint, type EigenProSetup } from '@gramfleet/core';
import type { ObjectStore } from '@nats-io/obj';
import { readBlob } from '../io/blobs';

/** Object name of a job's checkpoint. */
export function checkpointName(jobId: string): string {
  return `eigenpro-checkpoint.${jobId}`;
}

interface Header {
  readonly v: 1;
  readonly epoch: number;
  readonly batch: number;
  readonly seed: number;
  readonly elapsedMs: number;
  readonly history: EigenProCheckpoint['history'];
  readonly setup: Omit<EigenProSetup, 'subsample' | 'd' | 'e'>;
  readonly lengths: readonly number[];
}

/** Serialises a checkpoint. */
export function encodeCheckpoint(cp: EigenProCheckpoint): Uint8Array {
  const { subsample, d, e, ...scalars } = cp.setup;
  const arrays = [
    new Uint8Array(cp.a.buffer, cp.a.byteOffset, cp.a.byteLength),
    new Uint8Array(e.buffer, e.byteOffset, e.byteLength),
    new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
    new Uint8Array(subsample.buffer, subsample.byteOffset, subsample.byteLength),
  ];
  const header: Header = {
    v: 1,
    epoch: cp.epoch,
    batch: cp.batch,
    seed: cp.seed,
    elapsedMs: cp.elapsedMs,
    history: cp.history,
    setup: scalars,
    lengths: arrays.map((a) => a.byteLength),
  };
  const hb = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - ((4 + hb.length) % 8)) % 8;
  const total = 4 + hb.length + pad + arrays.reduce((s, a) => s + a.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, hb.length + pad, true);
  out.set(hb, 4);
  out.fill(0x20, 4 + hb.length, 4 + hb.length + pad);
  let off = 4 + hb.length + pad;
  for (const a of arrays) {
    out.set(a, off);
    off += a.byteLength;
  }
  return out;
}

/** Parses a checkpoint written by {@link encodeCheckpoint}. */
export function decodeCheckpoint(bytes: Uint8Array): EigenProCheckpoint {
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hl))) as Header;
  if (header.v !== 1 || header.lengths.length !== 4) throw new GramfleetError('JOB_FAILED', 'unreadable EigenPro checkpoint');
  let off = 4 + hl;
  const take = (len: number): ArrayBuffer => {
    // Uint8Array's slice copies; a Node Buffer's slice would be a view into a shared pool.
    const b = Uint8Array.prototype.slice.call(bytes, off, off + len).buffer;
    off += len;
    return b;
  };
  const [la, le, ld, ls] = header.lengths as [number, number, number, number];
  const a = new Float64Array(take(la));
  const e = new Float64Array(take(le));
  const d = new Float64Array(take(ld));
  const subsample = new Int32Array(take(ls));
  return {
    epoch: header.epoch,
    batch: header.batch,
    seed: header.seed,
    elapsedMs: header.elapsedMs,
    history: header.history,
    a,
    setup: { ...header.setup, e, d, subsample },
  };
}

/** Writes a job's checkpoint (replacing the previous one). */
export async function saveCheckpoint(os: ObjectStore, jobId: string, cp: EigenProCheckpoint): Promise<void> {
  await os.putBlob({ name: checkpointName(jobId) }, encodeCheckpoint(cp));
}

/**
 * Reads a job's checkpoint, or null when there is none; CLUSTER_UNAVAILABLE when the store does
 * not answer ({@link readBlob}).
 */
export async function loadCheckpoint(os: ObjectStore, jobId: string): Promise<EigenProCheckpoint | null> {
  const b = await readBlob(os, checkpointName(jobId));
  return b === null ? null : decodeCheckpoint(b);
}
