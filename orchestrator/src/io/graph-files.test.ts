import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGramfleetError, validateGraph } from '@gramfleet/core';
import type { CsrArrays, ErrorCode } from '@gramfleet/core';
import { loadGraph } from './graph-files';
import { writeCsrNpz } from './npz';

const DATA = '/work/shared/data/graphs';

const EXPECTED: ReadonlyArray<{ file: string; nodes: number; nnz: number; labels: boolean; format: string }> = [
  { file: 'cora.npz', nodes: 2485, nnz: 10138, labels: true, format: 'npz' },
  { file: 'citeseer.npz', nodes: 2110, nnz: 7336, labels: true, format: 'npz' },
  { file: 'political-blog.npz', nodes: 1222, nnz: 33431, labels: true, format: 'npz' },
  { file: 'pubmed.npz', nodes: 19717, nnz: 88648, labels: true, format: 'npz' },
  { file: 'karate.adjlist', nodes: 34, nnz: 156, labels: false, format: 'adjlist' },
];

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, ...inMessage: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isGramfleetError(e), `expected a GramfleetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const s of inMessage) assert.ok(e.message.includes(s), `message ${JSON.stringify(e.message)} should include ${JSON.stringify(s)}`);
    return true;
  });
}

for (const g of EXPECTED) {
  test(`loads ${g.file}: ${g.nodes} nodes, ${g.nnz} stored non-zeros`, async () => {
    const r = await loadGraph(join(DATA, g.file));
    assert.equal(r.format, g.format);
    assert.equal(r.name, g.file.replace(/\.[^.]+$/, ''));
    assert.deepEqual(r.csr.shape, [g.nodes, g.nodes]);
    assert.equal(r.csr.indptr[g.nodes], g.nnz);
    assert.equal(r.csr.data.length, g.nnz);
    assert.ok(
      r.csr.data.every((v) => v === 1),
      'unweighted',
    );
    assert.equal(r.labels !== undefined, g.labels);
    if (r.labels !== undefined) {
      assert.equal(r.labels.length, g.nodes);
      assert.ok(r.labels.every((l) => l >= 0));
    }
  });
}

test('karate.adjlist: degrees of node 1 and 34 (1-based)', async () => {
  const r = await loadGraph(join(DATA, 'karate.adjlist'));
  const deg = (i: number): number => (r.csr.indptr[i + 1] ?? 0) - (r.csr.indptr[i] ?? 0);
  assert.equal(deg(0), 16);
  assert.equal(deg(33), 17);
});

test('an adjacency list with no telling name (as a file named by reference is cached: its digest) is known by its content', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gf-graph-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const noName = join(dir, 'a'.repeat(64));
  writeFileSync(noName, readFileSync(join(DATA, 'karate.adjlist')));
  const [a, b] = [await loadGraph(noName), await loadGraph(join(DATA, 'karate.adjlist'))];
  assert.equal(a.format, 'adjlist');
  assert.deepEqual([a.csr.indptr, a.csr.indices, a.csr.data], [b.csr.indptr, b.csr.indices, b.csr.data]);
  // a leading comment line is skipped by the sniff as by the parser; a bad later line is the parser's error
  const commented = join(dir, 'b'.repeat(64));
  writeFileSync(commented, '# edges\n\n1 2 3\n2 1\n3 x\n');
  await rejectsCode(loadGraph(commented), 'INPUT_FILE_UNREADABLE', ':5', '"x"');
  // text whose first line is not node ids is no known format
  writeFileSync(noName, 'source,target\n1,2\n');
  await rejectsCode(loadGraph(noName), 'INPUT_FILE_UNREADABLE', 'unknown graph format');
});

test('bad inputs give their typed error codes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gf-graph-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const missing = join(dir, 'nope.npz');
  await rejectsCode(loadGraph(missing), 'INPUT_FILE_UNREADABLE', missing, 'ENOENT');
  await rejectsCode(loadGraph(dir), 'INPUT_FILE_UNREADABLE', dir);
  await rejectsCode(loadGraph(file('garbage.npz', 'definitely not a zip archive\n')), 'INPUT_FILE_UNREADABLE', 'garbage.npz');
  await rejectsCode(loadGraph(file('garbage.bin', '\u0001\u0002 junk')), 'INPUT_FILE_UNREADABLE', 'unknown graph format');
  await rejectsCode(loadGraph(file('garbage.mtx', 'hello world\n')), 'INPUT_FILE_UNREADABLE', 'garbage.mtx:1');
  await rejectsCode(loadGraph(file('bad.adjlist', '1 2 3\n2 1\n3 x 1\n')), 'INPUT_FILE_UNREADABLE', 'bad.adjlist:3', '"x"');
  const hdr = '%%MatrixMarket matrix coordinate real general\n% comment\n';
  await rejectsCode(loadGraph(file('badline.mtx', `${hdr}3 3 2\n1 2 1\n2 1 oops\n`)), 'INPUT_FILE_UNREADABLE', 'badline.mtx:5', 'oops');
  await rejectsCode(loadGraph(file('short.mtx', `${hdr}3 3 3\n1 2 1\n2 1 1\n`)), 'INPUT_FILE_UNREADABLE', 'only 2 entries');
  await rejectsCode(loadGraph(file('outside.mtx', `${hdr}3 3 1\n4 1 1\n`)), 'INPUT_FILE_UNREADABLE', 'outside.mtx:4', 'outside');
  await rejectsCode(loadGraph(file('nonsquare.mtx', `${hdr}2 3 2\n1 2 1\n2 1 1\n`)), 'INPUT_NOT_SQUARE', 'graph.shape', '2×3');
  await rejectsCode(loadGraph(file('asym.mtx', `${hdr}3 3 3\n1 2 1\n2 1 1\n2 3 1\n`)), 'INPUT_ASYMMETRIC', 'A[1,2] = 1', 'A[2,1] = 0');
  await rejectsCode(loadGraph(file('asymval.mtx', `${hdr}2 2 2\n1 2 1\n2 1 2\n`)), 'INPUT_ASYMMETRIC', 'A[0,1] = 1', 'A[1,0] = 2');
  await rejectsCode(
    loadGraph(file('neg.mtx', '%%MatrixMarket matrix coordinate real symmetric\n3 3 2\n2 1 -1.5\n3 2 1\n')),
    'INPUT_NEGATIVE_WEIGHT',
    'graph.data',
    '-1.5',
  );
  await rejectsCode(
    loadGraph(file('nan.mtx', '%%MatrixMarket matrix coordinate real symmetric\n3 3 2\n2 1 nan\n3 2 1\n')),
    'INPUT_NOT_FINITE',
    'graph.data',
    'NaN',
  );
  await rejectsCode(loadGraph(file('inf.mtx', '%%MatrixMarket matrix coordinate real symmetric\n3 3 2\n2 1 inf\n3 2 1\n')), 'INPUT_NOT_FINITE', 'graph.data');
  await rejectsCode(loadGraph(file('empty.adjlist', '# nothing here\n')), 'INPUT_FILE_UNREADABLE', 'no nodes');
  await rejectsCode(loadGraph(join(DATA, 'cora.npz'), { maxBytes: 100_000 }), 'INPUT_TOO_LARGE', 'needs 131600 bytes', 'maxBytes is 100000 bytes');
  await rejectsCode(
    loadGraph(file('big.mtx', '%%MatrixMarket matrix coordinate pattern symmetric\n1000000 1000000 5000000\n')),
    'INPUT_FILE_UNREADABLE',
    'only 0 entries',
  );
  await rejectsCode(
    loadGraph(file('big2.mtx', '%%MatrixMarket matrix coordinate pattern symmetric\n1000000 1000000 5000000\n'), { maxBytes: 1 << 20 }),
    'INPUT_TOO_LARGE',
    'needs 124000004 bytes',
  );
  // npz: NaN weight, negative weight, labels of the wrong length.
  const base: CsrArrays = { shape: [2, 2], indptr: Int32Array.from([0, 1, 2]), indices: Int32Array.from([1, 0]), data: Float64Array.from([1, 1]) };
  validateGraph(base);
  const nanPath = join(dir, 'nan.npz');
  await writeCsrNpz(nanPath, { ...base, data: Float64Array.from([Number.NaN, Number.NaN]) });
  await rejectsCode(loadGraph(nanPath), 'INPUT_NOT_FINITE', 'graph.data');
  const negPath = join(dir, 'neg.npz');
  await writeCsrNpz(negPath, { ...base, data: Float64Array.from([-1, -1]) });
  await rejectsCode(loadGraph(negPath), 'INPUT_NEGATIVE_WEIGHT', 'graph.data');
  const labPath = join(dir, 'lab.npz');
  await writeCsrNpz(labPath, base, { extra: { labels: { dtype: 'i32', shape: [3], data: Int32Array.from([0, 1, 2]) } } });
  await rejectsCode(loadGraph(labPath), 'INPUT_SHAPE_MISMATCH', 'labels', 'got 3');
});

test('MatrixMarket: pattern/integer, symmetric mirrored, general duplicates summed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gf-mtx-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p1 = join(dir, 'tri.mtx');
  writeFileSync(p1, '%%MatrixMarket matrix coordinate pattern symmetric\n%c\n3 3 3\n2 1\n3 1\n3 2\n');
  const a = await loadGraph(p1);
  assert.equal(a.format, 'mtx');
  assert.deepEqual([...a.csr.indptr], [0, 2, 4, 6]);
  assert.deepEqual([...a.csr.data], [1, 1, 1, 1, 1, 1]);
  const p2 = join(dir, 'dup.mtx');
  writeFileSync(p2, '%%MatrixMarket matrix coordinate integer general\r\n2 2 4\r\n1 2 1\r\n1 2 2\r\n2 1 3\r\n2 2 5\r\n');
  const b = await loadGraph(p2);
  assert.deepEqual([...b.csr.indices], [1, 0, 1]);
  assert.deepEqual([...b.csr.data], [3, 3, 5]);
  const p3 = join(dir, 'noext');
  writeFileSync(p3, '%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n2 1 0.25\n');
  assert.equal((await loadGraph(p3)).format, 'mtx');
});
