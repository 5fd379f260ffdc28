import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { encodeNpy, type DType, type NdArray } from './array';
import { isGramfleetError } from './errors';
import { grfWalksOp, grfWalksOutputsProblem } from './ops/grf-walks';
import { PROTOCOL_VERSION } from './protocol';
import { VERIFY_RTOL, compileVerifyFraction, npyBytesOf, outputsDisagree, replyFrameProblem, taskResultProblem, verifySelected } from './results';

const CTORS = { f64: Float64Array, f32: Float32Array, i32: Int32Array, u32: Uint32Array, u8: Uint8Array } as const;

function refOf(a: NdArray, inline = false): Record<string, unknown> {
  const b = encodeNpy(a);
  return {
    bucket: 'b',
    digest: createHash('sha256').update(b).digest('hex'),
    dtype: a.dtype,
    shape: [...a.shape],
    bytes: b.byteLength,
    ...(inline ? { inline: Buffer.from(b).toString('base64') } : {}),
  };
}

const okResult = (outputs: unknown[]): Record<string, unknown> => ({
  v: PROTOCOL_VERSION,
  jobId: 'j',
  shardId: 's0',
  attempt: 1,
  outputs,
  stats: { workerId: 'w', backend: 'wasm', deliveryCount: 1, computeMs: 1, fetchMs: 0, cacheHits: 0 },
});

describe('result checks (core/src/results.ts)', () => {
  it('npyBytesOf is the size the store writes, for every dtype and rank 0-4 (odd sizes, long dims)', () => {
    const shapes = [[], [0], [1], [7], [123456], [3, 5], [1, 0], [2, 3, 4], [10, 1, 99999], [1, 2, 3, 4]];
    for (const dtype of Object.keys(CTORS) as DType[]) {
      for (const shape of shapes) {
        const n = shape.reduce((a, b) => a * b, 1);
        const a = { dtype, shape, data: new CTORS[dtype](n) } as NdArray;
        assert.equal(npyBytesOf(dtype, shape), encodeNpy(a).byteLength, `${dtype} [${shape.join(',')}]`);
      }
    }
    assert.equal(npyBytesOf('f64', [2 ** 40, 2 ** 40]), undefined);
  });

  it('a well-formed result passes; inline and stored outputs alike', () => {
    const a: NdArray = { dtype: 'f32', shape: [3, 2], data: Float32Array.of(1, 2, 3, 4, 5, 6) };
    assert.equal(taskResultProblem(okResult([refOf(a), refOf(a, true)])), undefined);
  });

  it('a result whose output length, shape, dtype or fields disagree is named', () => {
    const a: NdArray = { dtype: 'f64', shape: [4], data: new Float64Array(4) };
    const r = refOf(a, true);
    const cases: [unknown, RegExp][] = [
      [okResult([{ ...r, shape: [5] }]), /outputs\[0\]\.bytes is .* not the .* \[5\]/],
      [okResult([{ ...r, dtype: 'f32' }]), /outputs\[0\]\.bytes/],
      [okResult([{ ...r, dtype: 'f16' }]), /dtype is not a dtype/],
      [okResult([{ ...r, inline: (r['inline'] as string).slice(4) }]), /inline holds/],
      [okResult([{ ...r, shape: [-1] }]), /shape is not a list of sizes/],
      [okResult([{ ...r, digest: 'x' }]), /digest is not a digest/],
      [{ ...okResult([]), shardId: 7 }, /shardId/],
      [{ ...okResult([]), attempt: 0 }, /attempt/],
      [{ ...okResult([]), v: PROTOCOL_VERSION + 1 }, /protocol version/],
      [{ ...okResult([]), stats: { workerId: 'w' } }, /stats/],
      [{ ...okResult([]), outputs: {} }, /outputs is not a list/],
      [{ ...okResult([]), error: { code: 1 } }, /error is not/],
      [null, /not an object/],
    ];
    for (const [x, re] of cases) assert.match(taskResultProblem(x) ?? '(accepted)', re);
  });

  it('reply frames are checked for shape, not for their results', () => {
    const f = { v: PROTOCOL_VERSION, workerId: 'w', pin: 'p', seen: 0, results: [{}], running: ['j/s0'] };
    assert.equal(replyFrameProblem(f), undefined);
    assert.match(replyFrameProblem({ ...f, running: [1] }) ?? '', /running/);
    assert.match(replyFrameProblem({ ...f, workerId: '' }) ?? '', /workerId/);
    assert.match(replyFrameProblem({ ...f, seen: -1 }) ?? '', /seen/);
  });

  it('verifySelected is deterministic and selects about the fraction asked for', () => {
    let n = 0;
    for (let i = 0; i < 10_000; i++) {
      const s = verifySelected('job-1', `s${i}`, 0.1);
      assert.equal(s, verifySelected('job-1', `s${i}`, 0.1));
      if (s) n++;
    }
    assert.ok(n > 800 && n < 1200, `${n} of 10000 selected at 0.1`);
    assert.equal(verifySelected('j', 's', 1), true);
    assert.equal(verifySelected('j', 's', 0), false);
    assert.equal(verifySelected('j', 's', undefined), false);
  });

  it('outputsDisagree: rounding differences agree (within the dtype tolerance), corruption and integer differences do not', () => {
    const f = (dtype: 'f64' | 'f32', xs: number[]): NdArray => ({ dtype, shape: [xs.length], data: new CTORS[dtype](xs) }) as NdArray;
    const base = [1, -2.5, 1e-6, 0, 3e5];
    for (const dtype of ['f64', 'f32'] as const) {
      const rtol = VERIFY_RTOL[dtype];
      assert.equal(outputsDisagree(f(dtype, base), f(dtype, base)), undefined);
      // A relative rounding difference well below rtol everywhere, and an absolute one near zero below rtol x 1e-3 x the largest element.
      const near = base.map((x) => (x === 0 ? 0.1 * rtol * 1e-3 * 3e5 : x * (1 + 0.1 * rtol)));
      assert.equal(outputsDisagree(f(dtype, base), f(dtype, near)), undefined, dtype);
      // What the test-only corruption does (x -> x + 1 + |x|) to one element, and a NaN where there was none.
      assert.match(outputsDisagree(f(dtype, base), f(dtype, [3, ...base.slice(1)])) ?? '', /element 0 is 1 against 3/);
      assert.match(outputsDisagree(f(dtype, base), f(dtype, [...base.slice(0, 4), Number.NaN])) ?? '', /element 4/);
      assert.match(
        outputsDisagree(
          f(dtype, base),
          f(
            dtype,
            base.map((x) => x * (1 + 10 * rtol)),
          ),
        ) ?? '',
        /beyond rtol/,
      );
    }
    assert.match(outputsDisagree(f('f64', [1, 2]), f('f32', [1, 2])) ?? '', /dtype/);
    assert.match(outputsDisagree(f('f64', [1, 2]), { dtype: 'f64', shape: [2, 1], data: Float64Array.of(1, 2) }) ?? '', /shape/);
    const i = (xs: number[]): NdArray => ({ dtype: 'i32', shape: [xs.length], data: Int32Array.from(xs) });
    assert.equal(outputsDisagree(i([1, 2, 3]), i([1, 2, 3])), undefined);
    assert.match(outputsDisagree(i([1, 2, 3]), i([1, 2, 4])) ?? '', /element 2 is 3 against 4/);
  });

  it("grf-walks output schema: the reference's outputs fit; another range, dtype, count or a data/indices length mismatch does not", () => {
    // A 4-node ring, origins 1..3, two streams.
    const indptr = Int32Array.of(0, 2, 4, 6, 8);
    const indices = Int32Array.of(1, 3, 0, 2, 1, 3, 0, 2);
    const w = new Float64Array(8).fill(0.2);
    const attrs = grfWalksOp.parseAttrs({ seed: 3, walks: 4, pHalt: 0.5, f: [1, 0.5, 0.25], streams: [0, 1], variance: 'none', nodeStart: 1, nodeEnd: 3 });
    const outs = grfWalksOp.reference(attrs, [
      { dtype: 'i32', shape: [5], data: indptr },
      { dtype: 'i32', shape: [8], data: indices },
      { dtype: 'f64', shape: [8], data: w },
    ]);
    assert.equal(grfWalksOutputsProblem(attrs, outs), undefined);
    assert.match(grfWalksOutputsProblem({ ...attrs, nodeEnd: 4 }, outs) ?? '', /stream 0 indptr is i32 \[3\], not i32 \[4\]/);
    assert.match(grfWalksOutputsProblem(attrs, outs.slice(0, 3)) ?? '', /3 outputs, not 3 per stream \(6\)/);
    const k = outs[4]!.shape[0]!;
    assert.match(grfWalksOutputsProblem(attrs, [...outs.slice(0, 5), { dtype: 'f64', shape: [k + 1] }]) ?? '', /stream 1 data is f64 \[\d+\], not f64/);
    assert.match(grfWalksOutputsProblem(attrs, [...outs.slice(0, 5), { dtype: 'f32', shape: [k] }]) ?? '', /stream 1 data is f32/);
  });

  it('compileVerifyFraction takes [0, 1] and names the field and bound otherwise', () => {
    assert.equal(compileVerifyFraction(undefined), undefined);
    assert.equal(compileVerifyFraction(0.25), 0.25);
    for (const [v, code] of [
      [1.5, 'INPUT_OUT_OF_RANGE'],
      [-0.1, 'INPUT_OUT_OF_RANGE'],
      [Number.NaN, 'INPUT_OUT_OF_RANGE'],
      ['0.5', 'INPUT_INVALID'],
    ] as const) {
      assert.throws(
        () => compileVerifyFraction(v, 'spec.verify'),
        (e: unknown) => isGramfleetError(e) && e.code === code && e.message.includes('spec.verify'),
      );
    }
  });
});
