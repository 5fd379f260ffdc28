import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError, type ErrorCode, type NdArray } from '@gramfleet/core';
import { createSandbox, type Sandbox } from './sandbox';
import { WAT_DOUBLE, WAT_GROW, WAT_IMPORTS_SOCKET, WAT_READ_FILE, WAT_SOCKET, WAT_SPIN, WAT_TRAP, WAT_UNCAPPED, assembleWat } from './test-modules';

const u8 = (b: Uint8Array): NdArray => ({ dtype: 'u8', shape: [b.length], data: b });
const f64 = (xs: number[]): NdArray => ({ dtype: 'f64', shape: [xs.length], data: Float64Array.from(xs) });

describe('user WebAssembly sandbox', () => {
  let sb: Sandbox;
  let good: Uint8Array;
  before(async () => {
    sb = createSandbox({ threads: 1 });
    good = await assembleWat(WAT_DOUBLE);
  });
  after(async () => {
    await sb.close();
  });

  const healthy = async (): Promise<void> => {
    const r = await sb.run({ fn: 'double', memoryPages: 16, timeoutMs: 10_000, outLen: 3 }, [u8(good), f64([1, 2.5, -3])]);
    assert.deepEqual(Array.from(r.output), [2, 5, -6]);
  };
  const fails = async (wat: string, fn: string, code: ErrorCode, attrs: Record<string, unknown> = {}): Promise<void> => {
    const bytes = await assembleWat(wat);
    await assert.rejects(sb.run({ fn, memoryPages: 16, timeoutMs: 10_000, outLen: 1, ...attrs }, [u8(bytes), f64([1])]), (e) => {
      assert.ok(isGramfleetError(e), String(e));
      assert.equal(e.code, code, e.message);
      return true;
    });
    await healthy();
  };

  it('runs a good module (f64 in, f64 out), inline input too', async () => {
    await healthy();
    const r = await sb.run({ fn: 'double', memoryPages: 1, timeoutMs: 10_000, outLen: 2, inline: [4, 5] }, [u8(good)]);
    assert.deepEqual(Array.from(r.output), [8, 10]);
  });
  it('reading a host file is denied (no preopens) with KERNEL_SANDBOX_DENIED', () => fails(WAT_READ_FILE, 'steal', 'KERNEL_SANDBOX_DENIED'));
  it('a socket call is denied with KERNEL_SANDBOX_DENIED', () => fails(WAT_SOCKET, 'listen', 'KERNEL_SANDBOX_DENIED'));
  it('importing a host function the sandbox lacks is KERNEL_SANDBOX_DENIED', () => fails(WAT_IMPORTS_SOCKET, 'listen', 'KERNEL_SANDBOX_DENIED'));
  it('growing memory past the cap is KERNEL_USER_MEMORY_LIMIT', () => fails(WAT_GROW, 'hog', 'KERNEL_USER_MEMORY_LIMIT', { memoryPages: 64 }));
  it('a module memory without a maximum is refused with KERNEL_USER_MEMORY_LIMIT', () => fails(WAT_UNCAPPED, 'f', 'KERNEL_USER_MEMORY_LIMIT'));
  it('a division by zero is KERNEL_USER_TRAP', () => fails(WAT_TRAP, 'boom', 'KERNEL_USER_TRAP'));
  it('an infinite loop is stopped at its limit with KERNEL_USER_TIMEOUT, its thread replaced', async () => {
    const before = sb.replaced();
    await fails(WAT_SPIN, 'spin', 'KERNEL_USER_TIMEOUT', { timeoutMs: 300 });
    assert.equal(sb.replaced(), before + 1);
  });
  it('a missing export is KERNEL_BAD_MODULE', () => fails(WAT_DOUBLE, 'nope', 'KERNEL_BAD_MODULE'));
});
