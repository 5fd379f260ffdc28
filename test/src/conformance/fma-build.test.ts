import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { relaxedSimdNodeArgs } from '@gramfleet/workers';
import { kernelsFmaWasmPath, relaxedSimdAvailable } from '@gramfleet/workers/internal';

// Workers load the relaxed-SIMD FMA build by default where Node accepts it, so every
// conformance suite that runs the wasm kernels (and wasm-mt) runs again here against that
// build, in a child process started the way the launcher starts workers (with the V8 flag
// on Node 20). Same tolerances as the plain build.
const SUITES = [
  'gemm',
  'gemv',
  'gemm-batched',
  'kernel-block',
  'csr-spmv',
  'csr-spmm',
  'csr-transpose',
  'csr-from-triplets',
  'cholesky',
  'qr',
  'eigh',
  'eig-small',
  'mode-product',
  'parallel',
  'shard-plan',
];

describe('conformance suites on the relaxed-SIMD FMA build', () => {
  const args = relaxedSimdAvailable() ? [] : relaxedSimdNodeArgs();
  const usable = fs.existsSync(kernelsFmaWasmPath) && (relaxedSimdAvailable() || args.length > 0);
  const why = !fs.existsSync(kernelsFmaWasmPath)
    ? `${kernelsFmaWasmPath} is missing (scripts/setup.sh builds it)`
    : 'this Node accepts relaxed SIMD neither by default nor with --experimental-wasm-relaxed-simd';
  it('every suite passes with GF_TEST_KERNEL_BUILD=fma', { skip: usable ? false : `skipped: ${why}` }, () => {
    const files = SUITES.map((s) => path.join(__dirname, `${s}.test.js`));
    for (const f of files) assert.ok(fs.existsSync(f), `${f} exists`);
    // NODE_TEST_CONTEXT would make the nested runner report to this one instead of printing TAP.
    const env: NodeJS.ProcessEnv = { ...process.env, GF_TEST_KERNEL_BUILD: 'fma' };
    delete env['NODE_TEST_CONTEXT'];
    const r = spawnSync(process.execPath, [...args, '--test', '--test-concurrency=1', '--test-reporter=tap', ...files], {
      encoding: 'utf8',
      env,
      maxBuffer: 64 << 20,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    const pass = /# pass (\d+)/.exec(out)?.[1];
    const fail = /# fail (\d+)/.exec(out)?.[1];
    const failures = out
      .split('\n')
      .filter((l) => /^\s*not ok /.test(l))
      .slice(0, 20)
      .join('\n');
    process.stdout.write(`# FMA build: ${pass} passed, ${fail} failed\n`);
    assert.equal(r.status, 0, `FMA-build conformance failed:\n${failures}\n${out.slice(-3000)}`);
    assert.equal(fail, '0');
    assert.ok(Number(pass) > 300, `expected the full suites to run, got ${pass} passing tests`);
  });
});
