/**
 * Small validators used by every options pipeline. Each throws a {@link GramfleetError}
 * whose message names the field and the bound it broke.
 */
import { GramfleetError, invalidField, outOfRange } from './errors';

/** A finite number, optionally bounded. `exclusive` bounds are strict. */
export function num(
  field: string,
  v: unknown,
  b: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean; integer?: boolean } = {},
): number {
  if (typeof v !== 'number') throw invalidField(field, 'a number', v);
  if (!Number.isFinite(v)) throw new GramfleetError('INPUT_NOT_FINITE', `${field} must be finite, got ${String(v)}`, { field, value: String(v) });
  if (b.integer === true && !Number.isInteger(v)) throw invalidField(field, 'an integer', v);
  if (b.min !== undefined && (b.minExclusive === true ? v <= b.min : v < b.min)) {
    throw outOfRange(field, `${b.minExclusive === true ? '>' : '>='} ${b.min}`, v);
  }
  if (b.max !== undefined && (b.maxExclusive === true ? v >= b.max : v > b.max)) {
    throw outOfRange(field, `${b.maxExclusive === true ? '<' : '<='} ${b.max}`, v);
  }
  return v;
}

/** An integer in [min, max]. */
export function int(field: string, v: unknown, min = -Infinity, max = Infinity): number {
  return num(field, v, { min, max, integer: true });
}

/** One of a fixed set of strings. */
export function oneOf<T extends string>(field: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw invalidField(field, `one of ${allowed.join('|')}`, v);
  }
  return v as T;
}

/** A non-empty string. */
export function str(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw invalidField(field, 'a non-empty string', v);
  return v;
}

/** A plain object (not null, not an array). */
export function obj(field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidField(field, 'an object', v);
  return v as Record<string, unknown>;
}

/** Edit distance (insertions, deletions, substitutions, adjacent transpositions) between two strings. */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev2: number[] = [];
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] as number) + 1);
      cur.push(d);
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[n] as number;
}

/**
 * The name in `names` nearest to `s` (fewest edits, case-insensitive; a name that starts with
 * `s` or that `s` starts with counts as one edit), or undefined when `names` is empty. Ties go
 * to the earlier name.
 */
export function nearestName(s: string, names: readonly string[]): string | undefined {
  const lower = s.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const nl = n.toLowerCase();
    let d = editDistance(lower, nl);
    if (lower.length > 0 && (nl.startsWith(lower) || lower.startsWith(nl))) d = Math.min(d, 1);
    if (d < bestD) {
      best = n;
      bestD = d;
    }
  }
  return best;
}

/** A job id: 1–100 letters, digits, `-` or `_` (it names workflows, subjects and objects). */
export function checkJobId(v: unknown, field = 'jobId'): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(v))
    throw new GramfleetError('INPUT_INVALID', `${field} must be 1–100 letters, digits, '-' or '_', got ${JSON.stringify(v)}`, { field });
  return v;
}
