/** `gramfleet api` (the jobs HTTP API beside the local cluster) and `gramfleet token create|list|revoke` (its tokens). */
import { createJsonLogger } from '@gramfleet/workers';
import { defaultDataDir } from '../cluster/local-cluster';
import { DATA_DIR_FLAG, JSON_FLAG, type CliCommand } from '../cli/command';
import { TokenStore, parseDuration } from './tokens';

/** `gramfleet api`: serves the jobs HTTP API until SIGINT/SIGTERM (`gramfleet up` starts it). */
export const API_COMMAND: CliCommand = {
  name: 'api',
  summary: 'serve the jobs HTTP API for the local cluster (gramfleet up starts it; OpenAPI at /openapi.json)',
  flags: {
    'data-dir': DATA_DIR_FLAG,
    context: {
      type: 'string',
      value: 'NAME',
      description: "serve this context's cluster (gramfleet context add); --data-dir then holds only the API's tokens and objects",
    },
    host: { type: 'string', value: 'HOST', description: 'address to listen on', default: '127.0.0.1' },
    port: { type: 'string', value: 'PORT', description: 'port to listen on (0: a free one)', default: '0' },
    'objects-ttl': {
      type: 'string',
      value: 'DURATION',
      description: 'an uploaded or result object unused this long is deleted (90s, 30m, 12h, 7d)',
      default: '7d',
    },
  },
  async run(a, ctx) {
    const { serveApi } = await import('./serve.js');
    const log = createJsonLogger({ proc: 'api' }, 'info');
    const context = a.string('context');
    const api = await serveApi({
      dataDir: a.string('data-dir') ?? defaultDataDir(),
      ...(context !== undefined ? { context } : {}),
      host: a.need('host'),
      port: a.int('port') ?? 0,
      objectsTtlMs: parseDuration(a.need('objects-ttl'), 'objects-ttl'),
      log,
    });
    ctx.out.write(`gramfleet jobs API on ${api.url} (OpenAPI: ${api.url}/openapi.json)\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await api.close();
    return 0;
  },
};

const TOKEN_CREATE: CliCommand = {
  name: 'create',
  summary: 'make a token for the jobs HTTP API; it is printed once (only its hash is kept)',
  flags: {
    name: { type: 'string', value: 'NAME', description: 'what the token is for' },
    expires: { type: 'string', value: 'DURATION', description: 'lifetime such as 90s, 30m, 12h, 7d (default: never expires)' },
    'data-dir': DATA_DIR_FLAG,
    json: JSON_FLAG,
  },
  async run(a, ctx) {
    const expires = a.string('expires');
    const { token, record } = TokenStore.of(a.string('data-dir') ?? defaultDataDir()).create({
      name: a.string('name') ?? '',
      ...(expires !== undefined ? { ttlMs: parseDuration(expires, 'expires') } : {}),
    });
    if (a.flag('json')) ctx.out.write(JSON.stringify({ token, id: record.id, name: record.name, expiresAt: record.expiresAt ?? null }) + '\n');
    else ctx.out.write(`${token}\n(id ${record.id}${record.expiresAt !== undefined ? `, expires ${record.expiresAt}` : ''}; shown once)\n`);
    return 0;
  },
};

const TOKEN_LIST: CliCommand = {
  name: 'list',
  summary: 'list the tokens of the jobs HTTP API (ids, names, expiry, revocation; never the tokens)',
  flags: { 'data-dir': DATA_DIR_FLAG, json: JSON_FLAG },
  async run(a, ctx) {
    const now = Date.now();
    for (const t of TokenStore.of(a.string('data-dir') ?? defaultDataDir()).list()) {
      const state = t.revokedAt !== undefined ? 'revoked' : t.expiresAt !== undefined && Date.parse(t.expiresAt) <= now ? 'expired' : 'valid';
      if (a.flag('json')) {
        const { hash: _hash, ...shown } = t;
        ctx.out.write(JSON.stringify({ ...shown, state }) + '\n');
      } else ctx.out.write(`${t.id}  ${state.padEnd(7)}  created ${t.createdAt}${t.expiresAt !== undefined ? `  expires ${t.expiresAt}` : ''}  ${t.name}\n`);
    }
    return 0;
  },
};

const TOKEN_REVOKE: CliCommand = {
  name: 'revoke',
  summary: 'revoke a token of the jobs HTTP API by id (refused from the next request on)',
  args: 'ID',
  arity: [1, 1],
  flags: { 'data-dir': DATA_DIR_FLAG },
  async run(a, ctx) {
    const t = TokenStore.of(a.string('data-dir') ?? defaultDataDir()).revoke(a.positionals[0] as string);
    ctx.out.write(`revoked ${t.id} at ${t.revokedAt ?? ''}\n`);
    return 0;
  },
};

/** `gramfleet token create|list|revoke`. */
export const TOKEN_COMMAND: CliCommand = {
  name: 'token',
  summary: 'tokens of the jobs HTTP API: create, list, revoke (stored hashed in <data-dir>/api/tokens.json)',
  subcommands: [TOKEN_CREATE, TOKEN_LIST, TOKEN_REVOKE],
};
