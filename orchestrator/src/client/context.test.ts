import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isGramfleetError, type ErrorCode } from '@gramfleet/core';
import type { TargetEnv } from './config';
import { addContext, checkNatsUrl, checkTemporalAddress, contextsFilePath, readContexts, removeContext, resolveTarget, useContext } from './context';

function throwsWith(f: () => unknown, code: ErrorCode, field: string, match?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isGramfleetError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.details['field'], field, e.message);
    if (match !== undefined) assert.match(e.message, match);
    return true;
  });
}

const NO_ENV: TargetEnv = {
  context: undefined,
  contextsFile: undefined,
  configHome: undefined,
  temporalAddress: undefined,
  natsUrl: undefined,
  namespace: undefined,
  taskQueue: undefined,
  prefix: undefined,
};
const noSecurity = (): { temporalSecurity: undefined; natsAuth: Record<string, never> } => ({ temporalSecurity: undefined, natsAuth: {} });

function tempFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gf-contexts-')), 'sub', 'contexts.json');
}

describe('cluster contexts (orchestrator/src/client/context.ts)', () => {
  it('addresses: host:port with a port in [1, 65535]; NATS URLs nats:// or tls://', () => {
    assert.equal(checkTemporalAddress('temporal.example.com:7233', 'f'), 'temporal.example.com:7233');
    assert.equal(checkTemporalAddress('[::1]:7233', 'f'), '[::1]:7233');
    throwsWith(() => checkTemporalAddress('temporal.example.com', '--temporal'), 'INPUT_INVALID', '--temporal', /host:port/);
    throwsWith(() => checkTemporalAddress('https://t:7233', '--temporal'), 'INPUT_INVALID', '--temporal', /no scheme/);
    throwsWith(() => checkTemporalAddress('t:0', '--temporal'), 'INPUT_OUT_OF_RANGE', '--temporal', /\[1, 65535\]/);
    assert.equal(checkNatsUrl('nats://a:4222,tls://b:4222,c:4222,nats://u:p@d', 'f'), 'nats://a:4222,tls://b:4222,c:4222,nats://u:p@d');
    throwsWith(() => checkNatsUrl('http://a:4222', '--nats'), 'INPUT_INVALID', '--nats', /nats:\/\/ or tls:\/\//);
    throwsWith(() => checkNatsUrl('nats://a:123456', '--nats'), 'INPUT_OUT_OF_RANGE', '--nats');
    throwsWith(() => checkNatsUrl('', '--nats'), 'INPUT_INVALID', '--nats');
  });

  it('add/use/remove keep a 0600 file of paths; local is built in and reserved', () => {
    const file = tempFile();
    assert.deepEqual(readContexts(file), { contexts: {} });
    const c = addContext(file, 'lab', { temporal: 't:7233', nats: 'nats://n:4222', natsAuth: { credsFile: path.relative(process.cwd(), __filename) } });
    assert.equal(c.natsAuth?.credsFile, __filename, 'paths are made absolute');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(readContexts(file).current, undefined);
    useContext(file, 'lab');
    assert.equal(readContexts(file).current, 'lab');
    throwsWith(() => useContext(file, 'lba'), 'INPUT_INVALID', 'name', /did you mean lab\?/);
    throwsWith(() => addContext(file, 'local', { temporal: 't:1', nats: 'n:1' }), 'INPUT_INVALID', 'name');
    throwsWith(() => addContext(file, 'bad name', { temporal: 't:1', nats: 'n:1' }), 'INPUT_INVALID', 'name');
    throwsWith(() => addContext(file, 'x', { temporal: 't:1', nats: 'n:1', natsAuth: { certFile: __filename } }), 'INPUT_INVALID', '--nats-key');
    throwsWith(
      () => addContext(file, 'x', { temporal: 't:1', nats: 'n:1', natsAuth: { caFile: '/nonexistent/ca.pem' } }),
      'INPUT_FILE_UNREADABLE',
      '--nats-ca',
    );
    throwsWith(() => addContext(file, 'x', { temporal: 't:1', nats: 'n:1', temporalSecurity: { caFile: __filename } }), 'INPUT_INVALID', '--temporal-ca');
    throwsWith(() => addContext(file, 'x', { temporal: 't:1', nats: 'n:1', prefix: '9x' }), 'INPUT_INVALID', '--prefix');
    removeContext(file, 'lab');
    assert.deepEqual(readContexts(file), { contexts: {} });
    fs.writeFileSync(file, '{ not json');
    throwsWith(() => readContexts(file), 'INPUT_FILE_UNREADABLE', 'GRAMFLEET_CONTEXTS_FILE', /fix or remove it/);
  });

  it('the file: GRAMFLEET_CONTEXTS_FILE, else XDG_CONFIG_HOME, else ~/.config', () => {
    assert.equal(contextsFilePath({ contextsFile: '/a/b.json', configHome: '/x' }), '/a/b.json');
    assert.equal(contextsFilePath({ contextsFile: undefined, configHome: '/x' }), '/x/gramfleet/contexts.json');
    assert.equal(contextsFilePath({ contextsFile: undefined, configHome: undefined }), path.join(os.homedir(), '.config', 'gramfleet', 'contexts.json'));
  });

  it('which cluster: addresses, then context, then dataDir, then GRAMFLEET_CONTEXT, the current context, local', () => {
    const file = tempFile();
    addContext(file, 'lab', { temporal: 't:7233', nats: 'nats://n:4222', namespace: 'ns', taskQueue: 'q', prefix: 'p' });
    addContext(file, 'other', { temporal: 'o:7233', nats: 'nats://o:4222' });
    const env = { ...NO_ENV, contextsFile: file };
    // No file, nothing set: the local cluster, as before contexts existed.
    assert.deepEqual(resolveTarget({}, { ...NO_ENV, contextsFile: tempFile() }, noSecurity), { kind: 'local', context: 'local' });
    assert.deepEqual(resolveTarget({ dataDir: '/d' }, env, noSecurity), { kind: 'local', context: 'local', dataDir: '/d' });
    const lab = resolveTarget({ context: 'lab' }, env, noSecurity);
    assert.ok(lab.kind === 'remote');
    assert.deepEqual(
      [lab.context, lab.temporalAddress, lab.natsUrl, lab.namespace, lab.taskQueue, lab.prefix],
      ['lab', 't:7233', 'nats://n:4222', 'ns', 'q', 'p'],
    );
    throwsWith(() => resolveTarget({ context: 'lab', dataDir: '/d' }, env, noSecurity), 'INPUT_INVALID', 'context');
    // GRAMFLEET_CONTEXT beats the file's current; the option beats both.
    useContext(file, 'other');
    assert.equal((resolveTarget({}, env, noSecurity) as { context?: string }).context, 'other');
    assert.equal((resolveTarget({}, { ...env, context: 'lab' }, noSecurity) as { context?: string }).context, 'lab');
    assert.equal(resolveTarget({ context: 'local' }, { ...env, context: 'lab' }, noSecurity).kind, 'local');
    throwsWith(() => resolveTarget({}, { ...env, context: 'nope' }, noSecurity), 'INPUT_INVALID', 'GRAMFLEET_CONTEXT');
    // Variables override a context field by field, and are named as the origin.
    const over = resolveTarget({ context: 'lab' }, { ...env, natsUrl: 'tls://m:4222', namespace: 'ns2' }, noSecurity);
    assert.ok(over.kind === 'remote');
    assert.deepEqual([over.temporalAddress, over.natsUrl, over.namespace, over.origin.nats], ['t:7233', 'tls://m:4222', 'ns2', 'GRAMFLEET_NATS_URL']);
    throwsWith(() => resolveTarget({ context: 'lab' }, { ...env, temporalAddress: 'nope' }, noSecurity), 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_ADDRESS');
    // With the local context, both address variables name a remote cluster (an in-cluster pod); one alone is an error.
    useContext(file, 'local');
    const pod = resolveTarget({}, { ...env, temporalAddress: 'temporal:7233', natsUrl: 'nats://nats:4222' }, noSecurity);
    assert.ok(pod.kind === 'remote' && pod.context === undefined && pod.origin.temporal === 'GRAMFLEET_TEMPORAL_ADDRESS');
    throwsWith(() => resolveTarget({}, { ...env, natsUrl: 'nats://nats:4222' }, noSecurity), 'INPUT_INVALID', 'GRAMFLEET_TEMPORAL_ADDRESS');
    // Explicit addresses need both.
    throwsWith(() => resolveTarget({ natsUrl: 'nats://n:1' }, env, noSecurity), 'INPUT_INVALID', 'temporalAddress');
    // The security variables are read only for a remote cluster.
    let read = 0;
    const counting = (): ReturnType<typeof noSecurity> => {
      read++;
      return noSecurity();
    };
    resolveTarget({}, env, counting);
    assert.equal(read, 0);
    resolveTarget({ context: 'lab' }, env, counting);
    assert.ok(read > 0);
  });
});
