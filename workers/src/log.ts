/** Structured JSON logging for process entrypoints (one line per record, on stderr). */
import type { Logger } from '@gramfleet/core';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

/** A JSON-lines logger with fixed base fields (e.g. workerId). */
export function createJsonLogger(
  base: Readonly<Record<string, unknown>>,
  level: Level = 'info',
  out: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Logger {
  const min = LEVELS[level];
  const emit = (lv: Level, msg: string, fields?: Readonly<Record<string, unknown>>): void => {
    if (LEVELS[lv] < min) return;
    out(JSON.stringify({ t: new Date().toISOString(), level: lv, msg, ...base, ...fields }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
