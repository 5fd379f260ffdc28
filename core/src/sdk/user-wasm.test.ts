import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isGramfleetError } from '../errors';
import { USER_WASM_ABSOLUTE_LIMITS, checkUserWasmLimits, tightestUserWasmLimits, type UserWasmLimits } from './user-wasm';

const a: UserWasmLimits = { maxMemoryMB: 2560, maxTimeoutMs: 900_000, maxModuleBytes: 16 << 20, outputBytes: 65536, why: { maxMemoryMB: 'cgroup of w1' } };
const b: UserWasmLimits = { maxMemoryMB: 4096, maxTimeoutMs: 60_000, maxModuleBytes: 4 << 20, outputBytes: 1024, why: { maxTimeoutMs: 'policy of w2' } };

describe('user-WASM sandbox limits (core/src/sdk/user-wasm.ts)', () => {
  it('the tightest limits of several workers: each bound the lowest, its reason from the worker that set it', () => {
    assert.equal(tightestUserWasmLimits([]), undefined);
    assert.deepEqual(tightestUserWasmLimits([a, b]), {
      maxMemoryMB: 2560,
      maxTimeoutMs: 60_000,
      maxModuleBytes: 4 << 20,
      outputBytes: 1024,
      why: { maxMemoryMB: 'cgroup of w1', maxTimeoutMs: 'policy of w2' },
    });
  });
  it('a request within the limits passes; above, KERNEL_USER_OVER_LIMIT names the field, the bound, the value and why', () => {
    checkUserWasmLimits({ memoryMB: 2560, timeoutMs: 900_000, moduleBytes: 16 << 20 }, a, 'w1');
    checkUserWasmLimits({}, a, 'w1');
    const cases: [Parameters<typeof checkUserWasmLimits>[0], string, number, number][] = [
      [{ memoryMB: 2561 }, 'memoryMB', 2560, 2561],
      [{ timeoutMs: 900_001 }, 'timeoutMs', 900_000, 900_001],
      [{ moduleBytes: (16 << 20) + 1 }, 'moduleBytes', 16 << 20, (16 << 20) + 1],
    ];
    for (const [req, field, bound, value] of cases) {
      assert.throws(
        () => checkUserWasmLimits(req, a, 'worker w1'),
        (e) => {
          assert.ok(isGramfleetError(e));
          assert.equal(e.code, 'KERNEL_USER_OVER_LIMIT');
          assert.deepEqual([e.details['field'], e.details['bound'], e.details['value'], e.details['where']], [field, bound, value, 'worker w1']);
          assert.ok(e.message.includes(field) && e.message.includes(String(bound)));
          if (field === 'memoryMB') assert.equal(e.details['limitedBy'], 'cgroup of w1');
          return true;
        },
      );
    }
    assert.throws(
      () => checkUserWasmLimits({ memoryMB: 4097 }, USER_WASM_ABSOLUTE_LIMITS, 'any worker'),
      (e) => isGramfleetError(e) && e.code === 'KERNEL_USER_OVER_LIMIT',
    );
  });
});
