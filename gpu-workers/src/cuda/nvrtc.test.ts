/**
 * NVRTC needs no GPU: every CUDA C kernel of the GPU backend is compiled to PTX for sm_80
 * (A100) and sm_90 (H100) here, and the PTX must define every entry point. Also: the cache
 * keyed by source hash (memory and disk), and a compile error surfacing as
 * GPU_COMPILE_FAILED with NVRTC's log. Skips, saying why, when the setup script could not
 * install libnvrtc.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { isGramfleetError } from '@gramfleet/core';
import { archFor, openNvrtc, ptxCacheKey, type Nvrtc } from './nvrtc';
import { CUDA_MODULES } from '../kernels/sources';
import { BUNDLED_CUDA_LIB_DIR, REPO_ROOT } from '../paths';

let nvrtc: Nvrtc | undefined;
let skip: string | false = false;
try {
  nvrtc = openNvrtc({ libDirs: [BUNDLED_CUDA_LIB_DIR] });
} catch (e) {
  skip = `libnvrtc is not installed (${(e as Error).message}); run bash scripts/setup.sh --test`;
  console.log(`skipping NVRTC compile tests: ${skip}`);
}

describe('NVRTC compiles every GPU kernel to PTX (no GPU needed)', { skip }, () => {
  const nv = (): Nvrtc => nvrtc as Nvrtc;
  for (const cc of ['8.0', '9.0']) {
    for (const mod of CUDA_MODULES) {
      it(`${mod.name} for sm_${cc.replace('.', '')}: compiles, PTX targets it and defines ${mod.entries.join(', ')}`, () => {
        const r = nv().compile({ source: mod.source, name: mod.name, computeCapability: cc });
        assert.match(r.ptx, new RegExp(`\\.target sm_${cc.replace('.', '')}\\b`));
        for (const e of mod.entries) assert.match(r.ptx, new RegExp(`\\.visible \\.entry ${e}\\(`), `${e} missing from the PTX of ${mod.name}`);
        // --fmad=false: the bit-exact kernels must contain no fused multiply-add
        if (mod.bitExact) assert.doesNotMatch(r.ptx, /\bfma\.rn\.f64\b/, `${mod.name}: fma.rn.f64 found although --fmad=false`);
      });
    }
  }

  it('caches by source hash: a second compile is a memory hit, a changed source compiles again', () => {
    const src = 'extern "C" __global__ void gf_probe(double* x) { x[threadIdx.x] *= 2.0; }';
    const a = nv().compile({ source: src, name: 'probe.cu', computeCapability: '8.0' });
    const b = nv().compile({ source: src, name: 'probe.cu', computeCapability: '8.0' });
    assert.equal(a.from, 'compiled');
    assert.equal(b.from, 'memory');
    assert.equal(a.key, b.key);
    const c = nv().compile({ source: src + '\n// changed', name: 'probe.cu', computeCapability: '8.0' });
    assert.equal(c.from, 'compiled');
    assert.notEqual(c.key, a.key);
    assert.equal(a.key, ptxCacheKey(nv().version, ['--gpu-architecture=compute_80', '--fmad=false', '-default-device'], src));
  });

  it('the disk cache serves a new process without compiling', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-ptx-'));
    try {
      const mod = CUDA_MODULES[0]!;
      const first = openNvrtc({ libDirs: [BUNDLED_CUDA_LIB_DIR], cacheDir: dir });
      assert.equal(first.compile({ source: mod.source, name: mod.name, computeCapability: '9.0' }).from, 'compiled');
      const second = openNvrtc({ libDirs: [BUNDLED_CUDA_LIB_DIR], cacheDir: dir });
      const r = second.compile({ source: mod.source, name: mod.name, computeCapability: '9.0' });
      assert.equal(r.from, 'disk');
      assert.equal(second.stats.compiled, 0);
      assert.ok(fs.existsSync(path.join(dir, `${r.key}.ptx`)));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a CUDA C error is GPU_COMPILE_FAILED carrying the NVRTC log', () => {
    try {
      nv().compile({ source: 'extern "C" __global__ void bad(double* x) { x[0] = undefined_name; }', name: 'bad.cu', computeCapability: '8.0' });
      assert.fail('expected GPU_COMPILE_FAILED');
    } catch (e) {
      assert.ok(isGramfleetError(e), String(e));
      assert.equal(e.code, 'GPU_COMPILE_FAILED');
      assert.match(e.message, /undefined_name/);
      assert.match(e.message, /bad\.cu/);
    }
  });

  it('targets the highest supported architecture at or below the device', () => {
    assert.ok(nv().supportedArchs.includes(80) && nv().supportedArchs.includes(90), `supported: ${nv().supportedArchs.join(',')}`);
    assert.equal(archFor('8.6', [75, 80, 86, 90]), 86);
    assert.equal(archFor('8.9', [75, 80, 86, 90]), 86);
    assert.throws(
      () => archFor('5.0', [75, 80]),
      (e: unknown) => isGramfleetError(e) && e.code === 'GPU_COMPILE_FAILED',
    );
    assert.throws(
      () => archFor('sm80', [80]),
      (e: unknown) => isGramfleetError(e) && e.code === 'INPUT_INVALID',
    );
  });
});

const PTXAS = path.join(REPO_ROOT, '.gramfleet', 'cuda', 'bin', 'ptxas');
const noPtxas = skip !== false ? skip : fs.existsSync(PTXAS) ? false : `ptxas is not installed at ${PTXAS}; run bash scripts/setup.sh --test`;
if (noPtxas !== false && skip === false) console.log(`skipping the PTX assembly tests: ${noPtxas}`);

describe('the PTX assembles to SASS for sm_80 and sm_90 (ptxas, no GPU needed)', { skip: noPtxas }, () => {
  for (const cc of ['8.0', '9.0']) {
    for (const mod of CUDA_MODULES) {
      it(`${mod.name} → sm_${cc.replace('.', '')} cubin, every entry assembled, no stack spills`, () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-ptxas-'));
        try {
          const ptx = path.join(dir, 'k.ptx');
          fs.writeFileSync(ptx, (nvrtc as Nvrtc).compile({ source: mod.source, name: mod.name, computeCapability: cc }).ptx);
          const cubin = path.join(dir, 'k.cubin');
          const r = spawnSync(PTXAS, [`-arch=sm_${cc.replace('.', '')}`, '-v', '-o', cubin, ptx], { encoding: 'utf8' });
          assert.equal(r.status, 0, r.stderr);
          assert.ok(fs.statSync(cubin).size > 0);
          for (const e of mod.entries)
            assert.match(r.stderr, new RegExp(`Compiling entry function '${e}' for 'sm_${cc.replace('.', '')}'`), `${e} not assembled`);
          assert.doesNotMatch(r.stderr, /[1-9]\d* bytes spill (stores|loads)/, `spills: ${r.stderr}`);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  }
});
