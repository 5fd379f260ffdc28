/**
 * Property targets for every parser of outside data: each pairs a fast-check arbitrary of
 * hostile inputs (random bytes, and valid files broken by byte flips, truncations and lying
 * length fields) with a check that the parser either returns something consistent or throws a
 * typed `GramfleetError` of an expected code — never a `RangeError`, `TypeError`, a hang or an
 * allocation beyond its budget — and that `__proto__` keys stay inert.
 *
 * `parsers.test.ts` runs a seeded slice of each in `npm test`; `scripts/fuzz-parsers.js` runs
 * many more cases (`node scripts/fuzz-parsers.js 1000000`).
 */
import * as fc from 'fast-check';
import * as assert from 'node:assert/strict';
import { deflateRawSync, gzipSync } from 'node:zlib';
import {
  allocTyped,
  checkUserModule,
  compileCampaignSpec,
  decodeNpy,
  encodeNpy,
  inspectWasm,
  isGramfleetError,
  ndarray,
  parseUserWasmAttrs,
  type ErrorCode,
} from '@gramfleet/core';
import { decodeNpz, encodeNpz, type NpzValue } from '@gramfleet/orchestrator';
import { decodeGraph, decodeNpyValue, decodeRows, parseCampaignText, readZip, writeZip } from '@gramfleet/orchestrator/internal';

/** One parser under test. */
export interface ParserTarget<T = unknown> {
  readonly name: string;
  readonly arb: fc.Arbitrary<T>;
  /** Runs the parser on one input and checks what it did (throws on a violated property); true when the parser accepted the input. */
  readonly check: (input: T) => boolean;
}

/** Memory budget the parsers are given in these properties: small, so a lying size is refused quickly. */
export const FUZZ_BUDGET = 1 << 20;

/**
 * Runs `f`; a throw must be a `GramfleetError` with one of `codes`. Returns the value, or
 * undefined when it threw.
 */
export function onlyTyped<R>(codes: readonly ErrorCode[], f: () => R): R | undefined {
  try {
    return f();
  } catch (e) {
    if (!isGramfleetError(e))
      throw new Error(`threw a ${(e as Error)?.constructor?.name ?? typeof e}, not a GramfleetError: ${String((e as Error)?.stack ?? e)}`);
    if (!codes.includes(e.code)) throw new Error(`threw ${e.code}, expected one of ${codes.join('|')}: ${e.message}`);
    return undefined;
  }
}

/** Object.prototype is as it was (no parser set a property on it). */
export function prototypeIntact(): void {
  const probe: Record<string, unknown> = {};
  assert.equal(Object.getPrototypeOf(probe), Object.prototype);
  for (const k of ['polluted', 'x', 'a', 'shape', 'data', 'walks']) assert.equal(probe[k], undefined, `Object.prototype.${k} was set`);
}

// ---- byte mutations ----------------------------------------------------------------------

/** A change to a valid file: flip bytes, overwrite a u32 with an extreme value, truncate. */
type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly value: number }
  | { readonly kind: 'u32'; readonly at: number; readonly value: number }
  | { readonly kind: 'cut'; readonly at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('u32' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 1 << 30), fc.nat()),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
);

/** `bytes` with the mutations applied (positions taken modulo the length). */
export function mutate(bytes: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = bytes.slice();
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] = m.value;
    else if (m.kind === 'cut') b = b.slice(0, at);
    else if (at + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(at, m.value >>> 0, true);
  }
  return b;
}

/** Valid inputs from `valid`, each broken by 0–4 mutations; plus plain random bytes. */
function broken(valid: fc.Arbitrary<Uint8Array>, maxRandom = 96): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandom }) },
    { weight: 1, arbitrary: valid },
    { weight: 4, arbitrary: fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([b, ms]) => mutate(b, ms)) },
  );
}

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

// ---- .npy ----------------------------------------------------------------------------------

const NPY_DESCRS = ['<f8', '<f4', '<i4', '<u4', '|u1', '<u1', '<i8', '<u8', '|b1', '|S3', '|S0', '<U2', '>U1', '<f2', 'constructor', '__proto__', 'toString'];

/** A dimension as written in a header: small, or large enough to overflow a product. */
const dimText = fc.oneof(
  { weight: 6, arbitrary: fc.nat(4).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('2147483647', '4294967296', '9007199254740993', '99999999999999999', '1e3', '-1', '3L', ' 2 ', '') },
);

/** `.npy` bytes: a header (maybe lying) and a body of random bytes. */
const npyFile: fc.Arbitrary<Uint8Array> = fc
  .record({
    major: fc.constantFrom(1, 2, 3, 1, 2, 4),
    descr: fc.constantFrom(...NPY_DESCRS),
    fortran: fc.constantFrom('False', 'False', 'True', 'maybe'),
    shape: fc.array(dimText, { maxLength: 4 }),
    body: fc.uint8Array({ maxLength: 80 }),
  })
  .map(({ major, descr, fortran, shape, body }) => {
    const header = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }\n`;
    const pre = major === 1 ? 10 : 12;
    const out = new Uint8Array(pre + header.length + body.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
    const v = new DataView(out.buffer);
    if (major === 1) v.setUint16(8, header.length, true);
    else v.setUint32(8, header.length, true);
    out.set(latin1(header), pre);
    out.set(body, pre + header.length);
    return out;
  });

/** Encodings of real arrays (so the mutations start from something a reader accepts). */
const npyReal: fc.Arbitrary<Uint8Array> = fc
  .record({
    dtype: fc.constantFrom('f64' as const, 'f32' as const, 'i32' as const, 'u32' as const, 'u8' as const),
    shape: fc.array(fc.nat(3), { maxLength: 3 }),
  })
  .map(({ dtype, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = allocTyped(dtype, n);
    for (let i = 0; i < n; i++) data[i] = i % 200;
    return encodeNpy(ndarray(dtype, shape, data));
  });

const npyInputs = broken(fc.oneof(npyFile, npyReal));

function checkNpyValue(v: NpzValue, input: Uint8Array): void {
  const n = v.shape.reduce((a, b) => a * b, 1);
  assert.equal(v.data.length, n, 'elements = product of the shape');
  // What was allocated is bounded by the input (numbers are at most as wide as their bytes, strings one per byte at least).
  assert.ok(n <= input.length * 8 + 8, `${n} elements from ${input.length} bytes`);
}

// ---- zip / npz -------------------------------------------------------------------------------

const entryName = fc.oneof(
  fc.constantFrom('a.npy', 'b.npy', '__proto__.npy', 'constructor.npy', '__proto__', 'labels.npy', 'format.npy'),
  fc.string({ maxLength: 12 }),
);

const zipReal: fc.Arbitrary<Uint8Array> = fc
  .record({
    entries: fc.array(fc.record({ name: entryName, data: fc.oneof(fc.uint8Array({ maxLength: 64 }), npyReal) }), { maxLength: 3 }),
    compress: fc.boolean(),
  })
  .map(({ entries, compress }) => writeZip(entries, { compress }));

const npzReal: fc.Arbitrary<Uint8Array> = fc
  .record({
    names: fc.uniqueArray(fc.constantFrom('a', 'b', '__proto__', 'constructor', 'indptr', 'indices', 'data', 'shape', 'format', 'labels'), { maxLength: 4 }),
    compress: fc.boolean(),
  })
  .map(({ names, compress }) => {
    const arrays = Object.create(null) as Record<string, NpzValue>;
    names.forEach((k, i) => {
      arrays[k] =
        k === 'format'
          ? { dtype: 'bytes', itemSize: 3, shape: [], data: ['csr'] }
          : ndarray(
              'i32',
              [i + 1],
              Int32Array.from({ length: i + 1 }, (_, j) => j),
            );
    });
    return encodeNpz(arrays, { compress });
  });

const zipInputs = broken(fc.oneof(zipReal, npzReal), 128);

// ---- graphs ----------------------------------------------------------------------------------

const graphNumber = fc.oneof(
  { weight: 8, arbitrary: fc.nat(40).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('0', '-1', '2147483647', '2147483648', '99999999999', '1.5', 'nan', 'inf', '1e309', '') },
);
const graphLine = fc.oneof(
  { weight: 6, arbitrary: fc.array(graphNumber, { minLength: 1, maxLength: 4 }).map((ns) => ns.join(' ')) },
  { weight: 1, arbitrary: fc.constantFrom('# comment', '%', '% comment', '', '   ', '\t1\t2', '1,2') },
  { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
);
const MTX_BANNERS = [
  '%%MatrixMarket matrix coordinate real symmetric',
  '%%MatrixMarket matrix coordinate real general',
  '%%MatrixMarket matrix coordinate pattern symmetric',
  '%%MatrixMarket matrix coordinate integer general',
  '%%MatrixMarket matrix array real general',
  '%%MatrixMarket matrix coordinate complex hermitian',
  '%%MatrixMarket vector coordinate real general',
];
const adjlistText = fc.array(graphLine, { maxLength: 12 }).map((ls) => ls.join('\n'));
const mtxText = fc.tuple(fc.constantFrom(...MTX_BANNERS), fc.array(graphLine, { maxLength: 12 })).map(([banner, ls]) => [banner, ...ls].join('\n'));

/** A graph file: its name (which picks the format) and bytes. */
export interface GraphInput {
  readonly file: string;
  readonly bytes: Uint8Array;
}
const graphInputs: fc.Arbitrary<GraphInput> = fc.oneof(
  adjlistText.map((t) => ({ file: 'g.adjlist', bytes: new TextEncoder().encode(t) })),
  mtxText.map((t) => ({ file: 'g.mtx', bytes: new TextEncoder().encode(t) })),
  zipInputs.map((b) => ({ file: 'g.npz', bytes: b })),
  fc.uint8Array({ maxLength: 64 }).map((b) => ({ file: 'g.bin', bytes: b })),
);

// ---- EigenPro data files (IDX, .npy, CSV; gzipped or not) ------------------------------------

const idxFile: fc.Arbitrary<Uint8Array> = fc
  .record({
    type: fc.constantFrom(0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x0a, 0x07),
    dims: fc.array(fc.oneof(fc.nat(4), fc.constantFrom(0xffffffff, 1 << 20, 65536)), { maxLength: 4 }),
    body: fc.uint8Array({ maxLength: 96 }),
  })
  .map(({ type, dims, body }) => {
    const out = new Uint8Array(4 + 4 * dims.length + body.length);
    out.set([0, 0, type, dims.length]);
    const v = new DataView(out.buffer);
    dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
    out.set(body, 4 + 4 * dims.length);
    return out;
  });
const csvCell = fc.oneof(
  { weight: 6, arbitrary: fc.double({ noDefaultInfinity: false }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('nan', 'NaN', 'x', '', '1e999', '-0', '0x10', 'label') },
);
const csvText = fc
  .array(fc.array(csvCell, { minLength: 1, maxLength: 4 }), { maxLength: 8 })
  .chain((rows) => fc.constantFrom(',', ';', '\t', ' ').map((sep) => rows.map((r) => r.join(sep)).join('\n')))
  .map((t) => new TextEncoder().encode(t));
/** gzip of `b`, its trailer sometimes lying about the size. */
const gzipped = (b: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc.tuple(b, fc.option(fc.oneof(fc.nat(), fc.constantFrom(0, 0xffffffff, FUZZ_BUDGET + 1)))).map(([raw, isize]) => {
    const z = new Uint8Array(gzipSync(raw));
    if (isize !== null && z.length >= 4) new DataView(z.buffer, z.byteOffset).setUint32(z.length - 4, isize >>> 0, true);
    return z;
  });
const rowsValid = fc.oneof(idxFile, csvText, npyReal, npyFile);
const rowsInputs = broken(fc.oneof(rowsValid, gzipped(rowsValid)));

// ---- campaign specs (YAML / JSON text, then the compiled spec; a KernelCampaign's spec is the same object) ----

const SPEC_KEYS = ['id', 'name', 'concurrency', 'retry', 'runTimeoutMs', 'runs', 'grid', '__proto__', 'constructor', 'prototype'];
const PARAM_KEYS = ['kind', 'graph', 'kernel', 'scale', 'pHalt', 'walks', 'seed', 'out', 'pde', 'grid', 'count', '__proto__', 'constructor', 'toString'];
const leaf = fc.oneof(
  fc.constantFrom('grf', 'datagen', 'eigenpro', 'kron-gp', 'reg-laplacian', 'karate.adjlist', 0.25, 0.5, 16, 1, 0, -1, 1e300, true, null),
  fc.string({ maxLength: 6 }),
  fc.integer(),
  fc.double(),
);
const paramValue: fc.Arbitrary<unknown> = fc.oneof({ weight: 4, arbitrary: leaf }, { weight: 1, arbitrary: fc.array(leaf, { maxLength: 3 }) });
const params = fc.dictionary(fc.constantFrom(...PARAM_KEYS), paramValue, { maxKeys: 6 });
const specObject: fc.Arbitrary<unknown> = fc.oneof(
  fc.record(
    {
      id: fc.oneof(fc.constantFrom('c1', 'a-b_c', '', '../x', 'x'.repeat(70)), fc.string({ maxLength: 8 })),
      concurrency: leaf,
      retry: fc.oneof(leaf, fc.dictionary(fc.constantFrom('maxAttempts', 'backoffMs', '__proto__'), leaf, { maxKeys: 2 })),
      runs: fc.oneof(leaf, fc.array(fc.oneof(params, leaf), { maxLength: 3 })),
      grid: fc.oneof(
        leaf,
        fc.record(
          {
            kind: leaf,
            base: fc.oneof(params, leaf),
            axes: fc.oneof(leaf, fc.dictionary(fc.constantFrom(...PARAM_KEYS), fc.oneof(fc.array(leaf, { maxLength: 3 }), leaf), { maxKeys: 3 })),
          },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.constantFrom(...SPEC_KEYS), paramValue, { maxKeys: 4 }),
  leaf,
);
/** A valid GRF campaign with one field changed (in a list run, the grid's base or its axes), or none. */
const nearValid: fc.Arbitrary<unknown> = fc
  .record({
    where: fc.constantFrom('none', 'run', 'base', 'axis', 'top'),
    key: fc.constantFrom(...PARAM_KEYS, ...SPEC_KEYS),
    value: paramValue,
    walks: fc.array(fc.integer({ min: -2, max: 100 }), { minLength: 1, maxLength: 3 }),
  })
  .map(({ where, key, value, walks }) => {
    const grf: Record<string, unknown> = { graph: 'g.adjlist', kernel: 'reg-laplacian', scale: 0.25, pHalt: 0.5 };
    const spec: Record<string, unknown> = { id: 'near', runs: [{ kind: 'grf', ...grf, walks: 2 }], grid: { kind: 'grf', base: { ...grf }, axes: { walks } } };
    const set = (o: Record<string, unknown>): void => void Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
    const grid = spec['grid'] as { base: Record<string, unknown>; axes: Record<string, unknown> };
    if (where === 'run') set((spec['runs'] as Record<string, unknown>[])[0]!);
    else if (where === 'base') set(grid.base);
    else if (where === 'axis') set(grid.axes);
    else if (where === 'top') set(spec);
    return spec;
  });

/** A spec as a file's text: JSON of a generated object, or YAML-ish text (valid or not). */
export interface SpecInput {
  readonly file: string;
  readonly text: string;
}
const yamlish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'id: c1',
        'grid:',
        '  kind: grf',
        '  base: { graph: g.adjlist, kernel: reg-laplacian, scale: 0.25, pHalt: 0.5 }',
        '  axes:',
        '    walks: [2, 4]',
        '    __proto__: [1]',
        '__proto__: { polluted: 1 }',
        'runs: [{ kind: grf, walks: 2 }]',
        'a: &a [1, 1, 1, 1]',
        'b: [*a, *a, *a, *a]',
        'c: [*b, *b, *b, *b]',
        'concurrency: 1e9',
        'id: c1',
        '!!js/function x',
        '<<: *a',
        '- ',
        '{',
      ),
      fc.string({ maxLength: 12 }),
    ),
    { maxLength: 10 },
  )
  .map((ls) => ls.join('\n'));
const specInputs: fc.Arbitrary<SpecInput> = fc.oneof(
  nearValid.map((o) => ({ file: 'c.json', text: JSON.stringify(o) ?? 'null' })),
  specObject.map((o) => ({ file: 'c.json', text: JSON.stringify(o) ?? 'null' })),
  fc.string({ maxLength: 40 }).map((t) => ({ file: 'c.json', text: t })),
  yamlish.map((t) => ({ file: 'c.yaml', text: t })),
);

// ---- user WebAssembly modules (the sandbox's inspection of uploaded bytes) --------------------

/** Unsigned LEB128. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}
const wasmName = fc.oneof(
  fc.constantFrom('env', 'memory', 'abort', 'wasi_snapshot_preview1', 'fd_write', 'alloc', '__heap_base', 'f', 'run'),
  fc.string({ maxLength: 6 }),
);
const wasmLimits = fc
  .tuple(fc.boolean(), fc.oneof(fc.nat(4), fc.constantFrom(65536, 2 ** 32)), fc.nat(70))
  .map(([hasMax, min, max]) => (hasMax ? [1, ...leb(min), ...leb(max)] : [0, ...leb(min)]));
const wasmImport = fc.tuple(wasmName, wasmName, fc.integer({ min: 0, max: 5 }), wasmLimits, fc.nat(3)).map(([m, n, kind, lim, idx]) => {
  const enc = (s: string): number[] => {
    const b = [...new TextEncoder().encode(s)];
    return [...leb(b.length), ...b];
  };
  const desc = kind === 0 ? leb(idx) : kind === 1 ? [0x70, ...lim] : kind === 2 ? lim : kind === 3 ? [0x7f, 0] : kind === 4 ? [0, ...leb(idx)] : [];
  return [...enc(m), ...enc(n), kind, ...desc];
});
const wasmExport = fc.tuple(wasmName, fc.integer({ min: 0, max: 5 }), fc.nat(3)).map(([n, kind, idx]) => {
  const b = [...new TextEncoder().encode(n)];
  return [...leb(b.length), ...b, kind, ...leb(idx)];
});
const section = (id: number, items: number[][]): number[] => {
  const body = [...leb(items.length), ...items.flat()];
  return [id, ...leb(body.length), ...body];
};
const wasmModule: fc.Arbitrary<Uint8Array> = fc
  .record({
    imports: fc.array(wasmImport, { maxLength: 3 }),
    memories: fc.array(wasmLimits, { maxLength: 2 }),
    exports: fc.array(wasmExport, { maxLength: 3 }),
    other: fc.uint8Array({ maxLength: 8 }),
  })
  .map(({ imports, memories, exports, other }) =>
    Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...section(2, imports), ...section(5, memories), ...section(7, exports), ...section(0, [[...other]])]),
  );
const wasmInputs = broken(wasmModule);

// ---- the targets -------------------------------------------------------------------------------

/** A target of any input type, for the list. */
function target<T>(t: ParserTarget<T>): ParserTarget {
  return t as unknown as ParserTarget;
}

/** Every parser of outside data, with its hostile inputs and properties. */
export const PARSER_TARGETS: readonly ParserTarget[] = [
  target({
    name: 'npy (core decodeNpy, v1-v3 headers)',
    arb: npyInputs,
    check: (b: Uint8Array) => {
      const a = onlyTyped(['INPUT_FILE_UNREADABLE'], () => decodeNpy(b, 'f.npy'));
      if (a !== undefined) checkNpyValue(a, b);
      return a !== undefined;
    },
  }),
  target({
    name: 'npy with strings (decodeNpyValue)',
    arb: npyInputs,
    check: (b: Uint8Array) => {
      const a = onlyTyped(['INPUT_FILE_UNREADABLE'], () => decodeNpyValue(b, 'f.npy'));
      if (a !== undefined) checkNpyValue(a, b);
      return a !== undefined;
    },
  }),
  target({
    name: 'zip (readZip)',
    arb: zipInputs,
    check: (b: Uint8Array) => {
      const es = onlyTyped(['INPUT_FILE_UNREADABLE', 'INPUT_TOO_LARGE'], () => readZip(b, 'f.zip', { maxBytes: FUZZ_BUDGET }));
      if (es !== undefined) assert.ok(es.reduce((s, e) => s + e.data.length, 0) <= FUZZ_BUDGET);
      return es !== undefined;
    },
  }),
  target({
    name: 'npz (decodeNpz)',
    arb: zipInputs,
    check: (b: Uint8Array) => {
      const r = onlyTyped(['INPUT_FILE_UNREADABLE', 'INPUT_TOO_LARGE'], () => decodeNpz(b, 'f.npz', { maxBytes: FUZZ_BUDGET }));
      if (r !== undefined) assert.equal(Object.getPrototypeOf(r), null, 'the record of arrays has no prototype');
      prototypeIntact();
      return r !== undefined;
    },
  }),
  target({
    name: 'graph files (adjlist, MatrixMarket, scipy .npz)',
    arb: graphInputs,
    check: (g: GraphInput) => {
      const r = onlyTyped(
        [
          'INPUT_FILE_UNREADABLE',
          'INPUT_TOO_LARGE',
          'INPUT_SHAPE_MISMATCH',
          'INPUT_NOT_SQUARE',
          'INPUT_ASYMMETRIC',
          'INPUT_NEGATIVE_WEIGHT',
          'INPUT_NOT_FINITE',
          'INPUT_INVALID',
          'INPUT_OUT_OF_RANGE',
        ],
        () => decodeGraph(g.bytes, g.file, { maxBytes: FUZZ_BUDGET }),
      );
      if (r !== undefined) {
        const n = r.csr.shape[0];
        assert.equal(r.csr.indptr.length, n + 1);
        assert.equal(r.csr.indices.length, r.csr.data.length);
        assert.ok((n + 1) * 4 + r.csr.indices.length * 12 <= FUZZ_BUDGET + 64);
      }
      prototypeIntact();
      return r !== undefined;
    },
  }),
  target({
    name: 'EigenPro data files (IDX, .npy, CSV, gzip)',
    arb: rowsInputs,
    check: (b: Uint8Array) => {
      const r = onlyTyped(['INPUT_FILE_UNREADABLE', 'INPUT_TOO_LARGE'], () => decodeRows(b, 'x.dat', { maxBytes: FUZZ_BUDGET }));
      if (r !== undefined) {
        assert.equal(r.data.length, r.rows * r.cols);
        assert.ok(r.data.length * 8 <= 4 * Math.max(b.length, FUZZ_BUDGET) + 64 * 2 ** 20);
      }
      return r !== undefined;
    },
  }),
  target({
    name: 'campaign spec (YAML/JSON text, compileCampaignSpec; also the KernelCampaign spec)',
    arb: specInputs,
    check: (s: SpecInput) => {
      const raw = onlyTyped(['INPUT_FILE_UNREADABLE'], () => parseCampaignText(s.text, s.file));
      if (raw !== undefined) {
        const c = onlyTyped(['INPUT_INVALID', 'INPUT_OUT_OF_RANGE', 'INPUT_NOT_FINITE'], () => compileCampaignSpec(raw, 'c-default'));
        if (c !== undefined) {
          assert.ok(Object.isFrozen(c));
          assert.ok(c.runsTotal >= 1);
          return true;
        }
      }
      prototypeIntact();
      return false;
    },
  }),
  target({
    name: 'user WebAssembly modules (inspectWasm, checkUserModule) and task attributes',
    arb: fc.tuple(wasmInputs, fc.dictionary(fc.constantFrom('fn', 'memoryPages', 'timeoutMs', 'outLen', 'inline', '__proto__'), paramValue, { maxKeys: 5 })),
    check: ([b, attrs]: [Uint8Array, Record<string, unknown>]) => {
      const info = onlyTyped(['KERNEL_BAD_MODULE'], () => inspectWasm(b));
      if (info !== undefined) onlyTyped(['KERNEL_BAD_MODULE', 'KERNEL_SANDBOX_DENIED', 'KERNEL_USER_MEMORY_LIMIT'], () => checkUserModule(info, ['f'], 16));
      onlyTyped(['INPUT_INVALID', 'INPUT_OUT_OF_RANGE', 'INPUT_NOT_FINITE'], () => parseUserWasmAttrs(attrs));
      prototypeIntact();
      return info !== undefined;
    },
  }),
];

/** The deflate bytes of `chunks` MiB of zeros, built from one flushed MiB repeated: a cheap, real bomb. */
export function zeroDeflate(chunks: number): Uint8Array {
  const mib = new Uint8Array(1 << 20);
  const block = deflateRawSync(mib, { finishFlush: 2 /* Z_SYNC_FLUSH */ });
  const tail = deflateRawSync(new Uint8Array(0));
  const out = new Uint8Array(block.length * chunks + tail.length);
  for (let i = 0; i < chunks; i++) out.set(block, i * block.length);
  out.set(tail, block.length * chunks);
  return out;
}
