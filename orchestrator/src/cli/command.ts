/**
 * The command-line framework: a command declares its flags (with descriptions) or its
 * subcommands, and this module parses argv against it, prints its usage for `--help`/`-h`
 * (before anything else runs, so help never needs a cluster), and turns an unknown command,
 * subcommand or flag into a typed `CLI_USAGE` error naming the nearest valid one (the CLI
 * exits 2 on it, without a stack trace).
 *
 * Semantics: flags are `--name VALUE`, `--name=VALUE` or `--name` (booleans); a string flag
 * takes the next token as its value whatever it looks like (so `--bounds -1:1` works); `--`
 * ends the flags. A repeated flag keeps its last value. `--help` anywhere wins over any
 * other problem on the line.
 */
import { GramfleetError, nearestName } from '@gramfleet/core';
import type { ConnectOptions, Fleet } from '../client/fleet';

/** One flag of a command. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** Placeholder of the value in the usage (`FILE`, `N`). @default 'VALUE' */
  readonly value?: string;
  readonly description: string;
  /** The command refuses to run without it (a `CLI_USAGE` error). */
  readonly required?: boolean;
  /** Value when the flag is absent (string flags). */
  readonly default?: string;
}

/** Flag name (without `--`) → its spec. */
export type Flags = Readonly<Record<string, FlagSpec>>;

/** What a command's `run` receives: the parsed line and typed accessors that name the flag in their errors. */
export interface ParsedArgs {
  readonly positionals: readonly string[];
  /** The value of a string flag (or its default); undefined when absent. */
  string(name: string): string | undefined;
  /** The value of a string flag, or its default; `CLI_USAGE` when absent. */
  need(name: string): string;
  /** A boolean flag. */
  flag(name: string): boolean;
  /** A number-valued string flag; `INPUT_INVALID` naming the flag when it is not a number. */
  number(name: string): number | undefined;
  /** An integer-valued string flag. */
  int(name: string): number | undefined;
}

/** What commands use besides their arguments: output streams and a cluster connection. */
export interface CliContext {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  /** Runs `f` with a connection: the caller's own fleet, or one opened with `o` and closed afterwards. */
  withFleet<T>(o: ConnectOptions, f: (fleet: Fleet) => Promise<T>): Promise<T>;
}

/** A command or a group of subcommands. */
export interface CliCommand {
  readonly name: string;
  /** One line for the parent's list and the head of the usage. */
  readonly summary: string;
  /** Positional arguments as the usage line shows them (`SPEC.yaml`, `ID`). */
  readonly args?: string;
  /** How many positional arguments it takes: [min, max]. @default [0, 0] */
  readonly arity?: readonly [number, number];
  readonly flags?: Flags;
  /** Lines printed after the flags (constraints between flags, environment variables). */
  readonly notes?: string;
  readonly subcommands?: readonly CliCommand[];
  /** Runs the command; returns the exit code. Absent on a group of subcommands. */
  run?(a: ParsedArgs, ctx: CliContext): Promise<number>;
}

/** A usage error: exit code 2. */
export function usageError(message: string, details: Record<string, unknown> = {}): GramfleetError {
  return new GramfleetError('CLI_USAGE', message, details);
}

const HELP_FLAGS = ['--help', '-h'];

/** The usage text of a command at `path` (e.g. `['gramfleet', 'grf']`). */
export function usageOf(cmd: CliCommand, path: readonly string[]): string {
  const name = path.join(' ');
  const lines: string[] = [];
  if (cmd.subcommands !== undefined) {
    lines.push(`usage: ${name} <${path.length === 1 ? 'command' : 'subcommand'}> [flags]`, '', cmd.summary, '');
    lines.push(`${path.length === 1 ? 'commands' : 'subcommands'}:`);
    const w = Math.max(...cmd.subcommands.map((s) => s.name.length));
    for (const s of cmd.subcommands) lines.push(`  ${s.name.padEnd(w)}  ${s.summary}`);
    lines.push('', 'flags:', '  -h, --help     print this help');
    if (path.length === 1) lines.push('  -V, --version  print the version');
    lines.push('', `Run '${name} <${path.length === 1 ? 'command' : 'subcommand'}> --help' for its own flags.`);
    if (cmd.notes !== undefined) lines.push('', cmd.notes);
    return lines.join('\n') + '\n';
  }
  const flags = Object.entries(cmd.flags ?? {});
  lines.push(`usage: ${name}${cmd.args !== undefined ? ` ${cmd.args}` : ''}${flags.length > 0 ? ' [flags]' : ''}`, '', cmd.summary, '', 'flags:');
  const shown: (readonly [string, string])[] = flags.map(
    ([k, f]) =>
      [
        `--${k}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`,
        `${f.description}${f.required === true ? ' (required)' : ''}${f.default !== undefined ? ` (default ${f.default})` : ''}`,
      ] as const,
  );
  shown.push(['-h, --help', 'print this help']);
  const w = Math.min(26, Math.max(...shown.map(([k]) => k.length)));
  for (const [k, d] of shown) lines.push(k.length > w ? `  ${k}\n  ${' '.repeat(w)}  ${d}` : `  ${k.padEnd(w)}  ${d}`);
  if (cmd.notes !== undefined) lines.push('', cmd.notes);
  return lines.join('\n') + '\n';
}

/** Parses the flags and positionals of a leaf command; `help` when `--help`/`-h` is on the line. */
export function parseFlags(cmd: CliCommand, argv: readonly string[], path: readonly string[]): { help: true } | { help: false; args: ParsedArgs } {
  const specs = cmd.flags ?? {};
  const names = Object.keys(specs);
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  let problem: GramfleetError | undefined;
  const fail = (e: GramfleetError): void => {
    problem ??= e;
  };
  const where = path.join(' ');
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i] as string;
    if (tok === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (HELP_FLAGS.includes(tok)) return { help: true };
    if (!tok.startsWith('-') || tok === '-' || /^-\d/.test(tok)) {
      positionals.push(tok);
      continue;
    }
    const eq = tok.indexOf('=');
    const name = tok.startsWith('--') ? tok.slice(2, eq < 0 ? undefined : eq) : tok.slice(1);
    const spec = tok.startsWith('--') ? specs[name] : undefined;
    if (spec === undefined) {
      const near = nearestName(name, [...names, 'help']);
      fail(
        usageError(`unknown flag ${tok.split('=')[0]} for '${where}'${near !== undefined ? `; did you mean --${near}?` : ''}`, {
          field: name,
          nearest: near !== undefined ? `--${near}` : undefined,
          command: where,
        }),
      );
      continue;
    }
    if (spec.type === 'boolean') {
      if (eq >= 0) fail(usageError(`--${name} is a switch and takes no value (got ${JSON.stringify(tok.slice(eq + 1))})`, { field: name, command: where }));
      values[name] = true;
      continue;
    }
    if (eq >= 0) {
      values[name] = tok.slice(eq + 1);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || HELP_FLAGS.includes(next)) {
      fail(usageError(`--${name} needs a value (${spec.value ?? 'VALUE'})`, { field: name, command: where }));
      continue;
    }
    values[name] = next;
    i++;
  }
  const [min, max] = cmd.arity ?? [0, 0];
  if (positionals.length > max)
    fail(
      usageError(`unexpected argument ${JSON.stringify(positionals[max])} for '${where}'${max === 0 ? ' (it takes flags only)' : ''}`, {
        field: 'argument',
        command: where,
      }),
    );
  if (positionals.length < min) fail(usageError(`'${where}' needs ${cmd.args ?? `${min} argument(s)`}`, { field: cmd.args ?? 'argument', command: where }));
  for (const [k, f] of Object.entries(specs))
    if (f.required === true && values[k] === undefined) fail(usageError(`--${k} is required for '${where}'`, { field: k, command: where }));
  if (problem !== undefined) throw problem;
  const known = (name: string): FlagSpec => {
    const s = specs[name];
    if (s === undefined) throw new Error(`internal: '${where}' reads an undeclared flag --${name}`);
    return s;
  };
  const string = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : known(name).default;
  };
  const number = (name: string): number | undefined => {
    const s = string(name);
    if (s === undefined) return undefined;
    const x = Number(s);
    if (s.trim() === '' || Number.isNaN(x)) throw new GramfleetError('INPUT_INVALID', `--${name} must be a number, got ${JSON.stringify(s)}`, { field: name });
    return x;
  };
  return {
    help: false,
    args: {
      positionals,
      string,
      need(name) {
        const v = string(name);
        if (v === undefined) throw usageError(`--${name} is required for '${where}'`, { field: name, command: where });
        return v;
      },
      flag: (name) => known(name).type === 'boolean' && values[name] === true,
      number,
      int(name) {
        const x = number(name);
        if (x !== undefined && !Number.isInteger(x))
          throw new GramfleetError('INPUT_INVALID', `--${name} must be an integer, got ${JSON.stringify(string(name))}`, { field: name });
        return x;
      },
    },
  };
}

/**
 * Runs `argv` against `cmd` (whose name is the last element of `path`): a group picks its
 * subcommand, a leaf parses its flags and runs. `--help`/`-h` prints the usage of the command
 * it follows and returns 0. Errors are thrown (typed); the CLI's `main` turns them into exit codes.
 */
export async function runCommand(cmd: CliCommand, argv: readonly string[], ctx: CliContext, path: readonly string[] = [cmd.name]): Promise<number> {
  if (cmd.subcommands !== undefined) {
    const [first, ...rest] = argv;
    if (first === undefined)
      throw usageError(`'${path.join(' ')}' needs a ${path.length === 1 ? 'command' : 'subcommand'}: ${cmd.subcommands.map((s) => s.name).join('|')}`, {
        field: 'subcommand',
        command: path.join(' '),
      });
    if (HELP_FLAGS.includes(first)) {
      ctx.out.write(usageOf(cmd, path));
      return 0;
    }
    const sub = cmd.subcommands.find((s) => s.name === first);
    if (sub === undefined) {
      const near = nearestName(
        first,
        cmd.subcommands.map((s) => s.name),
      );
      const what = first.startsWith('-') ? 'flag' : path.length === 1 ? 'command' : 'subcommand';
      throw usageError(`unknown ${what} ${first} for '${path.join(' ')}'${near !== undefined ? `; did you mean ${near}?` : ''}`, {
        field: what,
        nearest: near,
        command: path.join(' '),
      });
    }
    return runCommand(sub, rest, ctx, [...path, sub.name]);
  }
  const parsed = parseFlags(cmd, argv, path);
  if (parsed.help) {
    ctx.out.write(usageOf(cmd, path));
    return 0;
  }
  if (cmd.run === undefined) throw new Error(`internal: '${path.join(' ')}' has neither subcommands nor run`);
  return cmd.run(parsed.args, ctx);
}

/** Every command path under `cmd` (the command itself first): for help tests and docs. */
export function commandPaths(cmd: CliCommand, path: readonly string[] = [cmd.name]): { readonly path: readonly string[]; readonly cmd: CliCommand }[] {
  return [{ path, cmd }, ...(cmd.subcommands ?? []).flatMap((s) => commandPaths(s, [...path, s.name]))];
}

/** The `--data-dir` flag every command that talks to the local cluster takes. */
export const DATA_DIR_FLAG: FlagSpec = {
  type: 'string',
  value: 'DIR',
  description: 'local cluster directory (default $GRAMFLEET_HOME or <repo>/.gramfleet/local)',
};
/** The `--json` flag. */
export const JSON_FLAG: FlagSpec = { type: 'boolean', description: 'print JSON lines instead of text' };

/** The `--context` flag every command that talks to a cluster takes. */
export const CONTEXT_FLAG: FlagSpec = {
  type: 'string',
  value: 'NAME',
  description: "cluster context (gramfleet context list; default $GRAMFLEET_CONTEXT, else the current context, else 'local')",
};

/** The flags that pick the cluster: `--context` and `--data-dir`. */
export const CLUSTER_FLAGS: Flags = { context: CONTEXT_FLAG, 'data-dir': DATA_DIR_FLAG };

/**
 * The connection options of `--context` and `--data-dir` (client/context.ts resolves them);
 * `--data-dir` with a remote `--context` is a `CLI_USAGE` error.
 */
export function connectOptionsOf(a: ParsedArgs): { context?: string; dataDir?: string } {
  const context = a.string('context');
  const dataDir = a.string('data-dir');
  if (context !== undefined && context !== 'local' && dataDir !== undefined)
    throw usageError(`--data-dir names the local cluster and --context names ${context}: give one of them`, { field: 'data-dir' });
  return { ...(context !== undefined ? { context } : {}), ...(dataDir !== undefined ? { dataDir } : {}) };
}
