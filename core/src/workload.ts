/**
 * The pure half of a workload definition: what every part of gramfleet needs to know about a
 * workload kind without doing I/O — its wire name, the Temporal workflow that runs one job,
 * the query that answers its progress, the activities that workflow calls, its parameters
 * (documented once: SDK unknown-field checks, campaign validation, the KernelCampaign CRD
 * schema, CLI help) and the validation of a campaign run's parameters.
 *
 * The registry of these definitions is `core/src/registry.ts`; the orchestrator's half
 * (prepare and upload, result extraction, CLI commands) is `orchestrator/src/registry.ts`.
 * Kind names, workflow types, query and activity names are wire names: add, never rename.
 */
import { GramfleetError, invalidField } from './errors';
import { nearestName } from './validate';

/** One documented parameter of a workload. */
export interface ParamDoc {
  /** JSON type of the value as a campaign (YAML/JSON) gives it; `any` when several shapes are accepted. */
  readonly type: 'number' | 'integer' | 'string' | 'boolean' | 'array' | 'object' | 'any';
  /** One line for the CRD schema and the docs. */
  readonly description: string;
  /** Every job of the kind needs it. */
  readonly required?: boolean;
  /** The accepted strings, when the value is one of a fixed set. */
  readonly enum?: readonly string[];
  /**
   * Where the parameter is accepted: `sdk` only in a spec given to `fleet.submit` (in-memory
   * arrays, the job id, its time limit — a campaign sets those per run), `campaign` only in a
   * campaign run (what the row extraction does with the result). @default both
   */
  readonly only?: 'sdk' | 'campaign';
  /**
   * A string value is a path the orchestrator reads (`read`: an input file) or writes under
   * (`write`: an output directory). In a campaign run it must lie inside the orchestrator's
   * data roots (`INPUT_PATH_OUTSIDE_ROOTS` otherwise).
   */
  readonly file?: 'read' | 'write';
}

/** Parameter name → its documentation. */
export type ParamDocs = Readonly<Record<string, ParamDoc>>;

/** The pure definition of one workload kind. */
export interface WorkloadDef<K extends string = string> {
  /** Wire name of the kind (`fleet.submit({ kind })`, campaign runs, KernelCampaign specs). */
  readonly kind: K;
  /** A few words for help texts and the CRD description. */
  readonly title: string;
  /** Temporal workflow type that runs one job (exported under this name by `@gramfleet/workflows`). */
  readonly workflowType: string;
  /** Query name answering the job's progress. */
  readonly progressQuery: string;
  /** Activities the workflow calls (the worker host must register every one). */
  readonly activities: readonly string[];
  /** Every parameter a job of this kind takes, besides `kind`. */
  readonly params: ParamDocs;
  /**
   * Validates a campaign run's parameters (everything but `kind`; arrays given inline or as
   * file paths): throws a typed error naming the field, prefixed with `where` (e.g. `runs[3]`).
   * Nothing is read or scheduled.
   */
  compileRun(params: Readonly<Record<string, unknown>>, where: string): void;
}

/** Names of the parameters a workload accepts in `context`. */
export function paramNames(def: WorkloadDef, context: 'sdk' | 'campaign'): string[] {
  return Object.entries(def.params)
    .filter(([, p]) => p.only === undefined || p.only === context)
    .map(([k]) => k);
}

/**
 * Throws `INPUT_INVALID` for a parameter the workload does not take in `context`, naming the
 * field (prefixed with `where` when given) and the nearest accepted name.
 */
export function checkParamNames(def: WorkloadDef, params: Readonly<Record<string, unknown>>, context: 'sdk' | 'campaign', where?: string): void {
  const names = paramNames(def, context);
  for (const k of Object.keys(params)) {
    if (k === 'kind' && context === 'sdk') continue;
    if (names.includes(k)) continue;
    const field = where === undefined ? k : `${where}.${k}`;
    const near = nearestName(k, names);
    throw new GramfleetError(
      'INPUT_INVALID',
      `${field} is not a ${def.kind} parameter${near !== undefined ? ` (did you mean ${near}?)` : ''}; ${def.kind} takes ${names.join('|')}`,
      { field, nearest: near, accepted: names },
    );
  }
}

/** Throws `INPUT_INVALID` naming `${where}.${name}` when a required parameter is absent. */
export function checkRequiredParams(def: WorkloadDef, params: Readonly<Record<string, unknown>>, where: string): void {
  for (const [k, p] of Object.entries(def.params)) {
    if (p.required === true && p.only !== 'sdk' && params[k] === undefined) throw invalidField(`${where}.${k}`, `given (${p.description})`, undefined);
  }
}

/**
 * Runs `f` and rewrites a typed error's field as `${where}.${field}` (and its message), so a
 * run's error names where in the campaign spec it is.
 */
export function withFieldPrefix<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof GramfleetError)) throw e;
    const inner = typeof e.details['field'] === 'string' ? e.details['field'] : undefined;
    const text = e.message.replace(/^\[[A-Z_]+\] /, '');
    // "walks must be …" becomes "runs[3].walks must be …"; a message that does not start with its field is prefixed "runs[3]: …".
    const message = inner !== undefined && text.startsWith(inner) ? `${where}.${text}` : `${where}: ${text}`;
    throw new GramfleetError(e.code, message, { ...e.details, field: inner !== undefined ? `${where}.${inner}` : where });
  }
}
