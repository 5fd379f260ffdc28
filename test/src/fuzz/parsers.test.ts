/**
 * Parsers survive hostile input (issue 22 item 7): a seeded slice of the property targets in
 * ./parsers.ts (only typed GramfleetErrors, consistent results, inert `__proto__` keys), plus
 * the named attacks: a 12-byte `.npy` v2 whose header length is 2³²−1, an adjlist node id of
 * 2147483647, a 1 MB zip / gzip holding 1 GiB of zeros (refused before inflating, honest or
 * lying about its size), YAML alias expansion ("billion laughs"), and `__proto__` entries in
 * an `.npz` and in a campaign grid. `node scripts/fuzz-parsers.js N` runs N cases per target.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { crc32, gzipSync } from 'node:zlib';
import * as fc from 'fast-check';
import { compileCampaignSpec, decodeNpy, encodeNpy, isGramfleetError, ndarray, type ErrorCode } from '@gramfleet/core';
import { decodeNpz, parseAdjlist } from '@gramfleet/orchestrator';
import { decodeRows, gunzipBounded, parseCampaignText, readZip } from '@gramfleet/orchestrator/internal';
import { PARSER_TARGETS, prototypeIntact, zeroDeflate } from './parsers';

/** Cases per target in `npm test` (seeded: the same cases every run; scripts/fuzz-parsers.js runs more). */
const RUNS = 400;
const SEED = 22;

function throwsCode(f: () => unknown, code: ErrorCode, ...inMessage: string[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, code, e.message);
    for (const s of inMessage) assert.ok(e.message.includes(s), e.message);
    return true;
  });
}

/** A one-entry zip whose entry is `raw` deflate data declaring `usize` bytes (central directory + local header, no zip64). */
function zipOf(name: string, raw: Uint8Array, usize: number, crc: number): Uint8Array {
  const nameB = new TextEncoder().encode(name);
  const local = new Uint8Array(30 + nameB.length);
  const lv = new DataView(local.buffer);
  lv.setUint32(0, 0x04034b50, true);
  lv.setUint16(4, 20, true);
  lv.setUint16(8, 8, true);
  lv.setUint32(14, crc, true);
  lv.setUint32(18, raw.length, true);
  lv.setUint32(22, usize, true);
  lv.setUint16(26, nameB.length, true);
  local.set(nameB, 30);
  const central = new Uint8Array(46 + nameB.length);
  const cv = new DataView(central.buffer);
  cv.setUint32(0, 0x02014b50, true);
  cv.setUint16(4, 20, true);
  cv.setUint16(6, 20, true);
  cv.setUint16(10, 8, true);
  cv.setUint32(16, crc, true);
  cv.setUint32(20, raw.length, true);
  cv.setUint32(24, usize, true);
  cv.setUint16(28, nameB.length, true);
  cv.setUint32(42, 0, true);
  central.set(nameB, 46);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, 1, true);
  ev.setUint16(10, 1, true);
  ev.setUint32(12, central.length, true);
  ev.setUint32(16, local.length + raw.length, true);
  const out = new Uint8Array(local.length + raw.length + central.length + end.length);
  out.set(local, 0);
  out.set(raw, local.length);
  out.set(central, local.length + raw.length);
  out.set(end, local.length + raw.length + central.length);
  return out;
}

describe('parsers under hostile input (fast-check, seeded)', () => {
  for (const t of PARSER_TARGETS) {
    it(`${t.name}: only typed errors, consistent results (${RUNS} cases, seed ${SEED})`, () => {
      fc.assert(
        fc.property(t.arb, (x) => void t.check(x)),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    });
  }
});

describe('named attacks', () => {
  it('a 12-byte .npy v2 declaring a 2^32-1 byte header is refused at once', () => {
    const b = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0xff, 0xff, 0xff, 0xff]);
    throwsCode(() => decodeNpy(b, 'evil.npy'), 'INPUT_FILE_UNREADABLE', 'evil.npy', 'header of 4294967295 bytes');
  });

  it('a .npy whose shape multiplies past 2^53, or whose dtype names an Object property, is refused', () => {
    const good = encodeNpy(ndarray('f64', [1], new Float64Array([1])));
    const text = new TextDecoder('latin1').decode(good);
    const withShape = (s: string): Uint8Array =>
      Uint8Array.from(text.replace("'shape': (1,)", `'shape': (${s})`).padEnd(good.length, ' '), (c) => c.charCodeAt(0));
    throwsCode(() => decodeNpy(withShape('99999999, 99999999, 99'), 'big.npy'), 'INPUT_FILE_UNREADABLE', 'more than 2^53');
    const proto = Uint8Array.from(text.replace("'<f8'", "'constructor'"), (c) => c.charCodeAt(0));
    const v = new DataView(proto.buffer);
    v.setUint16(8, v.getUint16(8, true) + "'constructor'".length - "'<f8'".length, true);
    throwsCode(() => decodeNpy(proto, 'proto.npy'), 'INPUT_FILE_UNREADABLE', 'dtype constructor is not supported');
  });

  it('an adjlist naming node 2147483647 is INPUT_TOO_LARGE, not a 16 GiB allocation', () => {
    throwsCode(() => parseAdjlist('1 2147483647\n', 'evil.adjlist'), 'INPUT_TOO_LARGE', 'evil.adjlist');
  });

  it('a 1 MB zip holding 1 GiB of zeros is refused before inflating; one that understates its size stops at its claim', () => {
    const raw = zeroDeflate(1024); // 1 GiB of zeros
    assert.ok(raw.length < 2 * 2 ** 20, `${raw.length} compressed bytes`);
    // Honest sizes: over the budget (default 256 MiB) before anything is inflated.
    throwsCode(() => readZip(zipOf('a.npy', raw, 2 ** 30, 0), 'bomb.npz'), 'INPUT_TOO_LARGE', 'bomb.npz');
    throwsCode(() => decodeNpz(zipOf('a.npy', raw, 2 ** 30, 0), 'bomb.npz'), 'INPUT_TOO_LARGE');
    // Understated sizes: inflating stops one byte past the claim.
    throwsCode(() => readZip(zipOf('a.npy', raw, 1000, 0), 'liar.npz'), 'INPUT_FILE_UNREADABLE', 'liar.npz');
    // Overstated past what deflate can produce from that many bytes.
    throwsCode(() => readZip(zipOf('a.npy', raw.subarray(0, 100), 2 ** 28, 0), 'ratio.npz'), 'INPUT_FILE_UNREADABLE', 'more than deflate can produce');
  });

  it('a gzip holding 1 GiB of zeros is refused from its trailer; a lying trailer stops at its claim', () => {
    const raw = zeroDeflate(1024);
    const gz = (isize: number): Uint8Array => {
      const out = new Uint8Array(10 + raw.length + 8);
      out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
      out.set(raw, 10);
      const v = new DataView(out.buffer);
      v.setUint32(10 + raw.length, 0, true);
      v.setUint32(14 + raw.length, isize, true);
      return out;
    };
    throwsCode(() => gunzipBounded(gz(2 ** 30), 'bomb.idx.gz'), 'INPUT_TOO_LARGE', 'bomb.idx.gz');
    throwsCode(() => decodeRows(gz(2 ** 30), 'bomb.idx.gz'), 'INPUT_TOO_LARGE');
    throwsCode(() => decodeRows(gz(4096), 'liar.idx.gz'), 'INPUT_FILE_UNREADABLE', 'more than the 4096 bytes');
  });

  it('__proto__ entries in an .npz are plain keys', () => {
    const body = encodeNpy(ndarray('i32', [2], new Int32Array([1, 2])));
    const r = decodeNpz(storedZip('__proto__.npy', body), 'p.npz');
    assert.equal(Object.getPrototypeOf(r), null);
    assert.ok(Object.prototype.hasOwnProperty.call(r, '__proto__'));
    prototypeIntact();
  });

  it('__proto__ in a campaign grid or base is an unknown parameter, not a prototype', () => {
    for (const text of [
      '{"id":"p1","grid":{"kind":"grf","base":{"graph":"g.adjlist","kernel":"reg-laplacian","scale":0.25,"pHalt":0.5},"axes":{"walks":[2],"__proto__":[{"polluted":1}]}}}',
      '{"id":"p2","grid":{"kind":"grf","base":{"graph":"g.adjlist","kernel":"reg-laplacian","scale":0.25,"pHalt":0.5,"__proto__":{"polluted":1}},"axes":{"walks":[2]}}}',
    ]) {
      throwsCode(() => compileCampaignSpec(parseCampaignText(text, 'c.json')), 'INPUT_INVALID', '__proto__');
      prototypeIntact();
    }
  });

  it('YAML alias expansion ("billion laughs") is refused', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
    throwsCode(() => parseCampaignText(lines.join('\n'), 'laughs.yaml'), 'INPUT_FILE_UNREADABLE', 'laughs.yaml');
  });
});

describe('the bounded EigenPro readers still read what files hold', () => {
  it('CSV: a header line, CRLF endings, blank lines, nan; IDX u8 images scaled to [0, 1]; gzip of either', () => {
    const csv = new TextEncoder().encode('a,b,c\r\n1,2,3\r\n\r\n4;5;nan\r\n');
    for (const bytes of [csv, new Uint8Array(gzipSync(csv))]) {
      const r = decodeRows(bytes, 'x.csv');
      assert.deepEqual([r.rows, r.cols, r.sourceDtype], [2, 3, 'csv']);
      assert.deepEqual([...r.data].slice(0, 5), [1, 2, 3, 4, 5]);
      assert.ok(Number.isNaN(r.data[5]));
    }
    throwsCode(() => decodeRows(new TextEncoder().encode('1,2\n3\n'), 'ragged.csv'), 'INPUT_FILE_UNREADABLE', 'line 2 has 1 fields');
    const idx = Uint8Array.from([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 255, 51, 102]);
    const r = decodeRows(idx, 'x.idx');
    assert.deepEqual([r.rows, r.cols, [...r.data]], [2, 2, [0, 1, 0.2, 0.4]]);
    throwsCode(() => decodeRows(idx.subarray(0, 14), 'short.idx'), 'INPUT_FILE_UNREADABLE', 'truncated IDX data');
  });
});

/** A one-entry stored (uncompressed) zip. */
function storedZip(name: string, data: Uint8Array): Uint8Array {
  const z = zipOf(name, data, data.length, crc32(data) >>> 0);
  const v = new DataView(z.buffer);
  v.setUint16(8, 0, true); // local header: method 0
  const cd = 30 + name.length + data.length;
  v.setUint16(cd + 10, 0, true); // central directory: method 0
  return z;
}
