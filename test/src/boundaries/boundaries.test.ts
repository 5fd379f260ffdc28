/**
 * Package boundaries, checked on the sources: no import cycles (runtime or type-only) inside or
 * across the TypeScript packages, no import that reaches into another package's files instead
 * of its entry points, entry points declared in each package.json, and every name the
 * JavaScript benchmarks and scripts take from an entry point is exported there (they are not
 * type-checked). ESLint refuses deep imports as they are typed (eslint.config.js); this is the
 * whole-graph half.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PACKAGES, findCycles, readImportGraph } from './import-graph';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/**
 * Import edges (`from -> to`) allowed to close a cycle, each with its reason. An entry that no
 * longer closes a cycle fails the test, so the list only shrinks — except those in
 * {@link BEING_REMOVED}, which a change in flight on another branch removes.
 */
const ALLOWED_CYCLE_EDGES: ReadonlyMap<string, string> = new Map<string, string>([]);

/** Exceptions that another branch's change removes: not failed when they no longer close a cycle (drop them once it lands). */
const BEING_REMOVED: ReadonlySet<string> = new Set<string>([]);

function jsFiles(dir: string, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) jsFiles(p, out);
    else if (/\.(c|m)?js$/.test(e.name)) out.push(p);
  }
  return out;
}

/** The entry points a package has: `index` plus `internal` / `testing` where their sources exist. */
function entriesOf(pkg: string): string[] {
  return ['index', 'internal', 'testing'].filter((e) => fs.existsSync(path.join(ROOT, pkg, 'src', `${e}.ts`)));
}

describe('package boundaries', () => {
  const graph = readImportGraph(ROOT);

  it('reads a graph of every package (sanity: thousands of edges, type-only ones among them)', () => {
    assert.ok(graph.files.length > 200, `${graph.files.length} files`);
    assert.ok(graph.edges.length > 1000, `${graph.edges.length} edges`);
    assert.ok(graph.edges.some((e) => e.typeOnly) && graph.edges.some((e) => !e.typeOnly));
  });

  it('has no import cycles, runtime or type-only, but the listed exceptions', () => {
    const cycles = findCycles(graph, new Set(ALLOWED_CYCLE_EDGES.keys()));
    assert.deepEqual(
      cycles.map((c) => c.join(' -> ')),
      [],
      'import cycles (break them; a cycle that must stay goes into ALLOWED_CYCLE_EDGES with its reason)',
    );
  });

  it('lists only exceptions that still close a cycle', () => {
    const edges = new Set(graph.edges.map((e) => `${e.from} -> ${e.to}`));
    for (const edge of ALLOWED_CYCLE_EDGES.keys()) {
      if (BEING_REMOVED.has(edge)) continue;
      assert.ok(edges.has(edge), `${edge} is no longer an import: remove it from ALLOWED_CYCLE_EDGES`);
      const without = new Set([...ALLOWED_CYCLE_EDGES.keys()].filter((e) => e !== edge));
      assert.ok(findCycles(graph, without).length > 0, `${edge} closes no cycle any more: remove it from ALLOWED_CYCLE_EDGES`);
    }
  });

  it("has no imports into another package's files (only its entry points)", () => {
    assert.deepEqual(
      graph.deep.map((d) => `${d.file}:${d.line} ${d.specifier}`),
      [],
    );
  });

  it("declares each package's entry points, and only those, in its package.json exports", () => {
    for (const pkg of PACKAGES.filter((p) => p !== 'test')) {
      const json = JSON.parse(fs.readFileSync(path.join(ROOT, pkg, 'package.json'), 'utf8')) as { exports?: Record<string, unknown> };
      const want = entriesOf(pkg).map((e) => (e === 'index' ? '.' : `./${e}`));
      assert.deepEqual(
        Object.keys(json.exports ?? {})
          .filter((k) => k !== './package.json')
          .sort(),
        want.sort(),
        `${pkg}/package.json exports`,
      );
    }
  });

  it('benchmarks, scripts and examples use entry points, and every name they take from one exists', () => {
    const problems: string[] = [];
    const files = ['bench', 'scripts', 'examples', 'orchestrator/bin'].flatMap((d) => jsFiles(path.join(ROOT, d)));
    assert.ok(files.length > 10, `${files.length} files`);
    for (const f of files) {
      const rel = path.relative(ROOT, f);
      const text = fs.readFileSync(f, 'utf8');
      for (const m of text.matchAll(/@gramfleet\/([a-z-]+)\/([\w./-]+)/g)) {
        if (!['internal', 'testing'].includes(m[2] as string)) problems.push(`${rel}: ${m[0]} (not an entry point)`);
      }
      for (const m of text.matchAll(/'(core|workflows|workers|orchestrator|gpu-workers)', 'dist'/g)) problems.push(`${rel}: a path into ${m[1]}/dist`);
      for (const m of text.matchAll(/const \{([^}]*)\} = (?:await )?require\('(@gramfleet\/[a-z/-]+|(?:\.\.\/)+[a-z-]+\/dist\/index\.js)'\)/g)) {
        const spec = m[2] as string;
        const mod = require(spec.startsWith('.') ? path.resolve(path.dirname(f), spec) : spec) as Record<string, unknown>;
        for (const raw of (m[1] as string).split(',')) {
          const name = (raw.split(':')[0] as string).trim();
          if (name !== '' && !(name in mod)) problems.push(`${rel}: ${name} is not exported by ${spec}`);
        }
      }
      for (const m of text.matchAll(/const (\w+) = require\('(@gramfleet\/[a-z/-]+)'\)/g)) {
        const mod = require(m[2] as string) as Record<string, unknown>;
        for (const u of text.matchAll(new RegExp(`\\b${m[1] as string}\\.(\\w+)`, 'g'))) {
          if (!((u[1] as string) in mod)) problems.push(`${rel}: ${m[1] as string}.${u[1] as string} is not exported by ${m[2] as string}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });
});

describe('the import graph checker', () => {
  /** A throwaway repository with one package whose files are `files`. */
  function tree(files: Record<string, string>): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-import-graph-'));
    for (const [name, text] of Object.entries(files)) {
      const p = path.join(root, 'core', 'src', name);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, text);
    }
    return root;
  }

  it('finds a runtime cycle, a type-only one, and one through `export … from`', () => {
    const root = tree({
      'a.ts': "import { b } from './b';\nexport const a = b;\n",
      'b.ts': "import { a } from './a';\nexport const b = 1; export const c = a;\n",
      't1.ts': "import type { T2 } from './t2';\nexport interface T1 { x: T2 }\n",
      't2.ts': "export type T2 = import('./t3').T3;\n",
      't3.ts': "import { type T1 } from './t1';\nexport interface T3 { y: T1 }\n",
      'e1.ts': "export { e2 } from './dir';\nexport const e1 = 1;\n",
      'dir/index.ts': "import { e1 } from '../e1';\nexport const e2 = e1;\n",
      'leaf.ts': "import { a } from './a';\nexport const leaf = a;\n",
    });
    try {
      const graph = readImportGraph(root);
      const cycles = findCycles(graph)
        .map((c) => c.join(' -> '))
        .sort();
      assert.deepEqual(cycles, [
        'core/src/a.ts -> core/src/b.ts -> core/src/a.ts',
        'core/src/dir/index.ts -> core/src/e1.ts -> core/src/dir/index.ts',
        'core/src/t1.ts -> core/src/t2.ts -> core/src/t3.ts -> core/src/t1.ts',
      ]);
      assert.ok(graph.edges.filter((e) => e.from.includes('/t')).every((e) => e.typeOnly));
      assert.deepEqual(
        findCycles(graph, new Set(['core/src/b.ts -> core/src/a.ts', 'core/src/t3.ts -> core/src/t1.ts', 'core/src/e1.ts -> core/src/dir/index.ts'])),
        [],
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("reports imports into another package's files", () => {
    const root = tree({
      'x.ts':
        "import { a } from '@gramfleet/workers/dist/backends/wasm/arena';\nimport { b } from '../../workers/src/index';\nimport { c } from '@gramfleet/workers/internal';\nexport const x = [a, b, c];\n",
    });
    try {
      fs.mkdirSync(path.join(root, 'workers', 'src'), { recursive: true });
      fs.writeFileSync(path.join(root, 'workers', 'src', 'index.ts'), 'export const b = 1;\n');
      fs.writeFileSync(path.join(root, 'workers', 'src', 'internal.ts'), 'export const c = 1;\n');
      const graph = readImportGraph(root);
      assert.deepEqual(
        graph.deep.map((d) => d.specifier),
        ['@gramfleet/workers/dist/backends/wasm/arena', '../../workers/src/index'],
      );
      assert.ok(graph.edges.some((e) => e.to === 'workers/src/internal.ts'));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
