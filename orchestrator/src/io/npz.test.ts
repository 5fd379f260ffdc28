import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { validateGraph } from '@gramfleet/core';
import type { CsrArrays } from '@gramfleet/core';
import { decodeNpz, isStringArray, readCsrNpz, readNpy, readNpz, writeCsrNpz, writeNpy, writeNpz } from './npz';
import { readZip } from './zip';

const ROOT = resolve(__dirname, '..', '..', '..');
const PYTHON = join(ROOT, '.gramfleet', 'venv', 'bin', 'python');

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'gf-npz-'));
}

/** Weighted, symmetric 4-node graph. */
function sample(): CsrArrays {
  return {
    shape: [4, 4],
    indptr: Int32Array.from([0, 2, 4, 6, 8]),
    indices: Int32Array.from([1, 2, 0, 3, 0, 3, 1, 2]),
    data: Float64Array.from([0.5, 2, 0.5, 1.25, 2, 7, 1.25, 7]),
  };
}

test('writeCsrNpz then readCsrNpz gives the same matrix (stored and compressed), labels kept', async () => {
  const dir = tmp();
  try {
    const a = sample();
    for (const compress of [false, true]) {
      const p = join(dir, `g${compress ? 'c' : ''}.npz`);
      await writeCsrNpz(p, a, { compress, extra: { labels: { dtype: 'i32', shape: [4], data: Int32Array.from([0, 1, 1, 0]) } } });
      const b = await readCsrNpz(p);
      assert.deepEqual(b.shape, a.shape);
      assert.deepEqual(b.indptr, a.indptr);
      assert.deepEqual(b.indices, a.indices);
      assert.deepEqual(b.data, a.data);
      const all = await readNpz(p);
      assert.deepEqual(Object.keys(all), ['indices', 'indptr', 'format', 'shape', 'data', 'labels']);
      const fmt = all['format'];
      assert.ok(fmt !== undefined && isStringArray(fmt));
      assert.deepEqual(fmt, { dtype: 'bytes', itemSize: 3, shape: [], data: ['csr'] });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeNpz/readNpz and writeNpy/readNpy round trip numeric and string arrays', async () => {
  const dir = tmp();
  try {
    const arrays = {
      x: { dtype: 'f32' as const, shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      y: { dtype: 'u8' as const, shape: [0], data: new Uint8Array(0) },
      s: { dtype: 'unicode' as const, itemSize: 4, shape: [2], data: ['ab', 'αβγδ'] },
    };
    await writeNpz(join(dir, 'a.npz'), arrays, { compress: true });
    assert.deepEqual({ ...(await readNpz(join(dir, 'a.npz'))) }, arrays); // a record without a prototype (__proto__ entries are plain keys)
    await writeNpy(join(dir, 'x.npy'), arrays.x);
    assert.deepEqual(await readNpy(join(dir, 'x.npy')), arrays.x);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function python(script: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('interop with real scipy: load_npz reads ours, we read save_npz output (stored and compressed)', async (t) => {
  if (!existsSync(PYTHON)) {
    t.skip(`no Python venv at ${PYTHON} (run scripts/setup.sh, or python3 -m venv .gramfleet/venv && .gramfleet/venv/bin/pip install numpy scipy)`);
    return;
  }
  const probe = python('import numpy, scipy.sparse');
  if (probe.status !== 0) {
    t.skip(`${PYTHON} lacks numpy/scipy: ${probe.stderr.trim().split('\n').pop() ?? ''}`);
    return;
  }
  const dir = tmp();
  try {
    const a = sample();
    validateGraph(a);
    const ours = join(dir, 'ours.npz');
    await writeCsrNpz(ours, a);
    const oursC = join(dir, 'ours-c.npz');
    await writeCsrNpz(oursC, a, { compress: true });
    const theirs = join(dir, 'theirs.npz');
    const theirsC = join(dir, 'theirs-c.npz');
    const theirsCsc = join(dir, 'theirs-csc.npz');
    const theirsI64 = join(dir, 'theirs-i64.npz');
    const script = `
import numpy as np, scipy.sparse as sp, json, sys
want = np.array([[0, .5, 2, 0], [.5, 0, 0, 1.25], [2, 0, 0, 7], [0, 1.25, 7, 0]])
for p in ${JSON.stringify([ours, oursC])}:
    m = sp.load_npz(p)
    assert m.format == 'csr', m.format
    assert m.shape == (4, 4) and m.dtype == np.float64, (m.shape, m.dtype)
    assert np.array_equal(m.toarray(), want), m.toarray()
    assert m.has_sorted_indices
m = sp.csr_matrix(want)
sp.save_npz(${JSON.stringify(theirs)}, m, compressed=False)
sp.save_npz(${JSON.stringify(theirsC)}, m, compressed=True)
sp.save_npz(${JSON.stringify(theirsCsc)}, sp.csc_array(np.triu(want)), compressed=True)
m64 = sp.csr_matrix(want.astype(np.int64) + 3 * (want > 0))
m64.indices = m64.indices.astype(np.int64); m64.indptr = m64.indptr.astype(np.int64)
sp.save_npz(${JSON.stringify(theirsI64)}, m64)
print('ok')
`;
    const r = python(script);
    assert.equal(r.status, 0, `python failed:\n${r.stderr}`);
    assert.equal(r.stdout.trim(), 'ok');
    for (const p of [theirs, theirsC]) {
      const b = await readCsrNpz(p);
      assert.deepEqual(b.shape, a.shape);
      assert.deepEqual(b.indptr, a.indptr);
      assert.deepEqual(b.indices, a.indices);
      assert.deepEqual(b.data, a.data);
    }
    // Same layout, byte for byte: each .npy entry of scipy's uncompressed file equals ours.
    const mine = new Map(readZip(readFileSync(ours)).map((e) => [e.name, e.data]));
    const scipy = readZip(readFileSync(theirs));
    assert.deepEqual(
      scipy.map((e) => e.name),
      [...mine.keys()],
    );
    for (const e of scipy) assert.deepEqual(mine.get(e.name), e.data, `entry ${e.name} differs from scipy's`);
    // CSC (upper triangle) is transposed into CSR.
    const csc = await readCsrNpz(theirsCsc);
    assert.deepEqual([...csc.indptr], [0, 2, 3, 4, 4]);
    assert.deepEqual([...csc.indices], [1, 2, 3, 3]);
    assert.deepEqual([...csc.data], [0.5, 2, 1.25, 7]);
    // int64 data and indices become float64 / int32.
    const i64 = decodeNpz(readFileSync(theirsI64), 'theirs-i64.npz');
    assert.equal(i64['data']?.dtype, 'i32');
    const b64 = await readCsrNpz(theirsI64);
    assert.ok(b64.data instanceof Float64Array);
    assert.deepEqual([...b64.data], [3, 5, 3, 4, 5, 10, 4, 10]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
