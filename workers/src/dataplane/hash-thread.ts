/**
 * Body of one hash thread (hash-pool.ts): sha256 of byte ranges of a file (read into a buffer the
 * thread keeps) or of shared memory, one reply per request.
 */
import { parentPort } from 'node:worker_threads';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { HashReply, HashRequest } from './hash-pool';
import { withMappedFile } from './mmap';

let scratch = Buffer.allocUnsafe(0);
const READ = 4 * 1024 * 1024;

function hashFileRange(fd: number, start: number, end: number): Buffer {
  const h = createHash('sha256');
  if (scratch.byteLength < Math.min(READ, end - start)) scratch = Buffer.allocUnsafe(Math.min(READ, Math.max(end - start, 64 * 1024)));
  for (let at = start; at < end;) {
    const n = fs.readSync(fd, scratch, 0, Math.min(scratch.byteLength, end - at), at);
    if (n <= 0) throw new Error(`file ended at byte ${at} of ${end}`);
    h.update(scratch.subarray(0, n));
    at += n;
  }
  return h.digest();
}

const PAGE = 4096;

function hashRead(path: string, start: number, end: number): Buffer {
  const fd = fs.openSync(path, 'r');
  try {
    return hashFileRange(fd, start, end);
  } finally {
    fs.closeSync(fd);
  }
}

function run(req: HashRequest): Uint8Array {
  const out = new Uint8Array(32 * req.ranges.length);
  if (req.kind === 'shared') {
    const mem = new Uint8Array(req.buffer);
    req.ranges.forEach(([s, e], k) =>
      out.set(
        createHash('sha256')
          .update(mem.subarray(req.byteOffset + s, req.byteOffset + e))
          .digest(),
        32 * k,
      ),
    );
    return out;
  }
  // Mapped (no copy into this thread) where ranges start on a page; else read into a buffer.
  req.ranges.forEach(([s, e], k) => {
    const h = s % PAGE === 0 ? withMappedFile(req.path, s, e - s, (v) => createHash('sha256').update(v).digest()) : undefined;
    out.set(h ?? hashRead(req.path, s, e), 32 * k);
  });
  return out;
}

parentPort?.on('message', (req: HashRequest) => {
  let reply: HashReply;
  try {
    reply = { id: req.id, ok: true, hashes: run(req) };
  } catch (e) {
    reply = { id: req.id, ok: false, message: (e as Error).message };
  }
  parentPort?.postMessage(reply, reply.ok ? [reply.hashes.buffer as ArrayBuffer] : []);
});
