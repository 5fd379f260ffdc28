/**
 * The module graph of the TypeScript packages, read from their sources with the TypeScript
 * parser: every `import`, `import type`, `export … from`, `import x = require()`, `import()`,
 * `require()` and `import('…').T` type reference is an edge, marked type-only where it carries
 * types alone (type-only edges count for cycles too: a type loop is a design loop, and it turns
 * into a runtime one with the first value someone adds). `@gramfleet/<pkg>` resolves to that
 * package's `src/index.ts`, `@gramfleet/<pkg>/<entry>` to `src/<entry>.ts`, relative specifiers to
 * the file or folder index they name. Used by boundaries.test.ts; `node
 * test/dist/boundaries/import-graph.js` prints the cycles and deep imports it finds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/** The workspace packages whose `src/` the graph covers, by folder. */
export const PACKAGES = ['core', 'workflows', 'workers', 'orchestrator', 'gpu-workers', 'test'] as const;

/** One import of one module by another (paths relative to the repository root). */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
  /** The specifier as written. */
  readonly specifier: string;
  /** True when the import can carry types only (`import type`, `export type`, all-type named imports, `import('…').T`). */
  readonly typeOnly: boolean;
  readonly line: number;
}

/** An import that reaches into another package's files instead of its entry points. */
export interface DeepImport {
  readonly file: string;
  readonly specifier: string;
  readonly line: number;
}

export interface ImportGraph {
  readonly files: readonly string[];
  readonly edges: readonly ImportEdge[];
  readonly deep: readonly DeepImport[];
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function resolveFile(base: string): string | undefined {
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (candidate.endsWith('.ts') && fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  // `./x.js` written for Node16 resolution names `./x.ts`.
  if (base.endsWith('.js')) return resolveFile(base.slice(0, -3));
  return undefined;
}

/** The package folder a repository path lies in, if any. */
function packageOf(root: string, file: string): string | undefined {
  const rel = path.relative(root, file).split(path.sep);
  return (PACKAGES as readonly string[]).includes(rel[0] ?? '') ? rel[0] : undefined;
}

interface RawImport {
  readonly specifier: string;
  readonly typeOnly: boolean;
  readonly pos: number;
}

function importsOf(sf: ts.SourceFile): RawImport[] {
  const out: RawImport[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            named !== undefined &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((e) => e.isTypeOnly)));
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: allTypes, pos: node.getStart(sf) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause;
      const allTypes =
        node.isTypeOnly || (clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly));
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: allTypes, pos: node.getStart(sf) });
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      out.push({ specifier: node.moduleReference.expression.text, typeOnly: node.isTypeOnly, pos: node.getStart(sf) });
    } else if (ts.isCallExpression(node) && node.arguments.length === 1) {
      const arg = node.arguments[0];
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if ((isImport || isRequire) && arg !== undefined && ts.isStringLiteralLike(arg))
        out.push({ specifier: arg.text, typeOnly: false, pos: node.getStart(sf) });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ specifier: node.argument.literal.text, typeOnly: true, pos: node.getStart(sf) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/**
 * Reads the graph of every package's `src/` under `root`. Imports of npm packages and Node
 * built-ins are not edges; `@gramfleet/<pkg>/…` specifiers that name no explicit entry point
 * (`src/<entry>.ts` beside `index.ts`) and relative specifiers that leave their package are
 * reported as deep imports.
 */
export function readImportGraph(root: string): ImportGraph {
  const files = PACKAGES.flatMap((p) => sourceFiles(path.join(root, p, 'src'))).sort();
  const edges: ImportEdge[] = [];
  const deep: DeepImport[] = [];
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const own = packageOf(root, file);
    for (const imp of importsOf(sf)) {
      const line = sf.getLineAndCharacterOfPosition(imp.pos).line + 1;
      const rel = path.relative(root, file);
      let target: string | undefined;
      if (imp.specifier.startsWith('.')) {
        target = resolveFile(path.resolve(path.dirname(file), imp.specifier));
        const targetPackage = target === undefined ? packageOf(root, path.resolve(path.dirname(file), imp.specifier)) : packageOf(root, target);
        if (targetPackage !== own || (target !== undefined && !path.relative(path.join(root, own ?? ''), target).startsWith(`src${path.sep}`))) {
          deep.push({ file: rel, specifier: imp.specifier, line });
          continue;
        }
      } else {
        const m = /^@gramfleet\/([^/]+)(?:\/(.+))?$/.exec(imp.specifier);
        if (m === null) continue;
        const [, pkg, sub] = m;
        const entry = sub === undefined ? 'index' : sub;
        if (sub !== undefined && (sub.includes('/') || sub === 'index')) {
          deep.push({ file: rel, specifier: imp.specifier, line });
          continue;
        }
        target = resolveFile(path.join(root, pkg ?? '', 'src', entry));
        if (target === undefined) {
          if (sub !== undefined) deep.push({ file: rel, specifier: imp.specifier, line });
          continue; // @gramfleet/wasm has no TypeScript sources
        }
      }
      if (target !== undefined) edges.push({ from: rel, to: path.relative(root, target), specifier: imp.specifier, typeOnly: imp.typeOnly, line });
    }
  }
  return { files: files.map((f) => path.relative(root, f)), edges, deep };
}

/**
 * The import cycles: each strongly connected component of more than one module (or a module
 * importing itself), as the shortest loop through its first module, with the edges in `allowed`
 * (`from -> to`) left out of the graph.
 */
export function findCycles(graph: ImportGraph, allowed: ReadonlySet<string> = new Set()): string[][] {
  const next = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (allowed.has(`${e.from} -> ${e.to}`)) continue;
    const list = next.get(e.from) ?? [];
    if (!list.includes(e.to)) list.push(e.to);
    next.set(e.from, list);
  }
  // Tarjan's strongly connected components, iteratively (no recursion limit on deep graphs).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const start of graph.files) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; i: number }> = [{ node: start, i: 0 }];
    index.set(start, counter);
    low.set(start, counter);
    counter += 1;
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1] as { node: string; i: number };
      const succ = next.get(top.node) ?? [];
      if (top.i < succ.length) {
        const w = succ[top.i] as string;
        top.i += 1;
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter);
          counter += 1;
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(top.node, Math.min(low.get(top.node) as number, index.get(w) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(top.node) as number));
      if (low.get(top.node) === index.get(top.node)) {
        const component: string[] = [];
        for (;;) {
          const w = stack.pop() as string;
          onStack.delete(w);
          component.push(w);
          if (w === top.node) break;
        }
        const selfLoop = component.length === 1 && (next.get(top.node) ?? []).includes(top.node);
        if (component.length > 1 || selfLoop) components.push(component);
      }
    }
  }
  return components.map((component) => shortestLoop(component.sort()[0] as string, new Set(component), next));
}

/** The shortest path from `start` back to itself inside one component (breadth first). */
function shortestLoop(start: string, inside: ReadonlySet<string>, next: ReadonlyMap<string, readonly string[]>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const w of next.get(node) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const loop = [node];
        while (loop[0] !== start) loop.unshift(prev.get(loop[0] as string) as string);
        return [...loop, start];
      }
      if (!prev.has(w)) {
        prev.set(w, node);
        queue.push(w);
      }
    }
  }
  return [start];
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..', '..', '..');
  const graph = readImportGraph(root);
  for (const loop of findCycles(graph)) process.stdout.write(`cycle: ${loop.join(' -> ')}\n`);
  for (const d of graph.deep) process.stdout.write(`deep import: ${d.file}:${d.line} ${d.specifier}\n`);
}
