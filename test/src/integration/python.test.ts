/**
 * The Python client (python/) against a real local cluster: the package is installed with pip
 * from the repository (into a temporary target, with the project's venv `.gramfleet/venv`,
 * which scripts/setup.sh makes with numpy, scipy and pytest), then `python/tests` runs with
 * pytest against the cluster's jobs API (started as `gramfleet up` starts it) with a token made
 * by the real CLI and one past its expiry. Any pytest failure fails this test. Without the venv,
 * or when pytest can be neither found nor installed, the test is skipped and says why.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TokenStore } from '@gramfleet/orchestrator/internal';
import { runGramfleet, startTestCluster, type TestCluster } from './harness';

const repo = path.resolve(__dirname, '..', '..', '..');
const python = path.join(repo, '.gramfleet', 'venv', 'bin', 'python');

/** Why the Python tests cannot run here, or undefined when they can (pytest is installed when missing). */
function unavailable(): string | undefined {
  if (!fs.existsSync(python)) return `no Python venv at ${python} (scripts/setup.sh makes it with numpy, scipy and pytest)`;
  const has = (m: string): boolean => spawnSync(python, ['-c', `import ${m}`], { encoding: 'utf8' }).status === 0;
  if (!has('numpy') || !has('scipy')) return `the venv ${python} lacks numpy or scipy (run scripts/setup.sh)`;
  if (has('pytest')) return undefined;
  const pip = spawnSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', 'pytest'], { encoding: 'utf8' });
  if (pip.status !== 0) return `pytest is not in ${python} and pip could not install it: ${(pip.stderr || pip.stdout).trim().split('\n').slice(-2).join(' ')}`;
  return undefined;
}

describe('Python client (pip install ./python, pytest against a real cluster)', () => {
  const why = unavailable();
  let t: TestCluster;
  let url: string;
  let target: string;
  before(async () => {
    if (why !== undefined) return;
    target = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-pyclient-'));
    // Offline when the venv has setuptools and wheel (scripts/setup.sh installs them); else pip
    // fetches a build environment.
    const offline = spawnSync(python, ['-c', 'import setuptools, wheel'], { encoding: 'utf8' }).status === 0;
    const pip = spawnSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        ...(offline ? ['--no-build-isolation'] : []),
        '--target',
        target,
        path.join(repo, 'python'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(pip.status, 0, `pip install ./python failed:\n${pip.stdout}\n${pip.stderr}`);
    assert.ok(fs.existsSync(path.join(target, 'gramfleet', 'py.typed')), 'the package ships py.typed (PEP 561)');
    t = await startTestCluster('python', { workers: 2 });
    url = await t.cluster.startApi();
  });
  after(async () => {
    await t?.stop();
    if (target !== undefined) fs.rmSync(target, { recursive: true, force: true });
  });

  it('python/tests pass: tokens, put/get, GRF, EigenPro, a campaign, typed errors', { skip: why }, async () => {
    const made = await runGramfleet(['token', 'create', '--name', 'pytest', '--json', '--data-dir', t.dir]);
    assert.equal(made.code, 0, made.stderr);
    const token = (JSON.parse(made.stdout) as { token: string }).token;
    const expired = TokenStore.of(t.dir).create({ name: 'expired', ttlMs: 1000, now: new Date(Date.now() - 3_600_000) }).token;
    const r = spawnSync(
      python,
      [
        '-m',
        'pytest',
        '-q',
        '-p',
        'no:cacheprovider',
        path.join(repo, 'python', 'tests'),
        '--gramfleet-url',
        url,
        '--gramfleet-token',
        token,
        '--gramfleet-expired-token',
        expired,
      ],
      { encoding: 'utf8', cwd: path.join(repo, 'python'), env: { ...process.env, PYTHONPATH: target, PYTHONDONTWRITEBYTECODE: '1' }, timeout: 600_000 },
    );
    const out = `${r.stdout}\n${r.stderr}`;
    process.stdout.write(out.split('\n').slice(-15).join('\n') + '\n');
    assert.equal(r.status, 0, `pytest failed (exit ${r.status}):\n${out}`);
    assert.match(r.stdout, /\d+ passed/);
    assert.doesNotMatch(r.stdout, /failed|error/i);
  });
});
