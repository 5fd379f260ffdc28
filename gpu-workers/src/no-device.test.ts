/**
 * The GPU backend without a GPU: the driver reports "no device" as a typed error, the GPU
 * worker process exits with a clear message and status 3 without registering, missing
 * libraries and symbols are typed errors (never a crash), and every C prototype the backend
 * binds is valid koffi syntax. On a machine with a GPU the device-dependent checks instead
 * verify what was found (and say so).
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { isGramfleetError } from '@gramfleet/core';
import { bindAll, koffi, loadLibrary, parsePrototypes } from './cuda/ffi';
import { DRIVER_PROTOTYPES, openDriver, type OpenedDriver } from './cuda/driver';
import { NVRTC_PROTOTYPES } from './cuda/nvrtc';
import { CUBLAS_PROTOTYPES, CUSOLVER_PROTOTYPES } from './cuda/blas';
import { packArg, arg } from './device';
import { EXIT_NO_DEVICE_STATUS } from './exit-codes';

let found: OpenedDriver | undefined;
let noDevice: string | undefined;
try {
  found = openDriver();
} catch (e) {
  assert.ok(isGramfleetError(e), `openDriver must throw a GramfleetError, got ${String(e)}`);
  noDevice = e.message;
}
const hasDevice = found !== undefined;
if (hasDevice) console.log(`a CUDA device is present (${found?.info.name}); the no-device checks are skipped`);

describe('GPU backend without a device', () => {
  it('openDriver reports "no device" as WORKER_NO_DEVICE (or, with a GPU, describes it)', { skip: false }, () => {
    if (found !== undefined) {
      assert.match(found.info.computeCapability, /^\d+\.\d+$/);
      assert.ok(found.info.totalMemBytes > 0 && found.info.name.length > 0);
      return;
    }
    try {
      openDriver();
      assert.fail('expected WORKER_NO_DEVICE');
    } catch (e) {
      assert.ok(isGramfleetError(e));
      assert.equal(e.code, 'WORKER_NO_DEVICE');
      assert.equal(e.retryable, false);
      assert.match(e.message, /libcuda\.so\.1|cuInit|no CUDA device/);
      console.log(`openDriver: ${noDevice}`);
    }
  });

  it('a library that is not the CUDA driver is WORKER_NO_DEVICE naming the missing symbol, not a crash', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-fakecuda-'));
    try {
      fs.copyFileSync('/lib/x86_64-linux-gnu/libz.so.1', path.join(dir, 'libcuda.so.1'));
      assert.throws(
        () => openDriver({ libDirs: [dir] }),
        (e: unknown) => {
          assert.ok(isGramfleetError(e));
          assert.equal(e.code, 'WORKER_NO_DEVICE');
          assert.match(e.message, /unusable.*lacks cuInit/s);
          return true;
        },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an absent library is the requested typed code listing what was tried', () => {
    assert.throws(
      () => loadLibrary({ what: 'cuBLAS', names: ['libgf-no-such-cublas.so.12'], dirs: ['/nonexistent'], code: 'GPU_LIBRARY_MISSING' }),
      (e: unknown) => {
        assert.ok(isGramfleetError(e));
        assert.equal(e.code, 'GPU_LIBRARY_MISSING');
        assert.match(e.message, /cuBLAS library not found; tried \/nonexistent\/libgf-no-such-cublas\.so\.12 \(absent\); libgf-no-such-cublas\.so\.12/);
        return true;
      },
    );
  });

  it('a missing symbol is GPU_LIBRARY_MISSING naming it', () => {
    const libc = loadLibrary({ what: 'libc', names: ['libc.so.6'], dirs: [], code: 'GPU_LIBRARY_MISSING' });
    assert.throws(
      () => bindAll(libc, 'libc', { cublasDgemm: 'int cublasDgemm_v2(void *h)' }),
      (e: unknown) => isGramfleetError(e) && e.code === 'GPU_LIBRARY_MISSING' && e.message.includes('cublasDgemm'),
    );
  });

  it('every prototype of the driver, NVRTC, cuBLAS and cuSOLVER bindings parses', () => {
    for (const [what, protos] of Object.entries({ DRIVER_PROTOTYPES, NVRTC_PROTOTYPES, CUBLAS_PROTOTYPES, CUSOLVER_PROTOTYPES })) {
      assert.deepEqual(parsePrototypes(protos), [], what);
    }
    assert.ok(Object.keys(DRIVER_PROTOTYPES).length >= 30);
  });

  it('the koffi conventions the CUDA bindings rely on hold (checked against libc)', () => {
    const libc = loadLibrary({ what: 'libc', names: ['libc.so.6'], dirs: [], code: 'GPU_LIBRARY_MISSING' });
    // cuMemcpyDtoH(void *dst, uint64_t src, …): a typed array passed as `void *` is written in place,
    // and a device address passed as `uint64_t` is a pointer (same register class)
    const f = bindAll(libc, 'libc', { memcpyTo: 'void *memcpy(void *dst, uint64_t src, size_t n)', memset64: 'void *memset(uint64_t dst, int c, size_t n)' });
    const region = koffi.alloc('uint8_t', 64);
    try {
      const addr = koffi.address(region);
      f.memset64(addr + 8n, 0x5a, 16);
      const dst = new Uint8Array(32);
      f.memcpyTo(dst.subarray(4), addr, 32);
      assert.deepEqual([...dst.subarray(12, 28)], new Array(16).fill(0x5a));
      assert.equal(new Uint8Array(koffi.view(region, 64))[8], 0x5a);
    } finally {
      koffi.free(region);
    }
  });

  it('kernel arguments are packed as the C ABI reads them through kernelParams', () => {
    assert.deepEqual([...packArg(arg.i32(-2))], [0xfe, 0xff, 0xff, 0xff]);
    assert.deepEqual([...packArg(arg.u32(0xdeadbeef))], [0xef, 0xbe, 0xad, 0xde]);
    assert.equal(packArg(arg.f64(1.5)).readDoubleLE(0), 1.5);
    assert.equal(packArg(arg.i64(2 ** 40 + 3)).readBigInt64LE(0), 2n ** 40n + 3n);
    assert.equal(packArg(arg.ptr(0x7f0012345600n, 16)).readBigUInt64LE(0), 0x7f0012345610n);
  });

  it(
    'the GPU worker process exits with status 3 and a WORKER_NO_DEVICE line, without registering',
    { skip: hasDevice ? 'a CUDA device is present' : false },
    () => {
      const main = path.join(__dirname, 'main.js');
      // No NATS server at this address: the worker must stop at the device probe, before connecting.
      const r = spawnSync(process.execPath, [main], {
        env: { ...process.env, GRAMFLEET_NATS_URL: 'nats://127.0.0.1:1', GRAMFLEET_LOG_LEVEL: 'info' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, EXIT_NO_DEVICE_STATUS, `exit status ${r.status}; stderr: ${r.stderr}`);
      const line = r.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l['code'] === 'WORKER_NO_DEVICE');
      assert.ok(line !== undefined, r.stderr);
      assert.equal(line['level'], 'error');
      assert.match(String(line['msg']), /no CUDA device: this GPU worker exits without registering/);
      assert.match(String(line['err']), /libcuda|cuInit|device/);
    },
  );
});
