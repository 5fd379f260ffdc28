import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeNpy, isGramfleetError, npyHeader, type NdArray } from '@gramfleet/core';
import { openHostStore } from './host-store';
import { canMap, mappedFileOf } from './mmap';
import { fromThread, toThread } from './to-thread';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('inputs sent to kernel threads', { skip: canMap() ? undefined : 'mmap unavailable here (koffi/libc): inputs are copied' }, () => {
  it('a view of a host-store file goes as a reference to the file and comes back as a mapping of it, not a copy', async () => {
    const d = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'gf-to-thread-'));
    dirs.push(d);
    const hs = openHostStore({ dir: d, maxBytes: 1 << 30 });
    const data = Float64Array.from({ length: 1000 }, (_, i) => (i === 3 ? -0 : i / 7));
    const { digest } = await hs.write([npyHeader('f64', [10, 100]), new Uint8Array(data.buffer)]);
    const mapped = decodeNpy((await hs.read(digest))!, 'x', { view: true });
    const plain: NdArray = { dtype: 'i32', shape: [2], data: Int32Array.of(1, 2) };
    const sent = toThread([mapped, plain]);
    assert.ok('file' in sent[0]! && sent[0].file.path === hs.pathOf(digest), 'a reference, no bytes in the message');
    assert.equal(sent[1], plain, 'other arrays go as they are');
    const [got, same] = fromThread(JSON.parse(JSON.stringify(sent.slice(0, 1))) as typeof sent).concat(fromThread(sent.slice(1)));
    assert.ok(mappedFileOf(got!.data) !== undefined, 'the thread maps the file');
    assert.deepEqual([...got!.shape], [10, 100]);
    assert.ok(Buffer.from(got!.data.buffer, got!.data.byteOffset, got!.data.byteLength).equals(Buffer.from(data.buffer)), 'same bits (−0 included)');
    assert.equal(same, plain);
    // evicted meanwhile: the thread says so (the pool then sends the bytes); the sender sends bytes for a file already gone
    hs.delete(digest);
    assert.throws(
      () => fromThread(sent.slice(0, 1)),
      (e) => isGramfleetError(e) && e.code === 'STORE_MISSING_OBJECT' && e.details['threadInput'] === true,
    );
    assert.equal(toThread([mapped])[0], mapped);
  });
});
