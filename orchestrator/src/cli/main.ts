/**
 * The `gramfleet` command line: the local cluster (`up`, `down`, `status`), one or more
 * commands per workload (from the registry), campaigns and Kubernetes. Every command and
 * subcommand prints its own usage for `--help`/`-h` without touching a cluster; a usage error
 * (unknown command or flag, missing flag value) exits 2 with the nearest valid name; any other
 * typed error exits 1 with its message.
 */
import { createUploadProgress } from './progress';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isGramfleetError } from '@gramfleet/core';
import { UP_COMMAND, DOWN_COMMAND, STATUS_COMMAND, SUPERVISE_COMMAND, DASHBOARD_COMMAND } from '../cluster/cli';
import { CAMPAIGN_COMMAND } from '../campaign/cli';
import { K8S_COMMAND } from '../k8s/command';
import { JOBS_COMMAND } from '../jobs/cli';
import { LOGS_COMMAND } from '../telemetry/cli';
import { CONTEXT_COMMAND } from '../client/context-cli';
import { CREDS_COMMAND } from '../security/creds-cli';
import { API_COMMAND, TOKEN_COMMAND } from '../api/cli';
import { GET_COMMAND, PUT_COMMAND } from '../io/cli';
import { WORKLOADS } from '../registry';
import { runCommand, usageOf, type CliCommand, type CliContext } from './command';

/** The version of the orchestrator package (the CLI's). */
export function cliVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/** The command tree: `gramfleet <command> ...`. */
export const GRAMFLEET_COMMAND: CliCommand = {
  name: 'gramfleet',
  summary: 'a compute cluster for kernel methods: Temporal workflows shard work over NATS to WASM and GPU workers',
  subcommands: [
    UP_COMMAND,
    DOWN_COMMAND,
    STATUS_COMMAND,
    DASHBOARD_COMMAND,
    SUPERVISE_COMMAND,
    LOGS_COMMAND,
    ...WORKLOADS.flatMap((w) => w.commands),
    JOBS_COMMAND,
    CAMPAIGN_COMMAND,
    CONTEXT_COMMAND,
    PUT_COMMAND,
    GET_COMMAND,
    K8S_COMMAND,
    CREDS_COMMAND,
    API_COMMAND,
    TOKEN_COMMAND,
  ],
  notes: `workloads: ${WORKLOADS.map((w) => `${w.def.kind} (${w.commands.map((c) => c.name).join(', ')})`).join('; ')}`,
};

/** Connections opened by a command are closed when it ends. */
const processContext: CliContext = {
  out: process.stdout,
  err: process.stderr,
  async withFleet(o, f) {
    // Loaded here: help and usage errors never load the Temporal and NATS clients.
    const { connect } = await import('../client/sdk.js');
    // Inputs of at least 8 MiB draw an upload progress bar on stderr (a command may pass its own onUpload).
    const fleet = await connect({ onUpload: createUploadProgress(process.stderr), ...o });
    try {
      return await f(fleet);
    } finally {
      await fleet.close();
    }
  },
};

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], ctx: CliContext = processContext): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === '--version' || first === '-V' || first === 'version') {
      ctx.out.write(`gramfleet ${cliVersion()}\n`);
      return 0;
    }
    if (first === undefined) {
      ctx.out.write(usageOf(GRAMFLEET_COMMAND, ['gramfleet']));
      return 2;
    }
    // `gramfleet help [command ...]` is `gramfleet [command ...] --help`.
    if (first === 'help') return await runCommand(GRAMFLEET_COMMAND, [...rest, '--help'], ctx);
    return await runCommand(GRAMFLEET_COMMAND, argv, ctx);
  } catch (e) {
    if (isGramfleetError(e)) {
      ctx.err.write(`error: ${e.message}\n`);
      if (e.code !== 'CLI_USAGE') return 1;
      const cmd = typeof e.details['command'] === 'string' ? e.details['command'] : 'gramfleet';
      ctx.err.write(`run '${cmd} --help' for its usage\n`);
      return 2;
    }
    ctx.err.write(`error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
