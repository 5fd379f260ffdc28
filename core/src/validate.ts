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
