/**
 * Checks on what workers send back, and the verification mode's choice of shards.
 *
 * An owner (workers/src/dataplane/lanes.ts) accepts a result only if it decodes against the
 * {@link TaskResult} schema ({@link taskResultProblem}) inside a well-formed {@link ReplyFrame}
 * ({@link replyFrameProblem}), and names a try of a task the owner sent to the worker that sent
 * it. Anything else is counted, logged and dropped; the shard's real answer still counts (or the
 * owner runs it again).
 *
 * Verification (`verify` in a job spec, `--verify FRACTION` on the command line, per campaign):
 * the shards with {@link verifySelected} true run a second time on a different worker, and
 * their digests must agree (`VERIFY_MISMATCH` otherwise). The choice depends only on the job id,
 * the shard id and the fraction, so a retried activity or a rerun checks the same shards.
 */
import { dtypeSize, type DType, type NdArray } from './array';
import { outOfRange, invalidField } from './errors';
import { PROTOCOL_VERSION, type ReplyFrame, type TaskResult } from './protocol';

const DTYPES = new Set(['f64', 'f32', 'i32', 'u32', 'u8']);
const DESCR_LEN = 3; // '<f8', '<f4', '<i4', '<u4', '|u1'

/**
 * The size of the `.npy` v1 bytes the array store writes for (dtype, shape) (core/src/array.ts
 * npyHeader: a 10-byte preamble and the header dictionary padded to a multiple of 64), or
 * undefined when the element count is not a safe integer.
 */
export function npyBytesOf(dtype: DType, shape: readonly number[]): number | undefined {
  let n = 1;
  let shapeLen = 2; // the parentheses
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i] as number;
    n *= d;
    shapeLen += decimalDigits(d) + (i > 0 ? 2 : 0);
  }
  if (shape.length === 1) shapeLen += 1; // '(n,)'
  if (!Number.isSafeInteger(n)) return undefined;
  // {'descr': 'XXX', 'fortran_order': False, 'shape': SHAPE, }
  const dict = 11 + DESCR_LEN + 37 + shapeLen + 3;
  const total = 10 + dict + 1;
  return total + ((64 - (total % 64)) % 64) + n * dtypeSize(dtype);
}
const DIGEST = /^(t1-)?[0-9a-f]{64}$/;

/** Digits of a non-negative integer written in decimal (as String(d).length, without the string). */
function decimalDigits(d: number): number {
  let k = 1;
  for (let x = d; x >= 10; x = Math.floor(x / 10)) k++;
  return k;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isNum = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);

/** Why `x` is not an array reference, or undefined when it is one. */
export function arrayRefProblem(x: unknown, where: string): string | undefined {
  const p = refProblem(x);
  return p === undefined ? undefined : `${where}${p}`;
}

/** {@link arrayRefProblem} with the problem's text relative to the reference (built only on failure: results are checked on the task path). */
function refProblem(x: unknown): string | undefined {
  if (!isObj(x)) return ' is not an object';
  if (typeof x['bucket'] !== 'string') return '.bucket is not a string';
  if (typeof x['digest'] !== 'string' || !DIGEST.test(x['digest'])) return '.digest is not a digest';
  if (typeof x['dtype'] !== 'string' || !DTYPES.has(x['dtype'])) return '.dtype is not a dtype';
  const shape = x['shape'];
  if (!Array.isArray(shape)) return '.shape is not a list of sizes';
  for (let i = 0; i < shape.length; i++) if (!isCount(shape[i])) return '.shape is not a list of sizes';
  if (!isCount(x['bytes'])) return '.bytes is not a size';
  const inline = x['inline'];
  if (inline !== undefined && typeof inline !== 'string') return '.inline is not base64 text';
  const patch = x['patch'];
  if (patch !== undefined) {
    if (!isObj(patch) || typeof patch['base'] !== 'string' || !DIGEST.test(patch['base'])) return '.patch.base is not a digest';
    const p = refProblem(patch['rows']);
    return p === undefined ? undefined : `.patch.rows${p}`;
  }
  // The length agrees with dtype and shape: the .npy size, and the inline text's.
  const want = npyBytesOf(x['dtype'] as DType, shape as number[]);
  if (want !== x['bytes']) return `.bytes is ${String(x['bytes'])}, not the ${String(want)} of a ${String(x['dtype'])} [${shape.join(', ')}] array`;
  if (inline !== undefined && inline.length !== 4 * Math.ceil(want / 3))
    return `.inline holds ${inline.length} base64 characters, not the ${4 * Math.ceil(want / 3)} of ${want} bytes`;
  return undefined;
}

const STATS_REQUIRED = ['deliveryCount', 'computeMs', 'fetchMs', 'cacheHits'] as const;
const STATS_OPTIONAL = ['rowHits', 'rowMisses', 'mirroredEntries'] as const;

/** Why `x` is not a {@link TaskResult} of this protocol version, or undefined when it is one. */
export function taskResultProblem(x: unknown): string | undefined {
  if (!isObj(x)) return 'the result is not an object';
  if (x['v'] !== PROTOCOL_VERSION) return `the result's protocol version is ${String(x['v'])}, not ${PROTOCOL_VERSION}`;
  if (typeof x['jobId'] !== 'string' || x['jobId'] === '') return 'jobId is not a non-empty string';
  if (typeof x['shardId'] !== 'string' || x['shardId'] === '') return 'shardId is not a non-empty string';
  if (!isCount(x['attempt']) || x['attempt'] < 1) return 'attempt is not an integer >= 1';
  const outputs = x['outputs'];
  if (!Array.isArray(outputs)) return 'outputs is not a list';
  for (let i = 0; i < outputs.length; i++) {
    const p = refProblem(outputs[i]);
    if (p !== undefined) return `outputs[${i}]${p}`;
  }
  const s = x['stats'];
  if (!isObj(s)) return 'stats is not an object';
  if (typeof s['workerId'] !== 'string' || typeof s['backend'] !== 'string') return 'stats.workerId or stats.backend is not a string';
  for (const k of STATS_REQUIRED) if (!isNum(s[k])) return `stats.${k} is not a number`;
  for (const k of STATS_OPTIONAL) if (s[k] !== undefined && !isNum(s[k])) return `stats.${k} is not a number`;
  const e = x['error'];
  if (e !== undefined) {
    if (!isObj(e) || typeof e['code'] !== 'string' || typeof e['message'] !== 'string') return 'error is not { code, message }';
    if (e['details'] !== undefined && !isObj(e['details'])) return 'error.details is not an object';
  }
  return undefined;
}

/** Why `x` is not a {@link ReplyFrame} of this protocol version (its results unchecked), or undefined. */
export function replyFrameProblem(x: unknown): string | undefined {
  if (!isObj(x)) return 'the frame is not an object';
  if (x['v'] !== PROTOCOL_VERSION) return `the frame's protocol version is ${String(x['v'])}, not ${PROTOCOL_VERSION}`;
  if (typeof x['workerId'] !== 'string' || x['workerId'] === '') return 'workerId is not a non-empty string';
  if (x['pin'] !== undefined && typeof x['pin'] !== 'string') return 'pin is not a string';
  if (!isCount(x['seen'])) return 'seen is not a count';
  if (!Array.isArray(x['results'])) return 'results is not a list';
  const running = x['running'];
  if (!Array.isArray(running) || !running.every((k) => typeof k === 'string')) return 'running is not a list of task keys';
  return undefined;
}

/** Narrowing form of {@link replyFrameProblem}. */
export function isReplyFrame(x: unknown): x is ReplyFrame {
  return replyFrameProblem(x) === undefined;
}

/** Narrowing form of {@link taskResultProblem}. */
export function isTaskResult(x: unknown): x is TaskResult {
  return taskResultProblem(x) === undefined;
}

/**
 * Validates a verification fraction: a number in [0, 1] (`INPUT_OUT_OF_RANGE` or `INPUT_INVALID`
 * naming `field` and the bound). Undefined stays undefined (no verification).
 */
export function compileVerifyFraction(value: unknown, field = 'verify'): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw invalidField(field, 'a number in [0, 1] (the fraction of shards run again on a second worker)', value);
  if (!(value >= 0 && value <= 1)) throw outOfRange(field, 'in [0, 1]', value);
  return value;
}

/**
 * Whether shard `shardId` of job `jobId` is checked under verification fraction `fraction`: the
 * FNV-1a hash of `jobId/shardId`, as a fraction of 2^32, is below `fraction` (so 1 checks every
 * shard, 0 none, and the same shards on every run of the job).
 */
export function verifySelected(jobId: string, shardId: string, fraction: number | undefined): boolean {
  if (fraction === undefined || !(fraction > 0)) return false;
  if (fraction >= 1) return true;
  let h = 0x811c9dc5;
  const s = `${jobId}/${shardId}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32 < fraction;
}

/** The workload parameter every kind takes (SDK spec, campaign run, KernelCampaign): see {@link compileVerifyFraction}. */
export const VERIFY_PARAM = {
  type: 'number',
  description: 'fraction in [0, 1] of shards run again on a second worker; differing digests fail the job with VERIFY_MISMATCH (default 0)',
} as const;

/**
 * Relative tolerance of a verification compare whose digests differ, by dtype: a backend whose
 * kernels are not bit-reproducible (GPU reductions in another order) differs by rounding, a
 * faulty or dishonest worker by more. Integers must be equal.
 */
export const VERIFY_RTOL: Readonly<Record<'f64' | 'f32', number>> = { f64: 1e-9, f32: 1e-4 };

/**
 * Why two outputs of the same shard, run on two workers, disagree beyond {@link VERIFY_RTOL}, or
 * undefined when they agree: same dtype and shape, NaN in the same places, and every element
 * within rtol · max(|x|, |y|, 1e-3 · the largest |element|) (integers: equal).
 */
export function outputsDisagree(a: NdArray, b: NdArray): string | undefined {
  if (a.dtype !== b.dtype) return `dtype ${a.dtype} against ${b.dtype}`;
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return `shape [${a.shape.join(', ')}] against [${b.shape.join(', ')}]`;
  const x = a.data;
  const y = b.data;
  if (a.dtype !== 'f64' && a.dtype !== 'f32') {
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `element ${i} is ${String(x[i])} against ${String(y[i])}`;
    return undefined;
  }
  const rtol = VERIFY_RTOL[a.dtype];
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    const m = Math.max(Math.abs(x[i] as number), Math.abs(y[i] as number));
    if (m > scale && Number.isFinite(m)) scale = m;
  }
  const floor = 1e-3 * scale;
  for (let i = 0; i < x.length; i++) {
    const u = x[i] as number;
    const v = y[i] as number;
    if (Object.is(u, v) || u === v) continue;
    if (Number.isNaN(u) || Number.isNaN(v) || !Number.isFinite(u) || !Number.isFinite(v)) return `element ${i} is ${u} against ${v}`;
    if (Math.abs(u - v) > rtol * Math.max(Math.abs(u), Math.abs(v), floor)) return `element ${i} is ${u} against ${v} (beyond rtol ${rtol})`;
  }
  return undefined;
}
