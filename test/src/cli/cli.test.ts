/**
 * The `gramfleet` command line as a user meets it, spawned as the real binary with a fresh
 * GRAMFLEET_HOME and no cluster: every command and subcommand prints its own usage for
 * `--help` and `-h` and exits 0 (and starts nothing); an unknown command, subcommand or flag
 * is a typed CLI_USAGE error naming the nearest valid one, exit 2, no stack trace; a missing
 * flag value or required flag likewise; `--version` prints the version.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GRAMFLEET_COMMAND, cliVersion, commandPaths } from '@gramfleet/orchestrator/internal';

const BIN = path.join(path.dirname(require.resolve('@gramfleet/orchestrator')), '..', 'bin', 'gramfleet.js');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let home = '';
function cli(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GRAMFLEET_HOME: home } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs every argument list, a few at a time. */
async function all(lists: readonly (readonly string[])[]): Promise<Run[]> {
  const out: Run[] = new Array<Run>(lists.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < lists.length) {
        const i = next++;
        out[i] = await cli(lists[i] as readonly string[]);
      }
    }),
  );
  return out;
}

const paths = commandPaths(GRAMFLEET_COMMAND);
const leaves = paths.filter((p) => p.cmd.subcommands === undefined);
const STACK = /\n\s+at .*:\d+:\d+/;

/** A usage error: exit 2, the code and the nearest name on stderr, no stack trace. */
function assertUsageError(r: Run, args: readonly string[], ...inStderr: string[]): void {
  const what = `gramfleet ${args.join(' ')}`;
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, /^error: \[CLI_USAGE\] /, what);
  for (const s of inStderr) assert.ok(r.stderr.includes(s), `${what}: stderr names ${s}:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, STACK, `${what}: no stack trace`);
  assert.match(r.stderr, /run 'gramfleet[^']*--help' for its usage/, what);
}

describe('gramfleet CLI (the real binary, no cluster)', () => {
  before(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-cli-'));
  });
  after(() => {
    fs.rmSync(home, { recursive: true, force: true });
  });

  it("covers every workload's commands, campaigns, k8s and the local cluster", () => {
    const names = new Set(paths.map((p) => p.path.slice(1).join(' ')));
    for (const c of [
      'up',
      'down',
      'status',
      'grf',
      'eigenpro',
      'predict',
      'kron-gp fit',
      'kron-gp solve',
      'kron-gp predict',
      'kron-gp pde',
      'datagen',
      'campaign start',
      'campaign status',
      'campaign results',
      'campaign cancel',
      'campaign list',
      'k8s render',
      'k8s apply',
      'k8s status',
      'k8s controller',
    ]) {
      assert.ok(names.has(c), `gramfleet ${c} exists`);
    }
  });

  it('every command and subcommand prints its own usage for --help and -h, exits 0, starts nothing', async () => {
    const lists = paths.flatMap((p) => [
      [...p.path.slice(1), '--help'],
      [...p.path.slice(1), '-h'],
    ]);
    const runs = await all(lists);
    runs.forEach((r, i) => {
      const p = paths[Math.floor(i / 2)]!;
      const what = `${p.path.join(' ')} ${(lists[i] as string[]).at(-1)}`;
      assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`);
      assert.equal(r.stderr, '', `${what}: nothing on stderr`);
      assert.ok(r.stdout.startsWith(`usage: ${p.path.join(' ')}`), `${what}: its own usage first:\n${r.stdout.slice(0, 200)}`);
      assert.ok(r.stdout.includes(p.cmd.summary), `${what}: its summary`);
      for (const f of Object.keys(p.cmd.flags ?? {})) assert.ok(r.stdout.includes(`--${f}`), `${what}: documents --${f}`);
      for (const s of p.cmd.subcommands ?? []) assert.ok(r.stdout.includes(`  ${s.name}  `) || r.stdout.includes(`  ${s.name} `), `${what}: lists ${s.name}`);
    });
    assert.deepEqual(fs.readdirSync(home), [], 'no cluster state was written');
  });

  it('--help wins over anything else on the line; `gramfleet help <command>` is its --help', async () => {
    const [a, b, c, d] = await all([['grf', '--walk', '3', '--help'], ['campaign', 'start', '-h', 'spec.yaml'], ['help', 'kron-gp', 'solve'], ['help']]);
    for (const [r, head] of [
      [a, 'usage: gramfleet grf'],
      [b, 'usage: gramfleet campaign start'],
      [c, 'usage: gramfleet kron-gp solve'],
      [d, 'usage: gramfleet <command>'],
    ] as const) {
      assert.equal(r!.code, 0, r!.stderr);
      assert.ok(r!.stdout.startsWith(head), r!.stdout.slice(0, 100));
    }
  });

  it('an unknown flag on any command is a typed error naming the nearest valid flag, exit 2, no stack trace', async () => {
    // The first flag of each command, its last letter dropped.
    const cases = leaves
      .filter((p) => Object.keys(p.cmd.flags ?? {}).some((f) => f.length > 2))
      .map((p) => {
        const flag = Object.keys(p.cmd.flags ?? {}).find((f) => f.length > 2) as string;
        return { args: [...p.path.slice(1), `--${flag.slice(0, -1)}`, 'x'], flag };
      });
    const runs = await all(cases.map((c) => c.args));
    runs.forEach((r, i) => assertUsageError(r, cases[i]!.args, `unknown flag --${cases[i]!.flag.slice(0, -1)}`, `did you mean --${cases[i]!.flag}?`));
    const [walk, ctrl] = await all([
      ['grf', '--graph', 'g.npz', '--walk', '4', '--out', 'phi.npz'],
      ['k8s', 'controller', '--namespace', 'x'],
    ]);
    assertUsageError(walk!, ['grf', '--walk'], 'unknown flag --walk', 'did you mean --walks?');
    assertUsageError(ctrl!, ['k8s', 'controller', '--namespace'], 'unknown flag --namespace');
  });

  it('an unknown command or subcommand names the nearest one; a group without its subcommand says which it takes', async () => {
    const cases: [string[], string[]][] = [
      [['grff'], ['unknown command grff', 'did you mean grf?']],
      [
        ['kron-gp', 'solv'],
        ['unknown subcommand solv', 'did you mean solve?'],
      ],
      [
        ['campaign', 'statsu', 'c-1'],
        ['unknown subcommand statsu', 'did you mean status?'],
      ],
      [['k8s', '--namespace', 'x'], ['unknown flag --namespace']],
      [['campaign'], ['needs a subcommand: start|status|results|cancel|list']],
      [['kron-gp'], ['needs a subcommand: fit|solve|predict|pde']],
    ];
    const runs = await all(cases.map(([a]) => a));
    runs.forEach((r, i) => assertUsageError(r, cases[i]![0], ...cases[i]![1]));
  });

  it('a flag without its value, a missing required flag or argument, a stray argument: exit 2 before any cluster is contacted', async () => {
    const cases: [string[], string[]][] = [
      [['grf', '--graph'], ['--graph needs a value']],
      [['grf', '--graph', 'g.npz', '--out', 'phi.npz'], ['--scale is required']],
      [['campaign', 'status'], ["'gramfleet campaign status' needs ID"]],
      [['campaign', 'list', 'extra'], ['unexpected argument "extra"']],
      [['datagen', '--pde', 'darcy', '--grid', '8', '--count', '2', '--json=yes', '--out', 'd'], ['--json is a switch and takes no value']],
    ];
    const runs = await all(cases.map(([a]) => a));
    runs.forEach((r, i) => assertUsageError(r, cases[i]![0], ...cases[i]![1]));
    assert.deepEqual(fs.readdirSync(home), [], 'no cluster state was written');
  });

  it('a well-formed command without a cluster fails with its typed error (exit 1), not a stack trace', async () => {
    const [r] = await all([['campaign', 'list', '--data-dir', path.join(home, 'none')]]);
    assert.equal(r!.code, 1, r!.stderr);
    assert.match(r!.stderr, /^error: \[CLUSTER_NOT_RUNNING\] /);
    assert.doesNotMatch(r!.stderr, STACK);
  });

  it('--version, -V and `version` print the version; no arguments prints the usage and exits 2', async () => {
    const runs = await all([['--version'], ['-V'], ['version'], []]);
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(BIN), '..', 'package.json'), 'utf8')) as { version: string };
    assert.equal(cliVersion(), pkg.version);
    for (const r of runs.slice(0, 3)) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `gramfleet ${pkg.version}\n`);
    }
    assert.equal(runs[3]!.code, 2);
    assert.ok(runs[3]!.stdout.startsWith('usage: gramfleet <command>'));
  });
});
