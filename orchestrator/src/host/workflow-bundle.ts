/**
 * The orchestrator's workflow bundle, made once per build of the workflow code and kept on disk.
 *
 * `Worker.create({ workflowsPath })` runs webpack over `@gramfleet/workflows` and all it imports
 * at every start of the orchestrator, and again at every reconnect to Temporal: on the 2-core test
 * machine about 2.5 s of CPU for the bundle and as much again for loading webpack, which ran beside
 * the first tasks of a freshly started cluster (a CPU profile of bench/cluster's orchestrator while
 * the bench's 10,000 tasks ran: webpack was nearly all of it).
 *
 * A bundle depends only on the files it is made from, so it is kept under a key hashed from them:
 * every `.js` file of `@gramfleet/workflows` and `@gramfleet/core` (their `dist/`), the installed
 * packages (`node_modules/.package-lock.json`: the SDK and the interceptor modules), and the
 * workflow interceptor modules asked for. Bundles live in `node_modules/.cache/gramfleet/workflow-bundles`
 * beside the SDK (the newest {@link KEEP} are kept). A cache that cannot be read or written (a
 * read-only filesystem, as in the chart's pods) is skipped: the bundle is then made in memory at
 * each start, as before.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { Logger } from '@gramfleet/core';

/** Bundles kept in the cache directory (older ones are removed when a new one is written). */
const KEEP = 4;

/** Whether `code` ends with the inline source map the SDK's parseWorkflowCode needs (a whole bundle does). */
function whole(code: string): boolean {
  const at = code.lastIndexOf('//# sourceMappingURL=data:');
  return at > 0 && code.indexOf('base64,', at) > 0;
}

/** Bundles made by this process, by key: a reconnect reuses its bundle. */
const made = new Map<string, Promise<string>>();

/** Options of {@link workflowBundle}. */
export interface WorkflowBundleOptions {
  /** The workflows module (`require.resolve('@gramfleet/workflows')`). */
  readonly workflowsPath: string;
  /** Workflow interceptor modules (tracing's), bundled in. @default none */
  readonly interceptorModules?: readonly string[];
  /** Where bundles are kept. @default node_modules/.cache/gramfleet/workflow-bundles beside @temporalio/worker */
  readonly cacheDir?: string;
  readonly log: Logger;
}

/** The bundle's code (for `Worker.create({ workflowBundle: { code } })`), from the cache when it holds it. */
export function workflowBundle(o: WorkflowBundleOptions): Promise<string> {
  const modules = [...(o.interceptorModules ?? [])];
  const key = bundleKey(o.workflowsPath, modules);
  const dir = o.cacheDir ?? defaultCacheDir();
  const memo = path.join(dir, key);
  let p = made.get(memo);
  if (p === undefined) {
    p = load(o, dir, key, modules);
    made.set(memo, p);
    p.catch(() => made.delete(memo));
  }
  return p;
}

async function load(o: WorkflowBundleOptions, dir: string, key: string, modules: string[]): Promise<string> {
  const file = path.join(dir, `${key}.js`);
  const t0 = Date.now();
  try {
    const code = fs.readFileSync(file, 'utf8');
    if (whole(code)) {
      o.log.info('workflow bundle read from the cache', { file, ms: Date.now() - t0 });
      return code;
    }
  } catch {
    /* not cached (yet) */
  }
  const { code } = await bundleWorkflowCode({
    workflowsPath: o.workflowsPath,
    ...(modules.length > 0 ? { workflowInterceptorModules: modules } : {}),
    logger: quietLogger,
  });
  o.log.info('workflow bundle made', { ms: Date.now() - t0, bytes: code.length });
  try {
    fs.mkdirSync(dir, { recursive: true });
    // Written whole, then renamed: a reader never sees a part (two processes may write at once).
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, file);
    prune(dir);
  } catch (e) {
    // A read-only filesystem (the chart's pods): made at each start, as without a cache.
    o.log.info('workflow bundle not cached', { dir, err: (e as Error).message });
  }
  return code;
}

/** The cache key: a digest of everything the bundle is made from. */
export function bundleKey(workflowsPath: string, modules: readonly string[]): string {
  const h = createHash('sha256');
  h.update(`${workflowsPath}\n${modules.join('\n')}\n`);
  const roots = [path.dirname(workflowsPath), path.dirname(require.resolve('@gramfleet/core'))];
  for (const root of roots) for (const f of jsFiles(root)) h.update(`${f}\n`).update(fs.readFileSync(f));
  try {
    h.update(fs.readFileSync(path.join(nodeModulesOfSdk(), '.package-lock.json')));
  } catch {
    h.update(`sdk ${nodeModulesOfSdk()}`);
  }
  return h.digest('hex').slice(0, 32);
}

/** The `.js` files under `dir`, sorted. */
function jsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.js')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The node_modules directory that holds @temporalio/worker. */
function nodeModulesOfSdk(): string {
  return path.resolve(path.dirname(require.resolve('@temporalio/worker/package.json')), '..', '..');
}

function defaultCacheDir(): string {
  return path.join(nodeModulesOfSdk(), '.cache', 'gramfleet', 'workflow-bundles');
}

/** Keeps the newest {@link KEEP} bundles of `dir`. */
function prune(dir: string): void {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => ({ f, t: fs.statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of files.slice(KEEP)) fs.rmSync(path.join(dir, f), { force: true });
}

/** The bundler's own progress lines are not wanted in the orchestrator's log. */
const quietLogger = {
  log: (): void => undefined,
  trace: (): void => undefined,
  debug: (): void => undefined,
  info: (): void => undefined,
  warn: (): void => undefined,
  error: (): void => undefined,
};
