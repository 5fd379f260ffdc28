/**
 * `gramfleet context add|use|list|remove`: named clusters, like kubectl's contexts
 * (./context.ts holds the semantics). Nothing here connects to a cluster: `gramfleet status
 * --context NAME` checks that one answers.
 */
import { JSON_FLAG, type CliCommand, type CliContext } from '../cli/command';
import { defaultDataDir } from '../cluster/local-cluster';
import { targetEnv } from './config';
import {
  CONTEXT_NATS_AUTH_FLAGS,
  CONTEXT_TEMPORAL_SECURITY_FLAGS,
  LOCAL_CONTEXT,
  addContext,
  checkContextName,
  contextsFilePath,
  readContexts,
  removeContext,
  useContext,
  type ClusterContext,
} from './context';

const FILE_NOTE = 'The contexts file is $GRAMFLEET_CONTEXTS_FILE, else $XDG_CONFIG_HOME/gramfleet/contexts.json (~/.config/gramfleet/contexts.json).';

function fileOf(): string {
  return contextsFilePath(targetEnv());
}

/** `gramfleet context add NAME`. */
const ADD_COMMAND: CliCommand = {
  name: 'add',
  summary: 'record a remote cluster under a name (replacing one of that name); nothing connects yet',
  args: 'NAME',
  arity: [1, 1],
  flags: {
    temporal: { type: 'string', value: 'HOST:PORT', required: true, description: 'the Temporal frontend' },
    namespace: { type: 'string', value: 'NS', description: 'the Temporal namespace (default default)' },
    nats: { type: 'string', value: 'URL', required: true, description: 'the NATS server(s): nats://host:4222 or tls://host:4222, comma-separated' },
    'nats-creds': { type: 'string', value: 'FILE', description: 'NATS .creds file (user JWT + nkey seed) or nkey seed file' },
    'nats-ca': { type: 'string', value: 'FILE', description: "PEM CA the NATS server's certificate is checked against (turns TLS on)" },
    'nats-cert': { type: 'string', value: 'FILE', description: 'PEM client certificate for NATS mutual TLS (with --nats-key)' },
    'nats-key': { type: 'string', value: 'FILE', description: 'PEM key of --nats-cert' },
    'temporal-ca': { type: 'string', value: 'FILE', description: "PEM CA Temporal's certificate is checked against (turns TLS on)" },
    'temporal-cert': { type: 'string', value: 'FILE', description: 'PEM client certificate for Temporal mutual TLS (with --temporal-key)' },
    'temporal-key': { type: 'string', value: 'FILE', description: 'PEM key of --temporal-cert' },
    'temporal-server-name': { type: 'string', value: 'NAME', description: "the name Temporal's certificate carries (default the host)" },
    'temporal-api-key-file': { type: 'string', value: 'FILE', description: 'file holding a Temporal API key (turns TLS on)' },
    'task-queue': { type: 'string', value: 'Q', description: "the orchestrator's Temporal task queue (default gramfleet)" },
    prefix: { type: 'string', value: 'P', description: "the cluster's NATS resource prefix (default gf)" },
    use: { type: 'boolean', description: 'also make it the current context' },
  },
  notes: `Files are checked (readable; a certificate matches its key) and recorded as absolute paths, never their contents.\n${FILE_NOTE}`,
  async run(a, ctx) {
    const name = checkContextName(a.positionals[0], 'NAME');
    const opt = (flag: string): string | undefined => a.string(flag);
    const natsAuth = Object.fromEntries(
      Object.entries(CONTEXT_NATS_AUTH_FLAGS)
        .map(([k, flag]) => [k, opt(flag.slice(2))])
        .filter(([, v]) => v !== undefined),
    ) as ClusterContext['natsAuth'];
    const temporalSecurity = Object.fromEntries(
      Object.entries(CONTEXT_TEMPORAL_SECURITY_FLAGS)
        .map(([k, flag]) => [k, opt(flag.slice(2))])
        .filter(([, v]) => v !== undefined),
    ) as ClusterContext['temporalSecurity'];
    const namespace = opt('namespace');
    const taskQueue = opt('task-queue');
    const prefix = opt('prefix');
    const file = fileOf();
    addContext(
      file,
      name,
      {
        temporal: a.need('temporal'),
        nats: a.need('nats'),
        ...(namespace !== undefined ? { namespace } : {}),
        ...(taskQueue !== undefined ? { taskQueue } : {}),
        ...(prefix !== undefined ? { prefix } : {}),
        ...(natsAuth !== undefined && Object.keys(natsAuth).length > 0 ? { natsAuth } : {}),
        ...(temporalSecurity !== undefined && Object.keys(temporalSecurity).length > 0 ? { temporalSecurity } : {}),
      },
      { use: a.flag('use') },
    );
    ctx.out.write(
      `context ${name} recorded in ${file}${a.flag('use') ? '; it is the current context' : `; use it with --context ${name} or 'gramfleet context use ${name}'`}\n`,
    );
    return 0;
  },
};

/** `gramfleet context use NAME`. */
const USE_COMMAND: CliCommand = {
  name: 'use',
  summary: `make a context the current one ('${LOCAL_CONTEXT}': the local cluster)`,
  args: 'NAME',
  arity: [1, 1],
  notes: FILE_NOTE,
  async run(a, ctx) {
    const name = checkContextName(a.positionals[0], 'NAME');
    useContext(fileOf(), name);
    ctx.out.write(`current context: ${name}\n`);
    return Promise.resolve(0);
  },
};

/** `gramfleet context remove NAME`. */
const REMOVE_COMMAND: CliCommand = {
  name: 'remove',
  summary: `forget a context (the current one: '${LOCAL_CONTEXT}' becomes current)`,
  args: 'NAME',
  arity: [1, 1],
  notes: FILE_NOTE,
  async run(a, ctx) {
    const name = checkContextName(a.positionals[0], 'NAME');
    removeContext(fileOf(), name);
    ctx.out.write(`context ${name} removed\n`);
    return Promise.resolve(0);
  },
};

function listContexts(ctx: CliContext, json: boolean): number {
  const file = fileOf();
  const doc = readContexts(file);
  const envContext = targetEnv().context;
  const current = envContext !== undefined && envContext !== '' ? envContext : (doc.current ?? LOCAL_CONTEXT);
  const rows = [
    { name: LOCAL_CONTEXT, current: current === LOCAL_CONTEXT, temporal: `(the local cluster of ${defaultDataDir()})`, nats: '', namespace: '' },
    ...Object.entries(doc.contexts).map(([name, c]) => ({
      name,
      current: current === name,
      temporal: c.temporal,
      nats: c.nats,
      namespace: c.namespace ?? 'default',
      ...(c.natsAuth !== undefined ? { natsAuth: c.natsAuth } : {}),
      ...(c.temporalSecurity !== undefined ? { temporalSecurity: c.temporalSecurity } : {}),
    })),
  ];
  if (json) {
    for (const r of rows) ctx.out.write(JSON.stringify(r) + '\n');
    return 0;
  }
  const w = Math.max(...rows.map((r) => r.name.length), 4);
  ctx.out.write(`  ${'NAME'.padEnd(w)}  TEMPORAL (NAMESPACE)  NATS\n`);
  for (const r of rows)
    ctx.out.write(
      `${r.current ? '*' : ' '} ${r.name.padEnd(w)}  ${r.temporal}${r.namespace !== '' ? ` (${r.namespace})` : ''}${r.nats !== '' ? `  ${r.nats}` : ''}\n`,
    );
  if (envContext !== undefined && envContext !== '') ctx.out.write(`(current from GRAMFLEET_CONTEXT; the file's current is ${doc.current ?? LOCAL_CONTEXT})\n`);
  return 0;
}

/** `gramfleet context list`. */
const LIST_COMMAND: CliCommand = {
  name: 'list',
  summary: 'the contexts, the current one marked *',
  flags: { json: JSON_FLAG },
  notes: FILE_NOTE,
  run: (a, ctx) => Promise.resolve(listContexts(ctx, a.flag('json'))),
};

/** `gramfleet context`. */
export const CONTEXT_COMMAND: CliCommand = {
  name: 'context',
  summary: "named clusters, like kubectl's contexts: add, use, list, remove ('local' is the local cluster, the default)",
  subcommands: [ADD_COMMAND, USE_COMMAND, LIST_COMMAND, REMOVE_COMMAND],
  notes: `Every command that talks to a cluster takes --context NAME; GRAMFLEET_CONTEXT picks one for a shell.\n${FILE_NOTE}`,
};
