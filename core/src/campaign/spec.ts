/**
 * Campaign specs: a list and/or a grid of workload specs, validated before anything is
 * scheduled, and expanded deterministically into runs (index → run) so the workflow input
 * stays small even for a 10,000-run grid. Pure and workflow-safe.
 */
import { GramfleetError, invalidField, outOfRange } from '../errors';
import { int, obj, str } from '../validate';
import { compileWorkloadParams, workloadKinds } from '../registry';

/** A grid: every combination of the axis values, merged over `base`. The last axis varies fastest. */
export interface CampaignGrid {
  /** Workload kind of every run of the grid (e.g. `grf`). */
  readonly kind: string;
  /** Parameters shared by every run. */
  readonly base?: Readonly<Record<string, unknown>>;
  /** Parameter name → values; e.g. `{ walks: [4, 16], seed: [1, 2, 3] }`. */
  readonly axes: Readonly<Record<string, readonly unknown[]>>;
}

/** Per-run retry policy: a run whose child workflow fails with a retryable error is started again. */
export interface CampaignRetry {
  /** Attempts per run, including the first. @default 2 */
  readonly maxAttempts?: number;
  /** Wait before the second attempt, ms; doubled for each later one. @default 1000 */
  readonly backoffMs?: number;
}

/** A campaign as a user writes it (YAML or JSON file, or the SDK). */
export interface CampaignSpec {
  /** Campaign id (letters, digits, `-`, `_`; at most 64). @default generated at start */
  readonly id?: string;
  /** Free-form name shown by `campaign list`. @default the id */
  readonly name?: string;
  /** Runs in flight at once. @default 4 */
  readonly concurrency?: number;
  readonly retry?: CampaignRetry;
  /** Wall-clock limit of one run attempt, ms. @default 1 h */
  readonly runTimeoutMs?: number;
  /** Explicit runs: each has a `kind` plus that workload's parameters. */
  readonly runs?: readonly Readonly<Record<string, unknown>>[];
  /** A grid of runs, expanded after the explicit ones. */
  readonly grid?: CampaignGrid;
}

/** A validated campaign spec (frozen). This is what the campaign workflow receives. */
export interface CompiledCampaignSpec {
  readonly id: string;
  readonly name: string;
  readonly concurrency: number;
  readonly retry: { readonly maxAttempts: number; readonly backoffMs: number };
  readonly runTimeoutMs: number;
  readonly runs: readonly CampaignRunSpec[];
  readonly grid:
    { readonly kind: string; readonly base: Readonly<Record<string, unknown>>; readonly axes: readonly (readonly [string, readonly unknown[]])[] } | undefined;
  /** runs.length + product of the grid axis lengths. */
  readonly runsTotal: number;
}

/** One run: its kind and the workload parameters as given (validated). */
export interface CampaignRunSpec {
  readonly kind: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** At most this many runs in one campaign. */
export const CAMPAIGN_MAX_RUNS = 1_000_000;
/** At most this many explicit (list) runs: they travel in the workflow input. Use a grid beyond. */
export const CAMPAIGN_MAX_LIST_RUNS = 2_000;
/** At most this many runs in flight. */
export const CAMPAIGN_MAX_CONCURRENCY = 256;

/** Checks a campaign id: a subject token of at most 64 characters. */
export function checkCampaignId(field: string, v: unknown): string {
  const s = str(field, v);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(s)) throw invalidField(field, "1–64 letters, digits, '-' or '_'", s);
  return s;
}

/**
 * Validates a campaign spec; every run's parameters are compiled by its workload, so bad
 * input is a typed error naming the field (e.g. `grid.axes.walks[2]`) before any run starts.
 * `defaultId` is used when the spec has no `id`.
 */
export function compileCampaignSpec(raw: unknown, defaultId?: string): CompiledCampaignSpec {
  const s = obj('campaign', raw);
  const known = new Set(['id', 'name', 'concurrency', 'retry', 'runTimeoutMs', 'runs', 'grid']);
  for (const k of Object.keys(s)) if (!known.has(k)) throw invalidField(`campaign.${k}`, `one of the fields ${[...known].join('|')}`, k);
  const id = checkCampaignId('id', s['id'] ?? defaultId);
  const name = s['name'] === undefined ? id : str('name', s['name']);
  const concurrency = int('concurrency', s['concurrency'] ?? 4, 1, CAMPAIGN_MAX_CONCURRENCY);
  const r = s['retry'] === undefined ? {} : obj('retry', s['retry']);
  const retry = Object.freeze({
    maxAttempts: int('retry.maxAttempts', r['maxAttempts'] ?? 2, 1, 20),
    backoffMs: int('retry.backoffMs', r['backoffMs'] ?? 1000, 0, 3_600_000),
  });
  const runTimeoutMs = int('runTimeoutMs', s['runTimeoutMs'] ?? 3_600_000, 1000, 30 * 24 * 3_600_000);

  const runs: CampaignRunSpec[] = [];
  if (s['runs'] !== undefined) {
    if (!Array.isArray(s['runs'])) throw invalidField('runs', 'a list of run specs', s['runs']);
    const list = s['runs'] as unknown[];
    if (list.length > CAMPAIGN_MAX_LIST_RUNS) throw outOfRange('runs', `at most ${CAMPAIGN_MAX_LIST_RUNS} entries (use a grid for more)`, list.length);
    list.forEach((item, i) => {
      const o = obj(`runs[${i}]`, item);
      const kind = checkKind(`runs[${i}].kind`, o['kind']);
      const params = { ...o };
      delete params['kind'];
      compileWorkloadParams(kind, params, `runs[${i}]`);
      runs.push(Object.freeze({ kind, params: Object.freeze(params) }));
    });
  }
  let grid: CompiledCampaignSpec['grid'];
  let gridRuns = 0;
  if (s['grid'] !== undefined) {
    const g = obj('grid', s['grid']);
    const kind = checkKind('grid.kind', g['kind']);
    const base = g['base'] === undefined ? {} : obj('grid.base', g['base']);
    const a = obj('grid.axes', g['axes']);
    const axes: (readonly [string, readonly unknown[]])[] = [];
    gridRuns = 1;
    for (const [k, vs] of Object.entries(a)) {
      if (k === 'kind') throw invalidField('grid.axes.kind', 'absent (the grid has one kind)', k);
      if (!Array.isArray(vs) || vs.length === 0) throw invalidField(`grid.axes.${k}`, 'a non-empty list of values', vs);
      axes.push(Object.freeze([k, Object.freeze([...(vs as unknown[])])] as const));
      gridRuns *= vs.length;
      if (gridRuns > CAMPAIGN_MAX_RUNS) throw outOfRange('grid.axes', `at most ${CAMPAIGN_MAX_RUNS} combinations`, gridRuns);
    }
    grid = Object.freeze({ kind, base: Object.freeze({ ...base }), axes: Object.freeze(axes) });
    // The first combination as a whole, then every axis value once against it (cheap; not
    // every combination): an error names the axis value that broke a bound.
    const first: Record<string, unknown> = { ...base };
    for (const [k, vs] of axes) setOwn(first, k, vs[0]);
    compileWorkloadParams(kind, first, 'grid');
    for (const [k, vs] of axes) {
      vs.forEach((v, i) => {
        const probe: Record<string, unknown> = { ...base };
        for (const [k2, vs2] of axes) setOwn(probe, k2, vs2[0]);
        setOwn(probe, k, v);
        try {
          compileWorkloadParams(kind, probe, 'grid');
        } catch (e) {
          throw relabel(e, `grid.axes.${k}[${i}]`);
        }
      });
    }
  }
  const runsTotal = runs.length + gridRuns;
  if (runsTotal === 0) throw invalidField('campaign', 'at least one run (give runs or grid)', 0);
  if (runsTotal > CAMPAIGN_MAX_RUNS) throw outOfRange('campaign', `at most ${CAMPAIGN_MAX_RUNS} runs`, runsTotal);
  return Object.freeze({ id, name, concurrency, retry, runTimeoutMs, runs: Object.freeze(runs), grid, runsTotal });
}

/** The run at `index` (explicit runs first, then the grid in row-major order, last axis fastest). */
export function campaignRunAt(spec: CompiledCampaignSpec, index: number): CampaignRunSpec {
  if (!Number.isInteger(index) || index < 0 || index >= spec.runsTotal) throw outOfRange('index', `in [0, ${spec.runsTotal})`, index);
  const listed = spec.runs[index];
  if (listed !== undefined) return listed;
  const g = spec.grid;
  if (g === undefined) throw outOfRange('index', `in [0, ${spec.runs.length})`, index);
  let rest = index - spec.runs.length;
  const params: Record<string, unknown> = { ...g.base };
  for (let a = g.axes.length - 1; a >= 0; a--) {
    const [k, vs] = g.axes[a]!;
    setOwn(params, k, vs[rest % vs.length]);
    rest = Math.floor(rest / vs.length);
  }
  // Keep the axis order in the object (readable rows): base first, then axes in order.
  const ordered: Record<string, unknown> = { ...g.base };
  for (const [k] of g.axes) setOwn(ordered, k, params[k]);
  return { kind: g.kind, params: ordered };
}

/** The deterministic id of run `index` of a campaign: `<campaignId>-r000042`. */
export function campaignRunId(campaignId: string, index: number): string {
  return `${campaignId}-r${String(index).padStart(6, '0')}`;
}

/** The child workflow id of one attempt of a run: `<runId>-a<attempt>` (attempt from 1). */
export function campaignAttemptId(runId: string, attempt: number): string {
  return `${runId}-a${attempt}`;
}

/**
 * Sets an own, enumerable property, whatever its name: an axis named `__proto__` (as JSON.parse
 * and YAML parsers produce it) becomes an ordinary key, which the workload then rejects as an
 * unknown parameter, instead of replacing the object's prototype.
 */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function checkKind(field: string, v: unknown): string {
  const kinds = workloadKinds();
  if (typeof v !== 'string' || !kinds.includes(v)) throw invalidField(field, `one of ${kinds.join('|')}`, v);
  return v;
}

/** Prefixes the field of a typed error (so a grid error names its axis value). */
function relabel(e: unknown, where: string): unknown {
  if (!(e instanceof GramfleetError)) return e;
  const field = typeof e.details['field'] === 'string' ? `${where}: ${e.details['field']}` : where;
  return new GramfleetError(e.code, `${where}: ${e.message.replace(/^\[[A-Z_]+\] /, '')}`, { ...e.details, field });
}
