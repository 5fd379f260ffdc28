import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError, type ErrorCode, type Logger, type NdArray, type UserWasmLimits } from '@gramfleet/core';
import { createSandbox, type Sandbox } from './sandbox';
import {
  WAT_DOUBLE,
  WAT_EXIT,
  WAT_GROW,
  WAT_HUGE_OUTPUT,
  WAT_IMPORTS_SOCKET,
  WAT_LOG_FLOOD,
  WAT_READ_FILE,
  WAT_SOCKET,
  WAT_SPIN,
  WAT_TRAP,
  WAT_UNCAPPED,
  assembleWat,
} from './test-modules';

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
  it('proc_exit instead of returning is KERNEL_USER_TRAP naming the exit code', async () => {
    const bytes = await assembleWat(WAT_EXIT);
    await assert.rejects(sb.run({ fn: 'quit', memoryPages: 1, timeoutMs: 10_000, outLen: 1 }, [u8(bytes)]), (e) => {
      assert.ok(isGramfleetError(e), String(e));
      assert.equal(e.code, 'KERNEL_USER_TRAP', e.message);
      assert.equal(e.details['exitCode'], 3);
      return true;
    });
    await healthy();
  });
  it('a missing export is KERNEL_BAD_MODULE', () => fails(WAT_DOUBLE, 'nope', 'KERNEL_BAD_MODULE'));
  it('a module claiming more outputs than its capacity is KERNEL_BAD_MODULE naming outLen and the bound', async () => {
    const bytes = await assembleWat(WAT_HUGE_OUTPUT);
    await assert.rejects(sb.run({ fn: 'spew', memoryPages: 16, timeoutMs: 10_000, outLen: 4 }, [u8(bytes), f64([1])]), (e) => {
      assert.ok(isGramfleetError(e), String(e));
      assert.equal(e.code, 'KERNEL_BAD_MODULE', e.message);
      assert.deepEqual([e.details['field'], e.details['bound'], e.details['value']], ['outLen', 4, 1_000_000_000]);
      return true;
    });
    await healthy();
  });
  it('an output capacity larger than the memory cap is KERNEL_USER_MEMORY_LIMIT', () =>
    fails(WAT_DOUBLE, 'double', 'KERNEL_USER_MEMORY_LIMIT', { memoryPages: 2, outLen: 1 << 20 }));
});

describe('user WebAssembly sandbox: limits, output capture, module cache, fairness between jobs', () => {
  const limits: UserWasmLimits = {
    maxMemoryMB: 8,
    maxTimeoutMs: 20_000,
    maxModuleBytes: 4096,
    outputBytes: 1000,
    why: { maxMemoryMB: 'test memory bound' },
  };
  const records: { msg: string; fields: Readonly<Record<string, unknown>> }[] = [];
  const log: Logger = {
    debug() {},
    info: (msg, fields = {}) => records.push({ msg, fields }),
    warn() {},
    error() {},
  };
  let sb: Sandbox;
  let good: Uint8Array;
  before(async () => {
    sb = createSandbox({ threads: 2, limits, maxTasksPerJob: 1, log, workerId: 'w-test' });
    good = await assembleWat(WAT_DOUBLE);
  });
  after(async () => {
    await sb.close();
  });
  const ctx = (jobId: string, shardId = 't0'): { jobId: string; shardId: string } => ({ jobId, shardId });
  const overLimit = async (p: Promise<unknown>, field: string, bound: number): Promise<void> => {
    await assert.rejects(p, (e) => {
      assert.ok(isGramfleetError(e), String(e));
      assert.equal(e.code, 'KERNEL_USER_OVER_LIMIT', e.message);
      assert.equal(e.details['field'], field);
      assert.equal(e.details['bound'], bound);
      return true;
    });
  };

  it('a task asking for more memory, time or a larger module than the limits is refused with KERNEL_USER_OVER_LIMIT, naming the cap and the bound', async () => {
    const compiled = sb.compiled();
    await overLimit(sb.run({ fn: 'double', memoryPages: 256, timeoutMs: 1000, outLen: 1 }, [u8(good), f64([1])]), 'memoryMB', 8);
    await overLimit(sb.run({ fn: 'double', memoryPages: 16, timeoutMs: 60_000, outLen: 1 }, [u8(good), f64([1])]), 'timeoutMs', 20_000);
    const big = new Uint8Array(8192);
    big.set(good);
    await overLimit(sb.run({ fn: 'double', memoryPages: 16, timeoutMs: 1000, outLen: 1 }, [u8(big), f64([1])]), 'moduleBytes', 4096);
    await assert.rejects(sb.run({ fn: 'double', memoryPages: 256, timeoutMs: 1000, outLen: 1 }, [u8(good)]), (e) => {
      assert.ok(isGramfleetError(e));
      assert.match(e.message, /test memory bound/);
      return true;
    });
    // Refused before anything was compiled or run.
    assert.equal(sb.compiled(), compiled);
  });

  it('a log flood is captured up to the cap, counted, and logged as one JSON record with the job and worker (a forged line stays inside a field)', async () => {
    records.length = 0;
    const flood = await assembleWat(WAT_LOG_FLOOD);
    const r = await sb.run({ fn: 'flood', memoryPages: 2, timeoutMs: 20_000, outLen: 2 }, [u8(flood), f64([3, 4])], undefined, ctx('job-flood', 't7'));
    assert.deepEqual(Array.from(r.output), [6, 8]);
    assert.ok(r.stdio !== undefined);
    assert.equal(r.stdio.bytes, 2 * 100_000 * 64);
    assert.equal(r.stdio.stdout.length + r.stdio.stderr.length, 1000);
    assert.equal(r.stdio.dropped, 2 * 100_000 * 64 - 1000);
    const out = records.filter((x) => x.msg === 'user module output');
    assert.equal(out.length, 1);
    const f = out[0]!.fields;
    assert.deepEqual([f['jobId'], f['shardId'], f['workerId'], f['bytes']], ['job-flood', 't7', 'w-test', 12_800_000]);
    assert.match(String(f['stdout']), /^\{"level":"error","msg":"forged by the module"/);
    // The whole record is one line of JSON: the module's newlines are escaped inside it.
    assert.equal(JSON.stringify({ msg: out[0]!.msg, ...f }).includes('\n'), false);
  });

  it('the compiled module is cached by its sha256: the second submit (on either thread) does not compile it again', async () => {
    const mod = await assembleWat(WAT_DOUBLE.replace('(i32.const 1024)', '(i32.const 2048)')); // a module no other test compiled
    const before = sb.compiled();
    const first = await sb.run({ fn: 'double', memoryPages: 16, timeoutMs: 10_000, outLen: 1 }, [u8(mod), f64([1])]);
    assert.equal(first.cached, false);
    assert.equal(sb.compiled(), before + 1);
    // Two at once: both threads run it, neither compiles it.
    const again = await Promise.all(
      [1, 2, 3, 4].map((x) => sb.run({ fn: 'double', memoryPages: 16, timeoutMs: 10_000, outLen: 1 }, [u8(mod), f64([x])], undefined, ctx(`job-c${x}`))),
    );
    assert.deepEqual(
      again.map((r) => r.output[0]),
      [2, 4, 6, 8],
    );
    assert.ok(again.every((r) => r.cached && r.compileMs === 0));
    assert.equal(sb.compiled(), before + 1);
  });

  it("one job at its cap of concurrent tasks cannot hold every thread: another job's task runs meanwhile", async () => {
    const spin = await assembleWat(WAT_SPIN);
    const order: string[] = [];
    const spinA = (n: number): Promise<void> =>
      sb.run({ fn: 'spin', memoryPages: 16, timeoutMs: 2000, outLen: 1 }, [u8(spin), f64([1])], undefined, ctx('job-A', `t${n}`)).then(
        () => assert.fail('the spin returned'),
        (e: unknown) => {
          assert.ok(isGramfleetError(e) && e.code === 'KERNEL_USER_TIMEOUT', String(e));
          order.push(`A${n}`);
        },
      );
    const a = [spinA(1), spinA(2)];
    const b = sb.run({ fn: 'double', memoryPages: 16, timeoutMs: 10_000, outLen: 1 }, [u8(good), f64([21])], undefined, ctx('job-B')).then((r) => {
      order.push('B');
      return r.output[0];
    });
    assert.equal(await b, 42);
    await Promise.all(a);
    // B ran on the second thread while A's first task spun (A's second waited for A's first).
    assert.deepEqual(order, ['B', 'A1', 'A2']);
  });
});
