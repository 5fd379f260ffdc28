/**
 * Files and result arrays in and out of a real local cluster's object store, through the real
 * CLI: `gramfleet put FILE` (content digest, a second put uploads nothing, an interrupted put
 * resumes from the parts already stored), `gramfleet get REF --out FILE` (a file byte-identical;
 * a job's result as .npy/.npz that numpy and scipy read), `campaign results --artifacts DIR`,
 * and the typed errors of bad references and missing files.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FILE_PART_BYTES } from '@gramfleet/orchestrator/internal';
import { runGramfleet, sharedGraph, startTestCluster, type TestCluster } from './harness';

const PYTHON = path.resolve(__dirname, '..', '..', '..', '.gramfleet', 'venv', 'bin', 'python');

interface PutJson {
  ref: string;
  size: number;
  sha256: string;
  parts: number;
  partsFound: number;
  bytesUploaded: number;
}

async function put(t: TestCluster, file: string): Promise<PutJson> {
  const r = await runGramfleet(['put', file, '--data-dir', t.dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as PutJson;
}

const karate = { graph: sharedGraph('karate.adjlist'), kernel: 'reg-laplacian', scale: 0.25, walks: 8, pHalt: 0.5, seed: 3, shardNodes: 10 };

describe('gramfleet put / get / campaign results --artifacts (real Temporal + NATS)', () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('objects', { workers: 1 });
  });
  after(async () => {
    await t?.stop();
  });

  it('put: content-addressed, a second put uploads nothing, an interrupted put sends only the missing parts; get is byte-identical', async () => {
    const whole = randomBytes(2 * FILE_PART_BYTES + 12_345);
    const prefix = whole.subarray(0, 2 * FILE_PART_BYTES);
    const fWhole = path.join(t.dir, 'whole.bin');
    const fPrefix = path.join(t.dir, 'prefix.bin');
    fs.writeFileSync(fWhole, whole);
    fs.writeFileSync(fPrefix, prefix);
    // The first two parts of `whole` are the parts of `prefix`: as if a put of `whole` had been
    // interrupted after two parts.
    const p1 = await put(t, fPrefix);
    assert.deepEqual([p1.parts, p1.partsFound, p1.bytesUploaded], [2, 0, prefix.byteLength]);
    const p2 = await put(t, fWhole);
    assert.deepEqual([p2.parts, p2.partsFound, p2.bytesUploaded], [3, 2, 12_345]);
    assert.equal(p2.sha256, (await import('node:crypto')).createHash('sha256').update(whole).digest('hex'));
    // Again: nothing uploaded, same reference (the text output prints the reference alone on stdout).
    const again = await runGramfleet(['put', fWhole, '--data-dir', t.dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), p2.ref);
    assert.match(again.stderr, /3 part\(s\), 3 already stored, 0\.0 MiB uploaded/);
    // A copy elsewhere is the same object.
    const copy = path.join(t.dir, 'copy.bin');
    fs.copyFileSync(fWhole, copy);
    assert.equal((await put(t, copy)).ref, p2.ref);
    // get: the same bytes.
    const out = path.join(t.dir, 'back.bin');
    const g = await runGramfleet(['get', p2.ref, '--out', out, '--data-dir', t.dir]);
    assert.equal(g.code, 0, g.stderr);
    assert.ok(Buffer.compare(fs.readFileSync(out), whole) === 0, 'fetched bytes differ');
    assert.ok(!fs.existsSync(`${out}.part`));
    // An empty file is a file too.
    const empty = path.join(t.dir, 'empty.bin');
    fs.writeFileSync(empty, '');
    const pe = await put(t, empty);
    const outE = path.join(t.dir, 'empty-back.bin');
    assert.equal((await runGramfleet(['get', pe.ref, '--out', outE, '--data-dir', t.dir])).code, 0);
    assert.equal(fs.statSync(outE).size, 0);
  });

  it("get: a job's Φ (CsrRef) as a scipy .npz, one array as .npy, a whole result as .npz; campaign artifacts into a folder", async () => {
    const h = await t.fleet.submit({ kind: 'grf', ...karate });
    const r = await h.result();
    const phi = r.phi[0];
    assert.ok(phi !== undefined);
    const want = await t.fleet.getCsr(phi);
    const resultFile = path.join(t.dir, 'result.json');
    fs.writeFileSync(resultFile, JSON.stringify(r));
    const phiOut = path.join(t.dir, 'phi.npz');
    let c = await runGramfleet(['get', JSON.stringify(phi), '--out', phiOut, '--data-dir', t.dir]);
    assert.equal(c.code, 0, c.stderr);
    const dataOut = path.join(t.dir, 'data.npy');
    c = await runGramfleet(['get', JSON.stringify(phi.data), '--out', dataOut, '--data-dir', t.dir]);
    assert.equal(c.code, 0, c.stderr);
    const allOut = path.join(t.dir, 'all.npz');
    c = await runGramfleet(['get', `@${resultFile}`, '--out', allOut, '--data-dir', t.dir]);
    assert.equal(c.code, 0, c.stderr);
    // Several arrays: one .npz entry per JSON path.
    const twoOut = path.join(t.dir, 'two.npz');
    c = await runGramfleet(['get', JSON.stringify({ a: phi.indptr, b: { c: phi.data } }), '--out', twoOut, '--data-dir', t.dir]);
    assert.equal(c.code, 0, c.stderr);
    // Campaign artifacts: two GRF runs, each Φ as DIR/<runId>/phi.npz.
    const camp = await t.fleet.campaigns.start({ id: `art-${randomBytes(3).toString('hex')}`, grid: { kind: 'grf', base: karate, axes: { seed: [1, 2] } } });
    await camp.result();
    const rows = await camp.rows();
    const artDir = path.join(t.dir, 'artifacts');
    c = await runGramfleet(['campaign', 'results', camp.campaignId, '--artifacts', artDir, '--data-dir', t.dir]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /2 artifact file\(s\) of 2 finished run\(s\)/);
    const artFiles = rows.map((row) => path.join(artDir, row.runId, 'phi.npz'));
    for (const f of artFiles) assert.ok(fs.existsSync(f), f);
    // Neither --out nor --artifacts: a usage error.
    c = await runGramfleet(['campaign', 'results', camp.campaignId, '--data-dir', t.dir]);
    assert.equal(c.code, 2, c.stderr);
    if (!fs.existsSync(PYTHON)) {
      console.log(`# scipy checks of the fetched files skipped: no Python venv at ${PYTHON} (run scripts/setup.sh)`);
      return;
    }
    const py = spawnSync(
      PYTHON,
      [
        '-c',
        `
import numpy as np, scipy.sparse as sp, json, sys
want = json.loads(sys.stdin.read())
m = sp.load_npz(${JSON.stringify(phiOut)})
assert m.shape == tuple(want['shape']), m.shape
assert m.indptr.tolist() == want['indptr'] and m.indices.tolist() == want['indices'] and m.data.tolist() == want['data']
assert np.load(${JSON.stringify(dataOut)}).tolist() == want['data']
# The whole result holds one CSR matrix (Φ): a scipy CSR .npz too.
assert sp.load_npz(${JSON.stringify(allOut)}).data.tolist() == want['data']
two = np.load(${JSON.stringify(twoOut)})
assert sorted(two.keys()) == ['a', 'b.c'] and two['b.c'].tolist() == want['data'] and two['a'].tolist() == want['indptr'], sorted(two.keys())
for f in ${JSON.stringify(artFiles)}:
    assert sp.load_npz(f).shape == tuple(want['shape'])
print('ok')
`,
      ],
      {
        input: JSON.stringify({ shape: want.shape, indptr: [...want.indptr], indices: [...want.indices], data: [...want.data] }),
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    assert.equal(py.status, 0, py.stderr);
    assert.equal(py.stdout.trim(), 'ok');
  });

  it('typed errors: a bad reference, an object the cluster does not hold, a missing file', async () => {
    let c = await runGramfleet(['get', 'gf:file:xyz', '--out', path.join(t.dir, 'x'), '--data-dir', t.dir]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /ref must be a file reference gf:file:<64 hex digits>:<bytes>/);
    c = await runGramfleet(['get', `gf:file:${'ab'.repeat(32)}:100`, '--out', path.join(t.dir, 'x'), '--data-dir', t.dir]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /is not in bucket/);
    c = await runGramfleet(['get', 'not json', '--out', path.join(t.dir, 'x'), '--data-dir', t.dir]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /REF must be a gf:file: reference, JSON holding array references/);
    c = await runGramfleet(['put', path.join(t.dir, 'no-such-file'), '--data-dir', t.dir]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /no-such-file: cannot read file \(ENOENT\)/);
  });
});
