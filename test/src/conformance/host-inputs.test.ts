/**
 * Kernel inputs read from the host store run through a real kernel pool: the pool sends them to
 * its threads as references to their files (workers/src/dataplane/to-thread.ts) and the threads
 * map them, so the only copy is the kernel's own into its WebAssembly memory. The results must be
 * bit-identical to the same op on plain arrays, also when an input's file is gone by the time the
 * pool sends it.
 */
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeNpy, npyHeader, type NdArray } from '@gramfleet/core';
import { createKernelPool, openHostStore } from '@gramfleet/workers';
import { mappedFileOf } from '@gramfleet/workers/internal';
import { kernelModule } from './linalg-fixtures';
import { arr, rand } from './dense-fixtures';

const bits = (a: NdArray): Buffer => Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);

describe('kernel inputs from the host store', () => {
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'gf-host-inputs-'));
  const pool = createKernelPool({ module: kernelModule(), threads: 2 });
  after(async () => {
    await pool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gemm on mapped inputs equals gemm on plain copies, bit for bit', async () => {
    const hs = openHostStore({ dir, maxBytes: 1 << 30 });
    const a = arr('f64', [123, 77], rand(123 * 77, 1)),
      b = arr('f64', [77, 45], rand(77 * 45, 2));
    const mapped: NdArray[] = [];
    for (const x of [a, b]) {
      const { digest } = await hs.write([npyHeader(x.dtype, x.shape), bits(x)]);
      mapped.push(decodeNpy((await hs.read(digest))!, 'x', { view: true }));
    }
    if (mappedFileOf(mapped[0]!.data) === undefined) process.stdout.write('# mmap unavailable here: the inputs are copies\n');
    const plain = await pool.run('gemm', { alpha: 1.5 }, [a, b]);
    const viaFiles = await pool.run('gemm', { alpha: 1.5 }, mapped);
    assert.ok(bits(viaFiles.outputs[0]!).equals(bits(plain.outputs[0]!)));
    // the files gone (evicted) before the pool sends them: the bytes go instead
    for (const f of fs.readdirSync(dir)) if (/^(t1-)?[0-9a-f]{64}$/.test(f)) fs.rmSync(path.join(dir, f));
    const gone = await pool.run('gemm', { alpha: 1.5 }, mapped);
    assert.ok(bits(gone.outputs[0]!).equals(bits(plain.outputs[0]!)));
  });
});
