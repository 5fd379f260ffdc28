/**
 * The result table as files: CSV, JSON (an array of rows) and Parquet (pure-JS writer). Flat
 * columns: run fields, then `param.<name>`, `metric.<name>`, `artifact.<name>` (the ref as
 * JSON), `error.code`, `error.message`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GramfleetError, type CampaignRow } from '@gramfleet/core';

/** Output formats of `campaign results`. */
export const RESULT_FORMATS = ['csv', 'json', 'parquet'] as const;
/** A result format. */
export type ResultFormat = (typeof RESULT_FORMATS)[number];

/** One flat column: name, kind and one cell per row. */
export interface FlatColumn {
  readonly name: string;
  readonly kind: 'number' | 'string';
  readonly cells: (number | string | null)[];
}

/** Flattens rows into columns (union of all params/metrics/artifacts, in first-seen order). */
export function flattenRows(rows: readonly CampaignRow[]): FlatColumn[] {
  const cols = new Map<string, FlatColumn>();
  const col = (name: string, kind: 'number' | 'string'): FlatColumn => {
    let c = cols.get(name);
    if (c === undefined) {
      c = { name, kind, cells: new Array<number | string | null>(rows.length).fill(null) };
      cols.set(name, c);
    }
    return c;
  };
  rows.forEach((r, i) => {
    col('index', 'number').cells[i] = r.index;
    col('runId', 'string').cells[i] = r.runId;
    col('kind', 'string').cells[i] = r.kind;
    col('status', 'string').cells[i] = r.status;
    col('attempts', 'number').cells[i] = r.attempts;
    col('startedAt', 'string').cells[i] = new Date(r.startedAt).toISOString();
    col('finishedAt', 'string').cells[i] = new Date(r.finishedAt).toISOString();
    col('durationMs', 'number').cells[i] = r.finishedAt - r.startedAt;
    col('childId', 'string').cells[i] = r.childId;
    for (const [k, v] of Object.entries(r.params))
      col(`param.${k}`, typeof v === 'number' ? 'number' : 'string').cells[i] = typeof v === 'number' ? v : typeof v === 'string' ? v : JSON.stringify(v);
    for (const [k, v] of Object.entries(r.metrics)) col(`metric.${k}`, typeof v === 'number' ? 'number' : 'string').cells[i] = v;
    for (const [k, v] of Object.entries(r.artifacts)) col(`artifact.${k}`, 'string').cells[i] = JSON.stringify(v);
    col('error.code', 'string').cells[i] = r.error?.code ?? null;
    col('error.message', 'string').cells[i] = r.error?.message ?? null;
  });
  // A column whose cells mix numbers and strings is written as strings.
  return [...cols.values()].map((c) =>
    c.kind === 'number' && c.cells.some((x) => typeof x === 'string')
      ? { ...c, kind: 'string' as const, cells: c.cells.map((x) => (x === null ? null : String(x))) }
      : c,
  );
}

/** RFC 4180 CSV of the rows. */
export function rowsToCsv(rows: readonly CampaignRow[]): string {
  const cols = flattenRows(rows);
  const q = (v: number | string | null): string => {
    if (v === null) return '';
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [cols.map((c) => q(c.name)).join(',')];
  for (let i = 0; i < rows.length; i++) lines.push(cols.map((c) => q(c.cells[i] ?? null)).join(','));
  return lines.join('\n') + '\n';
}

/** Parquet bytes of the rows (DOUBLE and STRING columns, nulls where a run lacks a field). */
export async function rowsToParquet(rows: readonly CampaignRow[]): Promise<Uint8Array> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const columnData = flattenRows(rows).map((c) => ({
    name: c.name,
    data: c.cells,
    type: c.kind === 'number' ? ('DOUBLE' as const) : ('STRING' as const),
    nullable: true,
  }));
  return new Uint8Array(parquetWriteBuffer({ columnData }));
}

/** The format named by a file's extension. */
export function formatOf(file: string): ResultFormat {
  const ext = path.extname(file).slice(1).toLowerCase();
  if (!(RESULT_FORMATS as readonly string[]).includes(ext))
    throw new GramfleetError('INPUT_INVALID', `--out must end in .${RESULT_FORMATS.join('|.')}, got ${JSON.stringify(file)}`, { field: 'out', value: file });
  return ext as ResultFormat;
}

/** Writes the rows to `file` in the format its extension names. */
export async function writeRows(file: string, rows: readonly CampaignRow[]): Promise<void> {
  const f = formatOf(file);
  const body = f === 'csv' ? rowsToCsv(rows) : f === 'json' ? JSON.stringify(rows, null, 1) + '\n' : await rowsToParquet(rows);
  fs.writeFileSync(file, body);
}
