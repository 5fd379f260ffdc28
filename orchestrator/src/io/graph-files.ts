/**
 * Loading graphs from files: scipy CSR `.npz` (with optional `labels`), 1-based
 * adjacency lists (`.adjlist`) and MatrixMarket coordinate files (`.mtx`). Every loaded
 * graph passes {@link validateGraph}, so what comes back is square, symmetric, finite,
 * non-negative, sorted and within the memory budget.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { GramfleetError, csrBytes, csrFromTriplets, validateGraph } from '@gramfleet/core';
import type { CsrArrays } from '@gramfleet/core';
import { csrFromNpz, decodeNpz, isStringArray } from './npz';

/** File formats {@link loadGraph} understands. */
export type GraphFileFormat = 'npz' | 'adjlist' | 'mtx';

/** Options of {@link loadGraph}. */
export interface LoadGraphOptions {
  /**
   * Memory budget in bytes for the CSR arrays (and for an `.npz`'s inflated entries); a larger
   * graph is rejected with `INPUT_TOO_LARGE`, checked before the arrays are allocated.
   * @default GRAPH_DEFAULT_MAX_BYTES (2 GiB)
   */
  readonly maxBytes?: number;
}

/** The memory budget of {@link loadGraph} and the text parsers when the caller names none: 2 GiB. */
export const GRAPH_DEFAULT_MAX_BYTES = 2 * 2 ** 30;

/** A validated graph loaded from a file. */
export interface LoadedGraph {
  /** Symmetric, canonical CSR adjacency matrix (float64 weights). */
  readonly csr: CsrArrays;
  /** Node labels (the `labels` array of an `.npz`), when the file has them. */
  readonly labels?: Int32Array;
  /** File name without directory and extension. */
  readonly name: string;
  readonly format: GraphFileFormat;
}

function unreadable(path: string, why: string, details: Record<string, unknown> = {}): GramfleetError {
  return new GramfleetError('INPUT_FILE_UNREADABLE', `${path}: ${why}`, { path, why, ...details });
}

function parseError(path: string, line: number, why: string): GramfleetError {
  return new GramfleetError('INPUT_FILE_UNREADABLE', `${path}:${line}: ${why}`, { path, line, why });
}

function checkBudget(path: string, n: number, nnz: number, maxBytes: number): void {
  const bytes = csrBytes(n, nnz);
  if (bytes > maxBytes) {
    throw new GramfleetError(
      'INPUT_TOO_LARGE',
      `${path}: graph needs ${bytes} bytes (${n} nodes, ${nnz} stored non-zeros) but the memory budget maxBytes is ${maxBytes} bytes`,
      { path, field: 'graph', bound: `bytes <= ${maxBytes}`, needed: bytes, budget: maxBytes, nodes: n, nnz },
    );
  }
}

/** Growable int32 buffer for parsed coordinates; growing past `maxItems` calls `full`. */
class IntList {
  data = new Int32Array(1024);
  length = 0;
  constructor(
    private readonly maxItems: number,
    private readonly full: () => never,
  ) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      if (this.length >= this.maxItems) this.full();
      const next = new Int32Array(Math.min(this.data.length * 2, Math.max(this.maxItems, 1024)));
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  view(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}

/** Iterates lines of a text with 1-based line numbers, without materialising a line array. */
function* lines(text: string): Generator<[number, string]> {
  let start = 0;
  let no = 1;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end);
    yield [no, raw.endsWith('\r') ? raw.slice(0, -1) : raw];
    start = end + 1;
    no++;
  }
}

const INT_RE = /^[0-9]+$/;

/**
 * Coordinate lists for a text parser: each list may hold what the budget allows for the CSR
 * arrays (12 bytes per stored entry), so parsing stops with `INPUT_TOO_LARGE` instead of growing
 * without bound.
 */
function coordLists(path: string, maxBytes: number): [IntList, IntList] {
  const maxItems = Math.max(0, Math.floor(maxBytes / 12));
  const full = (): never => {
    throw new GramfleetError('INPUT_TOO_LARGE', `${path}: more than ${maxItems} stored entries do not fit the memory budget maxBytes of ${maxBytes} bytes`, {
      path,
      field: 'graph',
      bound: `bytes <= ${maxBytes}`,
      budget: maxBytes,
    });
  };
  return [new IntList(maxItems, full), new IntList(maxItems, full)];
}

/**
 * Parses a 1-based adjacency list: each line is a node followed by its neighbours
 * (`#` starts a comment). Edges are made undirected (union of both directions) with
 * weight 1; the node count is the largest id seen. The CSR's size (node count and entries)
 * is checked against `maxBytes` before it is built: a node id of 2147483647 in a small file
 * is `INPUT_TOO_LARGE`, not a 16 GiB allocation.
 */
export function parseAdjlist(text: string, path = 'graph.adjlist', maxBytes = GRAPH_DEFAULT_MAX_BYTES): CsrArrays {
  const [us, vs] = coordLists(path, maxBytes);
  let n = 0;
  for (const [no, line] of lines(text)) {
    const hash = line.indexOf('#');
    const body = (hash >= 0 ? line.slice(0, hash) : line).trim();
    if (body.length === 0) continue;
    const toks = body.split(/\s+/);
    const ids: number[] = [];
    for (const t of toks) {
      if (!INT_RE.test(t)) throw parseError(path, no, `expected a 1-based node id (positive integer), got ${JSON.stringify(t)}`);
      const id = Number(t);
      if (id < 1 || id > 2147483647) throw parseError(path, no, `node id must be in [1, 2147483647], got ${t}`);
      ids.push(id - 1);
      if (id > n) n = id;
    }
    const u = ids[0] ?? 0;
    for (let k = 1; k < ids.length; k++) {
      const v = ids[k] ?? 0;
      us.push(u);
      vs.push(v);
      us.push(v);
      vs.push(u);
    }
  }
  if (n === 0) throw unreadable(path, 'adjacency list holds no nodes');
  checkBudget(path, n, us.length, maxBytes);
  return csrFromTriplets([n, n], us.view(), vs.view(), undefined, { duplicates: 'max' });
}

/**
 * Parses a MatrixMarket coordinate file (`real`, `integer` or `pattern`; `general` or
 * `symmetric`). Symmetric files are mirrored; duplicate entries are summed (as scipy's
 * `mmread(...).tocsr()`). A malformed line gives `INPUT_FILE_UNREADABLE` naming it.
 */
export function parseMatrixMarket(text: string, path = 'graph.mtx', maxBytes = GRAPH_DEFAULT_MAX_BYTES): CsrArrays {
  const it = lines(text);
  const first = it.next();
  if (first.done === true) throw parseError(path, 1, 'empty file');
  const head = first.value[1].trim().toLowerCase().split(/\s+/);
  if (head[0] !== '%%matrixmarket' || head[1] !== 'matrix')
    throw parseError(path, 1, `expected a '%%MatrixMarket matrix ...' header, got ${JSON.stringify(first.value[1].slice(0, 80))}`);
  const [layout, field, symmetry] = [head[2], head[3], head[4]];
  if (layout !== 'coordinate') throw parseError(path, 1, `only the 'coordinate' layout is supported, got ${String(layout)}`);
  if (field !== 'real' && field !== 'integer' && field !== 'pattern') throw parseError(path, 1, `field must be real, integer or pattern, got ${String(field)}`);
  if (symmetry !== 'general' && symmetry !== 'symmetric') throw parseError(path, 1, `symmetry must be general or symmetric, got ${String(symmetry)}`);
  const pattern = field === 'pattern';
  let rows = -1;
  let cols = -1;
  let declared = -1;
  let seen = 0;
  let lastLine = 1;
  const [us, vs] = coordLists(path, maxBytes);
  let vals = new Float64Array(1024);
  let count = 0;
  const pushVal = (v: number): void => {
    if (count === vals.length) {
      const next = new Float64Array(Math.min(vals.length * 2, Math.max(1024, Math.floor(maxBytes / 12))));
      next.set(vals);
      vals = next;
    }
    vals[count++] = v;
  };
  for (const [no, line] of it) {
    lastLine = no;
    const body = line.trim();
    if (body.length === 0 || body.startsWith('%')) continue;
    const toks = body.split(/\s+/);
    if (rows < 0) {
      if (toks.length !== 3 || !toks.every((t) => INT_RE.test(t)))
        throw parseError(path, no, `expected the size line 'rows cols entries', got ${JSON.stringify(body.slice(0, 80))}`);
      [rows, cols, declared] = toks.map(Number) as [number, number, number];
      if (rows > 2147483647 || cols > 2147483647) throw parseError(path, no, `dimensions must be at most 2147483647, got ${rows}×${cols}`);
      checkBudget(path, Math.max(rows, cols), symmetry === 'symmetric' ? 2 * declared : declared, maxBytes);
      continue;
    }
    const want = pattern ? 2 : 3;
    if (toks.length !== want)
      throw parseError(path, no, `expected ${want} fields ('row col${pattern ? '' : ' value'}'), got ${toks.length}: ${JSON.stringify(body.slice(0, 80))}`);
    const [ti, tj, tv] = toks;
    if (ti === undefined || tj === undefined || !INT_RE.test(ti) || !INT_RE.test(tj))
      throw parseError(path, no, `row and column must be positive integers, got ${JSON.stringify(body.slice(0, 80))}`);
    const i = Number(ti);
    const j = Number(tj);
    if (i < 1 || i > rows || j < 1 || j > cols) throw parseError(path, no, `entry (${i}, ${j}) is outside the declared ${rows}×${cols} (1-based)`);
    let v = 1;
    if (!pattern) {
      // As C's strtod, accept inf/infinity/nan; validateGraph then rejects them as INPUT_NOT_FINITE.
      v = tv === undefined ? Number.NaN : /^[+-]?inf(inity)?$/i.test(tv) ? (tv.startsWith('-') ? -Infinity : Infinity) : Number(tv);
      if (tv === undefined || tv.length === 0 || (Number.isNaN(v) && !/^[+-]?nan$/i.test(tv)))
        throw parseError(path, no, `value must be a number, got ${JSON.stringify(tv)}`);
      if (field === 'integer' && Number.isFinite(v) && !Number.isInteger(v))
        throw parseError(path, no, `value must be an integer (field 'integer'), got ${JSON.stringify(tv)}`);
    }
    seen++;
    if (seen > declared) throw parseError(path, no, `more entries than the ${declared} declared on the size line`);
    us.push(i - 1);
    vs.push(j - 1);
    pushVal(v);
    if (symmetry === 'symmetric' && i !== j) {
      us.push(j - 1);
      vs.push(i - 1);
      pushVal(v);
    }
  }
  if (rows < 0) throw parseError(path, lastLine, 'missing the size line');
  if (seen < declared) throw parseError(path, lastLine, `only ${seen} entries, but the size line declares ${declared}`);
  return csrFromTriplets([rows, cols], us.view(), vs.view(), vals.subarray(0, count), { duplicates: 'sum' });
}

function sniff(bytes: Uint8Array): GraphFileFormat | undefined {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return 'npz';
  const head = Buffer.from(bytes.subarray(0, 14)).toString('latin1');
  if (head.toLowerCase() === '%%matrixmarket') return 'mtx';
  return looksLikeAdjlist(bytes) ? 'adjlist' : undefined;
}

/**
 * Whether a file with no telling extension (a file named by object reference is cached under its
 * digest) reads as an adjacency list: text whose first line with content (after `#` comments) is
 * node ids, digits and blanks only. The parser then checks every line.
 */
function looksLikeAdjlist(bytes: Uint8Array): boolean {
  const text = Buffer.from(bytes.subarray(0, 64 * 1024)).toString('latin1');
  for (const line of text.split('\n')) {
    const hash = line.indexOf('#');
    const body = (hash >= 0 ? line.slice(0, hash) : line).trim();
    if (body.length > 0) return /^[0-9]+([ \t]+[0-9]+)*$/.test(body);
  }
  return false;
}

/**
 * Loads a graph file and validates it: {@link decodeGraph} of the file's bytes.
 *
 * Errors: `INPUT_FILE_UNREADABLE` (missing/unreadable file naming the path, or a parse
 * error naming the line), `INPUT_TOO_LARGE` (over `maxBytes`), `INPUT_SHAPE_MISMATCH`
 * (labels of the wrong length), and every code of {@link validateGraph}.
 */
export async function loadGraph(path: string, opts: LoadGraphOptions = {}): Promise<LoadedGraph> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'EIO';
    throw unreadable(path, `cannot read graph file (${code})`, { errno: code });
  }
  return decodeGraph(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path, opts);
}

/**
 * Decodes and validates a graph from a file's bytes; `path` names it in errors and gives the
 * format by its extension (`.npz`, `.adjlist`, `.mtx`), else the content does (ZIP magic,
 * MatrixMarket banner, a first line of node ids for an adjacency list). Nothing in the bytes is trusted: sizes are checked against
 * `maxBytes` before anything is allocated for them. Errors as {@link loadGraph}.
 */
export function decodeGraph(bytes: Uint8Array, path: string, opts: LoadGraphOptions = {}): LoadedGraph {
  const ext = extname(path).toLowerCase();
  const name = basename(path, extname(path));
  const format: GraphFileFormat | undefined = ext === '.npz' ? 'npz' : ext === '.adjlist' ? 'adjlist' : ext === '.mtx' ? 'mtx' : sniff(bytes);
  if (format === undefined) throw unreadable(path, `unknown graph format (expected .npz, .adjlist or .mtx)`, { extension: ext });
  const maxBytes = opts.maxBytes ?? GRAPH_DEFAULT_MAX_BYTES;
  const vopts = { maxBytes };
  if (format === 'npz') {
    // The archive may hold int64 indices (twice the CSR's int32): its inflated entries get twice
    // the budget (+1 MiB), so a graph just over the budget is refused by the CSR check, which says more.
    const arrays = decodeNpz(bytes, path, { maxBytes: 2 * maxBytes + 2 ** 20 });
    const csr = csrFromNpz(arrays, path);
    validateGraph(csr, vopts);
    const lab = Object.prototype.hasOwnProperty.call(arrays, 'labels') ? arrays['labels'] : undefined;
    if (lab === undefined) return { csr, name, format };
    if (isStringArray(lab) || !(lab.data instanceof Int32Array || lab.data instanceof Uint8Array || lab.data instanceof Uint32Array)) {
      throw unreadable(path, `'labels' must be an integer array, got ${lab.dtype}`, { key: 'labels' });
    }
    const labels = lab.data instanceof Int32Array ? lab.data : Int32Array.from(lab.data);
    if (labels.length !== csr.shape[0]) {
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `labels must have one entry per node (${csr.shape[0]}), got ${labels.length} in ${path}`, {
        field: 'labels',
        path,
        bound: csr.shape[0],
        value: labels.length,
      });
    }
    return { csr, labels, name, format };
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (text.includes('\u0000')) throw unreadable(path, `binary content is not a valid ${format} text file`);
  const csr = format === 'adjlist' ? parseAdjlist(text, path, maxBytes) : parseMatrixMarket(text, path, maxBytes);
  validateGraph(csr, vopts);
  return { csr, name, format };
}
