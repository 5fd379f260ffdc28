import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DATAGEN_WORKLOAD, GRF_WORKLOAD, isGramfleetError, type ErrorCode } from '@gramfleet/core';
import { compileDataRoots, defaultDataRoots, resolveDataPath, resolveRunFiles, type CompiledDataRoots } from './data-roots';

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, ...inMessage: string[]): Promise<Record<string, unknown>> {
  let details: Record<string, unknown> = {};
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, code, e.message);
    for (const s of inMessage) assert.ok(e.message.includes(s), `${e.message} names ${s}`);
    details = e.details;
    return true;
  });
  return details;
}

describe('data roots (campaign file paths)', () => {
  let dir: string;
  let root: string;
  let outsideDir: string;
  let r: CompiledDataRoots;
  before(async () => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'gf-roots-')));
    root = path.join(dir, 'data');
    outsideDir = path.join(dir, 'private');
    fs.mkdirSync(path.join(root, 'graphs'), { recursive: true });
    fs.mkdirSync(outsideDir);
    fs.writeFileSync(path.join(root, 'graphs', 'g.adjlist'), '1 2\n');
    fs.writeFileSync(path.join(outsideDir, 'secret'), 'key');
    fs.symlinkSync(path.join(outsideDir, 'secret'), path.join(root, 'escape.adjlist'));
    fs.symlinkSync(outsideDir, path.join(root, 'escape-dir'));
    fs.symlinkSync(path.join(root, 'graphs', 'g.adjlist'), path.join(root, 'inside-link.adjlist'));
    fs.symlinkSync(root, path.join(dir, 'root-link'));
    r = await compileDataRoots([root], dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('an input inside a root resolves to its real path; relative paths start at the working directory', async () => {
    const want = path.join(root, 'graphs', 'g.adjlist');
    assert.equal(await resolveDataPath('graph', want, 'read', r), want);
    assert.equal(await resolveDataPath('graph', 'data/graphs/g.adjlist', 'read', r), want);
    assert.equal(await resolveDataPath('graph', path.join(root, 'inside-link.adjlist'), 'read', r), want, 'a symlink within the roots is fine');
    // A root named through a symlink: paths under either name are inside.
    const viaLink = await compileDataRoots([path.join(dir, 'root-link')], dir);
    assert.equal(await resolveDataPath('graph', path.join(dir, 'root-link', 'graphs', 'g.adjlist'), 'read', viaLink), want);
    assert.equal(await resolveDataPath('graph', want, 'read', viaLink), want);
  });

  it("'..', absolute paths elsewhere and symlinks out of a root are INPUT_PATH_OUTSIDE_ROOTS naming the field and the roots", async () => {
    const d = await rejectsCode(
      resolveDataPath('runs[2].graph', `${root}/../private/secret`, 'read', r),
      'INPUT_PATH_OUTSIDE_ROOTS',
      'runs[2].graph',
      "'..'",
      root,
    );
    assert.deepEqual(d['roots'], [root]);
    assert.equal(d['field'], 'runs[2].graph');
    await rejectsCode(resolveDataPath('graph', '/etc/passwd', 'read', r), 'INPUT_PATH_OUTSIDE_ROOTS', '/etc/passwd');
    await rejectsCode(resolveDataPath('graph', '../private/secret', 'read', await compileDataRoots([root], root)), 'INPUT_PATH_OUTSIDE_ROOTS');
    await rejectsCode(resolveDataPath('graph', path.join(root, 'escape.adjlist'), 'read', r), 'INPUT_PATH_OUTSIDE_ROOTS', 'symlink', outsideDir);
    await rejectsCode(resolveDataPath('graph', path.join(root, 'escape-dir', 'secret'), 'read', r), 'INPUT_PATH_OUTSIDE_ROOTS', 'symlink');
    // A sibling whose name starts with the root's is not inside it.
    fs.mkdirSync(`${root}2`, { recursive: true });
    fs.writeFileSync(path.join(`${root}2`, 'x'), '1 2\n');
    await rejectsCode(resolveDataPath('graph', path.join(`${root}2`, 'x'), 'read', r), 'INPUT_PATH_OUTSIDE_ROOTS');
  });

  it('inputs must be regular files: /dev/zero, a FIFO or a directory is INPUT_FILE_UNREADABLE even inside a root', async () => {
    const dev = await compileDataRoots(['/dev', root], dir);
    await rejectsCode(resolveDataPath('graph', '/dev/zero', 'read', dev), 'INPUT_FILE_UNREADABLE', 'not a regular file');
    await rejectsCode(resolveDataPath('graph', path.join(root, 'graphs'), 'read', r), 'INPUT_FILE_UNREADABLE', 'not a regular file');
    const fifo = path.join(root, 'pipe.adjlist');
    const made = spawnSync('mkfifo', [fifo]);
    if (made.status === 0) await rejectsCode(resolveDataPath('graph', fifo, 'read', r), 'INPUT_FILE_UNREADABLE', 'not a regular file');
    else console.log(`# FIFO case skipped: mkfifo failed (${String(made.error ?? made.stderr)})`);
    await rejectsCode(resolveDataPath('graph', path.join(root, 'missing.adjlist'), 'read', r), 'INPUT_FILE_UNREADABLE', 'ENOENT');
    await rejectsCode(resolveDataPath('graph', 'a\u0000b', 'read', r), 'INPUT_INVALID');
    await rejectsCode(resolveDataPath('graph', '', 'read', r), 'INPUT_INVALID');
  });

  it('an output directory may not exist yet; its existing part must resolve inside a root', async () => {
    assert.equal(await resolveDataPath('out', path.join(root, 'new', 'deeper'), 'write', r), path.join(root, 'new', 'deeper'));
    assert.equal(await resolveDataPath('out', root, 'write', r), root);
    await rejectsCode(resolveDataPath('out', path.join(root, 'escape-dir', 'new'), 'write', r), 'INPUT_PATH_OUTSIDE_ROOTS', 'symlink');
    await rejectsCode(resolveDataPath('out', `${root}/../elsewhere`, 'write', r), 'INPUT_PATH_OUTSIDE_ROOTS');
    await rejectsCode(resolveDataPath('out', path.join(root, 'graphs', 'g.adjlist', 'sub'), 'write', r), 'INPUT_FILE_UNREADABLE', 'not a directory');
  });

  it("a run's file parameters (ParamDoc.file) are resolved; inline values and other parameters are kept", async () => {
    const inline = { shape: [2, 2], indptr: [0, 1, 2], indices: [1, 0], data: [1, 1] };
    const p = await resolveRunFiles(GRF_WORKLOAD, { graph: 'data/graphs/g.adjlist', walks: 4 }, r);
    assert.deepEqual(p, { graph: path.join(root, 'graphs', 'g.adjlist'), walks: 4 });
    assert.deepEqual(await resolveRunFiles(GRF_WORKLOAD, { graph: inline, walks: 4 }, r), { graph: inline, walks: 4 });
    await rejectsCode(resolveRunFiles(GRF_WORKLOAD, { graph: '/etc/passwd' }, r, 'runs[0]'), 'INPUT_PATH_OUTSIDE_ROOTS', 'runs[0].graph');
    await rejectsCode(resolveRunFiles(DATAGEN_WORKLOAD, { pde: 'poisson-rhs', out: '/etc/gf' }, r), 'INPUT_PATH_OUTSIDE_ROOTS', 'out');
  });

  it('an input named by object reference (gf:file:) becomes the file the resolver gives, outside the roots too; an output directory cannot be one', async () => {
    const ref = `gf:file:${'a'.repeat(64)}:99`;
    const asked: string[] = [];
    const refs = async (field: string, v: string): Promise<string> => {
      asked.push(`${field}=${v}`);
      return '/var/cache/gramfleet/aaaa';
    };
    assert.deepEqual(await resolveRunFiles(GRF_WORKLOAD, { graph: ref, walks: 4 }, r, 'runs[1]', refs), { graph: '/var/cache/gramfleet/aaaa', walks: 4 });
    assert.deepEqual(asked, [`runs[1].graph=${ref}`]);
    await rejectsCode(resolveRunFiles(GRF_WORKLOAD, { graph: ref }, r, 'runs[0]'), 'INPUT_INVALID', 'runs[0].graph');
    await rejectsCode(resolveRunFiles(DATAGEN_WORKLOAD, { pde: 'poisson-rhs', out: ref }, r, undefined, refs), 'INPUT_INVALID', 'out', 'output directory');
  });

  it('default roots: the working directory, ../shared/data beside it, the OS temp directory', () => {
    assert.deepEqual(defaultDataRoots('/srv/gramfleet'), ['/srv/gramfleet', '/srv/shared/data', os.tmpdir()]);
  });
});
